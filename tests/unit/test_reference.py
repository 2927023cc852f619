"""One source per resource's fields: the inputs model, the Args TypedDict, the ``Output`` attributes and
``output_keys`` agree, every field is described; and ``docs/reference.md`` is what ``make docs`` makes
from them today."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ForwardRef, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

from vast_pulumi import _docs
from vast_pulumi._dynamic import ACCOUNT_KEY, ADOPT_KEY, VastProvider, VastResource
from vast_pulumi.instance import InstanceVolume, InstanceVolumeArgs

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
RESOURCES = [pytest.param(resource, provider, id=resource.__name__) for resource, provider in _docs.RESOURCES]


def args_typeddict(resource: type[VastResource]) -> type[Any]:
    """The ``<Name>Args`` TypedDict of a resource, from its module."""
    return getattr(sys.modules[resource.__module__], f"{resource.__name__}Args")  # type: ignore[no-any-return]


def test_every_resource_of_the_package_is_in_the_reference() -> None:
    import vast_pulumi

    exported = {
        name
        for name in vast_pulumi.__all__
        if isinstance(getattr(vast_pulumi, name), type)
        and issubclass(getattr(vast_pulumi, name), VastResource)
    }
    assert exported == {resource.__name__ for resource, _ in _docs.RESOURCES}


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_the_args_typeddict_has_exactly_the_model_inputs(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    inputs = list(provider.inputs_model.model_fields)
    assert list(args_typeddict(resource).__annotations__) == inputs


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_output_keys_are_the_inputs_then_the_described_outputs(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    inputs = [key for key in provider.inputs_model.model_fields if key != ADOPT_KEY]
    assert list(resource.output_keys) == [*inputs, *resource.output_descriptions]
    assert not set(resource.output_descriptions) & set(inputs), "an input is described on its model"


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_the_output_attributes_are_the_output_keys_and_the_account(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    assert set(_docs.output_annotations(resource)) == {*resource.output_keys, ACCOUNT_KEY}


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_every_input_and_output_is_described(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    models: list[type[BaseModel]] = [
        provider.inputs_model,
        *(m for _, m in _docs._nested_models(provider.inputs_model)),
    ]
    for model in models:
        undescribed = [name for name, field in model.model_fields.items() if not field.description]
        assert undescribed == [], f"{model.__name__}: Field(description=...) missing"
    assert all(resource.output_descriptions.values())


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_secrets_replacements_and_defaults_name_real_fields(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    inputs = set(provider.inputs_model.model_fields)
    assert set(resource.secret_outputs) <= set(resource.output_keys)
    assert provider.secret_inputs <= inputs
    assert provider.secret_inputs <= set(resource.secret_outputs), "a secret input must stay secret as output"
    assert provider.replace_on_change <= inputs
    assert provider.server_defaults <= inputs


def test_the_nested_volume_model_and_its_typeddict_agree() -> None:
    assert list(InstanceVolumeArgs.__annotations__) == list(InstanceVolume.model_fields)


def test_the_committed_reference_is_what_make_docs_writes() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == _docs.render(), (
        "docs/reference.md is stale: run `make docs` and commit it"
    )


def test_the_reference_shows_type_default_rule_change_and_secret() -> None:
    text = _docs.render()
    assert "| `target_util` | float | `0.9` | > 0; <= 1 | updates |" in text
    assert "| `endpoint_name` | str | unset | length <= 255 | replaces |" in text
    assert "| `image_login` (secret) | str | unset |  | replaces |" in text
    assert "| `endpoint_state` | str | `'active'` | one of `'active'`, `'suspended'`, `'stopped'` |" in text
    assert "| `api_key` (secret) | str |" in text
    assert "- **`InstanceNotReadyError`** (`VastError`, `RuntimeError`)" in text


def test_make_docs_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "reference.md"
    assert _docs.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == _docs.render()


def section(text: str, name: str) -> str:
    return text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def on_change_cells(text: str, name: str) -> dict[str, tuple[str, str]]:
    """Input -> (On change, Refresh) of a resource's inputs table."""
    rows = [line.split(" | ") for line in section(text, name).split("### Outputs")[0].splitlines()]
    return {
        row[0].strip("| `").split("`")[0]: (row[4], row[5]) for row in rows if len(row) >= 7 and "`" in row[0]
    }


def test_the_reference_says_what_a_change_really_does() -> None:
    """The cells the 2026-12-07 review found wrong: they come from the same field table diff reads."""
    text = _docs.render()
    fleet, instance = on_change_cells(text, "Fleet"), on_change_cells(text, "Instance")
    for key in ("offer_query", "image", "template_hash_id", "disk", "runtype", "price"):
        assert fleet[key][0] == "rents new machines", key
    assert "volume_info" not in fleet
    assert instance["price"] == ("updates the bid; replaces between on-demand and interruptible", "yes")
    for key in ("order", "cancel_unavail", "wait_until_ready", "ready_timeout"):
        assert instance[key][0] == "create only", key
    assert instance["ssh_key_ids"] == ("updates", "yes") and instance["env"] == ("updates", "")
    assert on_change_cells(text, "Workergroup")["cold_workers"][0] == "no effect"


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_the_field_table_is_what_diff_and_the_reference_read(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    cells = on_change_cells(_docs.render(), resource.__name__)
    assert set(cells) == set(provider.fields) == set(provider.inputs_model.model_fields)
    for name, field in provider.fields.items():
        assert cells[name] == (field.on_change.value, "yes" if field.refresh else ""), name


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_enumerated_inputs_are_literals_in_the_args_too(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    """``target_state="runing"`` fails the type checker, not only the preview."""
    annotations = args_typeddict(resource).__annotations__
    for name, field in provider.inputs_model.model_fields.items():
        choices = [
            arg for arg in (field.annotation, *get_args(field.annotation)) if get_origin(arg) is Literal
        ]
        if choices:
            ref = annotations[name]  # postponed: ForwardRef("pulumi.Input[<alias>]") of the defining module
            assert isinstance(ref, ForwardRef) and ref.__forward_module__, (name, ref)
            text = ref.__forward_arg__
            assert text.startswith("pulumi.Input[") and text.endswith("]"), (name, text)
            namespace = vars(sys.modules[ref.__forward_module__])
            assert eval(text.removeprefix("pulumi.Input[")[:-1], namespace) == choices[0], name


@pytest.mark.parametrize(("resource", "provider"), RESOURCES)
def test_the_constructor_docstring_lists_every_input_with_its_description(
    resource: type[VastResource], provider: type[VastProvider[Any]]
) -> None:
    doc = resource.__init__.__doc__ or ""
    for name, field in provider.inputs_model.model_fields.items():
        assert f"* ``{name}`` (" in doc and str(field.description) in doc, name
