"""What the eight dynamic providers and resources share (the resources are listed in
:mod:`vast_pulumi._registry`).

Provider side (:class:`VastProvider`), written around the traps of Python dynamic providers
(the SDK's ``pulumi/dynamic`` module and its provider server, ``pulumi.dynamic.__main__``):

* The provider object is pickled into every resource's state, so it carries nothing: ``__getstate__``
  returns ``{}``. ``configure()`` reads ``vast:apiKey``/``vast:apiUrl`` from the stack config at run
  time, and the API client is built lazily, once, and shared by every provider in the process.
* One provider object serves every concurrent call of its resource type; what it holds is guarded by a
  lock.
* ``check`` validates the new inputs with the resource's pydantic model, turns each problem into a
  ``CheckFailure`` naming the field and the rule (never the value), turns the floats the engine sends
  back into ints, fills defaults, and leaves values that are unknown at preview alone.
* ``diff`` compares the new inputs with the old outputs (which hold every input's effective value) and
  lists the fields that force a replacement, as the provider's field table says
  (:mod:`vast_pulumi._fields`). It calls no API (a no-change preview costs nothing), but for a
  machine's replacement, which first checks that the new one can be rented (``_preflight``).
* ``read`` says "gone" with ``ReadResult(None, {})``; when a refresh finds drift in a field the table says
  it reads back, it returns the drifted inputs too, so the next preview shows what it will change back.

Resource side (:class:`VastResource`): every output key is declared in the props (as ``None``) so the SDK
creates its ``Output`` attribute, the caller's dict is copied, secret outputs are marked with
``additional_secret_outputs``, and a *marker* (a hash of organization, project, stack, type and resource
name) is passed as the hidden input ``_marker``: every create uses it to find what an interrupted
earlier attempt made instead of making a duplicate.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, DiffResult, ReadResult
from pulumi.output import Unknown
from pydantic import BaseModel, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from vast_pulumi._fields import Field, OnChange
from vast_pulumi._provider_server import configure_server
from vast_pulumi.client import VastClient, shared_client
from vast_pulumi.errors import STALE_CONFIG_NOTE, VastAccountError, VastError, VastInputError
from vast_pulumi.query import QueryError, parse_query
from vast_pulumi.settings import CONFIG_API_KEY, CONFIG_API_URL, ProviderSettings, check_config_keys

PROVIDER_KEY = "__provider"
MARKER_KEY = "_marker"
ADOPT_KEY = "adopt_id"
ACCOUNT_KEY = "account_id"  # output: the id of the account that owns the object
ACCOUNT_DESCRIPTION = "The id of the Vast.ai account that owns the object."
# Inputs that only matter to create: never a reason to update or replace.
_NOT_DIFFED = frozenset({PROVIDER_KEY, MARKER_KEY, ADOPT_KEY})

Props = dict[str, Any]
InputsT = TypeVar("InputsT", bound=BaseModel)


# -- input models ------------------------------------------------------------------------------------------


def is_unknown(value: object) -> bool:
    """Whether a value (or anything nested in it) is not known yet, as at preview."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(item) for item in value)
    return False


def rule_error(field: str, rule: str) -> PydanticCustomError:
    """A model-level validation error attributed to ``field`` (pydantic would attribute it to no field)."""
    return PydanticCustomError("vast_rule", "{rule}", {"field": field, "rule": rule})


def unknown_fields(info: ValidationInfo) -> frozenset[str]:
    """The inputs that are not known yet (at preview), as ``check`` passes them to the model."""
    return cast(frozenset[str], (info.context or {}).get("unknown", frozenset()))


def require_one_of(
    model: BaseModel, info: ValidationInfo, names: Iterable[str], *, required: bool = True
) -> None:
    """Exactly one (or, with ``required=False``, at most one) of ``names`` is set.

    A value still unknown at preview counts as set: it will be.
    """
    names = list(names)
    unknown = unknown_fields(info)
    present = [name for name in names if getattr(model, name) is not None or name in unknown]
    listed = ", ".join(names)
    if len(present) > 1:
        raise rule_error(present[0], f"set only one of {listed} (got {', '.join(present)})")
    if required and not present:
        raise rule_error(names[0], f"set exactly one of {listed}")


def parsable_query(query: str) -> str:
    """A field validator: ``query`` is in the official CLI's offer query language."""
    try:
        parse_query(query)
    except QueryError as error:
        raise VastInputError(str(error)) from None  # the message alone: no chain into pydantic's report
    return query


