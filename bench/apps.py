from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "bench"
    verbose_name = "Benchmarks"

    def ready(self) -> None:
        from bench.events import BenchGoalScored
        from events.registry import registry

        registry.register(BenchGoalScored)
