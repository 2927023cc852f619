"""Template provider lifecycle against the emulator: create (and its marker), edit re-hashing in place,
drift, delete refused while a workergroup uses the template, the account guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, assert_check_fails, configured
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import VastAccountError, VastConflictError
from vast_pulumi.template import TemplateInUseError, TemplateProvider, env_string, parse_env_string
from vast_pulumi.workergroup import WorkergroupProvider

MARKER = "0123456789abcdef"
INPUTS = {
    "name": f"vllm-{MARKER[:8]}",
    "image": "vllm/vllm-openai",
    "tag": "latest",
    "env": {"MODEL": "Qwen/Qwen3-8B"},
    "ports": ["8000", "9000/udp"],
    "extra_filters": "gpu_ram>=24 num_gpus=1",
    "disk": 64.0,
    "_marker": MARKER,
}


def checked(provider: TemplateProvider, **changes: Any) -> dict[str, Any]:
    result = provider.check({}, {"__provider": "blob", **INPUTS, **changes})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


@pytest.fixture
def provider(connect: Callable[[TemplateProvider], TemplateProvider]) -> TemplateProvider:
    return connect(TemplateProvider())


def templates(emulator: Emulator) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = emulator.inventory()[0]["templates"]
    return rows


def test_create_sends_the_template_as_the_api_keeps_it_and_outputs_id_and_hash(
    provider: TemplateProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    (row,) = templates(emulator)
    assert created.id == str(row["id"])
    assert created.outs is not None
    assert (created.outs["hash_id"], created.outs["template_id"]) == (row["hash_id"], row["id"])
    assert row["env"] == "-e MODEL=Qwen/Qwen3-8B -p 8000:8000 -p 9000:9000/udp"
    assert row["extra_filters"] == {"gpu_ram": {"gte": 24000.0}, "num_gpus": {"eq": "1"}}
    assert (row["image"], row["tag"], row["recommended_disk_space"], row["private"]) == (
        "vllm/vllm-openai",
        "latest",
        64.0,
        True,
    )


def test_an_edit_keeps_the_id_and_outputs_the_new_hash(
    provider: TemplateProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    news = checked(provider, onstart="echo hi")
    assert provider.diff(created.id, created.outs, news).replaces == []
    updated = provider.update(created.id, created.outs, news)
    (row,) = templates(emulator)
    assert updated.outs is not None
    assert str(row["id"]) == created.id
    assert updated.outs["hash_id"] == row["hash_id"] != created.outs["hash_id"]
    assert row["onstart"] == "echo hi"


def test_no_change_diff_and_read_cost_nothing_and_show_nothing(
    provider: TemplateProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    mark = len(emulator.request_log())
    assert provider.diff(created.id, created.outs, checked(provider)).changes is False
    assert api_calls(emulator, mark) == []
    read = provider.read(created.id, created.outs)
    assert (read.id, read.outs, read.inputs) == (created.id, created.outs, None)


def test_a_query_spelled_differently_is_no_change(provider: TemplateProvider) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    news = checked(provider, extra_filters="num_gpus=1  gpu_ram>=24")
    assert provider.diff(created.id, created.outs, news).changes is False


def test_an_edit_made_elsewhere_shows_as_drift(provider: TemplateProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    template = emulator.backend.state.templates[int(created.id)]
    template.content = {**template.content, "image": "someone/else"}
    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.inputs is not None
    assert read.outs["image"] == read.inputs["image"] == "someone/else"


def test_a_create_adopts_the_template_a_killed_run_left_with_its_marker(
    provider: TemplateProvider, emulator: Emulator
) -> None:
    first = provider.create(checked(provider))
    again = provider.create(checked(provider, onstart="changed"))
    assert again.id == first.id
    (row,) = templates(emulator)
    assert row["onstart"] == "changed"


def test_an_identical_template_of_the_users_own_is_not_taken_over(
    provider: TemplateProvider, emulator: Emulator
) -> None:
    mine = provider.create(checked(provider, name="hand-made", _marker="fedcba9876543210"))
    with pytest.raises(VastConflictError, match=rf"name: template {mine.id} already has this name"):
        provider.create(checked(provider, name="hand-made"))
    assert [str(row["id"]) for row in templates(emulator)] == [mine.id]


def test_delete_refuses_while_a_workergroup_uses_the_template_and_then_deletes(
    provider: TemplateProvider,
    emulator: Emulator,
    connect: Callable[[WorkergroupProvider], WorkergroupProvider],
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    groups = connect(WorkergroupProvider())
    endpoint = emulator.backend.create_endpoint(
        emulator.backend.authenticate(emulator.api_keys[0]), {"endpoint_name": "ep"}
    )
    wg_inputs = groups.check({}, {"endpoint_id": float(endpoint), "template_hash": created.outs["hash_id"]})
    group = groups.create({**wg_inputs.inputs, "__provider": "blob"})
    with pytest.raises(TemplateInUseError, match=rf"still used by workergroup\(s\) {group.id}"):
        provider.delete(created.id, created.outs)
    assert len(templates(emulator)) == 1
    assert group.outs is not None
    groups.delete(group.id, group.outs)
    provider.delete(created.id, created.outs)
    assert templates(emulator) == []


def test_another_accounts_key_changes_nothing(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(seed=1, api_keys=["key-a", "key-b"])
    owner = configured(TemplateProvider(), emulator.url, "key-a")
    created = owner.create(checked(owner))
    assert created.outs is not None
    stranger = configured(TemplateProvider(), emulator.url, "key-b")
    with pytest.raises(VastAccountError):
        stranger.delete(created.id, created.outs)
    with pytest.raises(VastAccountError):
        stranger.read(created.id, created.outs)
    assert len(emulator.inventory()[0]["templates"]) == 1


def test_env_string_round_trips() -> None:
    env, ports = {"A": "1", "HF_HOME": "/data"}, ["8000", "53/udp"]
    assert parse_env_string(env_string(env, ports)) == (env, ports)


# -- check: bad input fails at preview, naming the field and the rule (no API call) -----------------

CHECKED_TEMPLATE = {"name": "t", "image": "vllm/vllm-openai"}
CHECK_SECRET = "hf_SEEDED secret/value"
# (inputs, the property the failure names, words of the rule)
CHECK_FAILURES: list[tuple[dict[str, Any], str, str]] = [
    ({"name": "t"}, "image", "is required"),
    ({**CHECKED_TEMPLATE, "image": ""}, "image", "at least 1 character"),
    ({**CHECKED_TEMPLATE, "runtype": "telnet"}, "runtype", "'args', 'ssh' or 'jupyter'"),
    ({**CHECKED_TEMPLATE, "ports": ["80000"]}, "ports", "must be a port 1-65535"),
    ({**CHECKED_TEMPLATE, "env": {"1BAD": "x"}}, "env", "must be a variable name"),
    ({**CHECKED_TEMPLATE, "env": {"A": "two words"}}, "env", "must not contain whitespace"),
    ({**CHECKED_TEMPLATE, "extra_filters": "gpu_colour=red"}, "extra_filters", "gpu_colour"),
    ({**CHECKED_TEMPLATE, "disk": -5.0}, "disk", "must be > 0"),
    ({**CHECKED_TEMPLATE, "onstart": "x" * 4049}, "onstart", "at most 4048 characters"),
    ({**CHECKED_TEMPLATE, "colour": "red"}, "colour", "is not an input of Template"),
]


@pytest.mark.parametrize(("news", "field", "rule"), CHECK_FAILURES)
def test_bad_input_fails_at_check_naming_the_field_and_the_rule(
    news: dict[str, Any], field: str, rule: str
) -> None:
    assert_check_fails(TemplateProvider, news, field, rule)


def test_a_template_env_failure_never_echoes_the_value() -> None:
    result = TemplateProvider().check({}, {**CHECKED_TEMPLATE, "env": {"HF_TOKEN": CHECK_SECRET}})
    assert result.failures and all("SEEDED" not in f.reason for f in result.failures)


def test_template_ports_have_one_spelling() -> None:
    checked = TemplateProvider().check({}, {**CHECKED_TEMPLATE, "ports": ["8000/tcp"]})
    assert checked.inputs["ports"] == ["8000"]
