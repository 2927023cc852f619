"""An SSH public key on the Vast.ai account (``/api/v0/ssh/``).

>>> key = SshKey("laptop", public_key=pulumi.Config().require("sshPublicKey"))
>>> Instance("dev", ..., ssh_key_ids=[key.key_id])

``public_key`` must be one OpenSSH public key line (``ssh-ed25519 AAAA... comment``); it is checked at
preview, including that the base64 data is a key of the type it names. The ``fingerprint`` output is
the key's SHA256 fingerprint as ``ssh-keygen -lf`` prints it (``SHA256:...``), computed locally.
A new key updates the account key in place (``PUT /api/v0/ssh/{id}/``); the id stays.

The API puts the account's keys on instances created *after* the key (the official client says so when
it adds one); an :class:`~vast_pulumi.Instance` with ``ssh_key_ids`` gets its keys whenever it was
made.

**No duplicates.** The marker rides in the key's comment: the key is stored with a last comment word
``vast-pulumi:<marker>`` (ignored by SSH; the ``public_key`` output shows the line as given). A create
adopts a key with the marker left by a killed ``pulumi up``, and a create whose reply was lost looks
for it instead of posting again (:mod:`vast_pulumi._reconcile`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import ClassVar, TypedDict, Unpack

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vast_pulumi._dynamic import ACCOUNT_KEY, MARKER_KEY, Props, VastProvider, VastResource, numeric_id
from vast_pulumi._fields import UPDATES, table
from vast_pulumi._reconcile import CreateSteps, reconciling_create
from vast_pulumi._teardown import await_unlisted
from vast_pulumi.client import Row
from vast_pulumi.errors import VastInputError

__all__ = ["SshKey", "SshKeyArgs", "SshKeyInputs", "SshKeyProvider", "fingerprint"]

# The public key types OpenSSH writes (ssh-keygen -t ...).
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
MARKER_PREFIX = "vast-pulumi:"
DELETE_WAIT = 60.0
_POLL = 0.5


def key_blob(line: str) -> bytes:
    """The binary key of an OpenSSH public key line, checked to name the type the line says."""
    parts = line.split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise VastInputError(
            f"must be an OpenSSH public key line starting with one of {', '.join(sorted(KEY_TYPES))}"
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise VastInputError("the key data (second word) is not base64") from None
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if length < 0 or blob[4 : 4 + length] != parts[0].encode():
        raise VastInputError(f"the key data is not a {parts[0]} public key")
    return blob


def fingerprint(line: str) -> str:
    """``SHA256:<base64, unpadded>`` of the key, as ``ssh-keygen -lf`` shows it."""
    digest = hashlib.sha256(key_blob(line)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SshKeyInputs(BaseModel):
    """The key's inputs as the provider validates them."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    public_key: str = Field(
        max_length=16384,
        description="One OpenSSH public key line (the .pub file), e.g. 'ssh-ed25519 AAAA... me'.",
    )

    @field_validator("public_key")
    @classmethod
    def _openssh_line(cls, value: str) -> str:
        line = value.strip()
        if "PRIVATE KEY" in line:
            raise ValueError("that is a private key: give the public one (the .pub file)")
        if "\n" in line or "\r" in line:
            raise ValueError("must be a single line")
        key_blob(line)
        if any(word.startswith(MARKER_PREFIX) for word in line.split()[2:]):
            raise ValueError(f"the comment word {MARKER_PREFIX}... is reserved for vast-pulumi")
        return " ".join(line.split())


class SshKeyArgs(TypedDict, total=False):
    """Inputs of :class:`SshKey`."""

    public_key: pulumi.Input[str]


