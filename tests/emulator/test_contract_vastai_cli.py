"""Contract: the official ``vastai`` CLI (1.9.1), run as a subprocess, drives the emulator through
an endpoint's, a workergroup's and an instance's whole life, and what it prints agrees with the
emulator's state."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.vastai_cli import VastaiCli
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.models import Account

KEY = "contract-key"
DESTROY_SECONDS = 3.0  # long enough to see the destroy under way, short enough to wait out


class Cli:
    def __init__(self, emulator: Emulator, home: Path) -> None:
        self.url = emulator.url
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),  # the CLI writes its config and caches here
            # The CLI fetches GPU names from VAST_URL (not --url) when it starts: keep that local too.
            "VAST_URL": emulator.url,
            "VASTAI_NO_UPDATE_CHECK": "1",
        }
        # The client sends the autoscaler's calls (get endpt-workers) to run.vast.ai when --url is
        # VAST_URL (vastai/api/endpoints.py:125-135): name the same emulator differently for those.
        self.autoscaler_url = emulator.url.replace("127.0.0.1", "localhost")
        self.vastai = VastaiCli(self.env)

    def __enter__(self) -> Cli:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.vastai.close()

    def run(self, *args: str, key: str = KEY, url: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.vastai.run("--url", url or self.url, "--api-key", key, *args, timeout=120)

    def ok(self, *args: str, url: str | None = None) -> str:
        result = self.run(*args, url=url)
        assert result.returncode == 0, f"vastai {' '.join(args)}: {result.stdout}{result.stderr}"
        assert "Failed with error" not in result.stderr, result.stderr
        return result.stdout

    def json(self, *args: str, url: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--raw", url=url))


def printed_dict(output: str) -> dict[str, Any]:
    """The Python dict a command prints after its message, e.g. ``workergroup create {...}``."""
    value = ast.literal_eval(output[output.index("{") :].strip())
    assert isinstance(value, dict)
    return value


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(api_keys=[KEY], boot_seconds=0.4, seed=3, destroy_seconds=DESTROY_SECONDS) as emu:
        yield emu


@pytest.fixture(scope="module")
def cli(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    with Cli(emulator, tmp_path_factory.mktemp("home")) as cli:
        yield cli


@pytest.fixture(scope="module")
def account(emulator: Emulator) -> Account:
    return emulator.backend.authenticate(KEY)


def wait_for_status(cli: Cli, instance_id: int, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        row: dict[str, Any] = cli.json("show", "instance", str(instance_id))
        if row["actual_status"] == wanted:
            return row
        assert time.monotonic() < deadline, f"instance {instance_id} never became {wanted}: {row}"
        time.sleep(0.2)


def wait_until_gone(cli: Cli, instance_id: int) -> None:
    deadline = time.monotonic() + 30
    while cli.json("show", "instance", str(instance_id)) != {"instances": None}:
        assert time.monotonic() < deadline, f"instance {instance_id} was never destroyed"
        time.sleep(0.2)


def test_official_cli_endpoint_workergroup_and_instance_lifecycle(
    cli: Cli, emulator: Emulator, account: Account
) -> None:
    # Endpoint: create, show, update.
    created = cli.json("create", "endpoint", "--endpoint_name", "contract-ep", "--max_workers", "4")
    assert created["success"] is True
    endpoint_id = created["result"]
    assert account.endpoints[endpoint_id].endpoint_name == "contract-ep"
    assert account.endpoints[endpoint_id].max_workers == 4

    shown = cli.json("show", "endpoints")
    backend_row = emulator.backend.get_endpoint(account, endpoint_id)
    assert [row["id"] for row in shown] == [endpoint_id]
    hidden = {"api_key", "auto_delete_in_seconds", "auto_delete_due_24h"}  # the CLI strips these
    assert shown[0] == {k: v for k, v in backend_row.items() if k not in hidden}

    assert cli.json("update", "endpoint", str(endpoint_id), "--max_workers", "8") == {"success": True}
    assert account.endpoints[endpoint_id].max_workers == 8
    assert account.endpoints[endpoint_id].cold_workers == 5  # nulls sent by the CLI left it alone
    assert cli.json("show", "endpoints")[0]["max_workers"] == 8

    # Workergroup: create (the CLI prints a dict, --raw or not), show.
    output = cli.ok(
        "create",
        "workergroup",
        "--endpoint_id",
        str(endpoint_id),
        "--search_params",
        "gpu_name=RTX_4090 num_gpus=1",
    )
    group_id = printed_dict(output)["id"]
    group = account.workergroups[group_id]
    assert group.endpoint_id == endpoint_id
    assert group.search_query["gpu_name"] == {"eq": "RTX 4090"}
    assert group.search_query["verified"] == {"eq": True}
    groups = cli.json("show", "workergroups")
    assert groups == emulator.backend.list_workergroups(account)
    # The group recruits the endpoint's cold_workers (5, the CLI's default) as billing instances.
    workers = sorted(i.id for i in account.instances.values() if i.workergroup_id == group_id)
    assert len(workers) == 5

    # Offers: search with the CLI's grammar; every offer printed is in the market and matches.
    offers = cli.json("search", "offers", "gpu_name=RTX_4090 num_gpus=1 reliability>0.95")
    assert len(offers) >= 10
    for offer in offers:
        assert offer["id"] in emulator.backend.state.offers
        assert (offer["gpu_name"], offer["num_gpus"], offer["verified"]) == ("RTX 4090", 1, True)
        assert offer["reliability"] > 0.95
    offer_id = offers[0]["id"]

    # Instance: create from the offer, show until running, stop, start, label, destroy.
    rented = cli.json("create", "instance", str(offer_id), "--image", "pytorch/pytorch", "--disk", "20")
    assert rented["success"] is True
    instance_id = rented["new_contract"]
    assert rented["instance_api_key"] == emulator.instance_api_key(instance_id)
    assert offer_id not in emulator.backend.state.offers
    row = wait_for_status(cli, instance_id, "running")
    assert (row["gpu_name"], row["disk_space"], row["image_uuid"]) == ("RTX 4090", 20.0, "pytorch/pytorch")
    assert row["ssh_port"] == emulator.backend.get_instance(account, instance_id)["ssh_port"]  # type: ignore[index]

    assert f"stopping instance {instance_id}." in cli.ok("stop", "instance", str(instance_id))
    assert account.instances[instance_id].intended_status == "stopped"
    assert wait_for_status(cli, instance_id, "stopped")["intended_status"] == "stopped"

    assert f"starting instance {instance_id}." in cli.ok("start", "instance", str(instance_id))
    assert wait_for_status(cli, instance_id, "running")["intended_status"] == "running"

    assert f"label for {instance_id} set to contract-box." in cli.ok(
        "label", "instance", str(instance_id), "contract-box"
    )
    assert account.instances[instance_id].label == "contract-box"
    listed = cli.json("show", "instances")
    assert sorted((r["id"], r["label"]) for r in listed) == [(w, None) for w in workers] + [
        (instance_id, "contract-box")
    ]

    assert f"destroying instance {instance_id}." in cli.ok("destroy", "instance", str(instance_id), "-y")
    assert account.instances[instance_id].destroying_since is not None  # under way, not done
    wait_until_gone(cli, instance_id)
    assert instance_id not in account.instances

    # Teardown: the workergroup, then the endpoint.
    deleted = printed_dict(cli.ok("delete", "workergroup", str(group_id)))
    assert deleted["success"] is True
    assert group_id not in account.workergroups
    deleted = printed_dict(cli.ok("delete", "endpoint", str(endpoint_id)))
    assert deleted["success"] is True
    assert deleted["deleted_workers"] == []  # its group's workers were detached before
    assert account.endpoints == {}
    # An account without endpoints gets the API's 400, which the CLI reports.
    assert "Failed with error 400: No endpoints for user found" in cli.run("show", "endpoints").stderr
    # The deleted group's workers are still the account's instances, billing: destroy them.
    assert sorted(r["id"] for r in cli.json("show", "instances")) == workers
    for worker in workers:
        cli.ok("destroy", "instance", str(worker), "-y")
    for worker in workers:
        wait_until_gone(cli, worker)
    assert cli.json("show", "instances") == []


def test_official_cli_lists_a_workergroups_workers_and_keeps_them_after_the_group_is_deleted(
    cli: Cli, emulator: Emulator, account: Account
) -> None:
    endpoint_id = cli.json("create", "endpoint", "--endpoint_name", "workers-ep", "--cold_workers", "2")[
        "result"
    ]
    output = cli.ok(
        "create", "workergroup", "--endpoint_id", str(endpoint_id), "--search_params", "num_gpus=1"
    )
    group_id = printed_dict(output)["id"]

    listed = cli.json("show", "instances")
    workers = [r for r in listed if r.get("workergroup_id") == group_id]
    assert len(workers) == 2
    for row in workers:
        assert row["endpoint_id"] == endpoint_id
        assert row["num_gpus"] == 1 and row["dph_total"] > 0
        assert row["id"] in account.instances
    worker_ids = sorted(r["id"] for r in workers)
    shown = cli.json("get", "endpt-workers", str(endpoint_id), url=cli.autoscaler_url)
    assert sorted(w["id"] for w in shown) == worker_ids

    deleted = printed_dict(cli.ok("delete", "workergroup", str(group_id)))
    assert (deleted["success"], deleted["deleted_workers"]) == (True, [])
    after = {r["id"]: r for r in cli.json("show", "instances")}
    assert set(worker_ids) <= set(after)
    for worker_id in worker_ids:
        assert (after[worker_id]["workergroup_id"], after[worker_id]["endpoint_id"]) == (None, None)
        assert after[worker_id]["dph_total"] > 0

    cli.ok("delete", "endpoint", str(endpoint_id))
    for worker_id in worker_ids:
        cli.ok("destroy", "instance", str(worker_id), "-y")


def test_official_cli_reports_a_bad_key_as_the_real_api_does(cli: Cli) -> None:
    result = cli.run("show", "endpoints", key="not-a-key")
    assert "Failed with error 401: Invalid user key" in result.stderr
    # The offer search is one of the routes that answer a bad key with 404.
    result = cli.run("search", "offers", "num_gpus=1", key="not-a-key")
    assert "Failed with error 404: Invalid user key" in result.stderr


def test_official_cli_reports_an_expired_session_key(cli: Cli, emulator: Emulator) -> None:
    emulator.add_key("account-1", "contract-session-key")
    emulator.expire_session("contract-session-key")
    result = cli.run("show", "instances", key="contract-session-key")
    assert "Failed with error 404: Session expired. Please log in again." in result.stderr


def test_official_cli_prints_its_own_message_for_the_daily_search_quota(tmp_path: Path) -> None:
    with Emulator(api_keys=[KEY], seed=3, search_quota=1) as emulator, Cli(emulator, tmp_path) as cli:
        assert cli.json("search", "offers", "num_gpus=1")  # the day's one search
        mark = len(emulator.request_log())
        result = cli.run("search", "offers", "num_gpus=1")
    resets = datetime.fromtimestamp((int(time.time()) // 86_400 + 1) * 86_400, UTC)
    expected = f"Failed with error 429: Daily search quota exceeded. Resets at {resets:%Y-%m-%d %H:%M} UTC."
    assert expected in result.stderr
    searches = [e for e in emulator.request_log(mark) if e["route"] == "/api/v0/bundles/"]
    assert [(e["status"], e["fault"]) for e in searches] == [(429, None)]  # the client did not retry


def test_official_cli_create_workergroup_on_a_missing_endpoint_shows_the_api_message(cli: Cli) -> None:
    result = cli.run("create", "workergroup", "--endpoint_id", "999", "--search_params", "num_gpus=1")
    assert "400" in result.stdout  # the CLI catches the HTTPError and prints it
    assert re.search(r"Error creating workergroup", result.stdout)
