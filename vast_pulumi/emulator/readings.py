"""Readings: where Vast's sources disagree or are silent on a behaviour a client could be hurt by,
the emulator offers each plausible reading behind one switch.

:data:`REGISTRY` is declarative: one :class:`Reading` per disputed behaviour, with its choices (the
first is the emulator's long-standing behaviour and the default), the choice that is harder on a
client (``harsher``; the ``pessimistic`` profile takes it everywhere) and the sources behind each
choice (the README's fidelity table shows them). Add a reading by appending to :data:`REGISTRY`; the
code that models it asks :meth:`Readings.value` at the moment it answers.

Chosen per emulator: ``Settings(profile=..., readings={...})``, ``Emulator(profile="pessimistic",
readings={"ssh_list_empty": "404"})``, ``--profile``/``--reading NAME=VALUE``, and at run time
``PUT /_emulator/readings`` ``{name: value}``. Explicit readings win over the profile.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass


class ReadingError(ValueError):
    """An unknown reading, choice or profile; the message names it and what is allowed."""


DEFAULT_PROFILE = "default"
PESSIMISTIC = "pessimistic"
PROFILES = (DEFAULT_PROFILE, PESSIMISTIC)
# The profile an emulator takes when none is given: a whole test suite runs under the harsher readings
# with VAST_EMULATOR_PROFILE=pessimistic (tests' --vast-profile sets it), whatever each test starts.
PROFILE_ENV = "VAST_EMULATOR_PROFILE"


def ambient_profile() -> str:
    """``$VAST_EMULATOR_PROFILE`` if set (checked), else ``default``."""
    profile = os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise ReadingError(f"{PROFILE_ENV}={profile!r}: use one of {', '.join(PROFILES)}")
    return profile


@dataclass(frozen=True)
class Reading:
    name: str
    audit: str  # the row of the 2026-12-07 fidelity audit it answers
    summary: str
    choices: tuple[str, ...]  # the first is the default
    harsher: str
    sources: Mapping[str, str]  # choice -> what supports it (or why it is modelled without a source)

    @property
    def default(self) -> str:
        return self.choices[0]


REGISTRY: tuple[Reading, ...] = (
    Reading(
        name="bid_field",
        audit="I1",
        summary="an interruptible's row: `search.gpuCostPerHour` is the bid, or the listing's `dph_base`",
        choices=("bid", "listing"),
        harsher="listing",
        sources={
            "bid": "none says so; the emulator's first reading (OpenAPI 9987-10005 only says 'Search pricing "
            "details')",
            "listing": "OpenAPI 9987-10005: the example's `search.gpuCostPerHour` equals `dph_base`; "
            "[3P] a host's live row showed `search` holding the sticker price; vast-cli PR #403: the "
            "API does not echo the bid",
        },
    ),
    Reading(
        name="ssh_list_empty",
        audit="K3",
        summary="`GET /api/v0/ssh/` on an account without keys",
        choices=("list", "404"),
        harsher="404",
        sources={
            "list": "OpenAPI 1894-2035: the 200 answer is an array (an empty one is not excluded)",
            "404": 'OpenAPI 2038-2039: 404 "No SSH keys found for the user." (no body documented: the '
            "API's usual `{success, error: not_found, msg}` is ours)",
        },
    ),
    Reading(
        name="destroying_get",
        audit="D1",
        summary="single `GET /api/v0/instances/{id}/` of an instance being destroyed",
        choices=("row", "gone"),
        harsher="gone",
        sources={
            "row": "none: the dying row (stopped, `next_state` unloaded) until `destroy_seconds` pass",
            "gone": "Max19970/easy-server#125: the single GET answered a non-object at once while the "
            'list still held the instance; here `{"instances": null}`, the list lingers',
        },
    ),
    Reading(
        name="delete_gone_error",
        audit="D3",
        summary="`DELETE /api/v0/instances/{id}/` of an instance that is gone",
        choices=("not_found", "no_such_instance"),
        harsher="no_such_instance",
        sources={
            "not_found": 'OpenAPI 3759-3773: 404 `not_found` "Instance not found"',
            "no_such_instance": "dstack `backends/vastai/api_client.py:112` (#4030) treats "
            "`no_such_instance` as already gone; OpenAPI 568-577 uses it on other instance routes "
            '("Instance with that ID does not exist.")',
        },
    ),
    Reading(
        name="templateless_workergroup",
        audit="S3",
        summary="`POST /api/v0/workergroups/` without `template_hash` or `template_id`",
        choices=("accepted", "400"),
        harsher="400",
        sources={
            "accepted": "OpenAPI 878-881: `search_params` is an 'alternative to template'",
            "400": '`vastai/data/workergroup.py:13-18` ("Either template_hash or template_id is required"); '
            '`vastai/api/endpoints.py:204` (`template_hash` "(required)")',
        },
    ),
    Reading(
        name="volume_machine",
        audit="V1",
        summary="which instances may mount a local volume (linked or made by `volume_info`)",
        choices=("any", "same_machine"),
        harsher="same_machine",
        sources={
            "any": "none: the emulator's first reading",
            "same_machine": "docs `guides/instances/storage/volumes.mdx:13-15,143`: 'physically tied to the "
            "machine it was created on. It can only be attached to instances running on the same "
            "physical machine' (the 400's wording is ours)",
        },
    ),
    Reading(
        name="volume_name",
        audit="V2",
        summary="the name of a volume (`PUT /volumes/` `name`, `volume_info.name`)",
        choices=("lenient", "strict"),
        harsher="strict",
        sources={
            "lenient": "OpenAPI 3624-3665: a string, no pattern (up to 1024 characters here)",
            "strict": "docs `guides/instances/storage/volumes.mdx:125`: 'alphanumeric with underscores, "
            "with a max length of 64' (`^[A-Za-z0-9_]{1,64}$`; the 400's wording is ours)",
        },
    ),
    Reading(
        name="rate_limit_bodies",
        audit="R1",
        summary="the body of a 429 (rate limit or injected fault) when `--rate-limit-style` is not given",
        choices=("global", "per_route"),
        harsher="per_route",
        sources={
            "global": "OpenAPI's most common 429 schema, `{detail}` (e.g. 1883-1892), on every route",
            "per_route": "OpenAPI per route: `{success, error: rate_limit_exceeded, msg}` on `DELETE "
            "/instances/{id}` (3774-3789) and `DELETE /team/members/{id}` (5869-5884), `{msg}` on `POST "
            "/team/invite`, no body documented on `POST /template` and `GET /machines` (plain text "
            "here, the docs' 'often plain text'), `{detail}` elsewhere",
        },
    ),
    Reading(
        name="worker_recruit",
        audit="S2",
        summary="when the serverless autoscaler's rent of a worker lands",
        choices=("sync", "late"),
        harsher="late",
        sources={
            "sync": "none: the emulator's first reading (the rent is made in the API call that decides it)",
            "late": "the autoscaler is a separate asynchronous service (`autoscaler.cpp` per "
            "`vastai/cli/commands/benchmarks.py:522-523`); the SDK waits 'a few minutes' for workers "
            "to become queryable (`vastai/serverless/client/client.py:486-495,691`). Here a rent lands "
            "`autoscaler.RECRUIT_SECONDS` (5 s) after the decision, on the emulator's clock; one in "
            "flight when its group is deleted lands anyway, tied to nothing",
        },
    ),
    Reading(
        name="worker_ties",
        audit="S8",
        summary="whether a worker's instance row names its `workergroup_id` and `endpoint_id`",
        choices=("tied", "untied"),
        harsher="untied",
        sources={
            "tied": "the names of `/api/v0/charges` contract metadata (OpenAPI 7288-7296, "
            "`vastai/cli/commands/billing.py:244-245`) shown on the row; not in any instance schema",
            "untied": "OpenAPI's Instance schema (9608-10057) has neither field: a client finds its "
            "workers by the marker in their env (or `/get_*_workers/`) only",
        },
    ),
)

BY_NAME: dict[str, Reading] = {reading.name: reading for reading in REGISTRY}


def check(name: str, value: str) -> None:
    reading = BY_NAME.get(name)
    if reading is None:
        raise ReadingError(f"unknown reading {name!r}: use one of {', '.join(BY_NAME)}")
    if value not in reading.choices:
        raise ReadingError(f"reading {name!r}: {value!r} is not one of {', '.join(reading.choices)}")


def resolve(profile: str = DEFAULT_PROFILE, explicit: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every reading's choice: the profile's (default or harsher), then the explicit ones over it."""
    if profile not in PROFILES:
        raise ReadingError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    chosen = {r.name: r.harsher if profile == PESSIMISTIC else r.default for r in REGISTRY}
    for name, value in (explicit or {}).items():
        check(name, value)
        chosen[name] = value
    return chosen


