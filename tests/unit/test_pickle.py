"""The provider object goes into every resource's state: it must stay tiny, hold no key, and load in a
fresh interpreter (as the dynamic-provider server loads it) by reference to the installed package."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from typing import Any

import pulumi.dynamic.dynamic
import pytest
from pulumi.runtime._serialization import _serialize

from tests.unit.conftest import configured
from vast_pulumi._dynamic import VastProvider
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.fleet import FleetProvider
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.workergroup import WorkergroupProvider

SECRET_KEY = "pickle-test-SECRET-key-5f0c"

LOAD_IN_A_FRESH_INTERPRETER = textwrap.dedent(
    """
    import base64, sys
    import dill
    from pulumi.runtime._serialization import _deserialize
    provider = _deserialize(lambda: dill.loads(base64.b64decode(sys.stdin.read())))
    print(type(provider).__module__ + "." + type(provider).__qualname__, vars(provider) != {})
    """
)


def serialized(provider: VastProvider[Any]) -> str:
    """What ``Resource.__init__`` stores in ``__provider``."""
    blob, _has_secrets = _serialize(True, pulumi.dynamic.dynamic.serialize_provider, provider)
    return str(blob)


@pytest.mark.parametrize(
    "provider_class", [EndpointProvider, WorkergroupProvider, InstanceProvider, FleetProvider]
)
def test_provider_pickle_is_tiny_keyless_and_loads_in_a_fresh_process(
    provider_class: type[VastProvider[Any]],
) -> None:
    provider = configured(provider_class(), "http://127.0.0.1:9", SECRET_KEY)
    assert provider.client.settings.api_key == SECRET_KEY  # configured and the client built
    blob = serialized(provider)
    raw = base64.b64decode(blob)
    assert len(raw) < 1024
    assert SECRET_KEY.encode() not in raw
    assert b"127.0.0.1" not in raw

    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_IN_A_FRESH_INTERPRETER],
        input=blob,
        capture_output=True,
        text=True,
        check=True,
        cwd="/",  # like the provider server: the package comes from the installation, not the cwd
    )
    assert loaded.stdout.split() == [f"{provider_class.__module__}.{provider_class.__qualname__}", "True"]


def test_equal_providers_serialize_identically() -> None:
    """One blob per class: the server then caches a single provider object, and no diff ever shows
    a changed ``__provider`` between runs."""
    first = configured(EndpointProvider(), "http://127.0.0.1:9", "one")
    second = EndpointProvider()
    assert serialized(first) == serialized(second)


def test_a_provider_that_never_saw_configure_has_no_client() -> None:
    with pytest.raises(Exception, match="vast:apiKey"):
        _ = EndpointProvider().client
