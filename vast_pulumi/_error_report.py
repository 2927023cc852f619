"""Errors the provider raises on purpose reach the Pulumi CLI as their one-line message.

The dynamic-provider server reports any exception of a provider method with
``traceback.format_exc()``, so the CLI shows a wall of frames around a message that already says
everything (which key was rejected, which account owns what, which ``adopt_id`` to set). For the
package's own errors (:class:`~vast_pulumi.errors.VastError` and its subclasses) the report is the
message alone; any other exception, a bug, keeps its traceback.
"""

from __future__ import annotations

import sys
import threading
import traceback
from typing import Any

from vast_pulumi.errors import VastError

_lock = threading.Lock()
_installed = False


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
    """Make the provider server report the package's errors as one line; True once done.

    Call it from a provider method. Outside the dynamic-provider server (unit tests calling
    providers directly) it does nothing.
    """
    global _installed
    with _lock:
        if _installed:
            return True
        server = sys.modules.get("__main__")
        if getattr(getattr(server, "__spec__", None), "name", None) != "pulumi.dynamic.__main__":
            return False
        if getattr(server, "traceback", None) is not traceback:
            return False  # a server that does not report this way: leave it alone
        server.traceback = _Traceback()  # type: ignore[union-attr]
        _installed = True
        return True
