"""Pulumi dynamic resource providers for Vast.ai: serverless endpoints, workergroups and GPU instances.

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
    from vast_pulumi.endpoint import Endpoint, EndpointArgs
    from vast_pulumi.errors import (
        VastAccountError,
        VastApiError,
        VastAuthError,
        VastConfigError,
        VastConflictError,
        VastConnectionError,
    )
    from vast_pulumi.instance import Instance, InstanceArgs, InstanceNotReadyError
    from vast_pulumi.offers import Offer, get_offers
    from vast_pulumi.settings import ProviderSettings
    from vast_pulumi.workergroup import Workergroup, WorkergroupArgs

# Imported on first use: the emulator and the CLI driver live in this package too, and must not pay
# for (or depend on) the Pulumi SDK and the resource models.
_EXPORTS = {
    "Endpoint": "vast_pulumi.endpoint",
    "EndpointArgs": "vast_pulumi.endpoint",
    "Instance": "vast_pulumi.instance",
    "InstanceArgs": "vast_pulumi.instance",
    "InstanceNotReadyError": "vast_pulumi.instance",
    "Offer": "vast_pulumi.offers",
    "ProviderSettings": "vast_pulumi.settings",
    "VastAccountError": "vast_pulumi.errors",
    "VastApiError": "vast_pulumi.errors",
    "VastAuthError": "vast_pulumi.errors",
    "VastConfigError": "vast_pulumi.errors",
    "VastConflictError": "vast_pulumi.errors",
    "VastConnectionError": "vast_pulumi.errors",
    "Workergroup": "vast_pulumi.workergroup",
    "WorkergroupArgs": "vast_pulumi.workergroup",
    "get_offers": "vast_pulumi.offers",
}
__all__ = [
    "Endpoint",
    "EndpointArgs",
    "Instance",
    "InstanceArgs",
    "InstanceNotReadyError",
    "Offer",
    "ProviderSettings",
    "VastAccountError",
    "VastApiError",
    "VastAuthError",
    "VastConfigError",
    "VastConflictError",
    "VastConnectionError",
    "Workergroup",
    "WorkergroupArgs",
    "get_offers",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vast_pulumi' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
