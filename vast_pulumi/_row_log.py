"""Lines on a resource's own row of the Pulumi CLI, from inside the dynamic-provider server.

What a provider writes to stderr the engine shows as an info line of the *stack*, and
``pulumi.log.info`` inside the server does the same (it has no engine connection there). A wait of
minutes then shows only ``creating (95s)...``. Real providers log through the engine's gRPC ``Log``
call with the resource's URN: a line with ``ephemeral`` set is the row's status while it runs ("loading
(40s)"), one without it is kept under the resource in the Diagnostics summary, and a warning is
shown there as a warning (sdk/proto/engine.proto, ``LogRequest``). The server is started with the
engine's address as its argument (``_provider_server``'s engine watch reads it too), so we connect to
it ourselves.

The URN: the SDK's server does not pass it to ``create``/``update``/``delete``/``diff``, but the
server's handler for the call (``DynamicResourceProviderServicer.Create`` ...) is a frame below ours
on the same thread, with its ``request`` (which carries ``urn``) as a local. :func:`current_urn`
reads it there; work done on other threads (a fleet's members) passes the URN it captured.

Outside the server (unit tests, a program) nothing is sent: the line goes to the ``vast_pulumi``
logger, as before.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

from vast_pulumi._provider_server import in_provider_server

__all__ = ["bound", "current_urn", "note", "progress", "warn"]

_log = logging.getLogger("vast_pulumi")
_HANDLERS = frozenset({"Check", "Diff", "Create", "Read", "Update", "Delete"})

_lock = threading.Lock()
_engine: Any = None  # the Engine stub, once connected (None: not connected yet; False: no engine)


_bound = threading.local()


@contextlib.contextmanager
def bound(urn: str | None) -> Iterator[None]:
    """Work on another thread for the resource ``urn`` (captured on the call's own thread) reports to
    its row."""
    before = getattr(_bound, "urn", None)
    _bound.urn = urn
    try:
        yield
    finally:
        _bound.urn = before


def current_urn() -> str | None:
    """The URN of the resource the calling thread's provider call is about, inside the server."""
    if getattr(_bound, "urn", None):
        return str(_bound.urn)
    server = _server_globals()
    if server is None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in _HANDLERS and frame.f_globals is server:
            urn = getattr(frame.f_locals.get("request"), "urn", None)
            return urn if isinstance(urn, str) and urn else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _server_globals() -> dict[str, Any] | None:
    """The globals of the dynamic-provider server's module, when this process is that server (it
    runs as ``python -m pulumi.dynamic``: its module is ``__main__``)."""
    return vars(sys.modules["__main__"]) if in_provider_server() else None


def progress(message: str, *, urn: str | None = None) -> None:
    """The row's status while a wait runs ("instance 7: status 'loading'"): replaced by the next, not
    kept. Without a row to put it on (another thread, outside the server) it is a debug line only:
    a fleet's members waiting in parallel would otherwise each print to the stack."""
    urn = urn or current_urn()
    if urn is None:
        _log.debug("vast: %s", message)
        return
    _send("INFO", message, urn, ephemeral=True)


def note(message: str, *, urn: str | None = None) -> None:
    """A step worth seeing ("rented instance 7 from offer 9"): the row's status when there is a row,
    else an info line of the stack, as before."""
    urn = urn or current_urn()
    if urn is None:
        _log.info("vast: %s", message)
        return
    _send("INFO", message, urn, ephemeral=True)


def warn(message: str, *, urn: str | None = None) -> None:
    """A warning kept under the resource (preview and up show it in their Diagnostics)."""
    _send("WARNING", message, urn or current_urn(), ephemeral=False)


def _send(severity: str, message: str, urn: str | None, *, ephemeral: bool) -> None:
    engine = _connect() if urn else None
    if engine is None:
        _log.log(logging.WARNING if severity == "WARNING" else logging.INFO, "vast: %s", message)
        return
    from pulumi.runtime.proto import engine_pb2

    request = engine_pb2.LogRequest(
        severity=getattr(engine_pb2, severity), message=message, urn=urn or "", ephemeral=ephemeral
    )
    try:
        engine.Log(request, timeout=5)
    except Exception:  # a status line is never worth failing the operation for
        _log.debug("vast: could not log to the engine", exc_info=True)


def _connect() -> Any:
    """The engine's gRPC stub when running inside the dynamic-provider server, else None."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _stub() or False
        return _engine or None


def _stub() -> Any:
    if _server_globals() is None or len(sys.argv) < 2:
        return None
    import grpc  # installed with the Pulumi SDK, which requires it (untyped: see pyproject's mypy overrides)
    from pulumi.runtime.proto import engine_pb2_grpc

    return engine_pb2_grpc.EngineStub(grpc.insecure_channel(sys.argv[1]))
