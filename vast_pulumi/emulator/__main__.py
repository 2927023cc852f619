"""``python -m vast_pulumi.emulator`` (console script ``vast-emulator``): serve the emulator until
SIGINT or SIGTERM. Prints one line, ``vast emulator listening on http://HOST:PORT``, once it
accepts connections."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vast_pulumi.emulator import lifecycle
from vast_pulumi.emulator.faults import FaultSpec, FaultSpecError
from vast_pulumi.emulator.ratelimit import DEFAULT_STYLE, STYLES
from vast_pulumi.emulator.readings import (
    BY_NAME,
    PROFILE_ENV,
    PROFILES,
    ReadingError,
    ambient_profile,
    parse_assignment,
)
from vast_pulumi.emulator.runtime import DEFAULT_API_KEY, Runtime, Settings
from vast_pulumi.emulator.server import bind, serve_forever

EPILOG = """\
example:
  vast-emulator --port 8080 --api-key k1 --boot-seconds 1 --faults 429=0.1
  # vast emulator listening on http://127.0.0.1:8080
  vastai --url http://127.0.0.1:8080 --api-key k1 search offers 'gpu_name=RTX_4090 num_gpus=1'
  pulumi config set vast:apiUrl http://127.0.0.1:8080 && pulumi config set --secret vast:apiKey k1

The control plane for tests (no key, loopback only) is under /_emulator/: the request log,
reset, faults, holds, inventory and out-of-band changes; see vast_pulumi/emulator/README.md.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vast-emulator",
        description=(
            "A local emulator of the Vast.ai console API (https://console.vast.ai) for tests:\n"
            "endpoints, workergroups, offers, instances and templates; no money, no GPUs.\n"
            "Prints 'vast emulator listening on URL' once it accepts connections, and serves\n"
            "until SIGINT or SIGTERM."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback only)"
    )
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to listen on; 0 (the default) picks a free one, printed at start",
    )
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"an account's API key; repeat for more accounts (default: one, key {DEFAULT_API_KEY!r})",
    )
    p.add_argument(
        "--state",
        metavar="FILE",
        help="load the accounts and resources from this JSON file, and save every change to it "
        "(default: in memory only)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the offer catalogue, fault draws and latency jitter: same seed, same run (default: 0)",
    )
    p.add_argument(
        "--boot-seconds",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="time from an instance's create or start to 'running' (default: 5)",
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="added to every API response, with up to 25%% jitter either way (default: 0)",
    )
    p.add_argument(
        "--rate-limits",
        action="store_true",
        help="answer 429 when a route is called sooner than its interval in Vast's OpenAPI spec "
        "(1 to 5.5 s per route and account; default: off)",
    )
    p.add_argument(
        "--rate-limit-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="multiply every rate-limit interval, e.g. 0.1 for fast tests (default: 1)",
    )
    p.add_argument(
        "--no-workers",
        dest="workers",
        action="store_false",
        help="workergroups recruit no worker instances (default: they do, as on the real service)",
    )
    p.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="per-request fault probabilities: an HTTP status, reset-before (connection dropped, "
        "nothing applied) or reset-after (applied, answer lost), e.g. "
        "'429=0.1,500=0.05,reset-before=0.02,reset-after=0.02' (default: none)",
    )
    edges = p.add_argument_group("the real API's hard edges (see the README's fidelity table)")
    edges.add_argument(
        "--destroy-seconds",
        type=float,
        default=lifecycle.DESTROY_SECONDS,
        help="how long a destroyed instance stays listed, being destroyed "
        f"(default {lifecycle.DESTROY_SECONDS:g}; 0: gone at once)",
    )
    edges.add_argument(
        "--no-endpoints-empty",
        dest="no_endpoints_error",
        action="store_false",
        help="list an account without endpoints as [] instead of the real 400 'No endpoints for user found'",
    )
    edges.add_argument(
        "--rate-limit-style",
        choices=STYLES,
        default=None,
        help="the 429 body on every route: {'detail': ...}, the JSON error, plain text or {'msg': ...} "
        f"(default: per the reading rate_limit_bodies, {DEFAULT_STYLE} everywhere unless per_route)",
    )
    edges.add_argument(
        "--retry-after", action="store_true", help="send Retry-After (seconds to wait) with every 429"
    )
    edges.add_argument(
        "--search-quota",
        type=int,
        metavar="N",
        help="offer searches per account per UTC day, then 429 search_quota_exceeded (default: no quota)",
    )
    edges.add_argument(
        "--double-rent",
        action="store_true",
        help="accept a second rent of an already rented offer; that instance never starts",
    )
    disputed = p.add_argument_group(
        "readings: where Vast's sources disagree or are silent (see the README's fidelity table)"
    )
    disputed.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help=f"pessimistic: the reading worse for a client, everywhere (default: ${PROFILE_ENV} or default)",
    )
    disputed.add_argument(
        "--reading",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one reading, over the profile; repeatable. "
        + "; ".join(f"{r.name}={'|'.join(r.choices)}" for r in BY_NAME.values()),
    )
    return p


def _ambient() -> str:
    try:
        return ambient_profile()
    except ReadingError as error:
        raise SystemExit(f"vast-emulator: {error}") from None


def _readings(assignments: Sequence[str]) -> dict[str, str]:
    try:
        return dict(parse_assignment(text) for text in assignments)
    except ReadingError as error:
        raise SystemExit(f"vast-emulator: --reading: {error}") from None


def settings_from(args: argparse.Namespace) -> Settings:
    try:
        FaultSpec.parse(args.faults)
    except FaultSpecError as error:
        raise SystemExit(f"vast-emulator: --faults: {error}") from None
    return Settings(
        api_keys=args.api_keys or [DEFAULT_API_KEY],
        seed=args.seed,
        boot_seconds=args.boot_seconds,
        latency_ms=args.latency_ms,
        rate_limits=args.rate_limits,
        rate_limit_scale=args.rate_limit_scale,
        faults=args.faults,
        state=args.state,
        workers=args.workers,
        destroy_seconds=args.destroy_seconds,
        no_endpoints_error=args.no_endpoints_error,
        rate_limit_style=args.rate_limit_style,
        retry_after=args.retry_after,
        search_quota=args.search_quota,
        double_rent=args.double_rent,
        profile=args.profile or _ambient(),
        readings=_readings(args.reading),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runtime = Runtime(settings_from(args))
    sock = bind(args.host, args.port)
    serve_forever(runtime, sock, lambda url: print(f"vast emulator listening on {url}", flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
