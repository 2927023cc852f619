"""A Vast.ai local volume (``/api/v0/volumes/``): disk rented on one machine, which outlives the
instances that mount it. It bills per GB and month until it is deleted.

>>> data = Volume("models", size=200, offer_query="reliability>0.99 geolocation=SE")
>>> Instance("box", ..., volume_info={"volume_id": data.volume_id, "mount_path": "/models"})

**Which offer.** ``offer_id`` rents that volume offer; ``offer_query`` (the CLI's language, over the
volume offer fields of ``vastai search volumes``) is resolved at create to the best offer with room for
``size`` GB (``order``, default cheapest ``storage_cost`` first), moving on when an offer is gone or
full. The search sends the official client's defaults (``verified=true external=false``) unless the
query sets them. Offers: :func:`vast_pulumi.lookups.get_volume_offers`.

**Updates.** There is no API to resize, rename or move a volume: a change of ``size``, ``offer_id``,
``offer_query`` or ``name`` replaces it (the old one is deleted first, with its data). ``order`` only
matters to a create.

**Names** follow Vast's rule, "alphanumeric with underscores, with a max length of 64" (docs
``guides/instances/storage/volumes.mdx:125``): a name that breaks it fails ``pulumi preview``. A volume
made before this rule keeps its name (an unchanged name is never checked, nor generated again).

**No duplicates.** The marker rides in the volume's name (its ``label``): left unset, ``name`` is
``<resource name>_<8 hex>`` (at most 64 characters), so a create adopts a volume left with that name by
a killed ``pulumi up``, and a rent whose reply was lost looks for it instead of renting again
(:mod:`vast_pulumi._reconcile`). A name you choose carries no marker: only a volume that appeared after
this create first looked counts as its own.

**Delete** fails while an instance mounts the volume (the API refuses; its message names them), and
returns once the API no longer lists the volume.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, TypedDict, Unpack

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, UpdateResult
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from vast_pulumi._dynamic import (
    ACCOUNT_KEY,
    MARKER_KEY,
    Props,
    VastProvider,
    VastResource,
    numeric_id,
    require_one_of,
    rule_error,
    unknown_fields,
)
from vast_pulumi._fields import CREATE_ONLY, REPLACES, table
from vast_pulumi._reconcile import CreateSteps, reconciling_create
from vast_pulumi._teardown import await_unlisted
from vast_pulumi.client import Row, VastClient
from vast_pulumi.errors import (
    OfferUnavailableError,
    VanishedError,
    VastApiError,
    VastInputError,
)
from vast_pulumi.offers import canonical_query, order_clause
from vast_pulumi.query import QueryError, closest, parse_query

__all__ = [
    "VOLUME_OFFER_FIELDS",
    "Volume",
    "VolumeArgs",
    "VolumeInputs",
    "VolumeProvider",
    "volume_offer_query",
]

# vastai/api/query.py::vol_offers_fields: what a volume offer search may filter on.
VOLUME_OFFER_FIELDS = frozenset(
    {
        "cpu_arch",
        "cuda_vers",
        "cluster_id",
        "nw_disk_min_bw",
        "nw_disk_avg_bw",
        "nw_disk_max_bw",
        "datacenter",
        "disk_bw",
        "disk_space",
        "driver_version",
        "duration",
        "geolocation",
        "gpu_arch",
        "has_avx",
        "host_id",
        "id",
        "inet_down",
        "inet_up",
        "machine_id",
        "pci_gen",
        "pcie_bw",
        "reliability",
        "storage_cost",
        "static_ip",
        "total_flops",
        "ubuntu_version",
        "verified",
        "external",
    }
)
VOLUME_ORDER_FIELDS = VOLUME_OFFER_FIELDS | {"score"}
_ORDER_EXAMPLES = "; name volume offer fields, e.g. 'storage_cost' (cheapest first), '-reliability'"
# The official client's default volume filters (vastai/api/offers.py::search_volumes).
_DEFAULT_FILTERS = {"verified": {"eq": True}, "external": {"eq": False}}
DEFAULT_ORDER = "storage_cost"
OFFER_SEARCH_LIMIT = 20
DELETE_WAIT = 120.0
_POLL = 0.5
# Vast's volume name rule (docs guides/instances/storage/volumes.mdx:125), read as ASCII.
NAME_RULE = re.compile(r"[A-Za-z0-9_]{1,64}")
NAME_RULE_TEXT = "must be 1 to 64 letters, digits or underscores (Vast's volume name rule)"
_NOT_WORD = re.compile(r"[^A-Za-z0-9_]")
_MARKER_CHARS = 8


def default_volume_name(resource_name: str, marker: str) -> str:
    """``<resource name>_<8 hex>``: other characters become ``_``, the whole at most 64 characters."""
    tail = marker[:_MARKER_CHARS]
    return f"{_NOT_WORD.sub('_', resource_name)[: 64 - 1 - len(tail)]}_{tail}"


def _earlier_default(name: object, marker: str) -> str | None:
    """The resource's generated name as it was before the rule, ``<resource name>-<8 hex>`` (other
    characters ``-``), rewritten as it is generated now; None if ``name`` is not one."""
    tail = marker[:_MARKER_CHARS]
    if not tail or not isinstance(name, str) or not name.endswith(f"-{tail}"):
        return None
    return f"{_NOT_WORD.sub('_', name[: -len(tail) - 1])[: 64 - 1 - len(tail)]}_{tail}"


def volume_offer_query(text: str, *, size: float = 1.0) -> dict[str, Any]:
    """A volume offer query (CLI language) as the search takes it: the client's defaults unless set,
    and room for ``size`` GB. Raises :class:`~vast_pulumi.errors.VastInputError` naming a field that is
    not a volume offer field."""
    try:
        filters = parse_query(text, default_filters=False) if text.strip() else {}
    except QueryError as error:
        raise VastInputError(str(error)) from None
    unknown = sorted(set(filters) - VOLUME_OFFER_FIELDS)
    if unknown:
        hint = closest(unknown[0], VOLUME_OFFER_FIELDS)
        raise VastInputError(f"{', '.join(unknown)}: not a volume offer field{hint}")
    query: dict[str, Any] = {**_DEFAULT_FILTERS, **filters}
    query.setdefault("disk_space", {"gte": size})
    return query


def search_volume_offers(
    client: VastClient, query: str, *, size: float = 1.0, order: str = DEFAULT_ORDER, limit: int = 64
) -> list[Row]:
    """Volume offers matching ``query`` with room for ``size`` GB, priced for ``size`` GB, best first."""
    body = {
        **volume_offer_query(query, size=size),
        "order": order_clause(order, VOLUME_ORDER_FIELDS, _ORDER_EXAMPLES),
        "limit": limit,
        "allocated_storage": size,
    }
    return client.search_volume_offers(body)


class VolumeInputs(BaseModel):
    """The volume's inputs as the provider validates them."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    size: int = Field(ge=1, le=1_000_000, description="Size in GB.")
    offer_id: int | None = Field(
        None, gt=0, description="The volume offer to rent (one of offer_id, offer_query)."
    )
    offer_query: str | None = Field(
        None, description="Volume offer query (CLI language), resolved at create."
    )
    order: str = Field(DEFAULT_ORDER, description="Best offer first by these fields ('-' for descending).")
    name: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="The volume's name, 1 to 64 letters, digits or underscores; "
        "default <resource name>_<8 hex>.",
    )

    @field_validator("offer_query")
    @classmethod
    def _query(cls, query: str) -> str:
        volume_offer_query(query)
        return query

    @field_validator("order")
    @classmethod
    def _order(cls, order: str) -> str:
        order_clause(order, VOLUME_ORDER_FIELDS, _ORDER_EXAMPLES)
        return order

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> VolumeInputs:
        require_one_of(self, info, ("offer_id", "offer_query"))
        if self.name is None and "name" not in unknown_fields(info):
            raise rule_error("name", "is required")
        return self


