"""A Vast.ai template (``/api/v0/template/``): the image, environment, start script and offer filters
that instances and serverless workers are made from.

>>> template = Template(
...     "vllm",
...     image="vllm/vllm-openai",
...     tag="latest",
...     env={"MODEL": "Qwen/Qwen3-8B"},
...     ports=["8000"],
...     extra_filters="gpu_ram>=24 num_gpus=1",
...     disk=64,
... )
>>> Workergroup("workers", endpoint_id=endpoint.id, template_hash=template.hash_id)

**Identity.** A template has a stable numeric ``id`` (the resource's id and the ``template_id``
output) and a ``hash_id`` that names one *version*: every edit makes a new ``hash_id``. So every input
updates in place, and the new ``hash_id`` flows to what uses it (a Workergroup's ``template_hash``, an
Instance's ``template_hash_id``) as an update of the template, never its replacement.

``env`` and ``ports`` are sent the way the API keeps them, as one docker-options string
(``-e NAME=value -p 8000:8000``); ``disk`` is the API's ``recommended_disk_space`` (GB); ``extra_filters``
is an offer query in the CLI's language (``gpu_ram>=24 num_gpus=1``), sent parsed as the API's
``extra_filters`` and compared by meaning. ``private=False`` publishes the template to every account.

**No duplicates.** The marker rides in the name: left unset, ``name`` is ``<resource name>-<8 hex>``,
so a create adopts a template left with that name by a killed ``pulumi up``, and a create whose reply
was lost looks it up instead of posting again (:mod:`vast_pulumi._reconcile`). A name you choose carries
no marker: only a template that appeared after this create first looked counts as its own. The API
answers a create whose content equals a template the account already has with that template; when that
one is not this resource's, the create fails instead of taking it over.

**Delete** refuses while a workergroup of the account still recruits with the template (by hash or id),
naming the groups; it returns once the API no longer lists the template.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypedDict, Unpack

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from vast_pulumi._dynamic import (
    ACCOUNT_KEY,
    MARKER_KEY,
    Props,
    VastProvider,
    VastResource,
    numeric_id,
    parsable_query,
    rule_error,
    unknown_fields,
)
from vast_pulumi._fields import UPDATES, table
from vast_pulumi._reconcile import CreateSteps, reconciling_create
from vast_pulumi._teardown import await_unlisted
from vast_pulumi.client import Row
from vast_pulumi.errors import TemplateInUseError, VanishedError, VastConflictError
from vast_pulumi.offers import canonical_query
from vast_pulumi.query import parse_query

__all__ = ["Template", "TemplateArgs", "TemplateInUseError", "TemplateInputs", "TemplateProvider"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_VALUE = re.compile(r"^[^\s'\"\\]*$")
_PORT = re.compile(r"^(\d{1,5})(/(tcp|udp))?$")
# Seconds a delete waits for the template to leave the list, and between looks.
DELETE_WAIT = 60.0
_POLL = 0.5
# Content fields sent as given (the others are composed: env, ports, extra_filters, disk).
TemplateRuntype = Literal["args", "ssh", "jupyter"]
_PLAIN_FIELDS = (
    "name",
    "image",
    "tag",
    "onstart",
    "runtype",
    "args_str",
    "ssh_direct",
    "jup_direct",
    "use_jupyter_lab",
    "jupyter_dir",
    "readme",
    "readme_visible",
    "desc",
    "href",
    "repo",
    "private",
)


class TemplateInputs(BaseModel):
    """The template's inputs as the provider validates them; names are the API's and the CLI's."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | None = Field(
        None, min_length=1, max_length=255, description="Template name; default <resource name>-<8 hex>."
    )
    image: str = Field(min_length=1, description="Docker image, without the tag (e.g. vllm/vllm-openai).")
    tag: str | None = Field(None, min_length=1, description="Image tag (default: the registry's latest).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables of the container.")
    ports: list[str] = Field(
        default_factory=list, description="Container ports to open: '8000' or '8000/udp' (sent as -p)."
    )
    onstart: str | None = Field(None, max_length=4048, description="Script run when the container starts.")
    runtype: TemplateRuntype = Field(
        "args", description="How the container is launched: its entrypoint (args), or with SSH or Jupyter."
    )
    args_str: str | None = Field(None, description="Arguments for the image's entrypoint (runtype args).")
    ssh_direct: bool = Field(False, description="Direct SSH to the machine instead of through a proxy.")
    jup_direct: bool = Field(False, description="Direct Jupyter instead of through a proxy.")
    use_jupyter_lab: bool = Field(False, description="Jupyter Lab instead of the classic notebook.")
    jupyter_dir: str | None = Field(None, description="Directory Jupyter starts in.")
    extra_filters: str | None = Field(
        None, description="Offer query (CLI language) that machines running the template must match."
    )
    disk: float | None = Field(None, gt=0, description="Recommended disk, GB (recommended_disk_space).")
    readme: str | None = Field(None, description="Readme shown with the template.")
    readme_visible: bool = Field(True, description="Whether the readme is shown.")
    desc: str | None = Field(None, max_length=1024, description="One-line description.")
    href: str | None = Field(None, description="A link shown with the template.")
    repo: str | None = Field(None, description="The image's source repository.")
    private: bool = Field(True, description="False publishes the template to every Vast.ai account.")

    _parsable = field_validator("extra_filters")(parsable_query)

    @field_validator("env")
    @classmethod
    def _env(cls, env: dict[str, str]) -> dict[str, str]:
        for key, value in env.items():
            if not _ENV_NAME.match(key):
                raise ValueError(f"key {key!r} must be a variable name (letters, digits, '_')")
            if not _ENV_VALUE.match(value):
                # The API keeps env as one docker-options string: the value of the key is not shown.
                raise ValueError(f"the value of {key} must not contain whitespace, quotes or backslashes")
        return env

    @field_validator("ports")
    @classmethod
    def _ports(cls, ports: list[str]) -> list[str]:
        for port in ports:
            found = _PORT.match(port)
            if not found or not 1 <= int(found.group(1)) <= 65535:
                raise ValueError(f"{port!r} must be a port 1-65535, optionally with /tcp or /udp")
        return [port.removesuffix("/tcp") for port in ports]  # tcp is the default: one spelling

    @model_validator(mode="after")
    def _named(self, info: ValidationInfo) -> TemplateInputs:
        if self.name is None and "name" not in unknown_fields(info):
            raise rule_error("name", "is required")
        return self


