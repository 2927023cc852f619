"""Unit tests call the providers' methods directly, as the dynamic-provider server would, against the
emulator. Client pacing is off here unless a test turns it on: the emulator does not rate-limit by
default and the suite must stay fast."""

from __future__ import annotations

import os
from typing import TypeVar

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from vast_pulumi._dynamic import VastProvider

os.environ["VAST_PULUMI_PACING_SCALE"] = "0"

API_KEY = "unit-test-key"
P = TypeVar("P", bound=VastProvider)  # type: ignore[type-arg]


def configured(provider: P, url: str, api_key: str = API_KEY) -> P:
    """``provider`` after the ``configure`` call the server makes, with the stack's vast:* config."""
    provider.configure(ConfigureRequest(Config({"vast:apiKey": api_key, "vast:apiUrl": url}, "proj")))
    return provider


@pytest.fixture(autouse=True)
def _no_ambient_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Keep the developer's real key (env or key file) out of every test."""
    monkeypatch.delenv("VAST_API_KEY", raising=False)
    monkeypatch.delenv("VAST_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
