"""What the provider does to the dynamic-provider server process it runs in (``_provider_server``):
widen its thread pool, exit when the engine is gone, log to the engine. Each acts only inside that
server, recognised by its ``__main__`` module, which these tests stand in for; the tripwire at the end
reads the installed SDK's server code for the shapes the hooks rely on."""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import socket
import sys
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vast_pulumi import _provider_server

SERVER_MAIN = "pulumi.dynamic.__main__"


@pytest.fixture
def in_provider_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as if under ``python -m pulumi.dynamic <engine address>``."""
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name=SERVER_MAIN)  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [SERVER_MAIN, "127.0.0.1:1"])


# -- the server's thread pool ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_provider_server, "_done", set())


@pytest.fixture
def fresh_pool_state() -> None:
    pass


def test_outside_the_server_the_pool_is_left_alone(fresh_pool_state: None) -> None:
    assert not _provider_server.in_provider_server()
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert pool.submit(_provider_server.widen_provider_server_pool).result() is False
        assert pool._max_workers == 4


def test_a_call_on_a_server_worker_lets_the_pool_run_more_than_four_at_once(
    in_provider_server: None, fresh_pool_state: None
) -> None:
    eight_at_once = threading.Barrier(8, timeout=10)  # broken, not hung, if only four ran

    def provider_call() -> bool:
        _provider_server.widen_provider_server_pool()
        eight_at_once.wait()
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:  # the server's ThreadPoolExecutor(max_workers=4)
        assert pool.submit(_provider_server.widen_provider_server_pool).result() is True
        assert pool._max_workers == _provider_server.PROVIDER_SERVER_WORKERS
        assert all(future.result() for future in [pool.submit(provider_call) for _ in range(8)])


def test_calls_queued_before_the_pool_was_widened_run_at_once(
    in_provider_server: None, fresh_pool_state: None
) -> None:
    """A destroy: every call is a delete, all queued before the first of them configures the provider."""
    sixteen_at_once = threading.Barrier(16, timeout=10)  # broken, not hung, if only four ran
    all_queued = threading.Event()

    def provider_call() -> bool:
        all_queued.wait()  # the server has taken every call before the first one configures
        _provider_server.widen_provider_server_pool()  # what configure does, on the first call
        sixteen_at_once.wait()
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:  # the server's ThreadPoolExecutor(max_workers=4)
        calls = [pool.submit(provider_call) for _ in range(16)]  # 4 threads started, the rest queued
        all_queued.set()
        assert all(call.result() for call in calls)


def test_a_call_outside_a_pool_worker_changes_nothing(
    in_provider_server: None, fresh_pool_state: None
) -> None:
    assert _provider_server.widen_provider_server_pool() is False  # this thread belongs to no executor


# -- the engine watch ------------------------------------------------------------------------------------


def test_outside_the_server_no_watch_starts() -> None:
    assert _provider_server._engine_address() is None
    assert _provider_server.watch_engine() is False


@pytest.mark.parametrize(
    ("argument", "address"),
    [("127.0.0.1:43117", ("127.0.0.1", 43117)), ("localhost:5", ("localhost", 5)), ("no-port", None)],
)
def test_the_engine_address_is_the_servers_argument(
    in_provider_server: None, monkeypatch: pytest.MonkeyPatch, argument: str, address: tuple[str, int] | None
) -> None:
    monkeypatch.setattr(sys, "argv", [SERVER_MAIN, argument])
    assert _provider_server._engine_address() == address


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

    monkeypatch.setattr(_provider_server, "CHECK_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(_provider_server, "_accepts", accepts)
    monkeypatch.setattr(os, "_exit", exit_)  # the watch exits with os._exit: no cleanup can block it
    with pytest.raises(Exited) as exited:
        _provider_server._watch("127.0.0.1", 1)
    assert exited.value.args == (_provider_server.EXIT_CODE,)
    assert checks == [False, False, True, False, False, False]  # two refusals then an answer: no exit


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_a_listening_engine_accepts_and_a_closed_port_refuses(listening: int) -> None:
    assert _provider_server._accepts("127.0.0.1", listening) is True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])  # bound, never listening: connections are refused
        assert _provider_server._accepts("127.0.0.1", closed) is False


# -- logging to the engine -------------------------------------------------------------------------------


@pytest.fixture
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    logger = logging.getLogger(_provider_server.LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def test_outside_the_server_logging_is_left_to_the_application(fresh_logger: logging.Logger) -> None:
    assert _provider_server.log_to_engine() is False
    assert fresh_logger.handlers == []


def test_inside_the_server_info_lines_reach_stderr_once(
    in_provider_server: None, fresh_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provider_server.log_to_engine() is True
    assert _provider_server.log_to_engine() is True  # a second configure adds no second handler
    handler = fresh_logger.handlers[-1]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(sys.stderr)  # capsys replaced sys.stderr after the handler took it
    logging.getLogger("vast_pulumi").info("vast: rented instance 7 from offer 3")
    logging.getLogger("vast_pulumi").debug("vast: not shown")
    assert capsys.readouterr().err == "vast: rented instance 7 from offer 3\n"


# -- the installed SDK's server: the shapes the hooks rely on (a tripwire for SDK and Python upgrades) ------


def server_source() -> ast.Module:
    spec = importlib.util.find_spec(_provider_server.SERVER_MODULE)  # found, not imported: it would serve
    assert spec is not None and spec.origin is not None
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def calls(tree: ast.AST) -> list[str]:
    return [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_the_sdk_server_serves_from_a_stdlib_thread_pool_of_four() -> None:
    """widen_provider_server_pool finds the executor through its worker threads and raises its limit."""
    main = next(n for n in server_source().body if isinstance(n, ast.FunctionDef) and n.name == "main")
    pools = [
        n
        for n in ast.walk(main)
        if isinstance(n, ast.Call) and ast.unparse(n.func).endswith("ThreadPoolExecutor")
    ]
    (pool,) = pools
    assert ast.unparse(pool.func) == "futures.ThreadPoolExecutor"
    assert [ast.unparse(k) for k in pool.keywords] == ["max_workers=4"]
    assert "grpc.server" in calls(main)
    # The stdlib pool: a weak reference to the executor as its workers' first argument, a limit read at
    # every submit, a work queue and the method that starts a thread.
    with ThreadPoolExecutor(max_workers=1) as executor:
        ref = executor.submit(lambda: threading.current_thread()._args[0]).result()  # type: ignore[attr-defined]
        assert ref() is executor
        assert isinstance(executor._max_workers, int)
        assert callable(executor._adjust_thread_count) and hasattr(executor._work_queue, "qsize")


def test_the_sdk_server_configures_a_provider_inside_a_call() -> None:
    """The hooks run from configure, which the server calls on a worker thread, on a provider's first use."""
    tree = server_source()
    get_provider = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_provider")
    assert "provider.configure" in calls(get_provider)
    servicer = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Servicer"))
    methods = {n.name: n for n in servicer.body if isinstance(n, ast.FunctionDef)}
    for name in ("Create", "Delete", "Update", "Read", "Check", "Diff"):
        assert "get_provider" in calls(methods[name]), name  # synchronous, on the pool's threads


def test_the_sdk_server_reports_errors_with_its_module_traceback() -> None:
    """report_errors_in_one_line swaps the server module's ``traceback`` global."""
    tree = server_source()
    assert any(isinstance(n, ast.Import) and [a.name for a in n.names] == ["traceback"] for n in tree.body)
    abort = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_abort_with_traceback")
    assert "traceback.format_exc" in calls(abort)
