"""The request log the control plane and tests read: what was asked, by which account, and what
happened. It never holds an API key: accounts appear by label and ``api_key`` query values are
redacted from paths."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode


@dataclass
class LogEntry:
    seq: int
    time: float  # epoch seconds when the request arrived
    account: str | None  # account label, e.g. "account-1"; None when not authenticated
    method: str
    path: str  # with the query string, api_key redacted
    route: str | None  # the route template, e.g. "/api/v0/instances/{id}/"
    status: int | None  # None when the connection was dropped before an answer
    duration_ms: float
    fault: str | None  # the injected fault, if any


def redacted_path(path: str, query_string: bytes) -> str:
    if not query_string:
        return path
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    shown = [(k, "REDACTED" if k.lower() == "api_key" else v) for k, v in pairs]
    return f"{path}?{urlencode(shown)}"


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def add(self, **fields: Any) -> LogEntry:
        with self._lock:
            entry = LogEntry(seq=len(self._entries) + 1, **fields)
            self._entries.append(entry)
            return entry

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        """Entries after the first ``since`` ones, as plain dicts (copies)."""
        with self._lock:
            return [asdict(e) for e in self._entries[since:]]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
