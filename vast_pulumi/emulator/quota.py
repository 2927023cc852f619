"""The daily offer-search quota (``--search-quota N``, off by default).

Each account may search offers N times per UTC day; the next search answers 429
``{"success": false, "error": "search_quota_exceeded", "msg": ...}`` with an ``X-RateLimit-Reset``
header, the epoch second of the next UTC midnight. That is the shape the official client recognises
(``is_search_quota_exceeded``, vastai/api/client.py:86-97) and never retries, and whose reset time
its CLI appends to the message (``with_quota_reset``, vastai/cli/main.py:34-42). The sources do not
give the message text; ours is :data:`MESSAGE`. A rejected search does not count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vast_pulumi.emulator.errors import ApiError

DAY_SECONDS = 86_400
MESSAGE = "Daily search quota exceeded"
# The offer searches, as (method, route).
SEARCH_ROUTES = frozenset(
    {("POST", "/api/v0/bundles/"), ("GET", "/api/v0/bundles/"), ("PUT", "/api/v0/search/asks/")}
)


class QuotaExceeded(ApiError):
    def __init__(self, resets_at: int) -> None:
        super().__init__(429, "search_quota_exceeded", MESSAGE)
        self.headers = {"X-RateLimit-Reset": str(resets_at)}


class SearchQuota:
    """Searches per account and UTC day; ``per_day=None`` means no limit."""

    def __init__(self, per_day: int | None, clock: Callable[[], float] = time.time) -> None:
        if per_day is not None and per_day < 0:
            raise ValueError(f"search quota {per_day}: must be 0 or more")
        self.per_day = per_day
        self._clock = clock
        self._used: dict[tuple[str, int], int] = {}
        self._exhausted: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def charge(self, account: str, method: str, route: str) -> None:
        """Count one search, or raise :class:`QuotaExceeded` if the day's quota is used up."""
        if (method, route) not in SEARCH_ROUTES:
            return
        day = self._today()
        key = (account, day)
        with self._lock:
            used = self._used.get(key, 0)
            if key in self._exhausted or (self.per_day is not None and used >= self.per_day):
                raise QuotaExceeded(resets_at=(day + 1) * DAY_SECONDS)
            self._used[key] = used + 1

    def exhaust(self, account: str) -> None:
        """Use up the account's quota for today, whatever the configured quota (control plane)."""
        with self._lock:
            self._exhausted.add((account, self._today()))

    def reset(self) -> None:
        with self._lock:
            self._used.clear()
            self._exhausted.clear()

    def _today(self) -> int:
        return int(self._clock() // DAY_SECONDS)
