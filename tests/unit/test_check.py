"""``check``: validation at preview with the field and rule named, unknowns tolerated, ints restored,
defaults filled. It never calls the API (these providers are not even configured)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from vast_pulumi._dynamic import VastProvider, failure_field
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.workergroup import WorkergroupProvider

GOOD_WG = {"endpoint_name": "ep", "search_params": "gpu_name=RTX_4090"}
GOOD_BOX = {"offer_query": "gpu_name=RTX_4090", "image": "pytorch/pytorch"}

# (provider, inputs, the property the failure names)
BAD_INPUTS: list[tuple[type[VastProvider[Any]], dict[str, Any], str]] = [
    (EndpointProvider, {"endpoint_name": "bad name!"}, "endpoint_name"),
    (EndpointProvider, {"endpoint_name": "x" * 256}, "endpoint_name"),
    (EndpointProvider, {"endpoint_name": "ep", "target_util": 0.0}, "target_util"),
    (EndpointProvider, {"endpoint_name": "ep", "target_util": 1.5}, "target_util"),
    (EndpointProvider, {"endpoint_name": "ep", "max_workers": -1.0}, "max_workers"),
    (EndpointProvider, {"endpoint_name": "ep", "max_workers": "many"}, "max_workers"),
    (EndpointProvider, {"endpoint_name": "ep", "cold_workers": 2.5}, "cold_workers"),
    (EndpointProvider, {"endpoint_name": "ep", "cold_workers": 9.0, "max_workers": 3.0}, "cold_workers"),
    (EndpointProvider, {"endpoint_name": "ep", "endpoint_state": "paused"}, "endpoint_state"),
    (EndpointProvider, {"endpoint_name": "ep", "min_load": -5.0}, "min_load"),
    (EndpointProvider, {"endpoint_name": "ep", "max_queue_time": -1.0}, "max_queue_time"),
    (EndpointProvider, {"endpoint_name": "ep", "colour": "red"}, "colour"),
    (WorkergroupProvider, {**GOOD_WG, "endpoint_id": 1.0}, "endpoint_id"),
    (WorkergroupProvider, {"search_params": "gpu_name=RTX_4090"}, "endpoint_id"),
    (WorkergroupProvider, {**GOOD_WG, "template_hash": "abc"}, "template_hash"),
    (WorkergroupProvider, {"endpoint_name": "ep"}, "template_hash"),
    (WorkergroupProvider, {"endpoint_name": "ep", "search_params": "num_gpus>>1"}, "search_params"),
    (WorkergroupProvider, {"endpoint_name": "ep", "search_params": "gpu_colour=red"}, "search_params"),
    (WorkergroupProvider, {**GOOD_WG, "gpu_ram": -1.0}, "gpu_ram"),
    (WorkergroupProvider, {**GOOD_WG, "max_workers": -3.0}, "max_workers"),
    (WorkergroupProvider, {**GOOD_WG, "launch_args": "--image 'x"}, "launch_args"),
    (WorkergroupProvider, {**GOOD_WG, "launch_args": "--disk 8 --env"}, "launch_args"),
    (WorkergroupProvider, {**GOOD_WG, "launch_args": "--env '-e VAST_PULUMI_GROUP_MARKER=x'"}, "launch_args"),
    (InstanceProvider, {**GOOD_BOX, "offer_id": 5.0}, "offer_id"),
    (InstanceProvider, {"image": "pytorch/pytorch"}, "offer_id"),
    (InstanceProvider, {"offer_query": "flux_capacitor>1", "image": "x"}, "offer_query"),
    (InstanceProvider, {"offer_query": "num_gpus=>1 ===", "image": "x"}, "offer_query"),
    (InstanceProvider, {**GOOD_BOX, "price": -0.5}, "price"),
    (InstanceProvider, {**GOOD_BOX, "price": 1000.0}, "price"),
    (InstanceProvider, {**GOOD_BOX, "onstart": "x" * 4049}, "onstart"),
    (InstanceProvider, {**GOOD_BOX, "env": {"A": 1.0}}, "env"),
    (InstanceProvider, {**GOOD_BOX, "env": {"1 BAD KEY": "x"}}, "env"),
    (InstanceProvider, {**GOOD_BOX, "env": {"VAST_PULUMI_MARKER": "x"}}, "env"),
    (InstanceProvider, {**GOOD_BOX, "disk": 0.0}, "disk"),
    (InstanceProvider, {**GOOD_BOX, "disk": "big"}, "disk"),
    (InstanceProvider, {**GOOD_BOX, "target_state": "paused"}, "target_state"),
    (InstanceProvider, {**GOOD_BOX, "template_hash_id": "abc"}, "image"),
    (InstanceProvider, {"offer_query": "gpu_name=RTX_4090"}, "image"),
    (InstanceProvider, {**GOOD_BOX, "ready_timeout": -1.0}, "ready_timeout"),
    (InstanceProvider, {"offer_id": -4.0, "image": "x"}, "offer_id"),
    (InstanceProvider, {**GOOD_BOX, "label": "x" * 1025}, "label"),
    (InstanceProvider, {**GOOD_BOX, "runtype": "telnet"}, "runtype"),
    (InstanceProvider, {**GOOD_BOX, "args": ["a"], "args_str": "a"}, "args"),
    (InstanceProvider, {**GOOD_BOX, "order": "dph total"}, "order"),
]


@pytest.mark.parametrize(("provider_class", "news", "field"), BAD_INPUTS)
def test_bad_input_fails_naming_the_field(
    provider_class: type[VastProvider[Any]], news: dict[str, Any], field: str
) -> None:
    result = provider_class().check({}, {"__provider": "blob", "_marker": "m", **news})
    assert [failure_field(failure) for failure in result.failures] == [field]
    assert result.failures[0].reason.startswith(f"{field}")


def test_rules_read_like_the_bounds_they_state() -> None:
    result = EndpointProvider().check({}, {"endpoint_name": "ep", "target_util": 1.5, "cold_workers": 2.5})
    assert sorted(f.reason for f in result.failures) == [
        "cold_workers: must be a whole number",
        "target_util: must be > 0 and <= 1",
    ]


def test_a_failure_never_echoes_the_value() -> None:
    secret = "hf_SECRET_token_value"
    result = InstanceProvider().check({}, {**GOOD_BOX, "env": {"HF_TOKEN": [secret]}})
    assert [f.reason for f in result.failures] == ["env.HF_TOKEN: must be a valid string"]
    assert all(secret not in f.reason for f in result.failures)


def test_floats_from_the_engine_become_ints_and_defaults_are_filled() -> None:
    result = EndpointProvider().check({}, {"__provider": "blob", "endpoint_name": "ep", "max_workers": 3.0})
    assert result.failures == []
    assert result.inputs["max_workers"] == 3 and isinstance(result.inputs["max_workers"], int)
    assert result.inputs["cold_workers"] == 3  # the default, 5, capped by max_workers
    assert result.inputs["target_util"] == 0.9
    assert result.inputs["endpoint_state"] == "active"
    assert "__provider" not in result.inputs  # the server adds it back


def test_the_marker_passes_through_untouched() -> None:
    result = InstanceProvider().check({}, {**GOOD_BOX, "_marker": "0123456789abcdef"})
    assert result.failures == []
    assert result.inputs["_marker"] == "0123456789abcdef"


def test_output_only_keys_declared_as_none_are_dropped() -> None:
    result = EndpointProvider().check({}, {"endpoint_name": "ep", "api_key": None})
    assert result.failures == []
    assert "api_key" not in result.inputs


def test_unknown_values_at_preview_are_kept_and_count_as_set() -> None:
    unknown = Unknown()
    news = {"endpoint_id": unknown, "search_params": "gpu_name=RTX_4090", "max_workers": 2.0}
    result = WorkergroupProvider().check({}, news)
    assert result.failures == []
    assert result.inputs["endpoint_id"] is unknown
    assert result.inputs["max_workers"] == 2


def test_unknown_values_do_not_hide_errors_in_known_ones() -> None:
    news = {"endpoint_id": Unknown(), "search_params": "gpu_name=RTX_4090", "gpu_ram": -1.0}
    result = WorkergroupProvider().check({}, news)
    assert [failure_field(f) for f in result.failures] == ["gpu_ram"]


def test_an_unknown_bound_skips_the_rule_that_needs_it() -> None:
    result = EndpointProvider().check(
        {}, {"endpoint_name": "ep", "cold_workers": 50.0, "max_workers": Unknown()}
    )
    assert result.failures == []


def test_an_unknown_inside_a_map_is_kept() -> None:
    unknown = Unknown()
    result = InstanceProvider().check({}, {**GOOD_BOX, "env": {"A": "1", "B": unknown}})
    assert result.failures == []
    assert result.inputs["env"]["B"] is unknown


def test_check_does_not_mutate_the_inputs_it_is_given() -> None:
    news = {"__provider": "blob", "endpoint_name": "ep", "max_workers": 3.0}
    EndpointProvider().check({}, news)
    assert news == {"__provider": "blob", "endpoint_name": "ep", "max_workers": 3.0}
