"""N interchangeable GPU instances as one resource.

>>> trainers = Fleet(
...     "trainers",
...     count=8,
...     offer_query="gpu_name=RTX_4090 num_gpus=1 reliability>0.98",
...     image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
...     max_dph_total=4.0,
... )
>>> pulumi.export("ssh", trainers.ssh_commands)

A fleet takes what a machine is (:class:`~vast_pulumi._instance_inputs.MachineInputs`, as an
:class:`~vast_pulumi.Instance` does; ``offer_query``, not ``offer_id``: one offer is one machine) and
rents ``count`` members, all at once, in one provider call: a fleet of 32 boots about as fast as a fleet
of one, whatever the engine's parallelism. Each member is rented, started, changed and destroyed as an
instance is (:mod:`vast_pulumi._instances`).

**Spread.** ``spread="machine"`` (default): no two members on the same machine; ``"host"``: no two with
the same host (owner of machines); ``"none"``. Offers that do not say their machine or host are skipped.

**Budget.** ``max_dph_total`` ($/hour for the whole fleet): before renting, if the cheapest offers that
satisfy the query and the spread already cost more, the create fails renting nothing; after renting, the
members' real ``dph_total`` is summed again, and over budget destroys what this call rented and fails,
naming the figures. With ``price`` (interruptible) each new member counts at its bid.

**Members and their markers.** Each member carries the fleet's marker, a tag of its machine inputs and
its index in its environment (``VAST_PULUMI_MARKER=<fleet>-<tag>-<index>``). Every call first lists the
account once and takes as members the live instances carrying the fleet's marker: a ``pulumi up`` killed
while renting is adopted, not duplicated; each rent goes through the reconciling create of
:mod:`vast_pulumi._reconcile` with the member's own marker. A member starts as an instance does: a
machine that never starts it (a double rent) is destroyed and the next offer rented (at most
``START_ATTEMPTS`` rents); a member that fails to start otherwise, or that was rented with ``price`` and
reads back on-demand, is destroyed and fails the call. A failed create or update destroys what it rented
(and any member no state records) before raising, naming every member that failed.

**Health.** ``refresh`` lists the account once: a member that is gone, exited, offline, failed or being
destroyed is unhealthy (``members[*].healthy`` false; ``ready_count`` counts running members). The next
``up`` then destroys the unhealthy members and rents replacements for exactly those, keeping the others.

**Updates.**
- ``count`` up rents the missing members; ``count`` down destroys unhealthy members first, then the most
  expensive (highest ``dph_total``; the newest first among equals).
- In place, on every member at once: ``label_prefix`` (members are labelled ``<prefix>-<index>``),
  ``env``, ``onstart``, ``args``, ``args_str`` (the container is recreated on its machine),
  ``target_state``, ``ssh_key_ids``.
- New machines, rolled out in batches: ``offer_query``, ``image``, ``template_hash_id``, ``disk``,
  ``runtype``, ``price``. A batch rents at most ``rollout.max_surge`` members beyond ``count`` and
  waits until they run, then destroys old members, never leaving fewer than
  ``count - rollout.max_unavailable`` running (defaults: max_surge 1, max_unavailable 0).
- ``order``, ``cancel_unavail``, ``wait_until_ready``, ``ready_timeout``, ``image_login``,
  ``max_dph_total`` and ``spread`` apply to members rented afterwards; changing them rents nothing.

**Delete** destroys every member at once and waits until the API lists none of them, through the wait
every delete shares (:mod:`vast_pulumi._teardown`, at most its ``DELETE_TIMEOUT``); members still
listed then fail it with the :class:`~vast_pulumi._teardown.NotGoneError` every delete raises, each
member named. Members an update removes are waited for the same way.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypedDict, TypeVar, Unpack

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from vast_pulumi import _row_log
from vast_pulumi._dynamic import (
    ACCOUNT_KEY,
    MARKER_KEY,
    Props,
    VastProvider,
    VastResource,
    numeric_id,
    rule_error,
    unknown_fields,
)
from vast_pulumi._fields import NEXT_RENT, RENTS, UPDATES, table
from vast_pulumi._instance_inputs import InstanceInputs, MachineArgs, MachineInputs
from vast_pulumi._instance_rows import instance_failure, marker_of, ssh_command
from vast_pulumi._instances import OFFER_SEARCH_LIMIT, InstanceOps
from vast_pulumi._preflight import check_rentable
from vast_pulumi._teardown import NotGoneError
from vast_pulumi.client import Row
from vast_pulumi.errors import FleetBudgetError, FleetError, VastError, VastInputError
from vast_pulumi.offers import Offer

__all__ = [
    "Fleet",
    "FleetArgs",
    "FleetBudgetError",
    "FleetError",
    "FleetInputs",
    "FleetProvider",
    "FleetRolloutArgs",
]

_log = logging.getLogger("vast_pulumi")

# An instance's own inputs, which a fleet does not take, and what to use instead.
_INSTANCE_ONLY = {
    "offer_id": "one offer is one machine: use offer_query",
    "adopt_id": "a fleet rents its members",
    "volume_info": "a volume mounts on one machine",
    "label": "members are labelled <label_prefix>-<index>: use label_prefix",
}
# Inputs whose change needs new machines: members rented with other values are rolled out.
Spread = Literal["machine", "host", "none"]
_MACHINE_FIELDS = ("offer_query", "image", "template_hash_id", "disk", "runtype", "price")
# Inputs changed in place on every member (the instance's own in-place update).
_IN_PLACE_FIELDS = ("label_prefix", "env", "onstart", "args", "args_str", "target_state", "ssh_key_ids")
MAX_MEMBERS = 128
_RENT_THREADS = 32


class FleetRollout(BaseModel):
    """How members are replaced when an input needs new machines."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    max_unavailable: int = Field(0, ge=0, description="Members that may be down at once.")
    max_surge: int = Field(1, ge=0, description="Members rented beyond count at once.")

    @model_validator(mode="after")
    def _progress(self) -> FleetRollout:
        if self.max_unavailable == 0 and self.max_surge == 0:
            raise ValueError("max_surge and max_unavailable cannot both be 0: no member could be replaced")
        return self


