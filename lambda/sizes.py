"""Keeping what CloudFormation, a WaitCondition and EventBridge receive within their size limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

import contract

Result = Literal["SUCCESS", "FAILURE"]
ERROR_MESSAGE_LIMIT_BYTES = 1500
EVENT_REASON_LIMIT_BYTES = 4096
TRUNCATION_MARK = " ...[truncated]"


def fit_text(text: str, render: Callable[[str], bytes], limit_bytes: int) -> str:
    """The longest prefix of ``text`` (marked as truncated) whose rendering stays under ``limit_bytes``."""
    if len(render(text)) < limit_bytes:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(text[:middle] + TRUNCATION_MARK)) < limit_bytes:
            low = middle
        else:
            high = middle - 1
    return text[:low] + TRUNCATION_MARK


def truncate_bytes(text: str, limit_bytes: int) -> str:
    """``text`` cut (and marked) so that its UTF-8 encoding stays under ``limit_bytes``."""
    return fit_text(text, lambda candidate: candidate.encode(), limit_bytes)


def signal_body(result: Result, reason: str, unique_id: str, data: Mapping[str, Any]) -> bytes:
    """The WaitCondition signal document, under 4,096 bytes whatever the reason's length."""
    data_text = json.dumps(dict(data))

    def render(candidate: str) -> bytes:
        document = {"Status": result, "Reason": candidate, "UniqueId": unique_id, "Data": data_text}
        return json.dumps(document).encode()

    return render(fit_text(reason, render, contract.SIGNAL_LIMIT_BYTES))
