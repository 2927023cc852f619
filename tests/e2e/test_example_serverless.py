"""Issue 13 acceptance: the serverless-from-scratch example deploys with the real CLI against the
emulator: key, token, template, endpoint, workergroup on the template's hash, and a dev box from the
same template with the key on it; a second preview plans nothing; destroy leaves nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES
from tests.unit.test_sshkey import ED25519, ED25519_FINGERPRINT
from vast_pulumi.client import VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend
from vast_pulumi.settings import ProviderSettings

API_KEY = "e2e-serverless-example-key"
HF_TOKEN = "hf_SEEDED-example-token"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=1, seed=17) as emu:
        yield emu


def test_serverless_from_scratch_deploys_and_destroys_cleanly(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    project = tmp_path / "serverless-from-scratch"
    shutil.copytree(EXAMPLES / "serverless-from-scratch", project, ignore=shutil.ignore_patterns(".venv"))
    stack = local_backend.stack(
        project,
        "dev",
        config={"vast:apiUrl": emulator.url, "serverless-from-scratch:sshPublicKey": ED25519},
        secrets={"vast:apiKey": API_KEY, "serverless-from-scratch:hfToken": HF_TOKEN},
    )
    stack.up()
    outputs = stack.state_outputs()
    (account,) = emulator.inventory()
    (template,) = account["templates"]
    (endpoint,) = account["endpoints"]
    (group,) = account["workergroups"]
    (key,) = account["ssh_keys"]
    assert outputs["endpoint_name"] == endpoint["endpoint_name"]
    assert outputs["ssh_key_fingerprint"] == ED25519_FINGERPRINT
    assert group["template_hash"] == template["hash_id"] == outputs["template_hash"]
    assert emulator.backend.authenticate(API_KEY).env_vars == {"HF_TOKEN": HF_TOKEN}
    dev_box = next(row for row in account["instances"] if str(row["id"]) == outputs["dev_box_id"])
    assert dev_box["template_hash_id"] == template["hash_id"]
    assert outputs["ssh_command"] == f"ssh -p {dev_box['ssh_port']} root@{dev_box['ssh_host']}"
    client = VastClient(ProviderSettings(api_key=API_KEY, api_url=emulator.url))
    on_box = [row["public_key"].split()[:2] for row in client.instance_ssh_keys(int(outputs["dev_box_id"]))]
    assert ED25519.split()[:2] in on_box
    assert key["key"].split()[:2] == ED25519.split()[:2]

    stack.preview("--expect-no-changes")
    stack.destroy()
    (account,) = emulator.inventory()
    live = [row for row in account["instances"] if row.get("actual_status") not in ("exited", None)]
    leftovers = (account["templates"], account["endpoints"], account["workergroups"], account["ssh_keys"])
    assert (leftovers, account["env_vars"], live) == (([], [], [], []), [], [])
