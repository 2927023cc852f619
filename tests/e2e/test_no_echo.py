"""Issue 20: an input that breaks a rule is never echoed, however secret it looks.

Every input that can carry a secret (an SSH private key pasted as ``public_key``, an env var's value,
``env`` values, ``onstart`` scripts, entrypoint ``args``, ``image_login``, a workergroup's
``launch_args``) is given a value that embeds a token and breaks a rule. The engine stops at the
first failed check, so the program makes one case's resource per run (config ``case``); each case
runs ``pulumi up --json -v=3 --logflow`` (the engine's events, which carry every diagnostic the text
display shows, and its and the plugins' log files), the first one also a plain ``preview`` (what a
terminal or a CI log shows). Three cases run every time (each kind of value: a string, a dict, a
shell line), all eight under ``--soak``; ``tests/unit/test_no_echo.py`` checks every case's rule text
in-process. Every stream (stdout, stderr, the JSON events, every file under the
backend, PULUMI_HOME and TMPDIR: state, history, logs) must hold none of the tokens, while each
failure still names its resource and field. On the old code the engine printed "property public_key
value {-----BEGIN OPENSSH PRIVATE KEY----- ...} has a problem", values and all.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from vast_pulumi.local_pulumi import LocalBackend

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWPRIVATEKEY9b1Tq0Zc\\n"
    "-----END OPENSSH PRIVATE KEY-----\\n"
)
# case: (resource name, the field its failure names, the token its values embed, the resource)
CASES = {
    "private-key": ("key", "public_key", "PRIVATEKEY9b1Tq0Zc", f'SshKey("key", public_key="{PRIVATE_KEY}")'),
    "envvar-value": (
        "token",
        "value",
        "ENVVARVALUE7f2e",
        'EnvVar("token", name="T", value="hf ENVVARVALUE7f2e!")',
    ),
    "instance-env": (
        "box",
        "env",
        "INSTANCEENV3c4d",
        'Instance("box", offer_query="gpu_name=RTX_4090", image="pytorch/pytorch",'
        ' env={"HF_TOKEN": "INSTANCEENV3c4d", "not a name": "x"},'
        ' image_login="-u me -p IMAGELOGIN1a2b ghcr.io")',
    ),
    "instance-onstart": (
        "box",
        "onstart",
        "INSTANCEONSTART5a6b",
        'Instance("box", offer_query="gpu_name=RTX_4090", image="pytorch/pytorch",'
        ' onstart="export TOKEN=INSTANCEONSTART5a6b\\n" + "#" * 5000)',
    ),
    "instance-args": (
        "box",
        "args",
        "INSTANCEARGS8e9f",
        'Instance("box", offer_query="gpu_name=RTX_4090", image="pytorch/pytorch",'
        ' args=["--token", "INSTANCEARGS8e9f"], args_str="--token INSTANCEARGS8e9f")',
    ),
    "template-env": (
        "tpl",
        "env",
        "TEMPLATEENV4d5e",
        'Template("tpl", image="vllm/vllm-openai", env={"HF_TOKEN": "TEMPLATEENV4d5e x"})',
    ),
    "workergroup-launch-args": (
        "wg",
        "launch_args",
        "LAUNCHARGS6f7a",
        'Workergroup("wg", endpoint_id=1, launch_args="--env \'-e HF_TOKEN=LAUNCHARGS6f7a")',
    ),
    "fleet-env": (
        "fleet",
        "env",
        "FLEETENV2b3c",
        'Fleet("fleet", count=1, offer_query="gpu_name=RTX_4090", image="pytorch/pytorch",'
        ' env={"HF_TOKEN": "FLEETENV2b3c", "-bad": "x"})',
    ),
}
PROGRAM = "import pulumi\nfrom vast_pulumi import EnvVar, Fleet, Instance, SshKey, Template, Workergroup\n\n"
PROGRAM += 'case = pulumi.Config().require("case")\n' + "".join(
    f"if case == {case!r}:\n    {expression}\n" for case, (_, _, _, expression) in CASES.items()
)


EVERY_RUN = ("private-key", "instance-env", "workergroup-launch-args")


def test_no_rule_failure_echoes_a_value(tmp_path: Path, soak: bool) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    backend = LocalBackend(tmp_path / "pulumi", extra_env={"TMPDIR": str(tmp)})
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: no-echo\nruntime: python\n")
    (project / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    # Nothing listens there: a check that let anything through would fail to connect, not rent.
    stack = backend.stack(project, config={"vast:apiUrl": "http://127.0.0.1:9"}, secrets={"vast:apiKey": "k"})
    streams: dict[str, str] = {}
    said: dict[str, str] = {}  # what each case's failure says, in the terminal and in the JSON
    cases = CASES if soak else {case: CASES[case] for case in EVERY_RUN}
    for case in cases:
        stack.set_config("case", case)
        runs = {"up --json": stack.up("--json", "-v=3", "--logflow", check=False)}
        if case == "private-key":
            runs["preview"] = stack.preview(check=False)
        for name, run in runs.items():
            assert run.returncode != 0, run.output
            streams |= {f"{case}: {name} stdout": run.stdout, f"{case}: {name} stderr": run.stderr}
        said[case] = _diagnostics(runs["up --json"].stdout) + runs.get("preview", runs["up --json"]).stdout
    for root in (backend.root, tmp):
        streams |= {
            str(p.relative_to(tmp_path)): p.read_text(errors="replace")
            for p in root.rglob("*")
            if p.is_file()
        }
    assert any("log" in name for name in streams), "the engine wrote no log file to look in"

    tokens = [token for _, _, token, _ in cases.values()] + ["IMAGELOGIN1a2b"]
    leaks = [(token, name) for token in tokens for name, text in streams.items() if token in text]
    assert leaks == []
    # Each failure still names its resource and field, for the user to find and fix it.
    for case, (resource, field, _, _) in cases.items():
        assert f"resource '{resource}' has a problem: {field}" in said[case], case
    assert "that is a private key" in said["private-key"] and "property " not in said["private-key"]


def _diagnostics(events: str) -> str:
    lines = (json.loads(line) for line in events.splitlines() if line.startswith("{"))
    return "\n".join(e["diagnosticEvent"]["message"] for e in lines if "diagnosticEvent" in e)