def describe_failures(error: ValidationError, model: type[BaseModel]) -> list[CheckFailure]:
    """One ``CheckFailure`` per problem, reading "field: rule"; values never appear (they may be secret).

    The failure names no property: given one, the engine prints "property P value V has a problem",
    V being the program's value of P (``issueCheckFailures`` in pkg/resource/deploy/step_generator.go
    redacts only values already marked secret), so a private key pasted as ``public_key`` or a token
    in ``env`` would reach the terminal and CI logs. Without one it prints "resource 'N' has a
    problem: <reason>", and the reason starts with the field (see :func:`failure_field`).
    """
    failures = []
    for detail in error.errors(include_url=False):
        _field, where, rule = _locate(detail, model)
        failures.append(CheckFailure("", f"{where}: {rule}"))
    return failures


def failure_field(failure: CheckFailure) -> str:
    """The input a failure of :func:`describe_failures` is about ("env" of "env.A: must be ...")."""
    return failure.reason.split(":", 1)[0].split(".", 1)[0]


def _locate(detail: ErrorDetails, model: type[BaseModel]) -> tuple[str, str, str]:
    """(input, where inside it, rule) of one pydantic error, e.g. ("env", "env.A", "must be a string")."""
    ctx = detail.get("ctx") or {}
    if detail["type"] == "vast_rule":
        return str(ctx["field"]), str(ctx["field"]), str(ctx["rule"])
    loc = [str(part) for part in detail["loc"]]
    field = loc[0] if loc else model.__name__
    kind = detail["type"]
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        rule = _bounds(model, field)
    elif kind in ("int_from_float", "int_parsing", "int_type"):
        rule = "must be a whole number"
    elif kind in ("float_parsing", "float_type"):
        rule = "must be a number"
    elif kind == "string_too_long":
        rule = f"must be at most {ctx.get('max_length')} characters"
    elif kind == "extra_forbidden":
        rule = f"is not an input of {model.__name__.removesuffix('Inputs')}"
    elif kind == "missing":
        rule = "is required"
    else:
        rule = detail["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return field, ".".join(loc) or field, rule


def _bounds(model: type[BaseModel], field: str) -> str:
    info = model.model_fields.get(field)
    words = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    parts = [
        f"{words[name]} {getattr(constraint, name):g}"
        for constraint in (info.metadata if info else [])
        for name in words
        if getattr(constraint, name, None) is not None
    ]
    return "must be " + " and ".join(parts)


# -- the provider base --------------------------------------------------------------------------------------


class VastProvider(pulumi.dynamic.ResourceProvider, Generic[InputsT]):
    """The shared half of every provider; subclasses add create/read/update/delete."""

    # The pickle holds no secret (see __getstate__), so it need not be encrypted in state.
    serialize_as_secret_always = False

    inputs_model: type[InputsT]
    # What each input does (vast_pulumi._fields.table): diff, read_result and the reference read it.
    fields: ClassVar[Mapping[str, Field]] = {}
    # Derived from ``fields`` when a subclass declares it (see __init_subclass__):
    # inputs whose change needs a new object;
    replace_on_change: ClassVar[frozenset[str]] = frozenset()
    # inputs that, left unset, take whatever the API has: unset is never a change;
    server_defaults: ClassVar[frozenset[str]] = frozenset()
    # secret inputs: never returned as refreshed inputs from read (outputs carry them, marked secret).
    secret_inputs: ClassVar[frozenset[str]] = frozenset()
    delete_before_replace: ClassVar[bool] = False
    # What the object is called in messages ("endpoint").
    noun: ClassVar[str] = "object"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "fields" in vars(cls):
            cls.replace_on_change = frozenset(
                k for k, f in cls.fields.items() if f.on_change is OnChange.REPLACES
            )
            cls.server_defaults = frozenset(k for k, f in cls.fields.items() if f.server_default)
            cls.secret_inputs = frozenset(k for k, f in cls.fields.items() if f.secret)

    def __init__(self) -> None:
        super().__init__()
        self._reset()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # the pickle names the class and nothing else: no key, no client

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._config_api_key: str | None = None
        self._config_api_url: str | None = None
        self._client: VastClient | None = None

    def configure(self, req: ConfigureRequest) -> None:
        # Inside the SDK's provider server: a wider thread pool (creates and deletes hold their thread
        # while machines boot or go), an engine watch, log lines and one-line errors.
        configure_server()
        # Every stack config key reaches the provider (the SDK's Config keeps them in ``_props``).
        check_config_keys(getattr(req.config, "_props", None) or {})
        with self._lock:
            self._config_api_key = req.config.get(CONFIG_API_KEY) or None
            self._config_api_url = req.config.get(CONFIG_API_URL) or None
            self._client = None

    @property
    def client(self) -> VastClient:
        """The process-wide client for the configured account, resolved on first use.

        Deferred so that preview-only work (check, diff) needs neither a key nor the network.
        """
        with self._lock:
            if self._client is None:
                settings = ProviderSettings.resolve(self._config_api_key, self._config_api_url)
                self._client = shared_client(settings)
            return self._client

    # -- the owning account -----------------------------------------------------------------------

    def owner(self, id_: str, props: Props) -> int:
        """The configured key's account id, once it is known to own the object ``props`` describe.

        Called before any read, update or delete: with a key of another account the object would
        look gone (refresh would drop it while it bills) or be out of reach. State written before
        the account was recorded passes, and records it on its next read or update.
        """
        current = self.client.account_id()
        recorded = props.get(ACCOUNT_KEY)
        if recorded is not None and numeric_id(recorded) != current:
            raise VastAccountError(
                f"{self.noun} {id_} belongs to Vast.ai account {numeric_id(recorded)}, but the configured "
                f"API key is of account {current}: nothing was changed and the stack keeps the {self.noun}; "
                f"set vast:apiKey to a key of account {numeric_id(recorded)}. {STALE_CONFIG_NOTE}"
            )
        return current

    # -- check ------------------------------------------------------------------------------------------

    def check(self, _olds: Props, news: Props) -> CheckResult:
        hidden = {key: news[key] for key in (MARKER_KEY,) if key in news}
        raw = {key: value for key, value in news.items() if key not in hidden and key != PROVIDER_KEY}
        unknown = frozenset(key for key, value in raw.items() if is_unknown(value))
        known = {key: value for key, value in raw.items() if key not in unknown and value is not None}
        # Output-only keys arrive as None (the resource pre-declares them) and are dropped above.
        try:
            model = self.inputs_model.model_validate(known, context={"unknown": unknown})
        except ValidationError as error:
            return CheckResult({**raw, **hidden}, describe_failures(error, self.inputs_model))
        inputs = model.model_dump(mode="json", exclude=set(unknown))
        inputs.update({key: raw[key] for key in unknown})
        return CheckResult({**inputs, **hidden}, [])

    def parse(self, props: Props) -> InputsT:
        """The inputs model of checked props (which arrive with floats where ints were)."""
        fields = self.inputs_model.model_fields
        return self.inputs_model.model_validate(
            {key: value for key, value in props.items() if key in fields and value is not None}
        )

    # -- diff -------------------------------------------------------------------------------------------

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        """The inputs whose change is a change (the field table's ``on_change``), and those of them
        that replace the object."""
        changed = [
            key
            for key in self.inputs_model.model_fields
            if key not in _NOT_DIFFED and self.fields[key].on_change.diffed and self.differs(key, olds, news)
        ]
        replaces = [key for key in changed if self.replaces(key, olds, news)]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=self.delete_before_replace if replaces else None,
        )

    def replaces(self, key: str, olds: Props, news: Props) -> bool:
        """Whether the change of input ``key`` needs a new object, as its ``on_change`` says."""
        on_change = self.fields[key].on_change
        if on_change is OnChange.BID:  # given or removed: between on-demand and interruptible
            old, new = olds.get(key), news.get(key)
            return (old is None) != (new is None) and not (is_unknown(new) and old is not None)
        return on_change is OnChange.REPLACES

    def differs(self, key: str, olds: Props, news: Props) -> bool:
        """Whether input ``key`` changed; subclasses override it for fields with a normal form."""
        new = news.get(key)
        if is_unknown(new):
            return True
        if new is None and key in self.server_defaults:
            return False
        return not same_value(olds.get(key), new)

    # -- outputs and reads ------------------------------------------------------------------------------

    def given(self, inputs: BaseModel, props: Props) -> Props:
        """Checked inputs as outputs keep them: normalised values and the marker, not ``adopt_id``."""
        return {**inputs.model_dump(mode="json", exclude={ADOPT_KEY}), MARKER_KEY: props.get(MARKER_KEY)}

    def read_result(self, id_: str, outs: Props, props: Props) -> ReadResult:
        """A refresh result. The stored inputs are left alone unless the refresh found drift; then they
        carry the drifted values, so the next preview shows what it will change back.

        Only inputs check always fills are rebuilt, plus the drifted ones: returned inputs replace the
        stored ones wholesale, and any extra key would show as a spurious change. Only the inputs the
        field table says a refresh reads back can drift; the others keep their stored values.
        """
        fields = [key for key in self.inputs_model.model_fields if key in outs]
        outs = {**outs, **{key: props.get(key) for key in fields if not self.fields[key].refresh}}
        drifted = [key for key in fields if not same_value(props.get(key), outs[key])]
        if not drifted:
            return ReadResult(id_, outs)
        always_set = [key for key in fields if key not in self.server_defaults and props.get(key) is not None]
        inputs = {key: outs[key] for key in (*always_set, *drifted) if outs[key] is not None}
        for key in self.secret_inputs:
            inputs.pop(key, None)
        if props.get(MARKER_KEY) is not None:
            inputs[MARKER_KEY] = props[MARKER_KEY]
        return ReadResult(id_, outs, inputs)

    def input_defaults(self) -> Props:
        """Every optional input's default, as check fills it in."""
        fields = self.inputs_model.model_fields.items()
        return {name: input_default(field) for name, field in fields if not field.is_required()}

    def imported_result(self, id_: str, outs: Props) -> ReadResult:
        """A read by the id alone (``pulumi import``, ``get``): the inputs describe the object as it
        is (secret inputs excepted: they cannot be read back) and, where the resource can adopt,
        name it in ``adopt_id``, so a program holding them previews with no changes."""
        fields = self.inputs_model.model_fields
        inputs = {
            key: value
            for key, value in outs.items()
            if key in fields and value is not None and key not in self.secret_inputs
        }
        if ADOPT_KEY in fields:
            inputs[ADOPT_KEY] = str(numeric_id(id_))  # an id, as programs write ids (a string)
        return ReadResult(id_, outs, inputs)

    @staticmethod
    def gone() -> ReadResult:
        """What read returns for an object that no longer exists: Pulumi then drops it from state."""
        return ReadResult(None, {})


