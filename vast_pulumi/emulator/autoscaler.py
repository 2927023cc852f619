"""Serverless workers: what Vast's autoscaler does for an endpoint's workergroups.

A workergroup recruits worker instances by renting offers that match its stored ``search_query``
(which holds its template's filters too). They are ordinary billing instances of the account:
listed by ``/api/v1/instances/``, taking their offer out of the market, booting like any rent.

How many workers an endpoint keeps (:func:`wanted`): its ``cold_workers`` even with no load (the
console's "minimum workers"; the workergroup's own ``cold_workers`` is ignored, as on the real
service), more as load rises, never more than ``max_workers``. Load is set through the control plane
in workers' worth of traffic: a load of L asks for ``ceil(L / target_util)`` workers (a worker is
meant to run at ``target_util``). Workers are spread evenly over the endpoint's groups; surplus
workers (after the load falls) are released newest first. Only an ``active`` endpoint scales.

No background thread: :func:`reconcile` runs under the backend's lock at every API call (before and
after a change), at that call's clock time, so recruiting is deterministic for a given seed and
sequence of calls, and tests move time with the backend's clock.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import shlex
from collections.abc import Iterable
from datetime import UTC, datetime

from vast_pulumi.emulator import catalogue, instances
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.models import Account, Endpoint, Instance, JsonDict, State, Workergroup

# OpenAPI's default image for a rent (``/api/v0/asks/{id}/``), for a group with neither a template
# nor ``--image`` in its launch args.
DEFAULT_IMAGE = "vastai/base-image:@vastai-automatic-tag"
DEFAULT_DISK_GB = 8.0
# A host that does not answer cannot destroy the instance it runs (the source is silent on when an
# endpoint delete reports ``failed_workers``: this is the emulator's choice).
UNREACHABLE = frozenset({"offline", "unknown"})
# ``/get_endpoint_workers/`` states (worker-states doc, lower case as the CLI's benchmark compares).
WORKER_STATES: dict[str | None, str] = {
    None: "creating",
    "loading": "loading",
    "running": "idle",
    "stopped": "stopped",
}


def wanted(endpoint: Endpoint) -> int:
    """The number of workers the endpoint keeps: at least ``cold_workers``, at most ``max_workers``."""
    busy = math.ceil(round(endpoint.load / endpoint.target_util, 9)) if endpoint.load > 0 else 0
    return max(0, min(endpoint.max_workers, max(endpoint.cold_workers, busy)))


def workers(
    account: Account, *, endpoint_id: int | None = None, group_id: int | None = None
) -> list[Instance]:
    """The account's attached workers of an endpoint or a group, oldest first."""
    return [
        i
        for i in sorted(account.instances.values(), key=lambda i: i.id)
        if i.worker
        and i.destroying_since is None  # a worker being destroyed no longer counts
        and (endpoint_id is None or i.endpoint_id == endpoint_id)
        and (group_id is None or i.workergroup_id == group_id)
    ]


def reconcile(state: State, now: float, *, linger: bool) -> bool:
    """Recruit or release workers until every active endpoint has what it wants; True if any changed."""
    changed = False
    for account in state.accounts.values():
        _follow_moved_groups(account)
        for endpoint in sorted(account.endpoints.values(), key=lambda e: e.id):
            if endpoint.endpoint_state == "active":
                changed |= _scale(state, account, endpoint, now, linger=linger)
    return changed


def _follow_moved_groups(account: Account) -> None:
    """A group moved to another endpoint (``PUT`` with ``endpoint_id``) takes its workers along."""
    for worker in workers(account):
        group = account.workergroups.get(worker.workergroup_id or 0)
        if group is not None:
            worker.endpoint_id = group.endpoint_id


def _scale(state: State, account: Account, endpoint: Endpoint, now: float, *, linger: bool) -> bool:
    groups = sorted(
        (g for g in account.workergroups.values() if g.endpoint_id == endpoint.id), key=lambda g: g.id
    )
    if not groups:
        return False
    count = {g.id: len(workers(account, group_id=g.id)) for g in groups}
    target, changed = wanted(endpoint), False
    recruiting = list(groups)  # groups that found an offer so far
    while sum(count.values()) < target and recruiting:
        group = min(recruiting, key=lambda g: (count[g.id], g.id))
        if _recruit(state, account, group, now) is None:
            recruiting.remove(group)
            continue
        count[group.id] += 1
        changed = True
    while sum(count.values()) > target:
        group_id = max(count, key=lambda gid: (count[gid], gid))
        instances.destroy(account, workers(account, group_id=group_id)[-1].id, now, linger=linger)
        count[group_id] -= 1
        changed = True
    return changed


