"""A Vast.ai workergroup (``/api/v0/workergroups/``): how an endpoint recruits its GPU workers.

>>> Workergroup(
...     "workers",
...     endpoint_id=endpoint.id,
...     search_params="gpu_name=RTX_4090 num_gpus=1",
...     launch_args="--image vllm/vllm-openai:latest --disk 64",
... )

The group names its endpoint by ``endpoint_id`` or ``endpoint_name`` (exactly one; either may be an
output of an :class:`~vast_pulumi.Endpoint` or a stack reference) and its workers by a template
(``template_hash`` or ``template_id``) or by an offer query ``search_params`` in the CLI's language,
with ``launch_args`` (exactly one of the three). ``gpu_ram`` (GB) and ``max_workers`` are optional: left
unset, the endpoint's policy applies. The endpoint's scaling fields (``min_load``, ``target_util``,
``cold_mult``, ``cold_workers``) are deliberately absent: the API ignores them at this level.
``cold_workers`` is still accepted, so that programs and state of earlier versions keep working, but it is
not sent, never causes an update, and ``pulumi preview`` warns that it has no effect: set
``Endpoint.cold_workers`` instead.

**The query.** ``search_params`` goes out as the official client sends it: the query, followed by the
client's default filters (``verified=True rentable=True rented=False``) that it does not set itself
(``rented=any`` sets ``rented``: it drops the filter). The API's documentation gives ``search_params`` no
default, so without them workers could be recruited on unverified or rented hosts. A change is judged by
meaning (as the query language parses it), not by spelling: what would be sent against what was sent,
and against the API's stored copy of those filters (a change made on the server shows as drift); filters
the API stores beyond those sent are not compared.

Moving a group to another endpoint replaces it; everything else updates in place.

**No duplicates.** A group carries its resource's marker in ``launch_args`` (as the workers' environment
variable ``VAST_PULUMI_GROUP_MARKER``; see :mod:`vast_pulumi._launch_args`), added on the way to the API
and taken off on the way back, so state and diffs show only what the program says. A create adopts a group
with its marker on its endpoint (made by a ``pulumi up`` killed before it could record it), with the
workers it has recruited; a create whose reply was lost looks for the marker instead of posting again;
see :mod:`vast_pulumi._reconcile`.

**Delete** destroys the workers the group recruited too (the API leaves them running, tied to
nothing): those tied to the group and the detached ones carrying its marker; it returns once none is
listed, and fails naming a worker that could not be destroyed.

Existing groups: ``Workergroup.get("name", "567")`` reads one; the ``adopt_id`` input makes ``create``
take group 567 under management (updated to the inputs) instead of creating one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, TypedDict, Unpack

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, ReadResult, UpdateResult
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from vast_pulumi import _launch_args
from vast_pulumi._dynamic import (
    ACCOUNT_KEY,
    MARKER_KEY,
    Props,
    VastProvider,
    VastResource,
    numeric_id,
    parsable_query,
    require_one_of,
)
from vast_pulumi._fields import CREATE_ONLY, NO_EFFECT, REPLACES, UPDATES, table
from vast_pulumi._reconcile import CreateSteps, reconciling_create
from vast_pulumi._teardown import NotGoneError, destroy_instances
from vast_pulumi._workers import group_markers, group_workers, sweep_late_recruits
from vast_pulumi._workers import now as sweep_now
from vast_pulumi.client import Row
from vast_pulumi.errors import AdoptError, VanishedError
from vast_pulumi.offers import canonical_query
from vast_pulumi.query import parse_query, query_text

__all__ = ["Workergroup", "WorkergroupArgs", "WorkergroupInputs", "WorkergroupProvider"]

_log = logging.getLogger("vast_pulumi")
# What the official client appends to every workergroup's search_params (its offer searches also add
# external=false; its workergroup calls do not).
CLIENT_DEFAULT_FILTERS = (("verified", "True"), ("rentable", "True"), ("rented", "False"))
_OPTIONAL_FIELDS = ("template_hash", "template_id", "launch_args", "gpu_ram", "max_workers")


class WorkergroupInputs(BaseModel):
    """The workergroup's inputs as the provider validates them; names and units are the API's."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    endpoint_id: int | None = Field(
        None, gt=0, description="The endpoint's id (exactly one of endpoint_id, endpoint_name)."
    )
    endpoint_name: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="The endpoint's name (exactly one of endpoint_id, endpoint_name).",
    )
    template_hash: str | None = Field(
        None,
        min_length=1,
        description="A template version's hash (exactly one of template_hash, template_id, search_params).",
    )
    template_id: int | None = Field(
        None, gt=0, description="A template's id (exactly one of template_hash, template_id, search_params)."
    )
    search_params: str | None = Field(
        None,
        description="Offer query (CLI language) for the workers' machines (exactly one of template_hash, "
        "template_id, search_params); the official client's default filters are added.",
    )
    launch_args: str | None = Field(
        None,
        description="CLI-style create-instance arguments for the workers, e.g. '--image vllm/vllm-openai "
        "--disk 64'; must split like a shell line.",
    )
    gpu_ram: float | None = Field(None, gt=0, description="GB of VRAM a worker needs; unset: the endpoint's.")
    cold_workers: int | None = Field(
        None, ge=0, description="No effect: the API ignores it here (set Endpoint.cold_workers); never sent."
    )
    max_workers: int | None = Field(
        None, ge=0, description="Most workers this group runs; unset: the endpoint's."
    )
    adopt_id: int | None = Field(
        None, gt=0, description="An existing group of the same endpoint to take under management."
    )

    _parsable = field_validator("search_params")(parsable_query)
    _launch_args_readable = field_validator("launch_args")(_launch_args.validate)

    @model_validator(mode="after")
    def _one_endpoint_one_worker_spec(self, info: ValidationInfo) -> WorkergroupInputs:
        require_one_of(self, info, ("endpoint_id", "endpoint_name"))
        require_one_of(self, info, ("template_hash", "template_id", "search_params"))
        return self


