"""The web processes (Procfile ``web``): ``python -m easychamp.web``.

Uvicorn binds HOST:PORT once and hands the socket to WEB_CONCURRENCY worker processes
(default: one per core), which accept HTTP and websocket connections alike; its
supervisor replaces a worker that dies. Why uvicorn rather than daphne: the same ASGI
application (Channels supports any ASGI server), a faster HTTP parser and event loop
(httptools, uvloop), one process manager for the workers, and a graceful stop: on
SIGTERM a worker stops accepting, finishes the requests in flight (closing websockets
with 1012) within WEB_GRACEFUL_TIMEOUT seconds, then exits. A statement that runs or
waits for a lock longer than DATABASE_STATEMENT_TIMEOUT (30 s here unless set) is
cancelled: the request gets a 503 instead of holding its thread.
"""

from __future__ import annotations

import os

import uvicorn

# Not easychamp.settings: importing it here would build the settings before main() sets
# the web processes' defaults, and uvicorn runs a single worker in this very process.
from easychamp.env import env_bool, env_int, env_log_level


def web_concurrency() -> int:
    return env_int("WEB_CONCURRENCY", os.cpu_count() or 1, minimum=1)


# A request waits at most this long on one statement (a lock another transaction holds,
# a slow query) before it fails with a 503, rather than hold its thread and connection.
WEB_STATEMENT_TIMEOUT = "30"


def main() -> None:
    # The web processes' own default (other processes have none); the workers uvicorn
    # spawns read it from the environment they inherit.
    if not os.environ.get("DATABASE_STATEMENT_TIMEOUT", "").strip():
        os.environ["DATABASE_STATEMENT_TIMEOUT"] = WEB_STATEMENT_TIMEOUT
    uvicorn.run(
        "easychamp.asgi:application",
        host=os.environ.get("HOST") or "127.0.0.1",
        port=env_int("PORT", 8000, minimum=1, maximum=65535),
        workers=web_concurrency(),
        # Django's ASGI handler has no lifespan events.
        lifespan="off",
        access_log=env_bool("WEB_ACCESS_LOG"),
        timeout_graceful_shutdown=env_int("WEB_GRACEFUL_TIMEOUT", 4, minimum=0, maximum=3600),
        # The client address (throttles, logs) from X-Forwarded-For, but only when the
        # request comes from a proxy listed here.
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1",
        log_level=env_log_level().lower(),
        # Live messages are small JSON, and each connection compresses with a context of
        # its own: with per-message deflate, one goal pushed to 1,000 pages is compressed
        # 1,000 times. Off unless WEB_WS_DEFLATE=1.
        ws_per_message_deflate=env_bool("WEB_WS_DEFLATE"),
        # Frames above the consumer's limit get its JSON error; far above, the
        # connection closes (1009) before the frame is buffered.
        ws_max_size=1024 * 1024,
    )


if __name__ == "__main__":
    main()
