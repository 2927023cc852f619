"""Money safety at read, update and delete: a rejected key is never "gone", and a key of another
account never touches (nor forgets) what the stack manages."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.unit.conftest import api_calls, configured
from vast_pulumi import _registry
from vast_pulumi._registry import ResourceKind
from vast_pulumi.client import VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.errors import STALE_CONFIG_NOTE, VastAccountError, VastApiError, VastAuthError
from vast_pulumi.settings import ProviderSettings

KEY = "safety-test-key-9f2e"
OWNER = 7
ACCOUNT = ("GET", "/api/v0/users/current/")

# -- a fake API that answers every object route with one auth failure --------------------------------

AUTH_FAILURES = {
    "401": (401, {"success": False, "error": "auth_error", "msg": "Invalid user key"}),
    "403": (403, {"success": False, "error": "forbidden", "msg": "Permission denied"}),
    "404 auth_error": (404, {"success": False, "error": "auth_error", "msg": "Invalid user key"}),
    "404 Invalid user key": (404, {"success": False, "msg": "Invalid user key"}),
    "404 Session expired": (404, {"success": False, "msg": "Session expired. Please log in again."}),
}


class FakeApi(BaseHTTPRequestHandler):
    """``GET /users/current/`` answers ``{"id": OWNER}``; every other route answers ``failure``."""

    failure: ClassVar[tuple[int, dict[str, Any]]] = (500, {})
    seen: ClassVar[list[tuple[str, str]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        path = self.path.split("?", 1)[0]
        FakeApi.seen.append((self.command, path))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = (200, {"id": OWNER}) if path == ACCOUNT[1] else FakeApi.failure
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = _answer


@pytest.fixture
def fake_api() -> Iterator[Callable[[tuple[int, dict[str, Any]]], str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def answering(failure: tuple[int, dict[str, Any]]) -> str:
        FakeApi.failure, FakeApi.seen = failure, []
        return f"http://127.0.0.1:{server.server_port}"

    yield answering
    server.shutdown()


@pytest.mark.parametrize("shape", sorted(AUTH_FAILURES))
def test_an_auth_failure_is_an_auth_error_never_not_found(
    fake_api: Callable[[tuple[int, dict[str, Any]]], str], shape: str
) -> None:
    client = VastClient(ProviderSettings(KEY, fake_api(AUTH_FAILURES[shape])), pacing_scale=0)
    for call in (lambda: client.get_instance(5), lambda: client.destroy_instance(5), client.list_endpoints):
        with pytest.raises(VastAuthError) as caught:
            call()
        assert not caught.value.is_not_found
        message = str(caught.value)
        assert message.startswith(f"Vast API rejected the API key ({AUTH_FAILURES[shape][0]} ")
        assert "\n" not in message and KEY not in message
    assert client.stats().retries == 0


@pytest.mark.parametrize(
    ("error", "msg"),
    [("auth_error", "whatever"), (None, "Invalid user key"), (None, "Session expired. Please log in again.")],
)
def test_is_not_found_is_never_true_for_a_404_that_rejects_the_key(error: str | None, msg: str) -> None:
    failure = VastApiError(method="GET", path="/api/v0/instances/5/", status=404, error=error, msg=msg)
    assert not failure.is_not_found


def test_a_plain_404_still_means_not_found() -> None:
    failure = VastApiError(method="GET", path="/x/5/", status=404, error="no_such_instance", msg="gone")
    assert failure.is_not_found


# The id a read and a delete name, per resource (an env var's id is its name).
IDS = {"EnvVar": "HF_TOKEN"}
# DELETEs sent before the rejection stops the delete: none where a delete first lists (the workers of
# an endpoint or group, a template's users, a fleet's members); the DELETE itself where it does not.
DELETES = {"Instance": 1, "SshKey": 1, "EnvVar": 1, "Volume": 1}


@pytest.mark.parametrize("kind", _registry.RESOURCES, ids=lambda kind: kind.name)
@pytest.mark.parametrize("shape", ["404 auth_error", "404 Session expired", "401"])
def test_read_and_delete_with_a_rejected_key_fail_instead_of_saying_gone(
    fake_api: Callable[[tuple[int, dict[str, Any]]], str], kind: ResourceKind, shape: str
) -> None:
    provider = configured(kind.provider_class()(), fake_api(AUTH_FAILURES[shape]), KEY)
    props = {"account_id": float(OWNER), "_marker": "m"}
    id_ = IDS.get(kind.name, "5")
    with pytest.raises(VastAuthError):
        provider.read(id_, props)
    with pytest.raises(VastAuthError):
        provider.delete(id_, props)
    assert [method for method, _ in FakeApi.seen].count("DELETE") == DELETES.get(kind.name, 0)


# -- the owning account, against an emulator with two accounts ----------------------------------------


@pytest.fixture
def two_accounts(vast_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return vast_emulator_factory(api_keys=["owner-key", "other-key"], boot_seconds=0.1)


def account_ids(emulator: Emulator) -> tuple[int, int]:
    owner, other = (emulator.backend.authenticate(key).user_id for key in emulator.api_keys)
    return owner, other


def made_endpoint(emulator: Emulator) -> tuple[EndpointProvider, str, dict[str, Any]]:
    provider = configured(EndpointProvider(), emulator.url, "owner-key")
    checked = provider.check({}, {"endpoint_name": "ep", "_marker": "0123456789abcdef"})
    created = provider.create({**checked.inputs, "__provider": "blob"})
    assert created.outs is not None
    return provider, created.id, {**created.outs, "__provider": "blob"}


def test_create_records_the_owning_account(two_accounts: Emulator) -> None:
    _, _, outs = made_endpoint(two_accounts)
    assert outs["account_id"] == account_ids(two_accounts)[0]


def test_a_key_of_another_account_fails_read_update_and_delete_naming_both_ids(
    two_accounts: Emulator,
) -> None:
    provider, endpoint_id, outs = made_endpoint(two_accounts)
    owner, other = account_ids(two_accounts)
    before = two_accounts.inventory()
    stranger = configured(EndpointProvider(), two_accounts.url, "other-key")
    mark = len(two_accounts.request_log())
    expected = (
        f"endpoint {endpoint_id} belongs to Vast.ai account {owner}, but the configured API key is of "
        f"account {other}: nothing was changed and the stack keeps the endpoint; set vast:apiKey to a "
        f"key of account {owner}. {STALE_CONFIG_NOTE}"
    )
    engine_outs = {**outs, "account_id": float(owner)}  # numbers come back from the engine as floats
    news = {**provider.check({}, {"endpoint_name": "ep", "max_workers": 3.0}).inputs, "__provider": "blob"}
    for attempt in (
        lambda: stranger.read(endpoint_id, engine_outs),
        lambda: stranger.update(endpoint_id, engine_outs, news),
        lambda: stranger.delete(endpoint_id, engine_outs),
    ):
        with pytest.raises(VastAccountError) as caught:
            attempt()
        assert str(caught.value) == expected
        assert "owner-key" not in str(caught.value) and "other-key" not in str(caught.value)
    assert api_calls(two_accounts, mark) == [ACCOUNT]  # asked once, then nothing touched
    assert two_accounts.inventory() == before


def test_state_without_an_account_records_it_on_the_next_read(two_accounts: Emulator) -> None:
    provider, endpoint_id, outs = made_endpoint(two_accounts)
    del outs["account_id"]  # as written by vast-pulumi 0.1.0
    read = provider.read(endpoint_id, outs)
    assert read.outs is not None and read.outs["account_id"] == account_ids(two_accounts)[0]
    assert read.inputs is None  # a new output is not drift


def test_the_account_is_asked_once_per_client_however_many_threads_ask(two_accounts: Emulator) -> None:
    client = VastClient(ProviderSettings("owner-key", two_accounts.url), pacing_scale=0)
    barrier = threading.Barrier(8)
    answers: list[int] = []

    def ask() -> None:
        barrier.wait()
        answers.append(client.account_id())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [account_ids(two_accounts)[0]] * 8
    assert api_calls(two_accounts) == [ACCOUNT]
