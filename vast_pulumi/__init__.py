"""Pulumi dynamic resource providers for Vast.ai: serverless endpoints, workergroups, GPU instances,
templates, SSH keys, account env vars and volumes, with lookups.

>>> from vast_pulumi import Endpoint, Instance, Workergroup, get_offers

Configuration (read by the provider when it runs, never stored in state): ``vast:apiKey`` (secret) or
``VAST_API_KEY``; ``vast:apiUrl`` or ``VAST_URL``. See :mod:`vast_pulumi.settings`.

Command line: ``vast-pulumi orphans`` (``python -m vast_pulumi orphans``) finds what vast-pulumi made on
the account but no stack records; see :mod:`vast_pulumi.orphans`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.2.0"

if TYPE_CHECKING:
    from vast_pulumi.endpoint_costs import EndpointCosts, get_endpoint_costs
    from vast_pulumi.endpoint import Endpoint, EndpointArgs
    from vast_pulumi.envvar import EnvVar, EnvVarArgs
    from vast_pulumi.errors import (
        AdoptError,
        CreateFailedError,
        CreateOutcomeUnknownError,
        DeleteTimeoutError,
        InstanceNotReadyError,
        OfferUnavailableError,
        TemplateInUseError,
        VanishedError,
        VastAccountError,
        VastApiError,
        VastAuthError,
        VastConfigError,
        VastConflictError,
        VastConnectionError,
        VastError,
        VastInputError,
        VastNotFoundError,
    )
    from vast_pulumi.fleet import Fleet, FleetArgs, FleetBudgetError, FleetError
    from vast_pulumi.instance import Instance, InstanceArgs
    from vast_pulumi.lookups import (
        User,
        get_instance,
        get_instances,
        get_templates,
        get_user,
        get_volume_offers,
    )
    from vast_pulumi.offers import Offer, get_offers
    from vast_pulumi.settings import ProviderSettings
    from vast_pulumi.sshkey import SshKey, SshKeyArgs
    from vast_pulumi.template import Template, TemplateArgs
    from vast_pulumi.volume import Volume, VolumeArgs
    from vast_pulumi.workergroup import Workergroup, WorkergroupArgs

# Imported on first use: the emulator and the CLI driver live in this package too, and must not pay
# for (or depend on) the Pulumi SDK and the resource models.
_EXPORTS = {
    "VastNotFoundError": "vast_pulumi.errors",
    "VastInputError": "vast_pulumi.errors",
    "VastError": "vast_pulumi.errors",
    "VanishedError": "vast_pulumi.errors",
    "TemplateInUseError": "vast_pulumi.errors",
    "OfferUnavailableError": "vast_pulumi.errors",
    "DeleteTimeoutError": "vast_pulumi.errors",
    "CreateOutcomeUnknownError": "vast_pulumi.errors",
    "CreateFailedError": "vast_pulumi.errors",
    "AdoptError": "vast_pulumi.errors",
    "Endpoint": "vast_pulumi.endpoint",
    "EndpointArgs": "vast_pulumi.endpoint",
    "EnvVar": "vast_pulumi.envvar",
    "EnvVarArgs": "vast_pulumi.envvar",
    "Fleet": "vast_pulumi.fleet",
    "FleetArgs": "vast_pulumi.fleet",
    "FleetBudgetError": "vast_pulumi.fleet",
    "FleetError": "vast_pulumi.fleet",
    "Instance": "vast_pulumi.instance",
    "InstanceArgs": "vast_pulumi.instance",
    "InstanceNotReadyError": "vast_pulumi.errors",
    "Offer": "vast_pulumi.offers",
    "ProviderSettings": "vast_pulumi.settings",
    "SshKey": "vast_pulumi.sshkey",
    "SshKeyArgs": "vast_pulumi.sshkey",
    "Template": "vast_pulumi.template",
    "TemplateArgs": "vast_pulumi.template",
    "User": "vast_pulumi.lookups",
    "VastAccountError": "vast_pulumi.errors",
    "VastApiError": "vast_pulumi.errors",
    "VastAuthError": "vast_pulumi.errors",
    "VastConfigError": "vast_pulumi.errors",
    "VastConflictError": "vast_pulumi.errors",
    "VastConnectionError": "vast_pulumi.errors",
    "Volume": "vast_pulumi.volume",
    "VolumeArgs": "vast_pulumi.volume",
    "Workergroup": "vast_pulumi.workergroup",
    "WorkergroupArgs": "vast_pulumi.workergroup",
    "EndpointCosts": "vast_pulumi.endpoint_costs",
    "get_endpoint_costs": "vast_pulumi.endpoint_costs",
    "get_instance": "vast_pulumi.lookups",
    "get_instances": "vast_pulumi.lookups",
    "get_offers": "vast_pulumi.offers",
    "get_templates": "vast_pulumi.lookups",
    "get_user": "vast_pulumi.lookups",
    "get_volume_offers": "vast_pulumi.lookups",
}
__all__ = [
    "AdoptError",
    "CreateFailedError",
    "CreateOutcomeUnknownError",
    "DeleteTimeoutError",
    "Endpoint",
    "EndpointArgs",
    "EndpointCosts",
    "EnvVar",
    "EnvVarArgs",
    "Fleet",
    "FleetArgs",
    "FleetBudgetError",
    "FleetError",
    "Instance",
    "InstanceArgs",
    "InstanceNotReadyError",
    "Offer",
    "OfferUnavailableError",
    "ProviderSettings",
    "SshKey",
    "SshKeyArgs",
    "Template",
    "TemplateArgs",
    "TemplateInUseError",
    "User",
    "VanishedError",
    "VastAccountError",
    "VastApiError",
    "VastAuthError",
    "VastConfigError",
    "VastConflictError",
    "VastConnectionError",
    "VastError",
    "VastInputError",
    "VastNotFoundError",
    "Volume",
    "VolumeArgs",
    "Workergroup",
    "WorkergroupArgs",
    "get_endpoint_costs",
    "get_instance",
    "get_instances",
    "get_offers",
    "get_templates",
    "get_user",
    "get_volume_offers",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vast_pulumi' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