class FleetInputs(MachineInputs):
    """What each member is (a machine's inputs), and the fleet's own."""

    count: int = Field(ge=0, le=MAX_MEMBERS, description="How many interchangeable members to run.")
    spread: Spread = Field(
        "machine", description="No two members on the same machine, or host; none: anywhere."
    )
    max_dph_total: float | None = Field(
        None, gt=0, description="Budget, $/hour, for the whole fleet: checked before and after renting."
    )
    rollout: FleetRollout = Field(
        default_factory=lambda: FleetRollout.model_validate({}),
        description="How members are replaced when an input needs new machines (fields below).",
    )
    label_prefix: str | None = Field(
        None, min_length=1, max_length=1000, description="Members are labelled '<label_prefix>-<index>'."
    )

    @model_validator(mode="before")
    @classmethod
    def _not_of_one_instance(cls, values: Any, info: ValidationInfo) -> Any:
        """An instance's own inputs are not a fleet's: say what to use instead (extra="forbid" alone
        would only say that they are not inputs)."""
        given = {*(values if isinstance(values, dict) else ()), *unknown_fields(info)}
        for name, instead in _INSTANCE_ONLY.items():
            if name in given:
                raise rule_error(name, f"is not an input of Fleet ({instead})")
        return values

    @model_validator(mode="after")
    def _offer_query(self, info: ValidationInfo) -> FleetInputs:
        if self.offer_query is None and "offer_query" not in unknown_fields(info):
            raise rule_error("offer_query", "is required: a fleet rents the offers that match it")
        return self

    def member(self, index: int) -> InstanceInputs:
        """The inputs of member ``index``, as an :class:`~vast_pulumi.Instance` would take them."""
        values = self.model_dump(include=set(MachineInputs.model_fields), exclude_none=True)
        label = f"{self.label_prefix}-{index}" if self.label_prefix else None
        return InstanceInputs.model_validate({**values, "label": label})

    def machine_tag(self) -> str:
        """A short fingerprint of the inputs that need new machines: members with another tag roll out."""
        values = self.model_dump(mode="json", include=set(_MACHINE_FIELDS))
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]