class VolumeArgs(TypedDict, total=False):
    """Inputs of :class:`Volume`; see :class:`VolumeInputs`."""

    size: pulumi.Input[int]
    offer_id: pulumi.Input[int]
    offer_query: pulumi.Input[str]
    order: pulumi.Input[str]
    name: pulumi.Input[str]


class VolumeProvider(VastProvider[VolumeInputs]):
    inputs_model = VolumeInputs
    fields = table(
        VolumeInputs,
        {
            "size": REPLACES.read_back(),
            "offer_id": REPLACES.api_default(),
            "offer_query": REPLACES.api_default(),
            "order": CREATE_ONLY,
            "name": REPLACES.read_back(),
        },
    )
    delete_before_replace = True  # the marker must be free for the new volume
    noun = "volume"

    def check(self, olds: Props, news: Props) -> CheckResult:
        """The name rule, for a name that would be sent (a new or changed one); a volume named before
        the rule keeps its generated name instead of being replaced under a new one."""
        marker = str(news.get(MARKER_KEY) or "")
        if news.get("name") is not None and news.get("name") == _earlier_default(olds.get("name"), marker):
            news = {**news, "name": olds["name"]}
        result = super().check(olds, news)
        name = result.inputs.get("name")
        if result.failures or not isinstance(name, str) or name == olds.get("name"):
            return result
        if NAME_RULE.fullmatch(name):
            return result
        return CheckResult(result.inputs, [CheckFailure("name", f"name: {NAME_RULE_TEXT}")])

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        row = reconciling_create(self._create_steps(inputs, str(props.get(MARKER_KEY) or "")))
        return CreateResult(
            str(row["id"]), {**_outputs(self.given(inputs, props), row), ACCOUNT_KEY: account}
        )

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        row = self._find(numeric_id(id_))
        if row is None:
            return self.gone()
        return self.read_result(id_, {**_outputs(props, row), ACCOUNT_KEY: account}, props)

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        # Only create-time inputs (order) can change in place: nothing to send.
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        row = self._find(numeric_id(id_))
        if row is None:
            raise VanishedError(f"volume {id_} is not on this account")
        return UpdateResult({**_outputs(self.given(inputs, news), row), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        self.owner(id_, props)
        volume_id = numeric_id(id_)
        self.client.delete_volume(volume_id)  # already gone is fine
        await_unlisted(f"volume {volume_id}", self._ids, volume_id, timeout=DELETE_WAIT, poll=_POLL)

    def differs(self, key: str, olds: Props, news: Props) -> bool:
        new, old = news.get(key), olds.get(key)
        if key == "offer_query" and isinstance(new, str) and isinstance(old, str):
            return canonical_query(volume_offer_query(new)) != canonical_query(volume_offer_query(old))
        if key == "offer_id" and news.get("offer_query") is not None:
            return False  # the resolved offer, not an input
        return super().differs(key, olds, news)

    # -- create -------------------------------------------------------------------------------------

    def _create_steps(self, inputs: VolumeInputs, marker: str) -> CreateSteps:
        name = str(inputs.name)
        tail = marker[:_MARKER_CHARS]
        generated = bool(tail) and name.endswith((f"_{tail}", f"-{tail}"))  # now, and before the rule
        earlier: set[int] | None = None

        def find() -> list[Row]:
            nonlocal earlier
            named = [row for row in self.client.list_volumes() if row.get("label") == name]
            if earlier is None:
                earlier = set() if generated else {int(row["id"]) for row in named}
            return [row for row in named if int(row["id"]) not in earlier]

        def converge(volume_id: int, row: Row | None, _just_made: bool) -> Row:
            found = row if row is not None else self._find(volume_id)
            if found is None:
                raise VanishedError(f"volume {volume_id} is not listed right after it was rented")
            return found

        return CreateSteps(
            noun="volume",
            find=find,
            create=lambda: self._rent(inputs, name),
            delete=self.client.delete_volume,
            converge=converge,
        )

    def _rent(self, inputs: VolumeInputs, name: str) -> int:
        """Rent the first candidate offer that takes the volume; an offer gone or full meanwhile is
        skipped (a definite refusal); any other failure is raised (an unknown outcome included)."""
        refusals: list[str] = []
        for offer_id in self._candidates(inputs):
            try:
                return self.client.create_volume(offer_id, inputs.size, name)
            except VastApiError as error:
                if inputs.offer_id is not None or not _offer_refused(error):
                    raise
                refusals.append(f"{offer_id}: {error.msg}")
        raise OfferUnavailableError(f"no volume offer took {inputs.size} GB ({'; '.join(refusals)})")

    def _candidates(self, inputs: VolumeInputs) -> list[int]:
        if inputs.offer_id is not None:
            return [inputs.offer_id]
        assert inputs.offer_query is not None
        offers = search_volume_offers(
            self.client, inputs.offer_query, size=inputs.size, order=inputs.order, limit=OFFER_SEARCH_LIMIT
        )
        if not offers:
            raise OfferUnavailableError(
                f"no volume offer matches {inputs.offer_query!r} with {inputs.size} GB free"
            )
        return [int(offer["id"]) for offer in offers]

    def _find(self, volume_id: int) -> Row | None:
        return next((row for row in self.client.list_volumes() if row.get("id") == volume_id), None)

    def _ids(self) -> set[int]:
        return {int(row["id"]) for row in self.client.list_volumes() if row.get("id") is not None}


def _offer_refused(error: VastApiError) -> bool:
    return error.is_not_found or (error.status == 400 and error.error == "invalid_args")


def _outputs(given: Props, row: Row) -> Props:
    outputs = {key: given.get(key) for key in VolumeInputs.model_fields}
    outputs.update(
        {
            MARKER_KEY: given.get(MARKER_KEY),
            "volume_id": int(row["id"]),
            "volume_name": f"V.{row['id']}",
            "machine_id": row.get("machine_id"),
            "storage_total_cost": row.get("storage_total_cost"),
            "status": row.get("status"),
        }
    )
    if row.get("disk_space") is not None:
        outputs["size"] = int(float(row["disk_space"]))
    if row.get("label") is not None:
        outputs["name"] = row["label"]
    return outputs


class Volume(VastResource, module="vast", name="Volume"):
    """A local volume. Outputs: the inputs, ``volume_id`` (int), ``volume_name`` (``V.<id>``),
    ``machine_id``, ``storage_total_cost`` ($/hour) and ``status``."""

    size: pulumi.Output[int]
    offer_id: pulumi.Output[int | None]
    offer_query: pulumi.Output[str | None]
    order: pulumi.Output[str]
    name: pulumi.Output[str]
    volume_id: pulumi.Output[int]
    volume_name: pulumi.Output[str]
    machine_id: pulumi.Output[int]
    storage_total_cost: pulumi.Output[float]
    status: pulumi.Output[str]

    provider_class = VolumeProvider
    default_named = "name"
    output_descriptions: ClassVar[Mapping[str, str]] = {
        "volume_id": "The volume's id (what Instance.volume_info's volume_id takes).",
        "volume_name": "The volume's name in the official client, V.<id>.",
        "machine_id": "The machine the volume is on.",
        "storage_total_cost": "What the volume costs, $/hour.",
        "status": "The status the API reports.",
    }
    output_keys = (*VolumeInputs.model_fields, *output_descriptions)

    def __init__(
        self,
        resource_name: str,
        args: VolumeArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[VolumeArgs],
    ) -> None:
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)

    @classmethod
    def default_name_for(cls, resource_name: str, marker: str) -> str:
        """The default name follows Vast's volume name rule: ``<resource name>_<8 hex>``."""
        return default_volume_name(resource_name, marker)
