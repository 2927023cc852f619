"""examples/multi-cloud/gateway.py, the gateway the example runs on Kubernetes: it routes a request
through Vast's autoscaler to a ready worker as the official client does, with the endpoint's name and
key read from the mounted files on every request. The emulator does not serve the autoscaler's
``/route/``, so a stand-in here answers it (and plays the worker) and records what it was sent."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

GATEWAY = Path(__file__).resolve().parents[2] / "examples" / "multi-cloud" / "gateway.py"


def load_gateway() -> ModuleType:
    spec = importlib.util.spec_from_file_location("multi_cloud_gateway", GATEWAY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Autoscaler(BaseHTTPRequestHandler):
    """``/route/``: first "no worker yet" (no ``url``), then this server's own URL; any other path is
    the worker, which echoes what it got."""

    received: list[tuple[str, dict[str, Any]]]
    worker_url: str

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, body))
        if self.path == "/route/":
            routes = sum(1 for path, _ in self.received if path == "/route/")
            waking = {"request_idx": 7}
            answer = waking if routes % 2 else {**waking, "url": self.worker_url, "signature": "s"}
        else:
            answer = {"worker_got": body}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def autoscaler() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []

    class Recording(Autoscaler):
        pass

    Recording.received = received
    server, url = serve(Recording)
    Recording.worker_url = url  # the stand-in plays the worker too
    yield url, received
    server.shutdown()
    server.server_close()


def test_gateway_routes_through_the_autoscaler_and_reads_renames_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autoscaler: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    route_url, received = autoscaler
    config, key_file = tmp_path / "config", tmp_path / "key" / "api_key"
    config.mkdir()
    key_file.parent.mkdir()
    (config / "endpoint_name").write_text("inference-1\n")
    (config / "route_url").write_text(route_url)
    key_file.write_text("endpoint-key-1")
    gateway = load_gateway()
    monkeypatch.setattr(gateway, "CONFIG", config)
    monkeypatch.setattr(gateway, "KEY_FILE", key_file)
    monkeypatch.setattr(gateway.time, "sleep", lambda _: None)
    server, url = serve(gateway.Gateway)
    try:
        answer = requests.post(f"{url}/v1/completions", json={"prompt": "hi"}, timeout=10)
        # What Kubernetes does to the mounted files when the ConfigMap and Secret are updated.
        (config / "endpoint_name").write_text("renamed\n")
        key_file.write_text("endpoint-key-2")
        again = requests.post(f"{url}/v1/completions", json={"prompt": "again"}, timeout=10)
    finally:
        server.shutdown()
        server.server_close()

    assert answer.status_code == again.status_code == 200
    routes = [body for path, body in received if path == "/route/"]
    ask = {"cost": 100, "replay_timeout": 60}
    assert routes == [
        {**ask, "endpoint": "inference-1", "api_key": "endpoint-key-1", "request_idx": 0},
        {**ask, "endpoint": "inference-1", "api_key": "endpoint-key-1", "request_idx": 7},  # polled
        {**ask, "endpoint": "renamed", "api_key": "endpoint-key-2", "request_idx": 0},
        {**ask, "endpoint": "renamed", "api_key": "endpoint-key-2", "request_idx": 7},
    ]
    worker_calls = [(path, body) for path, body in received if path != "/route/"]
    assert [path for path, _ in worker_calls] == ["/v1/completions", "/v1/completions"]
    assert [body["payload"] for _, body in worker_calls] == [{"prompt": "hi"}, {"prompt": "again"}]
    assert all(body["auth_data"]["signature"] == "s" for _, body in worker_calls)
    assert answer.json() == {"worker_got": worker_calls[0][1]}
