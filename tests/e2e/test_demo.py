"""`make demo` (the README's first command) deploys the root project, not a copy of it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from vast_pulumi.local_pulumi import LocalBackend

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_demo_deploys_the_quickstart_prints_outputs_and_destroys(local_backend: LocalBackend) -> None:
    # local_backend only proves the engine is there (failing with the setup hint otherwise);
    # the demo makes its own backend and emulator, as a newcomer's run does.
    demo = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "demo.py")],
        cwd=REPO_ROOT,
        env=local_backend.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output
    assert re.search(r'"ssh": "ssh -p \d+ root@\S+"', output), output
    assert re.search(r'"endpoint_id": "?\d+', output), output
    assert "5 created" in output, output  # the stack, endpoint, template, workergroup, instance
    assert "5 deleted" in output, output
    assert not (REPO_ROOT / "Pulumi.demo.yaml").exists()
