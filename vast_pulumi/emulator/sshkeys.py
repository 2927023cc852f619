"""SSH keys: the account's public keys (``/ssh/``) and the keys on each instance (``/instances/{id}/ssh/``).

Shapes follow Vast's OpenAPI spec: a create or update answers ``{"success": true, "key": {id, user_id,
public_key, created_at, deleted_at}}``, the list is a bare array whose rows name the key ``key``, and an
instance's keys come back as a JSON *string* (``ssh_keys``). A missing or unknown key is 400 ``no_ssh_key``
(the spec's ``not_found`` example).

Where the spec and the ``vastai`` client disagree, the client wins: the spec says a new account key is
"automatically added to all your current instances", the client's ``create ssh-key`` says "You may need
to add the new public key to any pre-existing instances" (vastai/cli/commands/keys.py:135). So a new key
reaches only instances created after it: every new instance gets the account's keys.

Where the sources are silent the emulator is strict: only an OpenSSH public key line is accepted
(400 ``invalid_args`` otherwise); the same key can be added twice (two ids); attaching a key an
instance already has is refused; deleting an account key leaves it on the instances it was added to.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.instances import find as find_instance
from vast_pulumi.emulator.models import Account, Instance, JsonDict, SshKey, State

KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
NO_SSH_KEY = ApiError(400, "no_ssh_key", "No ssh key provided")
# ``GET /ssh/`` on an account without keys, reading ``ssh_list_empty=404``: the spec documents the 404
# and its description (openapi.yaml:2038-2039), no body; the code is the API's usual not_found.
NO_KEYS_FOUND = ApiError(404, "not_found", "No SSH keys found for the user.")


def public_key_line(value: Any, field: str = "ssh_key") -> str:
    """The key as stored: one ``type base64 [comment]`` line whose blob names the same type."""
    if not isinstance(value, str) or not value.strip():
        raise NO_SSH_KEY
    line = value.strip()
    if "PRIVATE KEY" in line:
        raise invalid_args(field, "that is a private key; send the public one (the .pub file)")
    if "\n" in line or "\r" in line:
        raise invalid_args(field, "must be a single OpenSSH public key line")
    parts = line.split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise invalid_args(field, f"must start with a key type ({', '.join(sorted(KEY_TYPES))})")
    if not _BASE64.match(parts[1]) or _blob_type(parts[1]) != parts[0]:
        raise invalid_args(field, f"the key data is not a base64 {parts[0]} public key")
    return line


def _blob_type(data: str) -> str | None:
    """The key type a public key blob starts with (a length-prefixed string), None when unreadable."""
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 4:
        return None
    length = int.from_bytes(blob[:4], "big")
    if length > len(blob) - 4:
        return None
    return blob[4 : 4 + length].decode("ascii", "replace")


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row(key: SshKey) -> JsonDict:
    """A key as the create and update answers show it."""
    return {
        "id": key.id,
        "user_id": key.user_id,
        "public_key": key.public_key,
        "created_at": _timestamp(key.created_at),
        "deleted_at": None,
    }


def list_row(key: SshKey) -> JsonDict:
    """A key as ``GET /ssh/`` lists it: the spec names the key text ``key`` there."""
    return {
        "id": key.id,
        "user_id": key.user_id,
        "key": key.public_key,
        "created_at": _timestamp(key.created_at),
        "deleted_at": None,
    }


def listed(account: Account) -> list[JsonDict]:
    return [list_row(k) for k in sorted(account.ssh_keys.values(), key=lambda k: k.id)]


def create(state: State, account: Account, body: dict[str, Any], now: float) -> JsonDict:
    key = SshKey(state.next_id("ssh_key"), account.user_id, public_key_line(body.get("ssh_key")), now)
    account.ssh_keys[key.id] = key
    return row(key)


def find(account: Account, key_id: int) -> SshKey:
    key = account.ssh_keys.get(key_id)
    if key is None:
        raise NO_SSH_KEY
    return key


def update(account: Account, key_id: int, body: dict[str, Any]) -> JsonDict:
    key = find(account, key_id)
    key.public_key = public_key_line(body.get("ssh_key"))
    return row(key)


def delete(account: Account, key_id: int) -> None:
    find(account, key_id)
    del account.ssh_keys[key_id]


# Keys on instances.


def add_account_keys(account: Account, instance: Instance) -> None:
    """A new instance gets every key of the account (how a fresh box is reachable at all)."""
    instance.ssh_keys = [{"id": k.id, "public_key": k.public_key} for k in account.ssh_keys.values()]


def _instance(account: Account, instance_id: int) -> Instance:
    try:
        return find_instance(account, instance_id)
    except ApiError:
        raise ApiError(404, "no_such_instance", "Instance not found.") from None


def attach(state: State, account: Account, instance_id: int, body: dict[str, Any]) -> None:
    """Put a public key on the instance; an account key keeps its id, another key gets a new one."""
    instance = _instance(account, instance_id)
    public_key = public_key_line(body.get("ssh_key"))
    if any(_same_key(k["public_key"], public_key) for k in instance.ssh_keys):
        raise ApiError(400, "invalid_request", "That SSH key is already attached to this instance.")
    known = [k.id for k in account.ssh_keys.values() if _same_key(k.public_key, public_key)]
    key_id = known[0] if known else state.next_id("ssh_key")
    instance.ssh_keys.append({"id": key_id, "public_key": public_key})


def _same_key(one: str, other: str) -> bool:
    """Same type and key data: the comment does not make a different key."""
    return one.split()[:2] == other.split()[:2]


def detach(account: Account, instance_id: int, key_id: str) -> None:
    if not key_id.isdigit():
        raise ApiError(400, "invalid_request", "Invalid request parameters")
    instance = _instance(account, instance_id)
    kept = [k for k in instance.ssh_keys if k["id"] != int(key_id)]
    if len(kept) == len(instance.ssh_keys):
        raise ApiError(404, "no_such_ssh_key", f"SSH key {key_id} is not attached to instance {instance_id}.")
    instance.ssh_keys = kept


def on_instance(account: Account, instance_id: int) -> str:
    """``GET /instances/{id}/ssh/``'s ``ssh_keys``: a JSON string, as the spec documents it."""
    instance = _instance(account, instance_id)
    keys = [{"id": k["id"], "name": None, "public_key": k["public_key"]} for k in instance.ssh_keys]
    return json.dumps(keys)
