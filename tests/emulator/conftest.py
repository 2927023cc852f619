"""Shared helpers for the emulator's tests: a small API client bound to one account."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from vast_pulumi.emulator import Emulator

KEY = "k-alpha"
OTHER_KEY = "k-beta"


class Api:
    """``requests`` against an emulator with one account's Bearer key; returns the Response."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        return self.session.request(method, self.url + path, json=body, params=query, timeout=10)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.call("POST", path, body)

    def put(self, path: str, body: Any = None) -> requests.Response:
        return self.call("PUT", path, body)

    def delete(self, path: str, body: Any = None) -> requests.Response:
        return self.call("DELETE", path, body)

    # The common steps, asserting they succeed.

    def endpoint(self, **fields: Any) -> int:
        response = self.post("/api/v0/endptjobs/", {"endpoint_name": "ep", **fields})
        assert response.status_code == 200, response.text
        return int(response.json()["result"])

    def workergroup(self, endpoint_id: int, **fields: Any) -> int:
        body = {"endpoint_id": endpoint_id, "search_params": "gpu_name=RTX_4090 num_gpus=1", **fields}
        response = self.post("/api/v0/workergroups/", body)
        assert response.status_code == 200, response.text
        return int(response.json()["id"])

    def offers(self, **query: Any) -> list[dict[str, Any]]:
        response = self.post("/api/v0/bundles/", query)
        assert response.status_code == 200, response.text
        offers: list[dict[str, Any]] = response.json()["offers"]
        return offers

    def rent(self, offer_id: int | None = None, **fields: Any) -> int:
        if offer_id is None:
            offer_id = self.offers(gpu_name={"eq": "RTX 4090"}, num_gpus={"eq": 1}, limit=1)[0]["id"]
        response = self.put(f"/api/v0/asks/{offer_id}/", {"image": "pytorch/pytorch", "disk": 16, **fields})
        assert response.status_code == 200, response.text
        return int(response.json()["new_contract"])

    def instance(self, instance_id: int) -> dict[str, Any] | None:
        response = self.get(f"/api/v0/instances/{instance_id}/")
        assert response.status_code == 200, response.text
        row: dict[str, Any] | None = response.json()["instances"]
        return row


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(api_keys=[KEY, OTHER_KEY], boot_seconds=0.3, seed=1) as emu:
        yield emu


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator.url, KEY)


@pytest.fixture
def other_api(emulator: Emulator) -> Api:
    return Api(emulator.url, OTHER_KEY)


class ManualClock:
    """The backend's clock, moved by the test: lifecycle checks that no scheduler hiccup can flake."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(emulator: Emulator) -> ManualClock:
    manual = ManualClock()
    emulator.backend.clock = manual
    return manual


ApiFactory = Callable[[str, str | None], Api]
