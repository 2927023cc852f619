"""In a Pulumi program run by the language host and in the dynamic-provider server, and nowhere else,
the package's first import has every object frozen at exit (``_startup``), so finalization does not
tear them down one by one. Each case runs a fresh interpreter the way that process is started and reads
the freeze from an exit handler registered before the import (handlers run last first); the last check
reads the installed language host for what ``is_pulumi_process`` relies on."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
from pathlib import Path

from vast_pulumi import _startup

FROZEN = (
    "import atexit, gc\n"
    "atexit.register(lambda: print(gc.get_freeze_count()))\n"
    "import vast_pulumi\n"
    "assert gc.get_freeze_count() == 0  # nothing changes while the process runs\n"
)
# As the language host runs a program: its script first, then sys.argv swapped for the program's.
PROGRAM = "import sys\nsys.argv = ['.']\n" + FROZEN
# As ``python -m pulumi.dynamic`` gives ``__main__`` its spec.
PROVIDER = (
    "import sys, importlib.machinery\n"
    f"sys.modules['__main__'].__spec__ = importlib.machinery.ModuleSpec({_startup.PROVIDER_SERVER!r}, None)\n"
    + FROZEN
)


def frozen_count(*args: str) -> int:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_program_run_by_the_language_host_is_frozen_at_exit(tmp_path: Path) -> None:
    host = tmp_path / _startup.PROGRAM_HOST
    host.write_text(PROGRAM)
    assert frozen_count(str(host)) > 0


def test_the_provider_server_is_frozen_at_exit() -> None:
    assert frozen_count("-c", PROVIDER) > 0


def test_any_other_process_is_left_alone(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(PROGRAM)
    assert frozen_count(str(script)) == 0
    assert frozen_count("-c", FROZEN) == 0
    assert not _startup.is_pulumi_process()  # this test process
    assert gc.get_freeze_count() == 0


def test_the_language_host_is_the_script_recognised() -> None:
    """The Python language host runs ``pulumi-language-python-exec`` (found beside the CLI) and swaps
    ``sys.argv`` for the program's, which is why the original command line is read."""
    pulumi = shutil.which("pulumi")
    assert pulumi is not None
    host = Path(pulumi).resolve().parent / _startup.PROGRAM_HOST
    assert "sys.argv = [args.PROGRAM]" in host.read_text()