def parse_assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` (the command line's ``--reading``), checked."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ReadingError(f"{text!r}: use NAME=VALUE, e.g. ssh_list_empty=404")
    check(name.strip(), value.strip())
    return name.strip(), value.strip()


class Readings:
    """The choices one running emulator makes; changed at run time through the control plane."""

    def __init__(self, profile: str = DEFAULT_PROFILE, explicit: Mapping[str, str] | None = None) -> None:
        self._chosen = resolve(profile, explicit)
        self.profile = profile
        self._lock = threading.Lock()

    def value(self, name: str) -> str:
        return self._chosen[name]

    def is_(self, name: str, choice: str) -> bool:
        """Whether ``name`` reads ``choice`` (a misspelt choice is a bug, not a quiet False)."""
        check(name, choice)
        return self._chosen[name] == choice

    def update(self, changes: Mapping[str, str]) -> None:
        """All or nothing: a bad name or value changes no reading."""
        for name, value in changes.items():
            if not isinstance(value, str):
                raise ReadingError(f"reading {name!r}: the value must be a string")
            check(name, value)
        with self._lock:
            self._chosen = {**self._chosen, **changes}

    def as_dict(self) -> dict[str, str]:
        return dict(self._chosen)


# The README's table of readings, generated from REGISTRY (`python -m vast_pulumi.emulator.readings
# vast_pulumi/emulator/README.md` rewrites it between the markers; a unit test keeps them equal).
TABLE_BEGIN = "<!-- readings table: generated by python -m vast_pulumi.emulator.readings -->"
TABLE_END = "<!-- end of the readings table -->"


def table() -> str:
    lines = [
        "| Reading | Audit | Behaviour | Choices (default first) | Harsher (`pessimistic`) "
        "| Sources per choice |",
        "|---|---|---|---|---|---|",
    ]
    for r in REGISTRY:
        choices = " \\| ".join(f"`{c}`" for c in r.choices)
        sources = "<br>".join(f"`{c}`: {r.sources[c]}" for c in r.choices)
        lines.append(f"| `{r.name}` | {r.audit} | {r.summary} | {choices} | `{r.harsher}` | {sources} |")
    return "\n".join(lines)


def with_table(text: str) -> str:
    """``text`` with the part between the markers replaced by :func:`table`."""
    head, begin, rest = text.partition(TABLE_BEGIN)
    _, end, tail = rest.partition(TABLE_END)
    if not begin or not end:
        raise ValueError("the README has no readings table markers")
    return f"{head}{TABLE_BEGIN}\n{table()}\n{TABLE_END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    readme = Path(sys.argv[1])
    readme.write_text(with_table(readme.read_text()))
