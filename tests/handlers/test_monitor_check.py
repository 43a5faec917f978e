"""monitor.run_check: one loop step of the monitor, with stubbed clients and a loopback handle."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.response import StreamingBody
from botocore.stub import ANY

from .testkit import (
    HANDLE,
    PUT_EVENTS_OK,
    STACK_ID,
    STATE_MACHINE_ARN,
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

import contract  # isort: skip  (on sys.path once testkit is imported)
import monitor  # isort: skip
import names  # isort: skip

HOUR = 3600
PROPERTIES = base_properties(TimeoutSeconds="21600")
REQUEST = request_of(PROPERTIES)
ARN = arn_of(name_of(PROPERTIES))
OUTPUT = f"batch-inference/RecsStack/Job/{name_of(PROPERTIES)}/"
EXECUTION = names.execution_arn(STATE_MACHINE_ARN, "this-monitor")


def run(stubs: Stubs, state: dict[str, Any], seconds: float, **extra: Any) -> dict[str, Any]:
    event = {"state": state, "now": at(seconds), "execution": EXECUTION, **extra}
    return dict(monitor.run_check(event, stubs.clients, "req-1"))


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


def expect_report(stubs: Stubs, *, reported: str | None = None) -> None:
    """The end: the job's tags are read; unless an earlier monitor reported it, the event and the tag."""
    tags = [{"tagKey": contract.END_REPORTED_TAG, "tagValue": reported}] if reported else []
    stubs.personalize.add_response("list_tags_for_resource", {"tags": tags}, {"resourceArn": ARN})
    if reported is None:
        stubs.events.add_response("put_events", PUT_EVENTS_OK)
        stubs.personalize.add_response(
            "tag_resource",
            {},
            {"resourceArn": ARN, "tags": [{"tagKey": contract.END_REPORTED_TAG, "tagValue": ANY}]},
        )


def expect_running(stubs: Stubs, status: str = "RUNNING") -> None:
    """DescribeExecution of this monitor: it still runs (or was stopped: ``status``)."""
    stubs.expect_execution_status(EXECUTION, status)


def expect_manifest(stubs: Stubs, outputs: dict[str, bytes] | None = None) -> None:
    """The manifest of a success: this monitor still runs, the results are listed and counted, written."""
    outputs = {"users.json.out": b'{"a": 1}\n{"b": 2}\n'} if outputs is None else outputs
    expect_running(stubs)
    stubs.s3.add_response(
        "list_objects_v2",
        {
            "Contents": [{"Key": f"{OUTPUT}{key}", "Size": len(body)} for key, body in outputs.items()],
            "KeyCount": len(outputs),
        },
        {"Bucket": "out-bucket", "Prefix": OUTPUT},
    )
    for key, body in outputs.items():
        if not key.endswith(".out"):
            continue  # only the results files are counted
        stubs.s3.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(body), len(body))},
            {"Bucket": "out-bucket", "Key": f"{OUTPUT}{key}"},
        )
    stubs.s3.add_response(
        "put_object", {}, {"Bucket": "out-bucket", "Key": ANY, "Body": ANY, "ContentType": "application/json"}
    )


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
    assert (state["startedAt"], state["checks"], state["waitSeconds"], state["done"]) == (T0, 1, 60, False)


def test_check_takes_its_clock_from_now(stubs: Stubs) -> None:
    expect_status(stubs, "IN PROGRESS")
    state = run(stubs, started(), 1500)
    assert state["waitSeconds"] == 120  # 10 % of 25 minutes would be 150 s: checks stay 2 minutes apart


