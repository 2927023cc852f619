"""The provider plugin's Pulumi package schema, generated from the one source of every resource: the
pydantic inputs models (types, descriptions, required inputs), the resource classes (outputs, their
descriptions, secret outputs) and the providers (secret inputs, which inputs replace).

    python -m vast_pulumi.plugin.schema            # rewrite the committed vast_pulumi/plugin/schema.json

GetSchema serves the committed file; tests/unit/test_plugin_schema.py fails when it is stale.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from vast_pulumi._dynamic import ACCOUNT_DESCRIPTION, ACCOUNT_KEY
from vast_pulumi._version import __version__
from vast_pulumi.plugin._functions import FUNCTIONS
from vast_pulumi.plugin._shapes import PACKAGE, SHAPES, Shape, camel, nested_model

SCHEMA_PATH = Path(__file__).with_name("schema.json")
_ANY = {"$ref": "pulumi.json#/Any"}

Spec = dict[str, Any]


def render() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def build() -> Spec:
    types_: dict[str, Spec] = {}
    resources = {token: _resource(shape, types_) for token, shape in SHAPES.items()}
    functions = {token: function.schema(types_) for token, function in FUNCTIONS.items()}
    config = {
        "apiKey": {
            "type": "string",
            "secret": True,
            "description": "Vast.ai API key; else VAST_API_KEY, VASTAI_API_KEY or the vastai CLI's key file.",
        },
        "apiUrl": {
            "type": "string",
            "description": "Vast.ai API URL; else VAST_URL, VASTAI_API_URL or https://console.vast.ai.",
        },
    }
    return {
        "name": PACKAGE,
        "displayName": "Vast.ai",
        "version": __version__,
        "description": "Vast.ai serverless endpoints, workergroups, GPU instances, templates, SSH keys, "
        "account env vars, volumes and fleets.",
        "keywords": ["pulumi", "vast", "gpu", "category/cloud"],
        "license": "Apache-2.0",
        "config": {"variables": config},
        "provider": {"description": "The Vast.ai provider.", "inputProperties": config},
        "resources": resources,
        "functions": functions,
        "types": dict(sorted(types_.items())),
        "language": {
            "nodejs": {"packageName": "@vast-pulumi/vast", "respectSchemaVersion": True},
            "python": {"packageName": "pulumi_vast", "respectSchemaVersion": True},
        },
    }


def _resource(shape: Shape, types_: dict[str, Spec]) -> Spec:
    model = shape.provider_class.inputs_model
    replaces = shape.provider_class.replace_on_change
    inputs: Spec = {}
    for name, annotation in shape.inputs.items():
        what = model.model_fields[name].description
        change = shape.provider_class.fields[name].on_change.value  # the field table's word for it
        spec = property_spec(annotation, f"{what} On change: {change}.", types_)
        if name.endswith(("_id", "_ids")):
            spec = _id_reference(spec)
        if name in replaces:
            spec["replaceOnChanges"] = True
        if name in shape.secrets:
            spec["secret"] = True
        inputs[camel(name)] = spec
    described = {**shape.resource.output_descriptions, ACCOUNT_KEY: ACCOUNT_DESCRIPTION}
    outputs: Spec = {}
    for name, annotation in shape.outputs.items():
        field = model.model_fields.get(name)
        description = field.description if field is not None else described.get(name)
        spec = property_spec(annotation, description, types_)
        if name in shape.secrets:
            spec["secret"] = True
        outputs[camel(name)] = spec
    required = [camel(name) for name in shape.inputs if model.model_fields[name].is_required()]
    spec = {
        "description": paragraph(shape.resource.__doc__),
        "properties": outputs,
        "inputProperties": inputs,
        "requiredInputs": required,
    }
    # Whether a replacement deletes first is the provider's Diff answer, per replacement (an Instance's
    # create_before_delete), never a fixed flag here.
    return spec


def _id_reference(spec: Spec) -> Spec:
    """An input naming another object by id takes a string too: Pulumi ids are strings
    (``${endpoint.id}``), the API's are integers, and the inputs model reads either."""
    either = {"oneOf": [{"type": "integer"}, {"type": "string"}]}
    if spec.get("type") == "integer":
        return {**either, **{key: value for key, value in spec.items() if key != "type"}}
    if spec.get("type") == "array" and spec["items"].get("type") == "integer":
        return {**spec, "items": either}
    return spec


def property_spec(annotation: Any, description: str | None, types_: dict[str, Spec]) -> Spec:
    spec = type_spec(annotation, types_)
    if description:
        spec["description"] = description
    return spec


def type_spec(annotation: Any, types_: dict[str, Spec]) -> Spec:
    """The schema type of a Python annotation; ``None`` is dropped (every property is optional)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        rest = [arg for arg in args if arg is not type(None)]
        return type_spec(rest[0], types_) if len(rest) == 1 else dict(_ANY)
    if origin is Literal:
        return {"type": _scalar(type(args[0]))}
    if origin in (list, tuple, Sequence):
        return {"type": "array", "items": type_spec(args[0], types_) if args else dict(_ANY)}
    if origin is dict:
        return {"type": "object", "additionalProperties": type_spec(args[1], types_)}
    model = nested_model(annotation)
    if model is not None:
        token = f"{PACKAGE}:index:{model.__name__}"
        if token not in types_:
            types_[token] = {}  # reserve first: a model may refer to itself
            types_[token] = object_type(model, types_)
        return {"$ref": f"#/types/{token}"}
    if annotation in (str, int, float, bool):
        return {"type": _scalar(annotation)}
    return dict(_ANY)


def object_type(model: type[BaseModel], types_: dict[str, Spec]) -> Spec:
    return {
        "type": "object",
        "description": paragraph(model.__doc__),
        "properties": {
            camel(name): property_spec(field.annotation, field.description, types_)
            for name, field in model.model_fields.items()
        },
        "required": [camel(name) for name, field in model.model_fields.items() if field.is_required()],
    }


def _scalar(kind: type) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[kind]


def paragraph(doc: str | None) -> str:
    first = " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())
    return re.sub(r":(?:func|class|mod|meth):`~?", "`", first)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else SCHEMA_PATH
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
