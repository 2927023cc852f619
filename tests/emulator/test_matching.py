"""The emulator's matcher: the CLI's string numbers compare as numbers, aliases, versions, countries."""

from __future__ import annotations

from typing import Any

import pytest

from vast_pulumi.emulator.matching import FilterError, matches
from vast_pulumi.emulator.search_params import parse

OFFER: dict[str, Any] = {
    "gpu_name": "RTX 4090",
    "num_gpus": 1,
    "reliability": 0.97,
    "gpu_ram": 24564,
    "verified": True,
    "external": False,
    "rentable": True,
    "rented": False,
    "geolocation": "Sweden, SE",
    "driver_version": "550.54.14",
    "cuda_max_good": 12.4,
    "dph_total": 0.41,
    "static_ip": None,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gpu_name=RTX_4090 num_gpus=1 reliability>0.95", True),
        ("reliability>0.97", False),
        ("reliability>=0.97", True),
        ("num_gpus in [2,4]", False),
        ("num_gpus notin [2,4]", True),
        ("num_gpus!=1", False),
        ("gpu_ram>=24", True),
        ("gpu_ram>=25", False),
        ("driver_version>=535.86.05", True),
        ("driver_version<535.86.05", False),
        ("cuda_vers>=12.1", True),
        ("dph<0.4", False),
        ("geolocation in [SE,NO]", True),
        ("geolocation=NO", False),
        ("verified=false", False),
        ("static_ip=null", True),
        ('gpu_name in ["RTX 3090", RTX_4090]', True),
    ],
)
def test_matches_compares_the_clis_string_numbers_numerically(text: str, expected: bool) -> None:
    assert matches(OFFER, parse(text)) is expected


def test_matches_ignores_the_non_filter_keys_of_a_search_body() -> None:
    body = {"gpu_name": {"eq": "RTX_4090"}, "order": [["score", "desc"]], "limit": 3, "type": "on-demand"}
    assert matches(OFFER, body)


def test_matches_rejects_an_unknown_operator() -> None:
    with pytest.raises(FilterError, match="approx"):
        matches(OFFER, {"num_gpus": {"approx": 1}})
