from celery import shared_task


@shared_task(name="bench.noop", ignore_result=True, acks_late=True)
def noop_task() -> None:
    """The dispatch benchmark's baseline: a task that does nothing."""
