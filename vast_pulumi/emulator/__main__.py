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
from vast_pulumi.emulator.runtime import DEFAULT_API_KEY, Runtime, Settings
from vast_pulumi.emulator.server import bind, serve_forever


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vast-emulator",
        description="A local emulator of the Vast.ai console API (for tests; no money, no GPUs).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default), printed at start")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"an account's API key; repeat for more accounts (default: one, key {DEFAULT_API_KEY!r})",
    )
    p.add_argument("--state", metavar="FILE", help="load from and save every change to this JSON file")
    p.add_argument(
        "--seed", type=int, default=0, help="seeds the offer catalogue and fault draws (default 0)"
    )
    p.add_argument(
        "--boot-seconds", type=float, default=5.0, help="time from create/start to running (default 5)"
    )
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every API response, ±25%% jitter")
    p.add_argument("--rate-limits", action="store_true", help="enforce the API's per-route minimum intervals")
    p.add_argument(
        "--rate-limit-scale", type=float, default=1.0, help="multiply every rate-limit interval (default 1)"
    )
    p.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="per-request fault probabilities, e.g. '429=0.1,500=0.05,reset-before=0.02,reset-after=0.02'",
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
        default=DEFAULT_STYLE,
        help=f"the 429 body: {{'detail': ...}}, the JSON error, or plain text (default {DEFAULT_STYLE})",
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
    return p


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
        destroy_seconds=args.destroy_seconds,
        no_endpoints_error=args.no_endpoints_error,
        rate_limit_style=args.rate_limit_style,
        retry_after=args.retry_after,
        search_quota=args.search_quota,
        double_rent=args.double_rent,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runtime = Runtime(settings_from(args))
    sock = bind(args.host, args.port)
    serve_forever(runtime, sock, lambda url: print(f"vast emulator listening on {url}", flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
