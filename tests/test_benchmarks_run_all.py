"""benchmarks/run_all.py and synth_compare.py: the arithmetic and wording behind RESULTS.md.

Pure functions only, on made-up timings: nothing here synthesizes or starts a process.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS_DIR) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS_DIR))

import monitor_schedule  # noqa: E402  (benchmarks/ is on sys.path only from here on)
import run_all  # noqa: E402
import synth_compare  # noqa: E402
from _table import Table  # noqa: E402


def _run(seconds: float, *, cpu: float = 1.0, synth: float = 1.0) -> synth_compare.ProcessRun:
    return synth_compare.ProcessRun(seconds=seconds, cpu_seconds=cpu, synth_seconds=synth)


def _processes(count: int, ours: list[float], baseline: list[float]) -> synth_compare.ProcessComparison:
    return synth_compare.ProcessComparison(count, [_run(s) for s in ours], [_run(s) for s in baseline])


def test_the_process_ratio_is_the_ratio_of_the_wall_time_medians() -> None:
    compared = _processes(10, ours=[9.0, 8.0, 30.0], baseline=[7.0, 6.0, 8.0])
    assert (compared.ours_median, compared.baseline_median) == (9.0, 7.0)
    assert compared.ratio == 9.0 / 7.0


def test_the_cpu_ratio_is_the_ratio_of_the_cpu_time_medians() -> None:
    compared = synth_compare.ProcessComparison(
        1, ours=[_run(20.0, cpu=6.0), _run(9.0, cpu=5.0)], baseline=[_run(7.0, cpu=4.0), _run(8.0, cpu=4.0)]
    )
    assert compared.cpu_ratio == 5.5 / 4.0


def test_start_up_is_the_wall_time_before_construction_and_synth() -> None:
    compared = synth_compare.ProcessComparison(
        1, ours=[_run(8.0, synth=3.0)], baseline=[_run(6.0, synth=2.5)]
    )
    assert compared.startup_seconds == (5.0, 3.5)


def test_only_ratios_above_the_target_are_over_it() -> None:
    assert synth_compare.over_target({1: 1.2, 10: synth_compare.TARGET_RATIO, 50: 0.9}) == {1: 1.2}


def test_the_verdict_says_plainly_at_which_n_the_whole_synth_misses_the_target() -> None:
    said = run_all.verdict({1: 1.3, 10: 1.1, 50: 1.2}, {1: 1.2, 10: 1.0, 50: 1.1}, {1: 3.0, 10: 2.5})
    assert "Target missed" in said
    assert "more than 1.15x" in said
    assert "N = 1 (1.300x), 50 (1.200x)" in said
    assert "Within target at N = 10 (1.100x)" in said
    assert "give 1 (1.200x), 10 (1.000x), 50 (1.100x): over the target at N = 1." in said


def test_the_verdict_says_the_target_is_met_when_every_n_is_within_it() -> None:
    said = run_all.verdict({1: 1.15, 10: 1.0}, {1: 1.1, 10: 1.0}, {1: 2.0, 10: 1.0})
    assert "Target met" in said
    assert "missed" not in said
    assert "over the target" not in said


def test_the_process_table_marks_each_n_within_target_or_not() -> None:
    table = synth_compare.process_table([_processes(1, [8.0], [6.0]), _processes(50, [8.0], [7.5])])
    assert [(row[0], row[3], row[4]) for row in table.rows] == [
        ("1", "1.333x", "no"),
        ("50", "1.067x", "yes"),
    ]


def test_a_stack_without_jobs_is_extrapolated_from_the_cost_per_added_job() -> None:
    def synthesis(resources: int) -> synth_compare.Synthesis:
        return synth_compare.Synthesis(seconds=0.1, template_bytes=1000 * resources, resources=resources)

    low = synth_compare.Comparison(synth_compare.MARGINAL_FROM, [synthesis(31)], [synthesis(15)])
    high = synth_compare.Comparison(synth_compare.MARGINAL_TO, [synthesis(58)], [synthesis(33)])
    assert synth_compare.per_added_job(low.ours[0], high.ours[0]) == (3.0, 3000.0)
    assert synth_compare.fixed_resources([low, high]) == (28.0, 13.0)


def test_run_all_shows_every_row_of_the_monitor_schedule_benchmark() -> None:
    table = run_all.monitor_table()
    assert table.header == monitor_schedule.HEADER
    assert list(table.rows) == monitor_schedule.rows()


def test_results_open_with_the_date_the_machine_and_the_headline() -> None:
    table = Table.of("Figures", ("N", "s"), [("1", "7.000")])
    markdown = run_all.results_markdown(
        datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc),
        300.0,
        [("CPU", "AMD EPYC, 2 cores")],
        [table],
        ["**Headline.**", "A note."],
    )
    lines = markdown.splitlines()
    assert lines[2].endswith("2026-11-27 15:00 UTC on AMD EPYC, 2 cores, 300 s in all.")
    assert lines.index("**Headline.**") < lines.index("### Figures") < lines.index("- A note.")
    assert "| ---: | ---: |" in markdown
