"""benchmarks/monitor_schedule.py runs on the monitor's real schedule and meets its goals."""

from __future__ import annotations

import pytest

from .testkit import LAMBDA_DIR  # noqa: F401  (puts lambda/ and benchmarks/ on sys.path)

import monitor_schedule  # isort: skip

JOB_LENGTHS = list(monitor_schedule.JOB_LENGTHS.values())


def test_benchmark_prints_every_schedule_for_every_job_length() -> None:
    lines = monitor_schedule.table().splitlines()
    assert [line.split(" | ")[0].strip() for line in lines[2:18]] == [
        label for label in monitor_schedule.JOB_LENGTHS for _ in monitor_schedule.SCHEDULES
    ]
    assert "Prices: Step Functions $0.025 per 1,000 transitions" in monitor_schedule.table()


@pytest.mark.parametrize("seconds", JOB_LENGTHS)
def test_the_monitor_sees_a_jobs_end_within_two_minutes(seconds: int) -> None:
    result = monitor_schedule.monitor_polling(seconds)
    assert result.worst_delay_seconds is not None and result.worst_delay_seconds <= 120


def test_a_twelve_hour_job_costs_the_monitor_at_most_five_cents() -> None:
    result = monitor_schedule.monitor_polling(12 * 3600)
    dollars = result.dollars()
    assert dollars is not None and dollars <= 0.05
    assert result.history_events is not None and result.history_events < monitor_schedule.HISTORY_LIMIT


def test_the_provider_framework_cannot_follow_a_job_past_an_hour() -> None:
    assert monitor_schedule.provider_framework_polling(6 * 3600).checks is None
