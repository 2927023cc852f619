"""Serverless workers: the instances a workergroup recruited, as its delete must find them.

A workergroup's recruits are ordinary billing instances of the account. Their rows name their group
and endpoint (``workergroup_id``, ``endpoint_id``), and their environment carries the group's
``launch_args`` ``--env``, hence the group's marker (``VAST_PULUMI_GROUP_MARKER``, see
:mod:`vast_pulumi._launch_args`). Deleting a group leaves its workers running, tied to nothing: then
only the marker still says whose they are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from vast_pulumi import _launch_args
from vast_pulumi._instance_rows import env_of
from vast_pulumi.client import Row

__all__ = ["detached_workers", "group_workers"]


def group_workers(rows: Iterable[Row], group_id: int, marker: str | None) -> list[int]:
    """The workers of workergroup ``group_id``: those tied to it, and the detached ones that carry its
    marker (left by an earlier delete of the group that could not finish)."""
    return [
        int(row["id"])
        for row in rows
        if _group_of(row) == group_id or (marker and _is_detached(row) and _group_marker(row) == marker)
    ]


def detached_workers(rows: Iterable[Row], markers: Collection[str]) -> list[int]:
    """Workers tied to no group any more that carry one of ``markers`` (groups' markers).

    A worker still tied to a group is that group's business, even with one of these markers: a
    replaced workergroup (moved to another endpoint) and its successor share a marker.
    """
    return [int(row["id"]) for row in rows if _is_detached(row) and _group_marker(row) in markers]


def _group_of(row: Row) -> int | None:
    group = row.get("workergroup_id")
    return int(group) if isinstance(group, int | float) and not isinstance(group, bool) else None


def _is_detached(row: Row) -> bool:
    return row.get("workergroup_id") is None


def _group_marker(row: Row) -> str | None:
    return env_of(row).get(_launch_args.MARKER_ENV)
