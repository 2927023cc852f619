"""Orphans: objects on a Vast.ai account that vast-pulumi made but that no stack's state records.

A ``pulumi up`` killed after the API made something and before Pulumi wrote it down leaves such an
object behind, billing. The next ``pulumi up`` of that stack normally adopts it (by its marker); this
module finds what is left when that will not happen, and destroys it on request.

What counts as made by vast-pulumi is what carries its marker, and only that (each resource declares
where its marker rides and how its orphans are found in :mod:`vast_pulumi._registry`):

* an instance with ``VAST_PULUMI_MARKER`` in its environment (a ``Fleet``'s members included);
* a workergroup with ``VAST_PULUMI_GROUP_MARKER`` in the ``--env`` of its ``launch_args``;
* an instance recruited by such a workergroup (``VAST_PULUMI_GROUP_MARKER`` in its environment), unless
  the group is recorded: a managed group's workers are the group's business;
* an SSH key whose last comment word is ``vast-pulumi:<marker>``;
* an endpoint, volume or template with a *default* name, ``<resource name>-<first 8 hex of its marker>``,
  when those 8 hex are the marker of a resource of that type of a given stack (recorded, being created,
  or named so) or of a stack removed with ``pulumi stack rm --force`` named by ``--removed-stack``.
  Objects of stacks not named, and every object named by the user, carry nothing that tells them from
  one made by hand: they are never listed.
* never an env var: the API keeps nothing but its name and value.

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

from vast_pulumi import _launch_args, _registry
from vast_pulumi._instance_rows import MARKER_ENV as INSTANCE_MARKER_ENV
from vast_pulumi._instance_rows import env_of
from vast_pulumi._registry import Orphans, ResourceKind
from vast_pulumi._teardown import destroy_instances, wait_until_unlisted
from vast_pulumi.client import Row, VastClient
from vast_pulumi.errors import KeptError, StateError, VastApiError, VastAuthError

__all__ = [
    "Orphan",
    "StackState",
    "StateError",
    "default_name_marker",
    "destroy",
    "find",
    "instance_marker",
    "read_stack",
    "removed_stack",
    "state_of",
    "unmatched_endpoints",
]

ENDPOINT_TYPE = "pulumi-python:dynamic/vast:Endpoint"
DEFAULT_ORGANIZATION = "organization"  # what Pulumi's self-managed backends call every organization
_DEFAULT_NAME = re.compile(r"^(?P<resource>.+)-(?P<marker>[0-9a-f]{8})$")
_DEFAULT_NAME_ANY = re.compile(r"^(?P<resource>.+)[-_](?P<marker>[0-9a-f]{8})$")


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

    def marker(self, type_token: str, resource_name: str) -> str:
        """The marker a resource of type ``type_token`` named ``resource_name`` has in this stack (as
        ``VastResource.marker`` computes it)."""
        where = f"{self.organization}/{self.project}/{self.stack}/{type_token}/{resource_name}"
        return hashlib.sha256(where.encode()).hexdigest()[:16]

    def endpoint_marker(self, resource_name: str) -> str:
        return self.marker(ENDPOINT_TYPE, resource_name)


@dataclass(frozen=True)
class Orphan:
    kind: str  # a registry kind's orphan_kind: "instance", "workergroup", "endpoint", "volume", ...
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


def removed_stack(name: str) -> StackState:
    """A stack removed with ``pulumi stack rm --force``, named ``[ORGANIZATION/]PROJECT/STACK``: it records
    nothing, but the default names of its endpoints, volumes and templates still carry its markers."""
    parts = name.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise StateError(f"--removed-stack {name}: expected PROJECT/STACK or ORGANIZATION/PROJECT/STACK")
    organization = parts[0] if len(parts) == 3 else DEFAULT_ORGANIZATION
    return StackState(organization, parts[-2], parts[-1])


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
        kind = _registry.by_token(str(row.get("type")))
        if kind is None or kind.orphan_kind is None:
            continue
        if kind.orphans is Orphans.AS_INSTANCES:
            state.resources.extend(_fleet_members(stack, row) if finished else [])
        else:
            state.resources.append(_resource(stack, kind.orphan_kind, row, finished=finished))
    return state


def _fleet_members(stack: str, row: Mapping[str, Any]) -> list[Resource]:
    """A fleet's members, recorded as instances (its ``instance_ids`` output)."""
    outputs = row.get("outputs")
    # instanceIds in a provider plugin stack's state (its property names are camelCase).
    ids = outputs.get("instance_ids", outputs.get("instanceIds")) if isinstance(outputs, Mapping) else None
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


def _listing_kinds() -> list[ResourceKind]:
    """One resource per kind of object the account lists (a fleet's members are instances)."""
    kinds: dict[str, ResourceKind] = {}
    for kind in _registry.RESOURCES:
        if kind.orphan_kind is not None and kind.orphans is not Orphans.AS_INSTANCES:
            kinds.setdefault(kind.orphan_kind, kind)
    return list(kinds.values())


