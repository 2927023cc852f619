"""An application team's stack: sends a request to the serverless endpoint the `platform` stack owns.

It reads the endpoint's name and its key (a secret) from the platform stack, asks Vast's route API
(`POST /route/` on run.vast.ai) for a ready worker, polling while it waits for one, and sends the
request to that worker with the route's answer as `auth_data`, as Vast's serverless client does.
It needs no Vast account key: the endpoint's key is all a caller of the endpoint gets.

Config: `platformStack` (default: this stack's name), `routeUrl` (default https://run.vast.ai),
`workerRoute` (default /v1/echo). `pulumi preview` sends nothing; each `pulumi up` sends one request.
"""

import random
import time
from typing import Any

import pulumi
import requests

config = pulumi.Config()
platform_stack = config.get("platformStack") or pulumi.get_stack()
platform = pulumi.StackReference(f"organization/platform/{platform_stack}")
route_url = (config.get("routeUrl") or "https://run.vast.ai").rstrip("/")
worker_route = config.get("workerRoute") or "/v1/echo"
WAIT_SECONDS = 600  # how long a request may wait for a worker to be ready (cold starts take minutes)


def route(name: str, key: str, request_idx: int) -> dict[str, Any]:
    """One call of the route API; errors name the endpoint and the status, never the key."""
    body = {"endpoint": name, "api_key": key, "cost": 100, "request_idx": request_idx, "replay_timeout": 60}
    answer = requests.post(
        f"{route_url}/route/", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    if answer.status_code != 200:
        raise RuntimeError(f"route API: endpoint {name!r}: HTTP {answer.status_code} {answer.text[:200]}")
    grant: dict[str, Any] = answer.json()
    return grant


def send(args: list[Any]) -> dict[str, Any]:
    name, key = args
    if pulumi.runtime.is_dry_run():
        return {"sent": False}  # a preview sends nothing
    grant, waited, delay = route(name, key, 0), 0.0, 0.5
    while "url" not in grant:  # no worker ready yet: the answer says why (workers by state)
        if waited > WAIT_SECONDS:
            raise RuntimeError(
                f"endpoint {name!r}: no worker ready after {WAIT_SECONDS} s ({grant.get('status')})"
            )
        pulumi.log.info(f"endpoint {name!r}: waiting for a worker ({grant.get('status')})")
        time.sleep(delay)
        waited, delay = waited + delay, min(delay * 2, 10.0) * random.uniform(0.8, 1.0)
        grant = route(name, key, int(grant.get("request_idx") or 0))
    payload = {"auth_data": grant, "payload": {"prompt": "Hello from the app stack"}}
    reply = requests.post(
        grant["url"] + worker_route, json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    if reply.status_code != 200:
        raise RuntimeError(f"worker of endpoint {name!r}: HTTP {reply.status_code} {reply.text[:200]}")
    return {"sent": True, "reqnum": grant["reqnum"], "reply": reply.json()}


answer = pulumi.Output.all(
    platform.require_output("endpoint_name"), platform.require_output("endpoint_api_key")
).apply(send)
# The key made the whole answer secret; the answer holds no part of it, so it is shown in clear.
pulumi.export("answer", pulumi.Output.unsecret(answer))
