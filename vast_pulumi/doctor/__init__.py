"""``vast-pulumi doctor``: a user's account checked against what the provider assumes, read-only.

>>> report = run(ProviderSettings.resolve())       # the provider's key and URL resolution
>>> report.exit_code                                # 0 as expected, 1 divergences, 2 key/URL broken

It reads the account through the provider's own client (:mod:`vast_pulumi.doctor._probe`: GETs and
one offer search, paced as the provider paces), keeps every answer (:mod:`._exchanges`), and reports
from those answers alone (:mod:`._report`): whether the key works and which account it is, each
answer's shape against the one declared shape of its route (:mod:`vast_pulumi._route_shapes`), which
reading of each disputed behaviour the account shows (:mod:`._readings`), the 429s met, and what bills
now, made by vast-pulumi or not (:mod:`._billing`). ``--record DIR`` keeps the answers, redacted
(:mod:`._redact`, :mod:`._recording`); ``--replay DIR`` reports from such a recording offline.
"""

from __future__ import annotations

from pathlib import Path

from vast_pulumi.doctor._exchanges import Exchange
from vast_pulumi.doctor._probe import probe
from vast_pulumi.doctor._recording import load, save
from vast_pulumi.doctor._render import table
from vast_pulumi.doctor._report import Report, analyze
from vast_pulumi.settings import ProviderSettings

__all__ = ["Exchange", "Report", "analyze", "replay", "run", "table"]


def run(settings: ProviderSettings, *, record: str | Path | None = None) -> Report:
    """Read the account, report; with ``record``, also write the redacted answers there."""
    exchanges = probe(settings)
    if record is not None:
        save(record, exchanges, settings.api_key)
    return analyze(exchanges)


def replay(directory: str | Path) -> Report:
    """The report of a recording made with ``record``, offline."""
    return analyze(load(directory))
