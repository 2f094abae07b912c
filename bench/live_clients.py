"""Processes of the e2e benchmark that must not share the measured server's event loop
(nor Django): websocket clients, and the baseline's bare ``group_send``.

Started with the ``spawn`` method, so they inherit no connection or thread of the parent.
Times are ``time.monotonic()`` (CLOCK_MONOTONIC: one clock for every process).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

import orjson

Key = tuple[str, int]  # (stream_id, version)
CONNECT_CONCURRENCY = 25


def run_clients(
    url: str,
    origin: str,
    stream_id: str,
    version: int,
    count: int,
    progress: Queue[Any],
    stop: Event,
) -> None:
    """``count`` websocket clients of one page: connect, resume at ``version``, then
    record when each event arrives. Puts ``("ready", n)`` once all are synced, ``("got",
    key)`` when every client has one event, and at the end ``("times", {key: [t, ...]})``."""
    asyncio.run(_clients(url, origin, stream_id, version, count, progress, stop))


async def _clients(
    url: str,
    origin: str,
    stream_id: str,
    version: int,
    count: int,
    progress: Queue[Any],
    stop: Event,
) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    times: dict[Key, list[float]] = {}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    resume = orjson.dumps({"type": "resume", "versions": {stream_id: version}})

    async def client(ready: asyncio.Event, synced: list[int]) -> None:
        async with gate:
            socket = await connect(url, origin=Origin(origin), open_timeout=60, max_queue=None)
            await socket.send(resume.decode())
            while orjson.loads(await socket.recv()).get("type") != "synced":
                pass
        synced.append(1)
        if len(synced) == count:
            ready.set()
        try:
            async for text in socket:
                received = time.monotonic()
                message = orjson.loads(text)
                key = (message.get("stream_id"), message.get("version"))
                arrived = times.setdefault(key, [])
                arrived.append(received)
                if len(arrived) == count:
                    progress.put(("got", key))
        finally:
            await socket.close()

    ready = asyncio.Event()
    synced: list[int] = []
    tasks = [asyncio.create_task(client(ready, synced)) for _ in range(count)]
    await ready.wait()
    progress.put(("ready", count))
    while not stop.is_set():
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    progress.put(("times", times))


def run_baseline_sender(layer_settings: dict[str, Any], group: str, requests: Connection) -> None:
    """Send what the parent asks for with a bare ``group_send`` on a channel layer built
    from ``layer_settings`` (the project's ``CHANNEL_LAYERS["default"]``); answer each
    with the time just before sending."""
    asyncio.run(_baseline(layer_settings, group, requests))


async def _baseline(layer_settings: dict[str, Any], group: str, requests: Connection) -> None:
    import importlib

    module, _, name = layer_settings["BACKEND"].rpartition(".")
    layer = getattr(importlib.import_module(module), name)(**layer_settings.get("CONFIG", {}))
    loop = asyncio.get_running_loop()
    while True:
        message = await loop.run_in_executor(None, requests.recv)
        if message is None:
            break
        sent = time.monotonic()
        await layer.group_send(group, message)
        requests.send(sent)
    if hasattr(layer, "close_pools"):
        await layer.close_pools()  # channels_redis.core (its flush() would empty every group)
    else:
        await layer.flush()  # channels_redis.pubsub: closes this layer's own connections
