from django.db import migrations


def set_fillfactor(apps, schema_editor):
    # PostgreSQL only: room in each page for in-place (HOT) updates of stream heads.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE event_stream SET (fillfactor = 70)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE event_stream RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("events", "0003_delivery")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
