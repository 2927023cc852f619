"""``get_endpoint_costs``: what an endpoint's workers cost now, matched against the emulator's inventory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vast_pulumi import get_endpoint_costs
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import VastInputError
from vast_pulumi.plugin._functions import FUNCTIONS
from vast_pulumi.settings import ProviderSettings

KEY = "costs-key"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emulator(vast_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return vast_emulator_factory(seed=4, api_keys=[KEY], boot_seconds=1.0)


def test_costs_split_active_and_inactive_workers_as_the_inventory_bills_them(emulator: Emulator) -> None:
    clock = Clock()
    emulator.backend.clock = clock
    account = emulator.backend.authenticate(KEY)
    # min_load 100: one active worker; cold_workers 3: two more, loaded then stopped
    body = {
        "endpoint_name": "inference",
        "min_load": 100,
        "cold_workers": 3,
        "cold_mult": 1,
        "max_workers": 5,
    }
    endpoint_id = emulator.backend.create_endpoint(account, body)
    emulator.backend.create_workergroup(
        account, {"endpoint_id": endpoint_id, "search_params": "gpu_name=RTX_4090 num_gpus=1"}
    )
    where = {"api_key": KEY, "api_url": emulator.url}
    loading = get_endpoint_costs(endpoint_id, **where)
    assert loading.states == {"CREATING": 3}
    clock.now += 2  # booted: the cold ones stop

    costs = get_endpoint_costs("inference", **where)
    (inventory,) = emulator.inventory()
    workers = [r for r in inventory["instances"] if r.get("endpoint_id") == endpoint_id]
    running = [r for r in workers if r["actual_status"] == "running"]
    stopped = [r for r in workers if r["actual_status"] == "stopped"]
    assert (len(running), len(stopped)) == (1, 2)
    assert costs.endpoint_id == endpoint_id and costs.endpoint_name == "inference"
    assert costs.states == {"IDLE": 1, "STOPPED": 2}
    assert costs.active_per_hour == pytest.approx(sum(r["dph_total"] for r in running))
    assert costs.inactive_per_hour == pytest.approx(sum(r["storage_total_cost"] for r in stopped))
    assert 0 < costs.inactive_per_hour < costs.active_per_hour
    assert costs.total_per_hour == pytest.approx(costs.active_per_hour + costs.inactive_per_hour)
    assert get_endpoint_costs(endpoint_id, **where) == costs


def test_an_unknown_endpoint_is_named_in_the_error(emulator: Emulator) -> None:
    account = emulator.backend.authenticate(KEY)
    emulator.backend.create_endpoint(account, {"endpoint_name": "inference"})
    with pytest.raises(VastInputError, match="'nope'"):
        get_endpoint_costs("nope", api_key=KEY, api_url=emulator.url)


def test_the_plugins_get_endpoint_costs_answers_the_same_in_camel_case(emulator: Emulator) -> None:
    account = emulator.backend.authenticate(KEY)
    endpoint_id = emulator.backend.create_endpoint(account, {"endpoint_name": "inference", "cold_workers": 2})
    emulator.backend.create_workergroup(account, {"endpoint_id": endpoint_id, "search_params": "num_gpus=1"})
    function = FUNCTIONS["vast:index:getEndpointCosts"]
    settings = ProviderSettings(api_key=KEY, api_url=emulator.url)
    by_id = function.invoke({"endpoint": str(endpoint_id)}, settings)
    costs = get_endpoint_costs("inference", api_key=KEY, api_url=emulator.url)
    assert by_id == {
        "endpointId": endpoint_id,
        "endpointName": "inference",
        "activePerHour": costs.active_per_hour,
        "inactivePerHour": costs.inactive_per_hour,
        "states": {"CREATING": 2},
    }
