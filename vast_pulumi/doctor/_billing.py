"""What the account pays for now: instances (serverless workers among them) and volumes, each marked
as made by vast-pulumi (it carries a marker) or not, as the orphan finder tells them apart.

Without the stacks' state the doctor cannot say whether a stack still records a marked object (that is
``vast-pulumi orphans``' job); it says whether vast-pulumi made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vast_pulumi._instance_rows import is_live
from vast_pulumi.orphans import default_name_marker, instance_marker

__all__ = ["Billed", "billing"]


@dataclass(frozen=True)
class Billed:
    kind: str  # "instance", "worker" or "volume"
    id: int
    dph: float | None  # $/hour it bills now, as the row says
    status: str
    managed: str  # who made it, by its marker

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "dph": self.dph,
            "status": self.status,
            "managed": self.managed,
        }


def billing(instances: Sequence[dict[str, Any]], volumes: Sequence[dict[str, Any]]) -> list[Billed]:
    found = [_instance(row) for row in instances if isinstance(row.get("id"), int)]
    found += [_volume(row) for row in volumes if isinstance(row.get("id"), int)]
    return found


def _instance(row: dict[str, Any]) -> Billed:
    marked = instance_marker(row)
    worker = row.get("workergroup_id") is not None or (marked is not None and marked[1] == "workergroup")
    if marked is None:
        managed = "no marker: not made by vast-pulumi"
    elif marked[1] == "instance":
        managed = "vast-pulumi Instance/Fleet (marker)"
    else:
        managed = "worker of a vast-pulumi Workergroup (its marker)"
    status = str(row.get("actual_status") or row.get("cur_state") or "starting")
    if not is_live(row):
        status += ", being destroyed"
    return Billed(
        "worker" if worker else "instance", int(row["id"]), _price(row.get("dph_total")), status, managed
    )


def _volume(row: dict[str, Any]) -> Billed:
    marked = default_name_marker(str(row.get("label") or ""))
    managed = "vast-pulumi Volume (default-name marker)" if marked else "no marker: not made by vast-pulumi"
    status = str(row.get("status") or "?")
    return Billed("volume", int(row["id"]), _price(row.get("storage_total_cost")), status, managed)


def _price(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
