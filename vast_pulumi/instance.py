"""A rented Vast.ai GPU instance.

>>> box = Instance(
...     "dev-box",
...     offer_query="gpu_name=RTX_4090 num_gpus=1 reliability>0.98",
...     image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
...     disk=32,
... )
>>> pulumi.export("ssh", box.ssh_command)  # "ssh -p 41022 root@203.0.113.7"

**Which machine.** ``offer_id`` rents that offer; ``offer_query`` (the CLI's query language, with
``order``, default cheapest first) is resolved at create to the best matching offer, moving on to the
next one when an offer is taken meanwhile, or when the rented machine never starts the instance (a
double rent: it stays ``created`` with an OCI error; destroyed, at most ``START_ATTEMPTS`` rents).
With ``price`` the instance is interruptible at that bid: it must read back so, else it is destroyed
and the create fails. A bid the API refuses still leaves a stopped instance: the shared reconciling
create destroys it before the error is shown. An outbid instance is stopped by Vast: a refresh reads
``target_state`` back as ``stopped``, and an update starts it again once ``price`` is high enough.
Offers are searched for ``disk``: priced with that much storage, and only machines with that much
``disk_space`` (unless ``offer_query`` filters on ``disk_space`` itself).

**Create** rents, then waits (unless ``wait_until_ready=False``) until the instance is in
``target_state``, polling at growing intervals (1 s, x1.5, at most 30 s) for at most
``ready_timeout`` seconds, and failing early when it exits, goes offline or reports an error. When the
wait fails, the instance is destroyed before the error is raised, so nothing is left billing.

**Updates.** In place: ``label``, ``target_state`` (start/stop), ``price`` (a new bid, as the official
client's ``change bid``; given or removed, it rents a new instance), and ``env``, ``onstart``, ``args``,
``args_str`` and ``template_hash_id`` (the container is recreated on the same machine: a template's
edit gives it a new hash, which must reach its instances as an update, as the official client's
``update instance --template_hash_id`` does). A change of ``offer_id``/``offer_query``, ``image``,
``disk``, ``runtype`` or ``image_login`` rents a new instance: a new image is a new machine
to its users, and the API's in-place template update keeps no documented promise about the disk.
The old instance is destroyed first, so two GPUs are never paid for at once. ``order``,
``cancel_unavail``, ``wait_until_ready`` and ``ready_timeout`` only matter to a create: changing them
calls no API.

**No duplicates.** Each instance carries its resource's marker in its environment
(``VAST_PULUMI_MARKER``). A create first looks for a live instance with its marker and adopts it: a
``pulumi up`` that was interrupted after renting converges when run again. A rent whose reply was lost
or answered 5xx is looked up by marker, never repeated blindly nor followed by a rent of another offer
while it may exist; after a rent, any other live instance with the marker is destroyed (see
:mod:`vast_pulumi._reconcile`).

**Destroy** returns once the API no longer lists the instance: destroy is asynchronous on Vast.ai,
and a destroyed instance stays listed a while (see :mod:`vast_pulumi._teardown`).

**SSH keys and a volume.** ``ssh_key_ids`` (ids of the account's keys, e.g. ``SshKey.key_id``) are put
on the instance after it is rented and attached or detached in place when the list changes (only keys
the list named are ever detached; a refresh does not read the keys back). ``volume_info`` mounts a
volume as the create API takes it (``{"volume_id": Volume.volume_id, "mount_path": "/data"}``), and
pins the offer search to the volume's machine (a local volume mounts nowhere else); changing it rents
a new instance. ``create_new=True`` is refused at preview: the volume it would rent belongs to no
resource and bills after the instance is gone (make it a ``Volume``).

**Interruptibles.** With ``price`` the instance must read back ``is_bid``; the bid itself is not
compared (the API names no field for it: ``search.gpuCostPerHour`` may be the listing's price), only
warned about. **Gone** includes being destroyed: a refresh drops such an instance, and an update of an
instance destroyed out of band fails saying so, the next ``up`` planning a replacement.

**Existing instances.** ``Instance.get("name", "123")`` reads one without managing it; the ``adopt_id``
input makes ``create`` take instance 123 under management (label, state and image brought to the
inputs) instead of renting one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Unpack

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from vast_pulumi._dynamic import (
    ACCOUNT_KEY,
    MARKER_KEY,
    Props,
    VastProvider,
    VastResource,
    is_unknown,
    numeric_id,
)
from vast_pulumi._instance_inputs import (
    INPUT_KEYS,
    InstanceArgs,
    InstanceInputs,
    InstanceVolume,
    InstanceVolumeArgs,
)
from vast_pulumi._instance_rows import (
    MARKER_ENV,
    actual_status,
    bid_of,
    describe_status,
    host_ports,
    instance_failure,
    int_or_none,
    is_live,
    machine_never_started,
    marker_of,
    ssh_command,
    ssh_key_words,
)
from vast_pulumi._reconcile import CreateSteps, OutcomeUnknown, is_outcome_unknown, reconciling_create
from vast_pulumi._teardown import NotGoneError, destroy_instances
from vast_pulumi.client import Row
from vast_pulumi.errors import (
    AdoptError,
    InstanceNotReadyError,
    OfferUnavailableError,
    VanishedError,
    VastApiError,
    VastAuthError,
    VastError,
    VastNotFoundError,
)
from vast_pulumi.offers import canonical_query, search_offers
from vast_pulumi.query import parse_query

# The inputs and the row readers live in their own modules; the names importers have always taken from
# here stay importable from here.
__all__ = [
    "MARKER_ENV",
    "OFFER_SEARCH_LIMIT",
    "Instance",
    "InstanceArgs",
    "InstanceInputs",
    "InstanceNotReadyError",
    "InstanceProvider",
    "InstanceVolume",
    "InstanceVolumeArgs",
    "instance_failure",
    "is_live_instance",
    "marker_of",
    "ssh_command",
]

_log = logging.getLogger("vast_pulumi")

OFFER_SEARCH_LIMIT = 64  # offers fetched per query: concurrent creates each need their own
OFFER_ATTEMPTS = 8  # offers one create tries before giving up
START_ATTEMPTS = 3  # rents one create makes whose machine never starts the instance, before giving up
_BID_TOLERANCE = 1e-6  # $/hour: a bid reads back as a float
# Seconds between the list reads that every readiness wait of the process shares: an instance is seen
# running at most this long (plus one call) after it is; above the list route's 1 s threshold.
_POLL_SECONDS = 1.5
# Inputs the instance keeps in its container config, changed in place with update_template (image only
# when adopting: for a managed instance its change is a replacement).
_TEMPLATE_FIELDS = ("image", "template_hash_id", "env", "onstart", "args", "args_str")


# -- renting: what this process's creates rent, claim and destroy ---------------------------------------


@dataclass(frozen=True)
class _Launch:
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


def is_live_instance(row: Row, market: str) -> bool:
    """Neither on its way out nor destroyed by this process (the list may show a destroy late)."""
    return is_live(row) and (market, int(row["id"])) not in _DESTROYED


class _Renter:
    """Rents offers for one create, best first, never more than ``OFFER_ATTEMPTS`` of them.

    An offer whose rent had an unknown outcome stays *in doubt*: the next call rents it again (the
    reconciling create only calls again after the marker was found nowhere) and never moves on to
    another offer while that rent may exist. If the offer in doubt answers "gone", our own first rent
    may have taken it: that is an unknown outcome too, so the marker is looked up once more.
    """

    def __init__(self, provider: InstanceProvider, inputs: InstanceInputs, marker: str) -> None:
        self._provider = provider
        self._inputs = inputs
        self._body = _create_body(inputs, marker)
        self._market = provider.client.settings.api_url
        self._offers: Iterator[int] | None = None
        self._in_doubt: int | None = None
        self.tried = 0
        self.rented: dict[int, _Launch] = {}

    def rent(self) -> int:
        client = self._provider.client
        while True:
            offer_id = self._in_doubt if self._in_doubt is not None else self._next_offer()
            try:
                reply = client.create_instance(offer_id, self._body)
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
            _log.info("vast: rented instance %s from offer %s", instance_id, offer_id)
            key = reply.get("instance_api_key")
            self.rented[instance_id] = _Launch(instance_id, offer_id, key, ours=True)
            return instance_id

    def _next_offer(self) -> int:
        if self._offers is None:
            self._offers = iter(self._provider._candidates(self._inputs))
        pinned = self._inputs.offer_id is not None
        while self.tried < OFFER_ATTEMPTS:
            offer_id = next(self._offers, None)
            if offer_id is None:
                break
            if pinned or _CLAIMS.claim(self._market, offer_id):
                self.tried += 1
                return offer_id
            # else a concurrent create of this process is renting it
        raise OfferUnavailableError(
            f"could not rent any of the {self.tried} offers tried ({_describe_offer(self._inputs)}): "
            "all were taken meanwhile; run again"
        )

    def _release(self, offer_id: int) -> None:
        if self._inputs.offer_id is None:
            _CLAIMS.release(self._market, offer_id)


class _MachineNeverStartedError(InstanceNotReadyError):
    """The machine never started the instance, which was destroyed: another offer may work."""


class InstanceProvider(VastProvider[InstanceInputs]):
    inputs_model = InstanceInputs
    # ``price`` changes in place (a new bid), except between on-demand and interruptible: see ``diff``.
    replace_on_change = frozenset(
        {"offer_id", "offer_query", "image", "disk", "runtype", "image_login", "volume_info"}
    )
    server_defaults = frozenset(
        {"offer_id", "offer_query", "image", "template_hash_id", "label", "runtype", "cancel_unavail"}
    )
    secret_inputs = frozenset({"image_login"})
    delete_before_replace = True  # never two GPUs billing at once; and the marker must be free
    noun = "instance"

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        marker = str(props.get(MARKER_KEY) or "")
        if inputs.adopt_id is not None:
            launch = self._adopt(inputs)
            row = self._settle(launch, inputs)
        else:
            launch, row = self._rent_and_start(inputs, marker)
        self._put_keys_on(launch, inputs)
        outputs = self._outputs(self.given(inputs, props), row, launch)
        return CreateResult(str(launch.instance_id), {**outputs, ACCOUNT_KEY: account})

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        instance_id = numeric_id(id_)
        row = self._row(instance_id)
        if row is None or not is_live_instance(row, self.client.settings.api_url):
            # Being destroyed counts as gone: its single GET may already answer nothing while the list
            # still shows it (readings row and gone of destroying_get), and no start brings it back.
            return self.gone()
        launch = _Launch(instance_id, props.get("offer_id"), props.get("instance_api_key"), ours=False)
        outs = {**self._outputs(props, row, launch), ACCOUNT_KEY: account}
        outs["label"] = row.get("label")  # drift shows; the other inputs are not read back (see above)
        if row.get("intended_status") in ("running", "stopped"):
            outs["target_state"] = row["intended_status"]
        return self.read_result(id_, outs, props)

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        instance_id = numeric_id(id_)
        marker = str(news.get(MARKER_KEY) or "")
        try:
            restarted = self._apply_changes(instance_id, olds, inputs, marker)
        except VastApiError as error:
            if error.is_not_found:
                raise _vanished(instance_id, error) from error
            raise
        if self.differs("ssh_key_ids", olds, news):
            self._sync_ssh_keys(instance_id, inputs.ssh_key_ids or [], olds.get("ssh_key_ids") or [])
        if restarted and inputs.wait_until_ready:
            row = self._wait(instance_id, inputs, starting=True)
        else:
            row = self._require(instance_id)
        launch = _Launch(instance_id, olds.get("offer_id"), olds.get("instance_api_key"), ours=False)
        return UpdateResult({**self._outputs(self.given(inputs, news), row, launch), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        """Destroy the instance and return once the API no longer lists it (destroy is asynchronous:
        until then the machine may still be there). Already gone is fine; still listed after
        ``_teardown.DELETE_TIMEOUT`` fails, and the stack keeps the instance."""
        self.owner(id_, props)
        self._destroy_and_wait(numeric_id(id_))

    def diff(self, id_: str, olds: Props, news: Props) -> DiffResult:
        """As the base's, but a ``price`` given or taken away rents a new instance: an on-demand
        instance cannot become interruptible in place, nor the other way round. An in-place update is
        planned only for an instance that still exists: one destroyed out of band (404 on its update)
        is replaced instead (the one API read a diff makes, and only when it would update)."""
        result = self._kind_diff(id_, olds, news)
        if not result.changes or result.replaces or not id_:
            return result
        changed = [key for key in INPUT_KEYS if self.differs(key, olds, news)]
        if not changed or self._exists(numeric_id(id_)):
            return result
        _log.warning("vast: instance %s is gone or being destroyed: it is replaced, not updated", id_)
        return DiffResult(changes=True, replaces=changed, delete_before_replace=True)

    def _exists(self, instance_id: int) -> bool:
        """Whether the instance is still there and live; an unreadable list (not a rejected key) says
        nothing, and the update is planned as usual."""
        try:
            row = self._row(instance_id)
        except VastAuthError:
            raise
        except VastError as error:
            _log.warning("vast: could not look up instance %s before the update: %s", instance_id, error)
            return True
        return row is not None and is_live_instance(row, self.client.settings.api_url)

    def _kind_diff(self, id_: str, olds: Props, news: Props) -> DiffResult:
        result = super().diff(id_, olds, news)
        new_price = news.get("price")
        kind_changes = (olds.get("price") is None) != (new_price is None) and not (
            is_unknown(new_price) and olds.get("price") is not None
        )
        replaces = list(result.replaces or [])
        if not kind_changes or "price" in replaces:
            return result
        return DiffResult(
            changes=True,
            replaces=[*replaces, "price"],
            delete_before_replace=self.delete_before_replace,
        )

    def differs(self, key: str, olds: Props, news: Props) -> bool:
        new = news.get(key)
        if key == "offer_query" and isinstance(new, str) and isinstance(olds.get(key), str):
            return canonical_query(parse_query(new)) != canonical_query(parse_query(olds[key]))
        return super().differs(key, olds, news)

    # -- create -------------------------------------------------------------------------------------

    def _rent_and_start(self, inputs: InstanceInputs, marker: str) -> tuple[_Launch, Row]:
        """Rent and wait for the instance. A rent nobody can use (the machine never starts it: a
        double rent of a machine someone else holds stays ``created`` with an OCI error) is destroyed
        and the next offer rented, at most ``START_ATTEMPTS`` rents in all."""
        renter = _Renter(self, inputs, marker)
        for attempt in range(1, START_ATTEMPTS + 1):
            launch = self._launch(inputs, marker, renter)
            try:
                return launch, self._settle(launch, inputs)
            except _MachineNeverStartedError as error:
                if inputs.offer_id is not None or attempt == START_ATTEMPTS:
                    why = (
                        f"offer_id {inputs.offer_id} is the only offer to try"
                        if inputs.offer_id is not None
                        else f"{attempt} rents in a row never started; run again"
                    )
                    raise InstanceNotReadyError(f"{error} ({why})") from error
                _log.warning("vast: %s; renting the next offer", error)
        raise AssertionError("unreachable")

    def _launch(self, inputs: InstanceInputs, marker: str, renter: _Renter) -> _Launch:
        """The instance for this resource: a live one carrying its marker, else a new rent."""

        def converge(instance_id: int, row: Row | None, just_made: bool) -> Row:
            if not just_made and inputs.label is not None and (row or {}).get("label") != inputs.label:
                self.client.label_instance(instance_id, inputs.label)
            return row if row is not None else {"id": instance_id}

        row = reconciling_create(
            CreateSteps(
                noun="instance",
                find=lambda: self._marked(marker),
                create=renter.rent,
                delete=self._destroy_and_wait,
                converge=converge,
                findable=bool(marker),
            )
        )
        instance_id = int(row["id"])
        # Ours either way: a failed start destroys it. Its key is only known from our own rent's reply.
        return renter.rented.get(instance_id) or _Launch(instance_id, inputs.offer_id, None, ours=True)

    def _candidates(self, inputs: InstanceInputs) -> list[int]:
        if inputs.offer_id is not None:
            return [inputs.offer_id]
        assert inputs.offer_query is not None
        machine = self._volume_machine(inputs)
        offers = search_offers(
            self.client,
            inputs.offer_query if machine is None else f"{inputs.offer_query} machine_id={machine}",
            order=inputs.order,
            limit=OFFER_SEARCH_LIMIT,
            interruptible=inputs.price is not None,
            disk=inputs.disk,  # priced with, and with room for, the disk it rents
        )
        if inputs.price is not None:
            offers = [offer for offer in offers if offer.min_bid is None or offer.min_bid <= inputs.price]
        if not offers:
            where = "" if machine is None else f" on machine {machine}, where volume_info's volume is"
            raise OfferUnavailableError(f"no offer matches {_describe_offer(inputs)}{where} right now")
        return [offer.id for offer in offers]

    def _volume_machine(self, inputs: InstanceInputs) -> int | None:
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

    def _marked(self, marker: str) -> list[Row]:
        """The live instances carrying this resource's marker (one being destroyed is not live: a
        replacement reuses the marker and destroys the old instance first)."""
        market = self.client.settings.api_url
        return [
            row
            for row in self.client.cached_instances()
            if marker_of(row) == marker and is_live_instance(row, market)
        ]

    def _destroy(self, instance_id: int) -> bool:
        _DESTROYED.add(self.client.settings.api_url, instance_id)  # before: the call may be applied
        return self.client.destroy_instance(instance_id)

    def _destroy_and_wait(self, instance_id: int) -> None:
        """Destroy an instance and return once the API no longer lists it: whatever destroys a
        machine (a delete, a create's clean-up) leaves nothing billing behind it."""
        outcome = destroy_instances(self.client, [instance_id], destroy=self._destroy)
        if outcome.failed:
            raise NotGoneError(
                f"{outcome.describe_failures()}: it may still be billing, and the stack keeps it; "
                f"run again, or check it with `vastai show instance {instance_id}`"
            )

    def _adopt(self, inputs: InstanceInputs) -> _Launch:
        assert inputs.adopt_id is not None
        row = self.client.get_instance(inputs.adopt_id)
        if row is None:
            raise AdoptError(f"adopt_id: there is no instance {inputs.adopt_id} on this account")
        current = {
            "label": row.get("label"),
            "target_state": row.get("intended_status"),
            "image": row.get("image_uuid"),
        }
        current.update({key: getattr(inputs, key) for key in _TEMPLATE_FIELDS if key != "image"})
        self._apply_changes(inputs.adopt_id, current, inputs, marker="")
        return _Launch(inputs.adopt_id, None, None, ours=False)

    def _settle(self, launch: _Launch, inputs: InstanceInputs) -> Row:
        """Wait for the target state and check the bid; a failed start of an instance made for us
        destroys it first (raising :class:`_MachineNeverStartedError` when its machine never started
        it and it is gone, so that the next offer may be rented)."""
        try:
            if inputs.wait_until_ready:
                row = self._wait(launch.instance_id, inputs, starting=not launch.ours)
            else:
                row = self._require(launch.instance_id)
            self._check_bid(launch, inputs, row)
            return row
        except Exception as error:
            if not launch.ours:
                raise
            never_started = isinstance(error, InstanceNotReadyError) and self._never_started(launch)
            destroyed, note = self._destroy_after_failure(launch.instance_id)
            kind = _MachineNeverStartedError if never_started and destroyed else InstanceNotReadyError
            raise kind(f"{error}. {note}") from error

    def _never_started(self, launch: _Launch) -> bool:
        try:
            return machine_never_started(self._row(launch.instance_id))
        except Exception:  # a failed look must not stop the destroy: then it simply is not retried
            return False

    @staticmethod
    def _check_bid(launch: _Launch, inputs: InstanceInputs, row: Row) -> None:
        """A rent with ``price`` must read back interruptible: an instance made for us that says
        ``is_bid: false`` is on-demand, not what was asked for, and may bill at the on-demand price.

        The price is only warned about. The API names no field for the bid, and its sources disagree
        on whether ``search.gpuCostPerHour`` is the bid or the listing's price (audit I1): destroying
        a fresh instance over it would make every interruptible ``up`` rent, destroy and fail.
        """
        if inputs.price is None or not launch.ours:
            return
        if row.get("is_bid") is False:
            raise InstanceNotReadyError(
                f"instance {launch.instance_id} was rented with price={inputs.price:g} but reads back as "
                f"on-demand (is_bid false), not interruptible at {inputs.price:g} $/h"
            )
        shown = bid_of(row)
        if row.get("is_bid") is None or (shown is not None and abs(shown - inputs.price) > _BID_TOLERANCE):
            _log.warning(
                "vast: instance %s was rented with price=%g; its row shows is_bid=%s and "
                "search.gpuCostPerHour=%s $/h (that field may be the listing's price, not the bid): kept",
                launch.instance_id,
                inputs.price,
                row.get("is_bid"),
                "none" if shown is None else f"{shown:g}",
            )

    def _destroy_after_failure(self, instance_id: int) -> tuple[bool, str]:
        """Destroy an instance made for a create that failed: (destroyed, what to tell the user)."""
        try:
            self._destroy_and_wait(instance_id)
        except Exception as error:
            return False, (
                f"Destroying it failed too ({error}); it may still be billing: "
                f"destroy it yourself (vastai destroy instance {instance_id})"
            )
        return True, f"Instance {instance_id} was destroyed, so nothing is left billing"

    def _put_keys_on(self, launch: _Launch, inputs: InstanceInputs) -> None:
        """Attach ``ssh_key_ids`` to a new instance; if that fails, an instance made for us is destroyed
        before the error is raised (a failed create leaves nothing in state, so nothing billing)."""
        if not inputs.ssh_key_ids:
            return
        try:
            self._sync_ssh_keys(launch.instance_id, inputs.ssh_key_ids, [])
        except Exception as error:
            if not launch.ours:
                raise
            _, cleanup = self._destroy_after_failure(launch.instance_id)
            raise InstanceNotReadyError(f"{error}. {cleanup}") from error

    def _sync_ssh_keys(self, instance_id: int, wanted: list[int], before: list[int]) -> None:
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

    # -- update -------------------------------------------------------------------------------------

    def _apply_changes(self, instance_id: int, olds: Props, inputs: InstanceInputs, marker: str) -> bool:
        """Label, container config, bid and state, each only if it changed; True if the container
        restarts. The bid goes before the state: an outbid instance starts only once its bid is high
        enough."""
        if inputs.label is not None and inputs.label != olds.get("label"):
            self.client.label_instance(instance_id, inputs.label)
        news = inputs.model_dump(mode="json")
        template_changed = [key for key in _TEMPLATE_FIELDS if self.differs(key, olds, news)]
        if template_changed:
            self.client.update_instance_template(instance_id, _template_body(inputs, marker))
        if inputs.price is not None and olds.get("price") is not None and inputs.price != olds.get("price"):
            self.client.change_bid(instance_id, inputs.price)
        state_changed = inputs.target_state != olds.get("target_state")
        if state_changed:
            self.client.update_instance_state(instance_id, inputs.target_state)
        return bool(template_changed) or state_changed

    # -- reading ------------------------------------------------------------------------------------

    def _wait(self, instance_id: int, inputs: InstanceInputs, *, starting: bool) -> Row:
        """Poll (one list read per ``_POLL_SECONDS`` shared by all waits) until the instance is in its
        target state.

        ``starting``: the instance may begin stopped or exited (adopted, or restarted by an update), so
        those states are not failures.
        """
        target = inputs.target_state
        deadline = time.monotonic() + inputs.ready_timeout
        seen = time.monotonic()
        while True:
            seen, rows = self.client.next_instances(seen, _POLL_SECONDS)
            row = next((row for row in rows if row.get("id") == instance_id), None)
            if row is None:  # not listed yet, or gone
                row = self.client.get_instance(instance_id)
            if row is None:
                raise InstanceNotReadyError(f"instance {instance_id} disappeared while starting")
            if row.get("intended_status") == target and actual_status(row) == target:
                return row
            failure = instance_failure(row, target, starting=starting)
            if failure:
                raise InstanceNotReadyError(f"instance {instance_id} failed to become {target}: {failure}")
            if time.monotonic() >= deadline:
                waited = f"{inputs.ready_timeout:g} s"
                raise InstanceNotReadyError(
                    f"instance {instance_id} was not {target} after {waited} ({describe_status(row)})"
                )

    def _row(self, instance_id: int) -> Row | None:
        """The instance's row: from the shared list snapshot, else (not listed yet, or gone) one GET."""
        rows = self.client.cached_instances()
        listed = next((row for row in rows if row.get("id") == instance_id), None)
        return listed if listed is not None else self.client.get_instance(instance_id)

    def _require(self, instance_id: int) -> Row:
        row = self._row(instance_id)
        if row is None:
            raise InstanceNotReadyError(f"instance {instance_id} is gone")
        return row

    def _outputs(self, given: Props, row: Row, launch: _Launch) -> Props:
        outputs = {key: given.get(key) for key in (*INPUT_KEYS, MARKER_KEY)}
        outputs.update(
            offer_id=launch.offer_id if launch.offer_id is not None else given.get("offer_id"),
            runtype=given.get("runtype") or _effective_runtype(given),
            label=row.get("label") if given.get("label") is None else given.get("label"),
            actual_status=actual_status(row),
            ssh_host=row.get("ssh_host"),
            ssh_port=int_or_none(row.get("ssh_port")),
            ssh_command=ssh_command(row),
            public_ipaddr=row.get("public_ipaddr"),
            ports=host_ports(row.get("ports")),
            gpu_name=row.get("gpu_name"),
            num_gpus=int_or_none(row.get("num_gpus")),
            dph_total=row.get("dph_total"),
            machine_id=int_or_none(row.get("machine_id")),
            instance_api_key=launch.instance_api_key,
            jupyter_token=row.get("jupyter_token"),
        )
        return outputs


# -- request bodies -------------------------------------------------------------------------------------


def _create_body(inputs: InstanceInputs, marker: str) -> dict[str, Any]:
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
        "runtype": _effective_runtype(inputs.model_dump()),
        "price": inputs.price,
        "image_login": inputs.image_login,
        "volume_info": inputs.volume_info.model_dump(exclude_none=True) if inputs.volume_info else None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def _template_body(inputs: InstanceInputs, marker: str) -> dict[str, Any]:
    body: dict[str, Any] = {"env": _env_with_marker(inputs.env, marker)}
    for key in ("image", "template_hash_id", "onstart", "args"):
        if getattr(inputs, key) is not None:
            body[key] = getattr(inputs, key)
    if inputs.args_str is not None:
        body["args"] = inputs.args_str  # this route takes the string form under "args"
    return body


def _env_with_marker(env: dict[str, str], marker: str) -> dict[str, str]:
    return {**env, MARKER_ENV: marker} if marker else dict(env)


def _effective_runtype(inputs: Props) -> str | None:
    """The runtype sent: as given; else the template's (none sent); else args or ssh."""
    if inputs.get("runtype"):
        return str(inputs["runtype"])
    if inputs.get("template_hash_id"):
        return None
    return "args" if inputs.get("args") or inputs.get("args_str") else "ssh"


def _vanished(instance_id: int, error: VastApiError) -> VanishedError:
    return VanishedError(
        f"instance {instance_id} no longer exists on Vast.ai ({error.method} {error.path} answered "
        f"{error.status} {error.error or ''}): it was destroyed outside this stack (by hand, or by its "
        "host), and nothing was changed. The next `pulumi up` rents a replacement; `pulumi refresh` "
        "drops it from the stack now"
    )


def _describe_offer(inputs: InstanceInputs) -> str:
    return (
        f"offer {inputs.offer_id}" if inputs.offer_id is not None else f"offer_query {inputs.offer_query!r}"
    )


class Instance(VastResource, module="vast", name="Instance"):
    """A rented GPU instance. Outputs: connection details (``ssh_command`` is the one to use), hardware
    and price of the rented offer, ``instance_api_key`` and ``jupyter_token`` (secrets), and the inputs'
    effective values."""

    offer_id: pulumi.Output[int]
    offer_query: pulumi.Output[str | None]
    order: pulumi.Output[str]
    image: pulumi.Output[str | None]
    template_hash_id: pulumi.Output[str | None]
    disk: pulumi.Output[float]
    label: pulumi.Output[str | None]
    env: pulumi.Output[dict[str, str]]
    onstart: pulumi.Output[str | None]
    args: pulumi.Output[list[str] | None]
    args_str: pulumi.Output[str | None]
    runtype: pulumi.Output[str | None]
    price: pulumi.Output[float | None]
    target_state: pulumi.Output[str]
    image_login: pulumi.Output[str | None]
    cancel_unavail: pulumi.Output[bool]
    wait_until_ready: pulumi.Output[bool]
    ready_timeout: pulumi.Output[float]
    ssh_key_ids: pulumi.Output[list[int] | None]
    volume_info: pulumi.Output[dict[str, Any] | None]
    actual_status: pulumi.Output[str]
    ssh_host: pulumi.Output[str]
    ssh_port: pulumi.Output[int]
    ssh_command: pulumi.Output[str | None]
    public_ipaddr: pulumi.Output[str]
    ports: pulumi.Output[dict[str, str]]
    gpu_name: pulumi.Output[str]
    num_gpus: pulumi.Output[int]
    dph_total: pulumi.Output[float]
    machine_id: pulumi.Output[int]
    instance_api_key: pulumi.Output[str]
    jupyter_token: pulumi.Output[str]

    output_descriptions: ClassVar[Mapping[str, str]] = {
        "actual_status": "The status the API reports (running, loading, exited, ...).",
        "ssh_host": "The SSH proxy host.",
        "ssh_port": "The SSH proxy port.",
        "ssh_command": "The command to log in, 'ssh -p PORT root@HOST', by the official client's rule.",
        "public_ipaddr": "The machine's public IP address.",
        "ports": "Host port of each container port ({'22/tcp': '41022'}).",
        "gpu_name": "The GPU model.",
        "num_gpus": "The number of GPUs.",
        "dph_total": "The price, $/hour, storage included.",
        "machine_id": "The machine's id.",
        "instance_api_key": "The instance's API key, from the rent's reply.",
        "jupyter_token": "The Jupyter token.",
    }
    output_keys = (*INPUT_KEYS, *output_descriptions)
    secret_outputs = ("instance_api_key", "jupyter_token", "image_login")

    def __init__(
        self,
        resource_name: str,
        args: InstanceArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[InstanceArgs],
    ) -> None:
        values: dict[str, Any] = {**(args or {}), **kwargs}
        if values.get("image_login") is not None:
            # Stored encrypted in state even when given as a plain string.
            values["image_login"] = pulumi.Output.secret(values["image_login"])
        super().__init__(InstanceProvider(), resource_name, values, opts)

    @classmethod
    def get(
        cls, resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ) -> Instance:
        """Read an existing instance into the program without managing it."""
        return cls(resource_name, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)))
