"""Bad input fails at preview, naming the field and the rule: each case is one resource expression, as
a program would write it, run under Pulumi's mocks; what the resource registers goes to its provider's
``check``, as the engine sends it at ``pulumi preview``. The providers are not configured, so nothing
can reach an API. ``tests/e2e/test_bad_input.py`` runs a few of these cases through the real CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from vast_pulumi import Endpoint, Instance, Workergroup
from vast_pulumi._dynamic import VastProvider, failure_field
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.workergroup import WorkergroupProvider

ENDPOINT = "Endpoint('ep', {})"
WORKERGROUP = "Workergroup('wg', {})"
INSTANCE = "Instance('box', {})"
GOOD_WG = "endpoint_name='ep', search_params='gpu_name=RTX_4090'"
GOOD_BOX = "offer_query='gpu_name=RTX_4090', image='pytorch/pytorch'"

# (case id, resource expression, field the error must name)
CASES = [
    ("endpoint-name-charset", ENDPOINT.format("endpoint_name='bad name!'"), "endpoint_name"),
    ("endpoint-name-too-long", ENDPOINT.format("endpoint_name='x' * 256"), "endpoint_name"),
    ("target-util-zero", ENDPOINT.format("target_util=0"), "target_util"),
    ("target-util-above-one", ENDPOINT.format("target_util=1.5"), "target_util"),
    ("max-workers-negative", ENDPOINT.format("max_workers=-1"), "max_workers"),
    ("max-workers-not-a-number", ENDPOINT.format("max_workers='many'"), "max_workers"),
    ("cold-workers-fractional", ENDPOINT.format("cold_workers=2.5"), "cold_workers"),
    ("endpoint-state-unknown", ENDPOINT.format("endpoint_state='paused'"), "endpoint_state"),
    ("min-load-negative", ENDPOINT.format("min_load=-5"), "min_load"),
    ("max-queue-time-negative", ENDPOINT.format("max_queue_time=-1"), "max_queue_time"),
    ("wg-both-endpoint-refs", WORKERGROUP.format("endpoint_id=1, " + GOOD_WG), "endpoint_id"),
    ("wg-no-endpoint-ref", WORKERGROUP.format("search_params='gpu_name=RTX_4090'"), "endpoint_id"),
    ("wg-template-and-search", WORKERGROUP.format("template_hash='abc', " + GOOD_WG), "template_hash"),
    ("wg-no-worker-spec", WORKERGROUP.format("endpoint_name='ep'"), "template_hash"),
    (
        "wg-query-grammar",
        WORKERGROUP.format("endpoint_name='ep', search_params='num_gpus>>1'"),
        "search_params",
    ),
    (
        "wg-query-unknown-field",
        WORKERGROUP.format("endpoint_name='ep', search_params='gpu_colour=red'"),
        "search_params",
    ),
    ("wg-gpu-ram-negative", WORKERGROUP.format(GOOD_WG + ", gpu_ram=-1"), "gpu_ram"),
    ("wg-max-workers-negative", WORKERGROUP.format(GOOD_WG + ", max_workers=-3"), "max_workers"),
    (
        "wg-launch-args-unbalanced-quote",
        WORKERGROUP.format(GOOD_WG + ', launch_args="--image \'x"'),
        "launch_args",
    ),
    ("box-offer-id-and-query", INSTANCE.format("offer_id=5, " + GOOD_BOX), "offer_id"),
    ("box-no-offer", INSTANCE.format("image='pytorch/pytorch'"), "offer_id"),
    ("box-query-unknown-field", INSTANCE.format("offer_query='flux_capacitor>1', image='x'"), "offer_query"),
    ("box-query-grammar", INSTANCE.format("offer_query='num_gpus=>1 ===', image='x'"), "offer_query"),
    ("box-price-negative", INSTANCE.format(GOOD_BOX + ", price=-0.5"), "price"),
    ("box-price-absurd", INSTANCE.format(GOOD_BOX + ", price=1000"), "price"),
    ("box-onstart-too-long", INSTANCE.format(GOOD_BOX + ", onstart='x' * 4049"), "onstart"),
    ("box-env-value-not-string", INSTANCE.format(GOOD_BOX + ", env={'A': 1}"), "env"),
    ("box-env-key-invalid", INSTANCE.format(GOOD_BOX + ", env={'1 BAD KEY': 'x'}"), "env"),
    ("box-disk-zero", INSTANCE.format(GOOD_BOX + ", disk=0"), "disk"),
    # Issue 20: accepted before, and the API sorted by nothing (an unsorted pick at $0.47/h).
    ("box-order-names-no-field", INSTANCE.format(GOOD_BOX + ", order='cheapest'"), "order"),
    ("box-disk-not-a-number", INSTANCE.format(GOOD_BOX + ", disk='big'"), "disk"),
    ("box-target-state-unknown", INSTANCE.format(GOOD_BOX + ", target_state='paused'"), "target_state"),
    ("box-image-and-template", INSTANCE.format(GOOD_BOX + ", template_hash_id='abc'"), "image"),
    ("box-no-image-or-template", INSTANCE.format("offer_query='gpu_name=RTX_4090'"), "image"),
    ("box-ready-timeout-negative", INSTANCE.format(GOOD_BOX + ", ready_timeout=-1"), "ready_timeout"),
    ("box-offer-id-negative", INSTANCE.format("offer_id=-4, image='x'"), "offer_id"),
    ("box-label-too-long", INSTANCE.format(GOOD_BOX + ", label='x' * 1025"), "label"),
    ("box-runtype-unknown", INSTANCE.format(GOOD_BOX + ", runtype='telnet'"), "runtype"),
]
CASE_IDS = [case[0] for case in CASES]
PROVIDERS: dict[str, type[VastProvider[Any]]] = {
    "pulumi-python:dynamic/vast:Endpoint": EndpointProvider,
    "pulumi-python:dynamic/vast:Workergroup": WorkergroupProvider,
    "pulumi-python:dynamic/vast:Instance": InstanceProvider,
}


def case(case_id: str) -> tuple[str, str]:
    """(expression, field) of the case named ``case_id``."""
    (found,) = [(expression, field) for name, expression, field in CASES if name == case_id]
    return found


class Registered(pulumi.runtime.Mocks):
    """Keeps what each resource registers: its type and its serialized inputs."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture
def registered() -> Iterator[Registered]:
    # Pulumi's mocks run on the current event loop; an earlier test's asyncio.run() leaves the main
    # thread with none, so each test gets its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = Registered()
    pulumi.runtime.set_mocks(mocks, project="proj", stack="dev", preview=True)
    yield mocks
    asyncio.set_event_loop(None)
    loop.close()


@pytest.mark.parametrize(("expression", "field"), [c[1:] for c in CASES], ids=CASE_IDS)
def test_bad_input_fails_at_check_naming_the_field_and_the_rule(
    registered: Registered, expression: str, field: str
) -> None:
    @pulumi.runtime.test
    def program() -> Any:
        resource = eval(expression, {"Endpoint": Endpoint, "Instance": Instance, "Workergroup": Workergroup})
        return resource.urn

    program()
    (args,) = registered.resources
    result = PROVIDERS[args.typ]().check({}, dict(args.inputs))
    assert [failure_field(failure) for failure in result.failures] == [field]
    # The rule text starts with the field (or a path inside it): "field: rule" or "field.key: rule".
    reason = result.failures[0].reason
    assert reason.startswith((f"{field}:", f"{field}.")), reason
    assert len(reason) > len(field) + 2, reason
