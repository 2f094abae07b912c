"""Reading settings from the environment, without Django's settings: the web entry point
(``easychamp.web``) reads some before the settings are imported."""

from __future__ import annotations

import math
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool = False) -> bool:
    """A switch: 1/true/yes/on or 0/false/no/off (any case); unset or empty: ``default``.
    Anything else is refused at start-up: a typo must not turn a protection off."""
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/true/yes/on or 0/false/no/off, not {os.environ[name]!r}"
    )


def env_int(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """A whole number from ``minimum`` (to ``maximum``); unset or empty: ``default``."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ImproperlyConfigured(f"{name} must be {bound}, not {raw!r}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_number(name: str, default: float, minimum: float, maximum: float, unit: str) -> float:
    """A finite number from ``minimum`` to ``maximum``; unset or empty: ``default``."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of {unit}, not {raw!r}") from None
    if math.isnan(value) or not minimum <= value <= maximum:
        raise ImproperlyConfigured(
            f"{name} must be from {minimum:g} to {maximum:g} {unit}, not {raw!r}"
        )
    return value


def env_seconds(name: str, default: float, maximum: float) -> float:
    """A duration in seconds, from 0 to ``maximum``; unset or empty: ``default``."""
    return env_number(name, default, 0, maximum, "seconds")


# A throttle rate's period, by its first letter, as DRF reads them ("600/min").
RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"1200/min"`` → (1200 requests, 60 seconds); None when off (empty, off, none).
    ValueError for anything else."""
    if rate is None or rate.strip().lower() in {"", "off", "none"}:
        return None
    count, slash, period = rate.strip().partition("/")
    unit = period.strip()[:1].lower()
    if not slash or not count.strip().isdigit() or unit not in RATE_PERIODS:
        raise ValueError(
            f"a rate is a number of requests per s, min, hour or day, like 600/min (or off), "
            f"not {rate!r}"
        )
    return int(count), RATE_PERIODS[unit]


def env_rate(name: str, default: str) -> str:
    """A throttle rate (checked at start-up, not on every request)."""
    rate = (os.environ.get(name) or "").strip() or default
    try:
        parse_rate(rate)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    return rate


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# Names Python's logging also takes for two of them.
_LOG_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}


def env_log_level(name: str = "LOG_LEVEL", default: str = "INFO") -> str:
    level = (os.environ.get(name) or "").strip().upper() or default
    level = _LOG_LEVEL_ALIASES.get(level, level)
    if level not in LOG_LEVELS:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(LOG_LEVELS)}, not {os.environ.get(name)!r}"
        )
    return level
