"""Destroying instances until nothing bills: the one mechanism every delete uses.

Destroy is asynchronous on Vast.ai: the API accepts the ``DELETE`` and may keep listing the instance for
a while (Max19970/easy-server#125 saw the list hold it while the single GET already answered nothing),
in whatever state the row then shows, until its machine has let it go. A delete that
returned at the ``DELETE`` would report success for a machine that may still be there, so every
delete that ends instances (an instance's, a workergroup's and an endpoint's workers, the orphan
finder's) sends its ``DELETE``\\ s and then polls the account's instance list until none of them is
listed, within a bound. Only "no longer listed" counts as gone. The other resources' deletes (a
template, an SSH key, an env var, a volume) wait the same way, with :func:`await_unlisted`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from vast_pulumi import _row_log
from vast_pulumi.client import VastClient
from vast_pulumi.errors import DeleteTimeoutError, NotGoneError, VastApiError, VastAuthError

__all__ = [
    "DELETE_TIMEOUT",
    "NotGoneError",
    "Teardown",
    "await_unlisted",
    "destroy_instances",
    "wait_until_unlisted",
]

# How long a delete waits for its instances to be no longer listed before it fails (seconds).
DELETE_TIMEOUT = 600.0
# Seconds between two looks at the instance list (through the client's shared snapshot).
POLL_SECONDS = 1.0

K = TypeVar("K", bound=Hashable)


@dataclass
class Teardown:
    """What :func:`destroy_instances` achieved: the ids no longer listed, and those that are not
    known to be gone, each with the reason."""

    gone: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def describe_failures(self, what: str = "instance") -> str:
        """ "instance 7 (still listed after 600 s), instance 9 (...)"."""
        return ", ".join(f"{what} {instance_id} ({why})" for instance_id, why in sorted(self.failed.items()))


def destroy_instances(
    client: VastClient,
    instance_ids: Iterable[int],
    *,
    awaiting: Iterable[int] = (),
    destroy: Callable[[int], object] | None = None,
    timeout: float | None = None,
    poll: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Teardown:
    """Destroy ``instance_ids`` and wait until the API lists none of them, nor any of ``awaiting``
    (instances whose destroy someone else started, such as an endpoint delete's workers).

    An instance already gone is fine. A ``DELETE`` the API refuses, or an instance still listed after
    ``timeout`` seconds (default :data:`DELETE_TIMEOUT`), is a failure; a rejected key is raised (it
    says nothing about the instance). ``destroy`` replaces ``client.destroy_instance`` (the instance
    provider records what it destroys).
    """
    outcome = Teardown()
    waiting: list[int] = list(dict.fromkeys(awaiting))
    for instance_id in dict.fromkeys(instance_ids):
        try:
            (destroy or client.destroy_instance)(instance_id)
        except VastAuthError:
            raise
        except VastApiError as error:
            outcome.failed[instance_id] = f"the destroy failed: {error}"
            continue
        if instance_id not in waiting:
            waiting.append(instance_id)
    still = wait_until_unlisted(
        lambda: {int(row["id"]) for row in client.cached_instances(max_age=poll)},
        waiting,
        timeout=DELETE_TIMEOUT if timeout is None else timeout,
        poll=poll,
        sleep=sleep,
    )
    outcome.gone = [instance_id for instance_id in waiting if instance_id not in still]
    bound = f"{DELETE_TIMEOUT if timeout is None else timeout:g} s"
    outcome.failed.update({instance_id: f"still listed after {bound}" for instance_id in still})
    return outcome


def wait_until_unlisted(
    listed: Callable[[], Collection[K]],
    ids: Iterable[K],
    *,
    timeout: float,
    poll: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "instance",
) -> set[K]:
    """Poll ``listed`` until none of ``ids`` is in it; the ids still listed when ``timeout`` passed.

    While it waits, the resource's row says what it waits for (``what``: "instance")."""
    waiting = set(ids)
    deadline = time.monotonic() + timeout
    shown: set[K] = set()
    while waiting:
        waiting &= set(listed())
        if not waiting or time.monotonic() >= deadline:
            break
        if waiting != shown:
            names = ", ".join(sorted(map(str, waiting)))
            named = what if names in what else f"{what} {names}"  # "SSH key 12" names its id already
            _row_log.progress(f"destroyed; waiting until the API no longer lists {named}")
            shown = set(waiting)
        sleep(poll)
    return waiting


def await_unlisted(
    what: str, listed: Callable[[], Collection[K]], key: K, *, timeout: float, poll: float = POLL_SECONDS
) -> None:
    """Return once ``key`` is no longer in ``listed()``; still there after ``timeout`` seconds, a
    :class:`DeleteTimeoutError` naming ``what`` (the stack keeps the resource)."""
    if wait_until_unlisted(listed, [key], timeout=timeout, poll=poll, what=what):
        raise DeleteTimeoutError(f"{what} was still listed {timeout:g} s after its delete")
