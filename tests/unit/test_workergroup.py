"""Workergroup provider lifecycle against the emulator, with the API calls each step costs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, checked_news, configured, seed_for
from vast_pulumi._launch_args import marker_of, with_marker
from vast_pulumi.emulator import Emulator
from vast_pulumi.workergroup import WorkergroupProvider

LIST = ("GET", "/api/v0/workergroups/")
CREATE = ("POST", "/api/v0/workergroups/")
UPDATE = ("PUT", "/api/v0/workergroups/{id}/")
DELETE = ("DELETE", "/api/v0/workergroups/{id}/")
ACCOUNT = ("GET", "/api/v0/users/current/")


@pytest.fixture
def endpoint_id(emulator: Emulator) -> int:
    from vast_pulumi.client import VastClient
    from vast_pulumi.settings import ProviderSettings

    client = VastClient(ProviderSettings(emulator.api_keys[0], emulator.url), pacing_scale=0)
    return client.create_endpoint({"endpoint_name": "ep", "cold_workers": 1})


@pytest.fixture
def provider(connect: Callable[[WorkergroupProvider], WorkergroupProvider]) -> WorkergroupProvider:
    return connect(WorkergroupProvider())


def checked(provider: WorkergroupProvider, **inputs: Any) -> dict[str, Any]:
    return checked_news(provider, {"_marker": "m", **inputs})


def test_create_is_one_look_one_write_and_one_read(
    provider: WorkergroupProvider, emulator: Emulator, endpoint_id: int
) -> None:
    mark = len(emulator.request_log())
    created = provider.create(
        checked(
            provider, endpoint_id=str(endpoint_id), search_params="gpu_name=RTX_4090 num_gpus=1", gpu_ram=24.0
        )
    )
    (row,) = emulator.inventory()[0]["workergroups"]
    assert created.id == str(row["id"])
    assert created.outs is not None
    assert created.outs["api_key"] == row["api_key"]
    assert (created.outs["endpoint_id"], created.outs["endpoint_name"]) == (endpoint_id, "ep")
    assert created.outs["search_query"]["gpu_name"] == {"eq": "RTX 4090"}
    assert created.outs["cold_workers"] is None  # as given: the API ignores it on workergroups
    assert api_calls(emulator, mark) == [ACCOUNT, LIST, CREATE, LIST]


def test_no_diff_after_create_and_none_for_a_respelled_query(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    news = checked(provider, endpoint_name="ep", search_params="gpu_name=RTX_4090 num_gpus=1")
    created = provider.create(news)
    assert created.outs is not None
    mark = len(emulator.request_log())
    assert provider.diff(created.id, created.outs, news).changes is False
    respelled = checked(
        provider, endpoint_name="ep", search_params="num_gpus=1 gpu_name=RTX_4090 verified=true"
    )
    assert provider.diff(created.id, created.outs, respelled).changes is False
    by_id = checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090 num_gpus=1")
    assert provider.diff(created.id, created.outs, by_id).changes is False
    assert api_calls(emulator, mark) == []


def test_update_changes_the_group_in_place(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    assert created.outs is not None
    news = checked(
        provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_3090", max_workers=2.0
    )
    assert provider.diff(created.id, created.outs, news).replaces == []
    mark = len(emulator.request_log())
    updated = provider.update(created.id, created.outs, news)
    assert updated.outs is not None
    (row,) = emulator.inventory()[0]["workergroups"]
    assert (row["id"], row["max_workers"], row["search_query"]["gpu_name"]) == (
        int(created.id),
        2,
        {"eq": "RTX 3090"},
    )
    assert updated.outs["search_query"] == row["search_query"]
    assert provider.diff(created.id, updated.outs, news).changes is False
    assert api_calls(emulator, mark) == [UPDATE, LIST]


def test_a_group_deleted_with_its_endpoint_reads_as_gone_and_deletes_fine(
    provider: WorkergroupProvider, endpoint_id: int
) -> None:
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    assert created.outs is not None
    provider.client.delete_endpoint(endpoint_id)  # takes its workergroups with it
    read = provider.read(created.id, created.outs)
    assert (read.id, read.outs) == (None, {})
    provider.delete(created.id, created.outs)


def test_a_lost_create_reply_finds_the_group_by_its_marker_instead_of_posting_again(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: the endpoint's POST, the owner's id, the look, our POST (reply lost), the look.
    pattern = [False, False, False, True, False, False]
    emulator = vast_emulator_factory(seed=seed_for(pattern, 0.5), faults="reset-after=0.5")
    provider = configured(WorkergroupProvider(), emulator.url, emulator.api_keys[0])
    endpoint_id = provider.client.create_endpoint({"endpoint_name": "ep"})
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    emulator.set_faults(None)
    (faulted,) = [entry for entry in emulator.request_log() if entry["fault"]]
    assert (faulted["method"], faulted["route"]) == ("POST", "/api/v0/workergroups/")
    (row,) = emulator.inventory()[0]["workergroups"]
    assert created.id == str(row["id"])
    assert api_calls(emulator).count(CREATE) == 1


def test_adopt_id_takes_an_existing_group_under_management(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    existing = provider.client.create_workergroup(
        {"endpoint_id": endpoint_id, "search_params": "gpu_name=RTX_3090"}
    )
    created = provider.create(
        checked(
            provider,
            endpoint_id=float(endpoint_id),
            search_params="gpu_name=RTX_4090",
            adopt_id=float(existing),
        )
    )
    assert created.id == str(existing)
    (row,) = emulator.inventory()[0]["workergroups"]
    assert row["search_query"]["gpu_name"] == {"eq": "RTX 4090"}


def test_adopting_a_group_of_another_endpoint_is_refused(
    provider: WorkergroupProvider, endpoint_id: int
) -> None:
    other = provider.client.create_endpoint({"endpoint_name": "other"})
    existing = provider.client.create_workergroup(
        {"endpoint_id": other, "search_params": "gpu_name=RTX_3090"}
    )
    with pytest.raises(ValueError, match="cannot move to another endpoint"):
        provider.create(
            checked(
                provider,
                endpoint_id=float(endpoint_id),
                search_params="gpu_name=RTX_4090",
                adopt_id=float(existing),
            )
        )


def test_the_marker_rides_in_launch_args_but_never_shows_in_outputs_or_diffs(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    user_args = "--image vllm/vllm-openai:latest --env '-e HF_HOME=/data'"
    news = checked(
        provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090", launch_args=user_args
    )
    created = provider.create(news)
    assert created.outs is not None
    (row,) = emulator.inventory()[0]["workergroups"]
    assert marker_of(row["launch_args"]) == "m"
    assert "-e HF_HOME=/data" in row["launch_args"]
    assert created.outs["launch_args"] == user_args
    assert provider.diff(created.id, created.outs, news).changes is False
    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.outs["launch_args"] == user_args
    assert read.inputs is None  # no drift
    updated = provider.update(created.id, created.outs, {**news, "max_workers": 2.0})
    (row,) = emulator.inventory()[0]["workergroups"]
    assert marker_of(row["launch_args"]) == "m"  # an update keeps it
    assert updated.outs is not None and updated.outs["launch_args"] == user_args


def test_a_group_left_by_a_killed_run_is_adopted_without_making_another(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    # What a `pulumi up` killed between the API's reply and the state write left behind.
    leftover = provider.client.create_workergroup(
        {
            "endpoint_id": endpoint_id,
            "search_params": "gpu_name=RTX_3090",
            "launch_args": with_marker(None, "m"),
        }
    )
    mark = len(emulator.request_log())
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    assert created.id == str(leftover)
    (row,) = emulator.inventory()[0]["workergroups"]
    assert row["search_query"]["gpu_name"] == {"eq": "RTX 4090"}  # brought to the inputs
    assert created.outs is not None and created.outs["launch_args"] is None
    assert api_calls(emulator, mark) == [ACCOUNT, LIST, UPDATE, LIST]


def test_the_new_group_is_deleted_even_when_the_list_does_not_show_it_yet(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    leftover = provider.client.create_workergroup(
        {
            "endpoint_id": endpoint_id,
            "search_params": "gpu_name=RTX_3090",
            "launch_args": with_marker(None, "m"),
        }
    )
    listed = provider.client.cached_workergroups
    # A list that lags behind the write: only the leftover shows.
    monkeypatch.setattr(
        provider.client,
        "cached_workergroups",
        lambda max_age=None: [row for row in listed(max_age) if row["id"] == leftover],
    )
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    assert created.id == str(leftover)
    assert [row["id"] for row in emulator.inventory()[0]["workergroups"]] == [leftover]


def test_a_group_with_our_marker_on_another_endpoint_is_not_taken(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    # A replacement moves the group to another endpoint; the old one (same marker) must stay alone.
    other = provider.client.create_endpoint({"endpoint_name": "other"})
    old = provider.client.create_workergroup(
        {"endpoint_id": other, "search_params": "gpu_name=RTX_3090", "launch_args": with_marker(None, "m")}
    )
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    assert created.id != str(old)
    groups = emulator.inventory()[0]["workergroups"]
    assert sorted(row["id"] for row in groups) == sorted([old, int(created.id)])


def test_a_group_made_before_markers_reads_without_drift(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    news = checked(
        provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090", launch_args="--image x"
    )
    created = provider.create(news)
    assert created.outs is not None
    # As vast-pulumi 0.1.0 left it: the user's launch_args, no marker.
    body = {"endpoint_id": endpoint_id, "search_params": "gpu_name=RTX_4090", "launch_args": "--image x"}
    provider.client.update_workergroup(int(created.id), {**body, "autojob_id": int(created.id)})
    (row,) = emulator.inventory()[0]["workergroups"]
    assert row["launch_args"] == "--image x"
    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.outs["launch_args"] == "--image x"
    assert read.inputs is None


# -- the query as the official client sends it ----------------------------------------------------------


@pytest.mark.parametrize(
    ("search_params", "stored"),
    [
        (
            "gpu_name=RTX_4090",
            {
                "gpu_name": {"eq": "RTX 4090"},
                "verified": {"eq": True},
                "rentable": {"eq": True},
                "rented": {"eq": False},
            },
        ),
        # What the query sets is kept; a wildcard drops the filter instead of getting the default.
        (
            "num_gpus=2 verified=false rented=any",
            {"num_gpus": {"eq": "2"}, "verified": {"eq": False}, "rentable": {"eq": True}},
        ),
    ],
)
def test_the_query_is_sent_with_the_clients_default_filters_it_does_not_set(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator, search_params: str, stored: Any
) -> None:
    news = checked(provider, endpoint_id=float(endpoint_id), search_params=search_params)
    created = provider.create(news)
    (row,) = emulator.inventory()[0]["workergroups"]
    assert row["search_query"] == stored  # the emulator stores what it was sent, nothing more
    assert created.outs is not None
    assert provider.diff(created.id, created.outs, news).changes is False


def test_a_server_that_adds_to_the_stored_query_is_no_change(
    provider: WorkergroupProvider, endpoint_id: int
) -> None:
    news = checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    created = provider.create(news)
    assert created.outs is not None
    listed = {**created.outs, "search_query": {**created.outs["search_query"], "external": {"eq": False}}}
    assert provider.diff(created.id, listed, news).changes is False
    changed = checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_3090")
    assert provider.diff(created.id, listed, changed).changes is True
    dropped = checked(provider, endpoint_id=float(endpoint_id), search_params="verified=true")
    assert provider.diff(created.id, listed, dropped).changes is True  # a filter taken out is a change


def test_a_template_group_is_sent_the_default_filters_alone(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    template = provider.client._call(
        "POST", "/api/v0/template/", body={"name": "t", "image": "vllm/vllm-openai"}
    )
    provider.create(
        checked(provider, endpoint_id=float(endpoint_id), template_hash=template["template"]["hash_id"])
    )
    (row,) = emulator.inventory()[0]["workergroups"]
    assert row["search_query"] == {
        "verified": {"eq": True},
        "rentable": {"eq": True},
        "rented": {"eq": False},
    }


# -- cold_workers: accepted, ignored ---------------------------------------------------------------------


def test_cold_workers_is_accepted_with_a_warning_and_never_sent(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="vast_pulumi"):
        news = checked(
            provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090", cold_workers=2.0
        )
    (warning,) = [m for m in caplog.messages if "cold_workers" in m]
    assert "cold_workers has no effect" in warning and "Endpoint" in warning
    created = provider.create(news)
    (row,) = emulator.inventory()[0]["workergroups"]
    assert row["cold_workers"] == 3  # the emulator's own default: ours was not sent
    assert created.outs is not None and created.outs["cold_workers"] == 2
    assert provider.diff(created.id, created.outs, news).changes is False
    assert provider.diff(created.id, created.outs, {**news, "cold_workers": 5.0}).changes is False
    mark = len(emulator.request_log())
    provider.update(created.id, created.outs, {**news, "max_workers": 4.0})
    assert api_calls(emulator, mark) == [UPDATE, LIST]
    assert emulator.inventory()[0]["workergroups"][0]["cold_workers"] == 3


def test_without_cold_workers_there_is_no_warning(
    provider: WorkergroupProvider, endpoint_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="vast_pulumi"):
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    assert [m for m in caplog.messages if "cold_workers" in m] == []


def test_a_group_without_a_template_is_warned_about_at_check_and_one_with_a_template_is_not(
    provider: WorkergroupProvider, endpoint_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Audit S3: the SDK and CLI require a template; the API may refuse a group without one."""
    with caplog.at_level(logging.WARNING, logger="vast_pulumi"):
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    (warning,) = caplog.messages
    assert "without template_hash or template_id" in warning and "Template" in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vast_pulumi"):
        checked(provider, endpoint_id=float(endpoint_id), template_hash="abc123")
    assert caplog.messages == []


