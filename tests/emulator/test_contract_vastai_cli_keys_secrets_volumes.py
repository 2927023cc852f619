"""Contract: the official ``vastai`` CLI (1.9.1) drives SSH keys, account env vars and local volumes
through their whole life as it names them (``create/show/delete ssh-key``, ``attach ssh``, ``detach
ssh``, ``create/show/update/delete env-var``, ``search volumes``, ``create/show/delete volume``, ``create
instance --create-volume``), and what it prints agrees with the emulator's state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator.test_contract_vastai_cli import KEY, Cli, printed_dict, wait_until_gone
from tests.emulator.test_sshkeys import public_key
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.models import Account


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    # A short asynchronous destroy: a volume is free once the instance that mounted it is gone.
    with Emulator(api_keys=[KEY], boot_seconds=0.2, seed=3, destroy_seconds=0.5) as emu:
        yield emu


@pytest.fixture(scope="module")
def cli(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    with Cli(emulator, tmp_path_factory.mktemp("home")) as cli:
        yield cli


@pytest.fixture(scope="module")
def account(emulator: Emulator) -> Account:
    return emulator.backend.authenticate(KEY)


def rent(cli: Cli, *extra: str) -> int:
    offer_id = cli.json("search", "offers", "gpu_name=RTX_4090 num_gpus=1", "--limit", "1")[0]["id"]
    rented = cli.json(
        "create", "instance", str(offer_id), "--image", "pytorch/pytorch", "--disk", "10", *extra
    )
    assert rented["success"] is True
    return int(rented["new_contract"])


def test_official_cli_ssh_key_lifecycle_and_attach_detach(cli: Cli, account: Account, tmp_path: Path) -> None:
    key_line = public_key(11, comment="contract@cli")
    output = cli.ok("create", "ssh-key", key_line)
    (line,) = [line for line in output.splitlines() if line.startswith("ssh-key created")]
    created = printed_dict(line)
    assert created["success"] is True
    key_id = created["key"]["id"]
    assert account.ssh_keys[key_id].public_key == key_line
    assert cli.json("show", "ssh-keys") == [
        {
            "id": key_id,
            "user_id": account.user_id,
            "key": key_line,
            "created_at": created["key"]["created_at"],
            "deleted_at": None,
        }
    ]

    instance_id = rent(cli)  # a new box gets the account's key
    assert [k["id"] for k in account.instances[instance_id].ssh_keys] == [key_id]

    other = tmp_path / "other.pub"
    other.write_text(public_key(12, kind="ssh-rsa", comment="other@cli") + "\n")
    attached = printed_dict(
        cli.ok("attach", "ssh", str(instance_id), str(other))
    )  # a .pub path, as the help says
    assert attached == {"success": True, "msg": "SSH key attached successfully"}
    on_box = account.instances[instance_id].ssh_keys
    assert [k["public_key"] for k in on_box] == [
        key_line,
        public_key(12, kind="ssh-rsa", comment="other@cli"),
    ]

    detached = printed_dict(cli.ok("detach", "ssh", str(instance_id), str(key_id)))
    assert detached == {"success": True, "msg": "SSH key removed from instance."}
    assert [k["id"] for k in account.instances[instance_id].ssh_keys] == [on_box[-1]["id"]]
    again = cli.run("detach", "ssh", str(instance_id), str(key_id))
    assert "Failed with error 404" in again.stderr

    assert printed_dict(cli.ok("delete", "ssh-key", str(key_id))) == {"success": True}
    assert account.ssh_keys == {}
    assert cli.json("show", "ssh-keys") == []
    gone = cli.run("delete", "ssh-key", str(key_id))
    assert "Failed with error 400: No ssh key provided" in gone.stderr

    cli.ok("destroy", "instance", str(instance_id), "-y")


def test_official_cli_refuses_a_bad_key_with_the_api_message(cli: Cli, account: Account) -> None:
    result = cli.run("create", "ssh-key", "ssh-ed25519 not-base64!")
    assert "Failed with error 400: Invalid args: ssh_key:" in result.stderr
    assert account.ssh_keys == {}


def test_official_cli_env_var_lifecycle_masks_values_unless_asked(cli: Cli, account: Account) -> None:
    assert "Environment variable added successfully" in cli.ok("create", "env-var", "hf_token", "hf_abc123")
    assert account.env_vars == {"HF_TOKEN": "hf_abc123"}
    assert cli.json("show", "env-vars") == {"HF_TOKEN": "*****"}  # the client masks the API's values
    assert cli.json("show", "env-vars", "-s") == {"HF_TOKEN": "hf_abc123"}

    assert "Environment variable updated successfully" in cli.ok("update", "env-var", "HF_TOKEN", "hf_xyz")
    assert cli.json("show", "env-vars", "--show-values") == {"HF_TOKEN": "hf_xyz"}

    duplicate = cli.run("create", "env-var", "HF_TOKEN", "again")
    assert "Failed with error 400" in duplicate.stderr
    assert "hf_xyz" not in duplicate.stderr + duplicate.stdout

    assert "Environment variable deleted successfully" in cli.ok("delete", "env-var", "HF_TOKEN")
    assert account.env_vars == {}
    assert "No environment variables found." in cli.ok("show", "env-vars")


def test_official_cli_volume_search_create_show_mount_and_delete(
    cli: Cli, emulator: Emulator, account: Account
) -> None:
    offers = cli.json("search", "volumes", "disk_space>=500 reliability>0.9", "--limit", "5")
    assert 0 < len(offers) <= 5
    for offer in offers:
        assert offer["id"] in emulator.backend.state.volume_offers
        assert offer["disk_space"] >= 500 and offer["reliability"] > 0.9 and offer["verified"] is True
    offer = offers[0]

    created = cli.json("create", "volume", str(offer["id"]), "-s", "20", "-n", "datasets")
    assert set(created) == {"success", "volume_name"}
    volume_id = int(created["volume_name"].removeprefix("V."))
    assert account.volumes[volume_id].size == 20

    shown = cli.json("show", "volumes")
    assert [(v["id"], v["label"], v["disk_space"], v["instances"]) for v in shown] == [
        (volume_id, "datasets", 20.0, [])
    ]
    assert cli.json("show", "volumes", "-t", "network") == []

    instance_id = rent(cli, "--link-volume", str(volume_id), "--mount-path", "/data")
    row = cli.json("show", "instance", str(instance_id))
    assert [(v["id"], v["mount_path"]) for v in row["volume_info"]] == [(volume_id, "/data")]
    assert cli.json("show", "volumes")[0]["instances"] == [instance_id]

    in_use = cli.run("delete", "volume", str(volume_id), "--raw")  # --raw: the API's error as JSON on stderr
    assert json.loads(in_use.stderr)["status_code"] == 400
    assert f"in use by instances [{instance_id}]" in json.loads(in_use.stderr)["msg"]
    assert volume_id in account.volumes

    cli.ok("destroy", "instance", str(instance_id), "-y")
    wait_until_gone(cli, instance_id)
    assert cli.json("delete", "volume", str(volume_id)) == {"success": True}
    assert account.volumes == {}
    missing = cli.run("delete", "volume", str(volume_id))
    assert "Failed with error 404: Volume with that ID does not exist." in missing.stderr


def test_official_cli_create_instance_with_a_new_volume(cli: Cli, account: Account) -> None:
    offer_id = cli.json("search", "volumes", "--limit", "1")[0]["id"]
    instance_id = rent(cli, "--create-volume", str(offer_id), "--volume-size", "30", "--mount-path", "/vol")
    (volume,) = account.volumes.values()
    assert (volume.offer_id, volume.size) == (offer_id, 30)
    row = cli.json("show", "instance", str(instance_id))
    assert row["volume_info"] == [
        {"id": volume.id, "mount_path": "/vol", "total_space": 30.0, "avail_space": 30.0}
    ]
    cli.ok("destroy", "instance", str(instance_id), "-y")
    wait_until_gone(cli, instance_id)
    assert cli.json("delete", "volume", str(volume.id)) == {"success": True}
