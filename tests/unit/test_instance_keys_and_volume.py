"""An Instance's ``ssh_key_ids`` (attached after the rent, attached and detached in place) and
``volume_info`` (sent as the create API takes it; a change replaces)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import INSTANCE, api_calls, checked_news
from tests.unit.test_sshkey import ED25519, RSA
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import VastApiError
from vast_pulumi.instance import InstanceNotReadyError, InstanceProvider

ATTACH = ("POST", "/api/v0/instances/{id}/ssh/")
DETACH = ("DELETE", "/api/v0/instances/{id}/ssh/{id}/")

pytestmark = pytest.mark.usefixtures("quick_polls")


@pytest.fixture
def provider(connect: Callable[[InstanceProvider], InstanceProvider]) -> InstanceProvider:
    return connect(InstanceProvider())


def checked(provider: InstanceProvider, **changes: Any) -> dict[str, Any]:
    return checked_news(provider, {**INSTANCE, "_marker": "feedfacecafebeef", **changes})


def volume_offer_on_a_4090_machine(provider: InstanceProvider) -> dict[str, Any]:
    """A volume offer on a machine that also offers what QUERY asks for: a linked volume pins the
    instance's offer search to its machine."""
    gpus = provider.client.search_offers(
        {"gpu_name": {"eq": "RTX 4090"}, "num_gpus": {"eq": 1}, "limit": 500}
    )
    machines = {o["machine_id"] for o in gpus}
    return next(o for o in provider.client.search_volume_offers({"limit": 64}) if o["machine_id"] in machines)


def keys_on(provider: InstanceProvider, instance_id: str) -> list[str]:
    return sorted(
        " ".join(row["public_key"].split()[:2]) for row in provider.client.instance_ssh_keys(int(instance_id))
    )


def words(key: str) -> str:
    return " ".join(key.split()[:2])


def test_keys_made_after_the_instance_are_attached_then_detached_in_place(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    assert keys_on(provider, created.id) == []
    first = provider.client.create_ssh_key(ED25519)["id"]
    second = provider.client.create_ssh_key(RSA)["id"]
    news = checked(provider, ssh_key_ids=[float(first), float(second)])
    assert provider.diff(created.id, created.outs, news).replaces == []
    mark = len(emulator.request_log())
    updated = provider.update(created.id, created.outs, news)
    assert keys_on(provider, created.id) == sorted([words(ED25519), words(RSA)])
    assert api_calls(emulator, mark).count(ATTACH) == 2
    assert updated.outs is not None
    provider.update(created.id, updated.outs, checked(provider, ssh_key_ids=[float(second)]))
    assert keys_on(provider, created.id) == [words(RSA)]
    assert str(emulator.inventory()[0]["instances"][0]["id"]) == created.id  # the same instance


def test_a_key_the_list_never_named_is_never_detached(provider: InstanceProvider) -> None:
    theirs = provider.client.create_ssh_key(ED25519)["id"]  # on every new instance, by the API
    mine = provider.client.create_ssh_key(RSA)["id"]
    created = provider.create(checked(provider, ssh_key_ids=[float(mine)]))
    assert created.outs is not None
    provider.update(created.id, created.outs, checked(provider, ssh_key_ids=[]))
    assert keys_on(provider, created.id) == [words(ED25519)]
    assert theirs != mine


def test_an_unknown_key_id_fails_the_create_and_destroys_the_rented_instance(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    with pytest.raises(
        InstanceNotReadyError, match=r"ssh_key_ids: no SSH key 999 on this account.*destroyed"
    ):
        provider.create(checked(provider, ssh_key_ids=[999.0]))
    # Destroyed, and the create waited until the API no longer listed it (destroy is asynchronous).
    assert emulator.inventory()[0]["instances"] == []


def test_volume_info_is_sent_as_the_create_api_takes_it_and_a_change_replaces(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = volume_offer_on_a_4090_machine(provider)
    volume_id = provider.client.create_volume(int(offer["id"]), 20, "data")
    created = provider.create(
        checked(provider, volume_info={"volume_id": float(volume_id), "mount_path": "/data"})
    )
    (row,) = emulator.inventory()[0]["instances"]
    assert [(v["id"], v["mount_path"]) for v in row["volume_info"]] == [(volume_id, "/data")]
    assert created.outs is not None
    news = checked(provider, volume_info={"volume_id": float(volume_id), "mount_path": "/models"})
    assert provider.diff(created.id, created.outs, news).replaces == ["volume_info"]
    with pytest.raises(VastApiError, match="in use"):
        provider.client.delete_volume(volume_id)


def test_a_new_template_hash_updates_the_instance_in_place(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    account = emulator.backend.authenticate(emulator.api_keys[0])
    first, _ = emulator.backend.create_template(account, {"name": "t", "image": "vllm/vllm-openai"})
    created = provider.create(checked(provider, image=None, template_hash_id=first["hash_id"]))
    assert created.outs is not None
    edited = emulator.backend.edit_template(account, {"id": first["id"], "onstart": "echo warm"})
    changed = checked(provider, image=None, template_hash_id=edited["hash_id"])
    diff = provider.diff(created.id, created.outs, changed)
    assert (diff.changes, diff.replaces) == (True, [])
    mark = len(emulator.request_log())
    provider.update(created.id, created.outs, changed)
    assert ("PUT", "/api/v0/instances/update_template/{id}/") in api_calls(emulator, mark)
    (row,) = emulator.inventory()[0]["instances"]
    assert (str(row["id"]), row["template_hash_id"]) == (created.id, edited["hash_id"])


def test_a_named_key_detached_outside_the_stack_is_drift_and_an_extra_key_only_a_warning(
    provider: InstanceProvider, caplog: pytest.LogCaptureFixture
) -> None:
    mine = provider.client.create_ssh_key(ED25519)["id"]
    created = provider.create(checked(provider, ssh_key_ids=[float(mine)]))
    assert created.outs is not None
    assert provider.read(created.id, created.outs).inputs is None  # attached: no drift
    (on_box,) = provider.client.instance_ssh_keys(int(created.id))
    provider.client.detach_ssh_key(int(created.id), int(on_box["id"]))  # someone, outside the stack
    extra = provider.client.create_ssh_key(RSA)["public_key"]
    provider.client.attach_ssh_key(int(created.id), extra)

    with caplog.at_level("WARNING", logger="vast_pulumi"):
        read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.inputs is not None
    assert read.outs["ssh_key_ids"] == read.inputs["ssh_key_ids"] == []  # the next up attaches it again
    assert "1 SSH key(s) that ssh_key_ids does not name; left in place" in caplog.text
    provider.update(created.id, read.outs, checked(provider, ssh_key_ids=[float(mine)]))
    assert keys_on(provider, created.id) == sorted([words(ED25519), words(RSA)])  # the extra one stays
