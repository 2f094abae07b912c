"""Saga streams written before each saga type had a stream type of its own
(``saga.<type>``) still have ``saga`` on their head: since the event store refuses an
append under another type than the stream's, such a saga (a waiting-list entry can wait
for weeks) could take no further step. Their heads get their saga's type. The stored
events keep the type they were written with (the store is append-only); delivery and
the sweeper go by the head's."""

from django.db import migrations

BATCH = 1000


def type_the_heads(apps, schema_editor):
    SagaInstance = apps.get_model("sagas", "SagaInstance")
    EventStream = apps.get_model("events", "EventStream")
    # order_by(): the model's default ordering would make DISTINCT one row per saga.
    types = SagaInstance.objects.order_by().values_list("saga_type", flat=True).distinct()
    for saga_type in list(types):
        ids = SagaInstance.objects.filter(saga_type=saga_type).values_list("id", flat=True)
        streams = [f"saga-{saga_id}" for saga_id in ids.iterator()]
        for start in range(0, len(streams), BATCH):
            EventStream.objects.filter(
                stream_id__in=streams[start : start + BATCH], stream_type="saga"
            ).update(stream_type=f"saga.{saga_type}")


class Migration(migrations.Migration):
    dependencies = [
        ("sagas", "0005_usernames_unique_as_sign_up_compares"),
        ("events", "0007_feed"),
    ]

    operations = [migrations.RunPython(type_the_heads, migrations.RunPython.noop)]
