"""Injected faults (``--faults "429=0.1,500=0.05,reset-before=0.02,reset-after=0.02"``).

Each API request draws one number from an RNG seeded with ``--seed``, in arrival order, whatever the
spec says; the draw picks at most one fault by the spec's cumulative probabilities. So a seed and a
sequence of requests give the same faults on every run, and changing the spec mid-run (control
plane) does not shift the draws of later requests.

Kinds: an HTTP status (answered with the API's JSON error body, a 429 in the rate limiter's shape,
the operation not applied), ``reset-before`` (connection dropped before the operation is applied),
``reset-after`` (dropped after it was applied: the client cannot know whether its create happened)
and a 5xx status with ``-after`` (``500-after``: the operation is applied, then answered with that
error instead of its result, as a server that fails after committing a rent would).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from vast_pulumi.emulator.errors import ApiError

RESET_BEFORE = "reset-before"
RESET_AFTER = "reset-after"
RESETS = frozenset({RESET_BEFORE, RESET_AFTER})
AFTER_SUFFIX = "-after"

_STATUS_ERRORS = {
    500: ("server_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service temporarily unavailable"),
    504: ("gateway_timeout", "Gateway timeout"),
}


class FaultSpecError(ValueError):
    """A fault spec that names an unknown fault or gives a probability outside [0, 1]."""


@dataclass(frozen=True)
class FaultSpec:
    """Fault kinds and their probabilities, in the order given."""

    probabilities: tuple[tuple[str, float], ...] = ()

    @classmethod
    def parse(cls, spec: str | Mapping[str, float] | None) -> FaultSpec:
        items = _items(spec)
        pairs: list[tuple[str, float]] = []
        for kind, probability in items:
            is_status = kind.isdigit() and 400 <= int(kind) <= 599
            if kind not in RESETS and not is_status and not _is_after(kind):
                raise FaultSpecError(
                    f"unknown fault {kind!r}: use an HTTP status, {RESET_BEFORE}, {RESET_AFTER} "
                    f"or a 5xx status with {AFTER_SUFFIX} (500{AFTER_SUFFIX})"
                )
            if not 0.0 <= probability <= 1.0:
                raise FaultSpecError(f"fault {kind!r}: probability {probability} is outside [0, 1]")
            pairs.append((kind, probability))
        if sum(p for _, p in pairs) > 1.0 + 1e-9:
            raise FaultSpecError("fault probabilities add up to more than 1")
        return cls(tuple(pairs))

    def __str__(self) -> str:
        return ",".join(f"{kind}={probability:g}" for kind, probability in self.probabilities)

    def as_dict(self) -> dict[str, float]:
        return dict(self.probabilities)

    def pick(self, draw: float) -> str | None:
        threshold = 0.0
        for kind, probability in self.probabilities:
            threshold += probability
            if draw < threshold:
                return kind
        return None


def _is_after(kind: str) -> bool:
    status = kind.removesuffix(AFTER_SUFFIX)
    return kind.endswith(AFTER_SUFFIX) and status.isdigit() and 500 <= int(status) <= 599


def status_after(kind: str | None) -> int | None:
    """The status a ``5xx-after`` fault answers once the operation is applied; None for other kinds."""
    return int(kind.removesuffix(AFTER_SUFFIX)) if kind is not None and _is_after(kind) else None


def _items(spec: str | Mapping[str, float] | None) -> list[tuple[str, float]]:
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        return [(str(k).strip(), _probability(k, v)) for k, v in spec.items()]
    items = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kind, sep, value = part.partition("=")
        if not sep:
            raise FaultSpecError(f"fault {part!r}: write KIND=PROBABILITY")
        items.append((kind.strip(), _probability(kind, value)))
    return items


def _probability(kind: object, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FaultSpecError(f"fault {kind!r}: {value!r} is not a probability") from None


class FaultInjector:
    """The seeded draw per request, and the spec in force (changeable at run time)."""

    def __init__(self, spec: FaultSpec, seed: int) -> None:
        self.spec = spec
        self._seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        with self._lock:
            return self.spec.pick(self._rng.random())

    def reseed(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)


def status_error(status: int) -> ApiError:
    code, msg = _STATUS_ERRORS.get(status, (f"http_{status}", f"Injected error {status}"))
    return ApiError(status, code, msg)
