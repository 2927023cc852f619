"""Serverless workers: what Vast's autoscaler does for an endpoint's workergroups.

A workergroup recruits worker instances by renting offers that match its stored ``search_query``
(which holds its template's filters too). They are ordinary billing instances of the account:
listed by ``/api/v1/instances/``, taking their offer out of the market, booting like any rent.

The rules (:func:`targets`), as Vast's serverless docs give them (``guides/serverless/
serverless-parameters.mdx``, ``pricing.mdx``; the README's fidelity table cites each):

- load is in perf units per second: requests routed through ``/route/`` add their ``cost`` (the
  last :data:`LOAD_WINDOW` seconds' worth, per second), the control plane's knob adds workers' worth
  (``load`` x :data:`WORKER_PERF`). Every worker serves :data:`WORKER_PERF` (the sources benchmark
  each worker; one figure for all keeps the knob's unit and the route's in step);
- active capacity = ``max(min_load, load / target_util)``: ``min_load > 0`` always keeps an active
  worker; total capacity = ``max(active capacity x cold_mult, min_cold_load)``; total workers at least
  ``cold_workers`` (the console's "min workers"), at most ``max_workers`` (the endpoint's, and each
  group's own ``max_workers`` for that group);
- the workers beyond the active ones are inactive: they load (billing GPU, as every worker that
  loads), then stop (``intended_status`` stopped: storage billed only); an inactive worker is
  started again when load needs it, before anything new is rented;
- ``inactivity_timeout`` (> 0) keeps one active worker until that long after the last load;
  negative: always one; 0 or unset: no gating;
- surplus is released worst price-performance first (highest ``dph_total`` per perf);
- ``endpoint_state`` ``stopped``: every worker stops, nothing is recruited or released;
  ``suspended``: frozen (loading workers finish loading); only ``active`` scales.

Recruiting is synchronous by default: the rent is made in the call that decides it. Under the
reading ``worker_recruit=late`` the rent lands :data:`RECRUIT_SECONDS` later on the emulator's clock,
whatever happened meanwhile: a rent in flight when its group is deleted lands detached.

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
from dataclasses import dataclass
from datetime import UTC, datetime

from vast_pulumi.emulator import catalogue, instances, lifecycle
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.models import Account, Endpoint, Instance, JsonDict, State, Workergroup

# OpenAPI's default image for a rent (``/api/v0/asks/{id}/``), for a group with neither a template
# nor ``--image`` in its launch args.
DEFAULT_IMAGE = "vastai/base-image:@vastai-automatic-tag"
DEFAULT_DISK_GB = 8.0
# A host that does not answer cannot destroy the instance it runs (the source is silent on when an
# endpoint delete reports ``failed_workers``: this is the emulator's choice).
UNREACHABLE = frozenset({"offline", "unknown"})
# Load units per second one worker serves: the route API's default ``cost`` (openapi.yaml /route/,
# ``cost`` default 100), so a worker serves one default request a second. The emulator's choice.
WORKER_PERF = 100.0
# Routed cost counts as load over this many seconds (the engine's averaging window is undocumented).
LOAD_WINDOW = 10.0
# How long a rent takes to land under ``worker_recruit=late``: the SDK waits "a few minutes" for
# workers to become queryable (``vastai/serverless/client/client.py:486-495``); ours is shorter.
RECRUIT_SECONDS = 5.0
# The state of a worker that serves requests (the docs' "Ready (IDLE)"): the route API routes to it.
READY = "IDLE"


def workers(
    account: Account, *, endpoint_id: int | None = None, group_id: int | None = None
) -> list[Instance]:
    """The account's attached workers of an endpoint or a group, oldest first."""
    return [
        i for i in listed(account, endpoint_id=endpoint_id, group_id=group_id) if i.destroying_since is None
    ]


def listed(
    account: Account, *, endpoint_id: int | None = None, group_id: int | None = None
) -> list[Instance]:
    """Like :func:`workers`, with the workers being destroyed (shown DESTROYING), oldest first."""
    return [
        i
        for i in sorted(account.instances.values(), key=lambda i: i.id)
        if i.worker
        and (endpoint_id is None or i.endpoint_id == endpoint_id)
        and (group_id is None or i.workergroup_id == group_id)
    ]


# The rules.


@dataclass(frozen=True)
class Targets:
    active: int  # workers running
    total: int  # workers kept, active and inactive


