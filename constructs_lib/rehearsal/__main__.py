"""The command line: `python -m constructs_lib.rehearsal CDK_OUT [--stack NAME] [--quota N]
[--fail ID=REASON] [--throttle N] ...`; exit 0 when every waited job ends ACTIVE."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from constructs_lib.rehearsal import (
    AssemblyError,
    DiscoveryError,
    MissingDependencyError,
    RehearsalError,
    rehearse,
)

USAGE_ERROR = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m constructs_lib.rehearsal",
        description=(
            "Rehearse the deployment of a synthesized app's Personalize batch inference jobs offline: "
            "the real handler code against local stand-ins, on a simulated clock."
        ),
    )
    parser.add_argument("cdk_out", metavar="CDK_OUT", help="the cloud assembly directory (cdk synth -o DIR)")
    parser.add_argument("--stack", metavar="NAME", help="rehearse only this stack")
    parser.add_argument(
        "--quota", type=_positive, default=5, metavar="N", help="jobs allowed to run at once (5)"
    )
    parser.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="ID=REASON",
        help="make the job with construct id ID end CREATE FAILED with REASON (repeatable)",
    )
    parser.add_argument(
        "--throttle",
        type=_non_negative,
        default=0,
        metavar="N",
        help="throttle N of every N+1 Personalize requests",
    )
    parser.add_argument(
        "--records", type=_positive, default=20, metavar="N", help="sample input lines per job (20)"
    )
    parser.add_argument(
        "--pending-minutes", type=float, default=4, metavar="M", help="simulated PENDING time (4)"
    )
    parser.add_argument(
        "--run-minutes", type=float, default=45, metavar="M", help="simulated IN PROGRESS time (45)"
    )
    parser.add_argument(
        "--update", metavar="ID", help="the job to update after the creates (default: the first)"
    )
    parser.add_argument("--no-update", action="store_true", help="skip the update")
    parser.add_argument("--duplicate-create", action="store_true", help="send every Create event twice")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not zero or a positive integer")
    return value


def parse_failures(items: Sequence[str]) -> dict[str, str]:
    failures: dict[str, str] = {}
    for item in items:
        job, separator, reason = item.partition("=")
        if not separator or not job or not reason:
            raise RehearsalError(
                f'--fail {item!r}: expected ID=REASON, e.g. --fail Job="Input file too large"'
            )
        failures[job] = reason
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = rehearse(
            args.cdk_out,
            stack=args.stack,
            quota=args.quota,
            fail=parse_failures(args.fail),
            throttle=args.throttle,
            records=args.records,
            pending_minutes=args.pending_minutes,
            run_minutes=args.run_minutes,
            update=False if args.no_update else (args.update or True),
            duplicate_create=args.duplicate_create,
            color=sys.stdout.isatty(),
        )
    except (MissingDependencyError, AssemblyError, DiscoveryError, RehearsalError) as error:
        print(f"rehearsal: {error}", file=sys.stderr)
        return USAGE_ERROR
    sys.stdout.write(result.report)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
