"""Run the benchmarks, print their tables, and write benchmarks/RESULTS.md.

python -m benchmarks                 # all
python -m benchmarks economy refresh # some
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    destroy,
    doctor,
    economy,
    emulator,
    fleet,
    overhead,
    plugin,
    refresh,
    scale,
    speed,
    startup,
)
from benchmarks.common import Table

BENCHMARKS: dict[str, Callable[[Path], Table]] = {
    "scale": scale.run,
    "economy": economy.run,
    "refresh": refresh.run,
    "overhead": overhead.run,
    "fleet": fleet.run,
    "speed": speed.run,
    "destroy": destroy.run,
    "plugin": plugin.run,
    "doctor": doctor.run,
    "startup": startup.run,
    "emulator": emulator.run,
}
RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = (
    "# Benchmark results\n\nProduced by `make bench` (`python -m benchmarks [name ...]` reruns some);"
    " each table is measured in one run, on the machine and date under it.\n\n"
)
START, END = "<!-- benchmark: ", "<!-- end -->"


def machine() -> str:
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(names: list[str]) -> int:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        chosen = ", ".join(sorted(unknown))
        print(f"unknown benchmark(s): {chosen}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    sections = read_sections()
    for name in names or list(BENCHMARKS):
        print(f"==> benchmark: {name}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            table = BENCHMARKS[name](Path(tmp))
        print(table.markdown(), flush=True)
        today = datetime.date.today().isoformat()
        sections[name] = f"{table.markdown()}\n_{today}, {machine()}._\n"
        write_sections(sections)
    print(f"wrote {RESULTS}")
    return 0


def read_sections() -> dict[str, str]:
    """The tables already in RESULTS.md, by benchmark name: a run of some benchmarks keeps the rest."""
    sections: dict[str, str] = {}
    if RESULTS.exists():
        for chunk in RESULTS.read_text().split(START)[1:]:
            name, _, rest = chunk.partition(" -->\n")
            sections[name] = rest.split(END)[0]
    return sections


def write_sections(sections: dict[str, str]) -> None:
    body = "".join(f"{START}{name} -->\n{sections[name]}{END}\n\n" for name in BENCHMARKS if name in sections)
    RESULTS.write_text(HEADER + body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
