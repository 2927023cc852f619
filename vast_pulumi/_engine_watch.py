"""Stop the provider process when the Pulumi engine that started it is gone.

The engine starts the dynamic-provider server in a process group of its own, so when `pulumi up`
is killed (a cancelled CI job, a closed terminal) the provider lives on as an orphan: its creates
keep renting GPUs whose ids nobody will ever record, racing the next `pulumi up` that is trying to
recover. The server is given the engine's gRPC address as its argument; once that address stops
accepting connections, nothing can receive our results, so we exit at once. What an interrupted
create had already rented carries its resource's marker and is adopted by the next run.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

CHECK_INTERVAL_SECONDS = 1.0
# A busy engine can refuse a connection now and then: only consecutive failures count.
FAILURES_BEFORE_EXIT = 3
EXIT_CODE = 70

_lock = threading.Lock()
_started = False


def watch_engine(engine: str | None = None) -> bool:
    """Start the watchdog once per process; True when running inside a provider server.

    ``engine`` is the engine's address (``host:port``) where the caller knows it (the provider plugin
    is given it as its argument); by default it is found when running in the dynamic-provider server.
    """
    global _started
    address = _parse(engine) if engine is not None else _engine_address()
    if address is None:
        return False
    with _lock:
        if not _started:
            threading.Thread(target=_watch, args=address, name="vast-engine-watch", daemon=True).start()
            _started = True
    return True


def _engine_address() -> tuple[str, int] | None:
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if getattr(main_spec, "name", None) != "pulumi.dynamic.__main__" or len(sys.argv) < 2:
        return None
    return _parse(sys.argv[1])


def _parse(address: str) -> tuple[str, int] | None:
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
