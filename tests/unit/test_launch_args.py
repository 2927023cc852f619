"""The workergroup marker's trip through ``launch_args``: added on the way to the API, found again in
what the API lists, taken off on the way back, without disturbing the user's own arguments."""

from __future__ import annotations

import argparse
import shlex

import pytest

from vast_pulumi._launch_args import (
    MARKER_ENV,
    marker_of,
    same,
    validate,
    with_marker,
    without_marker,
)
from vast_pulumi.errors import LaunchArgsError

MARKER = "0123456789abcdef"
USER_ARGS = [
    None,
    "",
    "--image vllm/vllm-openai:latest --disk 64",
    "--image x --env '-e A=1 -p 8000:8000'",
    '--env="-e A=1" --disk 32',
    "--env '-e A=1' --image y --env '-e B=two words'",
]


def parsed_env(launch_args: str) -> str | None:
    """The ``--env`` the server's CLI-style parser would see (argparse keeps the last one)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env")
    known, _ = parser.parse_known_args(shlex.split(launch_args))
    return known.env  # type: ignore[no-any-return]


@pytest.mark.parametrize("user", USER_ARGS)
def test_the_marker_goes_into_the_env_the_server_reads_and_comes_back_off(user: str | None) -> None:
    stored = with_marker(user, MARKER)
    assert stored is not None
    assert marker_of(stored) == MARKER
    env = parsed_env(stored)
    assert env is not None and f"-e {MARKER_ENV}={MARKER}" in env
    if user and "--env" in user:  # the user's own variables still reach the workers
        assert parsed_env(user) in env  # type: ignore[operator]
    back = without_marker(stored)
    assert same(back, user)
    assert marker_of(back) is None


def test_appending_keeps_the_users_spelling_exactly() -> None:
    user = "--image   x  --disk 64"
    assert without_marker(with_marker(user, MARKER)) == user


def test_no_marker_means_no_change() -> None:
    assert with_marker("--image x", "") == "--image x"
    assert without_marker("--image x --env '-e A=1'") == "--image x --env '-e A=1'"
    assert marker_of("--image x --env '-e A=1'") is None
    assert marker_of(None) is None


def test_unreadable_listed_args_have_no_marker() -> None:
    assert marker_of("--env '-e VAST_PULUMI_GROUP_MARKER=x") is None


def test_same_compares_meaning_not_spelling() -> None:
    assert same("--env '-e A=1  -e B=2' --disk 8", '--env="-e A=1 -e B=2"  --disk 8')
    assert not same("--disk 8", "--disk 9")
    assert not same("--env '-e A=1'", "--env '-e A=2'")
    assert same(None, "")


@pytest.mark.parametrize(
    ("launch_args", "rule"),
    [
        ("--image 'x", "must split like a shell command line"),
        ("--disk 8 --env", "--env needs a value"),
        ('--env "-e \'A"', "the --env string must split"),
        (f"--env '-e {MARKER_ENV}=mine'", "reserved for vast-pulumi"),
    ],
)
def test_validate_names_the_rule(launch_args: str, rule: str) -> None:
    with pytest.raises(LaunchArgsError, match=rule):
        validate(launch_args)
