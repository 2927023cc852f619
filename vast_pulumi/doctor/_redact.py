"""Recorded answers with nothing of the user's in them: no key, token, secret, IP address, e-mail,
env value or id of the user, and the JSON types kept (so a replay checks the same shapes).

Three passes over each body:

1. by field name: a secret-bearing field (``api_key``, ``jupyter_token``, ``email``, ...) becomes
   ``"REDACTED"`` (or ``0`` for a number); the user's ids (``user_id``, ``creator_id``, the
   ``users/current`` row's ``id``) become ``1``; env values (``extra_env``, ``secrets``, ``-e K=V`` in
   ``launch_args``/``env``) become ``"REDACTED"``, keeping the names and vast-pulumi's markers (which
   are not secret, and which the readings of worker ties need);
2. every string value met in pass 1, and the API key, replaced wherever else it appears in any
   string (names and labels are kept: vast-pulumi's markers ride in them);
3. IPv4/IPv6 addresses and e-mail addresses replaced in every string.

Bodies that are not JSON (a plain-text 429) go through passes 2 and 3.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from vast_pulumi.doctor._exchanges import Exchange

__all__ = ["REDACTED", "redact"]

REDACTED = "REDACTED"
USER_ID = 1
_SECRET_FIELDS = frozenset(
    {
        "api_key",
        "apikey",
        "instance_api_key",
        "jupyter_token",
        "token",
        "secret",
        "password",
        "docker_login_pass",
        "docker_login_user",
        "key",
        "ssh_key",
        "public_key",
        "email",
        "username",
        "fullname",
        "sid",
        "key_id",
        "onstart",
        "args_str",
        "image_args",
        "ssh_host",
        "public_ipaddr",
        "local_ipaddrs",
    }
)
_USER_ID_FIELDS = frozenset({"user_id", "creator_id", "owner_id", "client_id", "account_id", "host_user_id"})
_ENV_VALUE = re.compile(r"(-e\s+['\"]?)([A-Za-z_][A-Za-z0-9_]*)=(\S+?)(['\"]?(?=\s|$))")
_IP = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_KEEP_ENV = "VAST_PULUMI_"  # markers: not secret, and the worker-ties reading needs them


def redact(exchanges: Iterable[Exchange], api_key: str) -> list[Exchange]:
    """The exchanges with everything of the user's replaced (see the module's docstring)."""
    exchanges = list(exchanges)
    found: set[str] = {api_key} if api_key else set()
    account = _account_id(exchanges)
    bodies: list[Any] = []
    for exchange in exchanges:
        payload = exchange.payload()
        if payload is None:
            bodies.append(None)
            continue
        if exchange.route == "/api/v0/users/current/" and isinstance(payload, dict) and "id" in payload:
            payload["id"] = USER_ID
        bodies.append(_walk(payload, None, found, account))
    secrets = sorted((s for s in found if len(s) >= 4), key=len, reverse=True)
    redacted = []
    for exchange, body in zip(exchanges, bodies, strict=True):
        text = _text(exchange.body, secrets) if body is None else json.dumps(_strings(body, secrets))
        redacted.append(
            Exchange(exchange.method, exchange.path, exchange.route, exchange.status, exchange.headers, text)
        )
    return redacted


def _strings(value: Any, secrets: list[str]) -> Any:
    """Passes 2 and 3 on every string of a decoded body (keys included), its structure kept."""
    if isinstance(value, dict):
        return {_text(str(k), secrets): _strings(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(item, secrets) for item in value]
    return _text(value, secrets) if isinstance(value, str) else value


def _account_id(exchanges: Iterable[Exchange]) -> int | None:
    for exchange in exchanges:
        payload = exchange.payload()
        if exchange.route == "/api/v0/users/current/" and isinstance(payload, dict):
            account = payload.get("id")
            return account if isinstance(account, int) else None
    return None


def _walk(value: Any, name: str | None, found: set[str], account: int | None) -> Any:
    if isinstance(value, dict):
        if name in ("secrets", "extra_env"):
            return {k: _env_value(str(k), v, found) for k, v in value.items()}
        return {k: _walk(v, str(k), found, account) for k, v in value.items()}
    if isinstance(value, list):
        if name == "extra_env":
            return [_env_pair(pair, found) for pair in value]
        return [_walk(item, name, found, account) for item in value]
    if name in _USER_ID_FIELDS or (account is not None and value == account and not isinstance(value, bool)):
        return USER_ID if isinstance(value, int) and not isinstance(value, bool) else _secret(value, found)
    if name in _SECRET_FIELDS:
        return _secret(value, found)
    if isinstance(value, str) and name in ("launch_args", "env"):
        return _ENV_VALUE.sub(lambda m: _env_flag(m, found), value)
    return value


def _secret(value: Any, found: set[str]) -> Any:
    if isinstance(value, str):
        if value:
            found.add(value)
            return REDACTED
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return 0
    if isinstance(value, list):
        return [_secret(item, found) for item in value]
    return REDACTED


def _env_value(name: str, value: Any, found: set[str]) -> Any:
    return value if name.startswith(_KEEP_ENV) else _secret(value, found)


def _env_pair(pair: Any, found: set[str]) -> Any:
    if isinstance(pair, list) and len(pair) == 2:
        return [pair[0], _env_value(str(pair[0]), pair[1], found)]
    return _secret(pair, found)


def _env_flag(match: re.Match[str], found: set[str]) -> str:
    name, value = match[2], match[3]
    if name.startswith(_KEEP_ENV):
        return match[0]
    found.add(value.strip("'\""))
    return f"{match[1]}{name}={REDACTED}{match[4]}"


def _text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _IP.sub("0.0.0.0", text)
    return _EMAIL.sub("redacted@example.invalid", text)
