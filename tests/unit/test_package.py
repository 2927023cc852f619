"""The public API: ``from vast_pulumi import ...``, importable without loading what it does not use."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vast_pulumi


def test_every_public_name_resolves() -> None:
    assert sorted(vast_pulumi.__all__) == sorted(vast_pulumi._EXPORTS)
    for name in vast_pulumi.__all__:
        assert getattr(vast_pulumi, name).__name__ == name


def test_importing_the_package_loads_neither_pulumi_nor_the_resources() -> None:
    probe = "import sys, vast_pulumi.settings; print([m for m in ('pulumi', 'pydantic') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_provider_modules_load_no_http_stack_until_a_call() -> None:
    """A no-change preview runs check and diff only: it should not pay for importing requests."""
    probe = (
        "import sys, vast_pulumi.endpoint, vast_pulumi.workergroup, vast_pulumi.instance; "
        "print('requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_user_agent_carries_the_package_version() -> None:
    from vast_pulumi import _transport

    assert _transport._USER_AGENT.split("/") == ["vast-pulumi", vast_pulumi.__version__]


def test_the_changelog_describes_this_version() -> None:
    changelog = (Path(__file__).resolve().parents[2] / "CHANGELOG.md").read_text()
    assert f"## [{vast_pulumi.__version__}]" in changelog


def test_the_readmes_layout_names_every_module() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    layout = readme.split("\n## Layout\n", 1)[1]
    package = Path(vast_pulumi.__file__).parent
    unnamed = [path.name for path in sorted(package.glob("*.py")) if f"`{path.name}`" not in layout]
    assert unnamed == []


def runtime_imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """The imports a module runs (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped
    ]


def test_no_module_imports_a_name_from_the_packages_facade() -> None:
    """``from vast_pulumi import X`` is for submodules only: a name of ``__init__`` (its version, once)
    would make the client depend on the facade, which loads every resource."""
    package = Path(vast_pulumi.__file__).parent
    submodules = {path.stem for path in package.glob("*.py")} | {
        path.parent.name for path in package.glob("*/__init__.py")
    }
    offending = [
        f"{path.name}: {alias.name}"
        for path in sorted(package.rglob("*.py"))
        for node in runtime_imports(path)
        if isinstance(node, ast.ImportFrom) and node.module == "vast_pulumi"
        for alias in node.names
        if alias.name not in submodules
    ]
    assert offending == []


def test_the_registry_imports_nothing_of_the_package_at_run_time() -> None:
    registry = Path(vast_pulumi.__file__).parent / "_registry.py"
    modules = [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for node in runtime_imports(registry)
    ]
    assert [module for module in modules if module and module.startswith("vast_pulumi")] == []
