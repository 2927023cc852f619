"""The error tree: every error the package raises on purpose is a VastError, keeps the builtin base and
the import path it had, and each class is raised where its docstring says."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

import vast_pulumi
from tests.unit.conftest import configured
from vast_pulumi import errors, local_pulumi, orphans, query
from vast_pulumi._dynamic import numeric_id
from vast_pulumi._instances import InstanceOps
from vast_pulumi._reconcile import CreateSteps, OutcomeUnknown, reconciling_create
from vast_pulumi.emulator import Emulator
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.envvar import EnvVarProvider
from vast_pulumi.errors import (
    AdoptError,
    CreateOutcomeUnknownError,
    DeleteTimeoutError,
    InstanceNotReadyError,
    OfferUnavailableError,
    VanishedError,
    VastAccountError,
    VastAuthError,
    VastConfigError,
    VastConflictError,
    VastError,
    VastInputError,
    VastNotFoundError,
)
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.offers import order_clause
from vast_pulumi.settings import ProviderSettings
from vast_pulumi.volume import VolumeProvider
from vast_pulumi.workergroup import WorkergroupProvider

ERROR_CLASSES = [
    cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, BaseException)
]


def test_every_error_of_the_errors_module_is_a_documented_vast_error() -> None:
    assert len(ERROR_CLASSES) >= 16
    for cls in ERROR_CLASSES:
        assert issubclass(cls, VastError), cls
        assert cls.__doc__ and len(cls.__doc__) > 40, f"{cls.__name__} says nowhere when it is raised"


def test_every_error_the_package_exports_is_a_vast_error() -> None:
    public = [getattr(vast_pulumi, name) for name in vast_pulumi.__all__]
    exported = [value for value in public if inspect.isclass(value) and issubclass(value, BaseException)]
    elsewhere = [
        query.QueryError,
        errors.LaunchArgsError,
        orphans.StateError,
        local_pulumi.PulumiNotFoundError,
        local_pulumi.PulumiCommandError,
        OutcomeUnknown,
    ]
    assert len(exported) >= 16
    for cls in (*exported, *elsewhere):
        assert issubclass(cls, VastError), cls
    assert set(ERROR_CLASSES) <= set(exported)


def test_the_old_import_paths_and_builtin_bases_still_work() -> None:
    from vast_pulumi._reconcile import CreateOutcomeUnknownError as from_reconcile
    from vast_pulumi.instance import InstanceNotReadyError as from_instance
    from vast_pulumi.template import TemplateInUseError as from_template

    assert from_instance is vast_pulumi.InstanceNotReadyError is InstanceNotReadyError
    assert from_template is errors.TemplateInUseError
    assert from_reconcile is CreateOutcomeUnknownError
    # Callers written before the tree caught these builtins.
    input_errors: tuple[type[Exception], ...] = (
        VastConfigError,
        VastConflictError,
        VastInputError,
        AdoptError,
        VastNotFoundError,
    )
    run_errors: tuple[type[Exception], ...] = (
        VastAccountError,
        InstanceNotReadyError,
        OfferUnavailableError,
        CreateOutcomeUnknownError,
        VanishedError,
        DeleteTimeoutError,
        errors.TemplateInUseError,
        orphans.StateError,
    )
    assert all(issubclass(cls, ValueError) for cls in input_errors)
    assert all(issubclass(cls, RuntimeError) for cls in run_errors)
    assert issubclass(query.QueryError, VastInputError)


PACKAGE = Path(vast_pulumi.__file__).parent


def test_no_bare_builtin_error_is_raised_outside_pydantic_validators() -> None:
    """Validators must raise ValueError for pydantic; everything else raises an error of the tree.
    The emulator is another program, with its own ApiError."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "emulator" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) or _is_validator(function):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Raise):
                    continue
                called = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(called, ast.Name) and called.id in ("ValueError", "RuntimeError", "Exception"):
                    bare.append(f"{path.relative_to(PACKAGE)}:{node.lineno} raise {called.id}")
    assert bare == []


def _is_validator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    names = [
        decorator.func.id
        for decorator in function.decorator_list
        if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Name)
    ]
    return any(name in ("field_validator", "model_validator") for name in names)


# -- raise sites --------------------------------------------------------------------------------------------


def test_settings_without_a_key_raise_a_config_error() -> None:
    with pytest.raises(VastConfigError, match=r"no Vast\.ai API key"):
        ProviderSettings.resolve(None, None)
    with pytest.raises(VastConfigError, match="must be an http"):
        ProviderSettings("key", "ftp://example.com")


def test_bad_arguments_raise_input_errors() -> None:
    with pytest.raises(VastInputError, match="name at least one field to order offers by"):
        order_clause(",")
    with pytest.raises(VastInputError, match=r"not a Vast\.ai id"):
        numeric_id("abc")
    with pytest.raises(VastInputError, match="unknown field"):
        query.parse_query("no_such_field=1")


