"""benchmarks/monitor_schedule.py keeps running on the monitor's real schedule."""

from __future__ import annotations

import monitor_schedule


def test_benchmark_prints_a_row_per_job_length() -> None:
    lines = monitor_schedule.table().splitlines()
    assert [line.split(" | ")[0].strip() for line in lines[2:]] == ["20 min", "1 h", "6 h", "12 h"]


def test_monitor_needs_fewer_checks_than_fixed_polling_and_at_most_100_for_12_hours() -> None:
    assert (monitor_schedule.monitor_polling(12 * 3600).checks or 0) <= 100
    assert (monitor_schedule.monitor_polling(3600).checks or 0) < (
        monitor_schedule.fixed_polling(3600).checks or 0
    )
