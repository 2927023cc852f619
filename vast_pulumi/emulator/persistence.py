"""``--state FILE``: the service's data as JSON, rewritten atomically after every change.

Written to a temporary file in the same directory and moved over the old one with ``os.replace``,
so a reader (or a restart after a crash) sees the previous or the next state, never half of one.
No fsync: this protects against the emulator dying, not the machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

from vast_pulumi.emulator.models import JsonDict, State, state_from_dict

FORMAT = "vast-emulator-state/1"


class StateFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> State | None:
        """The saved state, or None when there is no file yet."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a vast emulator state file ({FORMAT})")
        return state_from_dict(data["state"])

    def save(self, state: State) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"format": FORMAT, "state": state}, separators=(",", ":"), default=_fields)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _fields(value: object) -> JsonDict:
    """A dataclass of the state as JSON sees it: the JSON of ``dataclasses.asdict(state)``, without
    the deep copy asdict makes first (the state is saved after every change; the copy was most of
    the cost). The models are plain dataclasses: their ``__dict__`` is exactly their fields."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"{type(value).__name__} is not part of the emulator's state")
    fields: JsonDict = vars(value)
    return fields
