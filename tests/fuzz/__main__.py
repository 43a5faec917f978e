"""``python -m tests.fuzz``: run N lifecycle sequences (or replay one) and print what they found.

    python -m tests.fuzz --sequences 5000 --seed 1     # seeds 1..5000
    python -m tests.fuzz --replay 4242                 # one sequence, every step and its outcome
    python -m tests.fuzz --family --sequences 5000     # the job family's chain app (tests/fuzz/family.py)
    python -m tests.fuzz --family --replay 959         # one family sequence

Exits 1 when any invariant was violated; each violation names its seed, which --replay runs again.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.family_variants import synthesize_all as synthesize_family
from tests.fuzz.family import run_family
from tests.fuzz.model import Outcome, run_many
from tests.variants import synthesize_all

O = TypeVar("O")  # noqa: E741 (an outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=500, help="how many sequences (default 500)")
    parser.add_argument("--seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--replay", type=int, metavar="SEED", help="run one sequence and print its steps")
    parser.add_argument(
        "--family",
        action="store_true",
        help="fuzz the job family's chain app (every kind, native resources) instead of the lifecycle app",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes to share the sequences (default: CPUs)",
    )
    parser.add_argument(
        "--loopback",
        action="store_true",
        help="the handlers reach the stand-ins over loopback HTTP, as in a rehearsal (default: in process)",
    )
    args = parser.parse_args(argv)
    seeds = [args.replay] if args.replay is not None else list(range(args.seed, args.seed + args.sequences))
    if args.family:
        return family_main(args, seeds)
    outcomes, timing = _fuzz(args, seeds, synthesize_all, run_many)
    failed = [outcome for outcome in outcomes if outcome.violations]
    steps = sum(len(outcome.steps) for outcome in outcomes)
    print(
        f"{len(outcomes)} sequences, {steps} steps, {sum(o.operations for o in outcomes)} stack operations, "
        f"{sum(o.faults for o in outcomes)} faults injected, {sum(o.jobs for o in outcomes)} jobs started, "
        f"{sum(o.transitional_denials for o in outcomes)} transitional IAM denials tolerated; "
        f"{len(failed)} sequence(s) violated an invariant ({timing})"
    )
    _print_failed(failed, "python -m tests.fuzz --replay")
    return 1 if failed else 0


def _fuzz(
    args: argparse.Namespace,
    seeds: list[int],
    synthesize: Callable[[Path], Any],
    run: Callable[..., list[O]],
) -> tuple[list[O], str]:
    """Synthesize the versions, run the sequences; the outcomes, and what the run took."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as directory:
        assemblies = synthesize(Path(directory))
        synthesized = time.monotonic() - started
        outcomes = run(
            assemblies,
            seeds,
            progress=_progress(args, started),
            verbose=args.replay is not None,
            workers=1 if args.replay is not None else args.workers,
            loopback=args.loopback,
        )
    running = max(time.monotonic() - started - synthesized, 1e-9)
    timing = (
        f"{synthesized + running:.0f} s, of which synth {synthesized:.0f} s; "
        f"{len(outcomes) / running:.2f} sequences/s with {args.workers} worker(s)"
    )
    return outcomes, timing


def _print_failed(failed: list[Any], replay: str) -> None:
    for outcome in failed:
        print(f"  seed {outcome.seed}: {outcome.violations[0]}  ({replay} {outcome.seed})")


def _progress(args: argparse.Namespace, started: float) -> Callable[[Outcome], None]:
    """Prints a replayed sequence or a violating one in full, and a count every 250 sequences."""
    counted = {"done": 0}

    def progress(outcome: Outcome) -> None:
        counted["done"] += 1
        if args.replay is not None or outcome.violations:
            print(f"seed {outcome.seed}:", *outcome.log, sep="\n  ", flush=True)
        elif counted["done"] % 250 == 0:
            print(f"  {counted['done']} sequences, {time.monotonic() - started:.0f} s", flush=True)

    return progress


def family_main(args: argparse.Namespace, seeds: list[int]) -> int:
    """The family's sequences: the same summary, with the jobs started per kind."""
    outcomes, timing = _fuzz(args, seeds, synthesize_family, run_family)
    failed = [outcome for outcome in outcomes if outcome.violations]
    kinds: Counter[str] = Counter()
    for outcome in outcomes:
        kinds.update(outcome.jobs_by_kind)
    print(
        f"family: {len(outcomes)} sequences, {sum(len(o.steps) for o in outcomes)} steps, "
        f"{sum(o.operations for o in outcomes)} stack operations, {sum(o.faults for o in outcomes)} faults "
        f"injected, {sum(len(o.violations) for o in outcomes)} violations in {len(failed)} sequence(s) "
        f"({timing})"
    )
    print("jobs started per kind: " + ", ".join(f"{kind} {kinds[kind]}" for kind in sorted(kinds)))
    print(
        f"{sum(o.limits for o in outcomes)} stack operation(s) stuck at the documented limit (an import "
        "outlasting its Delete's wait), deleted again once the import ended"
    )
    print(
        f"runs without a deploy: {sum(o.deliveries for o in outcomes)} scheduled deliveries, "
        f"{sum(o.scheduled_runs for o in outcomes)} scheduled and chained runs, "
        f"{sum(o.skips for o in outcomes)} skipped"
    )
    _print_failed(failed, "python -m tests.fuzz --family --replay")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
