"""Template, SshKey, EnvVar and Volume on the program side (type token, default name and marker,
``account_id`` output, with Pulumi's mocks) and against a rejected key (never "gone")."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from tests.unit.conftest import configured
from tests.unit.test_account_safety import AUTH_FAILURES, KEY, OWNER, fake_api
from tests.unit.test_resources import mocks, registered
from tests.unit.test_sshkey import ED25519
from vast_pulumi import EnvVar, SshKey, Template, Volume
from vast_pulumi._dynamic import VastProvider
from vast_pulumi.envvar import EnvVarProvider
from vast_pulumi.errors import VastAuthError
from vast_pulumi.sshkey import SshKeyProvider
from vast_pulumi.template import TemplateProvider
from vast_pulumi.volume import VolumeProvider

__all__ = ["fake_api", "mocks"]  # fixtures, shared with the modules that define them


@pulumi.runtime.test
def test_each_registers_its_type_and_marker_and_outputs_its_account() -> Any:
    resources = [
        Template("my.tmpl", image="vllm/vllm-openai"),
        SshKey("key", public_key=ED25519),
        EnvVar("token", name="HF_TOKEN", value="abc"),
        Volume("data", size=10, offer_query="reliability>0.9"),
    ]
    assert all(isinstance(resource.account_id, pulumi.Output) for resource in resources)

    def check(_: Any) -> None:
        for name, kind in (
            ("my.tmpl", "Template"),
            ("key", "SshKey"),
            ("token", "EnvVar"),
            ("data", "Volume"),
        ):
            args = registered(name)
            assert args.typ == f"pulumi-python:dynamic/vast:{kind}"
            assert re.fullmatch(r"[0-9a-f]{16}", args.inputs["_marker"])
        template, volume = registered("my.tmpl"), registered("data")
        assert template.inputs["name"] == f"my-tmpl-{template.inputs['_marker'][:8]}"
        assert volume.inputs["name"] == f"data_{volume.inputs['_marker'][:8]}"

    return pulumi.Output.all(*(resource.urn for resource in resources)).apply(check)


PROVIDERS: dict[str, tuple[Callable[[], VastProvider[Any]], str]] = {
    "template": (TemplateProvider, "5"),
    "sshkey": (SshKeyProvider, "5"),
    "envvar": (EnvVarProvider, "HF_TOKEN"),
    "volume": (VolumeProvider, "5"),
}


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
@pytest.mark.parametrize("shape", ["404 auth_error", "404 Session expired", "401"])
def test_read_and_delete_with_a_rejected_key_fail_instead_of_saying_gone(
    fake_api: Callable[[tuple[int, dict[str, Any]]], str], kind: str, shape: str
) -> None:
    make, id_ = PROVIDERS[kind]
    provider = configured(make(), fake_api(AUTH_FAILURES[shape]), KEY)
    props = {"account_id": float(OWNER), "_marker": "m"}
    with pytest.raises(VastAuthError):
        provider.read(id_, props)
    with pytest.raises(VastAuthError):
        provider.delete(id_, props)