def _recruit(state: State, account: Account, group: Workergroup, now: float) -> Instance | None:
    """Rent the best-scoring offer matching the group's query; None when nothing can be rented."""
    image, disk, env = _launch_args(group.launch_args)
    query: JsonDict = {**group.search_query, "order": [["score", "desc"]], "limit": 1}
    body: JsonDict = {"disk": disk, "env": env}
    if group.template_hash is not None:
        body["template_hash_id"] = group.template_hash
    if image is not None or group.template_hash is None:
        body["image"] = image or DEFAULT_IMAGE
    try:
        offers = catalogue.search(state, {**query, "allocated_storage": disk})
        if not offers:
            return None
        contract = instances.create(state, account, int(offers[0]["id"]), body, now)
    except ApiError:
        return None  # the real autoscaler logs it and tries again later
    worker = account.instances[int(contract["new_contract"])]
    worker.worker, worker.workergroup_id, worker.endpoint_id = True, group.id, group.endpoint_id
    return worker


def _launch_args(launch_args: str | None) -> tuple[str | None, float, dict[str, str]]:
    """``--image``, ``--disk`` and ``--env`` from the group's create-instance style launch args.

    Read as the official CLI's ``create instance`` reads them (argparse: the last ``--env`` wins;
    ``vastai/utils.py`` ``parse_env``: ``-e KEY=VALUE`` and ``-p PORT`` tokens, others ignored), so a
    worker's environment carries what the group asked for, variables that identify it included.
    """
    try:
        words = shlex.split(launch_args or "")
    except ValueError:
        words = []
    image, disk, env = None, DEFAULT_DISK_GB, ""
    for flag, value in itertools.pairwise(words):
        if flag == "--image":
            image = value
        elif flag == "--disk":
            with contextlib.suppress(ValueError):
                disk = float(value)
        elif flag in ("--env", "-e"):
            env = value
    return image, disk, _env_of(env)


def _env_of(env: str) -> dict[str, str]:
    try:
        words = shlex.split(env)
    except ValueError:
        return {}
    result: dict[str, str] = {}
    for flag, value in itertools.pairwise(words):
        if flag == "-e" and "=" in value:
            key, _, val = value.partition("=")
            result[key] = val
        elif flag == "-p" and set(value) <= set("0123456789:tcp/udp"):
            result[f"-p {value}"] = "1"
    return result


def detach(account: Account, group_id: int) -> None:
    """A deleted group's workers stay, billing, tied to nothing (the official client's help says
    deleting a workergroup does not destroy its instances)."""
    for worker in workers(account, group_id=group_id):
        worker.workergroup_id = worker.endpoint_id = None


def destroy_for_endpoint(
    account: Account, endpoint_id: int, now: float, *, linger: bool
) -> tuple[list[int], list[int]]:
    """An endpoint delete destroys the workers still attached to its groups: ``(deleted, failed)``.

    A worker on an unreachable host fails and stays (detached, billing); workers of groups deleted
    earlier are not the endpoint's any more and keep running.
    """
    deleted, failed = [], []
    for worker in workers(account, endpoint_id=endpoint_id):
        override = worker.status_override or {}
        if override.get("actual_status") in UNREACHABLE:
            worker.workergroup_id = worker.endpoint_id = None
            failed.append(worker.id)
        else:
            instances.destroy(account, worker.id, now, linger=linger)
            deleted.append(worker.id)
    return deleted, failed


def tie(instance: Instance) -> JsonDict:
    """The worker's group and endpoint as its instance row shows them (ordinary rows have neither)."""
    if not instance.worker:
        return {}
    return {"workergroup_id": instance.workergroup_id, "endpoint_id": instance.endpoint_id}


def worker_rows(rows: Iterable[JsonDict], boot_seconds: float) -> list[JsonDict]:
    """Rendered worker instances as the autoscaler's ``/get_endpoint_workers/`` lists them."""
    return [_worker_row(row, boot_seconds) for row in rows]


def _worker_row(row: JsonDict, boot_seconds: float) -> JsonDict:
    status = WORKER_STATES.get(row["actual_status"], "error")
    perf = float(row.get("dlperf") or 0.0)
    running = row["actual_status"] == "running"
    ports: dict[str, list[dict[str, str]]] = row.get("ports") or {}
    first = next((p[0]["HostPort"] for p in ports.values() if p), None)
    return {
        "id": row["id"],
        "status": status,
        "gpu_name": row["gpu_name"],
        "cur_load": 0.0,
        "new_load": 0.0,
        "cur_load_rolling_avg": 0.0,
        "cur_perf": 0.0,
        "perf": perf,
        "measured_perf": perf,
        "dlperf": perf,
        "reliability": row.get("reliability2") or 0.0,
        "reqs_working": 0,
        "disk_usage": 0.0,
        "started_at": row["start_date"],
        "loaded_at": row["start_date"] + boot_seconds if running else 0.0,
        "url": f"http://{row['public_ipaddr']}:{first}" if running and first else "",
        "created_at": datetime.fromtimestamp(row["start_date"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
