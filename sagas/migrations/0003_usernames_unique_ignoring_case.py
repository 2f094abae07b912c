"""Usernames are unique ignoring case in the database too: sign-up checks ``iexact``
first, but two sign-ups of "Bob" and "bob" at the same moment both passed that check,
and auth_user's own unique index is case-sensitive. With this one the second insert
fails (IntegrityError), which sign-up answers as a taken username.

Fails on a database that already holds two usernames differing only in case: rename one
first."""

from django.db import migrations

INDEX = "auth_user_username_lower_uniq"


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("sagas", "0002_organisers_operate_sagas"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON auth_user (lower(username))",
            reverse_sql=f"DROP INDEX {INDEX}",
        ),
    ]
