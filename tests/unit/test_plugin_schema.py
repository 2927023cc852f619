"""The provider plugin's schema is what ``make docs`` generates from the models today, and says what
the providers do: every resource under ``vast:index:<Name>``, camelCase names, secrets marked, the
inputs whose change replaces marked ``replaceOnChanges``; and the plugin's name translation is
driven by the models (data keys pass untouched)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vast_pulumi import _registry
from vast_pulumi.plugin import schema
from vast_pulumi.plugin._shapes import SECRET_SIG, SHAPES, SIG_KEY, camel, unwrap_secrets


def committed() -> dict[str, Any]:
    return json.loads(schema.SCHEMA_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_committed_schema_is_what_make_docs_generates_today() -> None:
    assert schema.SCHEMA_PATH.read_text(encoding="utf-8") == schema.render(), (
        "vast_pulumi/plugin/schema.json is stale: run `make docs`"
    )


def test_every_resource_has_its_token_and_camel_case_inputs() -> None:
    resources = committed()["resources"]
    assert set(resources) == {f"vast:index:{kind.name}" for kind in _registry.RESOURCES}
    assert len(resources) == 8
    endpoint = resources["vast:index:Endpoint"]
    assert {"maxWorkers", "endpointName", "inactivityTimeout"} <= set(endpoint["inputProperties"])
    assert not [name for spec in resources.values() for name in spec["inputProperties"] if "_" in name]


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=lambda shape: shape.name)
def test_replacing_and_secret_properties_are_marked_as_the_provider_acts(shape: Any) -> None:
    spec = committed()["resources"][shape.token]
    replaces = {name for name, prop in spec["inputProperties"].items() if prop.get("replaceOnChanges")}
    assert replaces == {camel(name) for name in shape.provider_class.replace_on_change}
    secret_outputs = {name for name, prop in spec["properties"].items() if prop.get("secret")}
    assert {camel(name) for name in shape.resource.secret_outputs} <= secret_outputs


def test_a_hand_edit_of_the_schema_fails_the_staleness_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    edited = tmp_path / "schema.json"
    edited.write_text(
        schema.SCHEMA_PATH.read_text(encoding="utf-8").replace('"maxWorkers"', '"maxWorker"', 1)
    )
    monkeypatch.setattr(schema, "SCHEMA_PATH", edited)
    with pytest.raises(AssertionError, match="stale"):
        test_the_committed_schema_is_what_make_docs_generates_today()


def test_names_translate_by_the_model_and_data_keys_pass_untouched() -> None:
    instance = SHAPES["vast:index:Instance"]
    engine = {
        "sshKeyIds": [1],
        "env": {"HF_TOKEN": "x", "-p 8000:8000": "1"},
        "volumeInfo": {"volumeId": 7, "mountPath": "/data"},
        "imageLogin": {SIG_KEY: SECRET_SIG, "value": "-u me -p token reg"},
    }
    props = instance.to_provider(unwrap_secrets(engine))
    assert props == {
        "ssh_key_ids": [1],
        "env": {"HF_TOKEN": "x", "-p 8000:8000": "1"},
        "volume_info": {"volume_id": 7, "mount_path": "/data"},
        "image_login": "-u me -p token reg",
    }
    back = instance.to_engine(props)
    assert back["imageLogin"] == {SIG_KEY: SECRET_SIG, "value": "-u me -p token reg"}
    assert back["volumeInfo"] == {"volumeId": 7, "mountPath": "/data"} and back["env"] == engine["env"]
