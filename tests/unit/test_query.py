"""vast_pulumi.query: the CLI's grammar (checked against vastai 1.9.1's own parser) and its
stricter unknown-field rule."""

from __future__ import annotations

import pytest
from vastai.api.query import offers_alias, offers_fields, offers_mult
from vastai.api.query import parse_query as cli_parse_query

from vast_pulumi.query import OFFER_FIELDS, QueryError, parse_query, query_text

CLI_DEFAULTS = {
    "verified": {"eq": True},
    "external": {"eq": False},
    "rentable": {"eq": True},
    "rented": {"eq": False},
}

QUERIES = [
    "",
    "gpu_name=RTX_4090 num_gpus=1 reliability>0.95",
    "num_gpus>=2 gpu_name in [RTX_4090,RTX_3090]",
    'gpu_name in ["RTX 4090", "RTX 3090"] geolocation notin [CN,VN]',
    "rented=any",
    "verified=False cpu_ram>=64",
    "disk_space>146 duration>24 gpu_ram>10 cuda_vers>=12.1 direct_port_count>=2 driver_version >= 535.86.05",
    "reliability > 0.99  num_gpus>=4 verified=False",
    "dph<1.5 dph > 0.1",
    'gpu_name = "RTX A6000"',
    "num_gpus nin [1,2]",
    "inet_down not in [1,2]",
    "reliability gte 0.9 total_flops lt 100",
    "rentable=null static_ip=True",
    "gpu_total_ram>=80 dlperf_usd>100 flops_usd>2 display_active=false",
    "num_gpus!=1 num_gpus==2 compute_cap neq 800 geolocation eq SE",
    "verified=* external=?",
]


@pytest.mark.parametrize("text", QUERIES)
def test_parse_query_equals_the_official_cli_parser(text: str) -> None:
    expected = cli_parse_query(
        text, {k: dict(v) for k, v in CLI_DEFAULTS.items()}, offers_fields, offers_alias, offers_mult
    )
    assert parse_query(text) == expected


@pytest.mark.parametrize("text", QUERIES)
def test_parse_query_without_defaults_equals_the_cli_with_no_default(text: str) -> None:
    assert parse_query(text, default_filters=False) == cli_parse_query(
        text, {}, offers_fields, offers_alias, offers_mult
    )


def test_parse_query_converts_units_underscores_bools_and_lists() -> None:
    parsed = parse_query(
        "gpu_ram>=24 duration>2 gpu_name=RTX_4090 verified=false geolocation in [SE,NO]",
        default_filters=False,
    )
    assert parsed == {
        "gpu_ram": {"gte": 24000.0},
        "duration": {"gt": 172800.0},
        "gpu_name": {"eq": "RTX 4090"},
        "verified": {"eq": False},
        "geolocation": {"in": ["SE", "NO"]},
    }


def test_default_filters_can_be_overridden_or_dropped() -> None:
    assert parse_query("verified=false")["verified"] == {"eq": False}
    assert "rented" not in parse_query("rented=any")
    assert parse_query("") == CLI_DEFAULTS


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("gpu_colour=red", "gpu_colour"),
        ("num_gpus=1 flux_capacitor>1", "flux_capacitor"),
        ("num_gpus=>1", "=>"),
        ("num_gpus>>1", ">>"),
        ("num_gpus", "num_gpus"),
        ("gpu_ram>lots", "lots"),
        ("reliability>any", "any"),
        ("num_gpus=1 'x", "'x"),
        ("driver_version>=1.2", "1.2"),
        ("num_gpus=", "num_gpus"),
    ],
)
def test_bad_queries_raise_query_error_naming_the_bad_token(text: str, named: str) -> None:
    with pytest.raises(QueryError) as error:
        parse_query(text)
    assert named in str(error.value)
    assert isinstance(error.value, ValueError)


def test_unknown_field_error_names_the_closest_fields() -> None:
    with pytest.raises(QueryError) as error:
        parse_query("gpu_nam=RTX_4090")
    assert str(error.value) == "unknown field 'gpu_nam'; did you mean 'gpu_name' or 'gpu_ram'?"


def test_unknown_field_like_none_lists_the_known_fields() -> None:
    with pytest.raises(QueryError, match=r"known: .*gpu_name.*num_gpus"):
        parse_query("xyzzy=1")


def test_offer_fields_are_the_clis() -> None:
    assert set(offers_fields) == OFFER_FIELDS


@pytest.mark.parametrize(
    "query",
    ["gpu_name=RTX_4090 num_gpus=1 reliability>0.95", "gpu_ram>=24 verified=true", "gpu_name in [A100,H100]"],
)
def test_query_text_spells_a_parsed_query_back_in_the_cli_language(query: str) -> None:
    parsed = parse_query(query, default_filters=False)
    assert parse_query(query_text(parsed) or "", default_filters=False) == parsed


def test_query_text_refuses_what_it_cannot_spell_back() -> None:
    assert query_text(parse_query("driver_version>=535.86.05", default_filters=False)) is None
    assert query_text({"gpu_name": {"eq": "RTX_4090"}}) is None  # an underscore would read as a space
