"""``state``: everything survives a restart; the file is replaced atomically and holds no key."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.emulator.conftest import Api
from vast_pulumi.emulator import Emulator

KEY = "persisted-key"


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(api_keys=[KEY], seed=4, boot_seconds=0.1, state=state) as emu:
        api = Api(emu.url, KEY)
        endpoint_id = api.endpoint(endpoint_name="kept", max_workers=3)
        group_id = api.workergroup(endpoint_id)
        offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
        instance_id = api.rent(offer_id, label="kept-box")
        running_by = time.monotonic() + 10
        while (api.instance(instance_id) or {}).get("actual_status") != "running":  # booted (0.1 s)
            assert time.monotonic() < running_by, "the instance never booted"
            time.sleep(0.02)
        template = api.post("/api/v0/template/", {"name": "t", "image": "a/b"}).json()["template"]
        before = emu.backend.inventory()
        offers_before = dict(emu.backend.state.offers)

    with Emulator(api_keys=[KEY], seed=4, boot_seconds=0.1, state=state) as emu:
        api = Api(emu.url, KEY)
        assert api.get(f"/api/v0/endptjobs/{endpoint_id}/").json()["result"]["max_workers"] == 3
        assert [g["id"] for g in api.get("/api/v0/workergroups/").json()["results"]] == [group_id]
        row = api.instance(instance_id)
        assert row is not None
        assert (row["label"], row["actual_status"]) == ("kept-box", "running")  # still booted
        assert "no_such_ask" in api.put(f"/api/v0/asks/{offer_id}/", {"image": "x"}).json()["msg"]
        assert emu.backend.state.offers == offers_before
        assert template["hash_id"] in {t["hash_id"] for t in api.get("/api/v0/template/").json()["templates"]}
        after = emu.backend.inventory()
        for old, new in zip(before, after, strict=True):
            assert old["endpoints"] == new["endpoints"]
            assert old["workergroups"] == new["workergroups"]
            assert [i["id"] for i in old["instances"]] == [i["id"] for i in new["instances"]]
        # Id counters continue: no id is ever handed out twice.
        assert api.endpoint() > endpoint_id
        assert api.rent() > instance_id


def test_every_mutation_is_saved_atomically_and_no_key_is_written(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(api_keys=[KEY], state=state) as emu:
        assert json.loads(state.read_text())["format"] == "vast-emulator-state/1"
        api = Api(emu.url, KEY)
        for n in range(5):
            api.endpoint(endpoint_name=f"e{n}")
            saved = json.loads(state.read_text())  # always whole JSON, never a partial write
            (account,) = saved["state"]["accounts"].values()
            assert len(account["endpoints"]) == n + 1
        assert KEY not in state.read_text()
        assert list(tmp_path.iterdir()) == [state]  # no temporary files left behind


def test_an_account_added_later_keeps_the_others(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(api_keys=["a"], state=state) as emu:
        endpoint_id = Api(emu.url, "a").endpoint()
    with Emulator(api_keys=["b", "a"], state=state) as emu:
        assert [e["id"] for e in Api(emu.url, "a").get("/api/v0/endptjobs/").json()["results"]] == [
            endpoint_id
        ]
        assert Api(emu.url, "b").get("/api/v0/endptjobs/").status_code == 400  # none yet


def test_keys_and_a_destroy_under_way_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(api_keys=[KEY], state=state, destroy_seconds=600) as emu:
        api = Api(emu.url, KEY)
        instance_id = api.rent()
        api.delete(f"/api/v0/instances/{instance_id}/", {})
        emu.add_key("account-1", "rotated")
        emu.revoke_key(KEY)
    with Emulator(api_keys=[KEY], state=state, destroy_seconds=600) as emu:
        assert Api(emu.url, KEY).get("/api/v0/workergroups/").status_code == 401
        row = Api(emu.url, "rotated").instance(instance_id)
        assert row is not None
        assert row["next_state"] == "unloaded"
