"""The doctor's report as text: one section per question, short lines, no secret (the report holds
none: ids, prices, statuses, field names and the API's own messages)."""

from __future__ import annotations

from collections.abc import Callable

from vast_pulumi.doctor._report import Report

__all__ = ["table"]

_VERDICT = {
    0: "OK: every answer has the shape the provider reads.",
    1: "DIVERGENCES: the provider may misread this account (see above).",
    2: "BROKEN: the key or the URL does not work.",
}


def table(report: Report, api_url: str) -> str:
    lines = [f"vast-pulumi doctor: {api_url}", ""]
    key = report.key
    if not key.works:
        lines += [f"Key: does not work: {key.problem}", "", _VERDICT[report.exit_code]]
        return "\n".join(lines)
    lines.append(f"Key: works, account {key.account_id}")
    for scope in report.scopes:
        lines.append(f"  scope {scope.scope:<15} {scope.status:<26} {scope.needed_for}")
    lines += ["", "Answers (shape against what the provider reads):"]
    for route in report.routes:
        rows = "" if route.rows is None else f"{route.rows} row(s)"
        status = route.status if route.status is not None else "-"
        lines.append(f"  {route.method:<4} {route.route:<28} {status!s:>4}  {rows:<10} {route.note}")
    for divergence in report.divergences:
        where = f" {divergence.field}:" if divergence.field else ""
        lines.append(f"  DIVERGENCE {divergence.route}{where} {divergence.problem}")
    lines += ["", "Readings of disputed behaviours (emulator switch names):"]
    for seen in report.readings:
        lines.append(f"  {seen.reading:<25} {seen.choice or '-':<10} {seen.evidence}")
    limits = report.rate_limits
    retry_after = ", ".join(limits.retry_after) if limits.retry_after else "none"
    lines += [
        "",
        f"Rate limits: {limits.answers} answers, {limits.limited} 429(s), Retry-After seen: {retry_after}"
        + (f", {limits.quota_hits} daily search quota 429(s)" if limits.quota_hits else ""),
        "",
        "Billing now:",
    ]
    lines += _billing(report) or ["  nothing billing"]
    lines += ["", _VERDICT[report.exit_code]]
    return "\n".join(lines)


def _billing(report: Report) -> list[str]:
    def total(keep: Callable[[str], bool]) -> float:
        return sum(b.dph or 0.0 for b in report.billed if keep(b.managed))

    lines = []
    for item in report.billed:
        price = f"{item.dph:.4f}" if item.dph is not None else "-"
        lines.append(f"  {item.kind:<8} {item.id:>10}  {price:>8} $/h  {item.status:<26} {item.managed}")
    if lines:
        lines.append(
            f"  total {total(lambda m: True):.4f} $/h; not made by vast-pulumi: "
            f"{total(lambda m: m.startswith('no ')):.4f} $/h"
        )
    return lines
