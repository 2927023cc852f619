"""The reconciling create on its own, with scripted steps: what it looks at, when it creates, what it
keeps and what it deletes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from vast_pulumi._reconcile import (
    CREATE_ATTEMPTS,
    CreateFailedError,
    CreateOutcomeUnknownError,
    CreateSteps,
    OutcomeUnknown,
    reconciling_create,
)
from vast_pulumi.client import Row
from vast_pulumi.errors import VastApiError, VastAuthError, VastConnectionError


def lost_reply() -> VastConnectionError:
    return VastConnectionError(method="POST", path="/x/", reason="connection dropped", outcome_unknown=True)


def server_error(status: int) -> VastApiError:
    return VastApiError(method="POST", path="/x/", status=status, error="server_error", msg="boom")


@dataclass
class Account:
    """A fake account: the marked objects a look finds, and what each create does."""

    listed: list[int] = field(default_factory=list)
    # Per create: an id made (and listed), or an exception (raised after making ``made`` if set).
    outcomes: list[int | tuple[BaseException, int | None]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    converged: list[tuple[int, bool, bool]] = field(default_factory=list)  # (id, row given, just made)

    def find(self) -> list[Row]:
        self.calls.append("find")
        return [{"id": object_id} for object_id in self.listed]

    def create(self) -> int:
        self.calls.append("create")
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, int):
            self.listed.append(outcome)
            return outcome
        error, made = outcome
        if made is not None:
            self.listed.append(made)
        raise error

    def delete(self, object_id: int) -> None:
        self.calls.append(f"delete {object_id}")
        self.deleted.append(object_id)
        self.listed.remove(object_id)

    def converge(self, object_id: int, row: Row | None, just_made: bool) -> Row:
        self.converged.append((object_id, row is not None, just_made))
        return {"id": object_id}

    def steps(self, *, findable: bool = True) -> CreateSteps:
        return CreateSteps("thing", self.find, self.create, self.delete, self.converge, findable)


def test_a_live_marked_object_is_adopted_without_creating_and_younger_ones_deleted() -> None:
    account = Account(listed=[12, 7, 9])
    assert reconciling_create(account.steps()) == {"id": 7}
    assert account.calls == ["find", "delete 9", "delete 12"]
    assert account.converged == [(7, True, False)]


def test_nothing_marked_creates_once_then_sweeps() -> None:
    account = Account(outcomes=[5])
    assert reconciling_create(account.steps()) == {"id": 5}
    assert account.calls == ["find", "create", "find"]
    assert account.converged == [(5, True, True)]


def test_the_sweep_keeps_an_older_marked_object_and_deletes_the_new_one_even_if_not_listed_yet() -> None:
    # An earlier attempt's object (3) shows only after our first look; ours (8) is not listed yet.
    account = Account(outcomes=[8])
    looks = iter([[], [3]])
    steps = CreateSteps(
        "thing", lambda: [{"id": i} for i in next(looks)], account.create, account.delete, account.converge
    )
    assert reconciling_create(steps) == {"id": 3}
    assert account.deleted == [8]
    assert account.converged == [(3, True, False)]


@pytest.mark.parametrize(
    "error", [lost_reply(), server_error(500), server_error(503), OutcomeUnknown("offer gone")]
)
def test_an_unknown_outcome_that_was_applied_is_found_by_marker_not_sent_again(error: BaseException) -> None:
    account = Account(outcomes=[(error, 4)])
    assert reconciling_create(account.steps()) == {"id": 4}
    assert account.calls == ["find", "create", "find"]
    assert account.converged == [(4, True, False)]


def test_an_unknown_outcome_that_was_not_applied_is_created_again_after_the_look() -> None:
    account = Account(outcomes=[(server_error(500), None), 6])
    assert reconciling_create(account.steps()) == {"id": 6}
    assert account.calls == ["find", "create", "find", "create", "find"]


def test_a_refusal_that_left_nothing_is_raised_as_it_is_after_one_look() -> None:
    refused = VastApiError(method="POST", path="/x/", status=400, error="invalid_args", msg="no")
    account = Account(outcomes=[(refused, None)])
    with pytest.raises(VastApiError, match="invalid_args"):
        reconciling_create(account.steps())
    assert account.calls == ["find", "create", "find"]


def test_a_refusal_that_still_made_a_marked_object_deletes_it_before_raising() -> None:
    refused = VastApiError(method="PUT", path="/x/", status=400, error="invalid_price", msg="too low")
    account = Account(outcomes=[(refused, 7)])
    with pytest.raises(CreateFailedError, match=r"invalid_price.*still made thing 7; it was deleted"):
        reconciling_create(account.steps())
    assert account.calls == ["find", "create", "find", "delete 7"]
    assert account.listed == []


def test_a_refusal_naming_the_object_it_made_deletes_it_even_before_it_is_listed() -> None:
    refused = VastApiError(method="PUT", path="/x/", status=400, error="invalid_price", msg="low", made_id=9)
    account = Account(outcomes=[(refused, None)])
    account.delete = lambda object_id: account.deleted.append(object_id)  # type: ignore[method-assign]
    with pytest.raises(CreateFailedError, match="still made thing 9; it was deleted"):
        reconciling_create(account.steps(findable=False))
    assert account.deleted == [9]


def test_a_leftover_that_cannot_be_deleted_is_named_as_maybe_billing() -> None:
    refused = VastApiError(method="PUT", path="/x/", status=400, error="invalid_price", msg="low", made_id=9)
    account = Account(outcomes=[(refused, None)])

    def failing_delete(object_id: int) -> None:
        raise RuntimeError("503 busy")

    account.delete = failing_delete  # type: ignore[method-assign]
    with pytest.raises(CreateFailedError, match=r"thing 9 \(503 busy\): it may still be billing"):
        reconciling_create(account.steps())


def test_an_auth_refusal_is_raised_at_once_without_a_look() -> None:
    refused = VastAuthError(method="POST", path="/x/", status=401, msg="Invalid user key")
    account = Account(outcomes=[(refused, None)])
    with pytest.raises(VastAuthError):
        reconciling_create(account.steps())
    assert account.calls == ["find", "create"]


def test_creates_stop_after_the_attempt_limit_with_a_clear_error() -> None:
    account = Account(outcomes=[(lost_reply(), None)] * CREATE_ATTEMPTS)
    with pytest.raises(CreateOutcomeUnknownError, match="run `pulumi up` again"):
        reconciling_create(account.steps())
    assert account.calls.count("create") == CREATE_ATTEMPTS


def test_an_unknown_outcome_without_a_marker_is_reported_not_repeated() -> None:
    account = Account(outcomes=[(lost_reply(), None), 1])
    with pytest.raises(CreateOutcomeUnknownError, match="carries no marker"):
        reconciling_create(account.steps(findable=False))
    assert account.calls == ["create"]
