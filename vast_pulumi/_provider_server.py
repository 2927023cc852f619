"""What the provider does to the Python dynamic-provider server process it runs in
(``python -m pulumi.dynamic``, the SDK's ``pulumi/dynamic/__main__.py``), all at ``configure``:

* **A wider thread pool.** The server answers gRPC calls from a ``ThreadPoolExecutor(max_workers=4)``
  shared by every dynamic resource in the stack. An instance create holds its thread while the machine
  boots, and a delete while the API still lists what it destroyed, so four threads would make a stack
  of looped instances boot, and be destroyed, in rounds of four. Our provider methods run on that pool's
  worker threads, and each keeps a weak reference to its executor: its limit is raised, and threads are
  started at once for the calls already queued. That second step matters for a destroy: its first calls
  are all deletes, queued before the first of them configures the provider, and the executor only
  starts a thread when a call is submitted. The engine's ``--parallel`` still bounds the calls it sends.
* **An engine watch.** The engine starts the server in a process group of its own, so when ``pulumi up``
  is killed the provider would live on, renting GPUs whose ids nobody records. The server is given the
  engine's gRPC address as its argument; once that stops accepting connections we exit at once. What an
  interrupted create rented carries its marker and is adopted by the next run.
* **Log lines at their level.** The server configures no logging; the engine shows every stderr line of
  the provider as an info message. The ``vast_pulumi`` logger writes its info lines to stderr.
* **One-line errors.** The server reports an exception of a provider method with
  ``traceback.format_exc()``; for the package's own errors (:class:`~vast_pulumi.errors.VastError`) the
  report is the message alone (it says everything); any other exception, a bug, keeps its traceback.

Each hook checks the shape it relies on and does nothing if it looks different; each does nothing
outside the server (:func:`in_provider_server`), as in unit tests calling providers directly.
``tests/unit/test_provider_server.py`` reads the installed SDK's server code and checks those shapes.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import traceback
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vast_pulumi.errors import VastError

__all__ = ["configure_server", "in_provider_server", "is_ours", "serve_plugin"]

SERVER_MODULE = "pulumi.dynamic.__main__"
PROVIDER_SERVER_WORKERS = 64
LOGGER = "vast_pulumi"
CHECK_INTERVAL_SECONDS = 1.0
# A busy engine can refuse a connection now and then: only consecutive failures count.
FAILURES_BEFORE_EXIT = 3
EXIT_CODE = 70

_lock = threading.Lock()
_done: set[str] = set()  # the hooks installed in this process


def in_provider_server() -> bool:
    """Whether this process is the SDK's dynamic-provider server (``python -m pulumi.dynamic``)."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(main_spec, "name", None) == SERVER_MODULE


def configure_server() -> None:
    """Install every hook (each once per process); nothing outside the provider server."""
    widen_provider_server_pool()
    # Orphaned by a killed `pulumi up`, we would keep renting machines nobody records.
    watch_engine()
    log_to_engine()
    # A rejected key or a foreign account is one line in the CLI, not a traceback.
    report_errors_in_one_line()


def serve_plugin(engine: str | None) -> None:
    """The engine watch and the log lines for the provider plugin (``pulumi-resource-vast``), a server
    of its own: it is given the engine's address (``host:port``), sizes its own thread pool and reports
    errors itself, so only these two hooks apply."""
    address = _parse_address(engine) if engine else None
    with _lock:
        if address is not None and "watch" not in _done:
            threading.Thread(target=_watch, args=address, name="vast-engine-watch", daemon=True).start()
            _done.add("watch")
        if "log" not in _done:
            _install_log_handler()
            _done.add("log")


def _once(name: str, install: Any) -> bool:
    """Run ``install()`` (True when it did install) once per process; True once installed."""
    with _lock:
        if name in _done:
            return True
        if not in_provider_server() or not install():
            return False
        _done.add(name)
        return True


# -- the thread pool --------------------------------------------------------------------------------------


def widen_provider_server_pool(workers: int = PROVIDER_SERVER_WORKERS) -> bool:
    """Raise the server's worker limit to ``workers`` and start threads for the calls already queued;
    True once done. Call it from a provider method (a worker thread of the server's pool)."""

    def install() -> bool:
        executor = _serving_executor()
        if executor is None:
            return False
        # The stdlib reads _max_workers on every submit to decide whether to start a thread.
        executor._max_workers = max(executor._max_workers, workers)
        # Calls submitted before this one configured the provider wait in the queue, and nothing would
        # start a thread for them: start one per queued call (each call of _adjust_thread_count starts
        # one while no thread is idle and the limit allows).
        for _ in range(executor._work_queue.qsize()):
            executor._adjust_thread_count()
        return True

    return _once("pool", install)


def _serving_executor() -> ThreadPoolExecutor | None:
    # ThreadPoolExecutor starts each worker as Thread(target=_worker, args=(weakref(executor), ...)).
    args = getattr(threading.current_thread(), "_args", ())
    ref = args[0] if args else None
    executor = ref() if isinstance(ref, weakref.ReferenceType) else None
    if not isinstance(executor, ThreadPoolExecutor) or not hasattr(executor, "_adjust_thread_count"):
        return None
    return executor


# -- the engine watch -------------------------------------------------------------------------------------


def watch_engine() -> bool:
    """Start the watchdog once per process; True when running inside the provider server."""

    def install() -> bool:
        address = _engine_address()
        if address is None:
            return False
        threading.Thread(target=_watch, args=address, name="vast-engine-watch", daemon=True).start()
        return True

    return _once("watch", install)


def _engine_address() -> tuple[str, int] | None:
    if not in_provider_server() or len(sys.argv) < 2:
        return None
    return _parse_address(sys.argv[1])


def _parse_address(address: str) -> tuple[str, int] | None:
    host, _, port = address.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def _watch(host: str, port: int) -> None:
    failures = 0
    while True:
        time.sleep(CHECK_INTERVAL_SECONDS)
        failures = 0 if _accepts(host, port) else failures + 1
        if failures >= FAILURES_BEFORE_EXIT:
            # No farewell message: our stdout and stderr were pipes to the dead CLI, and writing
            # to them would raise instead of exiting.
            os._exit(EXIT_CODE)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False


# -- logging ----------------------------------------------------------------------------------------------


def log_to_engine() -> bool:
    """Send the package's info and warning lines to stderr, once; True inside the provider server.

    Outside it (a program, unit tests), logging stays as the application configured it.
    """

    def install() -> bool:
        _install_log_handler()
        return True

    return _once("log", install)


def _install_log_handler() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # one line each, whatever the root logger does


# -- one-line errors --------------------------------------------------------------------------------------


class _Traceback:
    """The ``traceback`` module, with ``format_exc`` reporting the package's errors as one line."""

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(limit: int | None = None, chain: bool = True) -> str:
        error = sys.exc_info()[1]
        if error is not None and is_ours(error):
            return str(error)
        return traceback.format_exc(limit, chain)


def is_ours(error: BaseException) -> bool:
    """Whether an error is one the package raises on purpose, with a message that says everything."""
    return isinstance(error, VastError)


def report_errors_in_one_line() -> bool:
    """Make the provider server report the package's errors as one line; True once done."""

    def install() -> bool:
        server = sys.modules.get("__main__")
        if getattr(server, "traceback", None) is not traceback:
            return False  # a server that does not report this way: leave it alone
        server.traceback = _Traceback()  # type: ignore[union-attr]
        return True

    return _once("errors", install)
