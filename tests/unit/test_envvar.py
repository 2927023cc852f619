"""EnvVar provider against the emulator: create, in-place value change, a name the account already has
is never taken over, a lost create reply, drift, delete, and the value kept out of errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, assert_check_fails, configured, seed_for
from vast_pulumi.emulator import Emulator
from vast_pulumi.envvar import EnvVarProvider
from vast_pulumi.errors import VastApiError, VastConflictError

VALUE = "hf_SEEDED-token.value"
CREATE = ("POST", "/api/v0/secrets/")


def checked(provider: EnvVarProvider, **changes: Any) -> dict[str, Any]:
    news = {"__provider": "blob", "name": "hf_token", "value": VALUE, "_marker": "m", **changes}
    result = provider.check({}, news)
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


@pytest.fixture
def provider(connect: Callable[[EnvVarProvider], EnvVarProvider]) -> EnvVarProvider:
    return connect(EnvVarProvider())


def env_vars(emulator: Emulator) -> dict[str, str]:
    account = emulator.backend.authenticate(emulator.api_keys[0])
    return dict(account.env_vars)


def test_create_upper_cases_the_name_and_stores_the_value(
    provider: EnvVarProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.id == "HF_TOKEN"
    assert env_vars(emulator) == {"HF_TOKEN": VALUE}
    assert created.outs is not None
    assert (created.outs["name"], created.outs["value"]) == ("HF_TOKEN", VALUE)


def test_a_new_value_updates_in_place_a_new_name_replaces(
    provider: EnvVarProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    news = checked(provider, value="other-value")
    diff = provider.diff(created.id, created.outs, news)
    assert (diff.changes, diff.replaces) == (True, [])
    provider.update(created.id, created.outs, news)
    assert env_vars(emulator) == {"HF_TOKEN": "other-value"}
    assert provider.diff(created.id, created.outs, checked(provider, name="OTHER")).replaces == ["name"]
    assert provider.diff(created.id, created.outs, checked(provider, name="Hf_Token")).changes is False


def test_a_name_the_account_already_has_is_never_taken_over(
    provider: EnvVarProvider, emulator: Emulator
) -> None:
    account = emulator.backend.authenticate(emulator.api_keys[0])
    account.env_vars["HF_TOKEN"] = "colleagues-value"
    with pytest.raises(VastConflictError, match="already has an env var HF_TOKEN") as caught:
        provider.create(checked(provider))
    assert VALUE not in str(caught.value)
    assert env_vars(emulator) == {"HF_TOKEN": "colleagues-value"}


def test_a_create_answered_500_after_it_was_applied_is_found_not_sent_again(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: the owner's id, the first look, our POST answered 500 after it was applied, the look.
    emulator = vast_emulator_factory(
        seed=seed_for([False, False, True, False, False], 0.5), faults="500-after=0.5"
    )
    provider = configured(EnvVarProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider))
    emulator.set_faults(None)
    assert created.id == "HF_TOKEN"
    assert env_vars(emulator) == {"HF_TOKEN": VALUE}
    (faulted,) = [entry for entry in emulator.request_log() if entry["fault"]]
    assert (faulted["method"], faulted["route"], faulted["status"]) == ("POST", "/api/v0/secrets/", 500)
    assert api_calls(emulator).count(CREATE) == 1


def test_drift_and_out_of_band_delete_show_on_read(provider: EnvVarProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    account = emulator.backend.authenticate(emulator.api_keys[0])
    account.env_vars["HF_TOKEN"] = "changed-elsewhere"
    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.outs["value"] == "changed-elsewhere"
    assert read.inputs is not None and "value" not in read.inputs  # never a plain input
    del account.env_vars["HF_TOKEN"]
    assert provider.read(created.id, created.outs).id is None


def test_delete_removes_it_and_a_second_delete_is_fine(provider: EnvVarProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    provider.delete(created.id, created.outs)
    assert env_vars(emulator) == {}
    provider.delete(created.id, created.outs)


def test_an_api_error_that_repeats_the_value_is_scrubbed(
    provider: EnvVarProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    client = provider.client

    def echoing(name: str, value: str) -> None:
        raise VastApiError(method="PUT", path="/api/v0/secrets/", status=400, msg=f"bad value {value}")

    client.update_env_var = echoing  # type: ignore[method-assign]
    try:
        with pytest.raises(VastApiError) as caught:
            provider.update(created.id, created.outs, checked(provider, value="new-SECRET-value"))
    finally:
        del client.update_env_var
    assert "new-SECRET-value" not in str(caught.value)
    assert "[secret]" in str(caught.value)


# -- check: bad input fails at preview, naming the field and the rule (no API call) -----------------

CHECKED_ENV = {"name": "HF_TOKEN", "value": "abc"}
CHECK_SECRET = "hf_SEEDED secret/value"
# (inputs, the property the failure names, words of the rule)
CHECK_FAILURES: list[tuple[dict[str, Any], str, str]] = [
    ({"value": "abc"}, "name", "is required"),
    ({**CHECKED_ENV, "name": "1ABC"}, "name", "not starting with a digit"),
    ({**CHECKED_ENV, "name": "HF-TOKEN"}, "name", "letters, digits and '_'"),
    ({**CHECKED_ENV, "value": CHECK_SECRET}, "value", "only letters, digits"),
    ({**CHECKED_ENV, "value": ""}, "value", "non-empty"),
    ({**CHECKED_ENV, "value": "a" * 4097}, "value", "at most 4096 characters"),
    ({"name": "A"}, "value", "is required"),
]


@pytest.mark.parametrize(("news", "field", "rule"), CHECK_FAILURES)
def test_bad_input_fails_at_check_naming_the_field_and_the_rule(
    news: dict[str, Any], field: str, rule: str
) -> None:
    assert_check_fails(EnvVarProvider, news, field, rule)


def test_an_env_var_failure_never_echoes_the_value() -> None:
    result = EnvVarProvider().check({}, {**CHECKED_ENV, "value": CHECK_SECRET})
    assert result.failures and all(
        CHECK_SECRET not in f.reason and "SEEDED" not in f.reason for f in result.failures
    )


def test_env_var_names_are_upper_cased_at_check() -> None:
    assert EnvVarProvider().check({}, {**CHECKED_ENV, "name": "hf_token"}).inputs["name"] == "HF_TOKEN"
