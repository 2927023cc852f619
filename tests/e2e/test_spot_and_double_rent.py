"""Issue 11, points 6, 7 and 11, through the real CLI.

6. Spot done right: a bid below the offer's minimum fails the ``up`` and leaves no instance (the API
   still made one, stopped); a new ``price`` is an in-place bid change; an outbid instance shows as
   drift on refresh, and ``up`` with a bid high enough runs it again, the same instance.
7. A rent nobody can use is not a success: a double rent (someone rented the offer between our
   search and our rent) never starts; it is destroyed and the next offer rented, in the same ``up``.
11. The daily search quota fails the ``up`` at once, with its reset time, the search sent once.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

KEY = "e2e-spot-key-7e21"
INSTANCE_TYPE = "pulumi-python:dynamic/vast:Instance"
SEARCH = ("POST", "/api/v0/bundles/")
RENT = ("PUT", "/api/v0/asks/{id}/")
DESTROY = ("DELETE", "/api/v0/instances/{id}/")

SPOT_PROGRAM = """
import pulumi
from vast_pulumi import Instance

config = pulumi.Config()
Instance("box", offer_id=int(config.require("offer")), price=float(config.require("price")),
         image="vastai/base-image", disk=8, ready_timeout=60)
"""
QUERY_PROGRAM = """
from vast_pulumi import Instance

Instance("box", offer_query="num_gpus=1", order="dph_base", image="vastai/base-image", disk=8,
         ready_timeout=60)
"""

MakeProject = Callable[[str, str], Path]
Result = subprocess.CompletedProcess[str]


def deployed(backend: LocalBackend, project: Path, url: str, **config: str) -> Stack:
    settings = {"vast:apiUrl": url, **{f"{project.name}:{key}": value for key, value in config.items()}}
    return backend.stack(project, "dev", config=settings, secrets={"vast:apiKey": KEY})


def api(emulator: Emulator, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    return requests.request(
        method, emulator.url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )


def search(emulator: Emulator, kind: str, order: str) -> list[dict[str, Any]]:
    """The offers the provider's search for ``num_gpus=1`` finds, best first by ``order``."""
    body = {
        "verified": {"eq": True},
        "external": {"eq": False},
        "rentable": {"eq": True},
        "rented": {"eq": False},
        "num_gpus": {"eq": 1},
        "disk_space": {"gte": 8},
        "order": [[order, "asc"]],
        "type": kind,
        "limit": 64,
    }
    answer = api(emulator, "POST", "/api/v0/bundles/", body)
    answer.raise_for_status()
    offers: list[dict[str, Any]] = answer.json()["offers"]
    return sorted(offers, key=lambda offer: (offer[order], offer["id"]))


def calls(emulator: Emulator, since: int = 0) -> list[tuple[str, str]]:
    return [
        (entry["method"], entry["route"] or entry["path"])
        for entry in emulator.request_log()[since:]
        if str(entry["path"]).startswith("/api/")
    ]


def paths(emulator: Emulator, route: tuple[str, str], since: int = 0) -> list[str]:
    return [
        str(entry["path"])
        for entry in emulator.request_log()[since:]
        if (entry["method"], entry["route"]) == route
    ]


def instance_ids(stack: Stack) -> list[int]:
    return [int(resource["id"]) for resource in stack.resources() if resource["type"] == INSTANCE_TYPE]


def the_row(emulator: Emulator, instance_id: int) -> dict[str, Any]:
    row: dict[str, Any] = api(emulator, "GET", f"/api/v0/instances/{instance_id}/").json()["instances"]
    return row


def bid_billed(row: dict[str, Any]) -> float:
    """The GPU's hourly price an instance bills: its bid, for an interruptible. Read from ``dph_total``
    (bid + storage), not ``search.gpuCostPerHour``, which may show the listing's price (reading
    ``bid_field``)."""
    return round(float(row["dph_total"]) - float(row["storage_total_cost"]), 4)


def error_lines(result: Result) -> str:
    return "\n".join(line for line in result.stdout.splitlines() if "error" in line.lower())


# -- 6. spot ---------------------------------------------------------------------------------------------


def test_a_bid_below_the_minimum_fails_the_up_and_leaves_no_instance(
    local_backend: LocalBackend, make_project: MakeProject
) -> None:
    with Emulator(api_keys=[KEY], seed=61, boot_seconds=0.5, destroy_seconds=0.0) as emulator:
        offer = search(emulator, "bid", "min_bid")[0]
        low = round(offer["min_bid"] / 2, 4)
        stack = deployed(
            local_backend,
            make_project("lowbid", SPOT_PROGRAM),
            emulator.url,
            offer=str(offer["id"]),
            price=str(low),
        )
        mark = len(emulator.request_log())
        result = stack.up(check=False)
        assert result.returncode != 0
        assert "invalid_price" in error_lines(result)
        assert calls(emulator, mark).count(RENT) == 1  # the refusal hit the rent
        assert instance_ids(stack) == []
        assert VastInventory(emulator.url, KEY).instances() == []  # the stopped instance it left is gone


