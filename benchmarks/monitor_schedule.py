"""How often the monitor checks a job, how late it can notice the job's end, and what that costs.

Simulates the monitor's schedule (schedule.next_wait_seconds in lambda/: 10 % of the time since the
first check, at least 60 s and at most 120 s, never past the deadline) against the alternatives: the
CDK Provider framework's isComplete polling (5 s, given up after one hour) and two schedules peers use
(60 s growing by 2 % per check; 120 s fixed). Counts are computed, never measured against AWS: state
transitions and history events follow the monitor's Check -> JobEnded -> WaitForNextCheck loop, and
dollars come from the public list prices named below (us-east-1).

    python benchmarks/monitor_schedule.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda"))

from contract import MAX_TIMEOUT_SECONDS
from schedule import next_wait_seconds

JOB_LENGTHS = {"20 min": 20 * 60, "1 h": 3600, "6 h": 6 * 3600, "12 h": 12 * 3600}
HISTORY_LIMIT = 25_000  # events in one Step Functions execution's history


@dataclass(frozen=True)
class Prices:
    """Public list prices (us-east-1), the inputs of every dollar figure here."""

    step_functions_per_1000_transitions: float = 0.025  # Standard workflows
    lambda_arm64_per_gb_second: float = 0.0000133334
    lambda_per_request: float = 0.20 / 1_000_000
    eventbridge_per_event: float = 1.00 / 1_000_000  # PutEvents, custom events
    source: str = "aws.amazon.com/step-functions/pricing, /lambda/pricing, /eventbridge/pricing (2026)"


PRICES = Prices()
CHECK_MEMORY_GB = 0.25  # the check function's 256 MB
CHECK_BILLED_SECONDS = 0.4  # a Describe call and a little Python; the last check does more
# One loop: Check (Task) -> JobEnded (Choice) -> WaitForNextCheck (Wait).
TRANSITIONS_PER_CHECK = 3
# TaskStateEntered, LambdaFunctionScheduled, -Started, -Succeeded, TaskStateExited; Choice entered and
# exited; Wait entered and exited.
HISTORY_EVENTS_PER_CHECK = 9
HISTORY_EVENTS_FIXED = 4  # ExecutionStarted, SucceedStateEntered, SucceedStateExited, ExecutionSucceeded


@dataclass(frozen=True)
class Polling:
    """How a schedule follows one job: None where it gives up before the job ends."""

    checks: int | None
    worst_delay_seconds: float | None

    @property
    def transitions(self) -> int | None:
        return None if self.checks is None else TRANSITIONS_PER_CHECK * self.checks

    @property
    def history_events(self) -> int | None:
        return None if self.checks is None else HISTORY_EVENTS_PER_CHECK * self.checks + HISTORY_EVENTS_FIXED

    def dollars(self, prices: Prices = PRICES) -> float | None:
        """Step Functions transitions, check invocations and the one end event."""
        if self.checks is None or self.transitions is None:
            return None
        step_functions = self.transitions / 1000 * prices.step_functions_per_1000_transitions
        check = (
            CHECK_MEMORY_GB * CHECK_BILLED_SECONDS * prices.lambda_arm64_per_gb_second
            + prices.lambda_per_request
        )
        return step_functions + self.checks * check + prices.eventbridge_per_event


def follow(job_seconds: int, wait: Callable[[float], float], give_up: float | None = None) -> Polling:
    """Checks at 0, then after each wait, until one falls at or after the job's end. The worst delay is
    the longest wait a job ending by then could have ended in (its end seen only at the wait's end)."""
    elapsed, checks, worst = 0.0, 1, 0.0
    while elapsed < job_seconds:
        gap = wait(elapsed)
        elapsed += gap
        checks += 1
        worst = max(worst, gap)
        if give_up is not None and elapsed > give_up:
            return Polling(None, None)
    return Polling(checks, worst)


def monitor_polling(job_seconds: int, timeout_seconds: int = MAX_TIMEOUT_SECONDS) -> Polling:
    return follow(job_seconds, lambda elapsed: next_wait_seconds(elapsed, timeout_seconds))


def provider_framework_polling(job_seconds: int) -> Polling:
    """CDK's Provider with isComplete: a fixed 5 s query interval; CloudFormation's hour is the cap."""
    return follow(job_seconds, lambda _: 5, give_up=3600)


def growing_polling(job_seconds: int) -> Polling:
    """60 s, growing by 2 % per check (a peer's backoff)."""
    waits = iter(60 * 1.02**n for n in range(10**6))
    return follow(job_seconds, lambda _: next(waits))


def fixed_polling(job_seconds: int, interval: int = 120) -> Polling:
    return follow(job_seconds, lambda _: interval)


SCHEDULES: dict[str, Callable[[int], Polling]] = {
    "this monitor": monitor_polling,
    "Provider isComplete (5 s, 1 h cap)": provider_framework_polling,
    "60 s x 1.02 backoff": growing_polling,
    "120 s fixed": fixed_polling,
}


def describe_delay(seconds: float | None) -> str:
    if seconds is None:
        return "never (gives up at 1 h)"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def rows() -> list[tuple[str, ...]]:
    """One row per schedule and job length."""
    found = []
    for label, seconds in JOB_LENGTHS.items():
        for schedule, poll in SCHEDULES.items():
            result = poll(seconds)
            dollars = result.dollars()
            found.append(
                (
                    label,
                    schedule,
                    "-" if result.checks is None else str(result.checks),
                    describe_delay(result.worst_delay_seconds),
                    "-" if result.transitions is None else str(result.transitions),
                    "-" if result.history_events is None else f"{result.history_events} / {HISTORY_LIMIT}",
                    "-" if dollars is None else f"${dollars:.4f}",
                )
            )
    return found


HEADER = ("job length", "schedule", "checks", "worst delay", "transitions", "history events", "cost")


def table() -> str:
    body = [HEADER, *rows()]
    widths = [max(len(row[column]) for row in body) for column in range(len(HEADER))]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in body
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join([*lines, "", prices_note()])


def prices_note(p: Prices = PRICES) -> str:
    """The prices and check size every dollar figure rests on."""
    return (
        f"Prices: Step Functions ${p.step_functions_per_1000_transitions} per 1,000 transitions; Lambda "
        f"arm64 ${p.lambda_arm64_per_gb_second} per GB-second and ${p.lambda_per_request * 1e6:.2f} "
        f"per million requests; EventBridge ${p.eventbridge_per_event * 1e6:.2f} per million events "
        f"({p.source}). Each check: {CHECK_MEMORY_GB * 1024:.0f} MB for {CHECK_BILLED_SECONDS} s billed."
    )


if __name__ == "__main__":
    print(table())
