"""Short-lived, single-flight snapshots of one list call.

A refresh of many resources, or many readiness waits, each want the account's list; the API limits how
often it may be read. A :class:`Snapshot` lets them share: a caller accepts rows fetched at most
``max_age`` seconds ago and after the last invalidation (a write made since may have changed them), and
callers that arrive while such a fetch is running wait for it instead of starting another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Snapshot"]

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    """One fetch of a list, which any number of threads may wait for."""

    started: float
    done: threading.Event = field(default_factory=threading.Event)
    rows: list[T] | None = None
    error: BaseException | None = None


class Snapshot(Generic[T]):
    """A short-lived, single-flight cache of one list call.

    A caller accepts a result fetched at most ``max_age`` seconds ago and after the last invalidation;
    if a fetch satisfying that is already running, it waits for it instead of starting another.
    """

    def __init__(self, fetch: Callable[[], list[T]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._latest: _Flight[T] | None = None
        self._running: _Flight[T] | None = None
        self._invalidated_at = float("-inf")

    def invalidate(self) -> None:
        with self._lock:
            self._invalidated_at = time.monotonic()

    def get(self, max_age: float) -> list[T]:
        with self._lock:
            now = time.monotonic()
            oldest_acceptable = max(now - max_age, self._invalidated_at)
            latest, running = self._latest, self._running
            if latest is not None and latest.rows is not None and latest.started >= oldest_acceptable:
                return list(latest.rows)
            if running is not None and now >= running.started >= oldest_acceptable:
                flight, leader = running, False
            else:
                flight, leader = _Flight[T](started=now), True
                self._running = flight
        if leader:
            self._run(flight)
        return _rows_of(flight)

    def next_after(
        self, seen: float, spacing: float, fetch: Callable[[], list[T]] | None = None
    ) -> tuple[float, list[T]]:
        """Rows from a fetch started after ``seen``, and its start. A fetch for these callers starts
        ``spacing`` after the latest one at the earliest; callers that arrive before it join it."""
        with self._lock:
            latest, running = self._latest, self._running
            if latest is not None and latest.rows is not None and latest.started > seen:
                return latest.started, list(latest.rows)
            if running is not None and running.started > seen:
                flight, leader = running, False
            else:
                earliest = latest.started + spacing if latest is not None else seen
                flight, leader = _Flight[T](started=max(time.monotonic(), earliest)), True
                self._running = flight
        if leader:
            time.sleep(max(0.0, flight.started - time.monotonic()))
            self._run(flight, fetch)
        return flight.started, _rows_of(flight)

    def _run(self, flight: _Flight[T], fetch: Callable[[], list[T]] | None = None) -> None:
        try:
            flight.rows = (fetch or self._fetch)()
        except BaseException as error:
            flight.error = error  # every waiter of this flight raises it, not just the leader
        with self._lock:
            if self._running is flight:
                self._running = None
            if flight.rows is not None and (self._latest is None or flight.started > self._latest.started):
                self._latest = flight
        flight.done.set()


def _rows_of(flight: _Flight[T]) -> list[T]:
    """The flight's rows once it is over (a copy: callers may change theirs), or its error."""
    flight.done.wait()
    if flight.error is not None:
        raise flight.error
    return list(flight.rows or [])
