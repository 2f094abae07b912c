from django.db import migrations


def add_txid(apps, schema_editor):
    # PostgreSQL only: the id of the writing transaction, so the global feed can hold
    # back positions that may still be committed out of order (see store.read_all).
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE event_store ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )


def drop_txid(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE event_store DROP COLUMN txid")


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunPython(add_txid, drop_txid)]
