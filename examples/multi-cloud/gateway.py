"""The inference gateway the multi-cloud example runs on Kubernetes (python:3.12-slim, stdlib only).

It answers ``POST /<path>`` by asking Vast's autoscaler for a ready worker of the endpoint and forwarding
the JSON body to it, the way the official client does (vastai 1.9.1, ``vastai/serverless/client/
endpoint.py`` ``Endpoint._route`` and ``client.py``'s worker request): ``POST {ROUTE_URL}/route/`` with the
endpoint's name and key, poll while the answer has no ``url``, then ``POST {url}/<path>`` with
``{"auth_data": <route answer>, "payload": <body>}``.

The endpoint's name and key are read from mounted files on every request, not from environment
variables: Kubernetes refreshes mounted ConfigMaps and Secrets in running pods, so a renamed endpoint
reaches the gateway without a restart.
"""

import json
import os
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = Path(os.environ.get("GATEWAY_CONFIG_DIR", "/etc/gateway"))
KEY_FILE = Path(os.environ.get("GATEWAY_KEY_FILE", "/etc/gateway-key/api_key"))


def post(url: str, body: dict, key: str, timeout: float = 60) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def forward(path: str, payload: dict) -> dict:
    name = (CONFIG / "endpoint_name").read_text().strip()
    route_url = (CONFIG / "route_url").read_text().strip()
    key = KEY_FILE.read_text().strip()
    ask = {"endpoint": name, "api_key": key, "cost": 100, "request_idx": 0, "replay_timeout": 60}
    route = post(f"{route_url}/route/", ask, key, timeout=10)
    while "url" not in route:  # no worker ready yet: the autoscaler is waking one
        time.sleep(1)
        ask["request_idx"] = route.get("request_idx", ask["request_idx"])
        route = post(f"{route_url}/route/", ask, key, timeout=10)
    return post(route["url"].rstrip("/") + path, {"auth_data": route, "payload": payload}, key)


class Gateway(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the Deployment's readiness probe
        self._answer(200, {"ok": self.path == "/healthz"})

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        try:
            self._answer(200, forward(self.path, payload))
        except Exception as exc:  # the caller gets the reason; the gateway keeps serving
            self._answer(502, {"error": str(exc)})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Gateway).serve_forever()
