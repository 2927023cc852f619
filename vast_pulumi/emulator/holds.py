"""Holds: park the API requests of one route until a test releases them.

A test that must act while a call is in flight (kill ``pulumi up`` after the API made a workergroup
and before Pulumi recorded it) holds the route instead of racing a latency: a request that matches
waits, either before it reaches the API (``stage="before"``: nothing applied yet) or after it was
applied with its answer held back (``stage="after"``: the client cannot know it happened). Every
parked request is counted, so the test knows the moment has come. Control plane:
``PUT /_emulator/hold``, ``GET /_emulator/hold``, ``DELETE /_emulator/hold`` (releases all).
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field

BEFORE = "before"
AFTER = "after"
STAGES = (BEFORE, AFTER)
_POLL_SECONDS = 0.01


class HoldSpecError(ValueError):
    """A hold on an unknown stage or a route that is not an API path."""


@dataclass
class Hold:
    method: str
    route: str  # a route template such as "/api/v0/workergroups/{id}/"
    stage: str = BEFORE
    parked: int = 0  # requests that have waited here, released or not
    released: bool = False
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise HoldSpecError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if not self.route.startswith("/api/"):
            raise HoldSpecError(f"route must be an API route template like /api/v0/..., got {self.route!r}")
        self.method = self.method.upper()
        template = self.route if self.route.endswith("/") else self.route + "/"
        parts = re.split(r"\{[^}]*\}", template)
        self._pattern = re.compile("[^/]+".join(re.escape(part) for part in parts))

    def matches(self, method: str, path: str) -> bool:
        return not self.released and method.upper() == self.method and bool(self._pattern.fullmatch(path))

    def as_dict(self) -> dict[str, object]:
        return {"method": self.method, "route": self.route, "stage": self.stage, "parked": self.parked}


class Holds:
    """The holds in force. Thread-safe: the test's thread adds and releases, the server's loop parks."""

    def __init__(self) -> None:
        self._holds: list[Hold] = []
        self._lock = threading.Lock()

    def add(self, method: str, route: str, stage: str = BEFORE) -> Hold:
        hold = Hold(method, route, stage)
        with self._lock:
            self._holds.append(hold)
        return hold

    def find(self, method: str, path: str, stage: str) -> Hold | None:
        with self._lock:
            return next((h for h in self._holds if h.stage == stage and h.matches(method, path)), None)

    async def park(self, hold: Hold) -> None:
        """Wait here until ``hold`` is released."""
        with self._lock:
            hold.parked += 1
        while not hold.released:
            await asyncio.sleep(_POLL_SECONDS)

    def release(self) -> None:
        """Release every hold: parked requests go on, later ones are not held."""
        with self._lock:
            for hold in self._holds:
                hold.released = True
            self._holds.clear()

    def listing(self) -> list[dict[str, object]]:
        with self._lock:
            return [hold.as_dict() for hold in self._holds]