def _listed(client: VastClient) -> dict[str, list[Row]]:
    """The account's objects of every kind an orphan can be, by orphan kind."""
    return {
        kind.orphan_kind: getattr(client, str(kind.list_call))()
        for kind in _listing_kinds()
        if kind.orphan_kind is not None
    }


def find(client: VastClient, states: Sequence[StackState]) -> list[Orphan]:
    """Everything on the account with a vast-pulumi marker that no state in ``states`` records."""
    return _orphans(_listed(client), states)


def unmatched_endpoints(client: VastClient, states: Sequence[StackState]) -> list[Row]:
    """Endpoints named like a generated default (``<resource name>-<8 hex>``) whose 8 hex are the
    marker of no ``Endpoint`` the given stacks have or could have.

    Such a name carries only a hash of organization, project, stack and resource name: an endpoint of
    a stack that is not given (a removed one, say) cannot be told from one a user named so by hand, and
    is never listed as an orphan. "No orphans" must not hide it: the command names these instead."""
    rows = client.list_endpoints()
    recognised = {orphan.id for orphan in FINDERS["Endpoint"](rows, _Context(states, set()))}
    return [
        row
        for row in rows
        if _DEFAULT_NAME.match(str(row.get("endpoint_name") or "")) and int(row["id"]) not in recognised
    ]


@dataclass(frozen=True)
class _Context:
    states: Sequence[StackState]
    managed_groups: set[str | None]


