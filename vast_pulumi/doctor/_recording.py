"""``--record DIR`` and ``--replay DIR``: a doctor run's answers as a fixture a bug report can carry.

``DIR/recording.json`` holds one JSON object::

    {"format": "vast-pulumi-doctor-recording", "version": 1, "vast_pulumi": "<version>",
     "exchanges": [{"method": "GET", "path": "/api/v1/instances/", "route": "/api/v1/instances/",
                    "status": 200, "headers": {"Content-Type": "application/json"},
                    "body": "<the answer's body, as text>"}, ...]}

in the order the calls were answered (429s and retries included; ``status`` null: no answer, ``body``
then says why). Every body is redacted first (:mod:`vast_pulumi.doctor._redact`); queries are not
kept. ``--replay DIR`` runs the whole analysis on it offline: the same shape checks, readings and
billing view as the live run that made it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from vast_pulumi._version import __version__
from vast_pulumi.doctor._exchanges import Exchange
from vast_pulumi.doctor._redact import redact
from vast_pulumi.errors import VastConfigError

__all__ = ["FILE_NAME", "FORMAT", "load", "save"]

FORMAT = "vast-pulumi-doctor-recording"
VERSION = 1
FILE_NAME = "recording.json"


def save(directory: str | Path, exchanges: Sequence[Exchange], api_key: str) -> Path:
    """Write the redacted recording; the file's path."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "vast_pulumi": __version__,
        "exchanges": [e.as_json() for e in redact(exchanges, api_key)],
    }
    path = target / FILE_NAME
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


def load(directory: str | Path) -> list[Exchange]:
    path = Path(directory) / FILE_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise VastConfigError(f"--replay: cannot read {path} ({error.strerror})") from None
    except ValueError:
        raise VastConfigError(f"--replay: {path} is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise VastConfigError(f"--replay: {path} is not a {FORMAT} file")
    if document.get("version") != VERSION:
        raise VastConfigError(
            f"--replay: {path} has version {document.get('version')!r}; this reads {VERSION}"
        )
    rows = document.get("exchanges")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise VastConfigError(f"--replay: {path}: exchanges must be a list of objects")
    try:
        return [Exchange.from_json(row) for row in rows]
    except (KeyError, TypeError, ValueError) as error:
        raise VastConfigError(f"--replay: {path}: a malformed exchange ({error})") from None