def test_a_create_applied_then_answered_500_finds_the_group_by_its_marker_not_posting_again(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: the endpoint's POST, the owner's id, the look, our POST (applied, answered 500), the look.
    pattern = [False, False, False, True, False, False]
    emulator = vast_emulator_factory(seed=seed_for(pattern, 0.5), faults="500-after=0.5")
    provider = configured(WorkergroupProvider(), emulator.url, emulator.api_keys[0])
    endpoint_id = provider.client.create_endpoint({"endpoint_name": "ep"})
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    emulator.set_faults(None)
    (faulted,) = [entry for entry in emulator.request_log() if entry["fault"]]
    assert (faulted["method"], faulted["route"], faulted["status"]) == ("POST", "/api/v0/workergroups/", 500)
    (row,) = emulator.inventory()[0]["workergroups"]
    assert created.id == str(row["id"])
    assert api_calls(emulator).count(CREATE) == 1


def test_a_group_read_by_its_id_alone_describes_it_so_the_description_checks_and_diffs_clean(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    """`pulumi import`: no stored props. The inputs name the endpoint once, the query as the API
    parsed it (in the CLI's language), and adopt the group."""
    created = provider.create(
        checked(provider, endpoint_id=str(endpoint_id), search_params="gpu_name=RTX_4090 gpu_ram>=24")
    )
    found = provider.read(created.id, {})
    assert found.inputs is not None and found.outs is not None
    assert found.inputs["adopt_id"] == created.id and "endpoint_name" not in found.inputs
    assert found.inputs["search_params"].startswith("gpu_name=RTX_4090 gpu_ram>=24")
    described = provider.check({}, found.inputs)
    assert described.failures == []
    assert provider.diff(created.id, found.outs, described.inputs).changes is False
