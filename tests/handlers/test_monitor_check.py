"""monitor.run_check: one loop step of the monitor, with stubbed clients and a loopback handle."""

from __future__ import annotations

import json
from typing import Any

import monitor
import pytest
from botocore.exceptions import EndpointConnectionError

from .testkit import (
    PUT_EVENTS_OK,
    T0,
    HandleServer,
    Stubs,
    arn_of,
    at,
    base_properties,
    describe_response,
    monitor_state,
    name_of,
    request_of,
)

HOUR = 3600
PROPERTIES = base_properties(TimeoutSeconds="21600")
REQUEST = request_of(PROPERTIES)
ARN = arn_of(name_of(PROPERTIES))


def run(stubs: Stubs, state: dict[str, Any], seconds: float) -> dict[str, Any]:
    return monitor.run_check({"state": state, "now": at(seconds)}, stubs.clients, "req-1")


def started(consecutive_errors: int = 0, **changes: Any) -> dict[str, Any]:
    """A state after its first check at T0."""
    state = monitor_state(PROPERTIES, started_at=T0, checks=1, **changes)
    if consecutive_errors:
        state["consecutiveErrors"] = consecutive_errors
    return state


def expect_status(stubs: Stubs, status: str, failure_reason: str | None = None) -> None:
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(REQUEST, status, failure_reason),
        {"batchInferenceJobArn": ARN},
    )


def expect_event(stubs: Stubs) -> None:
    stubs.events.add_response("put_events", PUT_EVENTS_OK)


def sent_event(stubs: Stubs) -> dict[str, Any]:
    (params,) = stubs.params_of("PutEvents")
    (entry,) = params["Entries"]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "constructs_lib.personalize",
        "Personalize Batch Inference Job State Change",
        "default",
    )
    detail: dict[str, Any] = json.loads(entry["Detail"])
    return detail


def signal_of(server: HandleServer) -> dict[str, Any]:
    (request,) = server.requests
    document: dict[str, Any] = json.loads(request["body"])
    return document


def test_first_check_records_the_start_and_waits_a_minute_while_pending(stubs: Stubs) -> None:
    expect_status(stubs, "PENDING")
    state = run(stubs, monitor_state(PROPERTIES), 0)
    assert (state["startedAt"], state["checks"], state["status"]) == (T0, 1, "PENDING")
    assert (state["done"], state["waitSeconds"]) == (False, 60)


def test_check_takes_its_clock_from_now(stubs: Stubs) -> None:
    expect_status(stubs, "IN PROGRESS")
    state = run(stubs, started(), 2 * HOUR)
    assert (state["status"], state["waitSeconds"]) == ("IN PROGRESS", 720)


