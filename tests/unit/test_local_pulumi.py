"""``local_pulumi.Stack.run``: stdout apart from stderr, and a timeout told apart from other deaths.

A stand-in ``pulumi`` (a shell script) plays the CLI, so these run without the engine.
"""

from __future__ import annotations

import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from vast_pulumi import local_pulumi
from vast_pulumi.local_pulumi import LocalBackend, PulumiCommandError, SecretSeals, Stack

FakeCli = Callable[[str], Stack]


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCli:
    """A stack whose ``pulumi`` runs the given shell script body."""

    def make(script: str) -> Stack:
        cli = tmp_path / "pulumi"
        cli.write_text("#!/bin/sh\n" + script)
        cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
        monkeypatch.setattr(local_pulumi, "find_pulumi", lambda: str(cli))
        return Stack(LocalBackend(tmp_path / "backend"), tmp_path, "dev")

    return make


def test_json_output_parses_whatever_the_cli_warns_on_stderr(fake_cli: FakeCli) -> None:
    stack = fake_cli("""echo 'warning: a newer version of Pulumi is available' >&2\necho '{"url": "x"}'\n""")
    assert stack.outputs() == {"url": "x"}


def test_preview_steps_parse_with_a_warning_on_stderr(fake_cli: FakeCli) -> None:
    stack = fake_cli("""echo '{"steps": [{"op": "same"}]}'\necho 'warning: deprecated flag' >&2\n""")
    assert stack.preview_steps() == [{"op": "same"}]


def test_a_result_keeps_both_streams_apart_and_together(fake_cli: FakeCli) -> None:
    result = fake_cli("echo out\necho err >&2\n").run("up")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert sorted(result.output.splitlines()) == ["err", "out"]


def test_a_failure_carries_both_streams(fake_cli: FakeCli) -> None:
    with pytest.raises(PulumiCommandError) as caught:
        fake_cli("echo 'Updating (dev)'\necho 'error: update failed' >&2\nexit 255\n").up()
    assert caught.value.returncode == 255
    assert "Updating (dev)" in caught.value.output and "error: update failed" in caught.value.output


def test_a_signal_death_is_not_reported_as_a_timeout(fake_cli: FakeCli) -> None:
    result = fake_cli("kill -TERM $$\n").run("up", check=False, timeout=600)
    assert result.returncode == -signal.SIGTERM
    assert "timeout" not in f"{result.stdout}{result.stderr}"


def test_a_command_past_its_timeout_is_killed_and_says_so(fake_cli: FakeCli) -> None:
    result = fake_cli("exec sleep 600\n").run("up", check=False, timeout=0.2)
    assert result.returncode == -signal.SIGKILL
    assert result.stderr.strip() == "(killed after the 0.2 s timeout)"


def test_seals_in_one_directory_are_shared_and_name_nothing_in_the_clear(tmp_path: Path) -> None:
    first, second = SecretSeals(tmp_path), SecretSeals(tmp_path)
    first.remember("the-passphrase", "v1:salt-a", "the-secret", "v1:ciphertext-a")
    # Another process sealed under its own salt before it saw the shared one: the first salt stays.
    second.remember("the-passphrase", "v1:salt-b", "other-secret", "v1:ciphertext-b")
    third = SecretSeals(tmp_path)
    assert third.salt("the-passphrase") == "v1:salt-a"
    assert third.ciphertext("the-passphrase", "v1:salt-a", "the-secret") == "v1:ciphertext-a"
    assert third.ciphertext("the-passphrase", "v1:salt-b", "other-secret") == "v1:ciphertext-b"
    assert third.ciphertext("the-passphrase", "v1:salt-a", "other-secret") is None
    assert second.salt("the-passphrase") == "v1:salt-b"  # what it sealed under, in memory
    written = " ".join(path.name + path.read_text() for path in tmp_path.iterdir())
    assert "the-passphrase" not in written and "the-secret" not in written and "other-secret" not in written


def test_seals_without_a_directory_stay_in_the_process(tmp_path: Path) -> None:
    SecretSeals().remember("p", "v1:salt", "s", "v1:c")
    assert SecretSeals().salt("p") is None
