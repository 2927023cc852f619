"""The client: retries, what is never retried, errors, auth, pacing, list snapshots."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.data import spec_thresholds
from tests.unit.conftest import FakeTime, api_calls, faulted_calls, seed_for
from vast_pulumi import _pacing as pacing_module
from vast_pulumi.client import ROUTE_INTERVALS, RetryPolicy, VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import STALE_CONFIG_NOTE, VastApiError, VastAuthError, VastConnectionError
from vast_pulumi.settings import ProviderSettings

FAST_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05)
KEY = "client-test-key"


def client_for(emulator: Emulator, **options: Any) -> VastClient:
    options.setdefault("retry", FAST_RETRIES)
    options.setdefault("pacing_scale", 0.0)
    return VastClient(ProviderSettings(emulator.api_keys[0], emulator.url), **options)


class FixedDelay(RetryPolicy):
    """Backoff without jitter, so the attempts a time bound allows are known."""

    def delay(self, attempt: int) -> float:
        return self.base_delay


@pytest.fixture
def faulty(vast_emulator_factory: Callable[..., Emulator]) -> Callable[..., Emulator]:
    """An emulator whose first requests fail as listed (``faulty("429", [True, False])``)."""

    def start(kind: str, pattern: list[bool], probability: float = 0.5) -> Emulator:
        seed = seed_for(pattern, probability)
        return vast_emulator_factory(api_keys=[KEY], seed=seed, faults=f"{kind}={probability}")

    return start


@pytest.mark.parametrize("kind", ["429", "500", "503", "502", "reset-before"])
def test_a_read_that_fails_once_is_retried_and_succeeds(
    faulty: Callable[..., Emulator], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = faulty(kind, [True, False])
    client = client_for(emulator)
    with caplog.at_level(logging.WARNING, logger="vast_pulumi"):
        assert client.list_endpoints() == []
    assert api_calls(emulator) == [("GET", "/api/v0/endptjobs/")] * 2
    assert client.stats().retries == 1
    (line,) = caplog.messages
    assert line.startswith("vast: GET /api/v0/endptjobs/: ") and "retry 1 of" in line
    assert KEY not in line


def test_a_create_whose_reply_is_lost_is_not_repeated(faulty: Callable[..., Emulator]) -> None:
    emulator = faulty("reset-after", [True, False])
    client = client_for(emulator)
    with pytest.raises(VastConnectionError) as caught:
        client.create_endpoint({"endpoint_name": "once"})
    assert caught.value.outcome_unknown
    assert "may have been applied" in str(caught.value)
    assert api_calls(emulator) == [("POST", "/api/v0/endptjobs/")]
    assert [row["endpoint_name"] for row in client.list_endpoints()] == ["once"]  # it was applied


def test_a_create_refused_with_429_is_retried(faulty: Callable[..., Emulator]) -> None:
    emulator = faulty("429", [True, False])
    client = client_for(emulator)
    client.create_endpoint({"endpoint_name": "retried"})
    assert api_calls(emulator) == [("POST", "/api/v0/endptjobs/")] * 2
    assert len(client.list_endpoints()) == 1


@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "500-after"])
def test_any_5xx_on_a_create_is_an_unknown_outcome_never_repeated(
    faulty: Callable[..., Emulator], kind: str
) -> None:
    emulator = faulty(kind, [True, False])
    with pytest.raises(VastConnectionError) as caught:
        client_for(emulator).create_endpoint({"endpoint_name": "maybe"})
    status = int(kind.removesuffix("-after"))
    assert (caught.value.outcome_unknown, caught.value.status) == (True, status)
    assert str(caught.value).startswith(f"Vast API POST /api/v0/endptjobs/ failed: answered {status} ")
    assert str(caught.value).endswith("; the request may have been applied")
    assert api_calls(emulator) == [("POST", "/api/v0/endptjobs/")]


def test_retries_stop_after_the_attempt_limit(faulty: Callable[..., Emulator]) -> None:
    emulator = faulty("500", [True] * 3, probability=1.0)
    client = client_for(emulator, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01))
    with pytest.raises(VastApiError, match=r"GET /api/v0/endptjobs/ failed: 500 server_error"):
        client.list_endpoints()
    assert len(api_calls(emulator)) == 3


def test_retries_stop_at_the_time_bound(faulty: Callable[..., Emulator], fake_time: FakeTime) -> None:
    emulator = faulty("500", [True] * 3, probability=1.0)
    client = client_for(emulator, retry=FixedDelay(max_attempts=50, base_delay=0.2, max_total=0.5))
    with pytest.raises(VastApiError):
        client.list_endpoints()
    # Attempts at 0, 0.2 and 0.4 s; a third wait would end at 0.6 s, past the bound.
    assert fake_time.slept == [0.2, 0.2]
    assert len(api_calls(emulator)) == 3


def test_a_rejected_key_is_one_clear_line(vast_emulator: Emulator) -> None:
    client = VastClient(ProviderSettings("wrong-key", vast_emulator.url), pacing_scale=0)
    with pytest.raises(VastAuthError) as caught:
        client.list_instances()
    assert str(caught.value) == (
        "Vast API rejected the API key (401 Invalid user key); set vast:apiKey or VAST_API_KEY. "
        + STALE_CONFIG_NOTE
    )
    assert client.stats().retries == 0


def test_the_key_travels_in_the_header_only(vast_emulator: Emulator) -> None:
    client = client_for(vast_emulator)
    client.list_instances()
    client.search_offers({"num_gpus": {"eq": "1"}, "limit": 1})
    paths = [entry["path"] for entry in vast_emulator.request_log()]
    assert paths and not any("api_key" in path for path in paths)


def test_an_error_names_method_path_status_code_and_message(vast_emulator: Emulator) -> None:
    with pytest.raises(VastApiError) as caught:
        client_for(vast_emulator).create_instance(123, {"image": "x"})
    assert str(caught.value) == (
        "Vast API PUT /api/v0/asks/123/ failed: 404 invalid_args: "
        "error 404/3603: no_such_ask Instance type by id 123 is not available."
    )
    assert caught.value.is_not_found


def test_list_instances_pages_through_every_instance(vast_emulator: Emulator) -> None:
    client = client_for(vast_emulator)
    offers = client.search_offers({"limit": 30, "order": [["dph_total", "asc"]]})
    for offer in offers[:27]:
        client.create_instance(offer["id"], {"image": "img", "disk": 10.0})
    mark = len(vast_emulator.request_log())
    rows = client.list_instances()
    assert len({row["id"] for row in rows}) == 27
    assert api_calls(vast_emulator, mark) == [("GET", "/api/v1/instances/")] * 2


def test_a_destroyed_instance_reads_as_being_destroyed_then_as_none(vast_emulator: Emulator) -> None:
    client = client_for(vast_emulator)
    now = [1_800_000_000.0]
    vast_emulator.backend.clock = lambda: now[0]
    (offer,) = client.search_offers({"limit": 1})
    instance_id = int(client.create_instance(offer["id"], {"image": "img"})["new_contract"])
    assert client.get_instance(instance_id) is not None
    assert client.destroy_instance(instance_id) is True
    dying = client.get_instance(instance_id)  # destroy is asynchronous: it lingers a while
    assert dying is not None and dying["next_state"] == "unloaded"
    assert client.destroy_instance(instance_id) is True  # a repeated destroy meanwhile is accepted
    now[0] += vast_emulator.backend.destroy_seconds
    assert client.get_instance(instance_id) is None
    assert client.destroy_instance(instance_id) is False  # gone already: not an error


def test_concurrent_snapshot_readers_share_one_list_call(vast_emulator: Emulator) -> None:
    client = client_for(vast_emulator)
    results: list[int] = []
    barrier = threading.Barrier(12)

    def read() -> None:
        barrier.wait()
        results.append(len(client.cached_instances()))

    threads = [threading.Thread(target=read) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [0] * 12
    assert api_calls(vast_emulator) == [("GET", "/api/v1/instances/")]


def test_a_write_makes_the_next_snapshot_read_fetch_again(vast_emulator: Emulator) -> None:
    client = client_for(vast_emulator)
    assert client.cached_endpoints() == []
    assert client.cached_endpoints() == []  # reused
    client.create_endpoint({"endpoint_name": "fresh"})
    assert [row["endpoint_name"] for row in client.cached_endpoints()] == ["fresh"]
    assert api_calls(vast_emulator) == [
        ("GET", "/api/v0/endptjobs/"),
        ("POST", "/api/v0/endptjobs/"),
        ("GET", "/api/v0/endptjobs/"),
    ]


def test_a_real_limit_costs_one_429_per_doubling_of_the_calls_and_no_failure(
    vast_emulator_factory: Callable[..., Emulator], fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = vast_emulator_factory(rate_limits=True)  # GET endptjobs: 3 s
    # One clock for the client's waits and the server's limit: the server sees exactly the spacing
    # the client made, whatever the load of the machine, and nobody waits for real.
    monkeypatch.setattr(pacing_module, "time", fake_time)
    monkeypatch.setattr(emulator.runtime.limiter, "clock", fake_time.monotonic)
    paced = client_for(emulator, pacing_scale=1.0)
    calls = 16
    for _ in range(calls):
        paced.list_endpoints()
    statuses = [entry["status"] for entry in emulator.request_log()]
    # Every call answered (400 is the real API's answer to an account without endpoints: an empty list).
    assert statuses.count(400) == calls
    # The second call meets the limit, its retry probes at once; then one probe after 1, 2, 4, ...
    assert 2 <= statuses.count(429) <= 2 + math.log2(calls)
    assert paced.stats().retries == statuses.count(429)
    assert pacer_mode(paced, "GET", "/api/v0/endptjobs/") == "paced"
    # Paced, the calls took about the API's floor: 15 intervals of 3 s (with the pacer's slack).
    assert 15 * 3.0 <= sum(fake_time.slept) <= 15 * 3.0 * 1.1


def test_a_burst_under_a_real_limit_meets_few_429s_not_one_per_caller(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(rate_limits=True, rate_limit_scale=0.1)  # GET endptjobs: 0.3 s
    # Threads cannot share a fake clock, so this runs on the real one. The client paces at twice the
    # server's interval: a call that the load of a busy machine delays by up to 0.3 s in transit
    # does not make the next one arrive early (at the same interval, CI met extra 429s under load).
    paced = client_for(emulator, pacing_scale=0.2)
    threads = [threading.Thread(target=paced.list_endpoints) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = [entry["status"] for entry in emulator.request_log()]
    assert statuses.count(400) == 12  # every call answered: an account without endpoints
    # Unpaced, 11 of the 12 would meet the limit at once (each retry then more of them).
    assert statuses.count(429) <= 2 + 4


def test_pacing_a_random_429_switched_on_ends_when_the_route_answers_again(
    faulty: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch, fake_time: FakeTime
) -> None:
    monkeypatch.setattr(pacing_module, "time", fake_time)
    emulator = faulty("429", [False, True, False, False, False, False, False])  # no rate limits
    client = client_for(emulator, pacing_scale=1.0)  # GET endptjobs: 3 s
    route = ("GET", "/api/v0/endptjobs/")
    client.list_endpoints()
    client.list_endpoints()  # meets the injected 429 within the interval: the route is paced
    assert faulted_calls(emulator) == [(*route, "429")]
    # Its retry went at once as a probe, was accepted: the 429 was not a limit, the route is free.
    assert pacer_mode(client, *route) == "free"
    for _ in range(4):
        client.list_endpoints()
    # (400: the real API's answer to an account without endpoints, an empty list to the client.)
    assert [entry["status"] for entry in emulator.request_log()] == [400, 429, 400, 400, 400, 400, 400]
    # Only the retry's backoff was waited, never the route's 3 s interval: the fleet is not serialised.
    assert sum(fake_time.slept) < 3.0


def test_a_server_that_accepts_calls_within_the_interval_frees_the_route_at_once(
    vast_emulator_factory: Callable[..., Emulator], fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing_module, "time", fake_time)
    client = client_for(vast_emulator_factory(), pacing_scale=1.0)
    route = ("GET", "/api/v0/endptjobs/")
    assert pacer_mode(client, *route) == "probing"
    client.list_endpoints()
    client.list_endpoints()
    assert pacer_mode(client, *route) == "free"


def pacer_mode(client: VastClient, method: str, route: str) -> str | None:
    return client._transport.pacer.mode(method, route)


def test_routes_are_not_paced_before_the_server_limits_them(
    vast_emulator_factory: Callable[..., Emulator], fake_time: FakeTime
) -> None:
    emulator = vast_emulator_factory()  # no rate limits
    client = client_for(emulator, pacing_scale=1.0)  # GET endptjobs would be spaced by 3 s
    for _ in range(4):
        client.list_endpoints()
    assert fake_time.slept == []  # paced, the client would have waited 3 times
    assert api_calls(emulator) == [("GET", "/api/v0/endptjobs/")] * 4
    assert client.stats().retries == 0


def test_without_pacing_the_same_calls_meet_429s(vast_emulator_factory: Callable[..., Emulator]) -> None:
    emulator = vast_emulator_factory(rate_limits=True, rate_limit_scale=0.1)
    unpaced = client_for(
        emulator, pacing_scale=0.0, retry=RetryPolicy(max_attempts=20, base_delay=0.1, max_delay=0.4)
    )
    for _ in range(4):
        unpaced.list_endpoints()
    assert 429 in [entry["status"] for entry in emulator.request_log()]
    assert unpaced.stats().retries > 0


def test_every_paced_route_keeps_the_interval_the_spec_publishes() -> None:
    spec = spec_thresholds()
    paced = {(method, route.rstrip("/")): seconds for (method, route), seconds in ROUTE_INTERVALS.items()}
    assert paced, "the client paces no route"
    assert paced == {key: spec.get(key) for key in paced}


# -- answers the emulator does not give: a scripted server --------------------------------------------


class Scripted(BaseHTTPRequestHandler):
    script: ClassVar[list[tuple[int, dict[str, str], str]]] = []
    seen: ClassVar[list[str]] = []
    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        Scripted.seen.append(self.path)
        Scripted.bodies.append((self.command, self.rfile.read(int(self.headers.get("Content-Length") or 0))))
        status, headers, body = Scripted.script.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body.encode())

    do_POST = do_PUT = do_GET


@pytest.fixture
def scripted() -> Iterator[Callable[..., VastClient]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def client(*answers: tuple[int, dict[str, str], str], **options: Any) -> VastClient:
        Scripted.script, Scripted.seen, Scripted.bodies = list(answers), [], []
        url = f"http://127.0.0.1:{server.server_port}"
        return VastClient(ProviderSettings(KEY, url), pacing_scale=0, **{"retry": FAST_RETRIES, **options})

    yield client
    server.shutdown()


OK: tuple[int, dict[str, str], str] = (200, {}, json.dumps({"success": True, "results": []}))


QUOTA_RESET = 1796169600  # 2026-12-02 00:00 UTC
QUOTA_BODY = json.dumps(
    {"success": False, "error": "search_quota_exceeded", "msg": "Daily search quota exceeded"}
)


def test_the_daily_search_quota_fails_at_once_naming_its_reset_time(
    scripted: Callable[..., VastClient],
) -> None:
    client = scripted((429, {"X-RateLimit-Reset": str(QUOTA_RESET)}, QUOTA_BODY), OK)
    with pytest.raises(VastApiError) as caught:
        client.search_offers({"num_gpus": {"eq": "1"}})
    assert caught.value.error == "search_quota_exceeded"
    assert "resets at 2026-12-02 00:00 UTC" in str(caught.value)
    assert Scripted.seen == ["/api/v0/bundles/"]  # one request: no retry
    assert client.stats().retries == 0


def test_the_search_quota_without_a_reset_header_still_fails_at_once(
    scripted: Callable[..., VastClient],
) -> None:
    client = scripted((429, {}, QUOTA_BODY), OK)
    with pytest.raises(VastApiError, match="resets at the next UTC midnight"):
        client.search_offers({})
    assert len(Scripted.seen) == 1


def test_a_429_is_recognised_as_the_quota_by_its_code_not_by_words(
    scripted: Callable[..., VastClient],
) -> None:
    # A rate-limit 429 whose text happens to say "daily quota" is a rate limit: retried.
    client = scripted((429, {}, "daily quota of requests per second exceeded"), OK)
    assert client.list_endpoints() == []
    assert len(Scripted.seen) == 2


def test_retry_after_is_honoured_when_present(
    scripted: Callable[..., VastClient], fake_time: FakeTime
) -> None:
    client = scripted((429, {"Retry-After": "0.4"}, "slow down"), OK)  # backoff alone: under 0.01 s
    assert client.list_endpoints() == []
    assert fake_time.slept == [0.4]


def test_http_200_with_success_false_is_an_error(scripted: Callable[..., VastClient]) -> None:
    client = scripted((200, {}, json.dumps({"success": False, "error": "invalid_args", "msg": "no"})))
    with pytest.raises(VastApiError, match="failed: 200 invalid_args: no"):
        client.list_endpoints()


def test_a_body_that_is_not_json_is_an_error(scripted: Callable[..., VastClient]) -> None:
    client = scripted((200, {}, "<html>maintenance</html>"))
    with pytest.raises(VastApiError, match="not a JSON object"):
        client.list_endpoints()


def test_a_bid_change_sends_the_official_clients_body(scripted: Callable[..., VastClient]) -> None:
    client = scripted((200, {}, json.dumps({"success": True})))
    client.change_bid(7, 0.42)
    assert Scripted.seen == ["/api/v0/instances/bid_price/7/"]
    ((method, body),) = Scripted.bodies
    assert (method, json.loads(body)) == ("PUT", {"client_id": "me", "price": 0.42})


def test_a_refused_rent_that_made_an_instance_names_it(scripted: Callable[..., VastClient]) -> None:
    refusal = {"success": False, "error": "invalid_price", "msg": "bid too low", "new_contract": 31}
    client = scripted((400, {}, json.dumps(refusal)))
    with pytest.raises(VastApiError, match="invalid_price") as caught:
        client.create_instance(5, {"price": 0.01})
    assert caught.value.made_id == 31


# -- a URL where nothing listens (issue 20) --------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://127.0.0.1:{port}", "connection refused"), ("https://no-such-host.invalid", "unknown host")],
)
def test_a_url_where_nothing_listens_fails_at_once_naming_the_url_and_where_it_came_from(
    url: str, reason: str
) -> None:
    url = url.format(port=closed_port())
    client = VastClient(ProviderSettings.resolve("k", url), pacing_scale=0.0)
    with pytest.raises(VastConnectionError) as caught:
        client.account_id()
    assert client.stats().retries == 0  # a wrong URL is not a server's bad moment: no retry loop
    assert str(caught.value) == (
        f"Vast API GET /api/v0/users/current/ failed: no response from {url} ({reason}; URL from the "
        "stack config vast:apiUrl); the request was not sent: set the right one with `pulumi config set "
        "vast:apiUrl <url>`, or `pulumi config rm vast:apiUrl` for https://console.vast.ai. "
        + STALE_CONFIG_NOTE
    )


def test_a_url_from_the_environment_names_the_variable() -> None:
    env = {"VAST_URL": f"http://localhost:{closed_port()}", "HOME": "/nonexistent"}
    client = VastClient(ProviderSettings.resolve("k", env=env), pacing_scale=0.0)
    with pytest.raises(VastConnectionError) as caught:
        client.account_id()
    assert "(connection refused; URL from the environment variable VAST_URL)" in str(caught.value)
    assert str(caught.value).endswith(
        ": set VAST_URL to the right one, or unset it for https://console.vast.ai"
    )


def test_a_server_that_answered_and_then_refuses_is_retried(vast_emulator_factory: Any) -> None:
    emulator = vast_emulator_factory()
    client = VastClient(
        ProviderSettings(emulator.api_keys[0], emulator.url),
        pacing_scale=0.0,
        retry=RetryPolicy(max_attempts=3, base_delay=0.01),
    )
    client.account_id()
    emulator.stop()  # a restart, say: it answered before, so a refusal is worth a retry
    with pytest.raises(VastConnectionError) as caught:
        client.list_endpoints()
    assert client.stats().retries == 2
    assert not caught.value.unreachable


def test_a_rejected_key_names_where_it_came_from_and_the_stale_config_of_refresh(
    vast_emulator: Emulator,
) -> None:
    client = VastClient(ProviderSettings.resolve("wrong-key", vast_emulator.url), pacing_scale=0)
    with pytest.raises(VastAuthError) as caught:
        client.account_id()
    assert str(caught.value).startswith(
        "Vast API rejected the API key from the stack config vast:apiKey (401 Invalid user key); "
    )
    # After fixing the key, a plain destroy still uses the old one: the message says what to run.
    assert "run `pulumi up` (or `pulumi refresh --run-program`) first" in str(caught.value)
