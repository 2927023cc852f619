"""The outermost ASGI layer: trailing slashes, latency, injected faults, holds and the request log.

It wraps the Starlette app and sits directly under uvicorn, because dropping a connection needs
uvicorn's own ``send`` (whose owner holds the socket's transport); any middleware in between would
hide it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from vast_pulumi.emulator.faults import RESET_AFTER, RESET_BEFORE, status_after, status_error
from vast_pulumi.emulator.holds import AFTER, BEFORE, Hold, Holds
from vast_pulumi.emulator.ratelimit import path_key
from vast_pulumi.emulator.requestlog import redacted_path
from vast_pulumi.emulator.runtime import Runtime

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/_emulator/"
API_PREFIX = "/api/"
# Keys the routes leave in the scope for the log.
ACCOUNT_KEY = "vast_emulator.account"
ROUTE_KEY = "vast_emulator.route"
# The runtime serving the request, for the routes: they are built once per process and shared by
# every emulator in it (building ~50 Starlette routes cost about 1 ms per emulator started).
RUNTIME_KEY = "vast_emulator.runtime"


def runtime_of(request: Request) -> Runtime:
    """The runtime of the emulator the request reached (set by :class:`EmulatorMiddleware`)."""
    runtime = request.scope[RUNTIME_KEY]
    assert isinstance(runtime, Runtime)
    return runtime


class EmulatorMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = _with_trailing_slash(scope)
        scope[RUNTIME_KEY] = self.runtime
        _no_delay(send)
        if scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)  # the control plane: no faults, no log
            return
        await self._logged(scope, receive, send)

    async def _logged(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_api = scope["path"].startswith(API_PREFIX)
        fault = self.runtime.faults.draw() if is_api else None
        exchange = _Exchange(self.runtime, scope, fault)
        delay = self.runtime.latency.next_seconds() if is_api else 0.0
        if delay:
            await asyncio.sleep(delay)
        holds = self.runtime.holds
        if is_api and (held := holds.find(scope["method"], scope["path"], BEFORE)):
            await holds.park(held)
        if fault == RESET_BEFORE:
            exchange.finish(None)
            await _drop_connection(send)
            return
        if fault == "429":  # in the shape the rate limiter answers with
            key = path_key(scope["method"], scope["path"])
            throttled = self.runtime.limiter.rejection(1.0, wait=1.0, key=key)
            exchange.finish(throttled.status)
            await _send(send, throttled.status, throttled.body, throttled.media_type, throttled.headers)
            return
        after = status_after(fault)
        if fault is not None and fault != RESET_AFTER and after is None:
            error = status_error(int(fault))
            exchange.finish(error.status)
            await _send(send, error.status, json.dumps(error.body()).encode(), "application/json")
            return
        answer_held = holds.find(scope["method"], scope["path"], AFTER) if is_api else None
        recorder = _Recorder(
            send, exchange, swallow=fault == RESET_AFTER or after is not None, hold=(holds, answer_held)
        )
        await self.app(scope, receive, recorder)
        if after is not None:  # applied; the client gets the error instead of the result
            error = status_error(after)
            exchange.finish(error.status)
            await _send(send, error.status, json.dumps(error.body()).encode(), "application/json")
            return
        exchange.finish(recorder.status)
        if fault == RESET_AFTER:
            await _drop_connection(send)


class _Exchange:
    """One request's log entry, written once, before the client can see the answer (so a test
    that reads the log right after a response always finds that response in it)."""

    def __init__(self, runtime: Runtime, scope: Scope, fault: str | None) -> None:
        self._runtime = runtime
        self._scope = scope
        self._fault = fault
        self._arrived = time.time()
        self._started = time.perf_counter()
        self._done = False

    def finish(self, status: int | None) -> None:
        if self._done:
            return
        self._done = True
        scope = self._scope
        self._runtime.log.add(
            time=self._arrived,
            account=scope.get(ACCOUNT_KEY),
            method=scope["method"],
            path=redacted_path(scope.get("original_path", scope["path"]), scope.get("query_string", b"")),
            route=scope.get(ROUTE_KEY),
            status=status,
            duration_ms=round((time.perf_counter() - self._started) * 1000.0, 3),
            fault=self._fault,
        )


class _Recorder:
    """Passes messages on (or swallows them, for reset-after), remembers the status, and finishes
    the log entry just before the last body chunk goes out (which an "after" hold keeps back)."""

    def __init__(
        self, send: Send, exchange: _Exchange, *, swallow: bool, hold: tuple[Holds, Hold | None]
    ) -> None:
        self._send = send
        self._exchange = exchange
        self._swallow = swallow
        self._holds, self._hold = hold
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        if self._swallow:
            return
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._exchange.finish(self.status)
            if self._hold is not None:
                await self._holds.park(self._hold)
        await self._send(message)


def _with_trailing_slash(scope: Scope) -> Scope:
    """The API answers ``/users/current`` and ``/users/current/`` alike; routes are written with it."""
    path = scope["path"]
    if path.endswith("/"):
        return scope
    return {**scope, "path": path + "/", "raw_path": (path + "/").encode(), "original_path": path}


async def _send(
    send: Send, status: int, payload: bytes, media_type: str, headers: dict[str, str] | None = None
) -> None:
    raw = [(b"content-type", media_type.encode()), (b"content-length", str(len(payload)).encode())]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def _transport(send: Send) -> Any:
    """uvicorn's transport for this connection: its ``send`` is a bound method of the request cycle."""
    return getattr(getattr(send, "__self__", None), "transport", None)


def _no_delay(send: Send) -> None:
    """TCP_NODELAY on the connection (the listening socket sets it too, where accepted sockets
    inherit it): without it each small answer waits 40 ms for the client's delayed ACK."""
    transport = _transport(send)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _drop_connection(send: Send) -> None:
    """Close the TCP connection without an answer: the client sees a ConnectionError.

    uvicorn's ``send`` is a bound method of its request cycle, which holds the transport. Aborting
    it closes the socket at once; yielding to the loop lets uvicorn notice the disconnect, so it
    does not try to answer 500 on a closed connection.
    """
    transport = _transport(send)
    if transport is None:
        raise RuntimeError("cannot drop the connection: not running under uvicorn's h11 protocol")
    transport.abort()
    for _ in range(2):
        await asyncio.sleep(0)
