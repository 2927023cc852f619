"""``diff``: new inputs against old outputs, with the replacements each resource needs. No API calls:
these providers are not configured, so any call would fail; but an instance replacement makes one
offer search (tests/unit/test_preflight.py), answered here by a stand-in market."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pulumi.output import Unknown

from vast_pulumi._dynamic import VastProvider
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.workergroup import WorkergroupProvider


def checked(provider: VastProvider[Any], news: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, news)
    assert result.failures == []
    return {**result.inputs, "__provider": "new-blob"}


def as_stored(outputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs as the engine hands them back: every number a float, plus the old __provider."""

    def floats(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return float(value)
        if isinstance(value, dict):
            return {k: floats(v) for k, v in value.items()}
        if isinstance(value, list):
            return [floats(v) for v in value]
        return value

    return {**floats(outputs), "__provider": "old-blob"}


ENDPOINT = {"endpoint_name": "ep", "max_workers": 4.0, "cold_workers": 1.0, "_marker": "m1"}


def endpoint_outputs() -> dict[str, Any]:
    outputs = checked(EndpointProvider(), ENDPOINT)
    outputs.pop("adopt_id")
    outputs.pop("_marker")
    return as_stored({**outputs, "api_key": "k", "inactivity_timeout": 60})


def test_no_change_after_the_int_float_round_trip() -> None:
    provider = EndpointProvider()
    result = provider.diff("1", endpoint_outputs(), checked(provider, ENDPOINT))
    assert (result.changes, result.replaces) == (False, [])


def test_a_changed_provider_blob_marker_or_adopt_id_is_no_change() -> None:
    provider = EndpointProvider()
    news = checked(provider, {**ENDPOINT, "_marker": "other", "adopt_id": 7.0})
    assert provider.diff("1", endpoint_outputs(), news).changes is False


def test_endpoint_scaling_change_updates_in_place() -> None:
    provider = EndpointProvider()
    result = provider.diff("1", endpoint_outputs(), checked(provider, {**ENDPOINT, "max_workers": 7.0}))
    assert (result.changes, result.replaces) == (True, [])


def test_endpoint_rename_replaces() -> None:
    provider = EndpointProvider()
    result = provider.diff("1", endpoint_outputs(), checked(provider, {**ENDPOINT, "endpoint_name": "ep2"}))
    assert (result.changes, result.replaces) == (True, ["endpoint_name"])


def test_an_unset_server_default_is_no_change_and_setting_it_is_one() -> None:
    provider = EndpointProvider()
    old = endpoint_outputs()  # the API reported inactivity_timeout 60
    assert provider.diff("1", old, checked(provider, ENDPOINT)).changes is False
    assert (
        provider.diff("1", old, checked(provider, {**ENDPOINT, "inactivity_timeout": 30.0})).changes is True
    )


def test_an_unknown_input_is_a_change_and_an_unknown_name_a_replacement() -> None:
    provider = EndpointProvider()
    news = checked(provider, {**ENDPOINT, "endpoint_name": Unknown()})
    result = provider.diff("1", endpoint_outputs(), news)
    assert (result.changes, result.replaces) == (True, ["endpoint_name"])


WORKERGROUP = {"endpoint_id": "12", "search_params": "gpu_name=RTX_4090 num_gpus=1", "_marker": "m"}


def workergroup_outputs(search_query: dict[str, Any]) -> dict[str, Any]:
    outputs = checked(WorkergroupProvider(), WORKERGROUP)
    outputs.pop("adopt_id")
    outputs.pop("_marker")
    server = {
        "endpoint_name": "ep",
        "gpu_ram": 24,
        "cold_workers": 3,
        "max_workers": 20,
        "search_query": search_query,
    }
    return as_stored({**outputs, **server, "api_key": "k"})


# What the API stores for "gpu_name=RTX_4090 num_gpus=1": the parsed query as sent, the client's defaults
# included.
STORED = {
    "verified": {"eq": True},
    "rentable": {"eq": True},
    "rented": {"eq": False},
    "gpu_name": {"eq": "RTX 4090"},
    "num_gpus": {"eq": "1"},
}


def test_search_params_compare_by_meaning_not_spelling() -> None:
    provider = WorkergroupProvider()
    old = workergroup_outputs(STORED)
    respelled = checked(provider, {**WORKERGROUP, "search_params": "num_gpus = 1   gpu_name=RTX_4090"})
    assert provider.diff("5", old, respelled).changes is False
    changed = checked(provider, {**WORKERGROUP, "search_params": "gpu_name=RTX_4090 num_gpus=2"})
    assert (provider.diff("5", old, changed).changes, provider.diff("5", old, changed).replaces) == (True, [])


def test_search_params_drift_on_the_server_is_a_change() -> None:
    provider = WorkergroupProvider()
    old = workergroup_outputs({**STORED, "gpu_name": {"eq": "RTX 3090"}})
    assert provider.diff("5", old, checked(provider, WORKERGROUP)).changes is True


def test_workergroup_moving_to_another_endpoint_replaces() -> None:
    provider = WorkergroupProvider()
    old = workergroup_outputs(STORED)
    result = provider.diff("5", old, checked(provider, {**WORKERGROUP, "endpoint_id": "13"}))
    assert result.replaces == ["endpoint_id"]


def test_workergroup_naming_the_same_endpoint_by_name_is_no_change() -> None:
    provider = WorkergroupProvider()
    old = workergroup_outputs(STORED)
    by_name = {key: value for key, value in WORKERGROUP.items() if key != "endpoint_id"}
    assert provider.diff("5", old, checked(provider, {**by_name, "endpoint_name": "ep"})).changes is False


def test_workergroup_unknown_endpoint_at_preview_replaces() -> None:
    provider = WorkergroupProvider()
    old = workergroup_outputs(STORED)
    result = provider.diff("5", old, checked(provider, {**WORKERGROUP, "endpoint_id": Unknown()}))
    assert result.replaces == ["endpoint_id"]


BOX = {
    "offer_query": "gpu_name=RTX_4090 num_gpus=1",
    "image": "pytorch/pytorch",
    "disk": 32.0,
    "_marker": "m",
}


def instance_outputs() -> dict[str, Any]:
    outputs = checked(InstanceProvider(), BOX)
    outputs.pop("adopt_id")
    outputs.pop("_marker")
    computed = {"offer_id": 4242, "runtype": "ssh", "label": None, "ssh_host": "h", "ssh_port": 2222}
    return as_stored({**outputs, **computed, "ports": {"22/tcp": "2222"}})


class OneOfferMarket:
    """A client whose every offer search finds one offer, counting the searches, and whose instance
    list holds the box, live, counting the reads."""

    settings = SimpleNamespace(api_url="http://127.0.0.1:1")

    def __init__(self) -> None:
        self.searches = 0
        self.reads = 0

    def search_offers(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        self.searches += 1
        return [{"id": 7, "gpu_name": "RTX 3090", "num_gpus": 1, "dph_total": 0.3, "min_bid": 0.1}]

    def cached_instances(self) -> list[dict[str, Any]]:
        self.reads += 1
        return [{"id": 9, "actual_status": "running", "intended_status": "running", "next_state": "running"}]


def box_diff(**changes: Any) -> tuple[bool | None, list[str], bool | None]:
    provider = InstanceProvider()
    market = OneOfferMarket()
    provider._client = market  # type: ignore[assignment]
    result = provider.diff("9", instance_outputs(), checked(provider, {**BOX, **changes}))
    # A replacement checks the new inputs with one search; an in-place update reads the list once (the
    # instance must still exist: one destroyed out of band is replaced); no change calls nothing.
    assert market.searches == (1 if result.replaces else 0)
    assert market.reads == (1 if result.changes and not result.replaces else 0)
    return result.changes, list(result.replaces or []), result.delete_before_replace


def test_instance_no_change() -> None:
    assert box_diff() == (False, [], None)


def test_instance_offer_query_respelled_is_no_change() -> None:
    assert box_diff(offer_query="num_gpus=1  gpu_name=RTX_4090") == (False, [], None)


def test_instance_in_place_changes() -> None:
    for change in (
        {"label": "x"},
        {"target_state": "stopped"},
        {"env": {"A": "1"}},
        {"onstart": "echo hi"},
        {"args_str": "--serve"},
    ):
        assert box_diff(**change) == (True, [], None), change


def test_instance_create_only_inputs_are_no_change() -> None:
    """Only a rent reads them: a change alone has nothing to update (the reference says "create only")."""
    for change in (
        {"order": "-dlperf"},
        {"ready_timeout": 60.0},
        {"wait_until_ready": False},
        {"cancel_unavail": False},
    ):
        assert box_diff(**change) == (False, [], None), change


def test_instance_replacements_destroy_the_old_one_first() -> None:
    for field, value in (
        ("offer_query", "gpu_name=RTX_3090"),
        ("image", "pytorch/pytorch:2"),
        ("disk", 64.0),
        ("runtype", "jupyter_proxy ssh_proxy"),
        ("price", 0.5),
        ("image_login", "-u a -p b ghcr.io"),
    ):
        assert box_diff(**{field: value}) == (True, [field], True), field


def test_instance_pinning_the_offer_it_already_rented_is_no_change() -> None:
    pinned = {key: value for key, value in BOX.items() if key != "offer_query"}
    provider = InstanceProvider()
    result = provider.diff("9", instance_outputs(), checked(provider, {**pinned, "offer_id": 4242.0}))
    assert result.changes is False
