"""Per-run metrics of the check function, written as CloudWatch embedded metric format (EMF) log lines.

When a job's run ends the check function prints one JSON line; CloudWatch Logs turns it into metrics
(no PutMetricData call, no permission needed) and keeps it searchable in Logs Insights. The metrics
carry two dimensions that stay the same across a job's runs: the stack's name and the job resource's
logical id. The job constructs' ``metric_*()`` methods name the same namespace, metrics and dimensions
(constructs_lib/_metrics.py loads this file, so both sides read one definition).

This module imports nothing from the other handler modules: the constructs load it on its own.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

NAMESPACE = "CdkPersonalizeJobs"
STACK_DIMENSION = "StackName"
JOB_DIMENSION = "JobId"  # the job resource's logical id
RUN_DURATION = "RunDuration"  # seconds from the monitor's start to the run's end
RUNS_SUCCEEDED = "RunsSucceeded"  # 1 for a run that ended ACTIVE
RUNS_FAILED = "RunsFailed"  # 1 for a run that failed, timed out or was never created
RECORDS_WRITTEN = "RecordsWritten"  # result lines a batch run wrote (batch jobs only)
UNITS = {RUN_DURATION: "Seconds", RUNS_SUCCEEDED: "Count", RUNS_FAILED: "Count", RECORDS_WRITTEN: "Count"}


def stack_name(stack_id: str) -> str:
    """``arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`` -> ``<name>``."""
    resource = stack_id.split(":", 5)[-1]
    parts = resource.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "stack" else stack_id


def _epoch_ms(moment: str) -> int:
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def run_record(
    *,
    stack_id: str,
    logical_id: str,
    kind: str,
    job_name: str,
    job_arn: str | None,
    result: str,
    duration_seconds: float,
    records: int | None,
    now: str,
) -> dict[str, Any]:
    """The EMF document of one run's end (``now``: the check's ISO time)."""
    values: dict[str, Any] = {
        RUN_DURATION: round(duration_seconds),
        RUNS_SUCCEEDED: 1 if result == "SUCCESS" else 0,
        RUNS_FAILED: 0 if result == "SUCCESS" else 1,
    }
    if records is not None:
        values[RECORDS_WRITTEN] = int(records)
    return {
        "_aws": {
            "Timestamp": _epoch_ms(now),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[STACK_DIMENSION, JOB_DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in values],
                }
            ],
        },
        STACK_DIMENSION: stack_name(stack_id),
        JOB_DIMENSION: logical_id,
        "decision": "run-metrics",
        "kind": kind,
        "jobName": job_name,
        "jobArn": job_arn,
        "result": result,
        **values,
    }


def emit(record: dict[str, Any]) -> None:
    """One log line: CloudWatch Logs extracts the metrics from it."""
    print(json.dumps(record, default=str, sort_keys=True), flush=True)