def same_value(old: object, new: object) -> bool:
    """Equality that survives the engine's int-to-float round trip (3 == 3.0, also inside containers)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return old.keys() == new.keys() and all(same_value(old[key], new[key]) for key in old)
    if isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return len(old) == len(new) and all(same_value(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return old == new


def numeric_id(id_: str | int | float) -> int:
    """Resource ids are strings in Pulumi and ints in the API."""
    try:
        return int(float(id_))
    except (TypeError, ValueError):
        raise VastInputError(f"not a Vast.ai id: {id_!r}") from None


# -- the resource base ------------------------------------------------------------------------------------


class VastResource(pulumi.dynamic.Resource):
    """Turns typed arguments into the props dict a dynamic resource needs.

    Every resource also outputs ``account_id``, the id of the Vast.ai account that owns its object.
    """

    account_id: pulumi.Output[int]

    # The provider of this resource's type (a new one per resource: it carries nothing, see its pickle).
    provider_class: ClassVar[type[VastProvider[Any]]]
    # What each output that is not an input means; every input but adopt_id is an output too, holding
    # its effective value. The one source of the output-only keys: ``output_keys`` ends with them.
    output_descriptions: ClassVar[Mapping[str, str]] = {}
    output_keys: ClassVar[tuple[str, ...]] = ()
    secret_outputs: ClassVar[tuple[str, ...]] = ()
    # The input that, left unset, is ``<resource name>-<8 hex of the marker>`` (the marker rides in it).
    default_named: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = vars(cls).get("__init__")
        if init is not None and "provider_class" in vars(cls):
            init.__doc__ = constructor_doc(cls)
        if init is not None:  # checked before its body, which may spread ``args`` as a dict
            cls.__init__ = _called_with_keywords(cls.__name__, init)  # type: ignore[method-assign]

    def __init__(
        self,
        resource_name: str,
        args: Mapping[str, Any] | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        _check_call(type(self).__name__, resource_name, (args, opts))
        props: Props = {key: None for key in (*self.output_keys, ACCOUNT_KEY)}
        props.update(self.prepare(dict(args or {}), resource_name))  # a copy: the SDK adds __provider
        props[MARKER_KEY] = self.marker(resource_name)
        secrets = pulumi.ResourceOptions(additional_secret_outputs=list(self.secret_outputs))
        merged = pulumi.ResourceOptions.merge(secrets, opts)
        super().__init__(self.provider_class(), resource_name, props, merged)

    @classmethod
    def default_name_for(cls, resource_name: str, marker: str) -> str:
        """The value ``default_named`` gets when the program leaves it unset: ``<resource name>-<8 hex
        of the marker>``, unless the resource's API has its own rule for names (a Volume's)."""
        return default_name(resource_name, marker)

    @classmethod
    def prepare(cls, values: dict[str, Any], resource_name: str) -> dict[str, Any]:
        """The program's inputs as the provider gets them: the default name filled (``default_named``),
        and secret inputs wrapped as secrets, so they are encrypted in state even when given plain."""
        if cls.default_named is not None and values.get(cls.default_named) is None:
            values[cls.default_named] = cls.default_name_for(resource_name, cls.marker(resource_name))
        for key, field in cls.provider_class.fields.items():
            if field.secret and values.get(key) is not None:
                values[key] = pulumi.Output.secret(values[key])
        return values

    @classmethod
    def get(
        cls, resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ) -> Self:
        """Read an existing object into the program without managing it."""
        return cls(resource_name, None, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)))

    @classmethod
    def type_token(cls) -> str:
        return f"pulumi-python:{cls._resource_type_name}"

    @classmethod
    def marker(cls, resource_name: str) -> str:
        """A stable fingerprint of this resource in this stack, for create to recognise its own work."""
        where = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
        return marker_of(where, cls.type_token(), resource_name)


def marker_of(where: str, type_token: str, resource_name: str) -> str:
    """The marker of resource ``resource_name`` of type ``type_token`` in stack ``where``
    (``organization/project/stack``); the provider plugin computes it from the URN."""
    return hashlib.sha256(f"{where}/{type_token}/{resource_name}".encode()).hexdigest()[:16]


def default_name(resource_name: str, marker: str) -> str:
    """``<resource name>-<8 hex>``, with characters the API refuses replaced by ``-``."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', resource_name)[:246]}-{marker[:8]}"


