"""SSH keys, env vars and volumes survive a restart with ``state``, and their routes are rate-limited
with the thresholds Vast's spec publishes for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emulator.conftest import Api
from tests.emulator.test_sshkeys import instance_keys, public_key
from tests.emulator.test_volumes import CLI_DEFAULT, rent_volume, volume_offers, volumes
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.ratelimit import threshold

KEY = "persisted-key"


def test_keys_env_vars_volumes_and_mounts_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(api_keys=[KEY], seed=4, boot_seconds=0.1, state=state) as emu:
        api = Api(emu.url, KEY)
        key_id = api.post("/api/v0/ssh/", {"ssh_key": public_key(1)}).json()["key"]["id"]
        api.post("/api/v0/secrets/", {"key": "TOKEN", "value": "abc"})
        offer = volume_offers(api, limit=1)[0]
        volume_id = rent_volume(api, offer["id"], size=10)
        instance_id = api.rent(volume_info={"create_new": False, "volume_id": volume_id, "mount_path": "/v"})
        before = (api.get("/api/v0/ssh/").json(), volumes(api), instance_keys(api, instance_id))
        market_before = dict(emu.backend.state.volume_offers)

    with Emulator(api_keys=[KEY], seed=4, boot_seconds=0.1, state=state) as emu:
        api = Api(emu.url, KEY)
        assert (api.get("/api/v0/ssh/").json(), volumes(api), instance_keys(api, instance_id)) == before
        assert api.get("/api/v0/secrets/").json()["secrets"] == {"TOKEN": "abc"}
        assert emu.backend.state.volume_offers == market_before
        row = api.instance(instance_id)
        assert row is not None
        assert [v["id"] for v in row["volume_info"]] == [volume_id]
        # Id counters continue: no key or volume id is handed out twice.
        assert api.post("/api/v0/ssh/", {"ssh_key": public_key(2)}).json()["key"]["id"] > key_id
        assert rent_volume(api, offer["id"], size=1) > instance_id


def test_a_state_file_from_before_these_resources_still_loads(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(api_keys=[KEY], seed=4, state=state):
        pass
    text = state.read_text()
    for name in ("ssh_keys", "env_vars", "volumes", "volume_info", "volume_offers"):
        text = text.replace(f'"{name}":', f'"old_{name}":')  # as an older emulator wrote it
    state.write_text(text)
    with Emulator(api_keys=[KEY], seed=4, state=state) as emu:
        api = Api(emu.url, KEY)
        assert api.get("/api/v0/ssh/").json() == []
        assert api.get("/api/v0/secrets/").json()["secrets"] == {}
        assert volume_offers(api, limit=1)  # the volume market is seeded on load


ROUTES = [
    ("GET", "/api/v0/secrets/", None, 5.0),
    ("POST", "/api/v0/secrets/", {"key": "A", "value": "b"}, 3.0),
    ("PUT", "/api/v0/secrets/", {"key": "A", "value": "c"}, 3.0),
    ("DELETE", "/api/v0/secrets/", {"key": "A"}, 3.0),
    ("POST", "/api/v0/ssh/", {"ssh_key": public_key(1)}, 1.0),
    ("PUT", "/api/v0/ssh/7001/", {"ssh_key": public_key(2)}, 1.0),
    ("GET", "/api/v0/volumes", None, 5.5),  # the client's path, without the slash
    ("DELETE", "/api/v0/volumes/", {"id": 1}, 5.5),
    ("POST", "/api/v0/volumes/search/", CLI_DEFAULT, 5.5),
]


@pytest.mark.parametrize(("method", "path", "body", "seconds"), ROUTES)
def test_the_published_thresholds_apply_to_these_routes(
    method: str, path: str, body: object, seconds: float
) -> None:
    with Emulator(api_keys=["k"], rate_limits=True) as emu:
        api = Api(emu.url, "k")
        first = api.call(method, path, body)
        assert first.status_code != 429, first.text
        second = api.call(method, path, body)
        assert second.status_code == 429
        # The default 429 shape, as most routes of Vast's OpenAPI spec give it.
        assert second.json() == {"detail": f"API requests too frequent endpoint threshold={seconds:.1f}"}
        route = emu.request_log()[-1]["route"]
        assert threshold(method, route) == seconds
