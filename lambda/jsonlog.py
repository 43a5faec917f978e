"""One JSON line per decision, for CloudWatch Logs Insights."""

from __future__ import annotations

import json
from typing import Any


def log(
    decision: str, *, request_id: str | None, job_arn: str | None, status: str | None, **extra: Any
) -> None:
    """Print `{"decision", "requestId", "jobArn", "status", ...}` as one line."""
    record = {"decision": decision, "requestId": request_id, "jobArn": job_arn, "status": status, **extra}
    print(json.dumps(record, default=str, sort_keys=True), flush=True)


def request_id_of(context: Any) -> str | None:
    """The Lambda request id of `context` (None when called without a Lambda context)."""
    return getattr(context, "aws_request_id", None)
