"""Orphans: objects on a Vast.ai account that vast-pulumi made but that no stack's state records.

A ``pulumi up`` killed after the API made something and before Pulumi wrote it down leaves such an
object behind, billing. The next ``pulumi up`` of that stack normally adopts it (by its marker); this
module finds what is left when that will not happen, and destroys it on request.

What counts as made by vast-pulumi is what carries its marker, and only that:

* an instance with ``VAST_PULUMI_MARKER`` in its environment;
* a workergroup with ``VAST_PULUMI_GROUP_MARKER`` in the ``--env`` of its ``launch_args``;
* an instance recruited by such a workergroup (``VAST_PULUMI_GROUP_MARKER`` in its environment), unless
  the group is recorded: a managed group's workers are the group's business;
* an endpoint with a *default* name, ``<resource name>-<first 8 hex of its marker>``, when those 8 hex
  are the marker of an ``Endpoint`` of a given stack (recorded, being created, or named so). Endpoints
  of stacks not given, and every endpoint named by the user, carry nothing that tells them from an
  endpoint made by hand: they are never listed.

"Recorded" means: its id is in the state of a given stack (for a ``Fleet``'s members: in its
``instance_ids``) (``pulumi stack export``). Everything marked
and not recorded is an orphan, so name every stack that uses the account: an object of a stack left
out is listed (and, with ``--destroy``, destroyed) too. Do not run it while a ``pulumi up`` of those
stacks is in progress: what that run has just made is not recorded yet.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vast_pulumi import _launch_args
from vast_pulumi._instance_rows import MARKER_ENV as INSTANCE_MARKER_ENV
from vast_pulumi._instance_rows import env_of
from vast_pulumi._teardown import destroy_instances, wait_until_unlisted
from vast_pulumi.client import Row, VastClient
from vast_pulumi.errors import VastApiError, VastAuthError, VastError

__all__ = [
    "Orphan",
    "StackState",
    "default_name_marker",
    "destroy",
    "find",
    "instance_marker",
    "read_stack",
    "state_of",
]

TYPES = {
    "pulumi-python:dynamic/vast:Endpoint": "endpoint",
    "pulumi-python:dynamic/vast:Workergroup": "workergroup",
    "pulumi-python:dynamic/vast:Instance": "instance",
}
ENDPOINT_TYPE = "pulumi-python:dynamic/vast:Endpoint"
FLEET_TYPE = "pulumi-python:dynamic/vast:Fleet"
DEFAULT_ORGANIZATION = "organization"  # what Pulumi's self-managed backends call every organization
_DEFAULT_NAME = re.compile(r"^(?P<resource>.+)-(?P<marker>[0-9a-f]{8})$")
_DEFAULT_NAME_ANY = re.compile(r"^(?P<resource>.+)[-_](?P<marker>[0-9a-f]{8})$")


class StateError(VastError, RuntimeError):
    """A stack's state could not be read: never taken for an empty state."""


@dataclass(frozen=True)
class Resource:
    """One vast-pulumi resource of a stack's state (``id`` None: a create that did not finish)."""

    stack: str
    name: str
    kind: str
    id: int | None
    marker: str | None


@dataclass
class StackState:
    """The vast-pulumi resources of one stack, from its ``pulumi stack export``."""

    organization: str
    project: str
    stack: str
    resources: list[Resource] = field(default_factory=list)

    def endpoint_marker(self, resource_name: str) -> str:
        """The marker an ``Endpoint`` named ``resource_name`` has in this stack (as the resource computes
        it)."""
        where = f"{self.organization}/{self.project}/{self.stack}/{ENDPOINT_TYPE}/{resource_name}"
        return hashlib.sha256(where.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Orphan:
    kind: str  # "instance", "workergroup" or "endpoint"
    id: int
    dph_total: float | None  # $/hour it bills; None for what does not bill by itself
    marker: str
    details: str
    origin: str | None = None  # the stack resource its marker belongs to, when a given stack has it

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "dph_total": self.dph_total,
            "marker": self.marker,
            "details": self.details,
            "origin": self.origin,
        }


# -- reading state ---------------------------------------------------------------------------------------


def read_stack(name: str, *, pulumi: str = "pulumi", cwd: str | None = None) -> StackState:
    """The state of stack ``name`` (``pulumi stack export``; secrets stay encrypted: none is needed)."""
    argv = [pulumi, "stack", "export", "--stack", name, "--non-interactive"]
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StateError(f"stack {name}: cannot run `pulumi stack export` ({error})") from None
    if done.returncode != 0:
        reason = " ".join(done.stderr.split())[:500] or f"exit status {done.returncode}"
        raise StateError(f"stack {name}: `pulumi stack export` failed: {reason}")
    organization = name.split("/")[0] if name.count("/") == 2 else DEFAULT_ORGANIZATION
    return state_of(_json(done.stdout, f"stack {name}"), organization=organization)