class FleetRolloutArgs(TypedDict, total=False):
    """``rollout`` of :class:`Fleet`; see :class:`FleetRollout`."""

    max_unavailable: pulumi.Input[int]
    max_surge: pulumi.Input[int]


class FleetArgs(MachineArgs, total=False):
    """Inputs of :class:`Fleet`; see :class:`FleetInputs` and :class:`~vast_pulumi.InstanceInputs`."""

    count: pulumi.Input[int]
    spread: pulumi.Input[Spread]
    max_dph_total: pulumi.Input[float]
    rollout: pulumi.Input[FleetRolloutArgs]
    label_prefix: pulumi.Input[str]


_FLEET_INPUT_KEYS = tuple(FleetInputs.model_fields)


# -- members -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    """One listed instance of the fleet."""

    row: Row
    tag: str | None  # machine tag its marker carries (None: recorded in state, marker unreadable)
    index: int

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def dph(self) -> float:
        price = self.row.get("dph_total")
        return float(price) if isinstance(price, int | float) and not isinstance(price, bool) else 0.0


def _member_marker(fleet_marker: str, tag: str, index: int) -> str:
    return f"{fleet_marker}-{tag}-{index}"


def _parse_member_marker(fleet_marker: str, marker: str | None) -> tuple[str, int] | None:
    """(tag, index) of a member marker of this fleet, else None."""
    if not marker or not marker.startswith(f"{fleet_marker}-"):
        return None
    tag, _, index = marker.removeprefix(f"{fleet_marker}-").partition("-")
    return (tag, int(index)) if index.isdigit() else None


def _spread_key(spread: str, source: Row | Offer) -> int | None:
    name = {"machine": "machine_id", "host": "host_id"}.get(spread)
    if name is None:
        return None
    value = source.get(name) if isinstance(source, dict) else getattr(source, name)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class _SpreadOffers:
    """The offers new members may rent, shared by the renting threads: each machine (or host) is
    claimed by the first member that reaches it, so no two members share one."""

    def __init__(self, offers: list[Offer], spread: str, taken: set[int]) -> None:
        self._offers = offers
        self._spread = spread
        self._taken = set(taken)
        self._lock = threading.Lock()

    def eligible(self) -> list[Offer]:
        """Offers whose machine (or host) no member has; one per machine, first kept."""
        if self._spread == "none":
            return list(self._offers)
        chosen: dict[int, Offer] = {}
        for offer in self._offers:
            key = _spread_key(self._spread, offer)
            if key is not None and key not in self._taken and key not in chosen:
                chosen[key] = offer
        return list(chosen.values())

    def claimed(self) -> Iterator[int]:
        """Offer ids, best first, each on a machine (or host) this call claims as it yields it."""
        for offer in self._offers:
            if self._spread == "none":
                yield offer.id
                continue
            key = _spread_key(self._spread, offer)
            with self._lock:
                if key is None or key in self._taken:
                    continue
                self._taken.add(key)
            yield offer.id


T = TypeVar("T")
R = TypeVar("R")


def _in_parallel(function: Callable[[T], R], items: Sequence[T]) -> tuple[list[R], list[BaseException]]:
    """``function`` on every item at once; (results of those that returned, errors of the others)."""
    if not items:
        return [], []
    results: list[R] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=min(len(items), _RENT_THREADS)) as pool:
        for future in [pool.submit(function, item) for item in items]:
            try:
                results.append(future.result())
            except Exception as error:
                errors.append(error)
    return results, errors


# -- the provider --------------------------------------------------------------------------------------


@dataclass
class _Run:
    """One create or update: what it found, rented and destroyed."""

    inputs: FleetInputs
    marker: str
    ops: InstanceOps
    members: dict[int, _Member] = field(default_factory=dict)
    rented: set[int] = field(default_factory=set)


