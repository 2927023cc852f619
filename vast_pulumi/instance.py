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
``target_state`` back as ``stopped``, and an update starts it again once ``price`` is high enough. A
refresh reads the bid back (a bid changed elsewhere, or a switch to on-demand, is drift).
Offers are searched for ``disk``: priced with that much storage, and only machines with that much
``disk_space`` (unless ``offer_query`` filters on ``disk_space`` itself).

**Create** rents, then waits (unless ``wait_until_ready=False``) until the instance is in
``target_state``, reading the account's instance list once every ``POLL_SECONDS`` (one read shared by
every wait of the process) for at most ``ready_timeout`` seconds, and failing early when it exits,
goes offline or reports an error. When the wait or the bid check fails, the instance is destroyed
before the error is raised, so nothing is left billing. Renting, starting, changing and destroying are
:mod:`vast_pulumi._instances`, shared with a :class:`~vast_pulumi.fleet.Fleet`'s members.

**Updates.** In place: ``label``, ``target_state`` (start/stop), ``price`` (a new bid, as the official
client's ``change bid``; given or removed, it rents a new instance), and ``env``, ``onstart``, ``args``,
``args_str`` and ``template_hash_id`` (the container is recreated on the same machine: a template's
edit gives it a new hash, which must reach its instances as an update, as the official client's
``update instance --template_hash_id`` does). A change of ``offer_id``/``offer_query``, ``image``,
``disk``, ``runtype`` or ``image_login`` rents a new instance: a new image is a new machine
to its users, and the API's in-place template update keeps no documented promise about the disk.
Before that, the diff checks with one offer search that the new instance can be rented now, and
fails (at preview, and at ``up`` before anything is deleted) naming the query when it cannot
(:mod:`vast_pulumi._preflight`). The old instance is destroyed first, so two GPUs are never paid for
at once, unless ``create_before_delete`` (the new one is rented under a marker of its own, then the
old one destroyed). ``order``, ``cancel_unavail``, ``wait_until_ready``, ``ready_timeout`` and
``create_before_delete`` only matter to a create: changing them calls no API.

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
the list named are ever detached). A refresh reads them back: a named key detached outside the stack
is drift, which the next ``up`` attaches again; a key the list does not name only gets a warning.
``volume_info`` mounts a volume as the create API takes it
(``{"volume_id": Volume.volume_id, "mount_path": "/data"}``), and pins the offer search to the volume's
machine (a local volume mounts nowhere else); changing it rents a new instance. ``create_new=True`` is
refused at preview: the volume it would rent belongs to no resource and bills after the instance is
gone (make it a ``Volume``).

**Interruptibles.** With ``price`` the instance must read back ``is_bid``; the bid itself is neither
compared at create nor read back by a refresh (the API names no field for it:
``search.gpuCostPerHour`` may be the listing's price), only warned about. **Gone** includes being
destroyed: a refresh drops such an instance, and an update of an instance destroyed out of band fails
saying so, the next ``up`` planning a replacement.

**Existing instances.** ``Instance.get("name", "123")`` reads one without managing it; the ``adopt_id``
input makes ``create`` take instance 123 under management (label, state and image brought to the
inputs) instead of renting one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Unpack

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from vast_pulumi._dynamic import (
    ACCOUNT_KEY,
    MARKER_KEY,
    Props,
    VastProvider,
    VastResource,
    numeric_id,
    same_value,
)
from vast_pulumi._fields import CREATE_ONLY, REPLACES, UPDATES, Field, OnChange, table
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
    host_ports,
    instance_failure,
    int_or_none,
    marker_of,
    ssh_command,
    ssh_key_words,
)
from vast_pulumi._instances import BID_TOLERANCE, OFFER_SEARCH_LIMIT, InstanceOps, Launch, effective_runtype
from vast_pulumi._preflight import check_rentable
from vast_pulumi.client import Row
from vast_pulumi.errors import InstanceNotReadyError, VanishedError, VastApiError, VastAuthError, VastError
from vast_pulumi.offers import canonical_query
from vast_pulumi.query import parse_query

# The inputs, the row readers and the machinery live in their own modules; the names importers have
# always taken from here stay importable from here.
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
    "marker_of",
    "ssh_command",
]

_log = logging.getLogger("vast_pulumi")