def constructor_doc(resource: type[VastResource]) -> str:
    """The constructor's docstring: every input with its type, default, what a change does and its
    description, from the inputs model and the field table (the reference's source), so that
    ``help()`` and IDEs show them."""
    provider = resource.provider_class
    lines = [
        f"Declare the {resource.__name__} ``resource_name`` (``{resource.__name__}.get`` reads an existing "
        "one instead).",
        "",
        ":param resource_name: the resource's name in the stack.",
        f":param args: the inputs as a ``{resource.__name__}Args`` dict, or give them as keyword arguments.",
        ":param opts: Pulumi resource options.",
        "",
        "Inputs:",
        "",
    ]
    for name, info in provider.inputs_model.model_fields.items():
        value = None if info.is_required() else _plain(input_default(info))
        default = "required" if info.is_required() else "unset" if value is None else f"default {value!r}"
        change = provider.fields[name].on_change.value
        lines.append(f"* ``{name}`` ({default}; on change: {change}): {info.description}")
    return "\n".join(lines)


def input_default(info: FieldInfo) -> object:
    """An optional input's default, its factory called (check, the constructor docs and the reference
    all take it from here). Not ``get_default(call_default_factory=True)``: that first inspects the
    factory's signature, which for a builtin such as ``dict`` parses its text signature, at the import
    of every resource module."""
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]  # no input's factory takes the other inputs
    return info.default


