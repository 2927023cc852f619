"""What the provider does to the dynamic-provider server process it runs in: widen its thread pool
(``_server_pool``), exit when the engine is gone (``_engine_watch``), log to the engine
(``_provider_log``). Each acts only inside that server, recognised by its ``__main__`` module, which
these tests stand in for."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from vast_pulumi import _engine_watch, _provider_log, _server_pool

SERVER_MAIN = "pulumi.dynamic.__main__"


@pytest.fixture
def in_provider_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as if under ``python -m pulumi.dynamic <engine address>``."""
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name=SERVER_MAIN)  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [SERVER_MAIN, "127.0.0.1:1"])


# -- the server's thread pool ----------------------------------------------------------------------------


@pytest.fixture
def fresh_pool_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_server_pool, "_widened", False)


def test_outside_the_server_the_pool_is_left_alone(fresh_pool_state: None) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert pool.submit(_server_pool.widen_provider_server_pool).result() is False
        assert pool._max_workers == 4


def test_a_call_on_a_server_worker_lets_the_pool_run_more_than_four_at_once(
    in_provider_server: None, fresh_pool_state: None
) -> None:
    eight_at_once = threading.Barrier(8, timeout=10)  # broken, not hung, if only four ran

    def provider_call() -> bool:
        _server_pool.widen_provider_server_pool()
        eight_at_once.wait()
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:  # the server's ThreadPoolExecutor(max_workers=4)
        assert pool.submit(_server_pool.widen_provider_server_pool).result() is True
        assert pool._max_workers == _server_pool.PROVIDER_SERVER_WORKERS
        assert all(future.result() for future in [pool.submit(provider_call) for _ in range(8)])


def test_a_call_outside_a_pool_worker_changes_nothing(
    in_provider_server: None, fresh_pool_state: None
) -> None:
    assert _server_pool.widen_provider_server_pool() is False  # this thread belongs to no executor


# -- the engine watch ------------------------------------------------------------------------------------


def test_outside_the_server_no_watch_starts() -> None:
    assert _engine_watch._engine_address() is None
    assert _engine_watch.watch_engine() is False


@pytest.mark.parametrize(
    ("argument", "address"),
    [("127.0.0.1:43117", ("127.0.0.1", 43117)), ("localhost:5", ("localhost", 5)), ("no-port", None)],
)
def test_the_engine_address_is_the_servers_argument(
    in_provider_server: None, monkeypatch: pytest.MonkeyPatch, argument: str, address: tuple[str, int] | None
) -> None:
    monkeypatch.setattr(sys, "argv", [SERVER_MAIN, argument])
    assert _engine_watch._engine_address() == address


class Exited(Exception):
    pass


def test_the_watch_exits_after_consecutive_refusals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([False, False, True, False, False, False, True])
    checks: list[bool] = []

    def accepts(host: str, port: int) -> bool:
        checks.append(next(answers))
        return checks[-1]

    def exit_(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(_engine_watch, "CHECK_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(_engine_watch, "_accepts", accepts)
    monkeypatch.setattr(os, "_exit", exit_)  # the watch exits with os._exit: no cleanup can block it
    with pytest.raises(Exited) as exited:
        _engine_watch._watch("127.0.0.1", 1)
    assert exited.value.args == (_engine_watch.EXIT_CODE,)
    assert checks == [False, False, True, False, False, False]  # two refusals then an answer: no exit


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_a_listening_engine_accepts_and_a_closed_port_refuses(listening: int) -> None:
    assert _engine_watch._accepts("127.0.0.1", listening) is True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])  # bound, never listening: connections are refused
        assert _engine_watch._accepts("127.0.0.1", closed) is False


# -- logging to the engine -------------------------------------------------------------------------------


@pytest.fixture
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    logger = logging.getLogger(_provider_log.LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    monkeypatch.setattr(_provider_log, "_configured", False)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def test_outside_the_server_logging_is_left_to_the_application(fresh_logger: logging.Logger) -> None:
    assert _provider_log.log_to_engine() is False
    assert fresh_logger.handlers == []


def test_inside_the_server_info_lines_reach_stderr_once(
    in_provider_server: None, fresh_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provider_log.log_to_engine() is True
    assert _provider_log.log_to_engine() is True  # a second configure adds no second handler
    handler = fresh_logger.handlers[-1]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(sys.stderr)  # capsys replaced sys.stderr after the handler took it
    logging.getLogger("vast_pulumi").info("vast: rented instance 7 from offer 3")
    logging.getLogger("vast_pulumi").debug("vast: not shown")
    assert capsys.readouterr().err == "vast: rented instance 7 from offer 3\n"
