"""Let a Pulumi process end without tearing down its objects one by one.

Every ``pulumi up/preview/refresh/destroy`` starts two Python processes that import this package: the
program (``pulumi-language-python-exec`` running the user's ``__main__.py``) and the dynamic-provider
server (``python -m pulumi.dynamic``, which unpickles our providers and so imports their modules). When
such a process ends, the interpreter's finalization runs full garbage collections that find and free
every reference cycle still alive: the modules of the Pulumi SDK, gRPC, protobuf and pydantic, and ours,
tens of thousands of objects the operating system reclaims at once anyway. Measured
(``python -m benchmarks startup``), that teardown cost a program more CPU than importing vast_pulumi did.

So, in those two processes only, the package's first import registers :func:`gc.freeze` to run at exit
(after the program's or server's own work, before finalization): every object is moved to the
collector's permanent generation, and finalization's collections skip them. Nothing changes while the
process runs; at exit, ``atexit`` handlers registered earlier (``logging``'s flush among them) still run,
and module globals are still released; only the finalizers of objects kept alive by reference cycles
alone are not run, which Python never guarantees at exit. Anywhere else (tests, scripts, the emulator,
the CLI) nothing changes.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

__all__ = ["freeze_at_exit_if_pulumi_process", "is_pulumi_process"]

PROGRAM_HOST = "pulumi-language-python-exec"  # the script the Python language host runs programs with
PROVIDER_SERVER = "pulumi.dynamic.__main__"  # the module ``python -m pulumi.dynamic`` runs


def is_pulumi_process() -> bool:
    """Whether this process is a Pulumi program run by the language host, or the SDK's dynamic-provider
    server. The language host swaps ``sys.argv`` for the program's, so the original command line
    (``sys.orig_argv``) says which script it ran."""
    script = sys.orig_argv[1] if len(sys.orig_argv) > 1 else ""
    if os.path.basename(script) == PROGRAM_HOST:
        return True
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(main_spec, "name", None) == PROVIDER_SERVER


def freeze_at_exit_if_pulumi_process() -> None:
    if is_pulumi_process():
        atexit.register(gc.freeze)
