"""A Vast.ai serverless endpoint (``/api/v0/endptjobs/``): the routing and autoscaling policy that its
workergroups' GPU workers serve.

>>> endpoint = Endpoint("inference", max_workers=4, cold_workers=1, inactivity_timeout=600)
>>> pulumi.export("endpoint_key", endpoint.api_key)  # secret

Every scaling field is sent explicitly (the API's, CLI's and UI's defaults disagree), so what the stack
says is what runs. Every input updates in place except ``endpoint_name``, whose change replaces the
endpoint. The name defaults to ``<resource name>-<8 hex>``, unique per stack.

Existing endpoints: ``Endpoint.get("name", "1234")`` reads one without managing it; the ``adopt_id``
input makes ``create`` take endpoint 1234 under management (updated to the inputs) instead of creating
one. (``pulumi import`` cannot work with Python dynamic providers.)

**Delete** returns once the workers the API destroyed with the endpoint are no longer listed, also
destroys its groups' detached workers that carry their markers, and fails naming any worker the API
could not destroy.

An interrupted ``pulumi up`` cannot leave a duplicate behind (see :mod:`vast_pulumi._reconcile`): the
default name carries the resource's marker, so a create adopts an endpoint left with that name by a
killed run, and a create whose reply was lost looks the name up instead of posting again. A name you
choose is never taken over: when an endpoint already has it, the create fails and names the
``adopt_id`` that would take that endpoint under management.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypedDict, Unpack

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from vast_pulumi._dynamic import (
    ACCOUNT_KEY,
    MARKER_KEY,
    Props,
    VastProvider,
    VastResource,
    default_name,
    numeric_id,
    rule_error,
    unknown_fields,
)
from vast_pulumi._fields import CREATE_ONLY, REPLACES, UPDATES, table
from vast_pulumi._reconcile import CreateSteps, reconciling_create
from vast_pulumi._teardown import NotGoneError, destroy_instances
from vast_pulumi._workers import detached_workers, group_markers, sweep_late_recruits
from vast_pulumi._workers import now as sweep_now
from vast_pulumi.client import Row
from vast_pulumi.errors import AdoptError, VanishedError, VastConflictError

__all__ = ["Endpoint", "EndpointArgs", "EndpointInputs", "EndpointProvider", "default_name"]

EndpointState = Literal["active", "suspended", "stopped"]
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
DEFAULT_COLD_WORKERS = 5
_SCALING_FIELDS = (
    "min_load",
    "min_cold_load",
    "target_util",
    "cold_mult",
    "cold_workers",
    "max_workers",
    "max_queue_time",
    "target_queue_time",
    "inactivity_timeout",
)


class EndpointInputs(BaseModel):
    """The endpoint's inputs as the provider validates them; names and units are the API's."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    # Required by the API; the resource fills a default, so the model only insists once it is known.
    endpoint_name: str | None = Field(
        None,
        max_length=255,
        description="Endpoint name: letters, digits, '_' and '-'; default <resource name>-<8 hex>.",
    )
    min_load: float = Field(0.0, ge=0, description="Load (perf units/s) kept served by warm workers.")
    min_cold_load: float = Field(
        0.0, ge=0, description="Load (perf units/s) kept ready as cold (stopped) workers."
    )
    target_util: float = Field(0.9, gt=0, le=1, description="Share of the workers' capacity aimed for.")
    cold_mult: float = Field(2.5, ge=0, description="Cold capacity kept, as a multiple of the load.")
    cold_workers: int | None = Field(
        None,
        ge=0,
        description="Stopped workers kept ready; default 5, or max_workers if fewer; <= max_workers.",
    )
    max_workers: int = Field(20, ge=0, description="Most workers the endpoint runs.")
    max_queue_time: float = Field(30.0, gt=0, description="Seconds a request may wait before scaling up.")
    target_queue_time: float = Field(10.0, gt=0, description="Seconds of queueing aimed for.")
    inactivity_timeout: int | None = Field(
        None, description="Seconds idle before scaling to zero; 0 disables, < 0 never; unset: the API's."
    )
    endpoint_state: EndpointState = Field(
        "active", description="The endpoint's state (a create makes it active, then applies this)."
    )
    adopt_id: int | None = Field(
        None, gt=0, description="An existing endpoint to take under management instead of creating one."
    )

    @field_validator("endpoint_name")
    @classmethod
    def _name_charset(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("must contain only letters, digits, '_' and '-'")
        return name

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> EndpointInputs:
        if self.endpoint_name is None and "endpoint_name" not in unknown_fields(info):
            raise rule_error("endpoint_name", "is required")
        if {"cold_workers", "max_workers"} & unknown_fields(info):
            return self
        if self.cold_workers is None:
            self.cold_workers = min(DEFAULT_COLD_WORKERS, self.max_workers)
        elif self.cold_workers > self.max_workers:
            raise rule_error("cold_workers", "must be <= max_workers")
        return self


class EndpointArgs(TypedDict, total=False):
    """Inputs of :class:`Endpoint`; see :class:`EndpointInputs` for rules and defaults."""

    endpoint_name: pulumi.Input[str]
    min_load: pulumi.Input[float]
    min_cold_load: pulumi.Input[float]
    target_util: pulumi.Input[float]
    cold_mult: pulumi.Input[float]
    cold_workers: pulumi.Input[int]
    max_workers: pulumi.Input[int]
    max_queue_time: pulumi.Input[float]
    target_queue_time: pulumi.Input[float]
    inactivity_timeout: pulumi.Input[int]
    endpoint_state: pulumi.Input[EndpointState]
    adopt_id: pulumi.Input[int]


class EndpointProvider(VastProvider[EndpointInputs]):
    inputs_model = EndpointInputs
    # The list row carries every field: a refresh reads them all back.
    fields = table(
        EndpointInputs,
        {
            "endpoint_name": REPLACES.read_back(),
            **{key: UPDATES.read_back() for key in _SCALING_FIELDS},
            "inactivity_timeout": UPDATES.read_back().api_default(),
            "endpoint_state": UPDATES.read_back(),
            "adopt_id": CREATE_ONLY,
        },
    )
    noun = "endpoint"

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        if inputs.adopt_id is not None:
            row = self._adopt(inputs)
        else:
            row = reconciling_create(self._create_steps(inputs, str(props.get(MARKER_KEY) or "")))
        outputs = _outputs(self.given(inputs, props), row)
        return CreateResult(str(row["id"]), {**outputs, ACCOUNT_KEY: account})

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        row = self._find(numeric_id(id_))
        if row is None:
            return self.gone()
        return self.read_result(str(row["id"]), {**_outputs(props, row), ACCOUNT_KEY: account}, props)

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        endpoint_id = numeric_id(id_)
        self.client.update_endpoint(endpoint_id, _body(inputs, endpoint_id))
        row = self._require(endpoint_id)
        return UpdateResult({**_outputs(self.given(inputs, news), row), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        """Delete the endpoint and wait until none of its workers is listed.

        The API deletes the endpoint's workergroups with it and destroys the workers still attached
        to them, answering those it destroyed and those it could not. Workers of its groups that an
        earlier group delete left detached, and recruits that land after the delete, are found by
        their groups' markers and destroyed too (never one tied to another listed group, nor an untied
        one while another group shares the marker: see :mod:`vast_pulumi._workers`). A worker the API
        could not destroy, or one still listed after the bound, fails the delete, naming it. Already
        gone is fine.
        """
        self.owner(id_, props)
        endpoint_id = numeric_id(id_)
        before = self.client.cached_workergroups(max_age=0.0)
        mine = (row for row in before if row.get("endpoint_id") == endpoint_id)
        markers = {marker for marker in group_markers(mine).values() if marker}
        deletion = self.client.delete_endpoint(endpoint_id)
        deleted_at = sweep_now()
        refused = deletion.failed_workers if deletion is not None else []

        def find() -> list[int]:
            live = group_markers(self.client.cached_workergroups())
            # The API just failed to destroy a refused worker: reported below, not retried.
            return [
                w for w in detached_workers(self.client.cached_instances(), markers, live) if w not in refused
            ]

        outcome = destroy_instances(
            self.client, find(), awaiting=deletion.deleted_workers if deletion is not None else ()
        )
        if markers:
            late = sweep_late_recruits(self.client, find, since=deleted_at)
            outcome.gone.extend(late.gone)
            outcome.failed.update(late.failed)
        failures = [
            *(f"worker instance {worker} (the API could not destroy it)" for worker in refused),
            *([outcome.describe_failures("worker instance")] if outcome.failed else []),
        ]
        if failures:
            raise NotGoneError(
                f"endpoint {endpoint_id} was deleted, but not all of its workers: {', '.join(failures)}; "
                "they may still be billing, tied to no endpoint. Destroy them yourself (vastai destroy "
                "instance ID), then run destroy again"
            )

    # -- steps --------------------------------------------------------------------------------------

    def _create_steps(self, inputs: EndpointInputs, marker: str) -> CreateSteps:
        """Endpoints have no field to carry a marker but their name: a generated name carries it
        (crash recovery adopts what bears it); a name the user chose is checked to be free first,
        and only endpoints that took it after that check count as this resource's."""
        name = str(inputs.endpoint_name)
        generated = bool(marker) and name.endswith(f"-{marker[:8]}")
        foreign: set[int] | None = None

        def find() -> list[Row]:
            nonlocal foreign
            named = [row for row in self.client.cached_endpoints() if row.get("endpoint_name") == name]
            if foreign is None:
                foreign = set() if generated else {int(row["id"]) for row in named}
                if foreign:
                    raise _name_taken(name, min(foreign))
            return [row for row in named if int(row["id"]) not in foreign]

        def converge(endpoint_id: int, row: Row | None, _just_made: bool) -> Row:
            # Also applies endpoint_state, which a create cannot set.
            return self._converge(inputs, row if row is not None else self._require(endpoint_id))

        return CreateSteps(
            noun="endpoint",
            find=find,
            create=lambda: self.client.create_endpoint(_body(inputs)),
            delete=self.client.delete_endpoint,
            converge=converge,
        )

    def _adopt(self, inputs: EndpointInputs) -> Row:
        assert inputs.adopt_id is not None
        row = self.client.get_endpoint(inputs.adopt_id)
        if row is None:
            raise AdoptError(f"adopt_id: there is no endpoint {inputs.adopt_id} on this account")
        return self._converge(inputs, row)

    def _converge(self, inputs: EndpointInputs, row: Row) -> Row:
        """Bring an existing endpoint to the inputs, if it differs (no call if it does not)."""
        endpoint_id = int(row["id"])
        wanted = _body(inputs, endpoint_id)
        if all(row[key] == value for key, value in wanted.items() if key in row):
            return row
        self.client.update_endpoint(endpoint_id, wanted)
        return self._require(endpoint_id)

    def _find(self, endpoint_id: int) -> Row | None:
        listed = [row for row in self.client.cached_endpoints() if row.get("id") == endpoint_id]
        return listed[0] if listed else self.client.get_endpoint(endpoint_id)

    def _require(self, endpoint_id: int) -> Row:
        row = self._find(endpoint_id)
        if row is None:
            raise VanishedError(f"endpoint {endpoint_id} vanished right after it was written")
        return row


def _outputs(given: Props, row: Row) -> Props:
    """Every input's effective value (the API's, where it reports one), the marker, the endpoint's key."""
    effective = {key: row.get(key, given.get(key)) for key in Endpoint.output_keys}
    return {**effective, MARKER_KEY: given.get(MARKER_KEY), "api_key": row.get("api_key")}


def _body(inputs: EndpointInputs, endpoint_id: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"endpoint_name": inputs.endpoint_name, "autoscaler_instance": "prod"}
    body.update({key: getattr(inputs, key) for key in _SCALING_FIELDS})
    if inputs.inactivity_timeout is None:
        del body["inactivity_timeout"]  # the API's default
    if endpoint_id is not None:
        body.update(endptjob_id=endpoint_id, endpoint_state=inputs.endpoint_state)
    return body


def _name_taken(name: str, endpoint_id: int) -> VastConflictError:
    return VastConflictError(
        f"endpoint_name: {name!r} is already the name of endpoint {endpoint_id}, which this resource did "
        f"not create; nothing was changed. To manage that endpoint (for example one left by an "
        f"interrupted `pulumi up`), set adopt_id={endpoint_id}; otherwise choose another endpoint_name"
    )


class Endpoint(VastResource, module="vast", name="Endpoint"):
    """A serverless endpoint. Outputs: the inputs' effective values and ``api_key`` (secret)."""

    endpoint_name: pulumi.Output[str]
    min_load: pulumi.Output[float]
    min_cold_load: pulumi.Output[float]
    target_util: pulumi.Output[float]
    cold_mult: pulumi.Output[float]
    cold_workers: pulumi.Output[int]
    max_workers: pulumi.Output[int]
    max_queue_time: pulumi.Output[float]
    target_queue_time: pulumi.Output[float]
    inactivity_timeout: pulumi.Output[int | None]
    endpoint_state: pulumi.Output[str]
    api_key: pulumi.Output[str]

    provider_class = EndpointProvider
    default_named = "endpoint_name"
    output_descriptions: ClassVar[Mapping[str, str]] = {
        "api_key": "The endpoint's key, for its route and workers."
    }
    output_keys = (*(key for key in EndpointInputs.model_fields if key != "adopt_id"), *output_descriptions)
    secret_outputs = ("api_key",)

    def __init__(
        self,
        resource_name: str,
        args: EndpointArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[EndpointArgs],
    ) -> None:
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)
