"""Issue 5 acceptance: bad input fails at `pulumi preview` with the field named, and no write
request reaches the API.

Each case is one resource expression; the program is rewritten per case and previewed with the
real CLI against the emulator.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import backend_or_fail
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import Stack

API_KEY = "e2e-bad-input-key"
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
    ("box-disk-not-a-number", INSTANCE.format(GOOD_BOX + ", disk='big'"), "disk"),
    ("box-target-state-unknown", INSTANCE.format(GOOD_BOX + ", target_state='paused'"), "target_state"),
    ("box-image-and-template", INSTANCE.format(GOOD_BOX + ", template_hash_id='abc'"), "image"),
    ("box-no-image-or-template", INSTANCE.format("offer_query='gpu_name=RTX_4090'"), "image"),
    ("box-ready-timeout-negative", INSTANCE.format(GOOD_BOX + ", ready_timeout=-1"), "ready_timeout"),
    ("box-offer-id-negative", INSTANCE.format("offer_id=-4, image='x'"), "offer_id"),
    ("box-label-too-long", INSTANCE.format(GOOD_BOX + ", label='x' * 1025"), "label"),
    ("box-runtype-unknown", INSTANCE.format(GOOD_BOX + ", runtype='telnet'"), "runtype"),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(api_keys=[API_KEY], seed=4) as emu:
        yield emu


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, emulator: Emulator) -> Stack:
    root = tmp_path_factory.mktemp("bad-input")
    backend = backend_or_fail(root / "pulumi")
    project = root / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: bad-input\nruntime: python\n")
    (project / "__main__.py").write_text("")
    return backend.stack(
        project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
    )


def write_program(stack: Stack, expression: str) -> None:
    program = f"""
        from vast_pulumi import Endpoint, Instance, Workergroup

        {expression}
    """
    (Path(stack.project_dir) / "__main__.py").write_text(textwrap.dedent(program))


@pytest.mark.parametrize(("expression", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_preview_naming_the_field_with_no_write(
    stack: Stack, emulator: Emulator, expression: str, field: str
) -> None:
    write_program(stack, expression)
    before = len(emulator.request_log())
    result = stack.preview(check=False)
    assert result.returncode != 0, result.stdout
    # The engine names the property; our rule text starts with the field (or a path inside it).
    assert re.search(rf"property {field} value .* has a problem: {field}[.:]", result.stdout), result.stdout
    assert "Traceback" not in result.stdout
    writes = [r for r in emulator.request_log()[before:] if r["method"] in {"POST", "PUT", "DELETE", "PATCH"}]
    assert writes == []
