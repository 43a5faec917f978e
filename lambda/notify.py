"""The two ways a job's end is told: the WaitCondition signal and the EventBridge event."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import contract
from aws_clients import AwsError, describe_error

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SIGNAL_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0)
SIGNAL_TIMEOUT_SECONDS = 10
# The handle's S3 object is gone (the WaitCondition was replaced or its stack deleted).
GONE_STATUSES = frozenset({403, 404})

SignalResult = Literal["sent", "gone", "failed"]


def _retryable_status(status: int) -> bool:
    return status >= 500 or status == 429


def _put(url: str, body: bytes) -> None:
    # Content-Type must be empty: the presigned handle URL was signed without one.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=SIGNAL_TIMEOUT_SECONDS):
        pass


def signal_wait_handle(
    url: str, body: bytes, *, sleep: Callable[[float], None] | None = None
) -> tuple[SignalResult, str]:
    """PUT the signal; retry transient failures (network, 5xx, 429) with a small backoff.

    Returns ("sent" | "gone" | "failed", detail). Never raises: a lost signal lets the WaitCondition
    time out, which must not keep the EventBridge event from being sent. ``sleep`` defaults to
    ``time.sleep``, looked up at call time.
    """
    pause = sleep or time.sleep
    detail = ""
    for attempt, backoff in enumerate((*SIGNAL_BACKOFF_SECONDS, None), start=1):
        try:
            _put(url, body)
            return "sent", f"attempt {attempt}"
        except urllib.error.HTTPError as error:
            detail = f"HTTP {error.code} {error.reason}"
            if error.code in GONE_STATUSES:
                return "gone", detail
            if not _retryable_status(error.code):
                return "failed", detail
        except (urllib.error.URLError, OSError) as error:
            detail = f"{type(error).__name__}: {error}"
        if backoff is not None:
            pause(backoff)
    return "failed", f"{detail} after {len(SIGNAL_BACKOFF_SECONDS) + 1} attempts"


def signal_worst_case_seconds() -> float:
    """The longest signal_wait_handle can take: every attempt times out, every backoff is slept."""
    return (len(SIGNAL_BACKOFF_SECONDS) + 1) * SIGNAL_TIMEOUT_SECONDS + sum(SIGNAL_BACKOFF_SECONDS)


def put_event(
    events: EventBridgeClient, bus_name: str, detail_type: str, detail: Mapping[str, Any]
) -> tuple[bool, str]:
    """One PutEvents entry; (True, event id) or (False, why)."""
    entry: PutEventsRequestEntryTypeDef = {
        "Source": contract.EVENT_SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(dict(detail)),
        "EventBusName": bus_name,
        "Resources": [detail["jobArn"]],
    }
    try:
        response = events.put_events(Entries=[entry])
    except AwsError as error:
        return False, describe_error(error)
    result = response["Entries"][0] if response.get("Entries") else {}
    if response.get("FailedEntryCount") or "EventId" not in result:
        return False, f"{result.get('ErrorCode', 'Unknown')}: {result.get('ErrorMessage', '')}"
    return True, str(result["EventId"])
