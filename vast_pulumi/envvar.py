"""An account environment variable (``/api/v0/secrets/``): a named secret, such as a model token, that
the account's instances and workers can use.

>>> EnvVar("hf-token", name="HF_TOKEN", value=pulumi.Config().require_secret("hfToken"))

``name`` is letters, digits and ``_``, not starting with a digit; the API stores it upper-cased, and so
does the provider (``hf_token`` is ``HF_TOKEN``). ``value`` is what the API's spec allows:
letters, digits, ``_``, ``-`` and ``.``. Both are checked at preview; a failure names the rule, never
the value.

``value`` is a secret wherever the stack keeps or shows it: in state (inputs and outputs, even when the
program passes a plain string), in diffs, and in errors (an API error repeating it is scrubbed). A new
value updates in place; a new name replaces the variable. The resource's id is the name.

**Never taken over.** Env vars carry nothing but their name and value, so no marker: a name the account
already has when the create first looks belongs to someone else, and the create fails (nothing changed)
saying how to remove it. A create whose reply was lost looks the name up: present now, it was made by
this create. A ``pulumi up`` killed between the create and the state write leaves the variable behind;
the next ``up`` then fails the same way and says how to remove it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict, Unpack

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vast_pulumi._dynamic import ACCOUNT_KEY, MARKER_KEY, Props, VastProvider, VastResource
from vast_pulumi._fields import REPLACES, UPDATES, table
from vast_pulumi._reconcile import CreateSteps, reconciling_create
from vast_pulumi._teardown import await_unlisted
from vast_pulumi.client import Row
from vast_pulumi.errors import VastApiError, VastConflictError

__all__ = ["EnvVar", "EnvVarArgs", "EnvVarInputs", "EnvVarProvider"]

# Patterns of Vast's OpenAPI spec (updateEnvVar's key, createEnvVar's value).
NAME_PATTERN = re.compile(r"^[a-zA-Z_]\w*$", re.ASCII)
VALUE_PATTERN = re.compile(r"^[a-zA-Z0-9_\-\.]+$")
DELETE_WAIT = 60.0
_POLL = 0.5
# An env var has no id: to the reconciling create it is object 1 of its name (there is at most one).
_THE_ONE = 1


class EnvVarInputs(BaseModel):
    """The variable's inputs as the provider validates them."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(
        max_length=128, description="Variable name: letters, digits and '_'; stored upper-cased."
    )
    value: str = Field(max_length=4096, description="The value (secret): letters, digits, '_', '-' and '.'.")

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise ValueError("must be letters, digits and '_', not starting with a digit")
        return name.upper()

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        if not VALUE_PATTERN.match(value):
            raise ValueError(
                "must be non-empty and contain only letters, digits, '_', '-' and '.' (the API's rule)"
            )
        return value


class EnvVarArgs(TypedDict, total=False):
    """Inputs of :class:`EnvVar`."""

    name: pulumi.Input[str]
    value: pulumi.Input[str]


class EnvVarProvider(VastProvider[EnvVarInputs]):
    inputs_model = EnvVarInputs
    fields = table(EnvVarInputs, {"name": REPLACES.read_back(), "value": UPDATES.read_back().secret_()})
    noun = "env var"

    def create(self, props: Props) -> CreateResult:
        inputs = self.parse(props)
        account = self.client.account_id()
        with _scrubbed(inputs.value):
            reconciling_create(self._create_steps(inputs))
        return CreateResult(inputs.name, {**self._outputs(inputs, props, inputs.value), ACCOUNT_KEY: account})

    def read(self, id_: str, props: Props) -> ReadResult:
        account = self.owner(id_, props)
        value = self.client.list_env_vars().get(id_)
        if value is None:
            return self.gone()
        outs = {**props, "name": id_, "value": value, ACCOUNT_KEY: account}
        outs.pop("__provider", None)
        return self.read_result(id_, outs, props)

    def update(self, id_: str, olds: Props, news: Props) -> UpdateResult:
        account = self.owner(id_, olds)
        inputs = self.parse(news)
        with _scrubbed(inputs.value):
            self.client.update_env_var(id_, inputs.value)
        return UpdateResult({**self._outputs(inputs, news, inputs.value), ACCOUNT_KEY: account})

    def delete(self, id_: str, props: Props) -> None:
        self.owner(id_, props)
        with _scrubbed(str(props.get("value") or "")):
            self.client.delete_env_var(id_)  # already gone is fine
        await_unlisted(f"env var {id_}", self.client.list_env_vars, id_, timeout=DELETE_WAIT, poll=_POLL)

    def _create_steps(self, inputs: EnvVarInputs) -> CreateSteps:
        name, value = inputs.name, inputs.value
        checked = False

        def find() -> list[Row]:
            nonlocal checked
            present = name in self.client.list_env_vars()
            if not checked and present:
                raise VastConflictError(
                    f"name: the account already has an env var {name}, which this resource did not create; "
                    f"nothing was changed. Remove it (vastai delete env-var {name}) or choose another name"
                )
            checked = True
            return [{"id": _THE_ONE}] if present else []

        def create() -> int:
            self.client.create_env_var(name, value)
            return _THE_ONE

        def converge(_id: int, _row: Row | None, just_made: bool) -> Row:
            if not just_made:  # made by a create whose reply was lost: make sure it holds this value
                self.client.update_env_var(name, value)
            return {"id": _THE_ONE}

        def never(_id: int) -> bool:
            raise AssertionError("an account has at most one env var of a name")

        return CreateSteps(noun="env var", find=find, create=create, delete=never, converge=converge)

    def _outputs(self, inputs: EnvVarInputs, props: Props, value: str) -> Props:
        return {"name": inputs.name, "value": value, MARKER_KEY: props.get(MARKER_KEY)}


@contextmanager
def _scrubbed(value: str) -> Iterator[None]:
    """Errors raised inside never carry ``value`` (should the API repeat it in a message)."""
    try:
        yield
    except VastApiError as error:
        if value and value in str(error):
            error.msg = error.msg.replace(value, "[secret]")
            error.args = (str(error.args[0]).replace(value, "[secret]"),)
        raise


class EnvVar(VastResource, module="vast", name="EnvVar"):
    """An account env var. Outputs: ``name`` (upper-cased) and ``value`` (secret)."""

    name: pulumi.Output[str]
    value: pulumi.Output[str]

    output_keys = tuple(EnvVarInputs.model_fields)
    secret_outputs = ("value",)

    provider_class = EnvVarProvider

    def __init__(
        self,
        resource_name: str,
        args: EnvVarArgs | None = None,
        /,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[EnvVarArgs],
    ) -> None:
        super().__init__(resource_name, {**(args or {}), **kwargs}, opts)
