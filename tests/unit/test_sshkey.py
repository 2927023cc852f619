"""SshKey provider against the emulator: the marker in the comment, the fingerprint as ssh-keygen
prints it, in-place key change, out-of-band delete, the account guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import assert_check_fails, configured
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import VastAccountError
from vast_pulumi.sshkey import SshKeyProvider, fingerprint

# Made with `ssh-keygen -t ed25519 -C me@laptop` and `-t rsa -b 2048 -C ci`; the fingerprints are what
# `ssh-keygen -lf` printed for them.
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJK9F1pSEMt/BAon67seVRFk7PHt5CVhLLud826EorlK me@laptop"
ED25519_FINGERPRINT = "SHA256:FLJR9rMpcu66M4udCdvbaODmaiMOuGxnGIwdLVE+x9U"
RSA = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDmOkQuTtreRuU3IJJqUB7wSl3UKgOno31SBfewDnQZbKj/4kIS4F"
    "ULfgeqnW0K6Wf1dcmj6tQ13i8UWKNfhEindATOsgTZm97KNsWDOcMycf28O8O32LoZ6HtPoV8GtFMcRNxiw5FYhGf/"
    "EbG9/clfp1uaNHpaO3H+CLvI11fegzH7UaUF1xRDuh1zm9+e6phIXWCJKmb3IL6x5gKDbeaEZsQkuYUBBJ7SsOvBZ/"
    "2xpSPVIls2bs8NSnV44weUCHRUvon6JX1vwOqbj/SxaIkeFcHpROqg3AMrhL/NBYCdbqXbE9HwRJE+Q53IOVzXFSNN"
    "Idh5Dt6S9ssvYEXT/omV ci"
)
RSA_FINGERPRINT = "SHA256:VYQSPGuABVyFYMqXa6quiIRNh7qY74mARGCulR9oynw"
MARKER = "0123456789abcdef"


def checked(provider: SshKeyProvider, public_key: str = ED25519) -> dict[str, Any]:
    result = provider.check({}, {"__provider": "blob", "public_key": public_key, "_marker": MARKER})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


@pytest.fixture
def provider(connect: Callable[[SshKeyProvider], SshKeyProvider]) -> SshKeyProvider:
    return connect(SshKeyProvider())


def keys(emulator: Emulator) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = emulator.inventory()[0]["ssh_keys"]
    return rows


def test_fingerprints_match_ssh_keygen() -> None:
    assert fingerprint(ED25519) == ED25519_FINGERPRINT
    assert fingerprint(RSA) == RSA_FINGERPRINT


def test_create_stores_the_key_with_its_marker_and_outputs_id_and_fingerprint(
    provider: SshKeyProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    (row,) = keys(emulator)
    assert created.id == str(row["id"])
    assert row["key"] == f"{ED25519} vast-pulumi:{MARKER}"
    assert created.outs is not None
    assert created.outs["public_key"] == ED25519  # as given: the marker is ours, not the user's
    assert (created.outs["fingerprint"], created.outs["key_id"]) == (ED25519_FINGERPRINT, row["id"])


def test_read_without_drift_changes_nothing(provider: SshKeyProvider) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    read = provider.read(created.id, created.outs)
    assert (read.id, read.outs, read.inputs) == (created.id, created.outs, None)


def test_a_new_key_updates_in_place(provider: SshKeyProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    news = checked(provider, RSA)
    diff = provider.diff(created.id, created.outs, news)
    assert (diff.changes, diff.replaces) == (True, [])
    updated = provider.update(created.id, created.outs, news)
    (row,) = keys(emulator)
    assert str(row["id"]) == created.id
    assert row["key"] == f"{RSA} vast-pulumi:{MARKER}"
    assert updated.outs is not None and updated.outs["fingerprint"] == RSA_FINGERPRINT


def test_a_create_adopts_the_key_a_killed_run_left(provider: SshKeyProvider, emulator: Emulator) -> None:
    first = provider.create(checked(provider))
    again = provider.create(checked(provider))
    assert again.id == first.id
    assert len(keys(emulator)) == 1


def test_a_key_deleted_elsewhere_reads_gone_and_delete_waits_until_unlisted(
    provider: SshKeyProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    provider.delete(created.id, created.outs)
    assert keys(emulator) == []
    assert provider.read(created.id, created.outs).id is None
    provider.delete(created.id, created.outs)  # already gone is fine


def test_another_accounts_key_changes_nothing(vast_emulator_factory: Callable[..., Emulator]) -> None:
    emulator = vast_emulator_factory(seed=1, api_keys=["key-a", "key-b"])
    owner = configured(SshKeyProvider(), emulator.url, "key-a")
    created = owner.create(checked(owner))
    assert created.outs is not None
    stranger = configured(SshKeyProvider(), emulator.url, "key-b")
    with pytest.raises(VastAccountError):
        stranger.read(created.id, created.outs)
    with pytest.raises(VastAccountError):
        stranger.delete(created.id, created.outs)
    assert len(emulator.inventory()[0]["ssh_keys"]) == 1


# -- check: bad input fails at preview, naming the field and the rule (no API call) -----------------

# (inputs, the property the failure names, words of the rule)
CHECK_FAILURES: list[tuple[dict[str, Any], str, str]] = [
    ({}, "public_key", "is required"),
    ({"public_key": "hello"}, "public_key", "OpenSSH public key line"),
    ({"public_key": "ssh-ed25519 not-base64!"}, "public_key", "not base64"),
    ({"public_key": "ssh-rsa " + ED25519.split()[1]}, "public_key", "not a ssh-rsa public key"),
    ({"public_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "public_key", "private key"),
    ({"public_key": ED25519 + "\n" + ED25519}, "public_key", "single line"),
    ({"public_key": ED25519 + " vast-pulumi:x"}, "public_key", "reserved"),
]


@pytest.mark.parametrize(("news", "field", "rule"), CHECK_FAILURES)
def test_bad_input_fails_at_check_naming_the_field_and_the_rule(
    news: dict[str, Any], field: str, rule: str
) -> None:
    assert_check_fails(SshKeyProvider, news, field, rule)