def _orphans(listed: Mapping[str, list[Row]], states: Sequence[StackState]) -> list[Orphan]:
    resources = [resource for state in states for resource in state.resources]
    recorded = {(r.kind, r.id) for r in resources if r.id is not None}
    origins = {(r.kind, r.marker): f"{r.name} (stack {r.stack})" for r in resources if r.marker}
    managed_groups = {r.marker for r in resources if r.kind == "workergroup" and r.id is not None}
    context = _Context(states, managed_groups)
    found = [
        orphan
        for kind in _listing_kinds()
        for orphan in FINDERS[kind.name](listed.get(str(kind.orphan_kind), []), context)
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


def _marked_instances(rows: list[Row], context: _Context) -> Iterable[Orphan]:
    for row in rows:
        found = instance_marker(row)
        if found is None:
            continue
        marker, whose = found
        if whose == "instance":
            yield _instance(row, marker, "")
        elif marker not in context.managed_groups:
            yield _instance(row, marker, "worker of a workergroup no stack records; ")


def _instance(row: Row, marker: str, prefix: str) -> Orphan:
    hardware = f"{row.get('num_gpus') or '?'}x {row.get('gpu_name') or '?'}"
    status = row.get("actual_status") or row.get("cur_state") or "starting"
    label = f', label "{row["label"]}"' if row.get("label") else ""
    details = f"{prefix}{hardware}, {status}{label}"
    return Orphan("instance", int(row["id"]), _number(row.get("dph_total")), marker, details)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _marked_workergroups(rows: list[Row], _context: _Context) -> Iterable[Orphan]:
    for row in rows:
        marker = _launch_args.marker_of(row.get("launch_args"))
        if marker:
            details = f"of endpoint {row.get('endpoint_id')}; its workers bill, listed as instances"
            yield Orphan("workergroup", int(row["id"]), None, marker, details)


def _marked_ssh_keys(rows: list[Row], _context: _Context) -> Iterable[Orphan]:
    for row in rows:
        words = str(row.get("key") or row.get("public_key") or "").split()
        last = words[-1] if len(words) > 2 else ""
        if last.startswith(SSH_KEY_MARKER_PREFIX) and len(last) > len(SSH_KEY_MARKER_PREFIX):
            details = f"{words[0]} key; bills nothing by itself"
            yield Orphan("ssh_key", int(row["id"]), None, last.removeprefix(SSH_KEY_MARKER_PREFIX), details)


def _by_default_name(
    type_token: str, kind: str, name_of: Callable[[Row], str], details: Callable[[Row, str], str]
) -> Callable[[list[Row], _Context], Iterable[Orphan]]:
    """A finder of objects whose default name, ``<resource name>-<8 hex>`` (``_`` for a volume, by Vast's
    volume name rule), carries the 8 hex of the marker of a resource of ``type_token`` in a given stack."""

    # The same resource through the provider plugin has a marker of its own type token.
    registered = _registry.by_token(type_token)
    tokens = (type_token, *((registered.plugin_token,) if registered is not None else ()))

    def find(rows: list[Row], context: _Context) -> Iterable[Orphan]:
        known = {r.marker for state in context.states for r in state.resources if r.kind == kind and r.marker}
        for row in rows:
            name = name_of(row)
            match = _DEFAULT_NAME_ANY.match(name)
            if match is None:
                continue
            candidates = known | {
                state.marker(token, match["resource"]) for state in context.states for token in tokens
            }
            marker = next((m for m in sorted(candidates) if m[:8] == match["marker"]), None)
            if marker is not None:
                dph = _number(row.get("dph_total", row.get("storage_total_cost")))
                yield Orphan(kind, int(row["id"]), dph, marker, details(row, name))

    return find


def _volume_details(row: Row, name: str) -> str:
    return f"name {name!r}, {row.get('disk_space') or '?'} GB on machine {row.get('machine_id') or '?'}"


SSH_KEY_MARKER_PREFIX = "vast-pulumi:"  # as vast_pulumi.sshkey writes it (tests/unit/test_orphans.py)

# How each resource's orphans are found, by registry name (tests/unit/test_registry.py: every resource
# whose orphans can be found has its finder).
FINDERS: dict[str, Callable[[list[Row], _Context], Iterable[Orphan]]] = {
    "Endpoint": _by_default_name(
        "pulumi-python:dynamic/vast:Endpoint",
        "endpoint",
        lambda row: str(row.get("endpoint_name") or ""),
        lambda _row, name: f"name {name!r}; bills nothing by itself",
    ),
    "Workergroup": _marked_workergroups,
    "Instance": _marked_instances,
    "Template": _by_default_name(
        "pulumi-python:dynamic/vast:Template",
        "template",
        lambda row: str(row.get("name") or ""),
        lambda row, name: f"name {name!r}, hash {row.get('hash_id')}; bills nothing by itself",
    ),
    "SshKey": _marked_ssh_keys,
    "Volume": _by_default_name(
        "pulumi-python:dynamic/vast:Volume",
        "volume",
        lambda row: str(row.get("label") or ""),
        _volume_details,
    ),
}


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
    delete waits, see :mod:`vast_pulumi._teardown`); endpoints next (deleting one deletes its groups);
    then what those used: volumes (once no instance mounts them), templates and SSH keys, in
    :data:`DESTROY_ORDER`. An endpoint that still has a workergroup which is not an orphan is left
    alone: deleting the endpoint would delete that group too.
    """
    outcome = Outcome()
    kinds = {kind: [o for o in orphans if o.kind == kind] for kind in DESTROY_ORDER}
    doomed_groups = {o.id for o in kinds["workergroup"]}
    for kind in DESTROY_ORDER:
        if kind == "instance":
            by_id = {o.id: o for o in kinds["instance"]}
            teardown = destroy_instances(client, by_id, timeout=timeout, poll=poll, sleep=sleep)
            outcome.gone += [by_id[i] for i in teardown.gone]
            outcome.failed += [(by_id[i], why) for i, why in teardown.failed.items()]
            continue
        resource = _kind_of(kind)
        deleted = _delete_each(kinds[kind], _deleter(client, resource, doomed_groups), outcome)
        _wait(getattr(client, str(resource.list_call)), deleted, outcome, timeout, poll, sleep)
    return outcome


# Every kind an orphan can be (tests/unit/test_registry.py checks the registry's are all here).
DESTROY_ORDER = ("workergroup", "instance", "endpoint", "volume", "template", "ssh_key")


def _deleter(
    client: VastClient, resource: ResourceKind, doomed_groups: set[int]
) -> Callable[[Orphan], object]:
    """How one orphan of ``resource`` is deleted: by the registry's delete call, but an endpoint only
    once no workergroup but orphans depends on it."""
    if resource.orphan_kind == "endpoint":
        return lambda orphan: _delete_endpoint(client, orphan, doomed_groups)
    delete: Callable[[int], object] = getattr(client, str(resource.delete_call))
    return lambda orphan: delete(orphan.id)


def _kind_of(orphan_kind: str) -> ResourceKind:
    return next(kind for kind in _listing_kinds() if kind.orphan_kind == orphan_kind)


def _delete_each(orphans: list[Orphan], delete: Callable[[Orphan], object], outcome: Outcome) -> list[Orphan]:
    """The orphans whose delete was accepted; the others are recorded as failed."""
    accepted = []
    for orphan in orphans:
        try:
            delete(orphan)
        except (VastApiError, KeptError) as error:
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


def _delete_endpoint(client: VastClient, orphan: Orphan, doomed_groups: set[int]) -> None:
    kept = [
        int(row["id"])
        for row in client.list_workergroups()
        if row.get("endpoint_id") == orphan.id and int(row["id"]) not in doomed_groups
    ]
    if kept:
        listed = ", ".join(map(str, kept))
        raise KeptError(f"not deleted: it still serves workergroup(s) {listed}, which are not orphans")
    deletion = client.delete_endpoint(orphan.id)
    if deletion is not None and deletion.failed_workers:
        failed = ", ".join(map(str, deletion.failed_workers))
        raise KeptError(f"deleted, but the API could not destroy its worker instance(s) {failed}")
