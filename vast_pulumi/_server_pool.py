"""Let more than four provider calls run at once.

The Python dynamic-provider server (``python -m pulumi.dynamic``) answers gRPC calls from a
``ThreadPoolExecutor(max_workers=4)`` shared by every dynamic resource in the stack. An instance
create holds its thread while the machine boots (minutes on Vast.ai), so with four threads a
fleet of 32 boots in eight rounds. Our provider methods run on that pool's worker threads, and
each worker thread keeps a weak reference to its executor; raising the executor's limit makes it
start more workers as calls arrive. The engine's own ``--parallel`` still bounds the calls it
sends, so this only removes the server's bottleneck.
"""

from __future__ import annotations

import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

PROVIDER_SERVER_WORKERS = 64

_lock = threading.Lock()
_widened = False


def widen_provider_server_pool(workers: int = PROVIDER_SERVER_WORKERS) -> bool:
    """Raise the provider server's worker limit to ``workers``; True once done.

    Call it from a provider method. Outside the dynamic-provider server (unit tests calling
    providers directly) it does nothing.
    """
    global _widened
    with _lock:
        if _widened:
            return True
        executor = _serving_executor()
        if executor is None:
            return False
        # The stdlib reads _max_workers on every submit to decide whether to start a thread.
        executor._max_workers = max(executor._max_workers, workers)
        _widened = True
        return True


def _serving_executor() -> ThreadPoolExecutor | None:
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if getattr(main_spec, "name", None) != "pulumi.dynamic.__main__":
        return None
    # ThreadPoolExecutor starts each worker as Thread(target=_worker, args=(weakref(executor), ...)).
    args = getattr(threading.current_thread(), "_args", ())
    ref = args[0] if args else None
    executor = ref() if isinstance(ref, weakref.ReferenceType) else None
    return executor if isinstance(executor, ThreadPoolExecutor) else None
