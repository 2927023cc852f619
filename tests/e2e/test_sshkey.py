"""An SshKey through the real CLI against the emulator: bad input refused at preview. Its lifecycle (up,
an in-place update to a new key, an out-of-band delete with the official client then refresh and re-up,
destroy) runs with the other account resources' in tests/e2e/test_account_resources_lifecycle.py; an
instance that carries a stack's key is in tests/e2e/test_volume.py."""

from __future__ import annotations

from tests.e2e.lifecycle import BadInputCheck, bad_input_fails_at_preview, emulator

__all__ = ["bad_input_fails_at_preview", "emulator"]  # the fixtures, imported


def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    bad_input_fails_at_preview: BadInputCheck,
) -> None:
    bad_input_fails_at_preview(
        "SshKey('k', public_key='ssh-ed25519 not-base64!')", "public_key", "not base64"
    )
