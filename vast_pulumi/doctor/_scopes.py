"""What a key may do, as far as the API says: the scope each route the provider uses requires.

From Vast's server-side route table (``api_scopes.json`` in vast-ai/vast-cli ``scripts/data/``,
"generated from vast/web/paths.py + vast/web/scope.json"). ``GET /api/v0/users/current/`` names no
scopes of the key, so a read can only show the read scopes working (or refused, 403); whether the key
may write is not observable without writing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vast_pulumi.doctor._exchanges import Exchange

__all__ = ["READ_SCOPES", "WRITE_SCOPES", "ScopeStatus", "scopes"]

# The routes the doctor reads -> the scope each requires.
READ_SCOPES: Mapping[tuple[str, str], str] = {
    ("GET", "/api/v0/users/current/"): "user_read",
    ("GET", "/api/v1/instances/"): "instance_read",
    ("GET", "/api/v0/instances/{id}/"): "instance_read",
    ("GET", "/api/v0/endptjobs/"): "misc",
    ("GET", "/api/v0/workergroups/"): "misc",
    ("GET", "/api/v0/ssh/"): "user_read",
    ("GET", "/api/v0/secrets/"): "user_read",
    ("GET", "/api/v0/template/"): "user_read",
    ("GET", "/api/v0/volumes/"): "instance_read",
    ("POST", "/api/v0/bundles/"): "misc",
}
# Scopes a `pulumi up`/`destroy` needs, and for which resources.
WRITE_SCOPES: Mapping[str, str] = {
    "instance_write": "Instance, Fleet, Volume (rent, start/stop, destroy, keys on instances)",
    "misc": "Endpoint, Workergroup (create, update, delete)",
    "user_write": "Template, SshKey, EnvVar (create, update, delete)",
}


@dataclass(frozen=True)
class ScopeStatus:
    scope: str
    status: str  # "works", "refused (403)", or why it is not known
    needed_for: str

    def as_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "status": self.status, "needed_for": self.needed_for}


def scopes(exchanges: Sequence[Exchange]) -> list[ScopeStatus]:
    seen: dict[str, set[int]] = {}
    for exchange in exchanges:
        scope = READ_SCOPES.get((exchange.method, exchange.route))
        if scope is not None and exchange.status is not None:
            seen.setdefault(scope, set()).add(exchange.status)
    found = []
    for scope in sorted(set(READ_SCOPES.values())):
        statuses = seen.get(scope, set())
        routes = ", ".join(sorted({route for (_, route), s in READ_SCOPES.items() if s == scope}))
        uses = f"reading {routes}" + (f"; writing {WRITE_SCOPES[scope]}" if scope in WRITE_SCOPES else "")
        found.append(ScopeStatus(scope, _status(statuses), uses))
    found += [
        ScopeStatus(scope, "not observable read-only", f"writing {what}")
        for scope, what in WRITE_SCOPES.items()
        if scope not in READ_SCOPES.values()
    ]
    return found


def _status(statuses: set[int]) -> str:
    if 403 in statuses:
        return "refused (403)"
    return "works" if any(200 <= s < 300 for s in statuses) else "not tried"