class WorkergroupArgs(TypedDict, total=False):
    """Inputs of :class:`Workergroup`; see :class:`WorkergroupInputs` for rules."""

    endpoint_id: pulumi.Input[int | str]
    endpoint_name: pulumi.Input[str]
    template_hash: pulumi.Input[str]
    template_id: pulumi.Input[int]
    search_params: pulumi.Input[str]
    launch_args: pulumi.Input[str]
    gpu_ram: pulumi.Input[float]
    cold_workers: pulumi.Input[int]  # no effect (the API ignores it here): use Endpoint.cold_workers
    max_workers: pulumi.Input[int]
    adopt_id: pulumi.Input[int]


class WorkergroupProvider(VastProvider[WorkergroupInputs]):
    inputs_model = WorkergroupInputs
    # One endpoint reference and one worker spec are given; the others are whatever the API reports.
    # search_params is not read back as such (the API keeps only its parsed form): a change made on the
    # server shows through the search_query output, which diff compares by meaning.
    fields = table(
        WorkergroupInputs,
        {
            "endpoint_id": REPLACES.read_back().api_default(),
            "endpoint_name": REPLACES.read_back().api_default(),
            "template_hash": UPDATES.read_back().api_default(),
            "template_id": UPDATES.read_back().api_default(),
            "search_params": UPDATES.api_default(),
            "launch_args": UPDATES.read_back().api_default(),
            "gpu_ram": UPDATES.read_back().api_default(),
            "cold_workers": NO_EFFECT.api_default(),  # never sent: set it on the Endpoint
            "max_workers": UPDATES.read_back().api_default(),
            "adopt_id": CREATE_ONLY,
        },
    )
    noun = "workergroup"

    def check(self, olds: Props, news: Props) -> CheckResult:
        result = super().check(olds, news)
        if news.get("cold_workers") is not None:
            where = news.get("endpoint_name") or news.get("endpoint_id")
            _log.warning(
                "vast: Workergroup%s: cold_workers has no effect and is not sent (the API ignores it on "
                "workergroups); set cold_workers on the Endpoint instead, and remove it here",
                f" of endpoint {where}" if isinstance(where, str | int | float) else "",
            )
        if not result.failures and news.get("template_hash") is None and news.get("template_id") is None:
            # Audit S3: Vast's SDK ("Either template_hash or template_id is required") and CLI require a
            # template; the spec calls search_params an alternative. The API may refuse this group.
            _log.warning(
                "vast: Workergroup without template_hash or template_id: Vast's SDK and CLI require one, "
                "and the API may refuse the group (400); name a Template (its extra_filters pick machines)"
            )
        return result

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        marker = str(props.get(MARKER_KEY) or "")
        if inputs.adopt_id is not None:
            row = self._adopt(inputs, marker)
        else:
            row = reconciling_create(self._create_steps(inputs, marker))
        outputs = _outputs(self.given(inputs, props), row)
        return CreateResult(str(row["id"]), {**outputs, ACCOUNT_KEY: account})

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        row = self._find(numeric_id(id_))
        if row is None:
            return self.gone()
        outs = {**_outputs(props, row), ACCOUNT_KEY: account}
        if not props:  # `pulumi import` or a get: the id alone
            listed = outs.get("search_query")
            if not outs.get("template_hash") and not outs.get("template_id") and isinstance(listed, dict):
                outs["search_params"] = query_text(listed)  # the API keeps only the parsed query
            found = self.imported_result(str(row["id"]), outs)
            if found.inputs is not None and found.inputs.get("endpoint_id") is not None:
                found.inputs.pop("endpoint_name", None)  # one of the two names the endpoint
            return found
        return self.read_result(str(row["id"]), outs, props)

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        group_id = numeric_id(id_)
        marker = str(news.get(MARKER_KEY) or "")
        self.client.update_workergroup(group_id, _body(inputs, marker, group_id, olds.get("endpoint_id")))
        row = self._require(group_id)
        return UpdateResult({**_outputs(self.given(inputs, news), row), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        """Delete the group, then destroy the workers it recruited and wait until none is listed.

        The API leaves a deleted group's workers running, tied to nothing. They are found by their
        tie to the group (listed before the delete) and by the group's marker (those the group
        recruited meanwhile, and those left detached by an earlier delete that could not finish), never
        taking a worker tied to another listed group, nor an untied one while a successor group shares
        the marker (see :mod:`vast_pulumi._workers`). The group goes first, so that it stops
        recruiting; recruits that land after it are looked for a while longer. A group already gone
        (or gone with its endpoint) is fine; a worker that cannot be destroyed fails the delete,
        naming it, and the stack keeps the group, so the next destroy looks for its workers again.
        """
        self.owner(id_, props)
        group_id = numeric_id(id_)
        marker = props.get(MARKER_KEY) if isinstance(props.get(MARKER_KEY), str) else None
        live = group_markers(self.client.cached_workergroups(max_age=0.0))
        tied = group_workers(self.client.cached_instances(max_age=0.0), group_id, marker, live)
        self.client.delete_workergroup(group_id)
        deleted_at = sweep_now()

        def find() -> list[int]:
            after = group_markers(self.client.cached_workergroups())
            return group_workers(self.client.cached_instances(), group_id, marker, after)

        outcome = destroy_instances(self.client, [*tied, *find()])
        if marker:
            late = sweep_late_recruits(self.client, find, since=deleted_at)
            outcome.gone.extend(late.gone)
            outcome.failed.update(late.failed)
        if outcome.failed:
            raise NotGoneError(
                f"workergroup {group_id} was deleted, but not all of its workers: "
                f"{outcome.describe_failures('worker instance')}; they may still be billing. The stack "
                "keeps the workergroup: run destroy again (it looks for the workers again), or destroy "
                "them yourself (vastai destroy instance ID)"
            )

    def differs(self, key: str, olds: Props, news: Props) -> bool:
        new = news.get(key)
        if key == "search_params" and isinstance(new, str):
            return _query_differs(stored_query(new), olds)
        if key == "launch_args" and isinstance(new, str):
            return not _launch_args.same(olds.get(key), new)
        return super().differs(key, olds, news)

    # -- steps --------------------------------------------------------------------------------------

    def _create_steps(self, inputs: WorkergroupInputs, marker: str) -> CreateSteps:
        def converge(group_id: int, row: Row | None, just_made: bool) -> Row:
            if just_made:
                return row if row is not None else self._require(group_id)
            # Left by an interrupted run, perhaps from older inputs; it keeps the workers it recruited.
            return self._converge(inputs, marker, row if row is not None else self._require(group_id))

        return CreateSteps(
            noun="workergroup",
            find=lambda: self._marked(inputs, marker),
            create=lambda: self.client.create_workergroup(_body(inputs, marker)),
            delete=self.client.delete_workergroup,
            converge=converge,
            findable=bool(marker),
        )

    def _marked(self, inputs: WorkergroupInputs, marker: str) -> list[Row]:
        """This resource's groups: its marker, on its endpoint.

        The endpoint matters: a replacement moves the group to another endpoint, and the new group
        must not take the old one (which carries the same marker) for a leftover.
        """
        return [
            row
            for row in self.client.cached_workergroups()
            if _launch_args.marker_of(row.get("launch_args")) == marker and _same_endpoint(inputs, row)
        ]

    def _converge(self, inputs: WorkergroupInputs, marker: str, row: Row) -> Row:
        """Bring an existing group to the inputs (an interrupted run may have made it from older ones)."""
        group_id = int(row["id"])
        self.client.update_workergroup(group_id, _body(inputs, marker, group_id, row.get("endpoint_id")))
        return self._require(group_id)

    def _adopt(self, inputs: WorkergroupInputs, marker: str) -> Row:
        assert inputs.adopt_id is not None
        row = self._find(inputs.adopt_id)
        if row is None:
            raise AdoptError(f"adopt_id: there is no workergroup {inputs.adopt_id} on this account")
        if not _same_endpoint(inputs, row):
            raise AdoptError(
                f"adopt_id: workergroup {inputs.adopt_id} belongs to endpoint {row.get('endpoint_id')}; "
                "a workergroup cannot move to another endpoint"
            )
        return self._converge(inputs, marker, row)  # from now on it carries our marker too

    def _find(self, group_id: int) -> Row | None:
        # There is no single-group GET: reads share one list call.
        return next((row for row in self.client.cached_workergroups() if row.get("id") == group_id), None)

    def _require(self, group_id: int) -> Row:
        row = self._find(group_id)  # fresh: our write made the snapshot stale
        if row is None:
            raise VanishedError(f"workergroup {group_id} is not listed right after it was written")
        return row


def sent_search_params(search_params: str | None) -> str:
    """``search_params`` as the official client sends it: the query, then each of the client's default
    filters that the query does not set (with a value or a wildcard)."""
    query = (search_params or "").strip()
    named = set(parse_query(query, default_filters=False))
    wildcarded = {field for field, _ in CLIENT_DEFAULT_FILTERS} - set(parse_query(query))  # rented=any
    missing = [
        f"{field}={value}" for field, value in CLIENT_DEFAULT_FILTERS if field not in named | wildcarded
    ]
    return " ".join([query, *missing]).strip()


def stored_query(search_params: str | None) -> dict[str, Any]:
    """The query the API is sent for ``search_params``, parsed (what it stores, unless it adds to it)."""
    return parse_query(sent_search_params(search_params), default_filters=False)


def _body(
    inputs: WorkergroupInputs, marker: str, group_id: int | None = None, endpoint_id: Any = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"autoscaler_instance": "prod"}
    if inputs.endpoint_id is not None:
        body["endpoint_id"] = inputs.endpoint_id
    else:
        body["endpoint_name"] = inputs.endpoint_name
    # Even with a template, as the official client does (the default filters alone then).
    body["search_params"] = sent_search_params(inputs.search_params)
    body.update({key: getattr(inputs, key) for key in _OPTIONAL_FIELDS if getattr(inputs, key) is not None})
    if marker:
        body["launch_args"] = _launch_args.with_marker(inputs.launch_args, marker)
    if group_id is not None:
        body["autojob_id"] = group_id
        if endpoint_id is not None:
            body["endpoint_id"] = int(endpoint_id)  # updates need the id, not only the name
    return body


def _outputs(given: Props, row: Row) -> Props:
    """Every input's effective value (the API's, where it reports one), the marker, the parsed query
    and the group's key."""
    effective = {key: row.get(key, given.get(key)) for key in Workergroup.output_keys}
    effective["search_params"] = given.get("search_params")  # the API keeps only the parsed form
    effective["cold_workers"] = given.get("cold_workers")  # as given: the API ignores it
    listed = _launch_args.without_marker(row.get("launch_args"))
    given_args = given.get("launch_args")
    effective["launch_args"] = given_args if _launch_args.same(given_args, listed) else listed
    return {**effective, MARKER_KEY: given.get(MARKER_KEY)}


def _query_differs(to_send: dict[str, Any], olds: Props) -> bool:
    """Whether the query to send differs from the one sent last (by meaning, not spelling), or the API
    now lists one of its filters otherwise (changed on the server).

    Filters the API lists beyond those sent are not compared: a server that adds its own defaults to
    the stored query must not make every preview a change.
    """
    sent = olds.get("search_params")
    wanted = canonical_query(to_send) or {}
    if wanted != canonical_query(stored_query(sent if isinstance(sent, str) else None)):
        return True
    listed = olds.get("search_query")
    if not isinstance(listed, dict):
        return False
    stored = canonical_query(listed) or {}
    return any(stored.get(field) != ops for field, ops in wanted.items())


def _same_endpoint(inputs: WorkergroupInputs, row: Row) -> bool:
    if inputs.endpoint_id is not None:
        return bool(row.get("endpoint_id") == inputs.endpoint_id)
    return bool(row.get("endpoint_name") == inputs.endpoint_name)


class Workergroup(VastResource, module="vast", name="Workergroup"):
    """A workergroup. Outputs: the inputs' effective values, ``search_query`` (as the API parsed
    ``search_params``) and ``api_key`` (secret)."""

    endpoint_id: pulumi.Output[int]
    endpoint_name: pulumi.Output[str]
    template_hash: pulumi.Output[str | None]
    template_id: pulumi.Output[int | None]
    search_params: pulumi.Output[str | None]
    launch_args: pulumi.Output[str | None]
    gpu_ram: pulumi.Output[float]
    cold_workers: pulumi.Output[int | None]  # as given; the API ignores it
    max_workers: pulumi.Output[int]
    search_query: pulumi.Output[dict[str, Any]]
    api_key: pulumi.Output[str]

    provider_class = WorkergroupProvider
    output_descriptions: ClassVar[Mapping[str, str]] = {
        "search_query": "The offer query as the API parsed and stored it ({field: {op: value}}).",
        "api_key": "The group's key.",
    }
    output_keys = (
        *(key for key in WorkergroupInputs.model_fields if key != "adopt_id"),
        *output_descriptions,
    )
    secret_outputs = ("api_key",)

    def __init__(
        self,
        resource_name: str,
        args: WorkergroupArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[WorkergroupArgs],
    ) -> None:
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)
