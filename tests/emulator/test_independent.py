"""The emulator shares no logic with the client it tests: it imports nothing of the provider."""

from __future__ import annotations

import ast
from pathlib import Path

import vast_pulumi.emulator

EMULATOR = Path(vast_pulumi.emulator.__file__).parent


def provider_imports(source: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += (
                [node.module]
                if node.module != "vast_pulumi"
                else [f"vast_pulumi.{a.name}" for a in node.names]
            )
    return [n for n in names if n.split(".")[0] == "vast_pulumi" and not n.startswith("vast_pulumi.emulator")]


def test_no_emulator_module_imports_the_provider() -> None:
    modules = sorted(EMULATOR.glob("*.py"))
    assert len(modules) > 20
    found = {module.name: provider_imports(module) for module in modules}
    assert {name: imports for name, imports in found.items() if imports} == {}


def test_the_check_sees_a_provider_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from vast_pulumi.query import parse_query\nfrom vast_pulumi import client\nimport os\n"
    )
    assert provider_imports(module) == ["vast_pulumi.query", "vast_pulumi.client"]