def demand(endpoint: Endpoint, now: float) -> float:
    """The endpoint's load in perf units per second: routed cost plus the control-plane knob."""
    routed = sum(cost for at, cost in endpoint.routed if now - at < LOAD_WINDOW)
    return endpoint.load * WORKER_PERF + routed / LOAD_WINDOW


def _workers_for(capacity: float) -> int:
    return math.ceil(round(capacity / WORKER_PERF, 9)) if capacity > 0 else 0


def targets(endpoint: Endpoint, now: float) -> Targets:
    """How many workers the endpoint keeps active and in all (see the module docstring)."""
    active_capacity = max(endpoint.min_load, demand(endpoint, now) / endpoint.target_util)
    active = _workers_for(active_capacity)
    if active == 0 and _gated(endpoint, now):
        active = 1
    total_capacity = max(active_capacity * endpoint.cold_mult, endpoint.min_cold_load)
    total = max(endpoint.cold_workers, active, _workers_for(total_capacity))
    cap = max(0, endpoint.max_workers)
    return Targets(active=min(active, cap), total=min(total, cap))


def _gated(endpoint: Endpoint, now: float) -> bool:
    """Whether ``inactivity_timeout`` forbids scaling to zero active workers now."""
    timeout = endpoint.inactivity_timeout
    if not timeout:  # unset: "not applied"; 0: "disable inactivity gating entirely"
        return False
    if timeout < 0:  # "never allow scaling to zero"
        return True
    return endpoint.last_activity is not None and now - endpoint.last_activity < timeout


def note_activity(endpoint: Endpoint, now: float) -> None:
    """Load seen now: ``inactivity_timeout`` counts from here; routed cost past its window is dropped."""
    endpoint.routed = [entry for entry in endpoint.routed if now - entry[0] < LOAD_WINDOW]
    if endpoint.load > 0:  # the knob's load lasts until it is set again (routed load: ``route.count``)
        endpoint.last_activity = now


def wanted(endpoint: Endpoint, now: float) -> int:
    """The number of workers the endpoint keeps, active and inactive."""
    return targets(endpoint, now).total


# Reconciling.


def reconcile(state: State, now: float, *, boot_seconds: float, linger: bool, late: bool = False) -> bool:
    """Recruit, start, stop or release workers until every endpoint has what its rules want;
    True if anything changed."""
    changed = False
    for account in state.accounts.values():
        changed |= _land_recruits(state, account, now)
        _follow_moved_groups(account)
        for endpoint in sorted(account.endpoints.values(), key=lambda e: e.id):
            note_activity(endpoint, now)
            if endpoint.endpoint_state == "active":
                changed |= _scale(state, account, endpoint, now, boot_seconds, linger=linger, late=late)
            elif endpoint.endpoint_state == "stopped":
                changed |= _stop_all(account, endpoint, now)
            # suspended: frozen, the engine manages nothing (workers loading finish loading)
    return changed


def _follow_moved_groups(account: Account) -> None:
    """A group moved to another endpoint (``PUT`` with ``endpoint_id``) takes its workers along."""
    for worker in workers(account):
        group = account.workergroups.get(worker.workergroup_id or 0)
        if group is not None:
            worker.endpoint_id = group.endpoint_id


def _stop_all(account: Account, endpoint: Endpoint, now: float) -> bool:
    """``stopped``: "All workers are changed to and are billed in the inactive state"."""
    running = [w for w in _managed(account, endpoint.id) if w.intended_status == "running"]
    for worker in running:
        instances.set_state(worker, "stopped", now)
    return bool(running)


def _scale(
    state: State,
    account: Account,
    endpoint: Endpoint,
    now: float,
    boot_seconds: float,
    *,
    linger: bool,
    late: bool,
) -> bool:
    groups = sorted(
        (g for g in account.workergroups.values() if g.endpoint_id == endpoint.id), key=lambda g: g.id
    )
    if not groups:
        return False
    goal = targets(endpoint, now)
    changed = _release(account, endpoint, goal.total, now, linger=linger)
    changed |= _recruit_up_to(state, account, endpoint, groups, goal.total, now, late=late)
    changed |= _activate(account, endpoint, goal.active, now, boot_seconds)
    return changed


def _in_flight(account: Account, endpoint_id: int) -> int:
    return sum(1 for r in account.recruits if r["endpoint_id"] == endpoint_id)


