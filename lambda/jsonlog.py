"""One JSON line per decision, for CloudWatch Logs Insights, with the request's context bound once."""

from __future__ import annotations

import json
from typing import Any


class Logger:
    """``log("created", status="PENDING")`` prints ``{"decision": "created", "requestId": ..., ...}``."""

    def __init__(self, request_id: str | None, **bound: Any) -> None:
        self._bound = {"requestId": request_id, **bound}

    def bind(self, **more: Any) -> Logger:
        """A logger that adds ``more`` to every line (e.g. the job's ARN once it is known)."""
        bound = dict(self._bound)
        request_id = bound.pop("requestId")
        return Logger(request_id, **{**bound, **more})

    def __call__(self, decision: str, **fields: Any) -> None:
        record = {"decision": decision, **self._bound, **fields}
        print(json.dumps(record, default=str, sort_keys=True), flush=True)


def request_id_of(context: Any) -> str | None:
    """The Lambda request id of ``context`` (None when called without a Lambda context)."""
    return getattr(context, "aws_request_id", None)