def test_active_job_signals_success_and_puts_one_event(stubs: Stubs, handle_server: HandleServer) -> None:
    expect_status(stubs, "ACTIVE")
    expect_event(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert (state["done"], state["result"], state["status"]) == (True, "SUCCESS", "ACTIVE")
    signal = signal_of(handle_server)
    assert (signal["Status"], signal["UniqueId"]) == ("SUCCESS", state["jobName"])
    assert json.loads(signal["Data"]) == {
        "jobArn": ARN,
        "outputS3Uri": state["outputS3Uri"],
        "status": "ACTIVE",
    }
    assert sent_event(stubs) == {
        "jobArn": ARN,
        "jobName": state["jobName"],
        "status": "ACTIVE",
        "result": "SUCCESS",
        "failureReason": None,
        "outputS3Uri": state["outputS3Uri"],
        "durationSeconds": HOUR,
        "stackId": state["stackId"],
        "logicalId": "Job",
    }


def test_signal_is_a_put_with_an_empty_content_type(stubs: Stubs, handle_server: HandleServer) -> None:
    expect_status(stubs, "ACTIVE")
    expect_event(stubs)
    run(stubs, started(wait_handle=handle_server.url), HOUR)
    (request,) = handle_server.requests
    assert request["headers"].get("Content-Type") == ""
    assert request["path"].startswith("/cloudformation-waitcondition/handle?X-Amz-Signature=abc")


def test_failed_job_signals_failure_with_the_jobs_reason(stubs: Stubs, handle_server: HandleServer) -> None:
    expect_status(stubs, "CREATE FAILED", "Input file s3://in-bucket/users/ is empty")
    expect_event(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert (state["done"], state["result"]) == (True, "FAILURE")
    assert "Input file s3://in-bucket/users/ is empty" in signal_of(handle_server)["Reason"]
    assert "Input file s3://in-bucket/users/ is empty" in sent_event(stubs)["failureReason"]


def test_job_past_its_timeout_fails_naming_the_timeout_and_last_status(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "IN PROGRESS")
    expect_event(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), 21600)
    assert state["result"] == "FAILURE"
    reason = signal_of(handle_server)["Reason"]
    assert "did not finish within the timeout of 21600 s" in reason and "IN PROGRESS" in reason


def test_signal_body_stays_under_4096_bytes_with_a_huge_failure_reason(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "CREATE FAILED", "E" * 100_000)
    expect_event(stubs)
    run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert len(handle_server.requests[0]["body"]) < 4096


def test_deleted_wait_handle_is_logged_and_the_event_still_sent(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    handle_server.statuses.extend([404])
    expect_status(stubs, "ACTIVE")
    expect_event(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert state["done"] is True
    assert len(handle_server.requests) == 1
    assert sent_event(stubs)["result"] == "SUCCESS"


def test_job_without_wait_handle_only_puts_the_event(stubs: Stubs) -> None:
    expect_status(stubs, "ACTIVE")
    expect_event(stubs)
    assert run(stubs, started(), HOUR)["done"] is True


@pytest.mark.parametrize(
    ("code", "http_status"),
    [("ThrottlingException", 400), ("InternalFailure", 500), ("ResourceNotFoundException", 400)],
)
def test_transient_describe_error_checks_again_later(stubs: Stubs, code: str, http_status: int) -> None:
    stubs.personalize.add_client_error("describe_batch_inference_job", code, "try later", http_status)
    state = run(stubs, started(), 120)
    assert (state["done"], state["consecutiveErrors"], state["waitSeconds"]) == (False, 1, 60)


def test_connection_error_checks_again_later(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://personalize.us-east-1.amazonaws.com")

    monkeypatch.setattr(monitor, "describe_job", unreachable)
    state = run(stubs, started(), 120)
    assert (state["done"], state["consecutiveErrors"], state["waitSeconds"]) == (False, 1, 60)


def test_successful_describe_resets_the_error_count(stubs: Stubs) -> None:
    expect_status(stubs, "IN PROGRESS")
    assert run(stubs, started(consecutive_errors=3), 120)["consecutiveErrors"] == 0


def test_errors_that_keep_coming_end_with_failure_and_the_error(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("describe_batch_inference_job", "ThrottlingException", "Rate exceeded")
    expect_event(stubs)
    state = run(stubs, started(consecutive_errors=4), 600)
    assert (state["done"], state["result"]) == (True, "FAILURE")
    assert "ThrottlingException: Rate exceeded" in state["reason"]


def test_non_transient_describe_error_ends_with_failure_at_once(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("describe_batch_inference_job", "AccessDeniedException", "not allowed")
    expect_event(stubs)
    state = run(stubs, started(), 120)
    assert state["result"] == "FAILURE"
    assert "AccessDeniedException: not allowed" in state["reason"]


def test_queued_job_is_created_when_a_slot_frees(stubs: Stubs) -> None:
    stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": ARN}, REQUEST)
    state = run(stubs, started(created=False, status="QUEUED"), 1800)
    assert (state["created"], state["status"], state["done"]) == (True, "PENDING", False)
    assert "createRequest" not in state


def test_queued_job_waits_again_on_limit_exceeded(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("create_batch_inference_job", "LimitExceededException", "quota")
    state = run(stubs, started(created=False, status="QUEUED"), 1800)
    assert (state["created"], state["status"], state["done"], state["waitSeconds"]) == (
        False,
        "QUEUED",
        False,
        180,
    )
    assert state["createRequest"] == REQUEST


def test_queued_job_past_its_timeout_fails_without_being_created(stubs: Stubs) -> None:
    expect_event(stubs)
    state = run(stubs, started(created=False, status="QUEUED"), 21600)
    assert state["result"] == "FAILURE" and "free slot" in state["reason"]
    assert stubs.params_of("CreateBatchInferenceJob") == []


def test_queued_job_whose_create_fails_otherwise_ends_with_the_service_message(stubs: Stubs) -> None:
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceNotFoundException", "no solution"
    )
    expect_event(stubs)
    state = run(stubs, started(created=False, status="QUEUED"), 600)
    assert state["result"] == "FAILURE" and "ResourceNotFoundException: no solution" in state["reason"]


def test_queued_job_created_meanwhile_by_another_monitor_is_adopted(stubs: Stubs) -> None:
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    expect_status(stubs, "IN PROGRESS")
    state = run(stubs, started(created=False, status="QUEUED"), 600)
    assert (state["created"], state["status"], state["done"]) == (True, "IN PROGRESS", False)


def test_check_entry_point_uses_the_default_clients(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor, "default_clients", lambda: stubs.clients)
    expect_status(stubs, "PENDING")
    assert monitor.check({"state": monitor_state(PROPERTIES), "now": T0}, None)["waitSeconds"] == 60


def test_caught_monitor_error_is_reported_as_failure_without_calling_personalize(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_event(stubs)
    state = started(wait_handle=handle_server.url)
    state["caught"] = {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}
    event = {"state": state, "now": at(HOUR), "abort": state["caught"]}
    result = monitor.run_check(event, stubs.clients, "req-1")
    assert (result["done"], result["result"]) == (True, "FAILURE")
    assert "caught" not in result
    reason = signal_of(handle_server)["Reason"]
    assert "Lambda.TooManyRequestsException" in reason and "Rate exceeded" in reason
    assert sent_event(stubs)["result"] == "FAILURE"
    stubs.personalize.assert_no_pending_responses()
