"""The WaitCondition signal (retries, gone handles) and the EventBridge entry (notify)."""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import Any

import pytest

from .testkit import BI, PUT_EVENTS_OK, SEGMENT, HandleServer, Stubs

import notify  # isort: skip  (on sys.path once testkit is imported)

BODY = b'{"Status": "SUCCESS", "Reason": "ok", "UniqueId": "j", "Data": "{}"}'


def no_sleep(_: float) -> None:
    pass


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/handle"


def test_signal_puts_the_body_as_is(handle_server: HandleServer) -> None:
    assert notify.signal_wait_handle(handle_server.url, BODY, sleep=no_sleep)[0] == "sent"
    assert handle_server.requests[0]["body"] == BODY


def test_signal_is_retried_on_server_errors(handle_server: HandleServer) -> None:
    handle_server.statuses.extend([503, 500])
    delays: list[float] = []
    assert notify.signal_wait_handle(handle_server.url, BODY, sleep=delays.append) == ("sent", "attempt 3")
    assert delays == [0.5, 1.0]


def test_signal_is_sent_with_an_empty_content_type(handle_server: HandleServer) -> None:
    """The presigned handle URL was signed without a Content-Type."""
    notify.signal_wait_handle(handle_server.url, BODY, sleep=no_sleep)
    assert handle_server.requests[0]["headers"]["Content-Type"] == ""


def test_signal_is_retried_when_throttled(handle_server: HandleServer) -> None:
    handle_server.statuses.extend([429])
    assert notify.signal_wait_handle(handle_server.url, BODY, sleep=no_sleep) == ("sent", "attempt 2")


def test_signal_refused_by_a_client_error_is_not_retried(handle_server: HandleServer) -> None:
    handle_server.statuses.extend([400])
    assert notify.signal_wait_handle(handle_server.url, BODY, sleep=no_sleep) == (
        "failed",
        "HTTP 400 Bad Request",
    )
    assert len(handle_server.requests) == 1


def test_signal_to_a_missing_handle_is_gone(handle_server: HandleServer) -> None:
    handle_server.statuses.extend([404])
    assert notify.signal_wait_handle(handle_server.url, BODY, sleep=no_sleep)[0] == "gone"


def test_signal_to_a_deleted_handle_is_not_retried(handle_server: HandleServer) -> None:
    handle_server.statuses.extend([403])
    assert notify.signal_wait_handle(handle_server.url, BODY, sleep=no_sleep) == (
        "gone",
        "HTTP 403 Forbidden",
    )
    assert len(handle_server.requests) == 1


def test_signal_gives_up_after_bounded_attempts_without_raising() -> None:
    delays: list[float] = []
    result, detail = notify.signal_wait_handle(closed_port_url(), BODY, sleep=delays.append)
    assert result == "failed" and "after 5 attempts" in detail
    assert delays == list(notify.SIGNAL_BACKOFF_SECONDS)


def test_worst_case_is_every_attempt_timing_out_and_every_backoff_slept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeouts: list[float] = []
    delays: list[float] = []

    def time_out(request: urllib.request.Request, timeout: float, **_: Any) -> None:
        timeouts.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request, "urlopen", time_out)
    result, _ = notify.signal_wait_handle("https://handle.invalid/h", BODY, sleep=delays.append)
    assert result == "failed"
    assert timeouts == [notify.SIGNAL_TIMEOUT_SECONDS] * (len(notify.SIGNAL_BACKOFF_SECONDS) + 1)
    assert notify.signal_worst_case_seconds() == sum(timeouts) + sum(delays)


def test_worst_case_is_five_attempts_of_10_s_and_7_5_s_of_backoff() -> None:
    assert notify.signal_worst_case_seconds() == 5 * 10 + (0.5 + 1.0 + 2.0 + 4.0)


def test_event_is_one_entry_with_source_detail_type_and_job_resource(stubs: Stubs) -> None:
    detail = {"jobArn": "arn:aws:personalize:us-east-1:1:batch-inference-job/j", "status": "ACTIVE"}
    stubs.events.add_response(
        "put_events",
        PUT_EVENTS_OK,
        {
            "Entries": [
                {
                    "Source": "constructs_lib.personalize",
                    "DetailType": "Personalize Batch Inference Job State Change",
                    "Detail": json.dumps(detail),
                    "EventBusName": "custom-bus",
                    "Resources": ["arn:aws:personalize:us-east-1:1:batch-inference-job/j"],
                }
            ]
        },
    )
    assert notify.put_event(stubs.clients.events, "custom-bus", BI.detail_type, detail) == (
        True,
        PUT_EVENTS_OK["Entries"][0]["EventId"],
    )


def test_rejected_event_entry_is_reported_not_raised(stubs: Stubs) -> None:
    stubs.events.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "AccessDeniedException", "ErrorMessage": "denied"}],
        },
    )
    assert notify.put_event(stubs.clients.events, "default", BI.detail_type, {"jobArn": "arn:x"}) == (
        False,
        "AccessDeniedException: denied",
    )


def test_event_call_error_is_reported_not_raised(stubs: Stubs) -> None:
    stubs.events.add_client_error("put_events", "InternalException", "boom", 500)
    assert notify.put_event(stubs.clients.events, "default", BI.detail_type, {"jobArn": "arn:x"}) == (
        False,
        "InternalException: boom",
    )


def test_event_carries_the_kinds_detail_type(stubs: Stubs) -> None:
    detail = {"jobArn": "arn:aws:personalize:us-east-1:1:batch-segment-job/j", "status": "ACTIVE"}
    stubs.events.add_response(
        "put_events",
        PUT_EVENTS_OK,
        {
            "Entries": [
                {
                    "Source": "constructs_lib.personalize",
                    "DetailType": "Personalize Batch Segment Job State Change",
                    "Detail": json.dumps(detail),
                    "EventBusName": "default",
                    "Resources": [detail["jobArn"]],
                }
            ]
        },
    )
    assert notify.put_event(stubs.clients.events, "default", SEGMENT.detail_type, detail)[0] is True


def test_event_answer_without_an_event_id_is_reported_as_not_sent(stubs: Stubs) -> None:
    stubs.events.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{}]})
    assert notify.put_event(stubs.clients.events, "default", BI.detail_type, {"jobArn": "arn:x"})[0] is False
