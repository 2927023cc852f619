"""Keep the garbage collector off what a Pulumi process loaded before vast_pulumi.

Every ``pulumi up/preview/refresh/destroy`` starts two Python processes that import this package: the
program (``pulumi-language-python-exec`` running the user's ``__main__.py``) and the dynamic-provider
server (``python -m pulumi.dynamic``, which unpickles our providers and so imports their modules). Both
have loaded the Pulumi SDK first: hundreds of thousands of gRPC, protobuf and module objects that live as
long as the process. Importing pydantic and the resource modules allocates enough to start full
collections, and each one walks all of the SDK's objects again, for nothing: measured, that was about
half of the CPU the import of vast_pulumi costs in either process (``python -m benchmarks startup``).

So, in those two processes only, the package's first import moves every object that exists at that
moment to the collector's permanent generation (:func:`gc.freeze`): later collections skip them. Cyclic
garbage made before the import, if any, is then kept until the process exits: a one-off, bounded cost
in processes that exit when their command does. Anywhere else (tests, scripts, the emulator, the CLI)
nothing changes.
"""

from __future__ import annotations

import gc
import os
import sys

__all__ = ["freeze_if_pulumi_process", "is_pulumi_process"]

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


def freeze_if_pulumi_process() -> None:
    if is_pulumi_process():
        gc.freeze()
