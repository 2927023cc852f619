"""The lookups as the plugin's functions (``vast:index:getOffers`` ...): each one's arguments are a
pydantic model (the schema and the argument check both come from it), and its body calls the same
lookup a Python program calls, with the key and URL the provider was configured with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vast_pulumi import lookups, offers
from vast_pulumi.plugin._shapes import PACKAGE, camel
from vast_pulumi.settings import ProviderSettings

Spec = dict[str, Any]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OffersArgs(_Args):
    """Arguments of getOffers."""

    query: str = Field(description="An offer query in the vastai CLI's language, e.g. 'gpu_name=RTX_4090'.")
    order: str = Field(offers.DEFAULT_ORDER, description="Sort field; '-' first for descending.")
    limit: int = Field(offers.DEFAULT_LIMIT, ge=1, description="Most offers returned.")
    interruptible: bool = Field(False, description="Price as interruptible (bid) instead of on-demand.")
    disk: float = Field(offers.DEFAULT_DISK_GB, gt=0, description="GB of disk the offers must have room for.")


class NoArgs(_Args):
    """No arguments."""


class TemplatesArgs(_Args):
    """Arguments of getTemplates."""

    query: str = Field("", description="Template filters in the CLI's language, e.g. 'name=vLLM'.")


class InstanceArgs(_Args):
    """Arguments of getInstance."""

    instance_id: int = Field(gt=0, description="The instance id.")


class InstancesArgs(_Args):
    """Arguments of getInstances."""

    label: str | None = Field(None, description="Only instances with this label.")


class VolumeOffersArgs(_Args):
    """Arguments of getVolumeOffers."""

    query: str = Field("", description="Volume offer filters in the CLI's language.")
    size: float = Field(1.0, gt=0, description="GB the volume needs.")
    limit: int = Field(64, ge=1, description="Most offers returned.")


class EndpointCostsArgs(_Args):
    """Arguments of getEndpointCosts."""

    endpoint: str = Field(description="The endpoint's name, or its id.")


@dataclass(frozen=True)
class Function:
    name: str
    args: type[_Args]
    description: str
    # The one output property holding the result; empty: the result's (a model's) fields are the outputs.
    result: str
    returns: Any  # the result's type: a model's fields are typed and camelCase, API rows pass as they are
    call: Callable[[Any, ProviderSettings], Any]

    @property
    def token(self) -> str:
        return f"{PACKAGE}:index:{self.name}"

    def invoke(self, raw: Mapping[str, Any], settings: ProviderSettings) -> dict[str, Any]:
        names = {camel(name): name for name in self.args.model_fields}
        args = self.args.model_validate({names.get(key, key): value for key, value in raw.items()})
        value = _camel_models(self.call(args, settings))
        return {self.result: value} if self.result else dict(value)

    def schema(self, types_: dict[str, Spec]) -> Spec:
        from vast_pulumi.plugin.schema import object_type, type_spec

        inputs = object_type(self.args, types_)
        inputs.pop("description")
        if self.result:
            outputs: Spec = {"type": "object", "properties": {self.result: type_spec(self.returns, types_)}}
        else:
            outputs = object_type(self.returns, types_)
        return {"description": self.description, "inputs": inputs, "outputs": outputs}


def _camel_models(value: Any) -> Any:
    """A model as its declared fields, camelCase (the schema's object type); lists item by item."""
    if isinstance(value, list):
        return [_camel_models(item) for item in value]
    if isinstance(value, BaseModel):
        return {camel(name): getattr(value, name) for name in type(value).model_fields}
    return value


def _endpoint_ref(endpoint: str) -> int | str:
    """An id given as digits is the id (an endpoint named by digits alone is found by that id)."""
    return int(endpoint) if endpoint.isdigit() else endpoint


def _key(settings: ProviderSettings) -> dict[str, str]:
    return {"api_key": settings.api_key, "api_url": settings.api_url}


_ALL = (
    Function(
        "getOffers",
        OffersArgs,
        "GPU offers matching a query, cheapest first (or by order).",
        "offers",
        list[offers.Offer],
        lambda a, s: offers.get_offers(
            a.query, order=a.order, limit=a.limit, interruptible=a.interruptible, disk=a.disk, **_key(s)
        ),
    ),
    Function(
        "getUser",
        NoArgs,
        "The account of the configured key (never the key).",
        "",
        lookups.User,
        lambda a, s: lookups.get_user(**_key(s)),
    ),
    Function(
        "getTemplates",
        TemplatesArgs,
        "Templates visible to the account matching a query.",
        "templates",
        list[dict[str, Any]],
        lambda a, s: lookups.get_templates(a.query, **_key(s)),
    ),
    Function(
        "getInstance",
        InstanceArgs,
        "One of the account's instances as the API shows it (absent when there is none).",
        "instance",
        dict[str, Any] | None,
        lambda a, s: lookups.get_instance(a.instance_id, **_key(s)),
    ),
    Function(
        "getInstances",
        InstancesArgs,
        "The account's instances, only those labelled label when it is given.",
        "instances",
        list[dict[str, Any]],
        lambda a, s: lookups.get_instances(label=a.label, **_key(s)),
    ),
    Function(
        "getVolumeOffers",
        VolumeOffersArgs,
        "Volume offers matching a query with room for size GB, best first.",
        "offers",
        list[dict[str, Any]],
        lambda a, s: lookups.get_volume_offers(a.query, size=a.size, limit=a.limit, **_key(s)),
    ),
    Function(
        "getEndpointCosts",
        EndpointCostsArgs,
        "What a serverless endpoint's workers cost now: $/h of the active and of the inactive ones, "
        "and how many are in each state.",
        "",
        lookups.EndpointCosts,
        lambda a, s: lookups.get_endpoint_costs(_endpoint_ref(a.endpoint), **_key(s)),
    ),
)
FUNCTIONS: dict[str, Function] = {function.token: function for function in _ALL}
