"""`vast-pulumi doctor` against the emulator: the reading it names under each emulator reading, that it
only reads, that no secret reaches its output or a recording, divergences, exit codes, replay."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.conftest import Api, ManualClock
from vast_pulumi import doctor
from vast_pulumi.__main__ import main
from vast_pulumi.doctor import Report, _scopes
from vast_pulumi.doctor._exchanges import Exchange
from vast_pulumi.doctor._probe import probe
from vast_pulumi.doctor._readings import READINGS
from vast_pulumi.doctor._redact import redact
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.readings import REGISTRY
from vast_pulumi.settings import ProviderSettings

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmXn5cT7jTeeGzXN4eoc4fQbL5JGvQ+x0UiFGXUNQ0E me@laptop"
KEY = "k-doctor-0123456789"
GROUP_MARKER = "abcd1234abcd1234"


@pytest.fixture
def emulator_factory() -> Iterator[Any]:
    started: list[Emulator] = []

    def start(**options: Any) -> Emulator:
        options.setdefault("boot_seconds", 0.0)
        emulator = Emulator(api_keys=[KEY], seed=1, **options).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAST_API_KEY", KEY)


def run(emulator: Emulator) -> Report:
    return doctor.run(ProviderSettings(api_key=KEY, api_url=emulator.url))


def reading(report: Report, name: str) -> str | None:
    return next(seen.choice for seen in report.readings if seen.reading == name)


def interruptible(api: Api) -> int:
    offer = api.offers(limit=1, order=[["dph_total", "asc"]])[0]
    bid = round(offer["min_bid"] * 1.5, 4)
    assert bid != offer["dph_base"]  # else the two readings would look the same
    return api.rent(offer["id"], price=bid)


def serverless(api: Api, emulator: Emulator, **group: Any) -> int:
    endpoint = api.endpoint()
    template = api.post("/api/v0/template/", {"name": "t", "image": "pytorch/pytorch"}).json()["template"]
    fields = {"template_hash": template["hash_id"], **group}
    api.workergroup(endpoint, launch_args=f"--env '-e VAST_PULUMI_GROUP_MARKER={GROUP_MARKER}'", **fields)
    emulator.set_endpoint_load(endpoint, 1)
    return endpoint


# -- the names agree with the emulator's ------------------------------------------------------------


def test_the_doctor_knows_every_emulator_reading_with_its_choices() -> None:
    assert {r.name: r.choices for r in REGISTRY} == {
        name: choices for name, (choices, _) in READINGS.items() if name in {r.name for r in REGISTRY}
    }


# -- a test per reading a read can observe ---------------------------------------------------------


@pytest.mark.parametrize("choice", ["list", "404"])
def test_ssh_list_empty_names_the_emulators_reading(emulator_factory: Any, choice: str) -> None:
    emulator = emulator_factory(readings={"ssh_list_empty": choice})
    report = run(emulator)
    assert reading(report, "ssh_list_empty") == choice
    assert report.exit_code == 0  # an expected answer, not a divergence


@pytest.mark.parametrize("choice", ["bid", "listing"])
def test_bid_field_names_the_emulators_reading(emulator_factory: Any, choice: str) -> None:
    emulator = emulator_factory(readings={"bid_field": choice})
    interruptible(Api(emulator.url, KEY))
    assert reading(run(emulator), "bid_field") == choice


@pytest.mark.parametrize("choice", ["row", "gone"])
def test_destroying_get_names_the_emulators_reading(emulator_factory: Any, choice: str) -> None:
    emulator = emulator_factory(readings={"destroying_get": choice}, destroy_seconds=300.0)
    api = Api(emulator.url, KEY)
    instance = api.rent()
    assert api.delete(f"/api/v0/instances/{instance}/").status_code == 200
    seen = len(emulator.request_log())
    report = run(emulator)
    assert reading(report, "destroying_get") == choice
    single = [e for e in emulator.request_log(seen) if e["route"] == "/api/v0/instances/{id}/"]
    assert [(e["method"], e["path"]) for e in single] == [("GET", f"/api/v0/instances/{instance}/?owner=me")]


@pytest.mark.parametrize("choice", ["tied", "untied"])
def test_worker_ties_names_the_emulators_reading(emulator_factory: Any, choice: str) -> None:
    emulator = emulator_factory(readings={"worker_ties": choice})
    serverless(Api(emulator.url, KEY), emulator)
    assert reading(run(emulator), "worker_ties") == choice


@pytest.mark.parametrize(("choice", "seen"), [("accepted", "accepted"), ("400", None)])
def test_templateless_workergroup_seen_only_where_one_exists(
    emulator_factory: Any, choice: str, seen: str | None
) -> None:
    emulator = emulator_factory(readings={"templateless_workergroup": choice})
    api = Api(emulator.url, KEY)
    endpoint = api.endpoint()
    api.post("/api/v0/workergroups/", {"endpoint_id": endpoint, "search_params": "num_gpus=1"})
    assert reading(run(emulator), "templateless_workergroup") == seen


@pytest.mark.parametrize(("choice", "seen"), [("lenient", "lenient"), ("strict", None)])
def test_volume_name_seen_only_where_a_loose_name_exists(
    emulator_factory: Any, choice: str, seen: str | None
) -> None:
    emulator = emulator_factory(readings={"volume_name": choice})
    api = Api(emulator.url, KEY)
    offer = api.post("/api/v0/volumes/search/", {"limit": 1}).json()["offers"][0]
    api.put("/api/v0/volumes/", {"id": offer["id"], "size": 10, "name": "data-1"})
    assert reading(run(emulator), "volume_name") == seen


@pytest.mark.parametrize(("choice", "seen"), [("any", "any"), ("same_machine", None)])
def test_volume_machine_seen_only_where_a_volume_is_mounted_across_machines(
    emulator_factory: Any, choice: str, seen: str | None
) -> None:
    emulator = emulator_factory(readings={"volume_machine": choice})
    api = Api(emulator.url, KEY)
    volume_offer = api.post("/api/v0/volumes/search/", {"limit": 1}).json()["offers"][0]
    volume = int(
        api.put("/api/v0/volumes/", {"id": volume_offer["id"], "size": 10}).json()["volume_name"][2:]
    )
    offer = next(o for o in api.offers(limit=5) if o["machine_id"] != volume_offer["machine_id"])
    mount = {"create_new": False, "volume_id": volume, "mount_path": "/data"}
    answer = api.put(f"/api/v0/asks/{offer['id']}/", {"image": "pytorch/pytorch", "volume_info": mount})
    assert answer.status_code == (200 if choice == "any" else 400)
    assert reading(run(emulator), "volume_machine") == seen


@pytest.mark.parametrize("choice", ["global", "per_route"])
def test_rate_limit_bodies_met_on_a_read_route_cannot_tell_the_readings_apart(
    emulator_factory: Any, choice: str
) -> None:
    emulator = emulator_factory(readings={"rate_limit_bodies": choice}, rate_limits=True, retry_after=True)
    Api(emulator.url, KEY).get("/api/v1/instances/", limit=25)  # the doctor's list comes within 1 s
    report = run(emulator)
    assert report.rate_limits.limited >= 1
    assert report.rate_limits.retry_after  # the emulator sent Retry-After
    assert reading(report, "rate_limit_bodies") is None
    evidence = next(o.evidence for o in report.readings if o.reading == "rate_limit_bodies")
    assert "both readings give that shape" in evidence
    limited = [e for e in emulator.request_log() if e["status"] == 429]
    assert {e["route"] for e in limited} == {"/api/v1/instances/"}


def test_a_429_shape_neither_reading_gives_is_named(emulator_factory: Any) -> None:
    emulator = emulator_factory(rate_limits=True, rate_limit_style="text")
    Api(emulator.url, KEY).get("/api/v1/instances/", limit=25)
    report = run(emulator)
    evidence = next(o.evidence for o in report.readings if o.reading == "rate_limit_bodies")
    assert "answered a 429 as 'text': neither reading" in evidence


def test_readings_a_read_cannot_tell_say_so(emulator_factory: Any) -> None:
    report = run(emulator_factory())
    for name in ("delete_gone_error", "worker_recruit"):
        assert next(o.evidence for o in report.readings if o.reading == name) == "not observable read-only"


# -- read-only, secrets -------------------------------------------------------------------------------


def rich_account(emulator: Emulator) -> dict[str, list[str]]:
    """One of everything, and the secrets and personal data its answers carry."""
    api = Api(emulator.url, KEY)
    serverless(api, emulator)
    offer = api.offers(limit=1)[0]
    reply = api.put(
        f"/api/v0/asks/{offer['id']}/",
        {"image": "pytorch/pytorch", "env": {"HF_TOKEN": "hf-instance-secret"}},
    ).json()
    interruptible(api)
    assert api.post("/api/v0/ssh/", {"ssh_key": SSH_KEY}).status_code == 200
    api.post("/api/v0/secrets/", {"key": "DB_PASSWORD", "value": "s3cret-env-value"})
    volume_offer = api.post("/api/v0/volumes/search/", {"limit": 1}).json()["offers"][0]
    api.put("/api/v0/volumes/", {"id": volume_offer["id"], "size": 10, "name": "data"})
    user = api.get("/api/v0/users/current/").json()
    instances = api.get("/api/v1/instances/", limit=25).json()["instances"]
    endpoints = api.get("/api/v0/endptjobs/").json()["results"]
    groups = api.get("/api/v0/workergroups/").json()["results"]
    return {
        "secrets": [
            KEY,
            reply["instance_api_key"],
            "hf-instance-secret",
            "s3cret-env-value",
            SSH_KEY.split()[1],
            *(row["api_key"] for row in endpoints + groups),
            *(row["jupyter_token"] for row in instances if row.get("jupyter_token")),
        ],
        "personal": [user["email"], *(row["public_ipaddr"] for row in instances if row.get("public_ipaddr"))],
        "account": [str(user["id"])],
    }


@pytest.mark.usefixtures("key_in_env")
def test_the_doctor_only_reads(emulator_factory: Any, tmp_path: Path) -> None:
    emulator = emulator_factory(destroy_seconds=300.0)
    rich_account(emulator)
    api = Api(emulator.url, KEY)
    doomed = api.rent()
    api.delete(f"/api/v0/instances/{doomed}/")  # so that the single GET is made too
    # Time stands still from here: rows carry time-derived fields (uptime_mins), and only the doctor's
    # calls may change what the inventory holds.
    emulator.backend.clock = ManualClock(emulator.backend.clock())
    before, seen = emulator.inventory(), len(emulator.request_log())
    assert main(["doctor", "--url", emulator.url, "--record", str(tmp_path)], out=io.StringIO()) == 0
    calls = {(e["method"], e["route"]) for e in emulator.request_log(seen)}
    assert {method for method, route in calls if (method, route) != ("POST", "/api/v0/bundles/")} == {"GET"}
    assert ("GET", "/api/v0/instances/{id}/") in calls and ("POST", "/api/v0/bundles/") in calls
    assert emulator.inventory() == before


@pytest.mark.usefixtures("key_in_env")
def test_no_secret_reaches_the_table_the_json_or_a_recording(emulator_factory: Any, tmp_path: Path) -> None:
    emulator = emulator_factory()
    known = rich_account(emulator)
    table, as_json = io.StringIO(), io.StringIO()
    main(["doctor", "--url", emulator.url, "--record", str(tmp_path)], out=table)
    main(["doctor", "--url", emulator.url, "--json"], out=as_json)
    recording = (tmp_path / "recording.json").read_text()
    for secret in known["secrets"] + known["personal"]:
        assert secret not in table.getvalue()
        assert secret not in as_json.getvalue()
        assert secret not in recording
    for account in known["account"]:
        assert account not in recording  # the report names the account; the recording does not
    assert "DB_PASSWORD" in as_json.getvalue() or "DB_PASSWORD" in recording  # names are kept
    assert json.loads(as_json.getvalue())["key"]["account_id"] == int(known["account"][0])


# -- divergences ------------------------------------------------------------------------------------


def test_a_renamed_field_is_a_divergence_naming_route_and_field(emulator_factory: Any) -> None:
    """A test double of the answer: the emulator's instance list with ``actual_status`` renamed."""
    emulator = emulator_factory()
    Api(emulator.url, KEY).rent()
    exchanges = probe(ProviderSettings(api_key=KEY, api_url=emulator.url))
    renamed = [_renamed(e, "actual_status", "actualStatus") for e in exchanges]
    report = doctor.analyze(renamed)
    assert [(d.route, d.field, d.problem) for d in report.divergences] == [
        ("GET /api/v1/instances/", "instances[0].actual_status", "missing (renamed to 'actualStatus'?)")
    ]
    assert report.exit_code == 1


