"""Record the state a release writes, for ``tests/unit/test_state_compat.py``.

    .venv/bin/python tests/unit/data/record_state.py tests/unit/data/state-0.3.0.json

Runs a real ``pulumi up`` (the CLI, a throw-away local backend) of a program with every resource of the
registry against the emulator, exports the stack and keeps each vast-pulumi resource's id, type, inputs
and outputs (``__provider``, the pickled provider, included). Every secret is replaced by
"recorded-secret", so the file holds no ciphertext and no key. Run it once per release, never to make a
test pass: the recordings are what state users' stacks hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from vast_pulumi import __version__, _registry
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend, find_pulumi

API_KEY = "record-state-key"
SECRET = "recorded-secret"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value in a state export
PROGRAM = """
import pulumi
from vast_pulumi import (
    Endpoint, EnvVar, Fleet, Instance, SshKey, Template, Volume, Workergroup,
)

key = SshKey(
    "laptop",
    public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJK9F1pSEMt/BAon67seVRFk7PHt5CVhLLud826EorlK me@laptop",
)
EnvVar("hf-token", name="HF_TOKEN", value="hf_recorded_value")
endpoint = Endpoint("inference", max_workers=4, cold_workers=1, inactivity_timeout=600)
template = Template(
    "vllm-worker", image="vllm/vllm-openai", tag="v0.9.2", env={"HF_HOME": "/workspace/hf"},
    ports=["8000"], runtype="args", disk=64,
)
Workergroup("workers", endpoint_id=endpoint.id, template_hash=template.hash_id, gpu_ram=24)
Volume("data", size=20, offer_query="reliability>0.9")
Instance(
    "dev-box", offer_query="gpu_name=RTX_4090 num_gpus=1 reliability>0.95", disk=32,
    image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime", label="quickstart-dev-box",
    ssh_key_ids=[key.key_id],
)
Fleet(
    "batch", count=2, offer_query="num_gpus=1 reliability>0.9", image="vastai/base-image", disk=16,
    spread="machine", label_prefix="batch",
)
"""


def scrubbed(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None:
            return SECRET
        return {key: scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    return value


def record(target: Path) -> None:
    tokens = {kind.type_token for kind in _registry.RESOURCES}
    with tempfile.TemporaryDirectory() as root, Emulator(api_keys=[API_KEY], seed=3, boot_seconds=0.5) as emu:
        project = Path(root) / "record"
        project.mkdir()
        (project / "Pulumi.yaml").write_text("name: record\nruntime: python\n")
        (project / "__main__.py").write_text(textwrap.dedent(PROGRAM))
        backend = LocalBackend(Path(root) / "pulumi")
        stack = backend.stack(
            project, "dev", config={"vast:apiUrl": emu.url}, secrets={"vast:apiKey": API_KEY}
        )
        stack.up()
        resources = stack.export()["deployment"]["resources"]
        recorded = [
            {key: scrubbed(row[key]) for key in ("id", "inputs", "outputs", "type")}
            for row in resources
            if row.get("type") in tokens
        ]
        stack.destroy()
        stack.remove()
    missing = tokens - {row["type"] for row in recorded}
    if missing:
        raise SystemExit(f"the program made no {', '.join(sorted(missing))}: add them to PROGRAM")
    document = {"pulumi": _pulumi_version(), "resources": recorded, "vast_pulumi": __version__}
    target.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"wrote {target}: {len(recorded)} resources")


def _pulumi_version() -> str:
    done = subprocess.run([find_pulumi(), "version"], capture_output=True, text=True, check=True)
    return done.stdout.strip().removeprefix("v")


if __name__ == "__main__":
    record(Path(sys.argv[1]))
