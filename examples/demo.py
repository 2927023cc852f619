"""`make demo`: deploy the quickstart stack against the embedded Vast.ai emulator, print its
outputs, then destroy it. Nothing leaves this machine and nothing costs money.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend, PulumiCommandError, PulumiNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK = "demo"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def main() -> int:
    started = time.monotonic()
    api_key = secrets.token_hex(16)  # a throw-away account on the emulator
    step("starting the Vast.ai API emulator on a free loopback port")
    with (
        # Quicker than the real API (boots take minutes, a destroyed instance stays listed for ~5 s):
        # the demo still waits for both, in seconds.
        Emulator(api_keys=[api_key], boot_seconds=2, destroy_seconds=1, seed=7) as emulator,
        tempfile.TemporaryDirectory() as tmp,
    ):
        print(f"    emulator at {emulator.url}")
        try:
            backend = LocalBackend(Path(tmp))
        except PulumiNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        step(f"creating stack '{STACK}' of {REPO_ROOT / 'Pulumi.yaml'} in a local backend ({backend.url})")
        stack = backend.stack(
            REPO_ROOT, STACK, config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": api_key}
        )
        try:
            step("pulumi up: an endpoint, a workergroup and an RTX 4090 instance")
            stack.up(echo=True)
            step("stack outputs")
            print(json.dumps(stack.outputs(), indent=2))
            step("pulumi destroy")
            stack.destroy(echo=True)
        except PulumiCommandError as exc:
            print(f"error: {exc}", file=sys.stderr)
            stack.destroy(check=False)
            return 1
        finally:
            stack.remove()
    step(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
