"""Serving the emulator with uvicorn: in a background thread (:class:`Emulator`) or in the main
thread until a signal (``python -m vast_pulumi.emulator``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import uvicorn

from vast_pulumi.emulator import lifecycle
from vast_pulumi.emulator.app import build_app
from vast_pulumi.emulator.backend import Backend
from vast_pulumi.emulator.faults import FaultSpec
from vast_pulumi.emulator.readings import ambient_profile
from vast_pulumi.emulator.runtime import DEFAULT_API_KEY, Runtime, Settings

STARTUP_TIMEOUT = 30.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (whoever runs it decides how it stops), stopping as soon
    as :meth:`request_exit` is called instead of at its next tick: test suites start and stop one per
    test. So the tick is only for what uvicorn does once a second (the Date header), and comes once a
    second: an emulator idles through most of an end-to-end test, and the 10 ms poll it had cost 15 ms
    of CPU a second."""

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        while not await self.on_tick(0):  # counter 0: on_tick's once-a-second work, every time
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown without its fixed 100 ms pause: stop accepting, ask every open
        connection to close once its answer is out, and wait (polling every 5 ms, at most
        ``timeout_graceful_shutdown``) only while connections or their tasks remain. The pause was
        most of an emulator's stop, and suites stop one per test."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        state = self.server_state
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while (state.connections or state.tasks) and not self.force_exit:
                    await asyncio.sleep(0.005)
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            for task in state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()

    def request_exit(self) -> None:
        """Stop serving (callable from any thread): the main loop wakes at once and sees it."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: it has stopped already
                loop.call_soon_threadsafe(wake.set)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), bound before uvicorn starts so its port is known."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn writes a response's headers and body separately; with Nagle on, the body waits for
    # the client's delayed ACK (40 ms a request). Accepted sockets inherit this option on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(runtime: Runtime, log_level: str = "warning") -> _Server:
    config = uvicorn.Config(
        build_app(runtime),
        lifespan="off",
        http="h11",
        loop="asyncio",
        log_config=None,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return _Server(config)


class Emulator:
    """The emulator on a free loopback port, in a background thread.

    >>> with Emulator(api_keys=["k1"], boot_seconds=0.5, seed=1) as emu:
    ...     requests.get(emu.url + "/api/v0/endptjobs/", headers={"Authorization": "Bearer k1"})
    """

    def __init__(
        self,
        api_keys: Sequence[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        boot_seconds: float = 5.0,
        latency_ms: float = 0.0,
        rate_limits: bool = False,
        rate_limit_scale: float = 1.0,
        faults: str | Mapping[str, float] | None = None,
        state: str | os.PathLike[str] | None = None,
        workers: bool = True,
        destroy_seconds: float = lifecycle.DESTROY_SECONDS,
        no_endpoints_error: bool = True,
        rate_limit_style: str | None = None,
        retry_after: bool = False,
        search_quota: int | None = None,
        double_rent: bool = False,
        profile: str | None = None,
        readings: Mapping[str, str] | None = None,
    ) -> None:
        settings = Settings(
            api_keys=list(api_keys) if api_keys else [DEFAULT_API_KEY],
            seed=seed,
            boot_seconds=boot_seconds,
            latency_ms=latency_ms,
            rate_limits=rate_limits,
            rate_limit_scale=rate_limit_scale,
            faults=faults,
            state=state,
            workers=workers,
            destroy_seconds=destroy_seconds,
            no_endpoints_error=no_endpoints_error,
            rate_limit_style=rate_limit_style,
            retry_after=retry_after,
            search_quota=search_quota,
            double_rent=double_rent,
            profile=profile if profile is not None else ambient_profile(),  # $VAST_EMULATOR_PROFILE
            readings=dict(readings or {}),
        )
        self.runtime = Runtime(settings)
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the API base URL (what ``vast:apiUrl``/``--url`` take)."""
        if self._url is None:
            raise RuntimeError("the emulator is not running: use start() or a with block")
        return self._url

    @property
    def backend(self) -> Backend:
        return self.runtime.backend

    @property
    def api_keys(self) -> list[str]:
        return list(self.runtime.settings.api_keys)

    def start(self) -> Emulator:
        sock = bind(self._host, self._port)
        self._server = make_server(self.runtime)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="vast-emulator", daemon=True
        )
        self._thread.start()
        _wait_until(lambda: self._server is not None and self._server.started, self._thread)
        self._url = url_of(sock)
        return self

    def stop(self) -> None:
        self.runtime.holds.release()  # a parked request would hold up the shutdown
        if self._server is not None and self._thread is not None:
            self._server.request_exit()
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._url = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # For tests: the same things the control plane offers, without HTTP.

    def request_log(self, since: int = 0) -> list[dict[str, Any]]:
        return self.runtime.log.entries(since)

    def reset(self) -> None:
        self.runtime.reset()

    def set_faults(self, spec: str | Mapping[str, float] | None) -> None:
        self.runtime.faults.spec = FaultSpec.parse(spec)

    def inventory(self) -> list[dict[str, Any]]:
        return self.backend.inventory()

    def hold(self, method: str, route: str, *, stage: str = "before") -> None:
        """Park API requests to ``route`` (a template, ``/api/v0/instances/{id}/``) until
        :meth:`release`: before they reach the API, or (``stage="after"``) once applied, with the
        answer held back. ``holds()`` counts the requests parked so far."""
        self.runtime.holds.add(method, route, stage)

    def release(self) -> None:
        self.runtime.holds.release()

    def holds(self) -> list[dict[str, Any]]:
        return self.runtime.holds.listing()

    def instance_api_key(self, instance_id: int) -> str:
        return self.backend.instance_api_key(instance_id)

    def set_endpoint_load(self, endpoint_id: int, load: float) -> dict[str, Any]:
        """Traffic on a serverless endpoint, in workers' worth: its workergroups recruit to match."""
        return self.backend.set_endpoint_load(endpoint_id, load)

    def set_workers(self, enabled: bool) -> None:
        """Serverless workers on or off (on by default, as on the real service)."""
        self.backend.set_workers(enabled)

    def add_key(self, account: str, api_key: str) -> None:
        """Another key for the account labelled ``account`` (``account-1`` is the first key's)."""
        self.backend.add_key(account, api_key)

    def revoke_key(self, api_key: str) -> None:
        self.backend.revoke_key(api_key)

    def expire_session(self, api_key: str) -> None:
        self.backend.expire_session(api_key)

    def exhaust_search_quota(self, account: str) -> None:
        self.runtime.search_quota.exhaust(account)

    def outbid(self, instance_id: int, min_bid: float | None = None) -> None:
        self.backend.outbid_instance(instance_id, min_bid)

    def set_machine_busy(self, machine_id: int, busy: bool = True) -> None:
        self.backend.set_machine_busy(machine_id, busy)

    def readings(self) -> dict[str, str]:
        """Every reading's current choice (see :mod:`vast_pulumi.emulator.readings`)."""
        return self.runtime.readings.as_dict()

    def set_readings(self, **choices: str) -> None:
        """Change readings at run time, e.g. ``set_readings(ssh_list_empty="404")``."""
        self.runtime.readings.update(choices)


def _wait_until(ready: Callable[[], bool], thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready():
        if not thread.is_alive():
            raise RuntimeError("the emulator's server thread exited during startup")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start within {STARTUP_TIMEOUT:.0f} s")
        time.sleep(0.005)


def serve_forever(runtime: Runtime, sock: socket.socket, on_ready: Callable[[str], None]) -> None:
    """Serve in this (main) thread until SIGINT or SIGTERM, then shut down gracefully."""
    server = make_server(runtime)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _request_exit, server)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if server.started:
            on_ready(url_of(sock))
        await serving

    asyncio.run(main())


def _request_exit(server: _Server) -> None:
    if server.should_exit:
        server.force_exit = True  # a second signal: stop waiting for open connections
    server.request_exit()
