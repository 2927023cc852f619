"""Renting, starting, changing and destroying instances: the machinery an
:class:`~vast_pulumi.instance.Instance` and every member of a :class:`~vast_pulumi.fleet.Fleet` share.

:class:`InstanceOps` is a plain object over one client, not a provider: each provider builds one per
call and says what to rent (an instance's inputs, its marker, and the offers to try, best first).

- **Rent** through the reconciling create (:mod:`vast_pulumi._reconcile`): a live instance carrying the
  marker is adopted; a rent of unknown outcome is resolved by the marker, never sent again blindly nor
  followed by a rent of another offer while it may exist. Offers are claimed process-wide, so
  concurrent creates do not all race for the best one.
- **Start**: wait (one list read per :data:`POLL_SECONDS`, shared by every wait of the process) until
  the instance is in its target state, and check that a rent with ``price`` reads back interruptible
  at that bid. An instance made for us that fails either is destroyed before the error is raised, so
  nothing is left billing. One retry policy: only a machine that never started the instance (a double
  rent) is worth another offer, at most :data:`START_ATTEMPTS` rents; a container that started and
  failed would fail on every machine, and a bid the server dropped would be dropped again.
- **Change** in place (label, container config, bid, state) and **sync SSH keys**.
- **Destroy** and wait until the API no longer lists the instance (:mod:`vast_pulumi._teardown`);
  what this process destroyed is never adopted again, though the list may show it a while.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vast_pulumi import _row_log
from vast_pulumi._dynamic import Props, same_value
from vast_pulumi._instance_inputs import InstanceInputs, MachineInputs
from vast_pulumi._instance_rows import (
    MARKER_ENV,
    actual_status,
    bid_of,
    describe_status,
    instance_failure,
    int_or_none,
    is_live,
    machine_never_started,
    marker_of,
    ssh_key_words,
)
from vast_pulumi._reconcile import CreateSteps, OutcomeUnknown, is_outcome_unknown, reconciling_create
from vast_pulumi._teardown import NotGoneError, Teardown, destroy_instances
from vast_pulumi.client import Row, VastClient
from vast_pulumi.errors import (
    AdoptError,
    InstanceNotReadyError,
    MachineNeverStartedError,
    OfferUnavailableError,
    VastApiError,
    VastNotFoundError,
)
from vast_pulumi.offers import Offer, rentable_offers

__all__ = [
    "BID_TOLERANCE",
    "OFFER_ATTEMPTS",
    "OFFER_SEARCH_LIMIT",
    "POLL_SECONDS",
    "START_ATTEMPTS",
    "InstanceOps",
    "Launch",
    "effective_runtype",
]

_log = logging.getLogger("vast_pulumi")

OFFER_SEARCH_LIMIT = 64  # offers fetched per query: concurrent creates each need their own
OFFER_ATTEMPTS = 8  # offers one rent tries before giving up
START_ATTEMPTS = 3  # rents one create makes whose machine never starts the instance, before giving up
BID_TOLERANCE = 1e-6  # $/hour: a bid reads back as a float
# Seconds between the list reads that every readiness wait of the process shares: an instance is seen
# running at most this long (plus one call) after it is; above the list route's 1 s threshold.
POLL_SECONDS = 1.5
# Inputs an instance keeps in its container config, changed in place with update_template (image only
# when adopting: for a managed instance its change is a replacement).
TEMPLATE_FIELDS = ("image", "template_hash_id", "env", "onstart", "args", "args_str")
_DESTROY_THREADS = 32


@dataclass(frozen=True)
class Launch:
    """An instance a create holds: rented now, found by its marker, or adopted by id."""

    instance_id: int
    offer_id: int | None
    instance_api_key: str | None
    ours: bool  # made for this resource (so a failed start destroys it), not the user's own


class _OfferClaims:
    """Offers this process has set out to rent.

    Concurrent creates resolve the same query to the same offers, best first. Without claims they
    would all try the best one, and all but one would spend a rent (paced at 4.5 s) on an offer that
    is gone; with them, each takes the best offer no other create took. A claim is released only when
    the rent surely did not happen (the API refused it for another reason than the offer being gone).
    """

    def __init__(self) -> None:
        self._claimed: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def claim(self, market: str, offer_id: int) -> bool:
        """Claim an offer of the market at API URL ``market``; False if it was claimed already."""
        with self._lock:
            if (market, offer_id) in self._claimed:
                return False
            self._claimed.add((market, offer_id))
            return True

    def release(self, market: str, offer_id: int) -> None:
        with self._lock:
            self._claimed.discard((market, offer_id))


_CLAIMS = _OfferClaims()


class _Destroyed:
    """Instances this process destroyed. Destroy is asynchronous on Vast.ai: the list may show a
    destroyed instance as it was for a while, and a replacement (which reuses the marker and
    destroys the old instance first) must not adopt it."""

    def __init__(self) -> None:
        self._ids: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def add(self, market: str, instance_id: int) -> None:
        with self._lock:
            self._ids.add((market, instance_id))

    def __contains__(self, key: tuple[str, int]) -> bool:
        with self._lock:
            return key in self._ids


_DESTROYED = _Destroyed()


class _Renter:
    """Rents offers for one create, best first, never more than ``OFFER_ATTEMPTS`` of them.

    An offer whose rent had an unknown outcome stays *in doubt*: the next call rents it again (the
    reconciling create only calls again after the marker was found nowhere) and never moves on to
    another offer while that rent may exist. If the offer in doubt answers "gone", our own first rent
    may have taken it: that is an unknown outcome too, so the marker is looked up once more.
    """

    def __init__(
        self, ops: InstanceOps, inputs: InstanceInputs, body: dict[str, Any], offers: Iterable[int]
    ) -> None:
        self._ops = ops
        self._inputs = inputs
        self._body = body
        self._offers: Iterator[int] = iter(offers)  # lazy: a search runs only if a rent is needed
        self._in_doubt: int | None = None
        self.tried = 0
        self.rented: dict[int, Launch] = {}

    def rent(self) -> int:
        while True:
            offer_id = self._in_doubt if self._in_doubt is not None else self._next_offer()
            try:
                reply = self._ops.client.create_instance(offer_id, self._body)
            except VastApiError as error:
                if is_outcome_unknown(error):
                    self._in_doubt = offer_id
                    raise
                doubted, self._in_doubt = self._in_doubt == offer_id, None
                if error.is_not_found and doubted:
                    raise OutcomeUnknown(
                        f"offer {offer_id} is gone after a rent of it whose outcome is unknown"
                    ) from error
                if error.is_not_found:  # no_such_ask: taken since the search
                    _log.info("vast: offer %s is no longer available; trying the next one", offer_id)
                    continue
                self._release(offer_id)
                raise
            self._in_doubt = None
            instance_id = int(reply["new_contract"])
            _row_log.note(f"rented instance {instance_id} from offer {offer_id}")
            key = reply.get("instance_api_key")
            self.rented[instance_id] = Launch(instance_id, offer_id, key, ours=True)
            return instance_id

    def _next_offer(self) -> int:
        pinned = self._inputs.offer_id is not None
        while self.tried < OFFER_ATTEMPTS:
            offer_id = next(self._offers, None)
            if offer_id is None:
                break
            if pinned or _CLAIMS.claim(self._ops.market, offer_id):
                self.tried += 1
                return offer_id
            # else a concurrent create of this process is renting it
        raise OfferUnavailableError(
            f"could not rent any of the {self.tried} offers tried ({describe_offer(self._inputs)}): "
            "all were taken meanwhile; run again"
        )

    def _release(self, offer_id: int) -> None:
        if self._inputs.offer_id is None:
            _CLAIMS.release(self._ops.market, offer_id)


class InstanceOps:
    """The instance machinery over one client (see the module's docstring)."""

    def __init__(self, client: VastClient) -> None:
        self.client = client
        self.market = client.settings.api_url

    # -- offers -------------------------------------------------------------------------------------

    def offers(self, inputs: MachineInputs, limit: int = OFFER_SEARCH_LIMIT) -> list[Offer]:
        """The offers ``offer_query`` matches, best first: priced with, and with room for, the disk;
        with ``price``, interruptible ones whose minimum bid it meets."""
        assert inputs.offer_query is not None
        # None rentable raises, saying why: a bid below every min_bid, or a gpu_name Vast.ai does not know.
        return rentable_offers(
            self.client,
            inputs.offer_query,
            order=inputs.order,
            limit=limit,
            disk=inputs.disk,
            price=inputs.price,
        )

    def candidates(self, inputs: InstanceInputs) -> Iterator[int]:
        """An instance's offers, lazily (searched when the first is needed): ``offer_id``, or the best
        ones ``offer_query`` matches."""
        if inputs.offer_id is not None:
            yield inputs.offer_id
            return
        machine = self.volume_machine(inputs)
        if machine is None:
            yield from (offer.id for offer in self.offers(inputs))
            return
        try:
            offers = self.offers(_on_machine(inputs, machine))
        except OfferUnavailableError as error:
            raise OfferUnavailableError(
                f"{error} (the search is pinned to machine {machine}, where volume_info's volume is: "
                "a local volume mounts only on its own machine)"
            ) from error
        yield from (offer.id for offer in offers)

    def volume_machine(self, inputs: InstanceInputs) -> int | None:
        """The machine of the volume ``volume_info`` links: a local volume "can only be attached to
        instances running on the same physical machine" (Vast's docs, audit V1), so the offer search
        is pinned to it."""
        info = inputs.volume_info
        if info is None or info.create_new:
            return None
        row = next((v for v in self.client.list_volumes() if v.get("id") == info.volume_id), None)
        if row is None:
            raise VastNotFoundError(f"volume_info.volume_id: no volume {info.volume_id} on this account")
        machine = int_or_none(row.get("machine_id"))
        if machine is None:
            raise VastNotFoundError(f"volume_info.volume_id: volume {info.volume_id} names no machine")
        return machine

    # -- rent and start -----------------------------------------------------------------------------

    def rent_and_start(
        self, inputs: InstanceInputs, marker: str, offers: Iterable[int], *, rented: set[int] | None = None
    ) -> tuple[Launch, Row]:
        """Rent from ``offers`` (best first) and start the instance. A rent nobody can use (the
        machine never starts it: a double rent of a machine someone else holds stays ``created`` with
        an OCI error) is destroyed and the next offer rented, at most ``START_ATTEMPTS`` rents in all.
        ``rented`` collects each instance as soon as it is held, before its start is awaited."""
        renter = _Renter(self, inputs, create_body(inputs, marker), offers)
        for attempt in range(1, START_ATTEMPTS + 1):
            launch = self._launch(inputs, marker, renter)
            if rented is not None:
                rented.add(launch.instance_id)
            try:
                return launch, self.start(launch, inputs)
            except MachineNeverStartedError as error:
                if inputs.offer_id is not None or attempt == START_ATTEMPTS:
                    why = (
                        f"offer_id {inputs.offer_id} is the only offer to try"
                        if inputs.offer_id is not None
                        else f"{attempt} rents in a row never started; run again"
                    )
                    raise InstanceNotReadyError(f"{error} ({why})") from error
                _log.warning("vast: %s; renting the next offer", error)
        raise AssertionError("unreachable")

    def _launch(self, inputs: InstanceInputs, marker: str, renter: _Renter) -> Launch:
        """The instance for this marker: a live one carrying it, else a new rent."""

        def converge(instance_id: int, row: Row | None, just_made: bool) -> Row:
            if not just_made and inputs.label is not None and (row or {}).get("label") != inputs.label:
                self.client.label_instance(instance_id, inputs.label)
            return row if row is not None else {"id": instance_id}

        row = reconciling_create(
            CreateSteps(
                noun="instance",
                find=lambda: self.marked(marker),
                create=renter.rent,
                delete=self.destroy_and_wait,
                converge=converge,
                findable=bool(marker),
            )
        )
        instance_id = int(row["id"])
        # Ours either way: a failed start destroys it. Its key is only known from our own rent's reply.
        return renter.rented.get(instance_id) or Launch(instance_id, inputs.offer_id, None, ours=True)

    def adopt(self, inputs: InstanceInputs) -> Launch:
        """Take instance ``adopt_id`` under management: label, state and container brought to the inputs."""
        assert inputs.adopt_id is not None
        row = self.client.get_instance(inputs.adopt_id)
        if row is None:
            raise AdoptError(f"adopt_id: there is no instance {inputs.adopt_id} on this account")
        _check_adopted_disk(inputs, row)
        current = {
            "label": row.get("label"),
            "target_state": row.get("intended_status"),
            "image": row.get("image_uuid"),
        }
        current.update({key: getattr(inputs, key) for key in TEMPLATE_FIELDS if key != "image"})
        self.apply_changes(inputs.adopt_id, current, inputs, marker="")
        return Launch(inputs.adopt_id, None, None, ours=False)

    def start(self, launch: Launch, inputs: InstanceInputs) -> Row:
        """Wait for the target state and check the bid; a failed start of an instance made for us
        destroys it first (raising :class:`MachineNeverStartedError` when its machine never started
        it and it is gone, so that the next offer may be rented)."""
        try:
            if inputs.wait_until_ready:
                row = self.wait(launch.instance_id, inputs, starting=not launch.ours)
            else:
                row = self.require(launch.instance_id)
            _check_bid(launch, inputs, row)
            return row
        except Exception as error:
            if not launch.ours:
                raise
            never_started = isinstance(error, InstanceNotReadyError) and self._never_started(launch)
            destroyed, note = self._destroy_after_failure(launch.instance_id)
            kind = MachineNeverStartedError if never_started and destroyed else InstanceNotReadyError
            raise kind(f"{error}. {note}") from error

    def _never_started(self, launch: Launch) -> bool:
        try:
            return machine_never_started(self.row(launch.instance_id))
        except Exception:  # a failed look must not stop the destroy: then it simply is not retried
            return False

    def _destroy_after_failure(self, instance_id: int) -> tuple[bool, str]:
        """Destroy an instance made for a create that failed: (destroyed, what to tell the user)."""
        try:
            self.destroy_and_wait(instance_id)
        except Exception as error:
            return False, (
                f"Destroying it failed too ({error}); it may still be billing: "
                f"destroy it yourself (vastai destroy instance {instance_id})"
            )
        return True, f"Instance {instance_id} was destroyed, so nothing is left billing"

    # -- SSH keys -----------------------------------------------------------------------------------

    def put_keys_on(self, launch: Launch, inputs: MachineInputs) -> None:
        """Attach ``ssh_key_ids`` to a new instance; if that fails, an instance made for us is destroyed
        before the error is raised (a failed create leaves nothing in state, so nothing billing)."""
        if not inputs.ssh_key_ids:
            return
        try:
            self.sync_keys(launch.instance_id, inputs.ssh_key_ids, [])
        except Exception as error:
            if not launch.ours:
                raise
            _, cleanup = self._destroy_after_failure(launch.instance_id)
            raise InstanceNotReadyError(f"{error}. {cleanup}") from error

    def sync_keys(self, instance_id: int, wanted: Sequence[int], before: Sequence[int]) -> None:
        """Attach the wanted account keys the instance lacks; detach those only ``before`` named.

        Keys are matched by type and data (the comment may differ): the attach route takes the key's
        text, and an instance lists a key attached by text under its own id."""
        account_keys = {int(row["id"]): ssh_key_words(row) for row in self.client.list_ssh_keys()}
        missing = [key_id for key_id in wanted if key_id not in account_keys]
        if missing:
            raise VastNotFoundError(f"ssh_key_ids: no SSH key {', '.join(map(str, missing))} on this account")
        on_box = self.client.instance_ssh_keys(instance_id)
        present = {tuple(ssh_key_words(row)[:2]) for row in on_box}
        for key_id in wanted:
            if tuple(account_keys[key_id][:2]) not in present:
                self.client.attach_ssh_key(instance_id, " ".join(account_keys[key_id]))
        dropped_ids = set(before) - set(wanted)
        dropped = {tuple(account_keys[key_id][:2]) for key_id in dropped_ids if key_id in account_keys}
        for row in on_box:
            if int(row["id"]) in dropped_ids or tuple(ssh_key_words(row)[:2]) in dropped:
                self.client.detach_ssh_key(instance_id, int(row["id"]))

    # -- changes in place ---------------------------------------------------------------------------

    def apply_changes(self, instance_id: int, olds: Props, inputs: InstanceInputs, marker: str) -> bool:
        """Label, container config, bid and state, each only if it changed from ``olds``; True if the
        container restarts. The bid goes before the state: an outbid instance starts only once its
        bid is high enough."""
        if inputs.label is not None and inputs.label != olds.get("label"):
            self.client.label_instance(instance_id, inputs.label)
        news = inputs.model_dump(mode="json")
        template_changed = [key for key in TEMPLATE_FIELDS if _changed(key, olds, news)]
        if template_changed:
            self.client.update_instance_template(instance_id, _template_body(inputs, marker))
        if inputs.price is not None and olds.get("price") is not None and inputs.price != olds.get("price"):
            self.client.change_bid(instance_id, inputs.price)
        state_changed = inputs.target_state != olds.get("target_state")
        if state_changed:
            self.client.update_instance_state(instance_id, inputs.target_state)
        return bool(template_changed) or state_changed

    # -- reading ------------------------------------------------------------------------------------

    def wait(self, instance_id: int, inputs: MachineInputs, *, starting: bool) -> Row:
        """Poll (one list read per ``POLL_SECONDS`` shared by all waits) until the instance is in its
        target state, for at most ``ready_timeout`` seconds; fail early when waiting longer is pointless.

        ``starting``: the instance may begin stopped or exited (adopted, or restarted by an update), so
        those states are not failures.
        """
        target = inputs.target_state
        deadline = time.monotonic() + inputs.ready_timeout
        seen = time.monotonic()
        shown = ""
        while True:
            seen, rows = self.client.next_instances(seen, POLL_SECONDS)
            row = next((row for row in rows if row.get("id") == instance_id), None)
            if row is None:  # not listed yet, or gone
                row = self.client.get_instance(instance_id)
            if row is None:
                raise InstanceNotReadyError(f"instance {instance_id} disappeared while starting")
            if row.get("intended_status") == target and actual_status(row) == target:
                _row_log.progress(f"instance {instance_id}: {target}")
                return row
            failure = instance_failure(row, target, starting=starting)
            if failure:
                raise InstanceNotReadyError(f"instance {instance_id} failed to become {target}: {failure}")
            status = f"instance {instance_id}: {describe_status(row)}; waiting until it is {target}"
            if status != shown:  # on the resource's row: "loading" for the minutes a boot takes
                _row_log.progress(status)
                shown = status
            if time.monotonic() >= deadline:
                waited = f"{inputs.ready_timeout:g} s"
                raise InstanceNotReadyError(
                    f"instance {instance_id} was not {target} after {waited} ({describe_status(row)})"
                )

    def row(self, instance_id: int) -> Row | None:
        """The instance's row: from the shared list snapshot, else (not listed yet, or gone) one GET."""
        rows = self.client.cached_instances()
        listed = next((row for row in rows if row.get("id") == instance_id), None)
        return listed if listed is not None else self.client.get_instance(instance_id)

    def require(self, instance_id: int) -> Row:
        row = self.row(instance_id)
        if row is None:
            raise InstanceNotReadyError(f"instance {instance_id} is gone")
        return row

    def is_live(self, row: Row) -> bool:
        """Neither on its way out nor destroyed by this process (the list may show a destroy late)."""
        return is_live(row) and (self.market, int(row["id"])) not in _DESTROYED

    def marked(self, marker: str) -> list[Row]:
        """The live instances carrying ``marker`` (one being destroyed is not live: a replacement
        reuses the marker and destroys the old instance first)."""
        rows = self.client.cached_instances()
        return [row for row in rows if marker_of(row) == marker and self.is_live(row)]

    # -- destroying ---------------------------------------------------------------------------------

    def destroy(self, instance_id: int) -> bool:
        """Send the destroy (recorded first: the call may be applied even if it fails)."""
        _DESTROYED.add(self.market, instance_id)
        return self.client.destroy_instance(instance_id)

    def destroyed(self, instance_id: int) -> bool:
        """Whether this process destroyed the instance already."""
        return (self.market, instance_id) in _DESTROYED

    def destroy_all(self, instance_ids: Iterable[int]) -> Teardown:
        """Destroy the instances at once and wait until the API lists none of them (the waits share one
        list read per poll); what failed is in the result, never raised but for a rejected key."""
        ids = list(dict.fromkeys(instance_ids))
        outcome = Teardown()
        if not ids:
            return outcome
        row = _row_log.current_urn()  # the waits run on threads of their own: they report to this row

        def destroy_one(instance_id: int) -> Teardown:
            with _row_log.bound(row):
                return destroy_instances(self.client, [instance_id], destroy=self.destroy)

        with ThreadPoolExecutor(max_workers=min(len(ids), _DESTROY_THREADS)) as pool:
            futures = [pool.submit(destroy_one, i) for i in ids]
            for future in futures:
                each = future.result()
                outcome.gone.extend(each.gone)
                outcome.failed.update(each.failed)
        return outcome

    def destroy_and_wait(self, instance_id: int) -> None:
        """Destroy an instance and return once the API no longer lists it: whatever destroys a
        machine (a delete, a create's clean-up) leaves nothing billing behind it."""
        outcome = destroy_instances(self.client, [instance_id], destroy=self.destroy)
        if outcome.failed:
            raise NotGoneError(
                f"{outcome.describe_failures()}: it may still be billing, and the stack keeps it; "
                f"run again, or check it with `vastai show instance {instance_id}`"
            )


def _changed(key: str, olds: Props, news: Props) -> bool:
    """Whether a container field changed. Of ``image`` and ``template_hash_id``, the one left unset is
    not changed to nothing: the instance keeps what the API has (as the providers' server defaults)."""
    new = news.get(key)
    if new is None and key in ("image", "template_hash_id"):
        return False
    return not same_value(olds.get(key), new)


def _check_bid(launch: Launch, inputs: MachineInputs, row: Row) -> None:
    """A rent with ``price`` must read back interruptible: an instance made for us that says
    ``is_bid: false`` is on-demand, not what was asked for, and may bill at the on-demand price.

    The price is only warned about. The API names no field for the bid, and its sources disagree on
    whether ``search.gpuCostPerHour`` is the bid or the listing's price (audit I1): destroying a fresh
    instance over it would make every interruptible ``up`` rent, destroy and fail.
    """
    if inputs.price is None or not launch.ours:
        return
    if row.get("is_bid") is False:
        raise InstanceNotReadyError(
            f"instance {launch.instance_id} was rented with price={inputs.price:g} but reads back as "
            f"on-demand (is_bid false), not interruptible at {inputs.price:g} $/h"
        )
    shown = bid_of(row)
    if row.get("is_bid") is None or (shown is not None and abs(shown - inputs.price) > BID_TOLERANCE):
        _log.warning(
            "vast: instance %s was rented with price=%g; its row shows is_bid=%s and "
            "search.gpuCostPerHour=%s $/h (that field may be the listing's price, not the bid): kept",
            launch.instance_id,
            inputs.price,
            row.get("is_bid"),
            "none" if shown is None else f"{shown:g}",
        )


# -- request bodies -------------------------------------------------------------------------------------


def create_body(inputs: InstanceInputs, marker: str) -> dict[str, Any]:
    """The rent's body (``PUT /asks/{id}/``), the marker in the environment."""
    body: dict[str, Any] = {
        "client_id": "me",
        "disk": inputs.disk,
        "target_state": inputs.target_state,
        # Unset: true on-demand (a busy machine answers at once, and the next offer is tried); false
        # for an interruptible, the API's default for them (openapi.yaml:1692-1696), and the official
        # client's: a bid waits for the machine.
        "cancel_unavail": inputs.price is None if inputs.cancel_unavail is None else inputs.cancel_unavail,
        "env": _env_with_marker(inputs.env, marker),
    }
    optional = {
        "image": inputs.image,
        "template_hash_id": inputs.template_hash_id,
        "label": inputs.label,
        "onstart": inputs.onstart,
        "args": inputs.args,
        "args_str": inputs.args_str,
        "runtype": effective_runtype(inputs.model_dump()),
        "price": inputs.price,
        "image_login": inputs.image_login,
        "volume_info": inputs.volume_info.model_dump(exclude_none=True) if inputs.volume_info else None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def _template_body(inputs: MachineInputs, marker: str) -> dict[str, Any]:
    body: dict[str, Any] = {"env": _env_with_marker(inputs.env, marker)}
    for key in ("image", "template_hash_id", "onstart", "args"):
        if getattr(inputs, key) is not None:
            body[key] = getattr(inputs, key)
    if inputs.args_str is not None:
        body["args"] = inputs.args_str  # this route takes the string form under "args"
    return body


def _env_with_marker(env: dict[str, str], marker: str) -> dict[str, str]:
    return {**env, MARKER_ENV: marker} if marker else dict(env)


def effective_runtype(inputs: Props) -> str | None:
    """The runtype sent: as given; else the template's (none sent); else args or ssh."""
    if inputs.get("runtype"):
        return str(inputs["runtype"])
    if inputs.get("template_hash_id"):
        return None
    return "args" if inputs.get("args") or inputs.get("args_str") else "ssh"


def _on_machine(inputs: InstanceInputs, machine: int) -> InstanceInputs:
    """The inputs with the offer query pinned to one machine."""
    return inputs.model_copy(update={"offer_query": f"{inputs.offer_query} machine_id={machine}"})


def _check_adopted_disk(inputs: InstanceInputs, row: Row) -> None:
    """An adopted instance keeps its disk (no API resizes one): ``disk`` must say what it is, else
    state would record the input (10 GB by default) for a 20 GB disk, and the next change of
    ``disk`` to the truth would replace the instance. Refused before anything is changed."""
    real = row.get("disk_space")
    if isinstance(real, bool) or not isinstance(real, int | float) or abs(float(real) - inputs.disk) < 0.5:
        return
    raise AdoptError(
        f"adopt_id: instance {inputs.adopt_id} has a {float(real):g} GB disk, but the disk input is "
        f"{inputs.disk:g} GB (10 when not set): set disk={float(real):g}; a disk cannot be resized, and "
        "another disk would rent a new instance. Nothing was changed"
    )


def describe_offer(inputs: InstanceInputs) -> str:
    return (
        f"offer {inputs.offer_id}" if inputs.offer_id is not None else f"offer_query {inputs.offer_query!r}"
    )