def test_active_job_signals_success_writes_the_manifest_and_puts_one_event(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "ACTIVE")
    expect_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), 3 * HOUR)
    assert (state["done"], state["result"], state["status"]) == (True, "SUCCESS", "ACTIVE")
    signal = signal_of(handle_server)
    assert (signal["Status"], signal["UniqueId"]) == ("SUCCESS", name_of(PROPERTIES))
    detail = sent_event(stubs)
    assert (detail["jobArn"], detail["result"], detail["failureReason"]) == (ARN, "SUCCESS", None)
    assert detail["durationSeconds"] == 3 * HOUR
    assert detail["manifestUri"] == "s3://out-bucket/batch-inference/RecsStack/Job/latest.json"
    (tag,) = stubs.params_of("TagResource")
    assert tag["tags"] == [{"tagKey": contract.END_REPORTED_TAG, "tagValue": "SUCCESS"}]


def test_manifest_names_the_run_its_objects_and_their_record_counts(stubs: Stubs) -> None:
    expect_status(stubs, "ACTIVE")
    expect_manifest(stubs, {"a.json.out": b"1\n2\n3\n", "b.json.out": b"1\n2", "_CHECK": b"x"})
    expect_report(stubs)
    run(stubs, started(), HOUR)
    (put,) = stubs.params_of("PutObject")
    body = put["Body"]  # botocore has made the bytes a file-like object by now
    document = json.loads(body.getvalue() if hasattr(body, "getvalue") else body)
    assert put["Key"] == "batch-inference/RecsStack/Job/latest.json"
    assert (document["jobArn"], document["jobName"], document["records"]) == (ARN, name_of(PROPERTIES), 5)
    assert document["outputS3Uri"] == f"s3://out-bucket/{OUTPUT}"
    assert [(o["uri"].rsplit("/", 1)[1], o["records"]) for o in document["objects"]] == [
        ("a.json.out", 3),
        ("b.json.out", 2),
        ("_CHECK", None),
    ]
    assert (document["result"], document["status"]) == ("SUCCESS", "ACTIVE")


def written_manifest(stubs: Stubs) -> dict[str, Any]:
    (put,) = stubs.params_of("PutObject")
    body = put["Body"]
    document: dict[str, Any] = json.loads(body.getvalue() if hasattr(body, "getvalue") else body)
    return document


def expect_no_results_manifest(stubs: Stubs) -> None:
    """The manifest of a run that ended without results: this monitor still runs, latest.json written."""
    expect_running(stubs)
    stubs.expect_manifest_put("batch-inference/RecsStack/Job/latest.json")


def test_failed_job_writes_a_manifest_saying_its_run_has_no_results(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    # latest.json names the resource's current run: a failed run (a rollback's restored one included)
    # replaces the name of a run the stack no longer holds.
    expect_status(stubs, "CREATE FAILED", "Input file not found")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert state["result"] == "FAILURE"
    document = written_manifest(stubs)
    assert (document["jobArn"], document["result"], document["status"]) == (ARN, "FAILURE", "CREATE FAILED")
    assert (document["outputS3Uri"], document["objects"], document["records"]) == (None, [], None)
    assert "Input file not found" in document["reason"]
    assert "manifestUri" not in sent_event(stubs)


def test_manifest_finished_at_is_the_runs_own_end_not_the_time_of_a_restarted_monitor(stubs: Stubs) -> None:
    # A rollback restarts the monitor of a run that ended hours ago (at its last update, 10:05).
    expect_status(stubs, "ACTIVE")
    expect_manifest(stubs)
    expect_report(stubs, reported="SUCCESS")
    run(stubs, started(), 30 * HOUR)
    assert written_manifest(stubs)["finishedAt"] == "2024-05-01T10:05:00.000Z"


def test_a_stopped_monitor_whose_check_was_in_flight_writes_no_manifest(stubs: Stubs) -> None:
    expect_status(stubs, "ACTIVE")
    expect_running(stubs, "ABORTED")  # stopped by a newer request while this check ran
    expect_report(stubs)
    assert run(stubs, started(), HOUR)["result"] == "SUCCESS"
    assert stubs.params_of("PutObject") == [] and stubs.params_of("ListObjectsV2") == []


def test_manifest_that_cannot_be_written_is_logged_and_the_job_still_reported(stubs: Stubs) -> None:
    expect_status(stubs, "ACTIVE")
    expect_running(stubs)
    stubs.s3.add_client_error("list_objects_v2", "AccessDenied", "no", 403)
    expect_report(stubs)
    assert run(stubs, started(), HOUR)["result"] == "SUCCESS"
    assert len(stubs.params_of("PutEvents")) == 1


def test_signal_is_a_put_with_an_empty_content_type(stubs: Stubs, handle_server: HandleServer) -> None:
    expect_status(stubs, "CREATE FAILED", "bad")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    run(stubs, started(wait_handle=handle_server.url), HOUR)
    (request,) = handle_server.requests
    assert request["headers"].get("Content-Type", "") == ""


def test_failed_job_signals_failure_with_the_jobs_reason(stubs: Stubs, handle_server: HandleServer) -> None:
    expect_status(stubs, "CREATE FAILED", "Input file not found")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert signal_of(handle_server)["Status"] == "FAILURE"
    assert "Input file not found" in signal_of(handle_server)["Reason"]
    assert sent_event(stubs)["failureReason"] == state["reason"]


def test_job_past_its_timeout_fails_naming_the_timeout_and_last_status(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "IN PROGRESS")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), 21600)
    assert state["result"] == "FAILURE"
    assert "within the timeout of 21600 s; its last status was IN PROGRESS" in state["reason"]


