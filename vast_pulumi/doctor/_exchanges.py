"""The doctor's calls as they went over the wire: each answer kept whole, and played back later.

The doctor talks to the API through the provider's own :class:`~vast_pulumi.client.VastClient` (the
same pacing, retries and decoding), whose transport sends through a replaceable :data:`Send`. A
:class:`Tape` wraps that send and keeps every answer: status, the headers that matter (Retry-After,
the quota reset) and the body as sent, 429s and retries included. Everything the doctor reports is read from
these exchanges, so a recording (``--record``) replayed (``--replay``) goes through exactly the
analysis a live run does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from vast_pulumi._transport import Send, Timeout, route_template

if TYPE_CHECKING:
    import requests

__all__ = ["Exchange", "Tape"]

KEPT_HEADERS = ("Retry-After", "X-RateLimit-Reset", "Content-Type")


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got (``status`` None: no answer, the connection failed)."""

    method: str
    path: str  # without the query: queries may carry filters, never needed to replay
    route: str  # the route template, /api/v0/instances/{id}/
    status: int | None
    headers: dict[str, str]
    body: str

    def payload(self) -> Any:
        """The body as JSON; ``None`` when it is not JSON (a plain-text 429)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exchange:
        return cls(
            method=str(data["method"]),
            path=str(data["path"]),
            route=str(data.get("route") or route_template(str(data["path"]))),
            status=int(data["status"]) if data.get("status") is not None else None,
            headers={str(k): str(v) for k, v in dict(data.get("headers") or {}).items()},
            body=str(data.get("body") or ""),
        )


class Tape:
    """Keeps every exchange sent through :meth:`wrap`. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    def wrap(self, send: Send) -> Send:
        def recording(request: requests.PreparedRequest, timeout: Timeout) -> requests.Response:
            response = send(request, timeout)
            self.add(_exchange(request, response))
            return response

        return recording

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)


def _exchange(request: requests.PreparedRequest, response: requests.Response) -> Exchange:
    path = urlsplit(request.url or "").path
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return Exchange(
        method=str(request.method),
        path=path,
        route=route_template(path),
        status=response.status_code,
        headers=headers,
        body=response.text,
    )
