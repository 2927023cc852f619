"""Every resource of vast-pulumi, declared once.

The package's exports (``vast_pulumi.__init__``), the reference generator (:mod:`vast_pulumi._docs`),
the orphan finder (:mod:`vast_pulumi.orphans`) and the recorded-state test
(``tests/unit/test_state_compat.py``) all read :data:`RESOURCES`; ``tests/unit/test_registry.py`` fails
when a resource is missing from any of them.

This module imports nothing of the package, and the classes are looked up by name on first use: the
package's ``__init__`` reads it without loading the Pulumi SDK, and no import cycle can run through it.
The type tokens and provider class paths are in the state of every stack (the provider is pickled there):
they never change, and ``tests/unit/test_state_compat.py`` checks them against the recordings of every
release.
"""

from __future__ import annotations

import enum
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vast_pulumi._dynamic import VastProvider, VastResource

__all__ = ["RESOURCES", "Marker", "Orphans", "ResourceKind", "by_token", "released_in"]


class Marker(enum.Enum):
    """Where an object carries the marker of the resource that made it (see ``VastResource.marker``)."""

    INSTANCE_ENV = "the instance's environment, VAST_PULUMI_MARKER"
    LAUNCH_ARGS = "the group's launch_args, as the workers' environment variable VAST_PULUMI_GROUP_MARKER"
    DEFAULT_NAME = "its default name, <resource name>-<first 8 hex of the marker>"
    KEY_COMMENT = "the key's last comment word, vast-pulumi:<marker>"
    MEMBER_ENV = "each member's environment, VAST_PULUMI_MARKER (the fleet's marker, a tag and an index)"
    NONE = "nowhere: the API keeps nothing but the object's name and value"


class Orphans(enum.Enum):
    """How :mod:`vast_pulumi.orphans` finds objects of a resource that no stack records."""

    BY_MARKER = "it carries its full marker: listed unless a given stack records its id"
    BY_DEFAULT_NAME = (
        "its default name carries 8 hex of the marker: listed when they match a resource of a given or "
        "removed stack (a name chosen by the user is never listed)"
    )
    AS_INSTANCES = "its members are instances with their own markers, recorded by the fleet's instance_ids"
    NEVER = "never: nothing tells it from one made by hand"


@dataclass(frozen=True)
class ResourceKind:
    """One resource: where its classes live, its type token, its marker and how its orphans are found.

    ``list_call``/``delete_call`` name the :class:`~vast_pulumi.client.VastClient` methods that list the
    account's objects of this kind and delete one; ``orphan_kind`` is the kind :mod:`vast_pulumi.orphans`
    reports (an instance for a fleet's members). ``since`` is the first release with the resource.
    """

    name: str
    module: str
    type_token: str
    provider_path: str  # pickled in state: module.Class
    marker: Marker
    orphans: Orphans
    since: str
    orphan_kind: str | None
    list_call: str | None
    delete_call: str | None
    bills: bool  # whether the object costs money by itself (orphans says so)

    @property
    def args_name(self) -> str:
        return f"{self.name}Args"

    @property
    def exports(self) -> tuple[str, ...]:
        """The names ``vast_pulumi`` exports from the resource's module."""
        return (self.name, self.args_name)

    @property
    def plugin_token(self) -> str:
        """The type token of the resource in the provider plugin ``pulumi-resource-vast``
        (:mod:`vast_pulumi.plugin`): in the state of every plugin stack, so it never changes either."""
        return f"vast:index:{self.name}"

    def resource_class(self) -> type[VastResource]:
        return _load(self.module, self.name)  # type: ignore[no-any-return]

    def provider_class(self) -> type[VastProvider[Any]]:
        module, _, name = self.provider_path.rpartition(".")
        return _load(module, name)  # type: ignore[no-any-return]

    def inputs_model(self) -> type[BaseModel]:
        return self.provider_class().inputs_model


def _load(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _kind(
    name: str,
    *,
    marker: Marker,
    orphans: Orphans,
    since: str,
    orphan_kind: str | None,
    calls: tuple[str, str] | None,
    bills: bool,
    module: str | None = None,
) -> ResourceKind:
    module = module or f"vast_pulumi.{name.lower()}"
    return ResourceKind(
        name=name,
        module=module,
        type_token=f"pulumi-python:dynamic/vast:{name}",
        provider_path=f"{module}.{name}Provider",
        marker=marker,
        orphans=orphans,
        since=since,
        orphan_kind=orphan_kind,
        list_call=calls[0] if calls else None,
        delete_call=calls[1] if calls else None,
        bills=bills,
    )


# In the order the reference lists them.
RESOURCES: tuple[ResourceKind, ...] = (
    _kind(
        "Endpoint",
        marker=Marker.DEFAULT_NAME,
        orphans=Orphans.BY_DEFAULT_NAME,
        since="0.1.0",
        orphan_kind="endpoint",
        calls=("list_endpoints", "delete_endpoint"),
        bills=False,
    ),
    _kind(
        "Workergroup",
        marker=Marker.LAUNCH_ARGS,
        orphans=Orphans.BY_MARKER,
        since="0.1.0",
        orphan_kind="workergroup",
        calls=("list_workergroups", "delete_workergroup"),
        bills=False,
    ),
    _kind(
        "Instance",
        marker=Marker.INSTANCE_ENV,
        orphans=Orphans.BY_MARKER,
        since="0.1.0",
        orphan_kind="instance",
        calls=("list_instances", "destroy_instance"),
        bills=True,
    ),
    _kind(
        "Template",
        marker=Marker.DEFAULT_NAME,
        orphans=Orphans.BY_DEFAULT_NAME,
        since="0.2.0",
        orphan_kind="template",
        calls=("list_own_templates", "delete_template"),
        bills=False,
    ),
    _kind(
        "SshKey",
        marker=Marker.KEY_COMMENT,
        orphans=Orphans.BY_MARKER,
        since="0.2.0",
        orphan_kind="ssh_key",
        calls=("list_ssh_keys", "delete_ssh_key"),
        bills=False,
    ),
    _kind(
        "EnvVar",
        marker=Marker.NONE,
        orphans=Orphans.NEVER,
        since="0.2.0",
        orphan_kind=None,
        calls=None,
        bills=False,
    ),
    _kind(
        "Volume",
        marker=Marker.DEFAULT_NAME,
        orphans=Orphans.BY_DEFAULT_NAME,
        since="0.2.0",
        orphan_kind="volume",
        calls=("list_volumes", "delete_volume"),
        bills=True,
    ),
    _kind(
        "Fleet",
        marker=Marker.MEMBER_ENV,
        orphans=Orphans.AS_INSTANCES,
        since="0.3.0",
        orphan_kind="instance",
        calls=("list_instances", "destroy_instance"),
        bills=True,
    ),
)


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def released_in(version: str) -> tuple[ResourceKind, ...]:
    """The resources release ``version`` had."""
    return tuple(kind for kind in RESOURCES if _release(kind.since) <= _release(version))


def by_token(type_token: str) -> ResourceKind | None:
    """The resource of a type token, as state records it (a dynamic resource's, or the provider plugin's
    ``vast:index:<Name>``); None for a type not of vast-pulumi."""
    return next((kind for kind in RESOURCES if type_token in (kind.type_token, kind.plugin_token)), None)
