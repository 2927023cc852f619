"""Read an emulator account's inventory through the Vast API itself (not through Pulumi or our
client), so end-to-end tests check what really exists."""

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

    def _response(self, path: str, **params: Any) -> requests.Response:
        for _ in range(20):  # the emulator may enforce the real rate limits: wait them out
            response = requests.get(
                self.url + path,
                params={k: json.dumps(v) for k, v in params.items()},
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

    def ids(self) -> dict[str, set[int]]:
        return {
            "endpoints": {int(r["id"]) for r in self.endpoints()},
            "workergroups": {int(r["id"]) for r in self.workergroups()},
            "instances": {int(r["id"]) for r in self.instances()},
        }