def test_signal_body_stays_under_4096_bytes_with_a_huge_failure_reason(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "CREATE FAILED", "x" * 50_000)
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert len(handle_server.requests[0]["body"]) < 4096


def test_deleted_wait_handle_is_logged_and_the_event_still_sent(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    handle_server.statuses.append(403)
    expect_status(stubs, "CREATE FAILED", "bad")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(wait_handle=handle_server.url), HOUR)
    assert state["done"] and len(stubs.params_of("PutEvents")) == 1


def test_job_without_wait_handle_only_puts_the_event(stubs: Stubs) -> None:
    expect_status(stubs, "CREATE FAILED", "bad")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    run(stubs, started(), HOUR)
    assert len(stubs.params_of("PutEvents")) == 1


# --- one end event per run (issue 10, defect 6) ----------------------------------------------------------


def test_a_monitor_restarted_for_a_job_already_reported_signals_but_sends_no_second_event(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "ACTIVE")
    expect_manifest(stubs)
    expect_report(stubs, reported="SUCCESS")
    state = run(stubs, monitor_state(PROPERTIES, status="ACTIVE", wait_handle=handle_server.url), 0)
    assert (state["done"], state["result"], state["checks"]) == (True, "SUCCESS", 1)
    assert signal_of(handle_server)["Status"] == "SUCCESS"
    assert stubs.params_of("PutEvents") == []


def test_an_end_whose_report_cannot_be_told_is_reported_rather_than_lost(stubs: Stubs) -> None:
    expect_status(stubs, "CREATE FAILED", "bad")
    stubs.personalize.add_client_error("list_tags_for_resource", "ThrottlingException", "slow down")
    expect_no_results_manifest(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response("tag_resource", {})
    run(stubs, started(), HOUR)
    assert len(stubs.params_of("PutEvents")) == 1


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "http_status"), [("ThrottlingException", 400), ("InternalServerError", 500)]
)
def test_transient_describe_error_checks_again_later(stubs: Stubs, code: str, http_status: int) -> None:
    stubs.personalize.add_client_error("describe_batch_inference_job", code, "try again", http_status)
    state = run(stubs, started(), 120)
    assert (state["done"], state["consecutiveErrors"], state["waitSeconds"]) == (False, 1, 60)


