"""The package's own errors reach the CLI as one line; other exceptions keep their traceback."""

from __future__ import annotations

from vast_pulumi._provider_server import _Traceback, is_ours
from vast_pulumi.errors import STALE_CONFIG_NOTE, VastAccountError, VastAuthError


def report(error: BaseException) -> str:
    try:
        raise error
    except BaseException:
        return _Traceback.format_exc()


def test_the_package_errors_are_their_message_alone() -> None:
    auth = VastAuthError(method="GET", path="/x/", status=404, error="auth_error", msg="Invalid user key")
    assert report(auth) == (
        "Vast API rejected the API key (404 Invalid user key); set vast:apiKey or VAST_API_KEY. "
        + STALE_CONFIG_NOTE
    )
    assert report(VastAccountError("endpoint 1 belongs to account 2")) == "endpoint 1 belongs to account 2"
    assert is_ours(auth)


def test_any_other_exception_keeps_its_traceback() -> None:
    reported = report(KeyError("id"))
    assert reported.startswith("Traceback (most recent call last):") and "KeyError: 'id'" in reported
    assert not is_ours(KeyError("id"))


def test_every_error_of_the_tree_is_ours_and_a_plain_value_error_is_not() -> None:
    from vast_pulumi.errors import AdoptError, OfferUnavailableError

    assert report(AdoptError("adopt_id: there is no endpoint 7 on this account")) == (
        "adopt_id: there is no endpoint 7 on this account"
    )
    assert is_ours(OfferUnavailableError("no offer matches"))
    assert not is_ours(ValueError("a bug"))
