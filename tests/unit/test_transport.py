"""The transport through its send seam: what is retried, what never is, how answers map to errors.

A scripted :data:`~vast_pulumi._transport.Send` stands in for the network, so each test sees exactly the
requests the client sent and answers them as the case needs; no emulator, no socket.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3.connection
import urllib3.exceptions

from tests.unit.conftest import FakeTime
from vast_pulumi import _transport as transport_module
from vast_pulumi._reconcile import is_outcome_unknown
from vast_pulumi._transport import ClientStats, RetryPolicy, Timeout
from vast_pulumi.client import VastClient
from vast_pulumi.errors import STALE_CONFIG_NOTE, VastApiError, VastAuthError, VastConnectionError
from vast_pulumi.settings import ProviderSettings

KEY = "transport-test-key"
URL = "https://vast.example"
FAST_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05)
NO_ENDPOINTS: dict[str, Any] = {"success": True, "results": []}
ENDPOINTS = ("GET", "/api/v0/endptjobs/")
CREATE_ENDPOINT = ("POST", "/api/v0/endptjobs/")


def answer(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> requests.Response:
    """A response as requests builds it from the wire: status, headers, a body (JSON unless a string)."""
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
    response.encoding = "utf-8"
    return response


Script = requests.Response | requests.RequestException


class ScriptedSend:
    """A Send that answers from a script, one entry per request, and records what it was sent."""

    def __init__(self, *script: Script) -> None:
        self.script = list(script)
        self.sent: list[requests.PreparedRequest] = []
        self.timeouts: list[Timeout] = []

    def __call__(self, request: requests.PreparedRequest, timeout: Timeout) -> requests.Response:
        self.sent.append(request)
        self.timeouts.append(timeout)
        step = self.script.pop(0)
        if isinstance(step, requests.RequestException):
            raise step
        step.request = request
        return step

    def calls(self) -> list[tuple[str | None, str]]:
        return [(request.method, urlsplit(request.url or "").path) for request in self.sent]


def client_with(send: ScriptedSend, **options: Any) -> VastClient:
    options.setdefault("retry", FAST_RETRIES)
    options.setdefault("pacing_scale", 0.0)
    return VastClient(ProviderSettings(KEY, URL), send=send, **options)


def refused_connection() -> requests.ConnectionError:
    """What requests raises when the TCP connection cannot be made: the request never left."""
    connection = urllib3.connection.HTTPSConnection("vast.example", 443)
    refused = urllib3.exceptions.NewConnectionError(connection, "Connection refused")
    pool = urllib3.HTTPSConnectionPool("vast.example", 443)
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(pool, URL, refused))


# -- the seam ---------------------------------------------------------------------------------------------


def test_the_send_function_gets_the_request_the_session_prepares(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(200, {"success": True, "templates": []}))
    client = client_with(send, connect_timeout=3.0, read_timeout=7.0)
    client.search_templates({"name": {"eq": "vllm"}})
    (request,) = send.sent
    assert (request.method, request.headers["Authorization"]) == ("GET", f"Bearer {KEY}")
    assert request.headers["User-Agent"] == transport_module._USER_AGENT
    assert request.headers["Accept"] == "application/json"
    query = parse_qs(urlsplit(request.url or "").query)
    assert {name: json.loads(value) for name, (value,) in query.items()} == {
        "select_cols": ["*"],
        "select_filters": {"name": {"eq": "vllm"}},
    }
    assert send.timeouts == [(3.0, 7.0)]


def test_a_json_body_is_sent_as_json(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(200, {"success": True, "result": 41}))
    assert client_with(send).create_endpoint({"endpoint_name": "one"}) == 41
    (request,) = send.sent
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body or b"") == {"endpoint_name": "one"}


# -- what is retried -----------------------------------------------------------------------------------


def test_a_dropped_connection_on_a_read_is_retried_and_counted(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    send = ScriptedSend(requests.ConnectionError("Connection aborted."), answer(200, NO_ENDPOINTS))
    client = client_with(send)
    with caplog.at_level(logging.WARNING, logger="vast_pulumi"):
        assert client.list_endpoints() == []
    assert send.calls() == [ENDPOINTS, ENDPOINTS]
    assert len(fake_time.slept) == 1
    # Only answers count as requests: the dropped one got none.
    assert client.stats() == ClientStats(requests=1, retries=1)
    (line,) = caplog.messages
    assert line.startswith("vast: GET /api/v0/endptjobs/: connection dropped; retry 1 of 11 in ")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_a_read_is_retried(fake_time: FakeTime, status: int) -> None:
    send = ScriptedSend(
        answer(status, {"success": False, "error": "server_error"}), answer(200, NO_ENDPOINTS)
    )
    client = client_with(send)
    assert client.list_endpoints() == []
    assert send.calls() == [ENDPOINTS, ENDPOINTS]
    assert client.stats() == ClientStats(requests=2, retries=1)


def test_a_429_waits_as_long_as_retry_after_says(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(429, "slow down", {"Retry-After": "0.4"}), answer(200, NO_ENDPOINTS))
    client = client_with(send)  # its own backoff: at most 0.01 s before the first retry
    assert client.list_endpoints() == []
    assert fake_time.slept == [0.4]
    assert send.calls() == [ENDPOINTS, ENDPOINTS]
    assert client.stats().retries == 1


def test_a_retry_after_past_the_time_bound_fails_at_once(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(429, "slow down", {"Retry-After": "30"}), answer(200, NO_ENDPOINTS))
    client = client_with(send, retry=RetryPolicy(base_delay=0.01, max_delay=0.05, max_total=10.0))
    with pytest.raises(VastApiError) as caught:
        client.list_endpoints()
    assert caught.value.status == 429
    assert fake_time.slept == []  # the wait would end past the bound: not waited
    assert send.calls() == [ENDPOINTS]


def test_a_create_refused_with_429_is_sent_again(fake_time: FakeTime) -> None:
    # A 429 comes before the server does anything: repeating the create cannot make a second one.
    send = ScriptedSend(answer(429, {"detail": "rate limited"}), answer(200, {"success": True, "result": 7}))
    assert client_with(send).create_endpoint({"endpoint_name": "paced"}) == 7
    assert send.calls() == [CREATE_ENDPOINT, CREATE_ENDPOINT]


@pytest.mark.parametrize("never_sent", [requests.ConnectTimeout("connect timeout"), refused_connection()])
def test_a_create_that_never_left_is_sent_again(fake_time: FakeTime, never_sent: Exception) -> None:
    assert isinstance(never_sent, requests.RequestException)
    send = ScriptedSend(never_sent, answer(200, {"success": True, "result": 8}))
    client = client_with(send)
    assert client.create_endpoint({"endpoint_name": "once"}) == 8
    assert send.calls() == [CREATE_ENDPOINT, CREATE_ENDPOINT]
    assert client.stats() == ClientStats(requests=1, retries=1)


def test_the_daily_search_quota_is_final_at_once(fake_time: FakeTime) -> None:
    quota = {"success": False, "error": "search_quota_exceeded", "msg": "Daily search quota exceeded"}
    send = ScriptedSend(answer(429, quota, {"X-RateLimit-Reset": "1796169600"}), answer(200, {"offers": []}))
    with pytest.raises(VastApiError, match=r"resets at 2026-12-02 00:00 UTC \(not retried"):
        client_with(send).search_offers({})
    assert send.calls() == [("POST", "/api/v0/bundles/")]
    assert fake_time.slept == []


def test_retries_stop_at_the_attempt_limit(fake_time: FakeTime) -> None:
    send = ScriptedSend(*[answer(503, {"success": False, "error": "unavailable"})] * 3)
    client = client_with(send, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01))
    with pytest.raises(VastApiError, match=r"GET /api/v0/endptjobs/ failed: 503 unavailable"):
        client.list_endpoints()
    assert send.calls() == [ENDPOINTS] * 3
    assert client.stats() == ClientStats(requests=3, retries=2)


# -- what is never repeated ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_a_create_is_an_unknown_outcome_never_sent_again(fake_time: FakeTime, status: int) -> None:
    send = ScriptedSend(
        answer(status, {"success": False, "error": "server_error"}), answer(200, {"result": 9})
    )
    client = client_with(send)
    with pytest.raises(VastConnectionError) as caught:
        client.create_endpoint({"endpoint_name": "maybe"})
    assert (caught.value.outcome_unknown, caught.value.status) == (True, status)
    assert is_outcome_unknown(caught.value)  # what the reconciling create looks for its marker on
    assert str(caught.value) == (
        f"Vast API POST /api/v0/endptjobs/ failed: answered {status} server_error; "
        "the request may have been applied"
    )
    assert send.calls() == [CREATE_ENDPOINT]
    assert client.stats() == ClientStats(requests=1, retries=0)


@pytest.mark.parametrize(
    ("lost", "reason"),
    [
        (requests.ConnectionError("Connection aborted."), "connection dropped"),
        (requests.ReadTimeout(), "read timeout"),
    ],
)
def test_a_create_whose_answer_is_lost_is_an_unknown_outcome_never_sent_again(
    fake_time: FakeTime, lost: requests.RequestException, reason: str
) -> None:
    send = ScriptedSend(lost, answer(200, {"success": True, "new_contract": 5}))
    with pytest.raises(VastConnectionError) as caught:
        client_with(send).create_instance(3, {"image": "pytorch/pytorch"})
    assert is_outcome_unknown(caught.value)
    assert str(caught.value) == (
        f"Vast API PUT /api/v0/asks/3/ failed: no response from {URL} ({reason}); "
        "the request may have been applied"
    )
    assert send.calls() == [("PUT", "/api/v0/asks/3/")]


# -- how answers map to errors --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_is_an_auth_error_never_retried(fake_time: FakeTime, status: int) -> None:
    send = ScriptedSend(
        answer(status, {"success": False, "msg": "Invalid user key"}), answer(200, NO_ENDPOINTS)
    )
    with pytest.raises(VastAuthError) as caught:
        client_with(send).list_endpoints()
    assert caught.value.status == status
    assert str(caught.value) == (
        f"Vast API rejected the API key ({status} Invalid user key); set vast:apiKey or VAST_API_KEY. "
        + STALE_CONFIG_NOTE
    )
    assert KEY not in str(caught.value)
    assert send.calls() == [ENDPOINTS]


def test_a_404_that_rejects_the_key_is_never_taken_for_gone(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(404, {"success": False, "error": "auth_error", "msg": "Invalid user key"}))
    with pytest.raises(VastAuthError):
        client_with(send).get_endpoint(12)  # a plain 404 would read as None: the endpoint is gone
    assert send.calls() == [("GET", "/api/v0/endptjobs/12/")]


def test_a_plain_404_reads_as_gone(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(404, {"success": False, "error": "no_such_endpoint", "msg": "not found"}))
    assert client_with(send).get_endpoint(12) is None


def test_http_200_with_success_false_is_an_error_not_retried(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(200, {"success": False, "error": "invalid_args", "msg": "no"}))
    with pytest.raises(VastApiError, match="GET /api/v0/endptjobs/ failed: 200 invalid_args: no"):
        client_with(send).list_endpoints()
    assert len(send.sent) == 1


def test_a_body_that_is_not_json_names_the_failure(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(200, "<html>maintenance</html>"))
    with pytest.raises(VastApiError, match="the response is not a JSON object"):
        client_with(send).list_endpoints()


def test_a_bare_array_reply_is_read_as_rows(fake_time: FakeTime) -> None:
    send = ScriptedSend(answer(200, [{"id": 1, "key": "ssh-ed25519 AAAA"}, "not a row"]))
    assert client_with(send).list_ssh_keys() == [{"id": 1, "key": "ssh-ed25519 AAAA"}]
