"""How often the monitor checks a job, and how late it can notice the job's end.

Compares the monitor's schedule (job_logic.next_wait_seconds: max(60 s, 10% of the elapsed time),
never past the deadline) with the Provider framework's isComplete polling (a fixed 5 s interval,
given up after 1 hour). Simulated time only; nothing is called.

    python benchmarks/monitor_schedule.py
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda"))

from job_logic import MAX_TIMEOUT_SECONDS, next_wait_seconds

FIXED_INTERVAL_SECONDS = 5
FIXED_CAP_SECONDS = 3600
JOB_LENGTHS = {"20 min": 20 * 60, "1 h": 3600, "6 h": 6 * 3600, "12 h": 12 * 3600}


@dataclass(frozen=True)
class Polling:
    checks: int | None  # None: the poller gives up before the job ends
    worst_delay_seconds: int | None


def monitor_polling(job_seconds: int, timeout_seconds: int = MAX_TIMEOUT_SECONDS) -> Polling:
    """Checks until the job is seen ended; worst delay = the gap in which the job ends."""
    elapsed, checks, gap = 0, 1, 0
    while elapsed < job_seconds:
        gap = next_wait_seconds(elapsed, timeout_seconds)
        elapsed += gap
        checks += 1
    return Polling(checks, gap)


def fixed_polling(job_seconds: int) -> Polling:
    if job_seconds > FIXED_CAP_SECONDS:
        return Polling(None, None)
    return Polling(math.ceil(job_seconds / FIXED_INTERVAL_SECONDS) + 1, FIXED_INTERVAL_SECONDS)


def describe_checks(checks: int | None) -> str:
    return (
        str(checks) if checks is not None else f"{FIXED_CAP_SECONDS // FIXED_INTERVAL_SECONDS + 1}, gave up"
    )


def describe_delay(seconds: int | None) -> str:
    if seconds is None:
        return "never (fails at 1 h)"
    return f"{seconds} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def table() -> str:
    header = ("job length", "monitor checks", "monitor worst delay", "5 s checks", "5 s worst delay")
    rows = [header]
    for label, seconds in JOB_LENGTHS.items():
        ours, fixed = monitor_polling(seconds), fixed_polling(seconds)
        rows.append(
            (
                label,
                describe_checks(ours.checks),
                describe_delay(ours.worst_delay_seconds),
                describe_checks(fixed.checks),
                describe_delay(fixed.worst_delay_seconds),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
