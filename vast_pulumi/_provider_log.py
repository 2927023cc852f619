"""Our log lines in the Pulumi CLI's output, at their level.

The dynamic-provider server configures no logging, so Python's last-resort handler would print only
warnings and errors. The engine shows every line the provider writes to stderr as an info message of
the stack, whatever its level. Inside the server, the ``vast_pulumi`` logger therefore writes its info
lines to stderr too: routine progress ("rented instance ...") is logged as info, and still seen.
"""

from __future__ import annotations

import logging
import sys
import threading

LOGGER = "vast_pulumi"

_lock = threading.Lock()
_configured = False


def log_to_engine(*, force: bool = False) -> bool:
    """Send the package's info and warning lines to stderr, once; True inside the provider server.

    Outside it (a program, unit tests), logging stays as the application configured it; the provider
    plugin, a server of its own, says so with ``force``.
    """
    global _configured
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if not force and getattr(main_spec, "name", None) != "pulumi.dynamic.__main__":
        return False
    with _lock:
        if not _configured:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger = logging.getLogger(LOGGER)
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False  # one line each, whatever the root logger does
            _configured = True
    return True
