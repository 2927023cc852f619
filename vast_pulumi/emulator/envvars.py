"""Account env vars (``/secrets/``): named secrets the account's instances can use.

Bodies ``{"key", "value"}``; names are upper-cased (OpenAPI ``createEnvVar``). Errors are 400 with the
spec's codes: ``missing_input``, ``empty_input``, ``invalid_characters``, ``existing_key``,
``nonexistent_key``, ``max_secrets``. No error message ever repeats a value.

``GET /secrets/`` answers the values in clear. The spec's example shows ``*****``, but the official
client masks them itself and prints them with ``show env-vars --show-values`` (vastai/cli/commands/
auth.py:282-300), which only works if the API sends them: the client wins.

Where the spec gives a pattern the emulator enforces it on every route (names ``^[a-zA-Z_]\\w*$`` from
``updateEnvVar``, values ``^[a-zA-Z0-9_\\-\\.]+$`` from ``createEnvVar``): stricter is worse for a client.
The spec names a per-account limit without its size; :data:`MAX_ENV_VARS` is the emulator's choice.
"""

from __future__ import annotations

import re
from typing import Any

from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.models import Account

NAME_PATTERN = re.compile(r"^[a-zA-Z_]\w*$")
VALUE_PATTERN = re.compile(r"^[a-zA-Z0-9_\-\.]+$")
MAX_ENV_VARS = 64
NAME_MAX = 128
VALUE_MAX = 4096


def _error(code: str, msg: str) -> ApiError:
    return ApiError(400, code, msg)


def _name(body: dict[str, Any]) -> str:
    name = body.get("key")
    if name is None:
        raise _error("missing_input", "'key' is required.")
    if not isinstance(name, str) or not name:
        raise _error("empty_input", "'key' must be a non-empty string.")
    if len(name) > NAME_MAX:
        raise _error("input_too_long", f"'key' is longer than {NAME_MAX} characters.")
    if not NAME_PATTERN.match(name):
        raise _error("invalid_characters", "'key' must be letters, digits and _, not starting with a digit.")
    return name.upper()


def _value(body: dict[str, Any]) -> str:
    value = body.get("value")
    if value is None:
        raise _error("missing_input", "Both 'key' and 'value' are required.")
    if not isinstance(value, str) or not value:
        raise _error("empty_input", "'value' must be a non-empty string.")
    if len(value) > VALUE_MAX:
        raise _error("input_too_long", f"'value' is longer than {VALUE_MAX} characters.")
    if not VALUE_PATTERN.match(value):
        raise _error("invalid_characters", "'value' may only contain letters, digits, '_', '-' and '.'.")
    return value


def listed(account: Account) -> dict[str, str]:
    return dict(sorted(account.env_vars.items()))


def create(account: Account, body: dict[str, Any]) -> None:
    name, value = _name(body), _value(body)
    if name in account.env_vars:
        raise _error("existing_key", f"An environment variable named {name} already exists.")
    if len(account.env_vars) >= MAX_ENV_VARS:
        raise _error("max_secrets", f"An account may hold at most {MAX_ENV_VARS} environment variables.")
    account.env_vars[name] = value


def update(account: Account, body: dict[str, Any]) -> None:
    name, value = _name(body), _value(body)
    _existing(account, name)
    account.env_vars[name] = value


def delete(account: Account, body: dict[str, Any]) -> None:
    name = _name(body)
    _existing(account, name)
    del account.env_vars[name]


def _existing(account: Account, name: str) -> None:
    if name not in account.env_vars:
        raise _error("nonexistent_key", f"No environment variable named {name}.")