def test_connection_error_checks_again_later(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://personalize.us-east-1.amazonaws.com")

    monkeypatch.setattr(stubs.clients.personalize, "describe_batch_inference_job", unreachable)
    state = run(stubs, started(), 120)
    assert (state["done"], state["consecutiveErrors"]) == (False, 1)


def test_successful_describe_resets_the_error_count(stubs: Stubs) -> None:
    expect_status(stubs, "IN PROGRESS")
    assert run(stubs, started(consecutive_errors=3), 600)["consecutiveErrors"] == 0


def test_errors_that_keep_coming_end_with_failure_and_the_error(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("describe_batch_inference_job", "InternalServerError", "down", 500)
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(consecutive_errors=4), 600)
    assert state["result"] == "FAILURE" and "5 errors in a row" in state["reason"]


def test_access_denied_on_describe_is_tried_again_a_bounded_number_of_times(stubs: Stubs) -> None:
    # A policy that just changed (a job renamed, its old job's monitor still running) denies for a while;
    # the stack is settled, so each denial counts.
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.expect_stack_status("UPDATE_COMPLETE")
    state = run(stubs, started(), 120)
    assert (state["done"], state["consecutiveErrors"]) == (False, 1)
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.expect_stack_status("UPDATE_COMPLETE")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(consecutive_errors=4), 600)
    assert state["result"] == "FAILURE" and "5 errors in a row" in state["reason"]


@pytest.mark.parametrize(
    "stack_status",
    [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
    ],
)
def test_access_denied_while_the_stack_changes_is_not_counted(
    stubs: Stubs, stack_status: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A wait=False job removed by an update: the shared policies lose its statements in the update, and
    # its resource (whose Delete stops this monitor) goes only in the cleanup. Four denials were counted
    # before the update began; a fifth while the stack changes is not the one that fails the run.
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.expect_stack_status(stack_status)
    state = run(stubs, started(consecutive_errors=4), 600)
    assert (state["done"], state["consecutiveErrors"], state["waitSeconds"]) == (False, 4, 60)
    assert "result" not in state
    assert stubs.params_of("DescribeStacks") == [{"StackName": STACK_ID}]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(
        record.get("decision") == "denied-while-stack-changes" and record.get("stackStatus") == stack_status
        for record in logged
    )


def test_access_denied_counts_for_a_run_the_stack_waits_for(stubs: Stubs) -> None:
    # The stack is UPDATE_IN_PROGRESS because it waits for this run: a missing permission fails it as
    # before, within minutes.
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.expect_stack_status("UPDATE_IN_PROGRESS")
    state = run(stubs, started(consecutive_errors=1, wait_handle=HANDLE), 600)
    assert (state["done"], state["consecutiveErrors"]) == (False, 2)


@pytest.mark.parametrize(
    "stack_status",
    ["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "DELETE_IN_PROGRESS"],
)
def test_access_denied_is_not_counted_for_a_waited_run_once_the_stack_rolls_back(
    stubs: Stubs, stack_status: str
) -> None:
    # A rollback no longer waits for this run, and restores the shared policies without its statements
    # before the cleanup stops this monitor: its denials then must not fail it.
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.expect_stack_status(stack_status)
    state = run(stubs, started(consecutive_errors=4, wait_handle=HANDLE), 600)
    assert (state["done"], state["consecutiveErrors"]) == (False, 4)
    assert "result" not in state


@pytest.mark.parametrize("stack_status", ["CREATE_IN_PROGRESS", "REVIEW_IN_PROGRESS", "IMPORT_IN_PROGRESS"])
def test_access_denied_counts_while_the_stack_is_created_or_imported(stubs: Stubs, stack_status: str) -> None:
    # No grant the run had can be taken away then: a denial is real and fails it within minutes.
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.expect_stack_status(stack_status)
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(consecutive_errors=4), 600)
    assert state["result"] == "FAILURE" and "5 errors in a row" in state["reason"]


def test_access_denied_while_the_stack_changes_still_ends_at_the_timeout(stubs: Stubs) -> None:
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.expect_stack_status("UPDATE_IN_PROGRESS")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(), 6 * HOUR)
    assert state["result"] == "FAILURE" and "timeout" in state["reason"]
    assert "UPDATE_IN_PROGRESS" in state["reason"]


