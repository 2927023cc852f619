"""A workergroup's ``launch_args``, carrying its Pulumi resource's marker.

A workergroup row has no name, label or tag: its ``launch_args`` (the CLI-style create-instance
arguments of its workers, e.g. ``--image X --disk 64 --env '-e K=V'``) is the only free text the API
keeps and lists back. So the marker travels there, as one more variable in the workers' ``--env``
string, ``-e VAST_PULUMI_GROUP_MARKER=<marker>``. Workers do not mind an extra variable (the API merges
request env over a template's, key by key), and a create can then recognise a group that an earlier,
interrupted attempt made.

The server reads ``launch_args`` like the CLI's argparse, where a second ``--env`` replaces the first:
so the marker is merged into the user's own ``--env`` when there is one, never added beside it.
State and diffs only ever see the user's ``launch_args``; the marker is added on the way to the API
and taken off on the way back.
"""

from __future__ import annotations

import itertools
import shlex

from vast_pulumi.errors import LaunchArgsError

MARKER_ENV = "VAST_PULUMI_GROUP_MARKER"
_ENV_FLAG = "--env"


def validate(launch_args: str) -> str:
    """A field validator: ``launch_args`` splits like a shell line and its ``--env`` is well formed."""
    env = _env_value(_split(launch_args))
    if env is None:
        return launch_args
    try:
        shlex.split(env)
    except ValueError as error:
        raise LaunchArgsError(f"the --env string must split like a shell command line ({error})") from None
    if any(name == MARKER_ENV for name, _ in _env_vars(env)):
        raise LaunchArgsError(f"{MARKER_ENV} is reserved for vast-pulumi")
    return launch_args


def with_marker(launch_args: str | None, marker: str) -> str | None:
    """``launch_args`` as sent to the API: the user's, with the marker in the ``--env`` string."""
    if not marker:
        return launch_args
    tokens = _split(launch_args or "")
    index = _env_index(tokens)
    if index is None:  # appended, so the user's spelling of everything else stays as it was
        return f"{(launch_args or '').strip()} {_marker_suffix(marker)}".strip()
    _, value = _flag_and_value(tokens, index)
    tokens[index : index + _width(tokens, index)] = [_ENV_FLAG, f"{value} -e {MARKER_ENV}={marker}".strip()]
    return shlex.join(tokens)


def marker_of(stored: str | None) -> str | None:
    """The marker in ``launch_args`` as the API lists them, if there is one."""
    env = _env_value(_split_leniently(stored))
    return next((value for name, value in _env_vars(env or "") if name == MARKER_ENV), None)


def without_marker(stored: str | None) -> str | None:
    """The user's ``launch_args`` back from the API's copy (spelling aside; see :func:`same`)."""
    marker = marker_of(stored)
    if stored is None or marker is None:
        return stored
    suffix = _marker_suffix(marker)
    if stored == suffix or stored.endswith(" " + suffix):  # appended by with_marker: exact inverse
        return stored.removesuffix(suffix).rstrip() or None
    tokens = _split_leniently(stored)
    index = _env_index(tokens)
    assert index is not None  # a marker was found in it
    _, value = _flag_and_value(tokens, index)
    kept = _remove_marker(value or "")
    tokens[index : index + _width(tokens, index)] = [_ENV_FLAG, kept] if kept else []
    return shlex.join(tokens) or None


def same(a: str | None, b: str | None) -> bool:
    """Whether two ``launch_args`` say the same: equal once split, ``--env`` strings included."""
    return _meaning(a) == _meaning(b)


# -- parsing ---------------------------------------------------------------------------------------


def _split(launch_args: str) -> list[str]:
    try:
        tokens = shlex.split(launch_args)
    except ValueError as error:  # unbalanced quotes, a trailing backslash
        raise LaunchArgsError(f"must split like a shell command line ({error})") from None
    index = _env_index(tokens)
    if index is not None and _flag_and_value(tokens, index)[1] is None:
        raise LaunchArgsError("--env needs a value, e.g. --env '-e KEY=VALUE'")
    return tokens


def _split_leniently(stored: str | None) -> list[str]:
    """What the API lists may be anything someone saved: unreadable counts as no arguments."""
    try:
        return _split(stored or "")
    except LaunchArgsError:
        return []


def _env_index(tokens: list[str]) -> int | None:
    """Where the ``--env`` that counts (argparse keeps the last) starts."""
    found = [i for i, token in enumerate(tokens) if token == _ENV_FLAG or token.startswith(_ENV_FLAG + "=")]
    return found[-1] if found else None


def _flag_and_value(tokens: list[str], index: int) -> tuple[str, str | None]:
    flag = tokens[index]
    if "=" in flag:
        return flag, flag.split("=", 1)[1]
    return flag, tokens[index + 1] if index + 1 < len(tokens) else None


def _width(tokens: list[str], index: int) -> int:
    """How many tokens the ``--env`` at ``index`` spans: ``--env=V`` is one, ``--env V`` two."""
    return 1 if "=" in tokens[index] else 2


def _marker_suffix(marker: str) -> str:
    return shlex.join([_ENV_FLAG, f"-e {MARKER_ENV}={marker}"])


def _env_value(tokens: list[str]) -> str | None:
    index = _env_index(tokens)
    return None if index is None else _flag_and_value(tokens, index)[1]


def _env_vars(env: str) -> list[tuple[str, str]]:
    """The ``-e NAME=VALUE`` pairs of an ``--env`` string (ports and other options skipped)."""
    try:
        parts = shlex.split(env)
    except ValueError:
        return []
    pairs = []
    for flag, item in itertools.pairwise(parts):
        if flag == "-e" and "=" in item:
            name, value = item.split("=", 1)
            pairs.append((name, value))
    return pairs


def _remove_marker(env: str) -> str:
    parts = shlex.split(env)
    kept: list[str] = []
    skip = False
    for flag, item in zip(parts, [*parts[1:], None], strict=True):
        if skip:
            skip = False
            continue
        if flag == "-e" and item is not None and item.startswith(MARKER_ENV + "="):
            skip = True
            continue
        kept.append(flag)
    return " ".join(shlex.quote(part) for part in kept)


def _meaning(launch_args: str | None) -> list[str | tuple[str, ...]]:
    tokens = _split_leniently(launch_args)
    index = _env_index(tokens)
    meaning: list[str | tuple[str, ...]] = list(tokens)
    if index is not None:
        _, value = _flag_and_value(tokens, index)
        try:
            env: tuple[str, ...] = tuple(shlex.split(value or ""))
        except ValueError:
            env = (value or "",)
        meaning[index : index + _width(tokens, index)] = [_ENV_FLAG, env]
    return meaning
