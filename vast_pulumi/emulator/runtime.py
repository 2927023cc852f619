"""One running emulator's parts: the backend, the request log, faults, rate limits, the search quota
and latency."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vast_pulumi.emulator import lifecycle
from vast_pulumi.emulator.backend import Backend
from vast_pulumi.emulator.faults import FaultInjector, FaultSpec
from vast_pulumi.emulator.holds import Holds
from vast_pulumi.emulator.persistence import StateFile
from vast_pulumi.emulator.quota import SearchQuota
from vast_pulumi.emulator.ratelimit import RateLimiter
from vast_pulumi.emulator.readings import Readings, ambient_profile
from vast_pulumi.emulator.requestlog import RequestLog

DEFAULT_API_KEY = "test-key"


@dataclass
class Settings:
    api_keys: Sequence[str] = field(default_factory=lambda: [DEFAULT_API_KEY])
    seed: int = 0
    boot_seconds: float = 5.0
    latency_ms: float = 0.0
    rate_limits: bool = False
    rate_limit_scale: float = 1.0
    faults: str | Mapping[str, float] | None = None
    state: str | os.PathLike[str] | None = None
    workers: bool = True  # serverless workers recruited by workergroups, as on the real service
    # The real API's hard edges (README, "Fidelity"): on by default where it always behaves so.
    destroy_seconds: float = lifecycle.DESTROY_SECONDS
    no_endpoints_error: bool = True
    rate_limit_style: str | None = None  # None: per the reading rate_limit_bodies
    retry_after: bool = False
    search_quota: int | None = None
    double_rent: bool = False
    # Where the sources disagree or are silent (``readings``): "pessimistic" takes the choice worse
    # for a client everywhere; explicit readings ({name: choice}) win over the profile. Unset:
    # $VAST_EMULATOR_PROFILE, else "default".
    profile: str = field(default_factory=ambient_profile)
    readings: Mapping[str, str] = field(default_factory=dict)


class Latency:
    """``--latency-ms``: a delay per API response, jittered by up to a quarter either way."""

    def __init__(self, milliseconds: float, seed: int) -> None:
        self.milliseconds = milliseconds
        self._seed = seed
        self._rng = random.Random(seed ^ 0x5EED)
        self._lock = threading.Lock()

    def next_seconds(self) -> float:
        if self.milliseconds <= 0:
            return 0.0
        with self._lock:
            jitter = self._rng.uniform(-0.25, 0.25)
        return self.milliseconds * (1.0 + jitter) / 1000.0

    def reseed(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed ^ 0x5EED)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        state_file = StateFile(settings.state) if settings.state is not None else None
        loaded = state_file.load() if state_file is not None else None
        self.readings = Readings(settings.profile, settings.readings)
        self.backend = Backend(
            settings.api_keys,
            seed=settings.seed,
            boot_seconds=settings.boot_seconds,
            destroy_seconds=settings.destroy_seconds,
            double_rent=settings.double_rent,
            no_endpoints_error=settings.no_endpoints_error,
            state=loaded,
            saver=state_file.save if state_file is not None else None,
            workers=settings.workers,
            readings=self.readings,
        )
        if state_file is not None:
            self.backend.save()  # the file exists from the start, with any new accounts
        self.log = RequestLog()
        self.faults = FaultInjector(FaultSpec.parse(settings.faults), settings.seed)
        self.limiter = RateLimiter(
            enabled=settings.rate_limits,
            scale=settings.rate_limit_scale,
            style=settings.rate_limit_style,
            retry_after=settings.retry_after,
            readings=self.readings,
        )
        self.search_quota = SearchQuota(settings.search_quota)
        self.latency = Latency(settings.latency_ms, settings.seed)
        self.holds = Holds()

    def reset(self) -> None:
        """Fresh state, empty log, rate-limit clocks and search quotas cleared, fault and latency draws
        from the start, holds released."""
        self.backend.reset()
        self.log.clear()
        self.limiter.reset()
        self.search_quota.reset()
        self.faults.reseed()
        self.latency.reseed()
        self.holds.release()
