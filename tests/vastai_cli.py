"""The official ``vastai`` CLI for tests, forked from an interpreter that has already imported it.

Each ``vastai`` command spends most of its CPU importing the ``vastai`` package (its ``__init__``
pulls in the serverless client, aiohttp, ...). ``VastaiCli`` starts one long-lived
server process with the environment the command would get, which imports ``vastai.cli.main`` and the
command modules its ``main()`` imports, once. Each ``run`` then forks that server: the child takes the
command's argv, cwd, stdout and stderr and runs the official ``main()`` exactly as the ``vastai``
console script does (``sys.exit(main())``), ending as the interpreter would (exit status, non-daemon
threads, atexit handlers, flushed streams). So every command is still the real client in a process of
its own, on the official code path; only the import happened before the fork. The result is the
``subprocess.CompletedProcess[str]`` of ``subprocess.run(..., capture_output=True, text=True)``,
and a command that outlives its timeout is killed and raises ``subprocess.TimeoutExpired``.

Measured on the 2-core test machine (vastai 1.9.1): a command costs 0.75 s of CPU (user+sys) through
the ``vastai`` script, 0.025 s forked; the server's start, the import, costs 0.75 s once per
environment. The two contract test files (122 commands) went from 76 to 8.4 CPU-seconds.

What is computed at import must be what a fresh process computes, hence one server per environment:
``vastai`` reads ``HOME`` (config and cache paths), ``VAST_URL`` (default server, GPU names fetched at
import), ``sys.argv[0]`` (the program name in usage messages) and the encoding of stdout when it is
imported. The one difference an API can see: the GPU names are fetched when the server starts, not
by the first command (later commands read them from the cache under HOME either way). A fork copies
one thread only, so the server refuses to fork while another thread runs.
"""

from __future__ import annotations

import atexit
import base64
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

VASTAI = str(Path(sys.executable).with_name("vastai"))

# What vastai.cli.main.main() imports when it starts: imported in the server, they are no-ops there.
COMMAND_MODULES = [
    *(
        f"vastai.cli.commands.{name}"
        for name in ("instances", "offers", "machines", "teams", "keys", "endpoints", "billing", "storage")
    ),
    *(
        f"vastai.cli.commands.{name}"
        for name in ("auth", "misc", "deployments", "metrics", "benchmarks", "price_increase", "repl")
    ),
    "vastai.cli.commands.update",
    "vastai.cli.commands.uninstall",
    "argcomplete",
]
STARTUP_SECONDS = 120.0


class VastaiCli:
    """A warm ``vastai`` for one environment; ``run`` is ``subprocess.run([VASTAI, *args], ...)``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        own_end, server_end = socket.socketpair()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  # the server's output, while it lives
        with server_end:
            self._server = subprocess.Popen(
                [interpreter(VASTAI), __file__, str(server_end.fileno()), VASTAI],
                env=dict(env),
                pass_fds=[server_end.fileno()],
                stdout=self._log,
                stderr=self._log,
            )
        self._socket = own_end
        self._channel = own_end.makefile("rwb")
        try:
            self._socket.settimeout(STARTUP_SECONDS)
            self._receive()
            if os.fstat(self._log.fileno()).st_size:  # a fresh process would print this on every command
                raise RuntimeError(f"importing vastai printed output: {self._server_log()}")
        except BaseException:
            self.close()
            raise

    def run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        argv = [VASTAI, *args]
        request = {"argv": argv, "cwd": os.getcwd(), "timeout": timeout}
        self._channel.write(json.dumps(request).encode() + b"\n")
        self._channel.flush()
        self._socket.settimeout(timeout + STARTUP_SECONDS)  # the server kills the command at `timeout`
        reply = self._receive()
        stdout, stderr = base64.b64decode(reply["stdout"]), base64.b64decode(reply["stderr"])
        if reply["timed_out"]:
            raise subprocess.TimeoutExpired(argv, timeout, output=stdout, stderr=stderr)
        return subprocess.CompletedProcess(argv, reply["returncode"], as_text(stdout), as_text(stderr))

    def close(self) -> None:
        self._channel.close()
        self._socket.close()  # the server reads end of file and exits
        try:
            self._server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        self._log.close()

    def __enter__(self) -> VastaiCli:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _receive(self) -> dict[str, Any]:
        line = self._channel.readline()
        if not line:
            raise RuntimeError(f"the vastai fork server ended: {self._server_log()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _server_log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


def interpreter(script: str) -> str:
    """The interpreter a console script names on its ``#!`` line."""
    with open(script, encoding="utf-8") as file:
        return file.readline().removeprefix("#!").strip()


def as_text(data: bytes) -> str:
    """Bytes decoded as ``subprocess.run(text=True)`` decodes them: locale encoding, universal newlines."""
    return io.TextIOWrapper(io.BytesIO(data)).read()


# The server side: runs in the process VastaiCli starts, with the command's environment.


def serve(channel_fd: int, program: str) -> None:
    sys.path[0] = os.path.dirname(program)  # where a console script's own directory stands
    sys.argv = [program]  # argparse takes the program name from here when vastai builds its parser
    from vastai.cli.main import main

    for module in COMMAND_MODULES:
        __import__(module)
    with socket.socket(fileno=channel_fd) as channel_socket, channel_socket.makefile("rwb") as channel:
        answer(channel, {"ready": True})
        for line in channel:
            request = json.loads(line)
            answer(channel, run_forked(main, channel_fd, request["argv"], request["cwd"], request["timeout"]))


def answer(channel: io.BufferedIOBase, message: Mapping[str, object]) -> None:
    channel.write(json.dumps(message).encode() + b"\n")
    channel.flush()


def run_forked(
    main: Callable[[], Any], channel_fd: int, argv: list[str], cwd: str, timeout: float
) -> dict[str, object]:
    if threading.active_count() != 1:
        raise RuntimeError(
            f"threads run in the vastai fork server, a fork would copy none: {threading.enumerate()}"
        )
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_child(main, argv, cwd, stdout.fileno(), stderr.fileno(), channel_fd)
        returncode, timed_out = wait(pid, timeout)
        return {
            "returncode": returncode,
            "timed_out": timed_out,
            "stdout": base64.b64encode(read_all(stdout)).decode(),
            "stderr": base64.b64encode(read_all(stderr)).decode(),
        }


def run_child(
    main: Callable[[], Any], argv: list[str], cwd: str, stdout_fd: int, stderr_fd: int, channel_fd: int
) -> NoReturn:
    status = 70  # EX_SOFTWARE: this module failed, not the command
    try:
        os.close(channel_fd)  # only the server answers: its end of file must mean it is gone
        os.chdir(cwd)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        sys.argv = argv
        status = run_as_script(main)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)


def run_as_script(main: Callable[[], Any]) -> int:
    """``sys.exit(main())`` as the console script runs it, ended as the interpreter ends a script."""
    try:
        sys.exit(main())
    except SystemExit as exit:
        status = exit_status(exit.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as at exit
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def exit_status(code: object) -> int:
    """The interpreter's status for ``SystemExit(code)``: None is 0, an int itself, else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def wait(pid: int, timeout: float) -> tuple[int, bool]:
    """The child's returncode as ``subprocess`` reports it, and whether it was killed at ``timeout``."""
    child = os.pidfd_open(pid)
    try:
        finished, _, _ = select.select([child], [], [], timeout)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(child)
    return os.waitstatus_to_exitcode(status), not finished


def read_all(file: BinaryIO) -> bytes:
    file.seek(0)
    return file.read()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
