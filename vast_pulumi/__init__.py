"""Pulumi dynamic resource providers for Vast.ai: serverless endpoints, workergroups, GPU instances,
fleets of instances, templates, SSH keys, account env vars and volumes, with lookups.

>>> from vast_pulumi import Endpoint, Fleet, Instance, Workergroup, get_offers

Every resource is declared once, in :mod:`vast_pulumi._registry`; the exports below come from there.

Configuration (read by the provider when it runs, never stored in state): ``vast:apiKey`` (secret) or
``VAST_API_KEY``; ``vast:apiUrl`` or ``VAST_URL``. See :mod:`vast_pulumi.settings`.

Command line: ``vast-pulumi orphans`` (``python -m vast_pulumi orphans``) finds what vast-pulumi made on
the account but no stack records; see :mod:`vast_pulumi.orphans`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vast_pulumi._registry import RESOURCES
from vast_pulumi._startup import freeze_at_exit_if_pulumi_process
from vast_pulumi._version import __version__ as __version__

if TYPE_CHECKING:
    from vast_pulumi.endpoint import Endpoint, EndpointArgs
    from vast_pulumi.envvar import EnvVar, EnvVarArgs
    from vast_pulumi.errors import (
        AdoptError,
        CreateFailedError,
        CreateOutcomeUnknownError,
        DeleteTimeoutError,
        FleetBudgetError,
        FleetError,
        InstanceNotReadyError,
        KeptError,
        LaunchArgsError,
        MachineNeverStartedError,
        NotGoneError,
        OfferUnavailableError,
        OutcomeUnknown,
        PulumiCommandError,
        PulumiNotFoundError,
        QueryError,
        StateError,
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
    from vast_pulumi.fleet import Fleet, FleetArgs
    from vast_pulumi.instance import Instance, InstanceArgs
    from vast_pulumi.lookups import (
        EndpointCosts,
        User,
        get_endpoint_costs,
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
    # Every resource and its Args, from the one registry (tests/unit/test_registry.py checks that the
    # TYPE_CHECKING imports above and __all__ below, which type checkers need written out, agree).
    **{name: kind.module for kind in RESOURCES for name in kind.exports},
    "Offer": "vast_pulumi.offers",
    "ProviderSettings": "vast_pulumi.settings",
    "User": "vast_pulumi.lookups",
    "EndpointCosts": "vast_pulumi.lookups",
    "get_endpoint_costs": "vast_pulumi.lookups",
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
    "KeptError",
    "LaunchArgsError",
    "MachineNeverStartedError",
    "NotGoneError",
    "Offer",
    "OfferUnavailableError",
    "OutcomeUnknown",
    "ProviderSettings",
    "PulumiCommandError",
    "PulumiNotFoundError",
    "QueryError",
    "SshKey",
    "SshKeyArgs",
    "StateError",
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
# The rest of __all__ is the errors (vast_pulumi.errors): written out once, in __all__, as type
# checkers need it.
_EXPORTS.update((name, "vast_pulumi.errors") for name in __all__ if name not in _EXPORTS)

# A Pulumi program or provider process ends without tearing its objects down one by one (see the module).
freeze_at_exit_if_pulumi_process()


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vast_pulumi' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
