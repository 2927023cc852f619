"""Client-side pacing of rate-limited routes, learnt from the server's answers.

The API enforces a minimum interval between calls per route and identity and sends no
``Retry-After``. Whether a given server enforces it (the emulator without limits, a generous account)
is learnt per route, at the cost of about one 429 per doubling of the calls made:

* **probing** (the start): one call in flight at a time, so a burst of N calls meets one 429, not
  N - 1. When the server accepts a call sent within the interval of the previous accepted one, it
  does not limit the route: the route becomes *free*.
* **free**: no pacing. A 429 to a call sent within the interval of the last accepted one makes the
  route *paced*; a 429 a full interval after it cannot be our limit, and changes nothing.
* **paced**: calls are spaced by the interval (across threads: whoever waits takes the next slot).
  The first call after the switch, and then one after ``probation`` answered calls in a row, goes at
  once, within the interval: a probe. If the server accepts it, the 429 was a fault or is over, and
  the route is free again (waiting calls go at once); if it answers 429, the limit is real, and the
  next probe waits for twice as many calls (1, 2, 4, ...).

So a random 429 costs a fleet about one round trip, and a real limit costs two 429s at the start and
one per doubling of the calls made under it. A rejected call does not move the API's clock, so a
failed probe costs no time.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

# The API measures intervals between arrivals; a little slack absorbs network jitter.
SLACK = 1.05
# Longest wait between probes, in accepted calls: bounds the 429s a real limit costs to one per
# this many calls once the doubling reaches it.
MAX_PROBATION = 64
# How often a paced call that is waiting looks whether the route became free or may probe.
_RECHECK_SECONDS = 0.1


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    LIMITED = "limited"  # 429
    OTHER = "other"  # any other failure: says nothing about the limit


class _Mode(enum.Enum):
    PROBING = "probing"
    FREE = "free"
    PACED = "paced"


@dataclass
class _Route:
    interval: float
    mode: _Mode = _Mode.PROBING
    in_flight: bool = False  # probing: a call is out
    next_slot: float = 0.0  # paced: when the next reserved call may go
    last_accepted: float = float("-inf")  # when the latest accepted call was sent
    streak: int = 0  # paced: accepted calls in a row
    probation: int = 0  # paced: answered calls in a row before a probe (at first, none)
    probe_out: bool = False


@dataclass(frozen=True)
class Turn:
    """One call's permission to go: what :meth:`Pacer.report` needs to learn from its answer."""

    key: tuple[str, str]
    sent: float
    mode: _Mode
    probe: bool = False


class Pacer:
    """Spaces calls to each rate-limited route as the server's answers show it needs. Thread-safe."""

    def __init__(self, intervals: Mapping[tuple[str, str], float], scale: float) -> None:
        self._routes = {
            key: _Route(interval=seconds * scale * SLACK)
            for key, seconds in intervals.items()
            if seconds * scale > 0
        }
        self._lock = threading.Condition()

    def mode(self, method: str, route: str) -> str | None:
        """``probing``, ``free`` or ``paced``; ``None`` for a route without a limit."""
        state = self._routes.get((method, route))
        return state.mode.value if state is not None else None

    def wait_turn(self, method: str, route: str) -> Turn | None:
        """Block until a call to the route may go; ``None`` for a route without a limit."""
        key = (method, route)
        state = self._routes.get(key)
        if state is None:
            return None
        while True:
            with self._lock:
                now = time.monotonic()
                if state.mode is _Mode.PROBING:
                    if not state.in_flight:
                        state.in_flight = True
                        return Turn(key, now, _Mode.PROBING)
                    self._lock.wait()  # until the call in flight is answered
                    continue
                if state.mode is _Mode.FREE:
                    return Turn(key, now, _Mode.FREE)
                if self._may_probe(state):
                    state.probe_out = True
                    return Turn(key, now, _Mode.PACED, probe=True)
                if now >= state.next_slot:
                    # Slots are taken, not reserved: a waiter that leaves (as a probe, or when the
                    # route becomes free) leaves no gap in the queue.
                    state.next_slot = now + state.interval
                    return Turn(key, now, _Mode.PACED)
                wait = state.next_slot - now
            time.sleep(min(wait, _RECHECK_SECONDS))

    def report(self, turn: Turn | None, outcome: Outcome) -> None:
        """What the server answered to the call ``turn`` let go."""
        if turn is None:
            return
        state = self._routes[turn.key]
        with self._lock:
            if turn.mode is _Mode.PROBING:
                state.in_flight = False
            if turn.probe:
                state.probe_out = False
            if outcome is Outcome.ACCEPTED:
                self._accepted(state, turn)
            elif outcome is Outcome.LIMITED and self._ours(state, turn):
                self._limited(state, turn)
            elif state.mode is _Mode.PACED and not turn.probe:
                # A fault on a paced call says nothing about the limit; it still counts towards the
                # next probe, so a run of faults does not keep the route paced.
                state.streak += 1
            self._lock.notify_all()

    @staticmethod
    def _may_probe(state: _Route) -> bool:
        return state.mode is _Mode.PACED and not state.probe_out and state.streak >= state.probation

    @staticmethod
    def _accepted(state: _Route, turn: Turn) -> None:
        # Evidence the server does not limit the route: it accepted two calls closer than the interval.
        if turn.sent - state.last_accepted < state.interval / SLACK and state.mode is not _Mode.FREE:
            state.mode, state.streak, state.next_slot = _Mode.FREE, 0, 0.0
        elif state.mode is _Mode.PACED:
            state.streak += 1
        state.last_accepted = max(state.last_accepted, turn.sent)

    @staticmethod
    def _ours(state: _Route, turn: Turn) -> bool:
        """Whether a 429 can be the route's limit: a call sent a full interval after the last call the
        server accepted cannot break it (that 429 is a fault, a proxy's, or another client's)."""
        return turn.sent - state.last_accepted < state.interval / SLACK

    @staticmethod
    def _limited(state: _Route, turn: Turn) -> None:
        if turn.probe:
            state.probation = min(max(1, state.probation * 2), MAX_PROBATION)
        state.mode, state.streak = _Mode.PACED, 0
        # The server's clock runs from the last call it accepted, which was no later than now.
        state.next_slot = max(state.next_slot, time.monotonic() + state.interval)