def test_a_price_change_is_an_in_place_bid_update(
    local_backend: LocalBackend, make_project: MakeProject
) -> None:
    with Emulator(api_keys=[KEY], seed=62, boot_seconds=0.5, destroy_seconds=0.0) as emulator:
        offer = search(emulator, "bid", "min_bid")[0]
        first, second = round(offer["min_bid"] + 0.05, 4), round(offer["min_bid"] + 0.15, 4)
        project = make_project("rebid", SPOT_PROGRAM)
        stack = deployed(local_backend, project, emulator.url, offer=str(offer["id"]), price=str(first))
        stack.up()
        (before,) = instance_ids(stack)
        assert bid_billed(the_row(emulator, before)) == first

        stack.set_config(f"{project.name}:price", str(second))
        mark = len(emulator.request_log())
        ops = {step["op"] for step in stack.up_steps() if str(step["urn"]).endswith("::box")}
        assert ops == {"update"}
        assert instance_ids(stack) == [before]
        assert ("PUT", "/api/v0/instances/bid_price/{id}/") in calls(emulator, mark)
        assert RENT not in calls(emulator, mark)
        row = the_row(emulator, before)
        assert (row["is_bid"], bid_billed(row), row["actual_status"]) == (
            True,
            second,
            "running",
        )


def test_an_outbid_instance_shows_as_drift_and_up_runs_it_again(
    local_backend: LocalBackend, make_project: MakeProject
) -> None:
    with Emulator(api_keys=[KEY], seed=63, boot_seconds=0.5, destroy_seconds=0.0) as emulator:
        offer = search(emulator, "bid", "min_bid")[0]
        price = round(offer["min_bid"] + 0.05, 4)
        project = make_project("outbid", SPOT_PROGRAM)
        stack = deployed(local_backend, project, emulator.url, offer=str(offer["id"]), price=str(price))
        stack.up()
        (box,) = instance_ids(stack)

        emulator.outbid(box, min_bid=round(price + 0.2, 4))
        assert the_row(emulator, box)["actual_status"] == "stopped"
        stack.refresh()
        (recorded,) = [r for r in stack.resources() if r["type"] == INSTANCE_TYPE]
        # The drift is in state, inputs included: the next preview plans to bring it back.
        assert recorded["outputs"]["target_state"] == recorded["inputs"]["target_state"] == "stopped"
        (step,) = [s for s in stack.preview_steps() if str(s["urn"]).endswith("::box")]
        assert step["op"] == "update"

        stack.set_config(f"{project.name}:price", str(round(price + 0.3, 4)))
        stack.up()
        assert instance_ids(stack) == [box]
        assert the_row(emulator, box)["actual_status"] == "running"


# -- 7. a double rent ------------------------------------------------------------------------------------


def test_a_double_rent_is_destroyed_and_the_next_offer_rented_in_the_same_up(
    local_backend: LocalBackend, make_project: MakeProject
) -> None:
    with Emulator(
        api_keys=[KEY],
        seed=71,
        boot_seconds=0.5,
        destroy_seconds=0.0,
        double_rent=True,
    ) as emulator:
        stack = deployed(local_backend, make_project("double", QUERY_PROGRAM), emulator.url)
        best = search(emulator, "on-demand", "dph_base")[0]["id"]
        # The provider's search is answered, and its answer waits: meanwhile someone rents the best offer.
        emulator.hold(*SEARCH, stage="after")
        mark = len(emulator.request_log())
        outcome: list[Result] = []
        up = threading.Thread(target=lambda: outcome.append(stack.up(check=False)))
        up.start()
        deadline = time.monotonic() + 120
        while not any(int(hold["parked"]) for hold in emulator.holds()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(int(hold["parked"]) for hold in emulator.holds()), "the provider never searched"
        theirs = int(
            api(emulator, "PUT", f"/api/v0/asks/{best}/", {"image": "x", "disk": 8}).json()["new_contract"]
        )
        emulator.release()
        up.join()

        (result,) = outcome
        assert result.returncode == 0, result.stdout
        (ours,) = instance_ids(stack)
        assert the_row(emulator, ours)["actual_status"] == "running"
        rents = paths(emulator, ("PUT", "/api/v0/asks/{id}/"), mark)
        assert rents.count(f"/api/v0/asks/{best}/") == 2  # theirs, then our double rent
        assert len(rents) == 3  # and our rent of the next offer
        (destroyed,) = paths(emulator, ("DELETE", "/api/v0/instances/{id}/"), mark)
        assert int(destroyed.rstrip("/").rsplit("/", 1)[1]) not in (ours, theirs)
        listed = {int(row["id"]) for row in VastInventory(emulator.url, KEY).instances()}
        assert listed == {ours, theirs}


# -- 11. the daily search quota --------------------------------------------------------------------------


def test_an_exhausted_search_quota_fails_the_up_at_once_with_the_reset_time(
    local_backend: LocalBackend, make_project: MakeProject
) -> None:
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[KEY], seed=111, boot_seconds=0.5, search_quota=100
    ) as emulator:
        stack = deployed(local_backend, make_project("quota", QUERY_PROGRAM), emulator.url)
        emulator.exhaust_search_quota(emulator.backend.authenticate(KEY).label)
        refused = api(emulator, "POST", "/api/v0/bundles/", {"limit": 1})
        assert (refused.status_code, refused.json()["error"]) == (429, "search_quota_exceeded")
        resets = datetime.datetime.fromtimestamp(int(refused.headers["X-RateLimit-Reset"]), datetime.UTC)

        mark = len(emulator.request_log())
        result = stack.up(check=False)
        assert result.returncode != 0
        assert f"resets at {resets:%Y-%m-%d %H:%M} UTC" in error_lines(result)
        assert calls(emulator, mark).count(SEARCH) == 1  # not retried: a retry spends the quota
        assert RENT not in calls(emulator, mark)
        assert instance_ids(stack) == []
        assert VastInventory(emulator.url, KEY).instances() == []
        assert json.dumps(result.stdout).count(KEY) == 0
