"""Usernames are unique ignoring case as sign-up compares them: ``iexact``, which is
``UPPER(a) = UPPER(b)`` on PostgreSQL (and ASCII-only on SQLite, as ``upper`` is there).
The index of 0003 used ``lower()``, which disagrees outside ASCII: "admın" (dotless ı)
and "ADMIN" are equal by ``upper`` and sign-up refuses the second, but two such sign-ups
at the same moment were both created.

Fails on a database that already holds two usernames equal by ``upper``: rename one
first."""

from django.db import migrations

OLD = "auth_user_username_lower_uniq"
NEW = "auth_user_username_upper_uniq"


class Migration(migrations.Migration):
    dependencies = [("sagas", "0004_entries_and_payments_outlive_users")]

    operations = [
        migrations.RunSQL(
            [f"DROP INDEX {OLD}", f"CREATE UNIQUE INDEX {NEW} ON auth_user (upper(username))"],
            reverse_sql=[
                f"DROP INDEX {NEW}",
                f"CREATE UNIQUE INDEX {OLD} ON auth_user (lower(username))",
            ],
        ),
    ]
