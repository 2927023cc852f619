"""What a machine is, as inputs: :class:`MachineInputs` (and ``MachineArgs``), which an
:class:`~vast_pulumi.instance.Instance` and each member of a :class:`~vast_pulumi.fleet.Fleet` share,
and the inputs only an instance takes (one offer, a label, adoption, a volume): the models the providers
validate them with (types, defaults, rules, the reference's descriptions) and the Args a program passes.

Names and units are the API's. A rule broken here is reported at ``pulumi preview``, before anything is
rented.
"""

from __future__ import annotations

import re
from typing import Literal, TypedDict

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from vast_pulumi._dynamic import parsable_query, require_one_of
from vast_pulumi._instance_rows import MARKER_ENV
from vast_pulumi.offers import order_clause

__all__ = [
    "INPUT_KEYS",
    "InstanceArgs",
    "InstanceInputs",
    "InstanceVolume",
    "InstanceVolumeArgs",
    "MachineArgs",
    "MachineInputs",
    "TargetState",
]

_RUNTYPE_TOKENS = frozenset(
    {
        "ssh",
        "ssh_proxy",
        "ssh_direct",
        "ssh_direc",
        "jupyter",
        "jupyter_proxy",
        "jupyter_direct",
        "jupyter_direc",
    }
) | {"args"}
# The states an instance can be told to be in (the Args say the same, so a type checker catches a typo).
TargetState = Literal["running", "stopped"]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PORT_FLAG = re.compile(r"^-p \d+(:\d+)?(/(tcp|udp))?$")


# audit PA2: a volume rented through create_new belongs to no resource. It outlives the instance (volumes
# bill per GB and month until deleted), so every destroy or replacement would leave one billing. A Volume
# resource owns it instead: deleted on destroy, waited out, never re-rented by a retry.
CREATE_NEW_REFUSED = (
    "create_new=True is not supported: the volume it rents would belong to no resource and bill after "
    "the instance is gone; make it a Volume resource and link it, "
    "volume_info={'volume_id': Volume(...).volume_id, 'mount_path': ...}"
)


