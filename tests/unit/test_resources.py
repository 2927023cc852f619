"""The program side: what each resource registers with the engine (type token, props, the marker),
run with Pulumi's mocks. The provider methods are not involved here."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from vast_pulumi import Endpoint, EndpointArgs, Instance, Workergroup, _registry
from vast_pulumi._registry import ResourceKind

REGISTERED: list[pulumi.runtime.MockResourceArgs] = []


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        REGISTERED.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture(autouse=True)
def mocks() -> Iterator[None]:
    # Pulumi's mocks run on the current event loop; an earlier test's asyncio.run() leaves the main
    # thread with none, so each test gets its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    REGISTERED.clear()
    pulumi.runtime.set_mocks(Mocks(), project="proj", stack="dev", preview=False)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def registered(name: str) -> pulumi.runtime.MockResourceArgs:
    (found,) = [args for args in REGISTERED if args.name == name]
    return found


@pulumi.runtime.test
def test_endpoint_registers_its_type_default_name_and_marker() -> Any:
    endpoint = Endpoint("my.api", max_workers=3)

    def check(_: Any) -> None:
        args = registered("my.api")
        assert args.typ == "pulumi-python:dynamic/vast:Endpoint"
        assert re.fullmatch(r"[0-9a-f]{16}", args.inputs["_marker"])
        assert args.inputs["endpoint_name"] == f"my-api-{args.inputs['_marker'][:8]}"
        assert args.inputs["max_workers"] == 3
        assert "__provider" in args.inputs

    return endpoint.urn.apply(check)


@pulumi.runtime.test
def test_markers_differ_by_resource_name_and_type() -> Any:
    first, second = Endpoint("a"), Endpoint("b")
    group = Workergroup("a", endpoint_name="x", search_params="gpu_name=RTX_4090")

    def check(_: Any) -> None:
        markers = {(args.typ, args.name): args.inputs["_marker"] for args in REGISTERED}
        assert len(markers) == len(set(markers.values())) == 3

    return pulumi.Output.all(first.urn, second.urn, group.urn).apply(check)


@pulumi.runtime.test
def test_a_typed_args_object_and_keywords_are_equivalent() -> Any:
    typed = Endpoint("typed", EndpointArgs(max_workers=2, endpoint_name="n1"))
    keywords = Endpoint("kw", max_workers=2, endpoint_name="n2")

    def check(_: Any) -> None:
        assert registered("typed").inputs["max_workers"] == registered("kw").inputs["max_workers"] == 2
        assert registered("typed").inputs["endpoint_name"] == "n1"

    return pulumi.Output.all(typed.urn, keywords.urn).apply(check)


@pulumi.runtime.test
def test_an_instance_input_named_args_is_an_input_not_the_args_object() -> Any:
    box = Instance("box", offer_id=1, image="img", args=["--serve", "8000"])

    def check(_: Any) -> None:
        assert registered("box").inputs["args"] == ["--serve", "8000"]

    return box.urn.apply(check)


@pulumi.runtime.test
def test_the_callers_dict_is_not_mutated() -> Any:
    args = EndpointArgs(max_workers=1)
    first = Endpoint("first", args)
    second = Endpoint("second", args)  # the SDK would refuse a dict that already holds __provider

    def check(_: Any) -> None:
        assert dict(args) == {"max_workers": 1}

    return pulumi.Output.all(first.urn, second.urn).apply(check)


@pulumi.runtime.test
def test_every_output_is_an_attribute() -> Any:
    box = Instance("box2", offer_query="num_gpus=1", image="img")
    for key in Instance.output_keys:
        assert isinstance(getattr(box, key), pulumi.Output), key
    return box.urn


@pytest.mark.parametrize("kind", _registry.RESOURCES, ids=lambda kind: kind.name)
@pulumi.runtime.test
def test_get_reads_an_existing_resource_by_id(kind: ResourceKind) -> Any:
    """One ``get`` on the base class, for every resource of the registry."""
    resource_class = kind.resource_class()
    existing = resource_class.get("existing", "4242")
    assert type(existing) is resource_class

    def check(_: Any) -> None:
        args = registered("existing")
        assert (args.typ, args.resource_id) == (kind.type_token, "4242")

    return existing.urn.apply(check)


@pulumi.runtime.test
def test_every_resource_outputs_the_account_that_owns_it() -> Any:
    resources = [
        Endpoint("owned-endpoint"),
        Workergroup("owned-group", endpoint_id="1", search_params="gpu_name=RTX_4090"),
        Instance("owned-box", offer_id=1, image="img"),
    ]
    assert all(isinstance(resource.account_id, pulumi.Output) for resource in resources)
    return pulumi.Output.all(*(resource.urn for resource in resources))


@pytest.mark.parametrize("kind", _registry.RESOURCES, ids=lambda kind: kind.name)
@pulumi.runtime.test
def test_each_resource_registers_its_type_and_marker_and_outputs_its_account(kind: ResourceKind) -> Any:
    """Every resource of the registry; one whose marker rides in its default name gets that name."""
    resource_class = kind.resource_class()
    resource = resource_class("my.res")
    assert isinstance(resource.account_id, pulumi.Output)

    def check(_: Any) -> None:
        args = registered("my.res")
        assert args.typ == kind.type_token
        marker = args.inputs["_marker"]
        assert re.fullmatch(r"[0-9a-f]{16}", marker)
        if resource_class.default_named is not None:
            # A volume's name follows Vast's rule, ^[A-Za-z0-9_]{1,64}$: underscores where others have '-'.
            joined = "_" if kind.name == "Volume" else "-"
            assert args.inputs[resource_class.default_named] == f"my{joined}res{joined}{marker[:8]}"

    return resource.urn.apply(check)
