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

from benchmarks import economy, overhead, refresh, scale
from benchmarks.common import Table

BENCHMARKS: dict[str, Callable[[Path], Table]] = {
    "scale": scale.run,
    "economy": economy.run,
    "refresh": refresh.run,
    "overhead": overhead.run,
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(names: list[str]) -> int:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    tables = []
    for name in names or list(BENCHMARKS):
        print(f"==> benchmark: {name}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            table = BENCHMARKS[name](Path(tmp))
        print(table.markdown(), flush=True)
        tables.append(table)
    today = datetime.date.today().isoformat()
    header = f"# Benchmark results\n\n{today} on {machine()}. Produced by `make bench`.\n\n"
    RESULTS.write_text(header + "\n".join(t.markdown() for t in tables))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
