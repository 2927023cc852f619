"""Where the API key and URL come from.

Resolution order, first hit wins:

* API key: the ``vast:apiKey`` stack config (``pulumi config set --secret vast:apiKey ...``), then the
  ``VAST_API_KEY`` environment variable (the official CLI's name), then ``VASTAI_API_KEY`` (the
  Terraform providers' name), then the official CLI's key file
  (``$XDG_CONFIG_HOME/vastai/vast_api_key``, ``~/.config/vastai/vast_api_key``, ``~/.vast_api_key``).
* API URL: ``vast:apiUrl``, then ``VAST_URL``, then ``VASTAI_API_URL``, then ``https://console.vast.ai``.

Plain ``http://`` is refused unless the host is loopback: the key travels in a header on every call.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from vast_pulumi.errors import VastConfigError

DEFAULT_API_URL = "https://console.vast.ai"
CONFIG_API_KEY = "vast:apiKey"
CONFIG_API_URL = "vast:apiUrl"

_MISSING_KEY = (
    "no Vast.ai API key: run `pulumi config set --secret vast:apiKey <key>` or set VAST_API_KEY "
    "(or log in with the vastai CLI, which writes ~/.config/vastai/vast_api_key)"
)


@dataclass(frozen=True)
class ProviderSettings:
    """A resolved API key and base URL. The key never appears in ``repr``."""

    api_key: str = field(repr=False)
    api_url: str = DEFAULT_API_URL

    def __post_init__(self) -> None:
        if not self.api_key:
            raise VastConfigError(_MISSING_KEY)
        object.__setattr__(self, "api_url", _checked_url(self.api_url))

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        api_url: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> ProviderSettings:
        """Fill whatever was not given explicitly from the environment, then the CLI's key file."""
        env = os.environ if env is None else env
        key = api_key or env.get("VAST_API_KEY") or env.get("VASTAI_API_KEY") or _key_from_cli_files(env)
        url = api_url or env.get("VAST_URL") or env.get("VASTAI_API_URL") or DEFAULT_API_URL
        if not key:
            raise VastConfigError(_MISSING_KEY)
        return cls(api_key=key, api_url=url)


def _key_from_cli_files(env: Mapping[str, str]) -> str | None:
    home = Path(env.get("HOME") or Path.home())
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    for candidate in (config_home / "vastai" / "vast_api_key", home / ".vast_api_key"):
        try:
            key = candidate.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if key:
            return key
    return None


def _checked_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise VastConfigError(f"vast:apiUrl must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise VastConfigError(
            f"refusing plain http:// to {parts.hostname}: the API key would travel unencrypted; "
            "use https:// (plain http is only allowed to localhost)"
        )
    return url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
