"""Serverless workers: the instances a workergroup recruited, as its delete must find them.

A workergroup's recruits are ordinary billing instances of the account. Their environment carries the
group's ``launch_args`` ``--env``, hence the group's marker (``VAST_PULUMI_GROUP_MARKER``, see
:mod:`vast_pulumi._launch_args`). Their rows may name their group and endpoint (``workergroup_id``,
``endpoint_id``): the emulator's do, but Vast documents no such fields on instances (only ``/charges``
metadata uses the names), so a row may carry no tie at all. Deleting a group leaves its workers running,
tied to nothing: then only the marker still says whose they are.

Two rules keep a delete from touching what is not its own, whichever reading holds:

* a worker tied to another group that is still listed is that group's, whatever marker it carries (a
  replaced workergroup and its successor share a marker);
* a worker whose row carries no tie at all is taken by its marker only while no other listed group
  carries that marker: with a successor alive, the marker cannot say whose it is.

Recruiting is asynchronous on the real service (a separate autoscaler; the SDK warns workers may take
minutes to become visible): a rent in flight at the group's delete may land after it. So a delete keeps
looking for workers carrying the group's marker for :func:`late_recruit_seconds` after it
(:func:`sweep_late_recruits`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping

from vast_pulumi import _launch_args
from vast_pulumi._instance_rows import env_of
from vast_pulumi._teardown import POLL_SECONDS, Teardown, destroy_instances
from vast_pulumi.client import Row, VastClient

__all__ = [
    "LATE_RECRUIT_ENV",
    "detached_workers",
    "group_markers",
    "group_workers",
    "late_recruit_seconds",
    "now",
    "sweep_late_recruits",
]

# How long after a workergroup's delete its late recruits are looked for (seconds); the environment
# variable overrides it (a test against an emulator whose recruits land sooner, or a user who knows
# their autoscaler's lag).
LATE_RECRUIT_SECONDS = 30.0
LATE_RECRUIT_ENV = "VAST_PULUMI_LATE_RECRUIT_SECONDS"

_log = logging.getLogger(__name__)


def late_recruit_seconds() -> float:
    raw = os.environ.get(LATE_RECRUIT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else LATE_RECRUIT_SECONDS
    except ValueError:
        _log.warning("vast: ignoring %s=%r (not a number)", LATE_RECRUIT_ENV, raw)
        return LATE_RECRUIT_SECONDS


def now() -> float:
    """The clock a sweep's ``since`` is read on (this module's, so that a test can replace it)."""
    return time.monotonic()


def group_markers(groups: Iterable[Row]) -> dict[int, str | None]:
    """The listed workergroups: id -> the marker in their ``launch_args`` (None without one)."""
    return {
        int(row["id"]): _launch_args.marker_of(row.get("launch_args"))
        for row in groups
        if row.get("id") is not None
    }


def group_workers(
    rows: Iterable[Row], group_id: int, marker: str | None, live: Mapping[int, str | None]
) -> list[int]:
    """The workers of workergroup ``group_id``: those tied to it, and those that carry its marker and
    are tied to no listed group (``live``: the account's workergroups listed now, see
    :func:`group_markers`)."""
    successor = _shared(marker, live, excluding={group_id})
    return [
        int(row["id"])
        for row in rows
        if _group_of(row) == group_id
        or (marker and _group_marker(row) == marker and _untied_mine(row, live, successor))
    ]


def detached_workers(
    rows: Iterable[Row], markers: Collection[str], live: Mapping[int, str | None]
) -> list[int]:
    """Workers tied to no listed group that carry one of ``markers`` (deleted groups' markers); a row
    with no tie at all only while no listed group carries its marker."""
    shared = {marker for marker in markers if _shared(marker, live, excluding=set())}
    return [
        int(row["id"])
        for row in rows
        if (marker := _group_marker(row)) in markers and _untied_mine(row, live, marker in shared)
    ]


def sweep_late_recruits(
    client: VastClient,
    find: Callable[[], list[int]],
    *,
    since: float,
    window: float | None = None,
    poll: float = POLL_SECONDS,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> Teardown:
    """Until ``window`` seconds (default :func:`late_recruit_seconds`) after ``since`` (a
    ``clock()`` time: the group's delete), look for workers ``find`` names (reading the instance list)
    and destroy each new one, waiting until it is gone. ``sleep`` and ``clock`` default to this
    module's ``time`` (looked up at the call, so a test can replace it)."""
    sleep, clock = sleep or time.sleep, clock or time.monotonic
    outcome = Teardown()
    handled: set[int] = set()
    deadline = since + (late_recruit_seconds() if window is None else window)
    while clock() < deadline:
        sleep(poll)
        late = [worker for worker in find() if worker not in handled]
        if late:
            _log.warning("vast: destroying worker instance(s) %s, recruited after their group's delete", late)
            handled.update(late)
            done = destroy_instances(client, late)
            outcome.gone.extend(done.gone)
            outcome.failed.update(done.failed)
    return outcome


def _shared(marker: str | None, live: Mapping[int, str | None], *, excluding: Collection[int]) -> bool:
    """Whether another listed group carries ``marker`` (a successor of a replaced group)."""
    return bool(marker) and any(m == marker for gid, m in live.items() if gid not in excluding)


def _untied_mine(row: Row, live: Mapping[int, str | None], successor: bool) -> bool:
    """A marker match may be taken: tied to no listed group, and, for a row that carries no tie at
    all, no successor group shares the marker."""
    group = _group_of(row)
    if group is not None:
        return group not in live  # tied to a group that is gone: detached in all but name
    if "workergroup_id" in row:
        return True  # the row says "no group" (the tie was cleared by the group's delete)
    return not successor


def _group_of(row: Row) -> int | None:
    group = row.get("workergroup_id")
    return int(group) if isinstance(group, int | float) and not isinstance(group, bool) else None


def _group_marker(row: Row) -> str | None:
    return env_of(row).get(_launch_args.MARKER_ENV)
