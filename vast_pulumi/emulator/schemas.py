"""Request bodies as the API validates them. A bad one is a 400 ``invalid_args`` naming the field.

Strict types: the API takes JSON numbers for numeric fields, not strings or booleans. Unknown keys
are ignored, as the API ignores the legacy ones clients still send (``client_id``,
``autoscaler_instance``, ``endptjob_id``, ...). ``None`` means "not given" everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vast_pulumi.emulator.errors import ApiError, invalid_args

ENDPOINT_NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"
ONSTART_MAX = 4048
LABEL_MAX = 1024
RUNTYPE_TOKENS = frozenset(
    {
        "ssh",
        "jupyter",
        "args",
        "ssh_proxy",
        "ssh_direc",
        "ssh_direct",
        "jupyter_proxy",
        "jupyter_direc",
        "jupyter_direct",
    }
)

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    def given(self) -> dict[str, Any]:
        """The fields the client set to something other than null."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


def parse(model: type[M], body: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(body))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise invalid_args(field, first["msg"]) from None


class EndpointBody(Body):
    endpoint_name: str | None = Field(None, max_length=255, pattern=ENDPOINT_NAME_PATTERN)
    min_load: float | None = Field(None, ge=0)
    min_cold_load: float | None = Field(None, ge=0)
    target_util: float | None = Field(None, gt=0, le=1)
    cold_mult: float | None = Field(None, ge=0)
    cold_workers: int | None = Field(None, ge=0)
    max_workers: int | None = Field(None, ge=0)
    max_queue_time: float | None = Field(None, ge=0)
    target_queue_time: float | None = Field(None, ge=0)
    # Negative is meaningful: never scale to zero.
    inactivity_timeout: int | None = None
    endpoint_state: Literal["active", "suspended", "stopped"] | None = None


class WorkergroupBody(Body):
    endpoint_id: int | None = Field(None, gt=0)
    endpoint_name: str | None = None
    template_hash: str | None = None
    template_id: int | None = Field(None, gt=0)
    search_params: str | dict[str, Any] | None = None
    launch_args: str | None = None
    gpu_ram: float | None = Field(None, ge=0)
    cold_workers: int | None = Field(None, ge=0)
    max_workers: int | None = Field(None, ge=0)
    test_workers: int | None = Field(None, ge=0)
    min_load: float | None = Field(None, ge=0)
    target_util: float | None = Field(None, gt=0, le=1)
    cold_mult: float | None = Field(None, ge=0)


class CreateInstanceBody(Body):
    image: str | None = Field(None, min_length=1)
    template_hash_id: str | None = None
    template_id: int | None = None
    disk: float = Field(8.0, gt=0)
    label: str | None = Field(None, max_length=LABEL_MAX)
    env: dict[str, Any] | str | None = None
    onstart: str | None = Field(None, max_length=ONSTART_MAX)
    args: list[str] | None = None
    args_str: str | None = None
    runtype: str | None = None
    price: float | None = Field(None, ge=0.001, le=128)
    target_state: Literal["running", "stopped"] | None = None
    image_login: str | None = None
    cancel_unavail: bool | None = None

    @field_validator("runtype")
    @classmethod
    def _known_runtype(cls, runtype: str | None) -> str | None:
        if runtype is not None:
            unknown = [t for t in runtype.split() if t not in RUNTYPE_TOKENS]
            if unknown or not runtype.split():
                raise ValueError(f"unknown runtype {runtype!r}; use ssh, jupyter or args")
        return runtype


class ManageInstanceBody(Body):
    state: Literal["running", "stopped"] | None = None
    label: str | None = Field(None, max_length=LABEL_MAX)


class UpdateTemplateOfInstanceBody(Body):
    template_id: int | None = None
    template_hash_id: str | None = None
    image: str | None = Field(None, min_length=1)
    args: str | list[str] | None = None
    env: dict[str, Any] | str | None = None
    onstart: str | None = Field(None, max_length=ONSTART_MAX)


