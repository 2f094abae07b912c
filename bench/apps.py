from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "bench"
    verbose_name = "Benchmarks"

    def ready(self) -> None:
        from bench import probe
        from bench.events import BenchGoalScored
        from events.registry import registry
        from events.subscriptions import RetryPolicy, subscribe

        registry.register(BenchGoalScored)
        registry.register(probe.ProbeTicked)
        subscribe(
            probe.SUBSCRIPTION,
            probe.apply_probe,
            event_types=[probe.ProbeTicked],
            stream_types=[probe.STREAM_TYPE],
            retry=RetryPolicy(max_attempts=4, base_delay=0.2, max_delay=5.0),
            batch_handler=probe.apply_probe_batch,
        )
