"""Reading settings from the environment, without Django's settings: the web entry point
(``easychamp.web``) reads some before the settings are imported."""

from __future__ import annotations

import math
import os

from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_seconds(name: str, default: float, maximum: float) -> float:
    """A duration in seconds, from 0 to ``maximum``; unset or empty: ``default``."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {raw!r}") from None
    if math.isnan(value) or not 0 <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be from 0 to {maximum:g} seconds, not {raw!r}")
    return value