class TemplateArgs(TypedDict, total=False):
    """Inputs of :class:`Template`; see :class:`TemplateInputs` for rules and defaults."""

    name: pulumi.Input[str]
    image: pulumi.Input[str]
    tag: pulumi.Input[str]
    env: pulumi.Input[dict[str, pulumi.Input[str]]]
    ports: pulumi.Input[list[pulumi.Input[str]]]
    onstart: pulumi.Input[str]
    runtype: pulumi.Input[TemplateRuntype]
    args_str: pulumi.Input[str]
    ssh_direct: pulumi.Input[bool]
    jup_direct: pulumi.Input[bool]
    use_jupyter_lab: pulumi.Input[bool]
    jupyter_dir: pulumi.Input[str]
    extra_filters: pulumi.Input[str]
    disk: pulumi.Input[float]
    readme: pulumi.Input[str]
    readme_visible: pulumi.Input[bool]
    desc: pulumi.Input[str]
    href: pulumi.Input[str]
    repo: pulumi.Input[str]
    private: pulumi.Input[bool]


class TemplateProvider(VastProvider[TemplateInputs]):
    inputs_model = TemplateInputs
    # Every edit is an update (a new hash_id, the same id); a refresh reads the content back.
    fields = table(
        TemplateInputs,
        {key: UPDATES.read_back() for key in (*_PLAIN_FIELDS, "env", "ports", "extra_filters", "disk")},
    )
    noun = "template"

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        row = reconciling_create(self._create_steps(inputs, str(props.get(MARKER_KEY) or ""), account))
        return CreateResult(
            str(row["id"]), {**_outputs(self.given(inputs, props), row), ACCOUNT_KEY: account}
        )

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        row = self.client.get_template(numeric_id(id_))
        if row is None:
            return self.gone()
        return self.read_result(id_, {**_outputs(props, row, read_back=True), ACCOUNT_KEY: account}, props)

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        row = self._converge(inputs, self._require(numeric_id(id_)))
        return UpdateResult({**_outputs(self.given(inputs, news), row), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        self.owner(id_, props)
        template_id = numeric_id(id_)
        row = self.client.get_template(template_id)
        if row is None:
            return
        users = [
            int(group["id"])
            for group in self.client.cached_workergroups(max_age=0.0)
            if group.get("template_id") == template_id
            or (group.get("template_hash") is not None and group.get("template_hash") == row.get("hash_id"))
        ]
        if users:
            raise TemplateInUseError(
                f"template {template_id} is still used by workergroup(s) {', '.join(map(str, users))}: "
                "nothing was deleted; delete those workergroups or move them to another template first"
            )
        self.client.delete_template(template_id)
        self._wait_gone(template_id)

    def differs(self, key: str, olds: Props, news: Props) -> bool:
        old, new = olds.get(key), news.get(key)
        if key == "extra_filters" and isinstance(old, str) and isinstance(new, str):
            return canonical_query(parse_query(old)) != canonical_query(parse_query(new))
        return super().differs(key, olds, news)

    # -- steps --------------------------------------------------------------------------------------

    def _create_steps(self, inputs: TemplateInputs, marker: str, account: int) -> CreateSteps:
        name = str(inputs.name)
        generated = bool(marker) and name.endswith(f"-{marker[:8]}")
        earlier: set[int] | None = None  # the account's templates of this name before our first look

        def find() -> list[Row]:
            nonlocal earlier
            rows = self.client.search_templates({"name": {"eq": name}})
            named = [row for row in rows if row.get("name") == name and row.get("creator_id") == account]
            if earlier is None:
                earlier = set() if generated else {int(row["id"]) for row in named}
            return [row for row in named if int(row["id"]) not in earlier]

        def create() -> int:
            row = self.client.create_template(_body(inputs))
            template_id = int(row["id"])
            if earlier and template_id in earlier:
                raise VastConflictError(
                    f"name: template {template_id} already has this name and exactly this content, and this "
                    "resource did not create it (the API answers a create with an identical template instead "
                    "of making one); nothing was changed. Choose another name"
                )
            return template_id

        def converge(template_id: int, row: Row | None, _just_made: bool) -> Row:
            return self._converge(inputs, row if row is not None else self._require(template_id))

        return CreateSteps(
            noun="template",
            find=find,
            create=create,
            delete=self.client.delete_template,
            converge=converge,
        )

    def _converge(self, inputs: TemplateInputs, row: Row) -> Row:
        """Bring a template to the inputs with one edit (which re-hashes it), if its content differs."""
        wanted = _body(inputs)
        if all(_same_content(key, row.get(key), value) for key, value in wanted.items()):
            return row
        return self.client.update_template({"id": row["id"], "hash_id": row.get("hash_id"), **wanted})

    def _require(self, template_id: int) -> Row:
        row = self.client.get_template(template_id)
        if row is None:
            raise VanishedError(f"template {template_id} is not on this account")
        return row

    def _wait_gone(self, template_id: int) -> None:
        def listed() -> set[int]:
            return set() if self.client.get_template(template_id) is None else {template_id}

        await_unlisted(f"template {template_id}", listed, template_id, timeout=DELETE_WAIT, poll=_POLL)


def _same_content(key: str, actual: Any, wanted: Any) -> bool:
    if key == "extra_filters":
        return canonical_query(actual or {}) == canonical_query(wanted or {})
    if key == "recommended_disk_space" and actual is not None and wanted is not None:
        return float(actual) == float(wanted)
    empty: tuple[object, ...] = (None, "", {})
    return bool(actual == wanted) or (actual in empty and wanted in empty)


def _body(inputs: TemplateInputs) -> dict[str, Any]:
    """The whole template, as create and edit take it (an edit must send everything)."""
    body: dict[str, Any] = {key: getattr(inputs, key) for key in _PLAIN_FIELDS}
    body.update(
        use_ssh=inputs.runtype != "args",
        env=env_string(inputs.env, inputs.ports),
        extra_filters=parse_query(inputs.extra_filters, default_filters=False)
        if inputs.extra_filters
        else {},
        recommended_disk_space=inputs.disk,
    )
    return body


def env_string(env: dict[str, str], ports: list[str]) -> str | None:
    """``-e NAME=value ... -p 8000:8000 ...``: how the API keeps a template's environment and ports."""
    parts = [f"-e {key}={value}" for key, value in env.items()]
    for port in ports:
        number, _, protocol = port.partition("/")
        parts.append(f"-p {number}:{number}" + (f"/{protocol}" if protocol else ""))
    return " ".join(parts) or None


def parse_env_string(text: str | None) -> tuple[dict[str, str], list[str]]:
    """The variables and ports of a docker-options string (what ``env_string`` makes; other options
    are ignored)."""
    env: dict[str, str] = {}
    ports: list[str] = []
    try:
        tokens = shlex.split(text or "")
    except ValueError:
        tokens = (text or "").split()
    for flag, value in itertools.pairwise(tokens):
        if flag == "-e" and "=" in value:
            key, _, val = value.partition("=")
            env[key] = val
        elif flag == "-p":
            container = value.rsplit(":", 1)[-1]
            ports.append(container.removesuffix("/tcp"))
    return env, ports


def _outputs(given: Props, row: Row, *, read_back: bool = False) -> Props:
    """Every input's value, the template's ``hash_id`` and ``template_id``.

    On a read the content comes from the API, so that an edit made elsewhere shows as drift.
    """
    outputs = {key: given.get(key) for key in TemplateInputs.model_fields}
    if read_back:
        env, ports = parse_env_string(row.get("env"))
        outputs.update({key: row.get(key, given.get(key)) for key in _PLAIN_FIELDS})
        outputs.update(env=env, ports=ports, disk=row.get("recommended_disk_space"))
        filters = row.get("extra_filters") or {}
        given_filters = given.get("extra_filters")
        same = canonical_query(filters) == canonical_query(
            parse_query(given_filters, default_filters=False) if given_filters else {}
        )
        outputs["extra_filters"] = given_filters if same else _query_text(filters)
    return {
        **outputs,
        MARKER_KEY: given.get(MARKER_KEY),
        "hash_id": row.get("hash_id"),
        "template_id": int(row["id"]),
    }


def _query_text(filters: dict[str, Any]) -> str:
    """An approximation of a parsed query in the CLI language, to show drift."""
    symbols = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    parts = [
        f"{field}{symbols.get(op, ' ' + op + ' ')}{value}"
        for field, ops in filters.items()
        if isinstance(ops, dict)
        for op, value in ops.items()
    ]
    return " ".join(parts)


class Template(VastResource, module="vast", name="Template"):
    """A template. Outputs: the inputs' values, ``hash_id`` (this version) and ``template_id``."""

    name: pulumi.Output[str]
    image: pulumi.Output[str]
    tag: pulumi.Output[str | None]
    env: pulumi.Output[dict[str, str]]
    ports: pulumi.Output[list[str]]
    onstart: pulumi.Output[str | None]
    runtype: pulumi.Output[str]
    args_str: pulumi.Output[str | None]
    ssh_direct: pulumi.Output[bool]
    jup_direct: pulumi.Output[bool]
    use_jupyter_lab: pulumi.Output[bool]
    jupyter_dir: pulumi.Output[str | None]
    extra_filters: pulumi.Output[str | None]
    disk: pulumi.Output[float | None]
    readme: pulumi.Output[str | None]
    readme_visible: pulumi.Output[bool]
    desc: pulumi.Output[str | None]
    href: pulumi.Output[str | None]
    repo: pulumi.Output[str | None]
    private: pulumi.Output[bool]
    hash_id: pulumi.Output[str]
    template_id: pulumi.Output[int]

    provider_class = TemplateProvider
    default_named = "name"
    output_descriptions: ClassVar[Mapping[str, str]] = {
        "hash_id": "This version's hash: every edit makes a new one (what Workergroup.template_hash takes).",
        "template_id": "The template's numeric id, stable across edits.",
    }
    output_keys = (*TemplateInputs.model_fields, *output_descriptions)

    def __init__(
        self,
        resource_name: str,
        args: TemplateArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[TemplateArgs],
    ) -> None:
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)