def _renamed(exchange: Exchange, old: str, new: str) -> Exchange:
    if exchange.route != "/api/v1/instances/":
        return exchange
    payload = exchange.payload()
    for row in payload["instances"]:
        row[new] = row.pop(old)
    return Exchange(
        exchange.method, exchange.path, exchange.route, exchange.status, exchange.headers, json.dumps(payload)
    )


def test_a_field_of_another_type_set_through_the_control_plane_is_a_divergence(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emulator = emulator_factory()
    instance = Api(emulator.url, KEY).rent()
    emulator.backend.drift("instances", instance, {"dph_total": "0.30"})  # PATCH /_emulator/instances/{id}
    report = run(emulator)
    assert [(d.route, d.field, d.problem) for d in report.divergences] == [
        ("GET /api/v1/instances/", "instances[0].dph_total", "type string, the provider reads number")
    ]
    out = io.StringIO()
    assert main(["doctor", "--url", emulator.url, "--api-key-file", _key_file(tmp_path)], out=out) == 1
    assert "DIVERGENCE GET /api/v1/instances/ instances[0].dph_total: type string" in out.getvalue()


def _key_file(directory: Path) -> str:
    path = directory / "vast_api_key"
    path.write_text(KEY + "\n")
    return str(path)


# -- exit codes ----------------------------------------------------------------------------------------


def test_exit_0_when_all_is_as_expected(emulator_factory: Any, tmp_path: Path) -> None:
    emulator = emulator_factory()
    rich_account(emulator)
    out = io.StringIO()
    assert main(["doctor", "--url", emulator.url, "--api-key-file", _key_file(tmp_path)], out=out) == 0
    assert "OK: every answer has the shape the provider reads." in out.getvalue()


def test_exit_2_when_the_key_does_not_work(emulator_factory: Any, tmp_path: Path) -> None:
    emulator = emulator_factory()
    key_file = tmp_path / "key"
    key_file.write_text("not-a-key")
    out = io.StringIO()
    assert main(["doctor", "--url", emulator.url, "--api-key-file", str(key_file)], out=out) == 2
    assert "Key: does not work: the key does not work: 401" in out.getvalue()
    assert [e["route"] for e in emulator.request_log()] == ["/api/v0/users/current/"]  # then it stops


def test_exit_2_when_the_url_does_not_answer(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    out = io.StringIO()
    argv = ["doctor", "--url", f"http://127.0.0.1:{port}", "--api-key-file", str(key_file), "--json"]
    assert main(argv, out=out) == 2
    assert json.loads(out.getvalue())["key"]["problem"].startswith("the URL does not answer")


# -- recording and replay ------------------------------------------------------------------------------


@pytest.mark.usefixtures("key_in_env")
def test_a_recording_replays_to_the_same_report(emulator_factory: Any, tmp_path: Path) -> None:
    emulator = emulator_factory(readings={"bid_field": "listing"})
    serverless(Api(emulator.url, KEY), emulator)
    interruptible(Api(emulator.url, KEY))
    live = doctor.run(ProviderSettings(api_key=KEY, api_url=emulator.url), record=tmp_path)
    seen = len(emulator.request_log())
    replayed = io.StringIO()
    assert main(["doctor", "--replay", str(tmp_path), "--json"], out=replayed) == live.exit_code
    assert len(emulator.request_log()) == seen  # offline
    document = json.loads(replayed.getvalue())
    assert document["readings"] == [o.as_json() for o in live.readings]
    assert document["routes"] == [r.as_json() for r in live.routes]
    assert document["billing"]["items"] == [b.as_json() for b in live.billed]
    assert reading(doctor.replay(tmp_path), "bid_field") == "listing"


def test_replay_of_something_else_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "recording.json").write_text('{"format": "other"}')
    assert main(["doctor", "--replay", str(tmp_path)], out=io.StringIO()) == 2


DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_committed_recording_still_replays_with_its_readings() -> None:
    """tests/data/doctor_recording: the emulator under `pessimistic` (README there says how it was made)."""
    report = doctor.replay(DATA / "doctor_recording")
    assert report.exit_code == 0
    assert {o.reading: o.choice for o in report.readings if o.choice} == {
        "bid_field": "listing",
        "ssh_list_empty": "404",
        "destroying_get": "gone",
        "worker_ties": "untied",
    }
    assert report.key.account_id == 1  # redacted
    assert [(b.kind, b.managed.split(" ")[0]) for b in report.billed] == [
        ("worker", "worker"),
        ("instance", "vast-pulumi"),
        ("instance", "no"),
        ("volume", "vast-pulumi"),
    ]


# -- scopes ----------------------------------------------------------------------------------------


def test_the_scope_table_is_vasts_route_table() -> None:
    table = json.loads((DATA / "api_scopes.json").read_text())["endpoints"]
    for (method, route), scope in _scopes.READ_SCOPES.items():
        assert table[route][method] == scope, (method, route)
    writes = {
        ("PUT", "/api/v0/asks/{id}/"): "instance_write",
        ("DELETE", "/api/v0/instances/{id}/"): "instance_write",
        ("PUT", "/api/v0/volumes/"): "instance_write",
        ("POST", "/api/v0/endptjobs/"): "misc",
        ("POST", "/api/v0/workergroups/"): "misc",
        ("POST", "/api/v0/template/"): "user_write",
        ("POST", "/api/v0/ssh/"): "user_write",
        ("POST", "/api/v0/secrets/"): "user_write",
    }
    for (method, route), scope in writes.items():
        assert table[route][method] == scope and scope in _scopes.WRITE_SCOPES


def test_a_refused_read_names_its_scope_and_is_a_divergence() -> None:
    """A test double: a key without ``misc`` (the emulator has no scoped keys)."""
    refused = json.dumps({"success": False, "error": "forbidden", "msg": "This key lacks scope misc"})
    exchanges = [
        Exchange("GET", "/api/v0/users/current/", "/api/v0/users/current/", 200, {}, '{"id": 7}'),
        Exchange("GET", "/api/v0/endptjobs/", "/api/v0/endptjobs/", 403, {}, refused),
    ]
    report = doctor.analyze(exchanges)
    assert {s.scope: s.status for s in report.scopes}["misc"] == "refused (403)"
    assert [(d.route, d.problem) for d in report.divergences] == [
        ("GET /api/v0/endptjobs/", "failed: 403 forbidden This key lacks scope misc")
    ]
    assert report.exit_code == 1


def test_no_key_at_all_is_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("VAST_API_KEY", "VASTAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["doctor", "--url", "http://127.0.0.1:9"], out=io.StringIO()) == 2


def test_redaction_keeps_types_names_and_markers_and_drops_the_rest() -> None:

    marked = "VAST_PULUMI_GROUP_MARKER=0123456789abcdef"
    group = {
        "id": 5,
        "user_id": 42,
        "api_key": "group-key-1234",
        "launch_args": f"--env '-e {marked} -e HF_TOKEN=hf_abcd' --disk 8",
    }
    exchanges = [
        Exchange(
            "GET",
            "/api/v0/users/current/",
            "/api/v0/users/current/",
            200,
            {},
            '{"id": 42, "email": "a@b.io"}',
        ),
        Exchange(
            "GET", "/api/v0/workergroups/", "/api/v0/workergroups/", 200, {}, json.dumps({"results": [group]})
        ),
        Exchange(
            "GET",
            "/api/v1/instances/",
            "/api/v1/instances/",
            429,
            {},
            "too frequent from 203.0.113.9 hf_abcd",
        ),
    ]
    user, groups, limited = redact(exchanges, "the-api-key")
    assert json.loads(user.body) == {"id": 1, "email": "REDACTED"}
    assert json.loads(groups.body)["results"] == [
        {
            "id": 5,
            "user_id": 1,
            "api_key": "REDACTED",
            "launch_args": f"--env '-e {marked} -e HF_TOKEN=REDACTED' --disk 8",
        }
    ]
    assert limited.body == "too frequent from 0.0.0.0 REDACTED"  # a secret met elsewhere, an IP
