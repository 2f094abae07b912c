"""The event store refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) in the database.

Deleting events needs the purge switch of the current transaction (see events.purge).
On SQLite, a migration that later alters ``event_store`` must create these triggers again:
Django rebuilds an altered SQLite table, and the triggers go with the old one.
"""

from django.db import migrations

UPDATE_REFUSED = (
    "event_store is append-only: UPDATE refused "
    "(a stored event never changes; a new payload shape gets an upcaster)"
)
DELETE_REFUSED = (
    "event_store is append-only: {op} refused "
    "(deleting events, in tests and benchmarks only, goes through events.purge.allow_event_purge)"
)

POSTGRESQL = [
    f"""
    CREATE FUNCTION event_store_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION USING
                MESSAGE = '{UPDATE_REFUSED}', ERRCODE = 'restrict_violation';
        END IF;
        IF current_setting('easychamp.event_store_purge', true) = 'on' THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION USING
            MESSAGE = replace('{DELETE_REFUSED}', '{{op}}', TG_OP),
            ERRCODE = 'restrict_violation';
    END
    $$
    """,
    # Statement level: refused even when no row matches, and cheap for a large purge.
    """
    CREATE TRIGGER event_store_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON event_store
    FOR EACH STATEMENT EXECUTE FUNCTION event_store_append_only()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER event_store_append_only ON event_store",
    "DROP FUNCTION event_store_append_only()",
]

SQLITE = [
    # A row here (inserted and removed again inside one transaction) is the purge switch.
    "CREATE TABLE event_store_purge (allowed integer NOT NULL)",
    f"""
    CREATE TRIGGER event_store_no_update BEFORE UPDATE ON event_store
    BEGIN SELECT RAISE(ABORT, '{UPDATE_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER event_store_no_delete BEFORE DELETE ON event_store
    WHEN NOT EXISTS (SELECT 1 FROM event_store_purge)
    BEGIN SELECT RAISE(ABORT, '{DELETE_REFUSED.format(op="DELETE")}'); END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER event_store_no_delete",
    "DROP TRIGGER event_store_no_update",
    "DROP TABLE event_store_purge",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("events", "0004_stream_fillfactor")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