def _release(account: Account, endpoint: Endpoint, total: int, now: float, *, linger: bool) -> bool:
    """Destroy the surplus, worst price-performance first (pricing.mdx: "the engine will remove the
    GPU with the worst price-performance first"); the newest first among equals."""
    present = workers(account, endpoint_id=endpoint.id)
    surplus = len(present) + _in_flight(account, endpoint.id) - total
    for worker in sorted(present, key=_price_performance, reverse=True)[: max(0, surplus)]:
        instances.destroy(account, worker.id, now, linger=linger)
    return surplus > 0 and bool(present)


def _price_performance(worker: Instance) -> tuple[float, int]:
    """Dollars per hour per perf unit (every worker's perf is :data:`WORKER_PERF`), then age."""
    return (float(worker.offer.get("dph_total") or 0.0) / WORKER_PERF, worker.id)


def _recruit_up_to(
    state: State,
    account: Account,
    endpoint: Endpoint,
    groups: list[Workergroup],
    total: int,
    now: float,
    *,
    late: bool,
) -> bool:
    """Rent workers for the endpoint's groups until it has ``total``: a new worker goes to the group
    with the fewest below its own ``max_workers`` (lowest id first)."""
    count = {g.id: len(workers(account, group_id=g.id)) for g in groups}
    for recruit in account.recruits:
        if recruit["group_id"] in count:
            count[recruit["group_id"]] += 1
    recruiting = [g for g in groups if count[g.id] < g.max_workers]
    changed = False
    while sum(count.values()) < total and recruiting:
        group = min(recruiting, key=lambda g: (count[g.id], g.id))
        if late:
            account.recruits.append(_planned(group, now + RECRUIT_SECONDS))
        elif _rent(state, account, _planned(group, now), now) is None:
            recruiting.remove(group)
            continue
        count[group.id] += 1
        changed = True
        if count[group.id] >= group.max_workers:
            recruiting.remove(group)
    return changed


def _activate(account: Account, endpoint: Endpoint, active: int, now: float, boot_seconds: float) -> bool:
    """Start inactive workers (best price-performance first) while fewer than ``active`` run; stop
    the loaded ones beyond it (worst first). A worker still loading finishes loading first: cold
    workers "load, then stop"."""
    present = sorted(_managed(account, endpoint.id), key=_price_performance)
    on = [w for w in present if w.intended_status == "running"]
    off = [w for w in present if w.intended_status == "stopped"]
    changed = False
    for worker in off[: max(0, active - len(on))]:
        instances.set_state(worker, "running", now)
        changed = True
    loaded = [w for w in on if _loaded(w, now, boot_seconds)]
    keep = sorted(on, key=lambda w: (w not in loaded, _price_performance(w)))[:active]
    for worker in loaded:
        if worker not in keep:
            instances.set_state(worker, "stopped", now)
            changed = True
    return changed


def _loaded(worker: Instance, now: float, boot_seconds: float) -> bool:
    return lifecycle.status(worker, now, boot_seconds).actual_status == "running"


def _managed(account: Account, endpoint_id: int) -> list[Instance]:
    """The workers the engine starts and stops: not those its host reported on (offline, exited)
    nor those their machine cannot run."""
    return [
        w
        for w in workers(account, endpoint_id=endpoint_id)
        if w.status_override is None and w.unschedulable is None
    ]


# Renting.


def _planned(group: Workergroup, due: float) -> JsonDict:
    """A rent decided for ``group``, with everything it needs should the group be gone when it lands."""
    return {
        "due": due,
        "group_id": group.id,
        "endpoint_id": group.endpoint_id,
        "search_query": group.search_query,
        "template_hash": group.template_hash,
        "launch_args": group.launch_args,
    }


def _land_recruits(state: State, account: Account, now: float) -> bool:
    """Rents in flight whose time has come land, tied to their group if it still exists."""
    due = [r for r in account.recruits if r["due"] <= now]
    account.recruits = [r for r in account.recruits if r["due"] > now]
    for recruit in due:
        _rent(state, account, recruit, recruit["due"])
    return bool(due)


