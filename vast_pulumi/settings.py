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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from vast_pulumi.errors import STALE_CONFIG_NOTE, VastConfigError
from vast_pulumi.query import closest

DEFAULT_API_URL = "https://console.vast.ai"
CONFIG_API_KEY = "vast:apiKey"
CONFIG_API_URL = "vast:apiUrl"

_MISSING_KEY = (
    "no Vast.ai API key: run `pulumi config set --secret vast:apiKey <key>` or set VAST_API_KEY "
    "(or log in with the vastai CLI, which writes ~/.config/vastai/vast_api_key)"
)


# Where a value came from, as errors name it ("the stack config vast:apiUrl"): the user fixes it there.
FROM_CONFIG_URL = f"the stack config {CONFIG_API_URL}"
FROM_CONFIG_KEY = f"the stack config {CONFIG_API_KEY}"
FROM_DEFAULT = "the default"


@dataclass(frozen=True)
class ProviderSettings:
    """A resolved API key and base URL, and where each came from (for errors to say what to fix).
    The key never appears in ``repr``."""

    api_key: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    api_url_source: str = field(default="", compare=False)
    api_key_source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise VastConfigError(_MISSING_KEY)
        object.__setattr__(self, "api_url", _checked_url(self.api_url, self.api_url_source))

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        api_url: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        key_given_as: str = FROM_CONFIG_KEY,
        url_given_as: str = FROM_CONFIG_URL,
    ) -> ProviderSettings:
        """Fill whatever was not given explicitly from the environment, then the CLI's key file.

        ``key_given_as``/``url_given_as`` say where an explicit value came from (default: the stack
        config, as the provider reads it)."""
        env = os.environ if env is None else env
        key, key_source = _first(
            (api_key, key_given_as),
            *(
                (env.get(name), f"the environment variable {name}")
                for name in ("VAST_API_KEY", "VASTAI_API_KEY")
            ),
            _key_from_cli_files(env),
        )
        url, url_source = _first(
            (api_url, url_given_as),
            *((env.get(name), f"the environment variable {name}") for name in ("VAST_URL", "VASTAI_API_URL")),
            (DEFAULT_API_URL, FROM_DEFAULT),
        )
        if not key:
            raise VastConfigError(_MISSING_KEY)
        return cls(
            api_key=key, api_url=url or DEFAULT_API_URL, api_url_source=url_source, api_key_source=key_source
        )

    @classmethod
    def for_program(
        cls, api_key: str | None, api_url: str | None, config: Mapping[str, str | None]
    ) -> ProviderSettings:
        """For a lookup: its arguments, then the program's ``vast:*`` config (``apiKey``, ``apiUrl``),
        then the environment and the CLI's key file."""
        return cls.resolve(
            api_key or config.get("apiKey"),
            api_url or config.get("apiUrl"),
            key_given_as="the api_key argument" if api_key else FROM_CONFIG_KEY,
            url_given_as="the api_url argument" if api_url else FROM_CONFIG_URL,
        )

    def url_fix(self) -> str:
        """How to point the provider at another URL, by where this one came from."""
        if self.api_url_source == FROM_CONFIG_URL:
            return (
                f"set the right one with `pulumi config set {CONFIG_API_URL} <url>`, or "
                f"`pulumi config rm {CONFIG_API_URL}` for {DEFAULT_API_URL}. {STALE_CONFIG_NOTE}"
            )
        if self.api_url_source.startswith("the environment variable "):
            name = self.api_url_source.removeprefix("the environment variable ")
            return f"set {name} to the right one, or unset it for {DEFAULT_API_URL}"
        if self.api_url_source == FROM_DEFAULT:
            return "check the network connection (or set vast:apiUrl for another API)"
        return f"check {self.api_url_source or 'the API URL'}"


CONFIG_KEYS = (CONFIG_API_KEY, CONFIG_API_URL)


def check_config_keys(keys: Iterable[str]) -> None:
    """Refuse a ``vast:*`` stack config key the provider does not read: a typo (``vast:apiurl``) would
    otherwise silently fall back to the environment or the real console."""
    for key in sorted(keys):
        if key.startswith("vast:") and key not in CONFIG_KEYS:
            hint = closest(key, CONFIG_KEYS, f"; the keys are {' and '.join(CONFIG_KEYS)}", n=1)
            raise VastConfigError(f"unknown config key {key}{hint} (remove it with `pulumi config rm {key}`)")


def _first(*candidates: tuple[str | None, str]) -> tuple[str | None, str]:
    """The first candidate with a value, and its source; else (None, "")."""
    return next(((value, source) for value, source in candidates if value), (None, ""))


def _key_from_cli_files(env: Mapping[str, str]) -> tuple[str | None, str]:
    home = Path(env.get("HOME") or Path.home())
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    for candidate in (config_home / "vastai" / "vast_api_key", home / ".vast_api_key"):
        try:
            key = candidate.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if key:
            return key, f"the vastai CLI's key file {candidate}"
    return None, ""


def _checked_url(url: str, source: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise VastConfigError(f"the API URL must be an http(s) URL, got {url!r} (from {source})")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise VastConfigError(
            f"refusing plain http:// to {parts.hostname} (from {source}): the API key would travel "
            "unencrypted; use https:// (plain http is only allowed to localhost)"
        )
    return url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
