"""Issue 20: errors that name their cause and the fix, through the real CLI, on one stack.

* a positional call ``Instance("box", "q", "img")`` is one line saying how to call it (before, a
  ``TypeError`` from the package's internals, with its traceback);
* a typo in a ``vast:*`` config key (``vast:apiurl``) is refused at preview with "did you mean"
  (before, the provider silently fell back to the real console);
* an ``vast:apiUrl`` where nothing listens fails the ``up`` at once, naming the URL and that it comes
  from the stack config, with no retry (before: 26-38 s of retries, and neither URL nor source);
* a ``destroy`` after the key was changed uses the key of the last ``up``: its error says so and what
  to run (before, it advised setting the key just set).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import yaml  # type: ignore[import-untyped]  # installed with the Pulumi SDK

from tests.e2e.conftest import ProjectFactory, tracebacks_through_our_code
from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

RIGHT_KEY = "e2e-causes-right-key"  # the key the user sets to destroy
OTHER_KEY = "e2e-causes-other-key"  # the key of the last up, revoked since
PROGRAM = "from vast_pulumi import Endpoint\n\nEndpoint('ep')\n"
POSITIONAL = 'from vast_pulumi import Instance\n\nInstance("box", "gpu_name=RTX_4090", "pytorch/pytorch")\n'


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[RIGHT_KEY, OTHER_KEY], seed=2) as emu:
        yield emu


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def remove_config(stack: Stack, key: str) -> None:
    """``pulumi config rm KEY``, as the CLI writes the settings file."""
    settings = yaml.safe_load(stack.config_file.read_text())
    del settings["config"][key]
    stack.config_file.write_text(yaml.safe_dump(settings, sort_keys=False))


def test_errors_name_the_cause_and_the_fix(
    local_backend: LocalBackend, emulator: Emulator, make_project: ProjectFactory
) -> None:
    project = make_project("causes", POSITIONAL)
    stack = local_backend.stack(
        project, config={"vast:apiurl": emulator.url}, secrets={"vast:apiKey": OTHER_KEY}
    )
    positional = stack.preview(check=False)
    assert positional.returncode != 0
    assert (
        '    error: Instance(...) takes a resource name, then its inputs as keywords: Instance("box", '
        "<input>=<value>, ..., opts=pulumi.ResourceOptions(...)); the second argument, if any, is a dict of "
        "inputs (InstanceArgs)\n"
    ) in positional.stdout, positional.output
    assert tracebacks_through_our_code(positional.output) == []

    (project / "__main__.py").write_text(PROGRAM)
    typo = stack.preview(check=False)
    assert typo.returncode != 0
    assert "unknown config key vast:apiurl; did you mean 'vast:apiUrl'?" in typo.stdout, typo.output

    remove_config(stack, "vast:apiurl")
    nowhere = f"http://127.0.0.1:{closed_port()}"
    stack.set_config("vast:apiUrl", nowhere)
    refused = stack.up(check=False)
    assert refused.returncode != 0
    assert (
        f"no response from {nowhere} (connection refused; URL from the stack config vast:apiUrl); "
        "the request was not sent: set the right one with `pulumi config set vast:apiUrl <url>`"
    ) in refused.stdout, refused.output
    assert "retry" not in refused.output  # the client's retry warnings: none for a URL where nothing listens

    stack.set_config("vast:apiUrl", emulator.url)
    stack.up()
    emulator.backend.api_keys.remove(OTHER_KEY)  # revoked: the user sets the right key, then destroys
    stack.set_config("vast:apiKey", RIGHT_KEY, secret=True)
    stale = stack.destroy(check=False)
    assert stale.returncode != 0
    assert "rejected the API key from the stack config vast:apiKey (401 Invalid user key)" in stale.stdout
    assert (
        "A `pulumi refresh` or `pulumi destroy` uses the vast:apiKey and vast:apiUrl of the last "
        "`pulumi up`: after changing them, run `pulumi up` (or `pulumi refresh --run-program`) first"
    ) in stale.stdout
    emulator.backend.api_keys.append(OTHER_KEY)
    assert len(VastInventory(emulator.url, OTHER_KEY).endpoints()) == 1  # nothing was deleted
    assert [r["type"] for r in stack.resources()][-1].endswith("vast:Endpoint")  # nor forgotten
