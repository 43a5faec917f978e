"""The command line: ``python -m constructs_lib.rehearsal CDK_OUT [--update-to NEW_CDK_OUT] [--stack NAME]
[--quota N] [--fail ID=REASON] [--throttle N] [--html FILE] ...``.

Exit 0 when every stack deployed and every waited job ended ACTIVE; 1 when the deployment failed as a
real one would (a job failed, a resource failed and the stack rolled back); 2 for a usage error; 3 when
a stack would be stuck (UPDATE_ROLLBACK_FAILED, DELETE_FAILED) or a deploy waited for a job that had
ended.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from constructs_lib.rehearsal import (
    AssemblyError,
    DiscoveryError,
    MissingDependencyError,
    RehearsalError,
    html_report,
    rehearse,
)
from constructs_lib.rehearsal.engine import EngineError
from constructs_lib.rehearsal.intrinsics import UnresolvableError
from constructs_lib.rehearsal.result import EXIT_USAGE


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line (exit 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"rehearsal: {message} (see --help)\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = _Parser(
        prog="python -m constructs_lib.rehearsal",
        description=(
            "Rehearse the deployment of a synthesized app's Personalize jobs offline: "
            "the real handler code against local stand-ins, on a simulated clock."
        ),
    )
    parser.add_argument("cdk_out", metavar="CDK_OUT", help="the cloud assembly directory (cdk synth -o DIR)")
    parser.add_argument(
        "--update-to",
        metavar="NEW_CDK_OUT",
        help="a second assembly (the app after a change): deploy CDK_OUT, then update to it",
    )
    parser.add_argument("--stack", metavar="NAME", help="rehearse only this stack (and what it depends on)")
    parser.add_argument(
        "--quota",
        type=_positive,
        default=None,
        metavar="N",
        help="jobs of a kind allowed to run at once (Personalize's defaults: 5, and 20 trainings)",
    )
    parser.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="ID=REASON",
        help="make the job with construct id ID end CREATE FAILED with REASON (repeatable)",
    )
    parser.add_argument(
        "--fail-update",
        action="append",
        default=[],
        metavar="ID=REASON",
        help="like --fail, for the jobs the update starts only (repeatable)",
    )
    parser.add_argument(
        "--fail-resource",
        action="append",
        default=[],
        metavar="LOGICAL_ID",
        help="make this resource's create or update fail during the update, rolling it back (repeatable)",
    )
    parser.add_argument(
        "--throttle",
        type=_non_negative,
        default=0,
        metavar="N",
        help="throttle N of every N+1 Personalize requests",
    )
    parser.add_argument(
        "--records",
        type=_positive,
        default=20,
        metavar="N",
        help="sample input lines per job, where sample input is written: brought (imported) buckets and "
        "--input-exists jobs (20)",
    )
    parser.add_argument(
        "--input-exists",
        action="append",
        default=[],
        metavar="ID",
        help="the input of job ID will be in place before it runs (you upload it): write sample input "
        "there. Without it a bucket the deploy creates starts empty, and a job reading only what nothing "
        "writes fails as Personalize fails it (repeatable)",
    )
    parser.add_argument(
        "--pending-minutes", type=_minutes, default=4, metavar="M", help="simulated PENDING time (4)"
    )
    parser.add_argument(
        "--run-minutes", type=_minutes, default=45, metavar="M", help="simulated IN PROGRESS time (45)"
    )
    parser.add_argument(
        "--training-minutes", type=_minutes, default=120, metavar="M", help="simulated training time (120)"
    )
    parser.add_argument(
        "--update",
        metavar="ID",
        help="without --update-to: the job to give a new run token after the creates (default: the first)",
    )
    parser.add_argument("--no-update", action="store_true", help="skip the update")
    parser.add_argument(
        "--duplicate-create", action="store_true", help="deliver every Create and Update request twice"
    )
    parser.add_argument(
        "--days",
        type=_days,
        default=0,
        metavar="N",
        help="after the deploy, N simulated days in which the schedules and chain rules deliver: every "
        "scheduled run, skip and chained run on the timeline (0)",
    )
    parser.add_argument(
        "--fail-scheduled",
        action="append",
        default=[],
        metavar="ID=REASON",
        help="like --fail, for the runs of job ID without a deploy (scheduled or chained) (repeatable)",
    )
    parser.add_argument(
        "--new-input",
        action="append",
        default=[],
        type=_new_input,
        metavar="ID@DAY",
        help="with --days: new data lands under job ID's input path on day DAY after the deploy, so its "
        "next scheduled run is not skipped (repeatable)",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="also write the whole rehearsal as one self-contained HTML page: a timeline of every job run "
        "and stack operation, checks, skips, failures with their reasons",
    )
    return parser.parse_args(argv)


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not an integer") from None


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _non_negative(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not zero or a positive integer")
    return value


def _new_input(text: str) -> tuple[str, float]:
    job, separator, day = text.rpartition("@")
    if not separator or not job:
        raise argparse.ArgumentTypeError(f"{text} is not ID@DAY (e.g. WeeklyImport@15)")
    return job, _days(day)


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 366:
        raise argparse.ArgumentTypeError(f"{text} is not a number of days from 0 to 366")
    return value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of minutes (zero or more)")
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
    if args.html and not Path(args.html).resolve().parent.is_dir():
        # Said before the rehearsal, not after minutes of it.
        print(f"rehearsal: --html {args.html}: no such directory to write the report in", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = rehearse(
            args.cdk_out,
            stack=args.stack,
            quota=args.quota,
            fail=parse_failures(args.fail),
            throttle=args.throttle,
            records=args.records,
            input_exists=args.input_exists,
            pending_minutes=args.pending_minutes,
            run_minutes=args.run_minutes,
            training_minutes=args.training_minutes,
            update=False if args.no_update else (args.update or True),
            update_to=args.update_to,
            fail_update=parse_failures(args.fail_update),
            fail_resources=args.fail_resource,
            duplicate_create=args.duplicate_create,
            color=sys.stdout.isatty(),
            days=args.days,
            fail_scheduled=parse_failures(args.fail_scheduled),
            new_input=args.new_input,
        )
    except (MissingDependencyError, AssemblyError, DiscoveryError, RehearsalError) as error:
        print(f"rehearsal: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (EngineError, UnresolvableError) as error:
        # The rehearsal cannot model what the app asks for: it says what, and did not rehearse it.
        print(f"rehearsal: cannot rehearse {args.cdk_out}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # one readable line for a defect of the rehearsal itself
        where = f"{type(error).__module__}.{type(error).__name__}"
        print(
            f"rehearsal: internal error, not a verdict on the app ({where}: {error}); "
            "please report it with the assembly",
            file=sys.stderr,
        )
        return EXIT_USAGE
    sys.stdout.write(result.report)
    if args.html:
        try:
            Path(args.html).write_text(html_report.render(result, source=args.cdk_out), encoding="utf-8")
        except OSError as error:
            print(f"rehearsal: --html {args.html}: cannot write the report: {error}", file=sys.stderr)
            return EXIT_USAGE
        print(f"HTML report: {args.html}")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