def state_of(export: Mapping[str, Any], *, organization: str = DEFAULT_ORGANIZATION) -> StackState:
    """The vast-pulumi resources of a ``pulumi stack export`` document."""
    deployment = export.get("deployment")
    if not isinstance(deployment, Mapping):
        raise StateError("not a `pulumi stack export` document (no deployment)")
    recorded = [r for r in deployment.get("resources") or [] if isinstance(r, Mapping)]
    pending = [
        op["resource"]
        for op in deployment.get("pending_operations") or []
        if isinstance(op, Mapping) and isinstance(op.get("resource"), Mapping)
    ]
    project, stack = _stack_of(recorded + pending)
    state = StackState(organization, project, stack)
    for row, finished in [*((r, True) for r in recorded), *((r, False) for r in pending)]:
        kind = TYPES.get(str(row.get("type")))
        if kind is not None:
            state.resources.append(_resource(stack, kind, row, finished=finished))
        elif row.get("type") == FLEET_TYPE and finished:
            state.resources.extend(_fleet_members(stack, row))
    return state


def _fleet_members(stack: str, row: Mapping[str, Any]) -> list[Resource]:
    """A fleet's members, recorded as instances (its ``instance_ids`` output)."""
    outputs = row.get("outputs")
    ids = outputs.get("instance_ids") if isinstance(outputs, Mapping) else None
    name = str(row.get("urn", "")).rsplit("::", 1)[-1]
    return [
        Resource(stack, f"{name}[{instance_id}]", "instance", int(instance_id), None)
        for instance_id in (ids if isinstance(ids, list) else [])
        if isinstance(instance_id, int | float) and not isinstance(instance_id, bool)
    ]