def test_adopting_nothing_raises_an_adopt_error(
    connect: Callable[[EndpointProvider], EndpointProvider],
) -> None:
    provider = connect(EndpointProvider())
    props = provider.check({}, {"endpoint_name": "ep", "adopt_id": 4999}).inputs
    with pytest.raises(AdoptError, match="adopt_id: there is no endpoint 4999"):
        provider.create(props)
    groups = provider_for(WorkergroupProvider, provider)
    props = groups.check({}, {"endpoint_id": 1, "search_params": "num_gpus=1", "adopt_id": 77}).inputs
    with pytest.raises(AdoptError, match="adopt_id: there is no workergroup 77"):
        groups.create(props)


def test_an_ssh_key_the_account_lacks_raises_not_found(
    connect: Callable[[InstanceProvider], InstanceProvider],
) -> None:
    provider = connect(InstanceProvider())
    with pytest.raises(VastNotFoundError, match="ssh_key_ids: no SSH key 999 on this account"):
        InstanceOps(provider.client).sync_keys(1, [999], [])


def test_no_matching_offer_raises_offer_unavailable(
    connect: Callable[[InstanceProvider], InstanceProvider],
) -> None:
    provider = connect(InstanceProvider())
    props = provider.check({}, {"offer_query": "num_gpus>64", "image": "img", "_marker": "m"}).inputs
    with pytest.raises(OfferUnavailableError, match="no offer matches"):
        provider.create(props)


def test_an_instance_that_is_gone_is_not_ready(
    connect: Callable[[InstanceProvider], InstanceProvider],
) -> None:
    provider = connect(InstanceProvider())
    with pytest.raises(InstanceNotReadyError, match="instance 424242 is gone"):
        InstanceOps(provider.client).require(424242)


def test_updating_a_volume_that_is_not_listed_raises_vanished(
    connect: Callable[[VolumeProvider], VolumeProvider],
) -> None:
    provider = connect(VolumeProvider())
    props = provider.check({}, {"size": 10, "offer_id": 5, "name": "v"}).inputs
    with pytest.raises(VanishedError, match="volume 31337 is not on this account"):
        provider.update("31337", props, props)


def test_a_delete_still_listed_after_the_wait_raises_delete_timeout(
    connect: Callable[[EnvVarProvider], EnvVarProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = connect(EnvVarProvider())
    monkeypatch.setattr("vast_pulumi.envvar.DELETE_WAIT", 0.0)
    monkeypatch.setattr(provider.client, "delete_env_var", lambda name: True)
    monkeypatch.setattr(provider.client, "list_env_vars", lambda: {"HF_TOKEN": "x"})
    with pytest.raises(DeleteTimeoutError, match="env var HF_TOKEN was still listed 0 s after its delete"):
        provider.delete("HF_TOKEN", {"name": "HF_TOKEN", "value": "x"})


def test_a_name_the_account_has_raises_conflict(connect: Callable[[EnvVarProvider], EnvVarProvider]) -> None:
    provider = connect(EnvVarProvider())
    provider.client.create_env_var("HF_TOKEN", "theirs")
    props = provider.check({}, {"name": "HF_TOKEN", "value": "ours"}).inputs
    with pytest.raises(VastConflictError, match="already has an env var HF_TOKEN"):
        provider.create(props)


def test_another_accounts_object_raises_an_account_error(
    connect: Callable[[EndpointProvider], EndpointProvider],
) -> None:
    provider = connect(EndpointProvider())
    with pytest.raises(VastAccountError, match=r"endpoint 7 belongs to Vast\.ai account 999999"):
        provider.owner("7", {"account_id": 999999})


def test_a_rejected_key_raises_an_auth_error(emulator: Emulator) -> None:
    provider = configured(EndpointProvider(), emulator.url, "not-a-key")
    with pytest.raises(VastAuthError, match="rejected the API key"):
        provider.client.account_id()


def test_an_unknown_outcome_without_a_marker_raises_create_outcome_unknown() -> None:
    def create() -> int:
        raise OutcomeUnknown("the reply was lost")

    steps = CreateSteps(
        noun="thing",
        find=lambda: [],
        create=create,
        delete=lambda _id: None,
        converge=lambda _id, _row, _made: {"id": _id},
        findable=False,
    )
    with pytest.raises(CreateOutcomeUnknownError, match="carries no marker"):
        reconciling_create(steps)


def provider_for(cls: type[WorkergroupProvider], configured_like: EndpointProvider) -> WorkergroupProvider:
    """A second provider on the same account as ``configured_like``."""
    settings = configured_like.client.settings
    return configured(cls(), settings.api_url, settings.api_key)