class InstanceVolume(BaseModel):
    """A volume to mount, as the create API's ``volume_info`` takes it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    volume_id: int = Field(gt=0, description="The volume (or, with create_new, the volume offer) id.")
    mount_path: str = Field(max_length=4096, description="Where it is mounted: an absolute container path.")
    create_new: bool = Field(
        False,
        description="Refused at preview: a volume rented here would belong to no resource; use a Volume.",
    )
    size: int | None = Field(None, ge=1, description="GB of a new volume (only with create_new).")
    name: str | None = Field(None, min_length=1, description="Name of a new volume (only with create_new).")

    @field_validator("mount_path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError("must be an absolute path inside the container, e.g. /workspace")
        return path

    @model_validator(mode="after")
    def _new_only(self, info: ValidationInfo) -> InstanceVolume:
        if not self.create_new and (self.size is not None or self.name is not None):
            raise ValueError("size and name only apply with create_new=True (a volume keeps its own)")
        if self.create_new and info.context is not None:  # at check (preview); state still loads
            raise ValueError(CREATE_NEW_REFUSED)
        return self


class MachineInputs(BaseModel):
    """What a rented machine is and runs: the inputs an instance and every member of a fleet share.

    Names and units are the API's. Which offer is rented (one ``offer_id``, or the best of an
    ``offer_query``) and what else a resource takes is for the resource's own model.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    offer_query: str | None = Field(
        None,
        description="Offer query (CLI language): at create, the best matching offer is rented "
        "(for an instance: exactly one of offer_id, offer_query, unless adopting).",
    )
    order: str = Field(
        "dph_total", description="Best offer first by these fields, comma-separated; '-' for descending."
    )
    image: str | None = Field(
        None, min_length=1, description="Docker image (exactly one of image, template_hash_id)."
    )
    template_hash_id: str | None = Field(
        None,
        min_length=1,
        description="A template version to launch (exactly one of image, template_hash_id).",
    )
    disk: float = Field(10.0, gt=0, description="Disk, GB.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables (names: letters, digits, '_'), and port mappings as keys "
        "like '-p 8000:8000'; VAST_PULUMI_MARKER is reserved.",
    )
    onstart: str | None = Field(None, max_length=4048, description="Script run when the container starts.")
    args: list[str] | None = Field(
        None, description="Arguments for the image's entrypoint (at most one of args, args_str)."
    )
    args_str: str | None = Field(
        None, description="Arguments for the image's entrypoint, one string (at most one of args, args_str)."
    )
    runtype: str | None = Field(
        None,
        description="Launch mode, space-separated tokens from args, ssh, ssh_proxy, ssh_direct, jupyter, "
        "jupyter_proxy, jupyter_direct; unset: args with args, else ssh (a template's own with one).",
    )
    price: float | None = Field(
        None,
        gt=0,
        le=128,
        description="Bid, $/hour: rents interruptible at that bid (and must read back so); unset: on-demand.",
    )
    target_state: TargetState = Field("running", description="Running or stopped.")
    image_login: str | None = Field(
        None, description="Registry login for a private image: '-u user -p token registry'."
    )
    cancel_unavail: bool | None = Field(
        None,
        description="Cancel the rent if the machine cannot start it now; unset: the API's default "
        "(true on-demand, false for interruptibles).",
    )
    wait_until_ready: bool = Field(True, description="Wait at create (and restart) for target_state.")
    ready_timeout: float = Field(900.0, gt=0, description="Seconds that wait lasts at most.")
    ssh_key_ids: list[int] | None = Field(
        None, description="Ids of account SSH keys (SshKey.key_id) to put on the machine; none twice."
    )

    _parsable = field_validator("offer_query")(parsable_query)

    @field_validator("ssh_key_ids")
    @classmethod
    def _key_ids(cls, ids: list[int]) -> list[int]:
        if any(key_id <= 0 for key_id in ids):
            raise ValueError("must be ids of SSH keys (positive whole numbers)")
        if len(set(ids)) != len(ids):
            raise ValueError("must not name a key twice")
        return ids

    @field_validator("order")
    @classmethod
    def _order(cls, order: str) -> str:
        order_clause(order)
        return order

    @field_validator("env")
    @classmethod
    def _env_keys(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if key == MARKER_ENV:
                raise ValueError(f"{MARKER_ENV} is reserved for vast-pulumi")
            if not (_ENV_NAME.match(key) or _PORT_FLAG.match(key)):
                raise ValueError(
                    f"key {key!r} must be a variable name (letters, digits, '_') "
                    "or a port mapping like '-p 8000:8000'"
                )
        return env

    @field_validator("runtype")
    @classmethod
    def _runtype(cls, runtype: str) -> str:
        unknown = [token for token in runtype.split() if token not in _RUNTYPE_TOKENS]
        if unknown or not runtype.split():
            raise ValueError(f"must be space-separated tokens from {', '.join(sorted(_RUNTYPE_TOKENS))}")
        return runtype

    @model_validator(mode="after")
    def _one_program(self, info: ValidationInfo) -> MachineInputs:
        require_one_of(self, info, ("image", "template_hash_id"))
        require_one_of(self, info, ("args", "args_str"), required=False)
        return self


class InstanceInputs(MachineInputs):
    """The instance's inputs as the provider validates them: a machine's, and those of one instance."""

    offer_id: int | None = Field(
        None, gt=0, description="The offer to rent (exactly one of offer_id, offer_query, unless adopting)."
    )
    label: str | None = Field(None, max_length=1024, description="The instance's label.")
    adopt_id: int | None = Field(
        None,
        gt=0,
        description="An existing instance to take under management instead of renting one (disk must be "
        "its disk).",
    )
    volume_info: InstanceVolume | None = Field(
        None, description="A volume to mount, as the create API's volume_info (fields below)."
    )
    create_before_delete: bool = Field(
        False,
        description="On a replacement, rent and start the new instance before destroying the old one "
        "(both bill during the overlap); default: the old one is destroyed first.",
    )

    @model_validator(mode="after")
    def _one_offer(self, info: ValidationInfo) -> InstanceInputs:
        if self.adopt_id is None:
            require_one_of(self, info, ("offer_id", "offer_query"))
        return self


# Every input but adopt_id is also an output, holding its effective value.
INPUT_KEYS = tuple(key for key in InstanceInputs.model_fields if key != "adopt_id")


class InstanceVolumeArgs(TypedDict, total=False):
    """``volume_info`` of :class:`Instance`; see :class:`InstanceVolume`."""

    volume_id: pulumi.Input[int]
    mount_path: pulumi.Input[str]
    create_new: pulumi.Input[bool]
    size: pulumi.Input[int]
    name: pulumi.Input[str]


class MachineArgs(TypedDict, total=False):
    """Inputs of what a machine is, shared by :class:`Instance` and :class:`Fleet`; see
    :class:`MachineInputs` for rules and defaults."""

    offer_query: pulumi.Input[str]
    order: pulumi.Input[str]
    image: pulumi.Input[str]
    template_hash_id: pulumi.Input[str]
    disk: pulumi.Input[float]
    env: pulumi.Input[dict[str, pulumi.Input[str]]]
    onstart: pulumi.Input[str]
    args: pulumi.Input[list[pulumi.Input[str]]]
    args_str: pulumi.Input[str]
    runtype: pulumi.Input[str]
    price: pulumi.Input[float]
    target_state: pulumi.Input[TargetState]
    image_login: pulumi.Input[str]
    cancel_unavail: pulumi.Input[bool]
    wait_until_ready: pulumi.Input[bool]
    ready_timeout: pulumi.Input[float]
    ssh_key_ids: pulumi.Input[list[pulumi.Input[int]]]


class InstanceArgs(MachineArgs, total=False):
    """Inputs of :class:`Instance`; see :class:`InstanceInputs` for rules and defaults."""

    offer_id: pulumi.Input[int]
    label: pulumi.Input[str]
    adopt_id: pulumi.Input[int]
    volume_info: pulumi.Input[InstanceVolumeArgs]
    create_before_delete: pulumi.Input[bool]
