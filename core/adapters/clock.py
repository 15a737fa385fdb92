"""Clocks: the real one, and a manual one for tests (also exported by `core.adapters.memory`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from core.domain.errors import InvalidInput


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = aware(start, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def set(self, dt: datetime) -> None:
        with self._lock:
            self._now = aware(dt, "dt")


def aware(dt: datetime, field: str) -> datetime:
    """`dt` in UTC; `InvalidInput` for a naive datetime, whose meaning would be a guess."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidInput.one(field, "must be a timezone-aware datetime")
    return dt.astimezone(UTC)