def _plain(value: object) -> object:
    return value.model_dump() if isinstance(value, BaseModel) else value


class VastUsageError(VastError, pulumi.RunError, TypeError):
    """A resource constructed the wrong way (``Instance("box", "q", "img")``). A ``pulumi.RunError``, so
    the language host prints its message as one line instead of a traceback into the package."""


def _called_with_keywords(name: str, init: Callable[..., None]) -> Callable[..., None]:
    """``init`` behind a check of how it is called: a resource name, then its inputs as keywords (or
    one dict of them, the typed ``...Args``), then ``pulumi.ResourceOptions``. Anything else would end
    in a ``TypeError`` from inside the package, naming neither the resource nor the fix."""

    @functools.wraps(init)
    def checked(self: VastResource, *args: Any, **kwargs: Any) -> None:
        resource_name, *rest = args or (kwargs.get("resource_name"),)
        if len(rest) < 2 and "opts" in kwargs:
            rest = [rest[0] if rest else None, kwargs["opts"]]
        _check_call(name, resource_name, tuple(rest))
        init(self, *args, **kwargs)

    return checked


def _check_call(name: str, resource_name: object, rest: tuple[object, ...]) -> None:
    """``rest``: what follows the resource name, (inputs dict, options) at most."""
    inputs = rest[0] if rest else None
    opts = rest[1] if len(rest) > 1 else None
    if (
        isinstance(resource_name, str)
        and len(rest) <= 2
        and isinstance(inputs, Mapping | None)
        and (opts is None or isinstance(opts, pulumi.ResourceOptions))
    ):
        return
    shown = resource_name if isinstance(resource_name, str) else f"my-{name.lower()}"
    raise VastUsageError(
        f"{name}(...) takes a resource name, then its inputs as keywords: "
        f'{name}("{shown}", <input>=<value>, ..., opts=pulumi.ResourceOptions(...)); '
        f"the second argument, if any, is a dict of inputs ({name}Args)"
    )