def _stack_of(rows: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """(project, stack) from a URN, ``urn:pulumi:STACK::PROJECT::TYPE::NAME``."""
    for row in rows:
        parts = str(row.get("urn", "")).removeprefix("urn:pulumi:").split("::")
        if len(parts) >= 4:
            return parts[1], parts[0]
    return "", ""


def _resource(stack: str, kind: str, row: Mapping[str, Any], *, finished: bool) -> Resource:
    marker = next(
        (
            str(props["_marker"])
            for props in (row.get("outputs"), row.get("inputs"))
            if isinstance(props, Mapping) and isinstance(props.get("_marker"), str)
        ),
        None,
    )
    raw_id = row.get("id")
    resource_id = int(str(raw_id)) if finished and str(raw_id or "").isdigit() else None
    return Resource(stack, str(row.get("urn", "")).rsplit("::", 1)[-1], kind, resource_id, marker)


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        raise StateError(f"{what}: the export is not JSON") from None
    if not isinstance(document, dict):
        raise StateError(f"{what}: the export is not a JSON object")
    return document


# -- finding -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    instances: list[Row]
    workergroups: list[Row]
    endpoints: list[Row]

    @classmethod
    def listed(cls, client: VastClient) -> _Account:
        return cls(client.list_instances(), client.list_workergroups(), client.list_endpoints())


def find(client: VastClient, states: Sequence[StackState]) -> list[Orphan]:
    """Everything on the account with a vast-pulumi marker that no state in ``states`` records."""
    return _orphans(_Account.listed(client), states)


def _orphans(account: _Account, states: Sequence[StackState]) -> list[Orphan]:
    resources = [resource for state in states for resource in state.resources]
    recorded = {(r.kind, r.id) for r in resources if r.id is not None}
    origins = {(r.kind, r.marker): f"{r.name} (stack {r.stack})" for r in resources if r.marker}
    managed_groups = {r.marker for r in resources if r.kind == "workergroup" and r.id is not None}
    found = [
        *_marked_workergroups(account.workergroups),
        *_marked_instances(account.instances, managed_groups),
        *_marked_endpoints(account.endpoints, states),
    ]
    return [
        replace(orphan, origin=origins.get((orphan.kind, orphan.marker)))
        for orphan in found
        if (orphan.kind, orphan.id) not in recorded
    ]


def instance_marker(row: Row) -> tuple[str, str] | None:
    """The vast-pulumi marker an instance row carries, and whose it is: ``"instance"`` (an
    ``Instance``'s or a ``Fleet`` member's) or ``"workergroup"`` (a worker recruited by a marked group)."""
    env = env_of(row)
    if marker := env.get(INSTANCE_MARKER_ENV):
        return marker, "instance"
    if group_marker := env.get(_launch_args.MARKER_ENV):
        return group_marker, "workergroup"
    return None


def default_name_marker(name: str) -> str | None:
    """The 8 hex of a marker a default name ends with, if it is one: ``<resource name>-<8 hex>``, or
    ``<resource name>_<8 hex>`` (a volume's, under Vast's volume name rule ``^\\w{1,64}$``)."""
    match = _DEFAULT_NAME_ANY.match(name)
    return match["marker"] if match else None


def _marked_instances(rows: list[Row], managed_groups: set[str | None]) -> Iterable[Orphan]:
    for row in rows:
        found = instance_marker(row)
        if found is None:
            continue
        marker, whose = found
        if whose == "instance":
            yield _instance(row, marker, "")
        elif marker not in managed_groups:
            yield _instance(row, marker, "worker of a workergroup no stack records; ")


def _instance(row: Row, marker: str, prefix: str) -> Orphan:
    hardware = f"{row.get('num_gpus') or '?'}x {row.get('gpu_name') or '?'}"
    status = row.get("actual_status") or row.get("cur_state") or "starting"
    label = f', label "{row["label"]}"' if row.get("label") else ""
    price = row.get("dph_total")
    dph = float(price) if isinstance(price, int | float) and not isinstance(price, bool) else None
    return Orphan("instance", int(row["id"]), dph, marker, f"{prefix}{hardware}, {status}{label}")


def _marked_workergroups(rows: list[Row]) -> Iterable[Orphan]:
    for row in rows:
        marker = _launch_args.marker_of(row.get("launch_args"))
        if marker:
            details = f"of endpoint {row.get('endpoint_id')}; its workers bill, listed as instances"
            yield Orphan("workergroup", int(row["id"]), None, marker, details)


def _marked_endpoints(rows: list[Row], states: Sequence[StackState]) -> Iterable[Orphan]:
    known = {
        r.marker for state in states for r in state.resources if r.kind == "endpoint" and r.marker is not None
    }
    for row in rows:
        name = str(row.get("endpoint_name") or "")
        match = _DEFAULT_NAME.match(name)
        if match is None:
            continue
        short = match["marker"]
        candidates = known | {state.endpoint_marker(match["resource"]) for state in states}
        marker = next((m for m in sorted(candidates) if m[:8] == short), None)
        if marker is not None:
            yield Orphan("endpoint", int(row["id"]), None, marker, f"name {name!r}; bills nothing by itself")


# -- destroying ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What :func:`destroy` achieved: gone (no longer listed), and what failed, with the reason."""

    gone: list[Orphan] = field(default_factory=list)
    failed: list[tuple[Orphan, str]] = field(default_factory=list)


def destroy(
    client: VastClient,
    orphans: Sequence[Orphan],
    *,
    timeout: float = 600.0,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Destroy ``orphans`` and wait until the API no longer lists them (at most ``timeout`` seconds).

    Workergroups go first, so that they stop recruiting; then the instances (waited for as every
    delete waits, see :mod:`vast_pulumi._teardown`); endpoints last (deleting one deletes its groups).
    An endpoint that still has a workergroup which is not an orphan is left alone: deleting the
    endpoint would delete that group too.
    """
    outcome = Outcome()
    kinds = {kind: [o for o in orphans if o.kind == kind] for kind in ("workergroup", "instance", "endpoint")}
    doomed_groups = {o.id for o in kinds["workergroup"]}
    groups = _delete_each(kinds["workergroup"], lambda o: client.delete_workergroup(o.id), outcome)
    _wait(client.list_workergroups, groups, outcome, timeout, poll, sleep)
    by_id = {o.id: o for o in kinds["instance"]}
    teardown = destroy_instances(client, by_id, timeout=timeout, poll=poll, sleep=sleep)
    outcome.gone += [by_id[i] for i in teardown.gone]
    outcome.failed += [(by_id[i], why) for i, why in teardown.failed.items()]
    endpoints = _delete_each(kinds["endpoint"], lambda o: _delete_endpoint(client, o, doomed_groups), outcome)
    _wait(client.list_endpoints, endpoints, outcome, timeout, poll, sleep)
    return outcome


def _delete_each(orphans: list[Orphan], delete: Callable[[Orphan], object], outcome: Outcome) -> list[Orphan]:
    """The orphans whose delete was accepted; the others are recorded as failed."""
    accepted = []
    for orphan in orphans:
        try:
            delete(orphan)
        except (VastApiError, _KeptError) as error:
            if isinstance(error, VastAuthError):
                raise
            outcome.failed.append((orphan, str(error)))
        else:
            accepted.append(orphan)
    return accepted


def _wait(
    listing: Callable[[], list[Row]],
    orphans: list[Orphan],
    outcome: Outcome,
    timeout: float,
    poll: float,
    sleep: Callable[[float], None],
) -> None:
    def listed() -> set[int]:
        return {int(row["id"]) for row in listing()}

    still = wait_until_unlisted(listed, [o.id for o in orphans], timeout=timeout, poll=poll, sleep=sleep)
    outcome.gone += [o for o in orphans if o.id not in still]
    outcome.failed += [(o, f"still listed after {timeout:g} s") for o in orphans if o.id in still]


class _KeptError(VastError, RuntimeError):
    """An orphan left alone on purpose."""


def _delete_endpoint(client: VastClient, orphan: Orphan, doomed_groups: set[int]) -> None:
    kept = [
        int(row["id"])
        for row in client.list_workergroups()
        if row.get("endpoint_id") == orphan.id and int(row["id"]) not in doomed_groups
    ]
    if kept:
        listed = ", ".join(map(str, kept))
        raise _KeptError(f"not deleted: it still serves workergroup(s) {listed}, which are not orphans")
    deletion = client.delete_endpoint(orphan.id)
    if deletion is not None and deletion.failed_workers:
        failed = ", ".join(map(str, deletion.failed_workers))
        raise _KeptError(f"deleted, but the API could not destroy its worker instance(s) {failed}")
