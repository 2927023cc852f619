"""Data recorded from outside sources (see README.md here), and loaders for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def spec_thresholds() -> dict[tuple[str, str], float]:
    """``{(method, path): seconds}``: every "threshold=N" of a 429 example in Vast's OpenAPI spec."""
    recorded: dict[str, dict[str, float]] = json.loads(
        (HERE / "openapi_rate_limit_thresholds.json").read_text()
    )
    return {
        (method, path): seconds for path, methods in recorded.items() for method, seconds in methods.items()
    }


def parse_query_recording() -> dict[str, Any]:
    """``{"examples": [...], "sample_offers": {...}}``: query strings and what the official client's
    ``parse_query`` made of them, and the offers they select (see README.md)."""
    recording: dict[str, Any] = json.loads((HERE / "parse_query_examples.json").read_text())
    return recording
