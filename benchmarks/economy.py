"""Target 2, API economy, counted from the emulator's request log."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.common import (
    API_KEY,
    Table,
    api_calls,
    count_by_route,
    fleet_program,
    new_stack,
    write_project,
)
from vast_pulumi._instances import POLL_SECONDS
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

WRITES = {"POST", "PUT", "DELETE"}
SEARCHES = {"/api/v0/bundles/", "/api/v0/search/asks/"}
BOOT_TIMES = (5, 20, 60)
REFRESH_FLEET = 32

ENDPOINT = 'from vast_pulumi import Endpoint\nendpoint = Endpoint("ep", max_workers=2)\n'
WORKERGROUP = (
    "from vast_pulumi import Workergroup\n"
    'Workergroup("wg", endpoint_id=endpoint.id, search_params="gpu_name=RTX_4090")\n'
)


def split(calls: list[dict[str, object]]) -> tuple[int, int]:
    """(writes, reads); an offer search is a POST that changes nothing: a read."""
    writes = sum(1 for c in calls if c["method"] in WRITES and c.get("route") not in SEARCHES)
    return writes, len(calls) - writes


def serverless_rows(root: Path, table: Table) -> None:
    with Emulator(api_keys=[API_KEY], seed=1) as emulator:
        project = write_project(root / "serverless", "serverless", ENDPOINT)
        stack = new_stack(LocalBackend(root / "backend-serverless"), emulator, project)
        mark = len(emulator.request_log())
        stack.up()
        writes, reads = split(api_calls(emulator, mark))
        table.add("create endpoint", writes, reads, "1 write, <= 1 read", _ok(writes == 1 and reads <= 1))

        (project / "__main__.py").write_text(ENDPOINT + WORKERGROUP)
        mark = len(emulator.request_log())
        stack.up()
        writes, reads = split(api_calls(emulator, mark))
        table.add("create workergroup", writes, reads, "1 write, <= 1 read", _ok(writes == 1 and reads <= 1))

        mark = len(emulator.request_log())
        stack.preview("--expect-no-changes")
        calls = len(api_calls(emulator, mark))
        table.add("no-change preview", 0, calls, "0 calls", _ok(calls == 0))

        mark = len(emulator.request_log())
        stack.destroy()
        writes, reads = split(api_calls(emulator, mark))
        table.add(
            "destroy endpoint + workergroup",
            writes,
            reads,
            "1 call per resource + <= 1 confirmation",
            _ok(writes <= 2 and reads <= 1),
        )


def instance_rows(root: Path, table: Table) -> None:
    polls: dict[int, int] = {}
    for boot in BOOT_TIMES:
        with Emulator(api_keys=[API_KEY], seed=boot, boot_seconds=boot) as emulator:
            project = write_project(root / f"instance-{boot}", "one", fleet_program(1))
            stack = new_stack(LocalBackend(root / f"backend-instance-{boot}"), emulator, project)
            mark = len(emulator.request_log())
            stack.up()
            writes, reads = split(api_calls(emulator, mark))
            polls[boot] = reads
            # account, search, marker lookup, the sweep after the rent, and the last poll
            bound = math.floor(boot / POLL_SECONDS) + 5
            table.add(
                f"create instance, boot {boot} s",
                writes,
                reads,
                f"1 write, <= {bound} reads (one per {POLL_SECONDS:g} s of boot)",
                _ok(writes == 1 and reads <= bound),
            )
            mark = len(emulator.request_log())
            stack.destroy()
            writes, reads = split(api_calls(emulator, mark))
            table.add(
                f"destroy instance (boot {boot} s run)",
                writes,
                reads,
                "1 call + <= 1 confirmation",
                _ok(writes == 1 and reads <= 1),
            )
    growth = polls[BOOT_TIMES[-1]] - polls[BOOT_TIMES[0]]
    table.verdicts.append(
        f"readiness reads at boot {', '.join(f'{b} s: {polls[b]}' for b in BOOT_TIMES)};"
        f" {BOOT_TIMES[-1] - BOOT_TIMES[0]} s more boot cost {growth} more reads (one per {POLL_SECONDS:g} s,"
        " shared by every instance that waits); before, with polls backing off x1.5 up to 30 s:"
        " 6, 8 and 11 reads, each instance seen up to 30 s late"
    )


def refresh_rows(root: Path, table: Table) -> None:
    with Emulator(api_keys=[API_KEY], seed=9, boot_seconds=1) as emulator:
        project = write_project(root / "refresh", "refresh", fleet_program(REFRESH_FLEET))
        stack = new_stack(LocalBackend(root / "backend-refresh"), emulator, project)
        stack.up("--parallel", "64")
        mark = len(emulator.request_log())
        stack.refresh()
        calls = api_calls(emulator, mark)
        bound = math.ceil(REFRESH_FLEET / 25)  # one paged list read
        lists = sum(1 for c in calls if "/api/v1/instances" in str(c["path"]))
        table.add(
            f"refresh {REFRESH_FLEET} instances",
            0,
            len(calls),
            f"<= {bound} list calls",
            _ok(lists <= bound),
        )
        table.verdicts.append(f"refresh calls by route: {count_by_route(calls)} ({lists} list calls)")
        stack.destroy("--parallel", "64")


def _ok(condition: bool) -> str:
    return "met" if condition else "MISSED"


def run(root: Path) -> Table:
    table = Table("API economy (emulator request log)", ["operation", "writes", "reads", "target", "verdict"])
    serverless_rows(root, table)
    instance_rows(root, table)
    refresh_rows(root, table)
    return table
