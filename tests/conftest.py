from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from events import store, wakeup

pytest_plugins = ["events.testing"]


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    # Tests speak plain HTTP with DEBUG off; production redirects it to HTTPS.
    settings.SECURE_SSL_REDIRECT = False


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-load",
        action="store_true",
        help="run the load and fault tests (marker load; `make loadtest`)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Load tests take minutes and the whole machine: deselected (not skipped, which
    # EASYCHAMP_FAIL_ON_SKIP counts as a gap) unless asked for.
    if not config.getoption("--run-load"):
        deselected = [item for item in items if item.get_closest_marker("load")]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if not item.get_closest_marker("load")]
    is_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    redis_ok = bool(os.environ.get("REDIS_URL")) and _reachable(settings.REDIS_URL, 6379)
    rabbit_url = os.environ.get("RABBITMQ_URL", "")
    rabbit_ok = bool(rabbit_url) and _reachable(rabbit_url, 5672)
    skips = {
        "postgres": (is_postgres, "needs PostgreSQL: set DATABASE_URL=postgres://..."),
        "redis": (redis_ok, "needs Redis: set REDIS_URL to a reachable server"),
        "rabbitmq": (rabbit_ok, "needs RabbitMQ: set RABBITMQ_URL to a reachable broker"),
    }
    for item in items:
        for marker, (available, reason) in skips.items():
            if item.get_closest_marker(marker) and not available:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _no_wakeups_unless_asked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests deliver through ``event_bus``; only tests marked ``live_delivery``
    send real wake-ups to a broker after each commit."""
    if request.node.get_closest_marker("live_delivery"):
        yield
        return
    store.remove_append_listener(wakeup.request)
    try:
        yield
    finally:
        store.on_append_committed(wakeup.request)


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(settings: object) -> None:
    """Channels' in-memory layer in this process (unit tests); real web and worker
    processes started by tests use channels-redis from the settings."""
    settings.CHANNEL_LAYERS = {  # type: ignore[attr-defined]
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    }


_skipped_count = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _skipped_count
    if report.skipped:
        _skipped_count += 1


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI every service is running, so a skipped test is a gap, not an excuse.
    if os.environ.get("EASYCHAMP_FAIL_ON_SKIP") == "1" and _skipped_count and exitstatus == 0:
        print(f"\nEASYCHAMP_FAIL_ON_SKIP: {_skipped_count} test(s) skipped; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
