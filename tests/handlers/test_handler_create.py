"""Create: start, adopt, refuse, queue, fail (handler.handle_event with stubbed clients)."""

from __future__ import annotations

import json

import handler
import job_logic
import pytest
from botocore.stub import ANY

from .testkit import (
    SOLUTION_VERSION_ARN,
    STATE_MACHINE_ARN,
    Stubs,
    arn_of,
    base_properties,
    cfn_event,
    describe_response,
    name_of,
    request_of,
    start_execution_response,
)

HANDLE = "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/handle?sig=1"


def expect_monitor_start(stubs: Stubs) -> None:
    stubs.stepfunctions.add_response(
        "start_execution",
        start_execution_response(),
        {"stateMachineArn": STATE_MACHINE_ARN, "name": ANY, "input": ANY},
    )


def monitor_input(stubs: Stubs) -> dict[str, object]:
    (params,) = stubs.params_of("StartExecution")
    state: dict[str, object] = json.loads(params["input"])
    return state


def test_create_starts_the_job_and_returns_arn_name_output_uri_and_pending(stubs: Stubs) -> None:
    properties = base_properties()
    name = name_of(properties)
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)}, request_of(properties)
    )
    expect_monitor_start(stubs)
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert result == {
        "PhysicalResourceId": arn_of(name),
        "Data": {
            "JobArn": arn_of(name),
            "JobName": name,
            "OutputS3Uri": f"s3://out-bucket/batch-inference/RecsStack/Job/{name}/",
            "Status": "PENDING",
        },
    }


def test_create_starts_a_monitor_with_the_contract_state(stubs: Stubs) -> None:
    properties = base_properties(WaitHandle=HANDLE)
    name = name_of(properties)
    stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)})
    expect_monitor_start(stubs)
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert monitor_input(stubs) == {
        "jobArn": arn_of(name),
        "jobName": name,
        "outputS3Uri": f"s3://out-bucket/batch-inference/RecsStack/Job/{name}/",
        "created": True,
        "waitHandle": HANDLE,
        "timeoutSeconds": 21600,
        "startedAt": None,
        "stackId": cfn_event("Create", properties)["StackId"],
        "logicalId": "Job",
        "checks": 0,
        "status": "PENDING",
        "waitSeconds": 0,
        "done": False,
    }
    (params,) = stubs.params_of("StartExecution")
    assert params["name"] == job_logic.execution_name(name, HANDLE, arn_of(name))


def test_create_without_wait_handle_still_starts_a_monitor_for_the_event(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(properties))}
    )
    expect_monitor_start(stubs)
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert monitor_input(stubs)["waitHandle"] is None


def test_create_adopts_an_existing_job_that_matches(stubs: Stubs) -> None:
    properties = base_properties()
    request = request_of(properties)
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request, "IN PROGRESS"),
        {"batchInferenceJobArn": arn_of(request["jobName"])},
    )
    expect_monitor_start(stubs)
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(request["jobName"])
    assert result["Data"]["Status"] == "IN PROGRESS"
    assert monitor_input(stubs)["created"] is True


def test_create_refuses_an_existing_job_that_differs_and_says_what_differs(stubs: Stubs) -> None:
    properties = base_properties(JobName="shared-name")
    request = request_of(properties)
    other = "arn:aws:personalize:us-east-1:123456789012:solution/other/9"
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request, "ACTIVE", solutionVersionArn=other)
    )
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    message = str(raised.value)
    assert "'shared-name' already exists and is not this resource's job" in message
    assert f"solutionVersionArn: wanted {SOLUTION_VERSION_ARN!r}, found {other!r}" in message
    assert stubs.params_of("StartExecution") == []


def test_create_queues_the_job_on_limit_exceeded(stubs: Stubs) -> None:
    properties = base_properties()
    name = name_of(properties)
    stubs.personalize.add_client_error(
        "create_batch_inference_job",
        "LimitExceededException",
        "5 batch inference jobs are pending or in progress",
    )
    expect_monitor_start(stubs)
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name)
    assert result["Data"]["Status"] == "QUEUED"


def test_queued_job_hands_its_full_create_request_to_the_monitor(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_client_error("create_batch_inference_job", "LimitExceededException", "quota")
    expect_monitor_start(stubs)
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    state = monitor_input(stubs)
    assert (state["created"], state["status"]) == (False, "QUEUED")
    assert state["createRequest"] == request_of(properties)


def test_create_fails_at_once_on_another_error_with_the_service_message(stubs: Stubs) -> None:
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "InvalidInputException", "Role cannot be assumed by personalize"
    )
    with pytest.raises(
        handler.JobResourceError, match="InvalidInputException: Role cannot be assumed by personalize"
    ):
        handler.handle_event(cfn_event("Create", base_properties()), stubs.clients, "req-1")
    assert stubs.params_of("StartExecution") == []


def test_huge_service_message_is_truncated_for_cloudformation(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("create_batch_inference_job", "InvalidInputException", "x" * 20_000)
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(cfn_event("Create", base_properties()), stubs.clients, "req-1")
    assert len(str(raised.value).encode()) < job_logic.ERROR_MESSAGE_LIMIT_BYTES


def test_monitor_already_running_is_fine(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(properties))}
    )
    stubs.stepfunctions.add_client_error("start_execution", "ExecutionAlreadyExists", "exists")
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert result["Data"]["Status"] == "PENDING"


def test_monitor_that_cannot_start_fails_the_create_with_the_reason(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(properties))}
    )
    stubs.stepfunctions.add_client_error("start_execution", "AccessDeniedException", "not authorized")
    with pytest.raises(
        handler.JobResourceError, match="monitor could not start: AccessDeniedException: not authorized"
    ):
        handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")


def test_invalid_property_fails_naming_the_property(stubs: Stubs) -> None:
    with pytest.raises(handler.JobResourceError, match="NumResults: 'lots' is not an integer"):
        handler.handle_event(cfn_event("Create", base_properties(NumResults="lots")), stubs.clients, "req-1")


def test_on_event_uses_the_default_clients(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "default_clients", lambda: stubs.clients)
    properties = base_properties()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(properties))}
    )
    expect_monitor_start(stubs)
    assert handler.on_event(cfn_event("Create", properties), None)["Data"]["Status"] == "PENDING"


def test_create_refuses_to_adopt_its_own_job_that_already_failed_and_names_run_token(stubs: Stubs) -> None:
    # A rolled-back deploy left a CREATE FAILED job; the same definition redeployed finds it by name.
    properties = base_properties()
    request = request_of(properties)
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request, "CREATE FAILED", "Input file not found")
    )
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    message = str(raised.value)
    assert "already ran and failed: Input file not found" in message
    assert "set run_token to a new value" in message
    assert "StartExecution" not in [call[0] for call in stubs.calls]
