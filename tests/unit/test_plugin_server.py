"""The plugin's gRPC face, called in-process: configuration, Check's names and secrets, Read of a
gone object, unknown tokens. The providers behind it are the dynamic resources' own."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import grpc
import pytest
from pulumi.runtime import proto

from vast_pulumi._provider_server import EXIT_CODE
from vast_pulumi.emulator import Emulator
from vast_pulumi.plugin._server import VastPluginServicer, _props, _struct
from vast_pulumi.plugin._shapes import SECRET_SIG, SIG_KEY

KEY = "unit-plugin-key"
URN = "urn:pulumi:dev::proj::vast:index:{type}::{name}"


class Aborted(Exception):
    pass


class Context:
    """What the servicer needs of a gRPC context: ``abort`` ends the call with a status."""

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise Aborted(code, details)


def configured(url: str = "http://127.0.0.1:9") -> VastPluginServicer:
    servicer = VastPluginServicer()
    args = _struct({"apiKey": {SIG_KEY: SECRET_SIG, "value": KEY}, "apiUrl": url})
    reply = servicer.Configure(proto.ConfigureRequest(args=args), Context())
    assert reply.acceptSecrets and not reply.supportsPreview
    return servicer


def check(servicer: VastPluginServicer, type_: str, name: str, news: dict[str, Any]) -> Any:
    request = proto.CheckRequest(urn=URN.format(type=type_, name=name), olds=_struct({}), news=_struct(news))
    return servicer.Check(request, Context())


def test_check_names_fields_in_camel_case_and_fills_the_generated_name() -> None:
    servicer = configured()
    bad = check(servicer, "Endpoint", "inference", {"maxWorkers": -1})
    # No property (the engine would print the program's value); the reason names the input as written.
    assert [(failure.property, failure.reason) for failure in bad.failures] == [
        ("", "maxWorkers: must be >= 0")
    ]

    good = check(servicer, "Endpoint", "inference", {"maxWorkers": 4})
    inputs = _props(good.inputs)
    assert not good.failures
    assert inputs["maxWorkers"] == 4 and inputs["endpointName"].startswith("inference-")
    assert inputs["coldWorkers"] == 4  # the providers' own default: min(5, max_workers)


def test_check_fills_a_volume_name_by_vasts_name_rule() -> None:
    """A volume's generated name is ``<name>_<8 hex>`` (``^[A-Za-z0-9_]{1,64}$``), as the dynamic
    resource's: with ``-`` its own check would refuse it."""
    good = check(configured(), "Volume", "team.models", {"size": 20, "offerQuery": "reliability>0.9"})
    assert not good.failures
    name = _props(good.inputs)["name"]
    assert name.startswith("team_models_") and len(name) == len("team_models_") + 8


def test_check_returns_secret_inputs_wrapped_as_secrets() -> None:
    servicer = configured()
    reply = check(servicer, "EnvVar", "token", {"name": "HF_TOKEN", "value": "abc123"})
    raw = dict(reply.inputs)
    assert dict(raw["value"]) == {SIG_KEY: SECRET_SIG, "value": "abc123"}
    assert raw["name"] == "HF_TOKEN"


def test_check_config_refuses_plain_http_to_another_host_naming_api_url() -> None:
    servicer = VastPluginServicer()
    news = _struct({"apiUrl": "http://vast.example.com"})
    reply = servicer.CheckConfig(proto.CheckRequest(olds=_struct({}), news=news), Context())
    assert [failure.property for failure in reply.failures] == ["apiUrl"]
    assert "refusing plain http://" in reply.failures[0].reason


def test_read_of_a_gone_object_answers_no_id(vast_emulator_factory: Callable[..., Emulator]) -> None:
    servicer = configured(vast_emulator_factory(api_keys=[KEY]).url)
    urn = URN.format(type="Endpoint", name="ep")
    missing = servicer.Read(proto.ReadRequest(id="999999", urn=urn), Context())
    assert missing.id == ""  # gone: the engine drops it


def test_an_unknown_function_or_type_fails_naming_it() -> None:
    servicer = configured()
    with pytest.raises(Aborted, match="vast:index:getNothing"):
        servicer.Invoke(proto.ResourceInvokeRequest(tok="vast:index:getNothing"), Context())
    with pytest.raises(Aborted, match="vast:index:Nothing"):
        check(servicer, "Nothing", "x", {})


def test_the_plugin_exits_when_the_engine_that_started_it_is_gone() -> None:
    """A killed `pulumi up` must not leave the plugin renting machines nobody records: the plugin
    watches the engine address it was given (its last argument) and exits once it refuses."""
    engine = socket.socket()
    engine.bind(("127.0.0.1", 0))
    engine.listen()
    address = f"127.0.0.1:{engine.getsockname()[1]}"
    plugin = Path(sys.executable).parent / "pulumi-resource-vast"
    with subprocess.Popen([str(plugin), address], stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip().isdigit()  # serving: it printed its port
        engine.close()
        assert process.wait(timeout=120) == EXIT_CODE