def _rent(state: State, account: Account, plan: JsonDict, now: float) -> Instance | None:
    """Rent the best-scoring offer matching the plan's query; None when nothing can be rented."""
    image, disk, env = _launch_args(plan["launch_args"])
    query: JsonDict = {**plan["search_query"], "order": [["score", "desc"]], "limit": 1}
    body: JsonDict = {"disk": disk, "env": env}
    if plan["template_hash"] is not None:
        body["template_hash_id"] = plan["template_hash"]
    if image is not None or plan["template_hash"] is None:
        body["image"] = image or DEFAULT_IMAGE
    try:
        offers = catalogue.search(state, {**query, "allocated_storage": disk})
        if not offers:
            return None
        contract = instances.create(state, account, int(offers[0]["id"]), body, now)
    except ApiError:
        return None  # the real autoscaler logs it and tries again later
    worker = account.instances[int(contract["new_contract"])]
    group = account.workergroups.get(plan["group_id"])
    worker.worker = True
    if group is not None:  # a rent that lands after its group's delete is tied to nothing
        worker.workergroup_id, worker.endpoint_id = group.id, group.endpoint_id
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


# Deletes.


def detach(account: Account, group_id: int) -> None:
    """A deleted group's workers stay, billing, tied to nothing (the official client's help says
    deleting a workergroup does not destroy its instances). Its rents in flight still land."""
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


# What clients see.


def tie(instance: Instance, *, tied: bool = True) -> JsonDict:
    """The worker's group and endpoint as its instance row shows them (ordinary rows have neither;
    under the reading ``worker_ties=untied`` no row has them)."""
    if not instance.worker or not tied:
        return {}
    return {"workergroup_id": instance.workergroup_id, "endpoint_id": instance.endpoint_id}


def worker_state(instance: Instance, now: float, boot_seconds: float) -> str:
    """The worker's state as the docs' CLI and logs name them (``guides/serverless/worker-states.mdx``;
    ``UNAVAIL``: ``vastai/cli/commands/benchmarks.py:58`` treats ``unavail`` as terminal)."""
    if instance.destroying_since is not None:
        return "DESTROYING"
    override = instance.status_override
    if override is not None:
        return "UNAVAIL" if override.get("actual_status") in UNREACHABLE else "ERROR"
    if instance.unschedulable is not None:
        return "ERROR" if instance.unschedulable["actual_status"] == "created" else "CREATED"
    if instance.intended_status == "stopped":
        return "STOPPED"
    status = lifecycle.status(instance, now, boot_seconds).actual_status
    if status == "running":
        return READY
    if status is None:
        return "CREATING"
    if not instance.first_boot:
        return "STARTING"  # "starting up after initial boot (not first time)"
    # First boot: docker pull/run (LOADING), then the model's first load (MODEL_LOADING), halves.
    return "LOADING" if now - instance.phase_started < boot_seconds * 0.6 else "MODEL_LOADING"


def worker_rows(
    found: Iterable[tuple[Instance, JsonDict]], now: float, boot_seconds: float
) -> list[JsonDict]:
    """Workers (each with its rendered instance row) as ``/get_endpoint_workers/`` lists them."""
    return [_worker_row(instance, row, now, boot_seconds) for instance, row in found]


def worker_url(row: JsonDict) -> str:
    """The worker's HTTP address: its first port mapping that is not SSH's 22 (openapi.yaml:4396
    shows ``http://IP:8000``); empty while it has none."""
    ports: dict[str, list[dict[str, str]]] = row.get("ports") or {}
    port = next((p[0]["HostPort"] for name, p in ports.items() if p and not name.startswith("22/")), None)
    return f"http://{row['public_ipaddr']}:{port}" if port else ""


def _worker_row(instance: Instance, row: JsonDict, now: float, boot_seconds: float) -> JsonDict:
    status = worker_state(instance, now, boot_seconds)
    ready = status == READY
    return {
        "id": row["id"],
        "status": status,
        "gpu_name": row["gpu_name"],
        "cur_load": 0.0,
        "new_load": 0.0,
        "cur_load_rolling_avg": 0.0,
        "cur_perf": WORKER_PERF if ready else 0.0,
        "perf": WORKER_PERF,
        # "measured_perf is only real once status==idle; before that it's a dlperf placeholder"
        # (vastai/cli/commands/benchmarks.py:585)
        "measured_perf": WORKER_PERF if ready else float(row.get("dlperf") or 0.0),
        "dlperf": float(row.get("dlperf") or 0.0),
        "reliability": row.get("reliability2") or 0.0,
        "reqs_working": 0,
        "disk_usage": 0.0,
        "started_at": row["start_date"],
        "loaded_at": instance.phase_started + boot_seconds if ready else 0.0,
        "url": worker_url(row) if ready else "",
        "created_at": datetime.fromtimestamp(row["start_date"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
