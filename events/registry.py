"""Event classes, their stable type names, schema versions and upcasters.

Domain apps register their event classes explicitly in ``AppConfig.ready()``. A type
name, once used, is never reused for another class. Payloads are encoded and decoded
with msgspec: one pass, typed (UUIDs, datetimes and decimals come back as such).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec


class Event:
    """Base of all domain events: subclass as a frozen dataclass of ids and primitives.

    ``event_type`` is the stable name stored with the event; ``schema_version`` is bumped
    whenever the payload's shape changes (with an upcaster from the previous version).
    ``stream_type`` names the kind of stream the event belongs to.
    """

    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1
    stream_type: ClassVar[str] = ""


class EventError(Exception):
    """Base of the event store's errors."""


class UnknownEventType(EventError):
    def __init__(self, event_type: str) -> None:
        super().__init__(
            f"Unknown event type {event_type!r}: no event class is registered under that name"
        )
        self.event_type = event_type


class EventRegistrationError(EventError):
    pass


class EventEncodingError(EventError):
    pass


class EventDecodingError(EventError):
    pass


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _encode_default(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable in an event payload")


_encoder = msgspec.json.Encoder(enc_hook=_encode_default, decimal_format="string")
_dict_decoder = msgspec.json.Decoder(dict[str, Any])


class EventRegistry:
    """Maps stable type names to event classes, and (name, version) to upcasters."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Event]] = {}
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: type[Event]) -> type[Event]:
        name = cls.event_type
        if not name:
            raise EventRegistrationError(f"{cls.__qualname__} has no event_type")
        if not dataclasses.is_dataclass(cls):
            raise EventRegistrationError(f"{cls.__qualname__} must be a dataclass")
        params = getattr(cls, "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise EventRegistrationError(f"{cls.__qualname__} must be a frozen dataclass")
        if cls.schema_version < 1:
            raise EventRegistrationError(f"{cls.__qualname__}.schema_version must be >= 1")
        existing = self._classes.get(name)
        if existing is not None and existing is not cls:
            if _same_class(existing, cls):
                # The same definition imported twice (e.g. module reloaded).
                pass
            else:
                raise EventRegistrationError(
                    f"event type {name!r} is already registered to "
                    f"{existing.__module__}.{existing.__qualname__}"
                )
        self._classes[name] = cls
        self._decoders[name] = msgspec.json.Decoder(cls)
        return cls

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Register ``upcaster``: a stored ``from_version`` payload dict → the next version's."""
        key = (event_type, from_version)
        if key in self._upcasters and self._upcasters[key] is not upcaster:
            raise EventRegistrationError(
                f"an upcaster for {event_type!r} v{from_version} is already registered"
            )
        self._upcasters[key] = upcaster

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def decorate(fn: Upcaster) -> Upcaster:
            self.register_upcaster(event_type, from_version, fn)
            return fn

        return decorate

    def unregister(self, event_type: str) -> None:
        """Remove a type (tests only: names are never reused in production)."""
        self._classes.pop(event_type, None)
        self._decoders.pop(event_type, None)
        for key in [k for k in self._upcasters if k[0] == event_type]:
            del self._upcasters[key]

    def class_for(self, event_type: str) -> type[Event]:
        try:
            return self._classes[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def is_registered(self, event_type: str) -> bool:
        return event_type in self._classes

    def names(self) -> list[str]:
        return sorted(self._classes)

    def missing_upcasters(self) -> list[tuple[str, int]]:
        return [
            (name, v)
            for name, cls in self._classes.items()
            for v in range(1, cls.schema_version)
            if (name, v) not in self._upcasters
        ]

    def encode(self, event: Event) -> bytes:
        cls = type(event)
        if self._classes.get(cls.event_type) is not cls:
            raise UnknownEventType(cls.event_type or cls.__qualname__)
        try:
            return _encoder.encode(event)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventEncodingError(f"cannot encode {cls.event_type}: {exc}") from exc

    def decode(self, event_type: str, schema_version: int, payload: bytes | str) -> Event:
        """Decode a stored payload into its current class, upcasting old versions."""
        cls = self.class_for(event_type)
        try:
            if schema_version == cls.schema_version:
                result: Event = self._decoders[event_type].decode(payload)
                return result
            if schema_version > cls.schema_version:
                raise EventDecodingError(
                    f"{event_type} v{schema_version} is newer than the code (v{cls.schema_version})"
                )
            data = _dict_decoder.decode(payload)
            for version in range(schema_version, cls.schema_version):
                upcast = self._upcasters.get((event_type, version))
                if upcast is None:
                    raise EventDecodingError(
                        f"no upcaster registered for {event_type} v{version} → v{version + 1}"
                    )
                data = upcast(data)
            upgraded: Event = msgspec.convert(data, cls, strict=False)
            return upgraded
        except msgspec.ValidationError as exc:
            raise EventDecodingError(f"stored {event_type} payload is invalid: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise EventDecodingError(f"stored {event_type} payload is not JSON: {exc}") from exc


def _same_class(a: type, b: type) -> bool:
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


def to_builtins(event: Event) -> dict[str, Any]:
    """The event's payload as JSON-ready builtins (for APIs and feeds)."""
    result: dict[str, Any] = msgspec.to_builtins(event, enc_hook=_encode_default)
    return result


registry = EventRegistry()
register_event = registry.register
register_upcaster = registry.register_upcaster
upcaster = registry.upcaster
