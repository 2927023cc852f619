"""What one doctor run found, from its exchanges alone (live, or a recording replayed).

Exit codes, for CI: 0 everything as the provider expects; 1 divergences (an answer's shape differs from
what the provider reads, or a read failed); 2 the key or the URL does not work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vast_pulumi import _route_shapes
from vast_pulumi._route_shapes import Divergence
from vast_pulumi.doctor._billing import Billed, billing
from vast_pulumi.doctor._exchanges import Exchange
from vast_pulumi.doctor._readings import Answers, Observation, observe
from vast_pulumi.doctor._scopes import ScopeStatus, scopes
from vast_pulumi.errors import is_auth_failure

__all__ = ["EXPECTED_FAILURES", "Key", "RateLimits", "Report", "RouteResult", "analyze"]

OK, DIVERGENT, BROKEN = 0, 1, 2

# Failures that are an expected answer, not a divergence: a reading, or an empty account.
EXPECTED_FAILURES = {
    ("GET", "/api/v0/ssh/", 404): "no SSH keys (reading ssh_list_empty=404)",
    ("GET", "/api/v0/endptjobs/", 400): "no endpoints (the spec's 'No endpoints for user found')",
    ("GET", "/api/v0/instances/{id}/", 404): "gone (reading destroying_get=gone)",
}


@dataclass(frozen=True)
class Key:
    works: bool
    account_id: int | None
    problem: str | None  # why the key or URL does not work

    def as_json(self) -> dict[str, Any]:
        return {"works": self.works, "account_id": self.account_id, "problem": self.problem}


@dataclass(frozen=True)
class RouteResult:
    method: str
    route: str
    status: int | None  # the last answer's
    rows: int | None
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "route": self.route,
            "status": self.status,
            "rows": self.rows,
            "note": self.note,
        }


@dataclass(frozen=True)
class RateLimits:
    answers: int
    limited: int  # 429s met
    retry_after: list[str]  # Retry-After values seen
    quota_hits: int  # daily search quota 429s

    def as_json(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "429s": self.limited,
            "retry_after_seen": self.retry_after,
            "search_quota_429s": self.quota_hits,
        }


@dataclass
class Report:
    key: Key
    routes: list[RouteResult] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)
    readings: list[Observation] = field(default_factory=list)
    rate_limits: RateLimits = field(default_factory=lambda: RateLimits(0, 0, [], 0))
    billed: list[Billed] = field(default_factory=list)
    scopes: list[ScopeStatus] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if not self.key.works:
            return BROKEN
        return DIVERGENT if self.divergences else OK

    def as_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "key": self.key.as_json(),
            "scopes": [s.as_json() for s in self.scopes],
            "routes": [r.as_json() for r in self.routes],
            "divergences": [d.as_json() for d in self.divergences],
            "readings": [o.as_json() for o in self.readings],
            "rate_limits": self.rate_limits.as_json(),
            "billing": {
                "items": [b.as_json() for b in self.billed],
                "total_dph": round(sum(b.dph or 0.0 for b in self.billed), 6),
                "unmanaged_dph": round(
                    sum(b.dph or 0.0 for b in self.billed if b.managed.startswith("no ")), 6
                ),
            },
        }


def analyze(exchanges: Sequence[Exchange]) -> Report:
    answers = Answers(exchanges)
    report = Report(key=_key(answers))
    if not report.key.works:
        return report
    for method, route in dict.fromkeys((e.method, e.route) for e in exchanges):
        result, problems = _route(answers, method, route)
        report.routes.append(result)
        report.divergences += problems
    report.readings = observe(answers)
    report.rate_limits = _rate_limits(exchanges)
    report.billed = billing(answers.instances(), answers.rows("GET", "/api/v0/volumes/", "volumes"))
    report.scopes = scopes(exchanges)
    return report


def _key(answers: Answers) -> Key:
    answer = answers.last("GET", "/api/v0/users/current/")
    if answer is None:
        return Key(False, None, "GET /api/v0/users/current/ was not asked")
    if answer.status is None:
        return Key(False, None, f"the URL does not answer: {answer.body}")
    payload = answer.payload()
    details = payload if isinstance(payload, dict) else {}
    error = details.get("error") if isinstance(details.get("error"), str) else None
    message = str(details.get("msg") or details.get("detail") or "")
    if is_auth_failure(answer.status, error, message):
        return Key(False, None, f"the key does not work: {answer.status} {message}".rstrip())
    account = details.get("id")
    if answer.status != 200 or not isinstance(account, int) or isinstance(account, bool):
        what = "not JSON" if payload is None else f"status {answer.status}"
        return Key(False, None, f"the URL does not serve Vast's API (GET /api/v0/users/current/: {what})")
    return Key(True, account, None)


def _route(answers: Answers, method: str, route: str) -> tuple[RouteResult, list[Divergence]]:
    found = [e for e in answers.exchanges if (e.method, e.route) == (method, route)]
    last = found[-1]
    name = f"{method} {route}"
    shape = _route_shapes.shape_for(method, route)
    problems: list[Divergence] = []
    rows: int | None = None
    if shape is not None:
        for exchange in found:
            if exchange.status == 200:
                problems += _route_shapes.check(shape, exchange.payload())
        if last.status == 200 and shape.rows_at is not None:
            rows = len(answers.rows(method, route, shape.rows_at))
    expected = EXPECTED_FAILURES.get((method, route, last.status or 0))
    if last.status is None:
        note = f"no answer: {last.body}"
        problems.append(Divergence(name, "", note))
    elif last.status == 200:
        note = "shape as expected" if not problems else f"{len(problems)} divergence(s)"
    elif expected is not None:
        note = expected
    else:
        note = f"failed: {last.status} {_short(last)}"
        problems.append(Divergence(name, "", note))
    return RouteResult(method, route, last.status, rows, note), problems


def _rate_limits(exchanges: Sequence[Exchange]) -> RateLimits:
    limited = [e for e in exchanges if e.status == 429]
    quota = [
        e for e in limited if isinstance(p := e.payload(), dict) and p.get("error") == "search_quota_exceeded"
    ]
    return RateLimits(
        answers=sum(1 for e in exchanges if e.status is not None),
        limited=len(limited) - len(quota),
        retry_after=[e.headers["Retry-After"] for e in limited if "Retry-After" in e.headers],
        quota_hits=len(quota),
    )


def _short(exchange: Exchange) -> str:
    payload = exchange.payload()
    if isinstance(payload, dict):
        parts = [str(payload[k]) for k in ("error", "msg", "detail") if isinstance(payload.get(k), str)]
        return " ".join(parts)[:200]
    return " ".join(exchange.body.split())[:200]
