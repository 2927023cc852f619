"""The gRPC face of the provider plugin: Pulumi's ResourceProvider protocol over the same provider
classes the dynamic resources use.

The SDK's ``pulumi.provider`` package serves only component providers (Construct, Call, Invoke), so
this implements the generated ``ResourceProviderServicer`` directly, the way the SDK's own dynamic
provider server does (``pulumi/dynamic/__main__.py``): a synchronous gRPC server whose worker threads
run the providers' blocking calls. Each request is translated (camelCase names, secret wrappers,
the marker from the URN) and handed to the resource's :class:`~vast_pulumi._dynamic.VastProvider`;
nothing of a resource's behaviour is written here.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.runtime import proto, rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import ResourceProviderServicer, provider_pb2_grpc

from vast_pulumi._dynamic import MARKER_KEY, VastProvider, failure_field, marker_of
from vast_pulumi._provider_server import serve_plugin
from vast_pulumi._version import __version__
from vast_pulumi.errors import VastError
from vast_pulumi.plugin._functions import FUNCTIONS
from vast_pulumi.plugin._shapes import SHAPES, Props, Shape, camel, unwrap_secrets
from vast_pulumi.plugin.schema import SCHEMA_PATH
from vast_pulumi.settings import CONFIG_API_KEY, CONFIG_API_URL, ProviderSettings

# Instance creates hold their thread while machines boot: a fleet must not boot in rounds.
WORKERS = 64
# What self-managed backends call every organization: the plugin cannot ask the engine.
ORGANIZATION = "organization"

Request = TypeVar("Request")
Reply = TypeVar("Reply")


def _reported(
    method: Callable[[VastPluginServicer, Request, grpc.ServicerContext], Reply],
) -> Callable[[VastPluginServicer, Request, grpc.ServicerContext], Reply]:
    """Our errors reach the CLI as their one-line message; anything else (a bug) with its traceback."""

    @functools.wraps(method)
    def wrapper(self: VastPluginServicer, request: Request, context: grpc.ServicerContext) -> Reply:
        try:
            return method(self, request, context)
        except VastError as error:
            context.abort(grpc.StatusCode.UNKNOWN, str(error))
        except Exception:
            context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())
        raise AssertionError("context.abort raises")  # pragma: no cover

    return wrapper


def _props(struct: struct_pb2.Struct | None, *, keep_unknowns: bool = False) -> Props:
    if struct is None:
        return {}
    return dict(unwrap_secrets(rpc.deserialize_properties(struct, keep_unknowns) or {}))


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def _urn_parts(urn: str) -> tuple[str, str, str]:
    """(stack, project, resource name) of ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    head, project, _type, name = urn.split("::", 3)
    return head.split(":")[-1], project, name


