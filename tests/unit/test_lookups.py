"""Lookups against the emulator: the account, templates, instances by id and label, volume offers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vast_pulumi.emulator import Emulator
from vast_pulumi.lookups import get_instance, get_instances, get_templates, get_user, get_volume_offers


@pytest.fixture
def emulator(vast_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return vast_emulator_factory(seed=3, api_keys=["lookup-key"])


def where(emulator: Emulator) -> dict[str, str]:
    return {"api_key": "lookup-key", "api_url": emulator.url}


def test_get_user_names_the_account_and_its_money_never_a_key(emulator: Emulator) -> None:
    user = get_user(**where(emulator))
    assert user.id == emulator.backend.authenticate("lookup-key").user_id
    assert (user.balance, user.credit) == (0.0, 100.0)
    assert "lookup-key" not in repr(user)


def test_get_templates_finds_own_templates_by_name(emulator: Emulator) -> None:
    account = emulator.backend.authenticate("lookup-key")
    emulator.backend.create_template(account, {"name": "vllm_worker", "image": "vllm/vllm-openai"})
    emulator.backend.create_template(account, {"name": "other", "image": "busybox"})
    (found,) = get_templates("name=vllm_worker", **where(emulator))
    assert (found["name"], found["image"]) == ("vllm_worker", "vllm/vllm-openai")
    assert len(get_templates(**where(emulator))) == 2
    with pytest.raises(ValueError, match="is not 'field op value'"):
        get_templates("name", **where(emulator))


def test_get_instance_and_get_instances_by_label(emulator: Emulator) -> None:
    account = emulator.backend.authenticate("lookup-key")
    offers = sorted(emulator.backend.state.offers)[:2]
    first = emulator.backend.create_instance(account, offers[0], {"image": "busybox", "label": "dev"})
    emulator.backend.create_instance(account, offers[1], {"image": "busybox", "label": "other"})
    (dev,) = get_instances(label="dev", **where(emulator))
    assert dev["id"] == first["new_contract"]
    assert len(get_instances(**where(emulator))) == 2
    found = get_instance(first["new_contract"], **where(emulator))
    assert found is not None and found["label"] == "dev"
    assert get_instance(999999, **where(emulator)) is None


def test_get_volume_offers_have_room_and_are_cheapest_first(emulator: Emulator) -> None:
    offers = get_volume_offers("reliability>0.9", size=300, limit=5, **where(emulator))
    assert offers
    assert all(offer["disk_space"] >= 300 and offer["reliability"] > 0.9 for offer in offers)
    costs = [offer["storage_cost"] for offer in offers]
    assert costs == sorted(costs)
