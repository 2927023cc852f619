"""An EnvVar through the real CLI against the emulator: bad input refused at preview. Its lifecycle (up,
an in-place update, a replacement by a new name, an out-of-band delete then refresh and re-up, destroy)
runs with the other account resources' in tests/e2e/test_account_resources_lifecycle.py."""

from __future__ import annotations

from tests.e2e.lifecycle import BadInputCheck, bad_input_fails_at_preview, emulator

__all__ = ["bad_input_fails_at_preview", "emulator"]  # the fixtures, imported


def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    bad_input_fails_at_preview: BadInputCheck,
) -> None:
    bad_input_fails_at_preview(
        "EnvVar('e', name='HF_TOKEN', value='has spaces SEEDED')", "value", "only letters"
    )
