"""``python -m vast_pulumi`` (console script ``vast-pulumi``): tools for users of vast-pulumi.

    vast-pulumi orphans dev prod                 # list what no stack records, with its $/hour
    vast-pulumi orphans --state dev.json --json  # from `pulumi stack export` files, for machines
    vast-pulumi orphans dev prod --destroy       # destroy them, after a confirmation (or --yes)
    vast-pulumi doctor                           # the account against what the provider assumes
    vast-pulumi doctor --json --record DIR       # as JSON; the answers, redacted, kept in DIR

The API key comes from ``--api-key-file``, else ``VAST_API_KEY``, else the official client's key file;
the URL from ``--url``, else ``VAST_URL``, else https://console.vast.ai. Keys are never printed. See
:mod:`vast_pulumi.orphans` for what is (and is not) recognised as made by vast-pulumi.

Exit status of ``orphans``: 0 listed (or all destroyed), 1 not confirmed or something could not be
destroyed, 2 an error (no key, a state that cannot be read, an API failure). Of ``doctor``: 0 all as
expected, 1 divergences found, 2 the key or the URL does not work (see :mod:`vast_pulumi.doctor`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from vast_pulumi import doctor, orphans
from vast_pulumi.client import Row, VastClient
from vast_pulumi.errors import VastConfigError, VastError
from vast_pulumi.orphans import Orphan, Outcome, StackState
from vast_pulumi.settings import ProviderSettings

__all__ = ["main"]

PROG = "vast-pulumi"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description="Tools for users of vast-pulumi.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    orphans = commands.add_parser(
        "orphans",
        help="list (or destroy) what vast-pulumi made on the account but no given stack records",
        description=(
            "List everything on the Vast.ai account that carries a vast-pulumi marker but is in none of "
            "the given stacks' state, with what it costs per hour. Name every stack that uses the "
            "account: an object of a stack left out counts as an orphan. Do not run it during a "
            "`pulumi up` of those stacks."
        ),
    )
    orphans.add_argument(
        "stacks", nargs="*", metavar="STACK", help="a stack to read with `pulumi stack export`"
    )
    orphans.add_argument(
        "--state",
        action="append",
        default=[],
        metavar="FILE",
        help="a file written by `pulumi stack export` (repeatable)",
    )
    orphans.add_argument(
        "--removed-stack",
        action="append",
        default=[],
        metavar="[ORG/]PROJECT/STACK",
        help=(
            "a stack removed with `pulumi stack rm --force` (repeatable): what it left is an orphan, "
            "default-named endpoints, volumes and templates included"
        ),
    )
    orphans.add_argument(
        "--no-stacks",
        action="store_true",
        help="the account has no stacks any more: everything with a marker is an orphan",
    )
    orphans.add_argument("--cwd", metavar="DIR", help="run `pulumi stack export` in this project directory")
    orphans.add_argument("--destroy", action="store_true", help="destroy the orphans, after a confirmation")
    orphans.add_argument("--yes", action="store_true", help="with --destroy: do not ask for confirmation")
    orphans.add_argument("--json", action="store_true", help="print JSON instead of text")
    orphans.add_argument("--api-key-file", metavar="FILE", help="read the API key from this file")
    orphans.add_argument(
        "--url", metavar="URL", help="the API's URL (default: VAST_URL, else console.vast.ai)"
    )
    orphans.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for destroyed objects to go (default 600)",
    )
    _doctor_parser(commands)
    return top


def _doctor_parser(commands: Any) -> None:
    command = commands.add_parser(
        "doctor",
        help="check the account against what the provider assumes (read-only, $0)",
        description=(
            "Read the account (GETs and one small offer search; nothing is written, rented or deleted) "
            "and report: whether the key works and which account it is; each answer's shape against "
            "what the provider reads; which reading of each disputed API behaviour the account shows; "
            "the 429s met; what bills now, made by vast-pulumi or not. Exit status: 0 as expected, "
            "1 divergences, 2 the key or the URL does not work."
        ),
    )
    command.add_argument("--json", action="store_true", help="print JSON instead of a table")
    command.add_argument("--api-key-file", metavar="FILE", help="read the API key from this file")
    command.add_argument(
        "--url", metavar="URL", help="the API's URL (default: VAST_URL, else console.vast.ai)"
    )
    command.add_argument(
        "--record", metavar="DIR", help="also write the answers, redacted, to DIR/recording.json"
    )
    command.add_argument(
        "--replay", metavar="DIR", help="report from DIR/recording.json instead of calling the API"
    )


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "doctor":
            return _doctor(args, out or sys.stdout)
        return _orphans(args, stdin or sys.stdin, out or sys.stdout)
    except (VastError, OSError, RuntimeError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2


def _orphans(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    if not (args.stacks or args.state or args.removed_stack or args.no_stacks):
        raise VastConfigError("name the stacks that use this account (or --state FILE, or --no-stacks)")
    client = VastClient(
        ProviderSettings.resolve(
            _key(args.api_key_file), args.url, key_given_as="--api-key-file", url_given_as="--url"
        )
    )
    states = [
        *_stacks(args.stacks, args.cwd),
        *(_state_file(path) for path in args.state),
        *(orphans.removed_stack(name) for name in args.removed_stack),
    ]
    found = orphans.find(client, states)
    if args.json and not (args.destroy and found):
        _print_json(out, found)
    elif not args.json:
        _print_list(out, found)
        if not found:
            _print_unmatched(out, orphans.unmatched_endpoints(client, states))
    if not args.destroy or not found:
        return 0
    if not args.yes and not _confirmed(found, stdin):
        print("Nothing destroyed.", file=sys.stderr)
        return 1
    outcome = orphans.destroy(client, found, timeout=args.timeout)
    if args.json:
        _print_json(out, found, outcome)
    else:
        _print_outcome(out, outcome)
    return 1 if outcome.failed else 0


def _doctor(args: argparse.Namespace, out: TextIO) -> int:
    if args.replay:
        if args.record:
            raise VastConfigError("--replay and --record: choose one")
        report, where = doctor.replay(args.replay), f"replay of {args.replay}"
    else:
        settings = ProviderSettings.resolve(_key(args.api_key_file), args.url)
        report, where = doctor.run(settings, record=args.record), settings.api_url
    if args.json:
        print(json.dumps({"api_url": where, **report.as_json()}, indent=2), file=out)
    else:
        print(doctor.table(report, where), file=out)
    return report.exit_code


def _key(path: str | None) -> str | None:
    if path is None:
        return None
    key = Path(path).read_text(encoding="utf-8").strip()
    if not key:
        raise VastConfigError(f"--api-key-file: {path} is empty")
    return key


def _stacks(names: Sequence[str], cwd: str | None) -> list[StackState]:
    if not names:
        return []
    here = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    pulumi = shutil.which("pulumi", path=here)
    if pulumi is None:
        raise VastConfigError("the pulumi CLI is not on PATH: install it, or pass --state FILE exports")
    return [orphans.read_stack(name, pulumi=pulumi, cwd=cwd) for name in names]


def _state_file(path: str) -> StackState:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError:
        raise orphans.StateError(
            f"--state {path}: not JSON (expected `pulumi stack export` output)"
        ) from None
    return orphans.state_of(document)


def _print_list(out: TextIO, found: Sequence[Orphan]) -> None:
    if not found:
        print(
            "No orphans: everything on this account with a vast-pulumi marker is in the given state.",
            file=out,
        )
        return
    print(f"{len(found)} object(s) carry a vast-pulumi marker but are in no given stack's state:\n", file=out)
    print(f"  {'KIND':<12} {'ID':>10}  {'$/HOUR':>8}  DETAILS", file=out)
    for orphan in found:
        price = f"{orphan.dph_total:.4f}" if orphan.dph_total is not None else "-"
        origin = f"; marker of {orphan.origin}" if orphan.origin else ""
        print(f"  {orphan.kind:<12} {orphan.id:>10}  {price:>8}  {orphan.details}{origin}", file=out)
    print(f"\nTotal: ${_total(found):.4f}/hour. Destroy them with --destroy.", file=out)


def _print_unmatched(out: TextIO, endpoints: Sequence[Row]) -> None:
    """Endpoints that may be orphans of a stack not given: said, never silently left out."""
    if not endpoints:
        return
    names = ", ".join(f"{row.get('endpoint_name')} (id {row.get('id')})" for row in endpoints)
    print(
        f"But {len(endpoints)} endpoint(s) have a name like a generated one that no given stack made: "
        f"{names}. An endpoint of a stack not named here cannot be recognised: name that stack too (a "
        "removed one with --removed-stack), or delete the endpoint yourself if it is unused (vastai "
        "delete endpoint ID).",
        file=out,
    )


def _print_outcome(out: TextIO, outcome: Outcome) -> None:
    for orphan in outcome.gone:
        print(f"destroyed {orphan.kind} {orphan.id}", file=out)
    for orphan, reason in outcome.failed:
        print(f"FAILED to destroy {orphan.kind} {orphan.id}: {reason}", file=out)


def _print_json(out: TextIO, found: Sequence[Orphan], outcome: Outcome | None = None) -> None:
    document: dict[str, Any] = {
        "orphans": [orphan.as_json() for orphan in found],
        "total_dph": round(_total(found), 6),
    }
    if outcome is not None:
        document["destroyed"] = [{"kind": o.kind, "id": o.id} for o in outcome.gone]
        document["failed"] = [{"kind": o.kind, "id": o.id, "reason": why} for o, why in outcome.failed]
    print(json.dumps(document, indent=2), file=out)


def _confirmed(found: Sequence[Orphan], stdin: TextIO) -> bool:
    """A "yes" typed (or piped) in answer; anything else, or nothing, is a no."""
    prompt = f"Destroy these {len(found)} object(s), ${_total(found):.4f}/hour? Type 'yes' to confirm: "
    print(prompt, end="", file=sys.stderr, flush=True)
    return stdin.readline().strip().lower() == "yes"


def _total(found: Sequence[Orphan]) -> float:
    return sum(orphan.dph_total or 0.0 for orphan in found)


if __name__ == "__main__":
    sys.exit(main())
