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


@dataclass(frozen=True)
class Function:
    name: str
    args: type[_Args]
    description: str
    result: str  # the one output property (a list or an object); empty: the call's fields are the outputs
    call: Callable[[Any, ProviderSettings], Any]

    @property
    def token(self) -> str:
        return f"{PACKAGE}:index:{self.name}"

    def invoke(self, raw: Mapping[str, Any], settings: ProviderSettings) -> dict[str, Any]:
        names = {camel(name): name for name in self.args.model_fields}
        args = self.args.model_validate({names.get(key, key): value for key, value in raw.items()})
        value = self.call(args, settings)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif isinstance(value, list):
            value = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in value]
        return {self.result: value} if self.result else dict(value)

    def schema(self, types_: dict[str, Spec]) -> Spec:
        from vast_pulumi.plugin.schema import object_type, property_spec

        inputs = object_type(self.args, types_)
        inputs.pop("description")
        if self.result:
            outputs: Spec = {
                "type": "object",
                "properties": {self.result: {"type": "array", "items": {"$ref": "pulumi.json#/Any"}}},
                "required": [self.result],
            }
            if self.name == "getInstance":
                outputs["properties"][self.result] = {"$ref": "pulumi.json#/Any"}
                outputs["required"] = []
        else:
            outputs = object_type(lookups.User, types_)
            outputs["properties"] = {
                camel(name): property_spec(field.annotation, field.description, types_)
                for name, field in lookups.User.model_fields.items()
            }
        return {"description": self.description, "inputs": inputs, "outputs": outputs}


def _key(settings: ProviderSettings) -> dict[str, str]:
    return {"api_key": settings.api_key, "api_url": settings.api_url}


_ALL = (
    Function(
        "getOffers",
        OffersArgs,
        "GPU offers matching a query, cheapest first (or by order).",
        "offers",
        lambda a, s: offers.get_offers(
            a.query, order=a.order, limit=a.limit, interruptible=a.interruptible, disk=a.disk, **_key(s)
        ),
    ),
    Function(
        "getUser",
        NoArgs,
        "The account of the configured key (never the key).",
        "",
        lambda a, s: lookups.get_user(**_key(s)),
    ),
    Function(
        "getTemplates",
        TemplatesArgs,
        "Templates visible to the account matching a query.",
        "templates",
        lambda a, s: lookups.get_templates(a.query, **_key(s)),
    ),
    Function(
        "getInstance",
        InstanceArgs,
        "One of the account's instances as the API shows it (absent when there is none).",
        "instance",
        lambda a, s: lookups.get_instance(a.instance_id, **_key(s)),
    ),
    Function(
        "getInstances",
        InstancesArgs,
        "The account's instances, only those labelled label when it is given.",
        "instances",
        lambda a, s: lookups.get_instances(label=a.label, **_key(s)),
    ),
    Function(
        "getVolumeOffers",
        VolumeOffersArgs,
        "Volume offers matching a query with room for size GB, best first.",
        "offers",
        lambda a, s: lookups.get_volume_offers(a.query, size=a.size, limit=a.limit, **_key(s)),
    ),
)
FUNCTIONS: dict[str, Function] = {function.token: function for function in _ALL}
