"""The WaitCondition signal (retries, gone handles) and the EventBridge entry (notify)."""

from __future__ import annotations

import json
import socket

import notify

from .testkit import PUT_EVENTS_OK, HandleServer, Stubs

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
    assert notify.put_event(stubs.clients.events, "custom-bus", detail) == (
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
    assert notify.put_event(stubs.clients.events, "default", {"jobArn": "arn:x"}) == (
        False,
        "AccessDeniedException: denied",
    )


def test_event_call_error_is_reported_not_raised(stubs: Stubs) -> None:
    stubs.events.add_client_error("put_events", "InternalException", "boom", 500)
    assert notify.put_event(stubs.clients.events, "default", {"jobArn": "arn:x"}) == (
        False,
        "InternalException: boom",
    )
