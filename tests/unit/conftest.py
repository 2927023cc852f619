"""Unit tests call the providers' methods directly, as the dynamic-provider server would, against the
emulator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from vast_pulumi import _snapshot, _transport, client
from vast_pulumi._dynamic import VastProvider, failure_field
from vast_pulumi.client import route_template
from vast_pulumi.emulator import Emulator

P = TypeVar("P", bound=VastProvider[Any])

QUERY = (
    "gpu_name=RTX_4090 num_gpus=1"  # the offers an instance of these tests rents (the seeded market has them)
)
INSTANCE = {
    "offer_query": QUERY,
    "image": "pytorch/pytorch",
    "disk": 16.0,
}  # an instance's inputs, but its marker


def configured(provider: P, url: str, api_key: str) -> P:
    """``provider`` after the ``configure`` call the server makes, with the stack's vast:* config."""
    provider.configure(ConfigureRequest(Config({"vast:apiKey": api_key, "vast:apiUrl": url}, "proj")))
    return provider


def api_calls(emulator: Emulator, since: int = 0) -> list[tuple[str, str]]:
    """(method, route) of every Vast API request the emulator logged after the first ``since``."""
    return [
        (entry["method"], entry["route"] or entry["path"])
        for entry in emulator.request_log()[since:]
        if str(entry["path"]).startswith("/api/")
    ]


def faulted_calls(emulator: Emulator) -> list[tuple[str, str | None, str]]:
    """(method, route, fault) of every request the emulator answered with an injected fault: what a
    fault test asserts, so that it proves its fault hit the call it is about."""
    return [
        # A fault answered before routing (a status, reset-before) logs no route: use the path's.
        (entry["method"], entry["route"] or route_template(str(entry["path"])), entry["fault"])
        for entry in emulator.request_log()
        if entry["fault"]
    ]


@pytest.fixture
def emulator(vast_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return vast_emulator_factory(seed=1, boot_seconds=0.3)


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Instance waits poll every 0.1 s: the test emulator boots an instance in 0.3 s. Modules that rent
    instances use it for every test (``pytestmark = pytest.mark.usefixtures("quick_polls")``)."""
    monkeypatch.setattr("vast_pulumi._instances.POLL_SECONDS", 0.1)


def checked_news(provider: VastProvider[Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` through ``check``, which must accept them, as the engine then hands them to
    diff/create/update (with the ``__provider`` blob)."""
    result = provider.check({}, {"__provider": "blob", **inputs})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


@pytest.fixture
def connect(emulator: Emulator) -> Callable[[P], P]:
    """Configure a provider for the test's emulator account."""

    def connect(provider: P) -> P:
        return configured(provider, emulator.url, emulator.api_keys[0])

    return connect


@pytest.fixture(autouse=True)
def _no_ambient_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Keep the developer's real key (env or key file) and client settings out of every test."""
    for name in ("VAST_API_KEY", "VAST_URL", "VASTAI_API_KEY", "VASTAI_API_URL", "VAST_PULUMI_PACING_SCALE"):
        monkeypatch.delenv(name, raising=False)
    # No late-recruit sweep after a workergroup's delete unless a test asks for one (the emulator's
    # default recruits synchronously; the sweep's own tests set the window).
    monkeypatch.setenv("VAST_PULUMI_LATE_RECRUIT_SECONDS", "0")
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)


@pytest.fixture(autouse=True)
def _fresh_shared_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no process-wide clients (``client.shared_client`` keeps one per URL and
    key). Every emulator takes a free port, and a later test's may be the port an earlier test's had:
    with the same key it would get that test's client, with its account id already read (seen: a
    fault aimed at a create's POST hit the read after it, the ``users/current`` call being skipped)."""
    monkeypatch.setattr(client, "_clients", {})


def seed_for(faulted: list[bool], probability: float) -> int:
    """An emulator seed whose first requests are faulted exactly as ``faulted`` says, for a fault
    injected with ``probability``: the emulator draws one ``random.Random(seed).random()`` per API
    request, in arrival order, and faults the request when the draw is below the probability."""
    import random

    for seed in range(100_000):
        rng = random.Random(seed)
        if [rng.random() < probability for _ in faulted] == faulted:
            return seed
    raise AssertionError(f"no seed gives {faulted}")


class FakeTime:
    """Stands in for ``time`` in the client's transport and list snapshots: the client's waits move
    this clock and are recorded, so a test reads them instead of measuring the wall clock."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(_transport, "time", fake)
    monkeypatch.setattr(_snapshot, "time", fake)
    return fake


def assert_check_fails(
    provider_class: type[VastProvider[Any]], news: dict[str, Any], field: str, rule: str
) -> None:
    """``check`` of ``news`` fails once, naming ``field``, with a reason that starts with it and says
    ``rule``."""
    result = provider_class().check({}, {"__provider": "blob", "_marker": "m", **news})
    assert [failure_field(failure) for failure in result.failures] == [field]
    assert [failure.property for failure in result.failures] == [""]  # the engine would print its value
    reason = result.failures[0].reason
    assert reason.startswith(field) and rule in reason
