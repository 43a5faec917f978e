"""The check function's per-run metrics: one CloudWatch embedded metric format line per reported end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .test_monitor_check import (
    HOUR,
    expect_manifest,
    expect_no_results_manifest,
    expect_report,
    expect_status,
    run,
    started,
)
from .testkit import STACK_ID, Stubs

import run_metrics  # isort: skip  (on sys.path once testkit is imported)


def _emf_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_a_run_record_is_embedded_metric_format_with_the_jobs_stable_dimensions() -> None:
    record = run_metrics.run_record(
        stack_id=STACK_ID,
        logical_id="WeeklyC0FFEE12",
        kind="batch-inference",
        job_name="RecsStack-Weekly-0123456789ab",
        job_arn="arn:aws:personalize:us-east-1:123456789012:batch-inference-job/RecsStack-Weekly-0123456789ab",
        result="SUCCESS",
        duration_seconds=3599.6,
        records=500,
        now="2026-11-27T10:00:00Z",
    )
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "CdkPersonalizeJobs"
    assert directive["Dimensions"] == [["StackName", "JobId"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "RunDuration": "Seconds",
        "RunsSucceeded": "Count",
        "RunsFailed": "Count",
        "RecordsWritten": "Count",
    }
    assert record["_aws"]["Timestamp"] == 1795773600000
    assert (record["StackName"], record["JobId"]) == ("RecsStack", "WeeklyC0FFEE12")
    assert (
        record["RunDuration"],
        record["RunsSucceeded"],
        record["RunsFailed"],
        record["RecordsWritten"],
    ) == (
        3600,
        1,
        0,
        500,
    )


def test_a_failed_run_counts_one_failure_and_no_records() -> None:
    record = run_metrics.run_record(
        stack_id=STACK_ID,
        logical_id="Job",
        kind="dataset-import",
        job_name="n",
        job_arn=None,
        result="FAILURE",
        duration_seconds=60,
        records=None,
        now="2026-11-27T10:00:00.123Z",
    )
    assert (record["RunsSucceeded"], record["RunsFailed"]) == (0, 1)
    assert "RecordsWritten" not in record
    assert "RecordsWritten" not in {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


@pytest.mark.parametrize(
    ("stack_id", "name"),
    [
        ("arn:aws:cloudformation:us-east-1:123456789012:stack/My-Stack/0f1e2d3c-aaaa", "My-Stack"),
        ("arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/s/1", "s"),
    ],
)
def test_the_stack_dimension_is_the_stack_name(stack_id: str, name: str) -> None:
    assert run_metrics.stack_name(stack_id) == name


def test_a_successful_run_prints_its_metrics_once_with_the_records_written(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_status(stubs, "ACTIVE")
    expect_manifest(stubs, {"a.json.out": b"1\n2\n3\n"})
    expect_report(stubs)
    run(stubs, started(), 3 * HOUR)
    (line,) = _emf_lines(capsys.readouterr().out)
    assert (line["StackName"], line["JobId"], line["result"]) == ("RecsStack", "Job", "SUCCESS")
    assert (line["RunDuration"], line["RunsSucceeded"], line["RunsFailed"], line["RecordsWritten"]) == (
        3 * HOUR,
        1,
        0,
        3,
    )


def test_a_failed_run_prints_a_failure(stubs: Stubs, capsys: pytest.CaptureFixture[str]) -> None:
    expect_status(stubs, "CREATE FAILED", "Input file not found")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    run(stubs, started(), HOUR)
    (line,) = _emf_lines(capsys.readouterr().out)
    assert (line["RunsFailed"], line["RunsSucceeded"]) == (1, 0)
    assert "RecordsWritten" not in line


def test_a_restarted_monitor_of_a_reported_run_prints_no_second_count(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_status(stubs, "ACTIVE")
    expect_manifest(stubs)
    expect_report(stubs, reported="SUCCESS")
    run(stubs, started(), HOUR)
    assert _emf_lines(capsys.readouterr().out) == []
