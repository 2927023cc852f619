"""The emulator's query handling, pinned by what the official client's ``parse_query`` produces.

``tests/data/parse_query_examples.json`` holds query strings and the dicts the installed ``vastai``
made of them (or that it refused them). The emulator's string parser must give the same dicts, its
matcher must select the sample offers each example names, and the installed client must still parse
as recorded: a client upgrade that changes the language fails here. ``python -m
tests.emulator.test_parse_query_examples`` records the file again (no network); the ``selects`` lists
are written by hand and kept.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from vastai.api.query import offers_alias, offers_fields, offers_mult, parse_query

from tests.data import HERE, parse_query_recording
from vast_pulumi.emulator import search_params
from vast_pulumi.emulator.matching import matches

RECORDING = parse_query_recording()
EXAMPLES: list[dict[str, Any]] = RECORDING["examples"]
PARSED = [e for e in EXAMPLES if "parsed" in e and "base" not in e]
REFUSED = [e for e in EXAMPLES if "refused" in e]
SELECTING = [e for e in EXAMPLES if "selects" in e]
SAMPLE_OFFERS: dict[str, dict[str, Any]] = RECORDING["sample_offers"]


def official(text: str, base: dict[str, Any] | None) -> dict[str, Any]:
    """What the installed client makes of ``text``, as ``{"parsed": ...}`` or ``{"refused": error type}``."""
    start = json.loads(json.dumps(base or {}))
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            parsed = parse_query(text, start, offers_fields, offers_alias, offers_mult)
    except Exception as error:  # the client also fails with TypeError/AttributeError on some input
        return {"refused": type(error).__name__}
    return {"parsed": json.loads(json.dumps(parsed))}


def test_the_recording_covers_both_outcomes_and_matching() -> None:
    assert (len(PARSED), len(REFUSED), len(SELECTING)) >= (20, 5, 15)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["query"] or "(empty)")
def test_the_installed_client_still_parses_as_recorded(example: dict[str, Any]) -> None:
    recorded = {k: example[k] for k in ("parsed", "refused") if k in example}
    assert official(example["query"], example.get("base")) == recorded


@pytest.mark.parametrize("example", PARSED, ids=lambda e: e["query"] or "(empty)")
def test_the_emulator_parses_search_params_as_the_client_does(example: dict[str, Any]) -> None:
    assert search_params.parse(example["query"]) == example["parsed"]


@pytest.mark.parametrize("example", REFUSED, ids=lambda e: e["query"])
def test_the_emulator_refuses_what_the_client_refuses(example: dict[str, Any]) -> None:
    with pytest.raises(search_params.ParseError):
        search_params.parse(example["query"])


@pytest.mark.parametrize("example", SELECTING, ids=lambda e: e["query"] or "(empty)")
def test_the_matcher_selects_the_offers_the_query_describes(example: dict[str, Any]) -> None:
    selected = [name for name, offer in SAMPLE_OFFERS.items() if matches(offer, example["parsed"])]
    assert selected == example["selects"]


def record() -> None:
    """Parse every query of the file again with the installed client and write the file back."""
    path = HERE / "parse_query_examples.json"
    data = json.loads(path.read_text())
    data["examples"] = [
        {
            "query": example["query"],
            **({"base": example["base"]} if "base" in example else {}),
            **official(example["query"], example.get("base")),
            **({"selects": example["selects"]} if "selects" in example else {}),
        }
        for example in data["examples"]
    ]
    path.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    record()
