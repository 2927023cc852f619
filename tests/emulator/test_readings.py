"""Readings: each disputed behaviour under each of its choices, the ``pessimistic`` profile, and the
ways to choose (``Emulator`` options, command line, control plane)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator.conftest import Api, ManualClock
from vast_pulumi.emulator import Emulator, Settings
from vast_pulumi.emulator.__main__ import parser, settings_from
from vast_pulumi.emulator.readings import BY_NAME, REGISTRY, ReadingError, Readings, resolve, with_table

README = Path(__file__).resolve().parents[2] / "vast_pulumi" / "emulator" / "README.md"
KEY = "k"
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ7vTb7mP9Xc1uMzQ7kz0k5+2hC2l0bq0t7p3mJ2lq1 me@box"


def started(**options: Any) -> Emulator:
    return Emulator(api_keys=[KEY], boot_seconds=0.0, seed=1, **options).start()


@pytest.fixture
def emulators() -> Iterator[list[Emulator]]:
    running: list[Emulator] = []
    yield running
    for emu in running:
        emu.stop()


def api_under(emulators: list[Emulator], name: str, choice: str, **options: Any) -> tuple[Emulator, Api]:
    emu = started(readings={name: choice}, **options)
    emulators.append(emu)
    return emu, Api(emu.url, KEY)


# The registry and the ways to choose.


def test_every_reading_names_its_default_its_harsher_choice_and_sources_for_each_choice() -> None:
    assert len({r.name for r in REGISTRY}) == len(REGISTRY)
    for reading in REGISTRY:
        assert len(reading.choices) >= 2 and reading.harsher in reading.choices, reading.name
        assert reading.harsher != reading.default, reading.name
        assert set(reading.sources) == set(reading.choices), reading.name
        assert all(text.strip() for text in reading.sources.values()), reading.name


def test_the_readme_lists_every_reading_as_the_registry_has_it() -> None:
    text = README.read_text()
    fix = "run: python -m vast_pulumi.emulator.readings vast_pulumi/emulator/README.md"
    assert with_table(text) == text, fix
    rows = [line for line in text.splitlines() if line.startswith("| ") and "\\| `" in line]
    for reading in REGISTRY:  # the fidelity rows name their reading too
        assert any(f"`{reading.name}`: " in row for row in rows), reading.name


def test_the_pessimistic_profile_takes_every_harsher_choice_and_explicit_readings_win() -> None:
    assert resolve() == {r.name: r.default for r in REGISTRY}
    pessimistic = resolve("pessimistic", {"ssh_list_empty": "list"})
    assert pessimistic == {**{r.name: r.harsher for r in REGISTRY}, "ssh_list_empty": "list"}
    with pytest.raises(ReadingError, match="'gloomy'"):
        resolve("gloomy")
    with pytest.raises(ReadingError, match=r"'bid_field'.*'sticker'"):
        Readings(explicit={"bid_field": "sticker"})


def test_emulator_options_and_the_control_plane_read_and_change_readings(emulators: list[Emulator]) -> None:
    emu = started(profile="pessimistic", readings={"bid_field": "bid"})
    emulators.append(emu)
    shown = requests.get(emu.url + "/_emulator/readings", timeout=10).json()
    assert shown["profile"] == "pessimistic"
    assert shown["readings"] == {**{r.name: r.harsher for r in REGISTRY}, "bid_field": "bid"}
    changed = requests.put(emu.url + "/_emulator/readings", json={"ssh_list_empty": "list"}, timeout=10)
    assert changed.json()["readings"]["ssh_list_empty"] == "list" == emu.readings()["ssh_list_empty"]
    for bad, named in (({"no_such": "x"}, "'no_such'"), ({"volume_name": "loose"}, "'loose'")):
        refused = requests.put(emu.url + "/_emulator/readings", json=bad, timeout=10)
        assert refused.status_code == 400 and named in refused.json()["msg"]
    all_or_nothing = {"volume_name": "strict", "bid_field": "nope"}
    assert requests.put(emu.url + "/_emulator/readings", json=all_or_nothing, timeout=10).status_code == 400
    assert emu.readings()["bid_field"] == "bid"  # the valid half of a refused change was not applied
    emu.set_readings(bid_field="listing")
    assert emu.readings()["bid_field"] == "listing"


def test_the_command_line_takes_a_profile_and_repeated_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAST_EMULATOR_PROFILE", raising=False)
    args = ["--profile", "pessimistic", "--reading", "ssh_list_empty=list", "--reading", "bid_field=bid"]
    settings = settings_from(parser().parse_args(args))
    assert (settings.profile, dict(settings.readings)) == (
        "pessimistic",
        {"ssh_list_empty": "list", "bid_field": "bid"},
    )
    assert Settings().profile == "default" and not Settings().readings
    with pytest.raises(SystemExit, match="--reading: unknown reading 'nope'"):
        settings_from(parser().parse_args(["--reading", "nope=1"]))
    monkeypatch.setenv("VAST_EMULATOR_PROFILE", "pessimistic")  # what --vast-profile sets for a suite
    assert Settings().profile == settings_from(parser().parse_args([])).profile == "pessimistic"
    monkeypatch.setenv("VAST_EMULATOR_PROFILE", "gloomy")
    with pytest.raises(SystemExit, match="VAST_EMULATOR_PROFILE='gloomy'"):
        settings_from(parser().parse_args([]))
    help_text = parser().format_help()
    assert all(f"{r.name}={'|'.join(r.choices)}" in " ".join(help_text.split()) for r in REGISTRY)


# Each reading under each choice.


def _bid_rent(api: Api) -> tuple[int, dict[str, Any]]:
    offer = api.offers(gpu_name={"eq": "RTX 4090"}, num_gpus={"eq": 1}, limit=1, type="bid")[0]
    bid = round(offer["min_bid"] + 0.05, 4)
    return api.rent(offer["id"], price=bid), {"bid": bid, "dph_base": offer["dph_base"]}


@pytest.mark.parametrize("choice", BY_NAME["bid_field"].choices)
def test_bid_field_search_price_is_the_bid_or_the_listing(emulators: list[Emulator], choice: str) -> None:
    _, api = api_under(emulators, "bid_field", choice)
    instance_id, prices = _bid_rent(api)
    assert prices["bid"] != prices["dph_base"]
    row = api.instance(instance_id)
    assert row is not None and row["is_bid"] is True
    expected = prices["bid"] if choice == "bid" else prices["dph_base"]
    assert row["search"]["gpuCostPerHour"] == expected
    assert row["dph_total"] == pytest.approx(prices["bid"] + row["storage_total_cost"])  # billed: the bid


@pytest.mark.parametrize("choice", BY_NAME["ssh_list_empty"].choices)
def test_ssh_list_of_a_keyless_account_is_empty_or_404(emulators: list[Emulator], choice: str) -> None:
    _, api = api_under(emulators, "ssh_list_empty", choice)
    empty = api.get("/api/v0/ssh/")
    if choice == "list":
        assert (empty.status_code, empty.json()) == (200, [])
    else:
        assert (empty.status_code, empty.json()["msg"]) == (404, "No SSH keys found for the user.")
    assert api.post("/api/v0/ssh/", {"ssh_key": ED25519}).status_code == 200
    listed = api.get("/api/v0/ssh/")
    assert listed.status_code == 200 and [k["key"] for k in listed.json()] == [ED25519]


@pytest.mark.parametrize("choice", BY_NAME["destroying_get"].choices)
def test_destroying_get_single_row_lingers_or_is_gone_while_the_list_lingers(
    emulators: list[Emulator], choice: str
) -> None:
    emu, api = api_under(emulators, "destroying_get", choice, destroy_seconds=5.0)
    clock = ManualClock()
    emu.backend.clock = clock
    instance_id = api.rent()
    assert api.delete(f"/api/v0/instances/{instance_id}/").status_code == 200
    clock.advance(1.0)
    single = api.instance(instance_id)
    listed = [r["id"] for r in api.get("/api/v1/instances/").json()["instances"]]
    assert instance_id in listed  # the list lingers under both readings
    if choice == "row":
        assert single is not None and single["next_state"] == "unloaded"
    else:
        assert single is None
    clock.advance(5.0)
    assert api.instance(instance_id) is None
    assert [r["id"] for r in api.get("/api/v1/instances/").json()["instances"]] == []


@pytest.mark.parametrize("choice", BY_NAME["delete_gone_error"].choices)
def test_delete_of_a_gone_instance_answers_the_chosen_404(emulators: list[Emulator], choice: str) -> None:
    _, api = api_under(emulators, "delete_gone_error", choice, destroy_seconds=0.0)
    instance_id = api.rent()
    assert api.delete(f"/api/v0/instances/{instance_id}/").status_code == 200
    again = api.delete(f"/api/v0/instances/{instance_id}/")
    assert (again.status_code, again.json()["error"]) == (404, choice)


@pytest.mark.parametrize("choice", BY_NAME["templateless_workergroup"].choices)
def test_templateless_workergroup_is_accepted_or_refused(emulators: list[Emulator], choice: str) -> None:
    _, api = api_under(emulators, "templateless_workergroup", choice, workers=False)
    endpoint_id = api.endpoint()
    body = {"endpoint_id": endpoint_id, "search_params": "gpu_name=RTX_4090 num_gpus=1"}
    answer = api.post("/api/v0/workergroups/", body)
    if choice == "accepted":
        assert answer.status_code == 200
    else:
        assert answer.status_code == 400 and "template_hash or template_id" in answer.json()["msg"]
        assert api.get("/api/v0/workergroups/").json()["results"] == []
    template = api.post("/api/v0/template/", {"name": "t", "image": "vastai/base-image", "tag": "latest"})
    with_template = {**body, "template_hash": template.json()["template"]["hash_id"]}
    assert api.post("/api/v0/workergroups/", with_template).status_code == 200


def _volume_on_a_machine(api: Api) -> tuple[int, int]:
    offer = api.post("/api/v0/volumes/search/", {"disk_space": {"gte": 50}, "limit": 1}).json()["offers"][0]
    answer = api.put("/api/v0/volumes/", {"id": offer["id"], "size": 20})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["volume_name"].removeprefix("V.")), int(offer["machine_id"])


@pytest.mark.parametrize("choice", BY_NAME["volume_machine"].choices)
def test_volume_machine_any_instance_or_only_one_on_the_volumes_machine(
    emulators: list[Emulator], choice: str
) -> None:
    _, api = api_under(emulators, "volume_machine", choice)
    volume_id, machine_id = _volume_on_a_machine(api)
    link = {"volume_info": {"create_new": False, "volume_id": volume_id, "mount_path": "/data"}}
    elsewhere = api.offers(machine_id={"neq": machine_id}, limit=1)[0]["id"]
    answer = api.put(f"/api/v0/asks/{elsewhere}/", {"image": "pytorch/pytorch", "disk": 16, **link})
    if choice == "any":
        assert answer.status_code == 200
    else:
        assert answer.status_code == 400
        assert (
            "volume_info.volume_id" in answer.json()["msg"]
            and f"machine {machine_id}" in answer.json()["msg"]
        )
        assert api.get("/api/v1/instances/").json()["instances"] == []  # nothing rented
        vol_offer = api.post("/api/v0/volumes/search/", {"machine_id": {"neq": machine_id}, "limit": 1})
        make_new = {"create_new": True, "volume_id": vol_offer.json()["offers"][0]["id"], "mount_path": "/d"}
        refused = api.put(
            f"/api/v0/asks/{elsewhere}/", {"image": "pytorch/pytorch", "disk": 16, "volume_info": make_new}
        )
        assert refused.status_code == 400 and "volume offer" in refused.json()["msg"]
    same = api.offers(machine_id={"eq": machine_id}, limit=1)[0]["id"]
    on_its_machine = api.put(f"/api/v0/asks/{same}/", {"image": "pytorch/pytorch", "disk": 16, **link})
    assert on_its_machine.status_code == 200, on_its_machine.text


@pytest.mark.parametrize("choice", BY_NAME["volume_name"].choices)
def test_volume_name_lenient_or_word_characters_up_to_64(emulators: list[Emulator], choice: str) -> None:
    _, api = api_under(emulators, "volume_name", choice)
    offer = api.post("/api/v0/volumes/search/", {"disk_space": {"gte": 100}, "limit": 1}).json()["offers"][0]
    for name in ("data-vol", "x" * 65, "naïve"):
        answer = api.put("/api/v0/volumes/", {"id": offer["id"], "size": 1, "name": name})
        if choice == "lenient":
            assert answer.status_code == 200, name
        else:
            assert answer.status_code == 400 and "name" in answer.json()["msg"], name
    assert (
        api.put("/api/v0/volumes/", {"id": offer["id"], "size": 1, "name": "data_" + "v" * 59}).status_code
        == 200
    )
    gpu_offer = api.offers(machine_id={"eq": offer["machine_id"]}, limit=1)[0]["id"]
    info = {"create_new": True, "volume_id": offer["id"], "mount_path": "/d", "name": "bad name"}
    made = api.put(
        f"/api/v0/asks/{gpu_offer}/", {"image": "pytorch/pytorch", "disk": 16, "volume_info": info}
    )
    assert made.status_code == (200 if choice == "lenient" else 400)


@pytest.mark.parametrize("choice", BY_NAME["rate_limit_bodies"].choices)
def test_rate_limit_bodies_global_or_per_route(emulators: list[Emulator], choice: str) -> None:
    emu, api = api_under(emulators, "rate_limit_bodies", choice, rate_limits=True, rate_limit_scale=10.0)
    api.delete("/api/v0/instances/7/")  # 404, but counted: the interval runs from here
    destroy = api.delete("/api/v0/instances/7/")
    api.get("/api/v0/endptjobs/")
    listing = api.get("/api/v0/endptjobs/")
    message = "API requests too frequent endpoint threshold=3.0"
    assert (listing.status_code, listing.json()) == (429, {"detail": message})
    if choice == "global":
        assert (destroy.status_code, destroy.json()) == (429, {"detail": message})
    else:  # openapi.yaml:3774-3789
        assert (destroy.status_code, destroy.json()) == (
            429,
            {"success": False, "error": "rate_limit_exceeded", "msg": message},
        )
    emu.set_faults("429=1")  # an injected 429 takes the route's shape as well
    faulted = api.delete("/api/v0/instances/8/")
    assert ("error" in faulted.json()) == (choice == "per_route")


def test_an_explicit_rate_limit_style_overrides_the_per_route_reading(emulators: list[Emulator]) -> None:
    _, api = api_under(emulators, "rate_limit_bodies", "per_route", rate_limits=True, rate_limit_style="text")
    api.delete("/api/v0/instances/7/")
    destroy = api.delete("/api/v0/instances/7/")
    assert (destroy.status_code, destroy.text) == (429, "API requests too frequent endpoint threshold=3.0")
