"""``check`` of Template, SshKey, EnvVar and Volume (and the Instance's new inputs): bad input is
refused at preview naming the field and the rule, never echoing a value; nothing calls the API (the
providers are not even configured)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_sshkey import ED25519
from vast_pulumi._dynamic import VastProvider, failure_field
from vast_pulumi.envvar import EnvVarProvider
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.sshkey import SshKeyProvider
from vast_pulumi.template import TemplateProvider
from vast_pulumi.volume import VolumeProvider

TEMPLATE = {"name": "t", "image": "vllm/vllm-openai"}
VOLUME = {"name": "v", "size": 10.0, "offer_query": "reliability>0.9"}
ENV = {"name": "HF_TOKEN", "value": "abc"}
BOX = {"offer_query": "gpu_name=RTX_4090", "image": "pytorch/pytorch"}
SECRET = "hf_SEEDED secret/value"

# (provider, inputs, the property the failure names, words of the rule)
BAD_INPUTS: list[tuple[type[VastProvider[Any]], dict[str, Any], str, str]] = [
    (TemplateProvider, {"name": "t"}, "image", "is required"),
    (TemplateProvider, {**TEMPLATE, "image": ""}, "image", "at least 1 character"),
    (TemplateProvider, {**TEMPLATE, "runtype": "telnet"}, "runtype", "'args', 'ssh' or 'jupyter'"),
    (TemplateProvider, {**TEMPLATE, "ports": ["80000"]}, "ports", "must be a port 1-65535"),
    (TemplateProvider, {**TEMPLATE, "env": {"1BAD": "x"}}, "env", "must be a variable name"),
    (TemplateProvider, {**TEMPLATE, "env": {"A": "two words"}}, "env", "must not contain whitespace"),
    (TemplateProvider, {**TEMPLATE, "extra_filters": "gpu_colour=red"}, "extra_filters", "gpu_colour"),
    (TemplateProvider, {**TEMPLATE, "disk": -5.0}, "disk", "must be > 0"),
    (TemplateProvider, {**TEMPLATE, "onstart": "x" * 4049}, "onstart", "at most 4048 characters"),
    (TemplateProvider, {**TEMPLATE, "colour": "red"}, "colour", "is not an input of Template"),
    (SshKeyProvider, {}, "public_key", "is required"),
    (SshKeyProvider, {"public_key": "hello"}, "public_key", "OpenSSH public key line"),
    (SshKeyProvider, {"public_key": "ssh-ed25519 not-base64!"}, "public_key", "not base64"),
    (
        SshKeyProvider,
        {"public_key": "ssh-rsa " + ED25519.split()[1]},
        "public_key",
        "not a ssh-rsa public key",
    ),
    (SshKeyProvider, {"public_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "public_key", "private key"),
    (SshKeyProvider, {"public_key": ED25519 + "\n" + ED25519}, "public_key", "single line"),
    (SshKeyProvider, {"public_key": ED25519 + " vast-pulumi:x"}, "public_key", "reserved"),
    (EnvVarProvider, {"value": "abc"}, "name", "is required"),
    (EnvVarProvider, {**ENV, "name": "1ABC"}, "name", "not starting with a digit"),
    (EnvVarProvider, {**ENV, "name": "HF-TOKEN"}, "name", "letters, digits and '_'"),
    (EnvVarProvider, {**ENV, "value": SECRET}, "value", "only letters, digits"),
    (EnvVarProvider, {**ENV, "value": ""}, "value", "non-empty"),
    (EnvVarProvider, {**ENV, "value": "a" * 4097}, "value", "at most 4096 characters"),
    (EnvVarProvider, {"name": "A"}, "value", "is required"),
    (VolumeProvider, {**VOLUME, "size": 0.0}, "size", "must be >= 1"),
    (VolumeProvider, {**VOLUME, "size": 2.5}, "size", "whole number"),
    (VolumeProvider, {"name": "v", "size": 10.0}, "offer_id", "set exactly one of offer_id, offer_query"),
    (VolumeProvider, {**VOLUME, "offer_id": 5.0}, "offer_id", "set only one of"),
    (
        VolumeProvider,
        {**VOLUME, "offer_query": "gpu_name=RTX_4090"},
        "offer_query",
        "not a volume offer field",
    ),
    (VolumeProvider, {**VOLUME, "offer_query": "disk_space>>1"}, "offer_query", "unknown operator"),
    (VolumeProvider, {**VOLUME, "order": "storage cost"}, "order", "not a field to order offers by"),
    (VolumeProvider, {**VOLUME, "order": "dph_total"}, "order", "name volume offer fields"),
    (InstanceProvider, {**BOX, "ssh_key_ids": [0.0]}, "ssh_key_ids", "positive whole numbers"),
    (InstanceProvider, {**BOX, "ssh_key_ids": [3.0, 3.0]}, "ssh_key_ids", "must not name a key twice"),
    (
        InstanceProvider,
        {**BOX, "volume_info": {"volume_id": 1.0, "mount_path": "data"}},
        "volume_info",
        "absolute",
    ),
    (InstanceProvider, {**BOX, "volume_info": {"mount_path": "/data"}}, "volume_info", "is required"),
    (
        InstanceProvider,
        {**BOX, "volume_info": {"volume_id": 1.0, "mount_path": "/d", "size": 5.0}},
        "volume_info",
        "create_new",
    ),
]


@pytest.mark.parametrize(("provider_class", "news", "field", "rule"), BAD_INPUTS)
def test_bad_input_fails_naming_the_field_and_the_rule(
    provider_class: type[VastProvider[Any]], news: dict[str, Any], field: str, rule: str
) -> None:
    result = provider_class().check({}, {"__provider": "blob", "_marker": "m", **news})
    assert [failure_field(failure) for failure in result.failures] == [field]
    reason = result.failures[0].reason
    assert reason.startswith(field) and rule in reason


def test_an_env_var_failure_never_echoes_the_value() -> None:
    result = EnvVarProvider().check({}, {**ENV, "value": SECRET})
    assert result.failures and all(
        SECRET not in f.reason and "SEEDED" not in f.reason for f in result.failures
    )


def test_a_template_env_failure_never_echoes_the_value() -> None:
    result = TemplateProvider().check({}, {**TEMPLATE, "env": {"HF_TOKEN": SECRET}})
    assert result.failures and all("SEEDED" not in f.reason for f in result.failures)


def test_env_var_names_are_upper_cased_at_check() -> None:
    assert EnvVarProvider().check({}, {**ENV, "name": "hf_token"}).inputs["name"] == "HF_TOKEN"


def test_template_ports_have_one_spelling() -> None:
    assert TemplateProvider().check({}, {**TEMPLATE, "ports": ["8000/tcp"]}).inputs["ports"] == ["8000"]