class TemplateBody(Body):
    """Create and edit: the template's content. ``hash_id``/``id`` name the one to edit."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: int | None = None
    hash_id: str | None = None
    name: str | None = None
    image: str | None = None
    tag: str | None = None
    env: str | None = None
    onstart: str | None = Field(None, max_length=ONSTART_MAX)
    runtype: str | None = None
    args_str: str | None = None
    ssh_direct: bool | None = None
    jup_direct: bool | None = None
    use_ssh: bool | None = None
    use_jupyter_lab: bool | None = None
    jupyter_dir: str | None = None
    docker_login_repo: str | None = None
    docker_login_user: str | None = None
    docker_login_pass: str | None = None
    extra_filters: dict[str, Any] | None = None
    recommended_disk_space: float | None = Field(None, ge=0)
    readme: str | None = None
    readme_visible: bool | None = None
    desc: str | None = None
    href: str | None = None
    repo: str | None = None
    private: bool | None = None


class DeleteTemplateBody(Body):
    template_id: int | None = None
    hash_id: str | None = None


class BidBody(Body):
    price: float | None = Field(None, ge=0.001, le=128)


def env_dict(env: Mapping[str, Any] | str | None, field: str = "env") -> dict[str, str]:
    """The API's env dict; a docker-flag string is converted as the CLI's ``parse_env`` does."""
    if env is None:
        return {}
    if isinstance(env, str):
        return parse_docker_env(env)
    result: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(value, str | int | float | bool):
            raise invalid_args(f"{field}.{key}", "values must be strings")
        result[str(key)] = str(value)
    return result


def parse_docker_env(text: str) -> dict[str, str]:
    """``-e K=V -p 8000:8000 -h host`` -> ``{"K": "V", "-p 8000:8000": "1", "-h": "host"}``."""
    tokens = text.split()
    result: dict[str, str] = {}
    index = 0
    while index < len(tokens):
        flag = tokens[index]
        value = tokens[index + 1] if index + 1 < len(tokens) else ""
        if flag == "-e" and "=" in value:
            name, _, val = value.partition("=")
            result[name] = val.strip("'\"")
        elif flag in ("-p", "-v", "-n"):
            result[f"{flag} {value}"] = "1"
        elif flag == "-h":
            result["-h"] = value
        else:
            index += 1
            continue
        index += 2
    return result


def parse_ids(body: Mapping[str, Any], field: str) -> list[int]:
    """The instance ids of a bulk call (``ids`` or ``instance_ids``)."""
    ids = body.get(field)
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise invalid_args(field, "must be a list of instance ids")
    return ids


class CreateVolumeBody(Body):
    """``PUT /volumes/``: rent ``size`` GB of a volume offer (the CLI sends ``int(size)``)."""

    id: int = Field(gt=0)
    size: int = Field(15, ge=1)
    name: str | None = Field(None, max_length=LABEL_MAX)


class VolumeInfoBody(Body):
    """An instance create's ``volume_info`` (``build_volume_info`` in the vastai client)."""

    create_new: bool
    volume_id: int = Field(gt=0)
    size: int | None = Field(None, ge=1)
    mount_path: str = Field(max_length=4096)
    name: str | None = Field(None, max_length=LABEL_MAX)

    @field_validator("mount_path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/") or "\0" in path:
            raise ValueError(f"{path!r} is not an absolute path inside the container, e.g. /workspace")
        return path


class VolumeOfCreateBody(Body):
    """The part of an instance create that names its volume (errors name ``volume_info.<field>``)."""

    volume_info: VolumeInfoBody | None = None


def volume_id(params: Mapping[str, str], body: Mapping[str, Any]) -> int:
    """The volume ``DELETE /volumes/`` names: the client's ``?id=``, else the spec's body ``{"id"}``."""
    raw: Any = params.get("id", body.get("id"))
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
        raise ApiError(400, "invalid_args", "Please provide a valid volume ID.")  # the spec's words
    return raw
