"""Which reading of each disputed behaviour an account shows, from read answers alone.

Where Vast's own sources disagree or are silent (the 2026-12-07 audit), the emulator offers each
reading behind a switch (``vast_pulumi/emulator/readings.py``; the names and choices here are the
same, a test holds them together). A read call can tell some of them apart, given what is on the
account; the others need a write, and are reported as not observable read-only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vast_pulumi import _launch_args
from vast_pulumi._instance_rows import env_of
from vast_pulumi.doctor._exchanges import Exchange

__all__ = ["READINGS", "Answers", "Observation", "observe"]

# name -> (choices, the audit's row). The first choice is the emulator's default.
READINGS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "bid_field": (("bid", "listing"), "I1"),
    "ssh_list_empty": (("list", "404"), "K3"),
    "destroying_get": (("row", "gone"), "D1"),
    "delete_gone_error": (("not_found", "no_such_instance"), "D3"),
    "templateless_workergroup": (("accepted", "400"), "S3"),
    "volume_machine": (("any", "same_machine"), "V1"),
    "volume_name": (("lenient", "strict"), "V2"),
    "rate_limit_bodies": (("global", "per_route"), "R1"),
    "worker_recruit": (("sync", "late"), "S2"),
    "worker_ties": (("tied", "untied"), "S8"),
}
NOT_READ_ONLY = "not observable read-only"

# The 429 body each route documents (openapi.yaml), where it is not the usual {"detail": ...}: a JSON
# error on DELETE /instances/{id} (3774-3789) and DELETE /team/members/{id} (5869-5884), a bare {msg}
# on POST /team/invite, no body (plain text) on POST /template and GET /machines.
_GLOBAL_429 = "detail"
_DOCUMENTED_429 = {
    ("DELETE", "/api/v0/instances/{id}/"): "json",
    ("DELETE", "/api/v0/team/members/{id}/"): "json",
    ("POST", "/api/v0/team/invite/"): "msg",
    ("POST", "/api/v0/template/"): "text",
    ("GET", "/api/v0/machines/"): "text",
}
_VOLUME_NAME = re.compile(r"^\w{1,64}$")  # docs guides/instances/storage/volumes.mdx:125


@dataclass(frozen=True)
class Observation:
    reading: str
    choice: str | None  # the reading this account shows; None: not observed
    evidence: str

    def as_json(self) -> dict[str, Any]:
        return {"reading": self.reading, "choice": self.choice, "evidence": self.evidence}


@dataclass(frozen=True)
class Answers:
    """The final answer of each route (the last exchange of it), and every exchange."""

    exchanges: Sequence[Exchange]

    def last(self, method: str, route: str) -> Exchange | None:
        found = [e for e in self.exchanges if e.method == method and e.route == route]
        return found[-1] if found else None

    def rows(self, method: str, route: str, key: str) -> list[dict[str, Any]]:
        """The rows of every successful answer of the route (every page of a paged list)."""
        rows: list[dict[str, Any]] = []
        for exchange in self.exchanges:
            if (exchange.method, exchange.route) != (method, route) or exchange.status != 200:
                continue
            payload = exchange.payload()
            found = payload if key == "" else payload.get(key) if isinstance(payload, dict) else None
            rows += [row for row in found or [] if isinstance(row, dict)] if isinstance(found, list) else []
        return rows

    def instances(self) -> list[dict[str, Any]]:
        return self.rows("GET", "/api/v1/instances/", "instances")

    def workergroups(self) -> list[dict[str, Any]]:
        return self.rows("GET", "/api/v0/workergroups/", "results")


def observe(answers: Answers) -> list[Observation]:
    detectors: dict[str, Callable[[Answers], tuple[str | None, str]]] = {
        "bid_field": _bid_field,
        "ssh_list_empty": _ssh_list_empty,
        "destroying_get": _destroying_get,
        "templateless_workergroup": _templateless_workergroup,
        "volume_name": _volume_name,
        "volume_machine": _volume_machine,
        "rate_limit_bodies": _rate_limit_bodies,
        "worker_ties": _worker_ties,
    }
    found = []
    for name in READINGS:
        detector = detectors.get(name)
        choice, evidence = detector(answers) if detector else (None, NOT_READ_ONLY)
        found.append(Observation(name, choice, evidence))
    return found


def _ssh_list_empty(answers: Answers) -> tuple[str | None, str]:
    answer = answers.last("GET", "/api/v0/ssh/")
    if answer is None or answer.status is None:
        return None, "not observed: GET /api/v0/ssh/ got no answer"
    payload = answer.payload()
    if answer.status == 404:
        return "404", f"GET /api/v0/ssh/ answered 404: {_message(payload, answer.body)!r}"
    if answer.status == 200 and payload == []:
        return "list", "GET /api/v0/ssh/ answered [] on an account without keys"
    if answer.status == 200:
        return None, "not observed: the account has SSH keys (only a keyless account shows it)"
    return None, f"not observed: GET /api/v0/ssh/ answered {answer.status}"


def _bid_field(answers: Answers) -> tuple[str | None, str]:
    compared: list[tuple[Any, float, float]] = []
    for row in answers.instances():
        search = row.get("search")
        listed = _number(search.get("gpuCostPerHour")) if isinstance(search, dict) else None
        base = _number(row.get("dph_base"))
        if row.get("is_bid") is True and listed is not None and base is not None:
            compared.append((row.get("id"), listed, base))
    if not compared:
        return None, "not observed: no interruptible instance with search.gpuCostPerHour and dph_base"
    differing = [c for c in compared if not math.isclose(c[1], c[2], abs_tol=1e-9)]
    if differing:
        ident, listed, base = differing[0]
        return "bid", f"instance {ident}: search.gpuCostPerHour {listed:g} != its listing dph_base {base:g}"
    ident, listed, _ = compared[0]
    return "listing", (
        f"{len(compared)} interruptible(s), e.g. instance {ident}: search.gpuCostPerHour {listed:g} "
        "== dph_base (the listing price), not the bid (unless each bid equals its listing price)"
    )


def _destroying_get(answers: Answers) -> tuple[str | None, str]:
    answer = answers.last("GET", "/api/v0/instances/{id}/")
    if answer is None or answer.status is None:
        return None, "not observed: no instance on its way out is listed"
    payload = answer.payload()
    row = payload.get("instances") if isinstance(payload, dict) else None
    if answer.status == 200 and isinstance(row, dict) and row:
        return "row", f"{answer.path} of an instance being destroyed still answers its row"
    return "gone", f"{answer.path} of an instance the list still shows answers {answer.status} without a row"


def _templateless_workergroup(answers: Answers) -> tuple[str | None, str]:
    bare = [g for g in answers.workergroups() if not g.get("template_hash") and g.get("template_id") is None]
    if bare:
        return "accepted", f"workergroup {bare[0].get('id')} has no template (the API accepted it)"
    return None, f"{NOT_READ_ONLY} (no template-less workergroup on the account)"


def _volume_name(answers: Answers) -> tuple[str | None, str]:
    labels = [
        str(v.get("label")) for v in answers.rows("GET", "/api/v0/volumes/", "volumes") if v.get("label")
    ]
    loose = [label for label in labels if not _VOLUME_NAME.match(label)]
    if loose:
        return "lenient", f"a volume's name breaks ^\\w{{1,64}}$ ({len(loose[0])} characters, not all \\w)"
    return None, f"{NOT_READ_ONLY} (no volume named outside ^\\w{{1,64}}$ on the account)"


def _volume_machine(answers: Answers) -> tuple[str | None, str]:
    """An instance on one machine mounting a local volume of another shows the lenient reading."""
    machines = {v.get("id"): v.get("machine_id") for v in answers.rows("GET", "/api/v0/volumes/", "volumes")}
    for row in answers.instances():
        mounts = row.get("volume_info")
        for mount in mounts if isinstance(mounts, list) else []:
            volume = mount.get("id") if isinstance(mount, dict) else None
            where = machines.get(volume)
            if where is not None and row.get("machine_id") is not None and where != row.get("machine_id"):
                return "any", (
                    f"instance {row.get('id')} on machine {row.get('machine_id')} mounts volume {volume} "
                    f"of machine {where}"
                )
    return None, f"{NOT_READ_ONLY} (no instance mounts a volume of another machine)"


def _rate_limit_bodies(answers: Answers) -> tuple[str | None, str]:
    met = [e for e in answers.exchanges if e.status == 429 and not _is_search_quota(e)]
    if not met:
        return None, "not observed: no 429 met"
    for exchange in met:
        style, documented = _body_style(exchange), _documented_429(exchange)
        where = f"{exchange.method} {exchange.route} answered a 429 as {style!r}"
        if style == documented != _GLOBAL_429:
            return "per_route", f"{where}, the shape the spec gives that route"
        if style == _GLOBAL_429 != documented:
            return "global", f"{where}, where the spec gives {documented!r}"
        if style not in (documented, _GLOBAL_429):
            return None, f"{where}: neither reading ('global' {_GLOBAL_429!r}, 'per_route' {documented!r})"
    return None, (
        f"{len(met)} 429(s) met, all {_GLOBAL_429!r}: both readings give that shape on the routes read "
        "here (the spec documents other shapes only on writes)"
    )


def _worker_ties(answers: Answers) -> tuple[str | None, str]:
    groups = answers.workergroups()
    if not groups:
        return None, "not observed: no workergroup on the account"
    ids = {g.get("id") for g in groups}
    markers = {m for g in groups if (m := _launch_args.marker_of(g.get("launch_args")))}
    rows = answers.instances()
    tied = [r for r in rows if r.get("workergroup_id") is not None and r.get("workergroup_id") in ids]
    if tied:
        return "tied", f"worker {tied[0].get('id')} names its workergroup {tied[0].get('workergroup_id')}"
    marked = [r for r in rows if env_of(r).get(_launch_args.MARKER_ENV) in markers]
    if marked:
        return "untied", (
            f"{len(marked)} worker(s) carry a listed group's marker in their env, and none names a "
            "workergroup_id"
        )
    return None, "not observed: no worker row tied to a listed group or carrying its marker"


def _body_style(exchange: Exchange) -> str:
    payload = exchange.payload()
    if not isinstance(payload, dict):
        return "text"
    if "detail" in payload:
        return "detail"
    if payload.get("error") == "rate_limit_exceeded":
        return "json"
    return "msg" if "msg" in payload else "other"


def _documented_429(exchange: Exchange) -> str:
    return _DOCUMENTED_429.get((exchange.method, exchange.route), _GLOBAL_429)


def _is_search_quota(exchange: Exchange) -> bool:
    payload = exchange.payload()
    return isinstance(payload, dict) and payload.get("error") == "search_quota_exceeded"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _message(payload: Any, text: str) -> str:
    if isinstance(payload, dict):
        for key in ("msg", "message", "detail", "error"):
            if isinstance(payload.get(key), str):
                return str(payload[key])
    return " ".join(text.split())[:200]