class VastPluginServicer(ResourceProviderServicer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: dict[str, str] = {}
        self._providers: dict[str, VastProvider[Any]] = {}

    # -- the provider itself ------------------------------------------------------------------------

    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> Any:
        return proto.PluginInfo(version=__version__)

    def GetSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return proto.GetSchemaResponse(schema=SCHEMA_PATH.read_text(encoding="utf-8"))

    @_reported
    def CheckConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        news = _props(request.news, keep_unknowns=True)
        failures = []
        url = news.get("apiUrl")
        if isinstance(url, str) and url:
            try:
                ProviderSettings(api_key="checked-later", api_url=url)
            except VastError as error:
                failures.append(proto.CheckFailure(property="apiUrl", reason=str(error)))
        return proto.CheckResponse(inputs=request.news, failures=failures)

    @_reported
    def DiffConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        olds, news = _props(request.olds), _props(request.news, keep_unknowns=True)
        changed = [key for key in ("apiKey", "apiUrl") if olds.get(key) != news.get(key)]
        # A new key or URL updates the provider; it never replaces what it manages.
        changes = proto.DiffResponse.DIFF_SOME if changed else proto.DiffResponse.DIFF_NONE
        return proto.DiffResponse(changes=changes, diffs=changed)

    @_reported
    def Configure(self, request: Any, context: grpc.ServicerContext) -> Any:
        args = _props(request.args) if request.HasField("args") else {}
        # Variables are keyed `vast:config:apiKey` in the protocol's older form, `vast:apiKey` in the newer.
        raw = {key.replace(":config:", ":"): str(value) for key, value in request.variables.items()}
        for name, key in (("apiKey", CONFIG_API_KEY), ("apiUrl", CONFIG_API_URL)):
            if args.get(name):
                raw[key] = str(args[name])
        with self._lock:
            self._config = raw
            self._providers = {}
        return proto.ConfigureResponse(acceptSecrets=True, supportsPreview=False)

    def _provider(self, shape: Shape) -> VastProvider[Any]:
        """One configured provider object per resource type, as the dynamic server keeps one."""
        with self._lock:
            provider = self._providers.get(shape.token)
            if provider is None:
                provider = shape.provider_class()
                provider.configure(ConfigureRequest(Config(self._config, "")))
                self._providers[shape.token] = provider
            return provider

    def _shape(self, urn_or_type: str) -> Shape:
        token = urn_or_type.split("::")[2] if urn_or_type.startswith("urn:") else urn_or_type
        shape = SHAPES.get(token)
        if shape is None:
            raise VastError(f"vast has no resource type {token!r} (known: {', '.join(SHAPES)})")
        return shape

    # -- resources ---------------------------------------------------------------------------------------

    @_reported
    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        shape = self._shape(request.urn)
        stack, project, name = _urn_parts(request.urn)
        marker = marker_of(f"{ORGANIZATION}/{project}/{stack}", shape.token, name)
        olds = shape.to_provider(_props(request.olds, keep_unknowns=True))
        news = shape.to_provider(_props(request.news, keep_unknowns=True))
        named = shape.resource.default_named  # the resource's own rule: <name>-<8 hex of the marker>
        if named is not None and news.get(named) is None:
            news[named] = shape.resource.default_name_for(name, marker)  # a Volume's: <name>_<8 hex>
        news[MARKER_KEY] = marker
        result = self._provider(shape).check(olds, news)
        # No property, as the providers give none (the engine would print the program's value of it);
        # the reason starts with the input, in the program's spelling.
        failures = [
            proto.CheckFailure(
                property="",
                reason=camel(failure_field(failure)) + failure.reason[len(failure_field(failure)) :],
            )
            for failure in result.failures
        ]
        return proto.CheckResponse(inputs=_struct(shape.to_engine(result.inputs)), failures=failures)

    @_reported
    def Diff(self, request: Any, context: grpc.ServicerContext) -> Any:
        shape = self._shape(request.urn)
        olds = shape.to_provider(_props(request.olds))
        news = shape.to_provider(_props(request.news, keep_unknowns=True))
        result = self._provider(shape).diff(request.id, olds, news)
        if result.changes is None:
            changes = proto.DiffResponse.DIFF_UNKNOWN
        else:
            changes = proto.DiffResponse.DIFF_SOME if result.changes else proto.DiffResponse.DIFF_NONE
        return proto.DiffResponse(
            changes=changes,
            replaces=[camel(key) for key in result.replaces or []],
            deleteBeforeReplace=bool(result.delete_before_replace),
        )

    @_reported
    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:
        shape = self._shape(request.urn)
        result = self._provider(shape).create(shape.to_provider(_props(request.properties)))
        return proto.CreateResponse(id=result.id, properties=_struct(shape.to_engine(result.outs or {})))

    @_reported
    def Read(self, request: Any, context: grpc.ServicerContext) -> Any:
        """A refresh (old outputs given), or an import / ``get`` (the id alone)."""
        shape = self._shape(request.urn)
        props = shape.to_provider(_props(request.properties) or _props(request.inputs))
        result = self._provider(shape).read(request.id, props)
        if result.id is None or not result.outs:
            return proto.ReadResponse()  # no id: gone, and the engine drops it
        # No inputs back: the stored ones stand (a refresh that found no drift).
        inputs = request.inputs if result.inputs is None else _struct(shape.to_engine(result.inputs))
        return proto.ReadResponse(
            id=result.id, properties=_struct(shape.to_engine(result.outs)), inputs=inputs
        )

    @_reported
    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:
        shape = self._shape(request.urn)
        olds = shape.to_provider(_props(request.olds))
        news = shape.to_provider(_props(request.news))
        result = self._provider(shape).update(request.id, olds, news)
        return proto.UpdateResponse(properties=_struct(shape.to_engine(result.outs or {})))

    @_reported
    def Delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        shape = self._shape(request.urn)
        self._provider(shape).delete(request.id, shape.to_provider(_props(request.properties)))
        return empty_pb2.Empty()

    # -- functions -----------------------------------------------------------------------------------

    @_reported
    def Invoke(self, request: Any, context: grpc.ServicerContext) -> Any:
        function = FUNCTIONS.get(request.tok)
        if function is None:
            raise VastError(f"vast has no function {request.tok!r} (known: {', '.join(FUNCTIONS)})")
        settings = ProviderSettings.resolve(
            self._config.get(CONFIG_API_KEY) or None, self._config.get(CONFIG_API_URL) or None
        )
        outputs = function.invoke(_props(request.args), settings)
        return proto.InvokeResponse(**{"return": _struct(outputs)})

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        # Calls in flight finish what they started (a half-made rent would be lost otherwise); the
        # engine stops sending new ones.
        return empty_pb2.Empty()


def main() -> None:
    """``pulumi-resource-vast ENGINE_ADDRESS``: serve, print the port, run until the engine goes."""
    # The engine's address is the last argument (logging flags, when the engine passes any, come first).
    serve_plugin(sys.argv[-1] if len(sys.argv) > 1 and not sys.argv[-1].startswith("-") else None)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS), options=_GRPC_CHANNEL_OPTIONS)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(VastPluginServicer(), server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    server.wait_for_termination()
