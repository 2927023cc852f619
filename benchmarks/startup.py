"""Startup CPU: what vast_pulumi adds to each Python process a Pulumi command starts.

Every ``pulumi up/preview/refresh/destroy`` of a vast-pulumi stack starts two Python processes: the
program (the user's ``__main__.py``, importing resources from ``vast_pulumi``) and the dynamic provider
(``python -m pulumi.dynamic``, which unpickles our provider classes, importing their modules, and checks
the inputs). A ``make test`` starts ~350 of them, so their startup is a large share of its CPU.

Each probe runs in ``RUNS`` fresh interpreters, interleaved (drift on a busy machine hits every probe
alike); the figure is the median CPU-s (user + system) of one whole process, its exit included (in those
two processes vast_pulumi makes the interpreter's finalization cheaper, see ``vast_pulumi._startup``).
vast_pulumi's share is a probe minus the baseline: the Pulumi SDK alone, as either process imports it.

``python -m benchmarks.startup [PYTHON ...]`` prints the table for each interpreter given (say, another
checkout's ``.venv/bin/python``), measured in the same interleaved run, for before/after figures.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import dill

from benchmarks.common import Table
from vast_pulumi._startup import PROGRAM_HOST
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.template import TemplateProvider

RUNS = 20
# Both processes import the SDK (the provider server also its gRPC stubs and dill) before any of ours.
BASELINE = "import pulumi, pulumi.dynamic, dill, grpc"
# A program declaring a serverless deployment (examples/serverless): the import is what it costs;
# declaring resources needs the engine. It runs as the language host's script does (by that name), so
# that vast_pulumi sees the process it is in (vast_pulumi._startup).
PROGRAM = f"{BASELINE}\nfrom vast_pulumi import Endpoint, Template, Workergroup\n"
# ``python -m pulumi.dynamic`` gives ``__main__`` this spec; the probe cannot serve gRPC, so it sets it.
AS_PROVIDER_SERVER = (
    "import sys, importlib.machinery\n"
    "sys.modules['__main__'].__spec__ = importlib.machinery.ModuleSpec('pulumi.dynamic.__main__', None)\n"
)


def provider_probe() -> str:
    """What the provider server does for a Template and an Endpoint before any API call: unpickle each
    provider from its state blob (importing its module) and check inputs (building the validator)."""
    blobs = [base64.b64encode(dill.dumps(p())).decode() for p in (TemplateProvider, EndpointProvider)]
    return (
        f"{AS_PROVIDER_SERVER}{BASELINE}\nimport base64\n"
        f"template, endpoint = (dill.loads(base64.b64decode(b)) for b in {blobs!r})\n"
        "assert not template.check({}, {'image': 'vastai/base-image', 'name': 't', 'env': {'A': '1'},"
        " 'ports': ['8000']}).failures\n"
        "assert not endpoint.check({}, {'endpoint_name': 'e', 'max_workers': 2}).failures\n"
    )


def process_cpu(command: list[str]) -> float:
    """CPU-s (user + system) of one fresh interpreter running ``command``."""
    # Run from "/": a script's or ``-c``'s directory comes first on sys.path, and each interpreter must
    # import the vast_pulumi installed in its own environment (another checkout's, for a comparison).
    pid = subprocess.Popen(command, cwd="/").pid
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} exited with status {status}")
    return usage.ru_utime + usage.ru_stime


def measure(pythons: list[str], runs: int = RUNS) -> dict[str, dict[str, float]]:
    """Median CPU-s of each probe, per interpreter, measured interleaved."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        program = Path(tmp, PROGRAM_HOST)
        program.write_text(PROGRAM)
        probes = {
            "baseline": ["-c", BASELINE],
            "program": [str(program)],
            "provider": ["-c", provider_probe()],
        }
        samples: dict[str, dict[str, list[float]]] = {p: {name: [] for name in probes} for p in pythons}
        for _ in range(runs):
            for python in pythons:
                for name, args in probes.items():
                    samples[python][name].append(process_cpu([python, *args]))
    return {
        p: {name: statistics.median(s) for name, s in by_probe.items()} for p, by_probe in samples.items()
    }


def table(pythons: list[str], runs: int = RUNS) -> Table:
    figures = measure(pythons, runs)
    result = Table(
        f"Startup CPU of a Python process (median of {runs} fresh processes)",
        ["interpreter", "process", "CPU-s", "vast_pulumi's share (CPU-s)"],
    )
    for python, medians in figures.items():
        where = "this checkout" if python == sys.executable else python
        result.add(where, f"baseline: `{BASELINE}`", f"{medians['baseline']:.3f}", "-")
        for name in ("program", "provider"):
            share = medians[name] - medians["baseline"]
            result.add(where, name, f"{medians[name]:.3f}", f"{share:.3f}")
    result.verdicts.append(
        "program: `from vast_pulumi import Endpoint, Template, Workergroup`; provider: unpickle the Template "
        "and Endpoint providers and check one input set each"
    )
    return result


def run(_root: Path) -> Table:
    return table([sys.executable])


if __name__ == "__main__":
    print(table([sys.executable, *sys.argv[1:]]).markdown())