class FleetProvider(VastProvider[FleetInputs]):
    inputs_model = FleetInputs
    # The fleet itself is never replaced: what needs new machines rolls out new members
    # (_MACHINE_FIELDS), the rest is changed on every member (_IN_PLACE_FIELDS) or read by later rents.
    # Its inputs are not read back: a refresh reads its members.
    fields = table(
        FleetInputs,
        {
            **{key: RENTS for key in _MACHINE_FIELDS},
            **{key: UPDATES for key in _IN_PLACE_FIELDS},
            "order": NEXT_RENT,
            "image_login": NEXT_RENT.secret_(),
            "cancel_unavail": NEXT_RENT,
            "wait_until_ready": NEXT_RENT,
            "ready_timeout": NEXT_RENT,
            "spread": NEXT_RENT,
            "count": UPDATES,
            "max_dph_total": UPDATES,
            "rollout": UPDATES,
        },
    )
    noun = "fleet"

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        marker = str(props.get(MARKER_KEY) or "")
        if not marker:
            raise VastInputError("a Fleet needs its marker (create it with the Fleet resource)")
        run = _Run(inputs, marker, InstanceOps(self.client))
        self._guarded(run, keep=set(), olds=None)
        return CreateResult(marker, {**self._outputs(self.given(inputs, props), run), ACCOUNT_KEY: account})

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        marker = str(props.get(MARKER_KEY) or id_)
        ops = InstanceOps(self.client)
        members = self._listed(ops, marker, _recorded_ids(props))
        outs = {**props, **_member_outputs(ops, members.values(), props), ACCOUNT_KEY: account}
        return self.read_result(id_, outs, props)

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        run = _Run(inputs, str(news.get(MARKER_KEY) or olds.get(MARKER_KEY) or id_), InstanceOps(self.client))
        keep = _recorded_ids(olds)
        self._guarded(run, keep=keep, olds=olds)
        return UpdateResult({**self._outputs(self.given(inputs, news), run), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        """Destroy every member at once and return once the API lists none of them; members not gone
        fail the delete, each named (the stack keeps the fleet), as every resource's delete does."""
        self.owner(id_, props)
        marker = str(props.get(MARKER_KEY) or id_)
        ops = InstanceOps(self.client)
        members = self._listed(ops, marker, _recorded_ids(props), live_only=False)
        outcome = ops.destroy_all(members)
        if outcome.failed:
            raise NotGoneError(
                f"fleet {id_}: {len(outcome.failed)} of its {len(members)} members are not gone: "
                f"{outcome.describe_failures('member')}; they may still be billing, and the stack keeps "
                "the fleet: run `pulumi destroy` again, or check them with `vastai show instances`"
            )

    def diff(self, id_: str, olds: Props, news: Props) -> DiffResult:
        """As every resource's, plus: members a refresh found unhealthy, or fewer than ``count``, are a
        change (the update replaces them)."""
        result = super().diff(id_, olds, news)
        if news.get("count") != 0 and any(self.differs(key, olds, news) for key in _MACHINE_FIELDS):
            # A rollout: its new members must be rentable now, or it fails before touching the old.
            check_rentable(lambda: self.client, news, what=f"fleet {id_} (its members)")
        members = olds.get("members")
        if result.changes or not isinstance(members, list):
            return result
        healthy = [member for member in members if isinstance(member, dict) and member.get("healthy")]
        count = olds.get("count")
        return DiffResult(changes=len(healthy) != len(members) or len(healthy) != count, replaces=[])

    # -- converging --------------------------------------------------------------------------------

    def _guarded(self, run: _Run, *, keep: set[int], olds: Props | None) -> None:
        """Converge; on failure destroy whatever this call rented, and any member no state records."""
        try:
            self._converge(run, olds)
        except Exception as error:
            cleanup = self._sweep(run, keep)
            # The package's errors and the plain ones it raises on purpose read as one line; any
            # other exception is a bug and keeps its traceback.
            if not (isinstance(error, VastError) or type(error) in (RuntimeError, ValueError)):
                _log.warning("vast: %s", cleanup)
                raise
            kind = FleetBudgetError if isinstance(error, FleetBudgetError) else FleetError
            raise kind(f"{error}. {cleanup}") from error

    def _converge(self, run: _Run, olds: Props | None) -> None:
        inputs, tag = run.inputs, run.inputs.machine_tag()
        run.members = self._listed(run.ops, run.marker, _recorded_ids(olds or {}))
        # Judged against the state members were meant to be in: a change of target_state is an update.
        was = str((olds or {}).get("target_state") or inputs.target_state)
        broken = [m for m in run.members.values() if not _healthy(run.ops, m.row, was)]
        self._retire(run, broken, "unhealthy")
        if olds is not None:
            self._update_in_place(run, olds)
        current = [m for m in run.members.values() if m.tag == tag]
        surplus = _removal_order(current)[: max(0, len(current) - inputs.count)]
        self._retire(run, surplus, "beyond count")
        floor = inputs.count - inputs.rollout.max_unavailable
        while True:
            current = [m for m in run.members.values() if m.tag == tag]
            stale = [m for m in run.members.values() if m.tag != tag]
            if len(current) >= inputs.count and not stale:
                return
            room = inputs.count + inputs.rollout.max_surge - len(current) - len(stale)
            batch = min(inputs.count - len(current), max(room, 0))
            if batch > 0:
                self._rent(run, tag, batch)
            # New members run now; old ones may go while at least `floor` members run.
            allowed = len(stale) if len(current) + batch >= inputs.count else len(run.members) - floor
            retired = _removal_order(stale)[: max(0, min(len(stale), allowed))]
            if batch <= 0 and not retired:  # cannot happen with max_surge + max_unavailable >= 1
                raise FleetError(f"fleet {run.marker}: the rollout cannot make progress")
            self._retire(run, retired, "rolled out")

    def _rent(self, run: _Run, tag: str, batch: int) -> None:
        """Rent ``batch`` new members at once (budget checked before and after), wait until they run:
        each as an instance is rented and started (:meth:`InstanceOps.rent_and_start`), from the
        offers of the one search, spread over machines."""
        inputs, ops = run.inputs, run.ops
        taken = {key for m in run.members.values() if (key := _spread_key(inputs.spread, m.row)) is not None}
        found = ops.offers(inputs, limit=max(OFFER_SEARCH_LIMIT, 4 * batch))
        offers = _SpreadOffers(found, inputs.spread, taken)
        kept = [m for m in run.members.values() if m.tag == tag]
        self._check_budget_before(inputs, kept, offers, batch)
        used = {m.index for m in run.members.values() if m.tag == tag} | _listed_indexes(
            self.client.cached_instances(), run.marker, tag
        )
        indexes = [index for index in range(len(used) + batch + 1) if index not in used][:batch]
        # The members wait on threads of their own: the fleet's row (found on this one) counts them.
        fleet_row = _row_log.current_urn()
        running = itertools.count(1)
        count_lock = threading.Lock()
        _row_log.progress(f"renting {batch} member(s); waiting until they run", urn=fleet_row)

        def rent_one(index: int) -> _Member:
            member_inputs = inputs.member(index)
            marker = _member_marker(run.marker, tag, index)
            # run.rented learns each instance before its start is awaited: a failed call sweeps it.
            launch, row = ops.rent_and_start(member_inputs, marker, offers.claimed(), rented=run.rented)
            ops.put_keys_on(launch, member_inputs)
            with count_lock:
                _row_log.progress(f"{next(running)}/{batch} new member(s) running", urn=fleet_row)
            return _Member(row, tag, index)

        rented, errors = _in_parallel(rent_one, indexes)
        run.members.update((member.id, member) for member in rented)
        _raise_all(errors, "members could not be rented and started")
        self._check_budget_after(run, tag)

    def _retire(self, run: _Run, members: Sequence[_Member], why: str) -> None:
        """Destroy members and wait until none is listed: only then is a member gone (and its
        replacement may take its place in the budget and under max_unavailable)."""
        if not members:
            return
        _log.info("vast: fleet destroys %d member(s) (%s): %s", len(members), why, [m.id for m in members])
        outcome = run.ops.destroy_all(member.id for member in members)
        for instance_id in outcome.gone:
            run.members.pop(instance_id, None)
        if outcome.failed:
            raise NotGoneError(f"{outcome.describe_failures('member')}: they may still be billing")

    def _update_in_place(self, run: _Run, olds: Props) -> None:
        """The in-place inputs, on every member that was there before this call."""
        news = run.inputs.model_dump(mode="json")
        if not any(self.differs(key, olds, news) for key in _IN_PLACE_FIELDS):
            return
        old_prefix = olds.get("label_prefix")
        # Members of another machine tag are rolled out instead: a template update would change their
        # image in place. Machine fields are compared as unchanged, so only in-place ones are sent.
        tag = run.inputs.machine_tag()
        unchanged = {key: news.get(key) for key in _MACHINE_FIELDS}
        keys_changed = self.differs("ssh_key_ids", olds, news)

        def update_one(member: _Member) -> Row:
            member_inputs = run.inputs.member(member.index)
            old_label = f"{old_prefix}-{member.index}" if old_prefix else None
            before = {**olds, **unchanged, "label": old_label}
            marker = _member_marker(run.marker, tag, member.index)
            restarted = run.ops.apply_changes(member.id, before, member_inputs, marker)
            if keys_changed:
                run.ops.sync_keys(member.id, member_inputs.ssh_key_ids or [], olds.get("ssh_key_ids") or [])
            if restarted and member_inputs.wait_until_ready:
                return run.ops.wait(member.id, member_inputs, starting=True)
            return member.row

        members = [m for m in run.members.values() if m.tag == tag]
        rows, errors = _in_parallel(update_one, members)
        _raise_all(errors, "members could not be updated")
        for member, row in zip(members, rows, strict=True):
            run.members[member.id] = _Member(row, member.tag, member.index)

    def _sweep(self, run: _Run, keep: set[int]) -> str:
        """After a failure: destroy what this call rented and any member of the fleet no state records
        (not again what this process destroyed and the API no longer lists)."""
        try:
            listed = set(self._listed(run.ops, run.marker, set(), live_only=False))
        except Exception as error:  # the API failing too: at least what this call knows it rented
            _log.warning("vast: listing the fleet's members after a failure failed: %s", error)
            listed = set()
        doomed = [
            instance_id
            for instance_id in sorted((listed | run.rented) - (keep - run.rented))
            if instance_id in listed or not run.ops.destroyed(instance_id)
        ]
        if not doomed:
            return "Nothing was left billing"
        try:
            outcome = run.ops.destroy_all(doomed)
        except Exception as error:  # a rejected key
            return f"Destroying {doomed} failed too ({error}); they may still be billing"
        if outcome.failed:
            return (
                f"Destroying the members rented meanwhile failed too ({outcome.describe_failures()}); "
                f"they may still be billing: destroy them yourself (vastai destroy instance ID for each)"
            )
        return f"Instances {doomed}, rented meanwhile, were destroyed, so nothing is left billing"

    # -- budget --------------------------------------------------------------------------------------

    def _check_budget_before(
        self, inputs: FleetInputs, kept: list[_Member], offers: _SpreadOffers, batch: int
    ) -> None:
        eligible = offers.eligible()
        if len(eligible) < batch:
            raise FleetError(
                f"only {len(eligible)} offer(s) match offer_query {inputs.offer_query!r} with spread "
                f"{inputs.spread!r} (one member per {inputs.spread}); {batch} are needed"
            )
        if inputs.max_dph_total is None:
            return
        prices = sorted(_offer_price(inputs, offer) for offer in eligible)[:batch]
        kept_total = sum(member.dph for member in kept[: inputs.count])
        least = kept_total + sum(prices)
        if least > inputs.max_dph_total:
            raise FleetBudgetError(
                f"max_dph_total: the cheapest {batch} new member(s) cost ${sum(prices):.4f}/h"
                f"{f' on top of ${kept_total:.4f}/h for the {len(kept)} kept' if kept else ''}: "
                f"${least:.4f}/h for the fleet, over the budget of ${inputs.max_dph_total:g}/h; "
                "nothing was rented"
            )

    def _check_budget_after(self, run: _Run, tag: str) -> None:
        budget = run.inputs.max_dph_total
        members = [m for m in run.members.values() if m.tag == tag]
        total = sum(member.dph for member in members)
        if budget is not None and total > budget:
            raise FleetBudgetError(
                f"max_dph_total: the {len(members)} member(s) rented cost ${total:.4f}/h together "
                f"(hosts priced them above their offers), over the budget of ${budget:g}/h"
            )

    # -- listing -------------------------------------------------------------------------------------

    def _listed(
        self, ops: InstanceOps, marker: str, recorded: set[int], *, live_only: bool = True
    ) -> dict[int, _Member]:
        """The fleet's members as the account lists them (one shared list call): those the state records,
        and the instances with the fleet's marker (``live_only``: unless on their way out)."""
        members: dict[int, _Member] = {}
        for row in self.client.cached_instances():
            parsed = _parse_member_marker(marker, marker_of(row))
            instance_id = int(row["id"])
            if parsed is None and instance_id not in recorded:
                continue
            if live_only and instance_id not in recorded and not ops.is_live(row):
                continue
            tag, index = parsed if parsed is not None else (None, -1)
            members[instance_id] = _Member(row, tag, index)
        return members

    # -- outputs -------------------------------------------------------------------------------------

    def _outputs(self, given: Props, run: _Run) -> Props:
        fresh = {int(row["id"]): row for row in self.client.cached_instances()}
        members = [
            _Member(fresh.get(member.id, member.row), member.tag, member.index)
            for member in run.members.values()
        ]
        return {**given, **_member_outputs(run.ops, members, given)}


def _member_outputs(ops: InstanceOps, members: Iterable[_Member], props: Props) -> Props:
    target = str(props.get("target_state") or "running")
    ordered = sorted(members, key=lambda m: (m.index, m.id))
    recorded = {
        int(entry["id"]): entry
        for entry in props.get("members") or []
        if isinstance(entry, dict) and entry.get("id") is not None
    }
    listed = {m.id for m in ordered}
    rows = [_member_output(m.row, m.index, target, _healthy(ops, m.row, target)) for m in ordered]
    gone = [
        {**entry, "status": "gone", "healthy": False, "ssh": None}
        for instance_id, entry in recorded.items()
        if instance_id not in listed
    ]
    outputs = rows + gone
    by_index = _by_index(rows, gone)
    return {
        "members": outputs,
        "instance_ids": [m and m["id"] for m in by_index],
        "ssh_commands": [m and m["ssh"] for m in by_index],
        "machine_ids": [m and m["machine_id"] for m in by_index],
        "dph_total": round(sum(float(m["dph_total"] or 0.0) for m in rows), 6),
        "ready_count": sum(1 for m in rows if m["status"] == target and m["healthy"]),
    }


def _by_index(listed: list[dict[str, Any]], gone: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """The members in index order, with None in the place of each member a refresh found gone: the
    others keep their places (``ssh_commands[2]`` stays member 2's until the next ``up`` heals)."""
    everyone = sorted(
        [*((m, True) for m in listed), *((m, False) for m in gone)],
        key=lambda pair: (int(pair[0].get("index", -1)), int(pair[0]["id"])),
    )
    return [member if present else None for member, present in everyone]


def _raise_all(errors: Sequence[BaseException], what: str) -> None:
    """Raise the errors of members done in parallel: one as it is; several as one naming each (a bug,
    not one of the package's errors, is raised as it is, with its traceback)."""
    if not errors:
        return
    bug = next((error for error in errors if not isinstance(error, VastError)), None)
    if len(errors) == 1 or bug is not None:
        raise bug or errors[0]
    raise FleetError(f"{len(errors)} {what}: " + "; ".join(f"({n}) {e}" for n, e in enumerate(errors, 1)))


def _member_output(row: Row, index: int, target: str, healthy: bool) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "index": index,
        "status": row.get("actual_status") or "loading",
        "healthy": healthy,
        "gpu": f"{row.get('num_gpus') or '?'}x {row.get('gpu_name') or '?'}",
        "dph_total": row.get("dph_total"),
        "ssh": ssh_command(row),
        "machine_id": row.get("machine_id"),
        "host_id": row.get("host_id"),
    }


def _healthy(ops: InstanceOps, row: Row, target: str) -> bool:
    """Not on its way out (nor destroyed by this process) and not failed: running, or still on its
    way to ``target``."""
    return ops.is_live(row) and instance_failure(row, target) is None


def _removal_order(members: Sequence[_Member]) -> list[_Member]:
    """Which members go first when some must: the most expensive, the newest among equals."""
    return sorted(members, key=lambda m: (-m.dph, -m.id))


def _offer_price(inputs: FleetInputs, offer: Offer) -> float:
    if inputs.price is not None:
        return inputs.price
    return float(offer.dph_total or 0.0)


def _recorded_ids(props: Props) -> set[int]:
    return {numeric_id(value) for value in props.get("instance_ids") or [] if value is not None}


def _listed_indexes(rows: list[Row], marker: str, tag: str) -> set[int]:
    """Indexes of this tag any listed instance carries (even one being destroyed): never reused."""
    parsed = (_parse_member_marker(marker, marker_of(row)) for row in rows)
    return {index for found in parsed if found is not None and found[0] == tag for index in (found[1],)}


class Fleet(VastResource, module="vast", name="Fleet"):
    """``count`` interchangeable GPU instances. Outputs: ``instance_ids``, ``ssh_commands`` and
    ``machine_ids`` (by member index), ``members`` (per member: id, index, status, healthy, gpu,
    dph_total, ssh, machine_id, host_id), ``dph_total`` (sum, $/h) and ``ready_count``."""

    count: pulumi.Output[int]
    offer_query: pulumi.Output[str]
    order: pulumi.Output[str]
    image: pulumi.Output[str | None]
    template_hash_id: pulumi.Output[str | None]
    disk: pulumi.Output[float]
    env: pulumi.Output[dict[str, str]]
    onstart: pulumi.Output[str | None]
    args: pulumi.Output[list[str] | None]
    args_str: pulumi.Output[str | None]
    runtype: pulumi.Output[str | None]
    price: pulumi.Output[float | None]
    target_state: pulumi.Output[str]
    image_login: pulumi.Output[str | None]
    cancel_unavail: pulumi.Output[bool | None]
    wait_until_ready: pulumi.Output[bool]
    ready_timeout: pulumi.Output[float]
    ssh_key_ids: pulumi.Output[list[int] | None]
    rollout: pulumi.Output[dict[str, int]]
    spread: pulumi.Output[str]
    max_dph_total: pulumi.Output[float | None]
    label_prefix: pulumi.Output[str | None]
    instance_ids: pulumi.Output[list[int | None]]
    ssh_commands: pulumi.Output[list[str | None]]
    machine_ids: pulumi.Output[list[int | None]]
    members: pulumi.Output[list[dict[str, Any]]]
    dph_total: pulumi.Output[float]
    ready_count: pulumi.Output[int]

    provider_class = FleetProvider
    output_descriptions: ClassVar[Mapping[str, str]] = {
        "instance_ids": "The members' instance ids, by member index (None: a refresh found it gone).",
        "ssh_commands": "`ssh -p PORT root@HOST` per member (the official client's rule), by member index.",
        "machine_ids": "The machine each member runs on, by member index.",
        "members": "Per member: id, index, status, healthy, gpu, dph_total, ssh, machine_id, host_id.",
        "dph_total": "What the fleet costs per hour now: the sum of its members' dph_total.",
        "ready_count": "Members running (in target_state) and healthy.",
    }
    output_keys = (*_FLEET_INPUT_KEYS, *output_descriptions)
    secret_outputs = ("image_login",)

    def __init__(
        self,
        resource_name: str,
        args: FleetArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[FleetArgs],
    ) -> None:
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)
