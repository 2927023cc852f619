"""Read an emulator account's inventory through the Vast API itself (not through Pulumi or our
client), so end-to-end tests check what really exists.

A workergroup's workers are told by the autoscaler's own route (``/get_workergroup_workers/``), not by
the instance rows: under the reading ``worker_ties=untied`` a row names no group, and under
``worker_recruit=late`` a recruit lands seconds after the ``up`` that made its group
(:meth:`VastInventory.await_workers` waits for it)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class VastInventory:
    url: str
    api_key: str

    def _response(self, path: str, body: Any = None, **params: Any) -> requests.Response:
        for _ in range(20):  # the emulator may enforce the real rate limits: wait them out
            response = requests.request(
                "GET" if body is None else "POST",
                self.url + path,
                params={k: json.dumps(v) for k, v in params.items()},
                json=body,
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=10,
            )
            if response.status_code != 429:
                break
            time.sleep(1.0)
        return response

    def _get(self, path: str, **params: Any) -> Any:
        response = self._response(path, **params)
        response.raise_for_status()
        return response.json()

    def endpoints(self) -> list[dict[str, Any]]:
        response = self._response("/api/v0/endptjobs/")
        # The API lists an account without endpoints as 400 "No endpoints for user found".
        if response.status_code == 400 and response.json().get("msg") == "No endpoints for user found":
            return []
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json().get("results") or []
        return rows

    def workergroups(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._get("/api/v0/workergroups/").get("results") or []
        return rows

    def instances(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"limit": 25}
            if token:
                params["after_token"] = token
            page = self._get("/api/v1/instances/", **params)
            rows.extend(page.get("instances") or [])
            token = page.get("next_token")
            if not token:
                return rows

    def instance(self, instance_id: int | str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = self._get(f"/api/v0/instances/{instance_id}/").get("instances")
        return row

    def group_workers(self, group_id: int) -> set[int]:
        """The workers the autoscaler lists for workergroup ``group_id`` (those being destroyed too)."""
        answer = self._response("/get_workergroup_workers/", body={"id": group_id})
        answer.raise_for_status()
        listed = answer.json()
        assert isinstance(listed, dict), f"workergroup {group_id}'s workers: {listed!r}"
        return {int(worker["id"]) for worker in listed["workers"]}

    def workers(self) -> set[int]:
        """The workers of every listed workergroup."""
        return {worker for row in self.workergroups() for worker in self.group_workers(int(row["id"]))}

    def rented(self) -> tuple[set[int], set[int]]:
        """The account's instances: (those no listed workergroup recruited, the groups' workers). The
        workers are read after the instances: a recruit that lands in between is in neither part, never
        taken for an instance of no group."""
        listed = {int(row["id"]) for row in self.instances()}
        workers = self.workers()
        return listed - workers, listed & workers

    def await_workers(self, count: int, group_id: int | None = None, bound: float = 30.0) -> set[int]:
        """The workers of the listed workergroups (of ``group_id`` only, if given), once they are
        ``count`` and listed as instances. Recruits may land seconds after the decision (reading
        ``worker_recruit=late``): this waits for them, at most ``bound`` seconds, so that a test
        snapshots the account as the autoscaler left it. At once when they are there already."""
        deadline = time.monotonic() + bound
        while True:
            found = self.rented()[1] if group_id is None else self.group_workers(group_id)
            if len(found) == count:
                return found
            if time.monotonic() > deadline:
                whose = "the workergroups" if group_id is None else f"workergroup {group_id}"
                raise AssertionError(f"{whose}: {count} worker(s) expected, {sorted(found)} in {bound:g} s")
            time.sleep(0.2)

    def ids(self) -> dict[str, set[int]]:
        return {
            "endpoints": {int(r["id"]) for r in self.endpoints()},
            "workergroups": {int(r["id"]) for r in self.workergroups()},
            "instances": {int(r["id"]) for r in self.instances()},
        }
