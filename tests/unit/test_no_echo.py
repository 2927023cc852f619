"""Issue 20: a check failure names its field and rule, never a property the engine would print the
value of, and its rule text holds no part of the value (the e2e form: tests/e2e/test_no_echo.py)."""

from __future__ import annotations

from typing import Any

import pytest

from vast_pulumi._dynamic import VastProvider, failure_field
from vast_pulumi.envvar import EnvVarProvider
from vast_pulumi.fleet import FleetProvider
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.sshkey import SshKeyProvider
from vast_pulumi.template import TemplateProvider
from vast_pulumi.workergroup import WorkergroupProvider

TOKEN = "tok3nSEEDED9f1a"
PRIVATE_KEY = (
    f"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE{TOKEN}\n-----END OPENSSH PRIVATE KEY-----\n"
)
BOX = {"offer_query": "gpu_name=RTX_4090", "image": "pytorch/pytorch"}
CASES: list[tuple[str, VastProvider[Any], dict[str, Any], str]] = [
    ("private key as public_key", SshKeyProvider(), {"public_key": PRIVATE_KEY}, "public_key"),
    (
        "public key with a token comment",
        SshKeyProvider(),
        {"public_key": f"ssh-ed25519 {TOKEN} me"},
        "public_key",
    ),
    ("env var value", EnvVarProvider(), {"name": "T", "value": f"hf {TOKEN}!"}, "value"),
    ("instance env", InstanceProvider(), {**BOX, "env": {"HF_TOKEN": TOKEN, "not a name": "x"}}, "env"),
    ("instance env value type", InstanceProvider(), {**BOX, "env": {"HF_TOKEN": [TOKEN]}}, "env"),
    (
        "instance onstart",
        InstanceProvider(),
        {**BOX, "onstart": f"export T={TOKEN}\n" + "#" * 5000},
        "onstart",
    ),
    (
        "instance args",
        InstanceProvider(),
        {**BOX, "args": ["--t", TOKEN], "args_str": f"--t {TOKEN}"},
        "args",
    ),
    ("instance image_login", InstanceProvider(), {**BOX, "image_login": [TOKEN]}, "image_login"),
    ("template env", TemplateProvider(), {"image": "vllm/vllm-openai", "env": {"T": f"{TOKEN} x"}}, "env"),
    ("template onstart", TemplateProvider(), {"image": "i", "onstart": TOKEN * 400}, "onstart"),
    (
        "workergroup launch_args",
        WorkergroupProvider(),
        {"endpoint_id": 1, "launch_args": f"--env '-e T={TOKEN}"},
        "launch_args",
    ),
    ("fleet env", FleetProvider(), {**BOX, "count": 1, "env": {"T": TOKEN, "-bad": "x"}}, "env"),
]


@pytest.mark.parametrize(
    ("provider", "props", "field"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_a_failure_names_the_field_and_rule_and_no_value(
    provider: VastProvider[Any], props: dict[str, Any], field: str
) -> None:
    failures = provider.check({}, props).failures
    assert [failure_field(failure) for failure in failures] == [field]
    # No property: the engine prints the program's value of a named property next to the reason.
    assert [failure.property for failure in failures] == [""]
    assert TOKEN not in failures[0].reason and TOKEN[:6] not in failures[0].reason
