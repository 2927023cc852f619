"""Issue 5 acceptance: no secret reaches the state file, `pulumi stack export`, the CLI's output
or the provider's output in plaintext.

Known values are seeded (the account's API key, a registry password in `image_login`, the value of
an account env var, given once as a config secret and once as a plain string in the program); the
secrets the API generates (endpoint and workergroup keys, the instance key, the Jupyter token)
are read back from the emulator after `up`. Every one is then searched for in everything Pulumi
wrote or printed. `stack export --show-secrets` is the positive control: there they must appear.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend

API_KEY = "vast-api-key-SEEDED-6b1e0c"
REGISTRY_LOGIN = "-u deploy -p registry-password-SEEDED-91f2 ghcr.io"
ENV_VAR_VALUE = "hf-token-SEEDED-7c3d"
PLAIN_ENV_VAR_VALUE = "plain-token-SEEDED-e41a"  # written in the program: EnvVar must still hide it
EDITED_ENV_VAR_VALUE = "hf-token-SEEDED-edited-5b90"
PROGRAM = """
import pulumi
from vast_pulumi import Endpoint, EnvVar, Instance, Workergroup

config = pulumi.Config()
endpoint = Endpoint("ep", max_workers=2)
group = Workergroup("wg", endpoint_id=endpoint.id, search_params="gpu_name=RTX_4090")
box = Instance(
    "box",
    offer_query="gpu_name=RTX_4090 num_gpus=1",
    image="ghcr.io/acme/private:1",
    image_login=config.require_secret("imageLogin"),
    runtype="jupyter_proxy ssh_proxy",
)
token = EnvVar("hf-token", name="HF_TOKEN", value=config.require_secret("hfToken"))
plain = EnvVar("plain-token", name="PLAIN_TOKEN", value="plain-token-SEEDED-e41a")
pulumi.export("endpoint_key", endpoint.api_key)
pulumi.export("plain_token_name", plain.name)
pulumi.export("instance_id", box.id)
pulumi.export("ssh_host", box.ssh_host)
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=1, seed=8) as emu:
        yield emu


def generated_secrets(emulator: Emulator, instance_id: str) -> dict[str, str]:
    """The secrets the API made for us, as the emulator holds them."""
    api = VastInventory(emulator.url, API_KEY)
    (endpoint,) = api.endpoints()
    (group,) = api.workergroups()
    instance = api.instance(instance_id)
    assert instance is not None
    found = {
        "endpoint api_key": endpoint["api_key"],
        "workergroup api_key": group["api_key"],
        "jupyter_token": instance["jupyter_token"],
        "instance_api_key": emulator.instance_api_key(int(instance_id)),
    }
    assert all(isinstance(v, str) and len(v) >= 8 for v in found.values()), found
    return found


def test_no_secret_appears_in_plaintext_anywhere(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path]
) -> None:
    stack = local_backend.stack(
        make_project("secrets", PROGRAM),
        config={"vast:apiUrl": emulator.url},
        secrets={
            "vast:apiKey": API_KEY,
            "secrets:imageLogin": REGISTRY_LOGIN,
            "secrets:hfToken": ENV_VAR_VALUE,
        },
    )
    shown = [stack.preview(), stack.up(), stack.refresh(), stack.run("stack", "output", "--json")]
    printed = [result.output for result in shown]
    outputs = json.loads(shown[-1].stdout)
    secrets = {
        "API key": API_KEY,
        "image_login": REGISTRY_LOGIN,
        "registry password": "registry-password-SEEDED-91f2",
        "env var value": ENV_VAR_VALUE,
        "env var value given plain": PLAIN_ENV_VAR_VALUE,
        "env var value, edited": EDITED_ENV_VAR_VALUE,
    }
    # The values did reach the API (so their absence below is not for want of being used).
    assert emulator.backend.authenticate(API_KEY).env_vars == {
        "HF_TOKEN": ENV_VAR_VALUE,
        "PLAIN_TOKEN": PLAIN_ENV_VAR_VALUE,
    }
    secrets |= generated_secrets(emulator, outputs["instance_id"])

    state_file = local_backend.state_file("secrets", "dev").read_text()
    exported = json.dumps(stack.export())
    printed.append(stack.preview("--diff").output)
    revealed = json.dumps(stack.export(show_secrets=True))
    # An env var's new value, in the diff of a preview and of an update.
    stack.set_config("secrets:hfToken", EDITED_ENV_VAR_VALUE, secret=True)
    printed.append(stack.preview("--diff").output)
    printed.append(stack.up("--diff").output)
    assert emulator.backend.authenticate(API_KEY).env_vars["HF_TOKEN"] == EDITED_ENV_VAR_VALUE
    printed.append(stack.destroy().output)
    places = {
        "state file": state_file,
        "stack export": exported,
        "CLI and provider output": "\n".join(printed),
    }

    leaks = [
        (name, place) for name, value in secrets.items() for place, text in places.items() if value in text
    ]
    assert leaks == []
    # Positive control: the values are in state, encrypted, and --show-secrets reveals them.
    assert secrets["endpoint api_key"] in revealed
    assert REGISTRY_LOGIN in revealed
    assert ENV_VAR_VALUE in revealed and PLAIN_ENV_VAR_VALUE in revealed