class InstanceProvider(VastProvider[InstanceInputs]):
    inputs_model = InstanceInputs
    # What the list row carries is read back on refresh: the label, the state, the bid; the keys cost
    # one more GET (see ``_read_keys``).
    fields = table(
        InstanceInputs,
        {
            "offer_query": REPLACES.api_default(),
            "order": CREATE_ONLY,
            "image": REPLACES.api_default(),
            "template_hash_id": UPDATES.api_default(),  # the container is recreated on the same machine
            "disk": REPLACES,
            "env": UPDATES,
            "onstart": UPDATES,
            "args": UPDATES,
            "args_str": UPDATES,
            "runtype": REPLACES.api_default(),
            "price": Field(OnChange.BID, refresh=True),
            "target_state": UPDATES.read_back(),
            "image_login": REPLACES.secret_(),
            "cancel_unavail": CREATE_ONLY.api_default(),
            "wait_until_ready": CREATE_ONLY,  # and by an update that restarts the instance
            "ready_timeout": CREATE_ONLY,
            "ssh_key_ids": UPDATES.read_back(),
            "offer_id": REPLACES.api_default(),
            "label": UPDATES.read_back().api_default(),
            "adopt_id": CREATE_ONLY,
            "volume_info": REPLACES,
            "create_before_delete": CREATE_ONLY,  # read by the diff of a replacement, from the new inputs
        },
    )
    delete_before_replace = True  # never two GPUs billing at once; and the marker must be free
    noun = "instance"

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        marker = _generation_marker(str(props.get(MARKER_KEY) or ""), inputs)
        ops = InstanceOps(self.client)
        if inputs.adopt_id is not None:
            launch = ops.adopt(inputs)
            row = ops.start(launch, inputs)
        else:
            launch, row = ops.rent_and_start(inputs, marker, ops.candidates(inputs))
        ops.put_keys_on(launch, inputs)
        outputs = self._outputs(self.given(inputs, props), row, launch)
        return CreateResult(str(launch.instance_id), {**outputs, ACCOUNT_KEY: account})

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        instance_id = numeric_id(id_)
        ops = InstanceOps(self.client)
        row = ops.row(instance_id)
        if row is None or not ops.is_live(row):
            # Being destroyed counts as gone: its single GET may already answer nothing while the list
            # still shows it (readings row and gone of destroying_get), and no start brings it back.
            return self.gone()
        imported = not props  # `pulumi import` or a get: the id alone
        if imported:
            props = self._as_found(row)
        launch = Launch(instance_id, props.get("offer_id"), props.get("instance_api_key"), ours=False)
        outs = {**self._outputs(props, row, launch), ACCOUNT_KEY: account}
        outs["label"] = row.get("label")  # drift shows; what else is read back: ``fields``
        if row.get("intended_status") in ("running", "stopped"):
            outs["target_state"] = row["intended_status"]
        outs["price"] = _price_read_back(row, props.get("price"))
        if props.get("ssh_key_ids"):
            outs["ssh_key_ids"] = self._read_keys(instance_id, props["ssh_key_ids"])
        return self.imported_result(id_, outs) if imported else self.read_result(id_, outs, props)

    def _as_found(self, row: Row) -> Props:
        """The inputs of an instance known by its id alone: what its row shows that a change would
        replace (image or template, disk), and the defaults for the rest."""
        found = self.input_defaults()
        source = "template_hash_id" if row.get("template_hash_id") else "image"
        found[source] = row.get("template_hash_id") or row.get("image_uuid")
        found.update(disk=row.get("disk_space") or found["disk"], onstart=row.get("onstart"))
        return found

    def _read_keys(self, instance_id: int, named: list[Any]) -> list[int]:
        """The named account keys still on the instance, in their order: a named key detached (or
        deleted) outside the stack is drift, which the next ``up`` puts back. A key on the instance that
        the stack never named only gets a warning: it is never detached (it may be someone's access)."""
        account_keys = {int(row["id"]): tuple(ssh_key_words(row)[:2]) for row in self.client.list_ssh_keys()}
        on_box = {tuple(ssh_key_words(row)[:2]) for row in self.client.instance_ssh_keys(instance_id)}
        wanted = [int(key_id) for key_id in named]
        present = [key_id for key_id in wanted if account_keys.get(key_id) in on_box]
        extra = on_box - {account_keys[key_id] for key_id in wanted if key_id in account_keys}
        if extra:
            _log.warning(
                "instance %s has %d SSH key(s) that ssh_key_ids does not name; left in place",
                instance_id,
                len(extra),
            )
        return present

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        instance_id = numeric_id(id_)
        marker = str(news.get(MARKER_KEY) or "")
        ops = InstanceOps(self.client)
        try:
            restarted = ops.apply_changes(instance_id, olds, inputs, marker)
        except VastApiError as error:
            if error.is_not_found:
                raise _vanished(instance_id, error) from error
            raise
        if self.differs("ssh_key_ids", olds, news):
            ops.sync_keys(instance_id, inputs.ssh_key_ids or [], olds.get("ssh_key_ids") or [])
        if restarted and inputs.wait_until_ready:
            row = ops.wait(instance_id, inputs, starting=True)
        else:
            row = ops.require(instance_id)
        launch = Launch(instance_id, olds.get("offer_id"), olds.get("instance_api_key"), ours=False)
        return UpdateResult({**self._outputs(self.given(inputs, news), row, launch), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        """Destroy the instance and return once the API no longer lists it (destroy is asynchronous:
        until then the machine may still be there). Already gone is fine; still listed after
        ``_teardown.DELETE_TIMEOUT`` fails, and the stack keeps the instance."""
        self.owner(id_, props)
        InstanceOps(self.client).destroy_and_wait(numeric_id(id_))

    def diff(self, id_: str, olds: Props, news: Props) -> DiffResult:
        """As the base's (the field table says what replaces), but a replacement is checked first: one
        offer search for the new inputs, failing the diff (at preview, and at ``up`` before the old
        instance is touched) when nothing can be rented (:mod:`vast_pulumi._preflight`). It destroys
        the old instance first, unless ``create_before_delete``. An in-place update is planned only for
        an instance that still exists: one destroyed out of band (its update would meet a 404) is
        replaced instead (one API read, and only when the diff would update)."""
        result = super().diff(id_, olds, news)
        if not result.replaces:
            changed = [key for key in INPUT_KEYS if self.differs(key, olds, news)] if result.changes else []
            if not changed or not id_ or self._exists(numeric_id(id_)):
                return result
            _log.warning("vast: instance %s is gone or being destroyed: it is replaced, not updated", id_)
            result = DiffResult(changes=True, replaces=changed)
        pinned_here = news.get("offer_id") is not None and same_value(
            news.get("offer_id"), olds.get("offer_id")
        )
        if not pinned_here:  # the offer the old instance holds is listed as rented until it is gone
            check_rentable(lambda: self.client, news, what=f"instance {id_}")
        return DiffResult(
            changes=True,
            replaces=list(result.replaces or []),
            delete_before_replace=news.get("create_before_delete") is not True,
        )

    def _exists(self, instance_id: int) -> bool:
        """Whether the instance is still there and live; an unreadable list (not a rejected key) says
        nothing, and the update is planned as usual."""
        try:
            ops = InstanceOps(self.client)
            row = ops.row(instance_id)
        except VastAuthError:
            raise
        except VastError as error:
            _log.warning("vast: could not look up instance %s before the update: %s", instance_id, error)
            return True
        return row is not None and ops.is_live(row)

    def differs(self, key: str, olds: Props, news: Props) -> bool:
        new = news.get(key)
        if key == "offer_query" and isinstance(new, str) and isinstance(olds.get(key), str):
            return canonical_query(parse_query(new)) != canonical_query(parse_query(olds[key]))
        return super().differs(key, olds, news)

    def _outputs(self, given: Props, row: Row, launch: Launch) -> Props:
        outputs = {key: given.get(key) for key in (*INPUT_KEYS, MARKER_KEY)}
        outputs.update(
            offer_id=launch.offer_id if launch.offer_id is not None else given.get("offer_id"),
            runtype=given.get("runtype") or effective_runtype(given),
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


def _vanished(instance_id: int, error: VastApiError) -> VanishedError:
    return VanishedError(
        f"instance {instance_id} no longer exists on Vast.ai ({error.method} {error.path} answered "
        f"{error.status} {error.error or ''}): it was destroyed outside this stack (by hand, or by its "
        "host), and nothing was changed. The next `pulumi up` rents a replacement; `pulumi refresh` "
        "drops it from the stack now"
    )


def _generation_marker(marker: str, inputs: InstanceInputs) -> str:
    """The marker a create puts on its instance. With ``create_before_delete`` the old instance of a
    replacement still runs, carrying the resource's marker: the new one gets a marker of its own
    (the resource's, and a digest of the inputs that make a machine), or the create would adopt the
    old instance and the replacement would then destroy it. The same inputs give the same marker, so
    an interrupted create is still adopted by the next run."""
    if not marker or not inputs.create_before_delete:
        return marker
    machine = inputs.model_dump(mode="json", include=set(InstanceProvider.replace_on_change) | {"price"})
    machine["price"] = machine["price"] is not None  # the kind (on-demand or a bid), not the bid
    digest = hashlib.sha256(json.dumps(machine, sort_keys=True).encode()).hexdigest()[:8]
    return f"{marker}-{digest}"


def _price_read_back(row: Row, recorded: Any) -> Any:
    """``price`` as the list row says it: unset for an on-demand instance, the bid of an interruptible
    one (the recorded price while the bid is within ``BID_TOLERANCE`` of it); the recorded price where
    the row says neither.

    The API names no field for the bid: ``search.gpuCostPerHour`` is read as the bid only where it
    differs from the listing's ``dph_base``. Equal, it may be the listing's price (audit I1, reading
    ``bid_field``), and reading it back would show drift on every refresh."""
    if row.get("is_bid") is False:
        return None
    bid = bid_of(row)
    if row.get("is_bid") is not True or bid is None or _is_listing_price(row, bid):
        return recorded
    if isinstance(recorded, int | float) and abs(bid - recorded) <= BID_TOLERANCE:
        return recorded
    return bid


def _is_listing_price(row: Row, shown: float) -> bool:
    listing = row.get("dph_base")
    return isinstance(listing, int | float) and abs(shown - listing) <= BID_TOLERANCE


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
    create_before_delete: pulumi.Output[bool]
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

    provider_class = InstanceProvider
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
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)