class SshKeyProvider(VastProvider[SshKeyInputs]):
    inputs_model = SshKeyInputs
    fields = table(SshKeyInputs, {"public_key": UPDATES.read_back()})
    noun = "SSH key"

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        marker = str(props.get(MARKER_KEY) or "")
        stored = _with_marker(inputs.public_key, marker)

        def find() -> list[Row]:
            return [row for row in self.client.list_ssh_keys() if marker and _marker_of(_text(row)) == marker]

        def converge(key_id: int, row: Row | None, _just_made: bool) -> Row:
            if row is not None and _text(row) != stored:
                self.client.update_ssh_key(key_id, stored)
            return {"id": key_id}

        row = reconciling_create(
            CreateSteps(
                noun="SSH key",
                find=find,
                create=lambda: int(self.client.create_ssh_key(stored)["id"]),
                delete=self.client.delete_ssh_key,
                converge=converge,
                findable=bool(marker),
            )
        )
        outputs = _outputs(self.given(inputs, props), inputs.public_key, int(row["id"]))
        return CreateResult(str(row["id"]), {**outputs, ACCOUNT_KEY: account})

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        row = self._find(numeric_id(id_))
        if row is None:
            return self.gone()
        public_key = _without_marker(_text(row))
        return self.read_result(
            id_, {**_outputs(props, public_key, int(row["id"])), ACCOUNT_KEY: account}, props
        )

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        self.client.update_ssh_key(
            numeric_id(id_), _with_marker(inputs.public_key, str(news.get(MARKER_KEY) or ""))
        )
        return UpdateResult(
            {**_outputs(self.given(inputs, news), inputs.public_key, numeric_id(id_)), ACCOUNT_KEY: account}
        )

    def delete(self, id_: str, props: Props) -> None:
        self.owner(id_, props)
        key_id = numeric_id(id_)
        self.client.delete_ssh_key(key_id)  # already gone is fine
        await_unlisted(f"SSH key {key_id}", self._ids, key_id, timeout=DELETE_WAIT, poll=_POLL)

    def _find(self, key_id: int) -> Row | None:
        return next((row for row in self.client.list_ssh_keys() if row.get("id") == key_id), None)

    def _ids(self) -> set[int]:
        return {int(row["id"]) for row in self.client.list_ssh_keys() if row.get("id") is not None}


def _text(row: Row) -> str:
    """The key line of a row: the list names it ``key``, the create's reply ``public_key``."""
    return str(row.get("key") or row.get("public_key") or "")


def _with_marker(public_key: str, marker: str) -> str:
    return f"{public_key} {MARKER_PREFIX}{marker}" if marker else public_key


def _marker_of(line: str) -> str | None:
    words = line.split()
    last = words[-1] if len(words) > 2 else ""
    return last.removeprefix(MARKER_PREFIX) if last.startswith(MARKER_PREFIX) else None


def _without_marker(line: str) -> str:
    words = line.split()
    if _marker_of(line) is not None:
        words = words[:-1]
    return " ".join(words)


def _outputs(given: Props, public_key: str, key_id: int) -> Props:
    try:
        print_ = fingerprint(public_key)
    except ValueError:
        print_ = None  # a key changed elsewhere to something unreadable: the drift shows in public_key
    return {
        "public_key": public_key,
        MARKER_KEY: given.get(MARKER_KEY),
        "fingerprint": print_,
        "key_id": key_id,
    }


class SshKey(VastResource, module="vast", name="SshKey"):
    """An account SSH key. Outputs: ``public_key``, ``fingerprint`` (SHA256) and ``key_id`` (int)."""

    public_key: pulumi.Output[str]
    fingerprint: pulumi.Output[str]
    key_id: pulumi.Output[int]

    provider_class = SshKeyProvider
    output_descriptions: ClassVar[Mapping[str, str]] = {
        "fingerprint": "The key's SHA256 fingerprint, as ssh-keygen -lf prints it.",
        "key_id": "The key's id (what Instance.ssh_key_ids takes).",
    }
    output_keys = (*SshKeyInputs.model_fields, *output_descriptions)

    def __init__(
        self,
        resource_name: str,
        args: SshKeyArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[SshKeyArgs],
    ) -> None:
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)