def test_access_denied_counts_when_the_stack_status_cannot_be_read(stubs: Stubs) -> None:
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "AccessDeniedException", "not authorized"
    )
    stubs.cloudformation.add_client_error("describe_stacks", "AccessDenied", "not authorized", 403)
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(consecutive_errors=4), 600)
    assert state["result"] == "FAILURE" and "5 errors in a row" in state["reason"]


def test_other_retryable_errors_never_ask_for_the_stack(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("describe_batch_inference_job", "ThrottlingException", "slow down")
    state = run(stubs, started(), 120)
    assert (state["done"], state["consecutiveErrors"]) == (False, 1)
    assert stubs.params_of("DescribeStacks") == []


def test_non_transient_describe_error_ends_with_failure_at_once(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("describe_batch_inference_job", "InvalidInputException", "not allowed")
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = run(stubs, started(), 120)
    assert state["result"] == "FAILURE"
    assert "InvalidInputException: not allowed" in state["reason"]


# --- a queued job ---------------------------------------------------------------------------------------


def test_queued_job_is_created_when_a_slot_frees(stubs: Stubs) -> None:
    expect_running(stubs)
    stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": ARN}, REQUEST)
    state = run(stubs, started(created=False, status="QUEUED"), 1800)
    assert (state["created"], state["status"], state["done"]) == (True, "PENDING", False)
    assert "createRequest" not in state


def test_queued_job_waits_again_on_limit_exceeded(stubs: Stubs) -> None:
    expect_running(stubs)
    stubs.personalize.add_client_error("create_batch_inference_job", "LimitExceededException", "quota")
    state = run(stubs, started(created=False, status="QUEUED"), 1800)
    assert (state["created"], state["status"], state["done"], state["waitSeconds"]) == (
        False,
        "QUEUED",
        False,
        120,
    )
    assert state["createRequest"] == REQUEST


def test_a_stopped_monitor_does_not_create_its_queued_job(stubs: Stubs) -> None:
    # Its resource was deleted (or a newer request monitors the job) while this check was under way.
    expect_running(stubs, "ABORTED")
    state = run(stubs, started(created=False, status="QUEUED"), 1800)
    assert state["done"] is True and "result" not in state
    assert stubs.params_of("CreateBatchInferenceJob") == []
    assert stubs.params_of("PutEvents") == []


def test_queued_job_past_its_timeout_fails_without_being_created(stubs: Stubs) -> None:
    expect_no_results_manifest(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = run(stubs, started(created=False, status="QUEUED"), 21600)
    assert state["result"] == "FAILURE" and "free slot" in state["reason"]
    assert stubs.params_of("CreateBatchInferenceJob") == []


def test_queued_job_whose_create_fails_otherwise_ends_with_the_service_message(stubs: Stubs) -> None:
    expect_running(stubs)
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceNotFoundException", "no solution"
    )
    expect_no_results_manifest(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = run(stubs, started(created=False, status="QUEUED"), 600)
    assert state["result"] == "FAILURE" and "ResourceNotFoundException: no solution" in state["reason"]


def test_queued_job_created_meanwhile_by_another_monitor_is_adopted_with_the_newest_tags(
    stubs: Stubs,
) -> None:
    expect_running(stubs)
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    expect_status(stubs, "IN PROGRESS")
    stubs.personalize.add_response(
        "tag_resource", {}, {"resourceArn": ARN, "tags": [{"tagKey": "team", "tagValue": "recs"}]}
    )
    state = run(stubs, started(created=False, status="QUEUED"), 600)
    assert (state["created"], state["status"], state["done"]) == (True, "IN PROGRESS", False)


# A settled stack, and a wait=False job created with its stack: no grant can be taken away during a
# create, so the five minutes a policy has to come into effect are not started again on each denial.
@pytest.mark.parametrize("stack_status", ["UPDATE_COMPLETE", "CREATE_IN_PROGRESS"])
def test_access_denied_on_create_is_tried_again_for_five_minutes_then_fails(
    stubs: Stubs, stack_status: str
) -> None:
    state = started(created=False, status="QUEUED")
    for seconds in (60, 360):
        expect_running(stubs)
        stubs.personalize.add_client_error(
            "create_batch_inference_job", "AccessDeniedException", "not authorized to perform iam:PassRole"
        )
        stubs.expect_stack_status(stack_status)
        if seconds == 360:
            expect_no_results_manifest(stubs)
            stubs.events.add_response("put_events", PUT_EVENTS_OK)
        state = run(stubs, state, seconds)
    assert state["result"] == "FAILURE"
    assert "not authorized to perform iam:PassRole" in state["reason"]


def test_a_role_not_in_effect_on_create_counts_even_while_the_stack_changes(stubs: Stubs) -> None:
    # InvalidInputException about the user's own role: no stack operation takes it away, so the stack's
    # status is not asked for and the five minutes run on.
    state = started(created=False, status="QUEUED")
    message = "Amazon Personalize cannot assume the role; the role may not have propagated yet"
    for seconds in (60, 360):
        expect_running(stubs)
        stubs.personalize.add_client_error("create_batch_inference_job", "InvalidInputException", message)
        if seconds == 360:
            expect_no_results_manifest(stubs)
            stubs.events.add_response("put_events", PUT_EVENTS_OK)
        state = run(stubs, state, seconds)
    assert state["result"] == "FAILURE" and "InvalidInputException" in state["reason"]
    assert stubs.params_of("DescribeStacks") == []


def test_access_denied_on_create_while_the_stack_changes_waits_past_five_minutes(stubs: Stubs) -> None:
    # A queued wait=False job removed by an update that then rolls back (found by make fuzz, seed 4960):
    # its create is denied while the stack is UPDATE_IN_PROGRESS; the rollback gives the grant back.
    state = started(created=False, status="QUEUED")
    for seconds, stack_status in ((60, "UPDATE_IN_PROGRESS"), (420, "UPDATE_ROLLBACK_IN_PROGRESS")):
        expect_running(stubs)
        stubs.personalize.add_client_error(
            "create_batch_inference_job", "AccessDeniedException", "not authorized to perform iam:PassRole"
        )
        stubs.expect_stack_status(stack_status)
        state = run(stubs, state, seconds)
        assert (state["done"], state.get("result"), "propagationSince" in state) == (False, None, False)
    # Settled again and still denied: the five minutes start now.
    expect_running(stubs)
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "AccessDeniedException", "not authorized to perform iam:PassRole"
    )
    stubs.expect_stack_status("UPDATE_ROLLBACK_COMPLETE")
    state = run(stubs, state, 480)
    assert (state["done"], state["propagationSince"]) == (False, 480)


def test_check_entry_point_uses_the_default_clients(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor, "default_clients", lambda: stubs.clients)
    expect_status(stubs, "PENDING")
    assert monitor.check({"state": monitor_state(PROPERTIES), "now": T0}, None)["waitSeconds"] == 60


def test_caught_monitor_error_is_reported_as_failure_without_calling_personalize_for_the_status(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_no_results_manifest(stubs)
    expect_report(stubs)
    state = started(wait_handle=handle_server.url)
    state["caught"] = {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}
    result = run(stubs, state, HOUR, abort=state["caught"])
    assert (result["done"], result["result"]) == (True, "FAILURE")
    assert "caught" not in result
    reason = signal_of(handle_server)["Reason"]
    assert "Lambda.TooManyRequestsException" in reason and "Rate exceeded" in reason
    assert sent_event(stubs)["result"] == "FAILURE"
    assert "DescribeBatchInferenceJob" not in stubs.operations()
