"""What the plugin knows of each resource: its type token, its provider class, and how its property
names and secrets look on the wire.

The plugin is a second face over the same provider classes the dynamic resources use; this module only
translates. Pulumi's convention is camelCase property names (``maxWorkers``), ours are the API's
snake_case (``max_workers``). The translation is driven by the models, never by a regex over arbitrary
keys: the keys of ``env`` maps and of rows the API returns are data and pass through untouched.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from vast_pulumi import _registry
from vast_pulumi._docs import output_annotations
from vast_pulumi._dynamic import ACCOUNT_KEY, MARKER_KEY, VastProvider, VastResource

PACKAGE = "vast"
# What the engine's RPC layer uses to mark a secret inside a property struct.
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"

Props = dict[str, Any]


def camel(name: str) -> str:
    """``max_workers`` -> ``maxWorkers``; a leading underscore (``_marker``) is kept as it is."""
    if name.startswith("_"):
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (``InstanceVolume | None`` -> ``InstanceVolume``), if any."""
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


@dataclass(frozen=True)
class Shape:
    """One resource as the plugin serves it."""

    resource: type[VastResource]
    provider_class: type[VastProvider[Any]]
    token: str  # ``vast:index:Instance`` (the registry's ``plugin_token``)

    @property
    def name(self) -> str:
        return self.resource.__name__

    @cached_property
    def inputs(self) -> dict[str, Any]:
        """Input name -> annotation."""
        fields = self.provider_class.inputs_model.model_fields
        return {name: field.annotation for name, field in fields.items()}

    @cached_property
    def outputs(self) -> dict[str, Any]:
        """Output name -> type (the type inside ``pulumi.Output[...]``; inputs keep their input type)."""
        scope = {**vars(sys.modules[self.resource.__module__]), "Any": Any}
        declared = {name: eval(text, scope) for name, text in output_annotations(self.resource).items()}
        ordered = [*self.resource.output_keys, ACCOUNT_KEY]
        return {name: self.inputs.get(name, declared.get(name, Any)) for name in ordered if name in declared}

    @cached_property
    def secrets(self) -> frozenset[str]:
        return frozenset(self.provider_class.secret_inputs) | frozenset(self.resource.secret_outputs)

    @cached_property
    def _types(self) -> dict[str, Any]:
        return {**self.outputs, **self.inputs}

    # -- translation ---------------------------------------------------------------------------------------

    def to_provider(self, props: Mapping[str, Any]) -> Props:
        """Engine properties (camelCase, secrets unwrapped already) -> the provider's snake_case props."""
        by_camel = {camel(name): name for name in self._types}
        result: Props = {}
        for key, value in props.items():
            name = by_camel.get(key, key)
            result[name] = _convert(value, nested_model(self._types.get(name)), to_camel=False)
        return result

    def to_engine(self, props: Mapping[str, Any], *, secret: bool = True) -> Props:
        """Provider props -> engine properties: camelCase, secrets wrapped (unless ``secret=False``)."""
        result: Props = {}
        for name, value in props.items():
            converted = _convert(value, nested_model(self._types.get(name)), to_camel=True)
            if secret and name in self.secrets and value is not None and name != MARKER_KEY:
                converted = {SIG_KEY: SECRET_SIG, "value": converted}
            result[camel(name)] = converted
        return result


def _convert(value: Any, model: type[BaseModel] | None, *, to_camel: bool) -> Any:
    """Rename the keys of a nested model's values (a dict, or each dict of a list); data is left alone."""
    if model is None:
        return value
    if isinstance(value, list):
        return [_convert(item, model, to_camel=to_camel) for item in value]
    if not isinstance(value, Mapping):
        return value
    names = {camel(name): name for name in model.model_fields}
    if to_camel:
        return {camel(key): item for key, item in value.items()}
    return {names.get(key, key): item for key, item in value.items()}


def unwrap_secrets(value: Any) -> Any:
    """The engine's secret wrappers removed, at any depth (the providers see plain values)."""
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) == SECRET_SIG:
            return unwrap_secrets(value.get("value"))
        return {key: unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(item) for item in value]
    return value


SHAPES: dict[str, Shape] = {
    kind.plugin_token: Shape(kind.resource_class(), kind.provider_class(), kind.plugin_token)
    for kind in _registry.RESOURCES
}
