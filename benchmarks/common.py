"""What every benchmark needs: an emulator, a local Pulumi backend, generated projects, timers,
and counts of API calls from the emulator's request log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "bench-key"
REPO_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_QUERY = "num_gpus=1 reliability>0.9"


@dataclass
class Table:
    """One benchmark's result: a title, rows of figures, and whether each target was met."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.verdicts:
            lines += ["", *[f"- {v}" for v in self.verdicts]]
        return "\n".join(lines) + "\n"


@contextmanager
def timed() -> Iterator[list[float]]:
    """`with timed() as t: ...` then t[0] is the elapsed seconds."""
    elapsed: list[float] = []
    started = time.monotonic()
    try:
        yield elapsed
    finally:
        elapsed.append(time.monotonic() - started)


def write_project(directory: Path, name: str, program: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    (directory / "__main__.py").write_text(program)
    return directory


def fleet_program(count: int) -> str:
    return (
        "from vast_pulumi import Instance\n\n"
        f"for index in range({count}):\n"
        f'    Instance(f"gpu-{{index}}", offer_query="{INSTANCE_QUERY}", image="vastai/base-image",'
        " disk=16)\n"
    )


def new_stack(backend: LocalBackend, emulator: Emulator, project: Path, name: str = "bench") -> Stack:
    return backend.stack(
        project, name, config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
    )


def api_calls(emulator: Emulator, since: int = 0) -> list[dict[str, Any]]:
    """Requests to the Vast API (not the control plane) logged after position ``since``."""
    return [r for r in emulator.request_log()[since:] if str(r["path"]).startswith("/api/")]


def count_by_route(calls: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        key = f"{call['method']} {call.get('route') or call['path']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"
