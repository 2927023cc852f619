"""One registry of resources (:mod:`vast_pulumi._registry`), and every consumer reads all of it: the
package's exports, the reference, the orphan finder and the recorded state. Each test here fails when a
resource is left out of one consumer."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import vast_pulumi
from vast_pulumi import _docs, _registry, orphans
from vast_pulumi._dynamic import VastResource
from vast_pulumi._registry import Orphans, ResourceKind
from vast_pulumi.client import VastClient
from vast_pulumi.orphans import state_of

KINDS = [pytest.param(kind, id=kind.name) for kind in _registry.RESOURCES]
INIT = Path(vast_pulumi.__file__)


def type_checking_imports() -> dict[str, str]:
    """Name -> module of the ``if TYPE_CHECKING:`` imports of ``vast_pulumi/__init__.py``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(
        node for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
    )
    return {
        alias.name: str(node.module)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_every_resource_class_of_the_package_is_registered() -> None:
    found = set()
    for module in pkgutil.iter_modules(vast_pulumi.__path__):
        if module.ispkg:
            continue  # the emulator: no resources
        loaded = importlib.import_module(f"vast_pulumi.{module.name}")
        found |= {
            value.__name__
            for value in vars(loaded).values()
            if inspect.isclass(value)
            and issubclass(value, VastResource)
            and value is not VastResource
            and value.__module__ == loaded.__name__
        }
    assert found == {kind.name for kind in _registry.RESOURCES}


@pytest.mark.parametrize("kind", KINDS)
def test_the_registry_names_the_real_classes_and_token(kind: ResourceKind) -> None:
    resource = kind.resource_class()
    assert resource.__module__ == kind.module
    assert resource.type_token() == kind.type_token
    provider = kind.provider_class()
    assert f"{provider.__module__}.{provider.__qualname__}" == kind.provider_path
    assert kind.inputs_model() is provider.inputs_model


@pytest.mark.parametrize("kind", KINDS)
def test_the_package_exports_the_resource_and_its_args(kind: ResourceKind) -> None:
    imported = type_checking_imports()
    for name in kind.exports:
        assert vast_pulumi._EXPORTS.get(name) == kind.module, f"{name}: not in _EXPORTS"
        assert name in vast_pulumi.__all__, f"{name}: not in __all__"
        assert imported.get(name) == kind.module, f"{name}: not imported under TYPE_CHECKING"
        assert getattr(vast_pulumi, name) is getattr(importlib.import_module(kind.module), name)


def test_the_type_checking_imports_are_the_exports() -> None:
    assert type_checking_imports() == vast_pulumi._EXPORTS


@pytest.mark.parametrize("kind", KINDS)
def test_the_reference_documents_the_resource(kind: ResourceKind) -> None:
    assert (kind.resource_class(), kind.provider_class()) in _docs.RESOURCES
    text = _docs.render()
    assert f"\n## {kind.name}\n" in text
    assert f"Type token `{kind.type_token}`." in text


def test_the_reference_lists_the_resources_in_the_registrys_order() -> None:
    assert [resource.__name__ for resource, _ in _docs.RESOURCES] == [k.name for k in _registry.RESOURCES]


@pytest.mark.parametrize("kind", KINDS)
def test_orphans_knows_how_to_find_list_and_destroy_the_resource(kind: ResourceKind) -> None:
    if kind.orphans is Orphans.NEVER:
        assert kind.orphan_kind is None and kind.name not in orphans.FINDERS
        return
    assert kind.orphan_kind in orphans.DESTROY_ORDER, f"{kind.name}: never destroyed"
    for call in (kind.list_call, kind.delete_call):
        assert callable(getattr(VastClient, str(call), None)), (
            f"{kind.name}: VastClient.{call} does not exist"
        )
    if kind.orphans is not Orphans.AS_INSTANCES:
        assert kind.name in orphans.FINDERS, f"{kind.name}: orphans has no finder"


@pytest.mark.parametrize("kind", KINDS)
def test_orphans_reads_the_resource_from_a_stack_export(kind: ResourceKind) -> None:
    outputs: dict[str, Any] = {"_marker": "0123456789abcdef", "instance_ids": [7]}
    row = {"urn": f"urn:pulumi:dev::proj::{kind.type_token}::thing", "type": kind.type_token, "id": "7"}
    state = state_of({"deployment": {"resources": [{**row, "outputs": outputs}]}})
    kinds = {resource.kind for resource in state.resources}
    assert kinds == (set() if kind.orphan_kind is None else {kind.orphan_kind})
