"""Browser tests: Playwright for Python driving Debian's chromium (headless) against a
real daphne web process and a real Celery worker, on the test database.

Skipped, with the reason, where chromium or Playwright is missing (``.ci/run`` installs
chromium). The web process, worker and browser last for a module; the database is
emptied after each test (``transaction=True``)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.workers import private_queue
from events import wakeup
from tests.championships.servers import WebServer
from tests.events.workers import Worker, behind, delivery_state, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REDIS_BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # the dev extras are not installed
    sync_playwright = None  # type: ignore[assignment]


def missing() -> str:
    if sync_playwright is None:
        return "needs Playwright for Python (pip install -e '.[dev]')"
    if not os.path.exists(CHROMIUM):
        return "needs Debian's chromium (apt-get install chromium; .ci/run installs it)"
    return ""


browser_marks = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.live_delivery,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(bool(missing()), reason=missing() or "-"),
]


@pytest.fixture(scope="module")
def live_queue(django_db_setup: None) -> Iterator[str]:
    with private_queue(f"browser-{uuid.uuid4().hex[:8]}") as queue:
        yield queue


@pytest.fixture(scope="module")
def worker(live_queue: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    worker = Worker("browser", REDIS_BROKER, live_queue, tmp_path_factory.mktemp("worker"))
    worker.wait_ready()
    yield worker
    worker.stop()


WaitDelivered = Callable[[Callable[[], object], str], None]


def delivery_settled() -> bool:
    """No drain runs or waits on this queue, no stream waits for one (a drain clears the
    flag and frees its slot only after its last delivery committed), and no checkpoint
    is behind its stream (a pair left for a retry or a busy pair's follow-up task)."""
    if wakeup.dirty_streams() or wakeup.drain_flag_ttl() is not None or wakeup.helper_slots():
        return False
    return not behind()


@pytest.fixture(autouse=True)
def _settled_before_flush(transactional_db: None, worker: Worker) -> Iterator[None]:
    """The database is emptied after each test (TRUNCATE, table by table): a delivery
    still writing then would deadlock with it. So each test ends once the worker has
    delivered what the test wrote (torn down before the flush, which is set up first)."""
    yield
    wakeup.flush()  # the wake-ups of the test's last commits, sent
    wait_for(
        delivery_settled,
        60,
        "the worker to deliver what the test wrote",
        details=lambda: delivery_state(worker),
    )


@pytest.fixture
def wait_delivered(worker: Worker) -> WaitDelivered:
    """Wait (60 s at most) for the worker to deliver what ``condition`` checks; a timeout
    says where delivery stood (wake-up keys, checkpoints behind, the worker's log)."""

    def wait(condition: Callable[[], object], what: str) -> None:
        wait_for(condition, 60, what, details=lambda: delivery_state(worker))

    return wait


@pytest.fixture(scope="module")
def web(
    live_queue: str, worker: Worker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    server = WebServer("browser", live_queue, tmp_path_factory.mktemp("web"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made
    # by the test itself (setting up data) are still synchronous.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a test saves its screenshots (EASYCHAMP_SCREENSHOTS: a folder to keep them)."""
    kept = os.environ.get("EASYCHAMP_SCREENSHOTS")
    return Path(kept) if kept else tmp_path
