"""Create: start, adopt, refuse, queue, fail (handler.handle_event with stubbed clients)."""

from __future__ import annotations

import pytest

from .testkit import (
    HANDLE,
    NEW_HANDLE,
    OLD_HANDLE,
    REQUEST_ID,
    SOLUTION_VERSION_ARN,
    STACK_ID,
    Stubs,
    arn_of,
    base_properties,
    cfn_event,
    describe_response,
    execution_of,
    name_of,
    request_of,
)

import handler  # isort: skip  (on sys.path once testkit is imported)
import sizes  # isort: skip


def test_create_starts_the_job_and_returns_arn_name_output_uris_and_pending(stubs: Stubs) -> None:
    properties = base_properties()
    name = name_of(properties)
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)}, request_of(properties)
    )
    stubs.expect_first_delivery_of(arn_of(name))
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    prefix = "s3://out-bucket/batch-inference/RecsStack/Job/"
    assert result == {
        "PhysicalResourceId": arn_of(name),
        "Data": {
            "JobArn": arn_of(name),
            "JobName": name,
            "Status": "PENDING",
            "OutputS3Uri": f"{prefix}{name}/",
            "ResultsPrefixUri": prefix,
            "ManifestUri": f"{prefix}latest.json",
        },
    }


def test_create_starts_a_monitor_with_the_contract_state(stubs: Stubs) -> None:
    properties = base_properties(WaitHandle=HANDLE)
    name = name_of(properties)
    stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)})
    stubs.expect_first_delivery_of(arn_of(name))
    stubs.expect_start()
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert stubs.monitor_input() == {
        "resourceType": "Custom::PersonalizeBatchInferenceJob",
        "jobArn": arn_of(name),
        "jobName": name,
        "outputS3Uri": f"s3://out-bucket/batch-inference/RecsStack/Job/{name}/",
        "manifest": {"bucket": "out-bucket", "key": "batch-inference/RecsStack/Job/latest.json"},
        "created": True,
        "waitHandle": HANDLE,
        "timeoutSeconds": 21600,
        "startedAt": None,
        "stackId": STACK_ID,
        "logicalId": "Job",
        "checks": 0,
        "status": "PENDING",
        "waitSeconds": 0,
        "done": False,
        "sourceVersionArn": properties["SolutionVersionArn"],  # what latest.json records
    }


def test_monitor_execution_is_named_for_the_job_and_the_request(stubs: Stubs) -> None:
    properties = base_properties()
    name = name_of(properties)
    stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)})
    stubs.expect_first_delivery_of(arn_of(name))
    stubs.expect_start()
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    (params,) = stubs.params_of("StartExecution")
    assert params["name"] == execution_of(arn_of(name), REQUEST_ID)


def test_create_without_wait_handle_still_starts_a_monitor_for_the_event(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(properties))}
    )
    stubs.expect_first_delivery_of(arn_of(name_of(properties)))
    stubs.expect_start()
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert stubs.monitor_input()["waitHandle"] is None


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
    stubs.expect_first_delivery_of(arn_of(request["jobName"]))
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(request["jobName"])
    assert result["Data"]["Status"] == "IN PROGRESS"
    assert stubs.monitor_input()["created"] is True


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
    stubs.expect_first_delivery_of(arn_of("shared-name"))
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    message = str(raised.value)
    assert "'shared-name' already exists with another definition" in message
    assert f"wanted {SOLUTION_VERSION_ARN!r}, found {other!r}" in message
    assert stubs.params_of("StartExecution") == []


def test_create_queues_the_job_on_limit_exceeded(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "LimitExceededException", "5 batch inference jobs are pending"
    )
    stubs.expect_first_delivery_of(arn_of(name_of(properties)))
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name_of(properties))
    assert result["Data"]["Status"] == "QUEUED"


def test_queued_job_hands_its_full_create_request_to_the_monitor(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_client_error("create_batch_inference_job", "LimitExceededException", "quota")
    stubs.expect_first_delivery_of(arn_of(name_of(properties)))
    stubs.expect_start()
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    state = stubs.monitor_input()
    assert (state["created"], state["status"]) == (False, "QUEUED")
    assert state["createRequest"] == request_of(properties)


def test_create_that_meets_access_denied_queues_the_job_for_the_monitor_to_retry(stubs: Stubs) -> None:
    # A role or policy created seconds ago may not be in effect yet (IAM is eventually consistent).
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "InvalidInputException", "Amazon Personalize cannot assume the role"
    )
    stubs.expect_first_delivery_of(arn_of(name_of(base_properties())))
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", base_properties()), stubs.clients, "req-1")
    assert result["Data"]["Status"] == "QUEUED"


def test_create_fails_at_once_on_another_error_with_the_service_message(stubs: Stubs) -> None:
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "InvalidInputException", "Solution version is not ACTIVE"
    )
    stubs.expect_first_delivery_of(arn_of(name_of(base_properties())))
    with pytest.raises(
        handler.JobResourceError, match="InvalidInputException: Solution version is not ACTIVE"
    ):
        handler.handle_event(cfn_event("Create", base_properties()), stubs.clients, "req-1")
    assert stubs.params_of("StartExecution") == []


def test_huge_service_message_is_truncated_for_cloudformation(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("create_batch_inference_job", "InvalidInputException", "x" * 20_000)
    stubs.expect_first_delivery_of(arn_of(name_of(base_properties())))
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(cfn_event("Create", base_properties()), stubs.clients, "req-1")
    assert len(str(raised.value).encode()) < sizes.ERROR_MESSAGE_LIMIT_BYTES


def test_a_create_delivered_twice_finds_the_monitor_its_first_delivery_started(stubs: Stubs) -> None:
    properties = base_properties()
    name = name_of(properties)
    ours = execution_of(arn_of(name))
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(properties), "PENDING")
    )
    stubs.expect_own_monitor(arn_of(name), "RUNNING")  # the first delivery's monitor runs: go on
    stubs.expect_list_monitors(ours)  # our own execution runs: it is not stopped
    stubs.stepfunctions.add_client_error("start_execution", "ExecutionAlreadyExists", "exists")
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name)
    assert stubs.params_of("StopExecution") == []


def test_a_create_delivered_again_after_its_monitor_ended_creates_nothing(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # CloudFormation had the first answer and moved on (its monitor is done, or a Delete stopped it):
    # a job the stack may have left behind is never created again.
    properties = base_properties()
    arn = arn_of(name_of(properties))
    stubs.expect_own_monitor(arn, "SUCCEEDED", {"jobArn": arn, "status": "ACTIVE"})
    result = handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn, "ACTIVE")
    assert stubs.operations() == ["DescribeExecution"]
    assert '"decision": "duplicate-ignored"' in capsys.readouterr().out


def test_a_retag_delivered_again_after_its_monitor_ended_changes_no_tag(stubs: Stubs) -> None:
    old = base_properties(WaitHandle=OLD_HANDLE, Tags=[{"Key": "team", "Value": "recs"}])
    new = base_properties(WaitHandle=NEW_HANDLE, Tags=[{"Key": "team", "Value": "growth"}])
    arn = arn_of(name_of(old))
    stubs.expect_own_monitor(arn, "ABORTED", {"jobArn": arn, "status": "IN PROGRESS"})
    event = cfn_event("Update", new, old_properties=old, physical_id=arn)
    assert handler.handle_event(event, stubs.clients, "req-1")["Data"]["Status"] == "IN PROGRESS"
    assert stubs.operations() == ["DescribeExecution"]


def test_monitor_that_cannot_start_fails_the_create_with_the_reason(stubs: Stubs) -> None:
    properties = base_properties()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(properties))}
    )
    stubs.expect_first_delivery_of(arn_of(name_of(properties)))
    stubs.expect_list_monitors()
    stubs.stepfunctions.add_client_error("start_execution", "AccessDeniedException", "not authorized")
    with pytest.raises(
        handler.JobResourceError, match="monitor could not start: AccessDeniedException: not authorized"
    ):
        handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")


def test_invalid_property_fails_naming_the_property(stubs: Stubs) -> None:
    with pytest.raises(handler.JobResourceError, match="NumResults: 'lots' is not an integer"):
        handler.handle_event(cfn_event("Create", base_properties(NumResults="lots")), stubs.clients, "req-1")


def test_unknown_resource_type_fails_naming_the_known_ones(stubs: Stubs) -> None:
    event = {**cfn_event("Create", base_properties()), "ResourceType": "Custom::Something"}
    with pytest.raises(
        handler.JobResourceError, match="'Custom::Something' is not one of Custom::Personalize"
    ):
        handler.handle_event(event, stubs.clients, "req-1")


def test_on_event_uses_the_default_clients(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "default_clients", lambda: stubs.clients)
    properties = base_properties()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(properties))}
    )
    stubs.expect_first_delivery_of(arn_of(name_of(properties)))
    stubs.expect_start()
    assert handler.on_event(cfn_event("Create", properties), None)["Data"]["Status"] == "PENDING"


def test_create_refuses_to_adopt_its_own_job_that_already_failed_and_names_run_token(stubs: Stubs) -> None:
    # A rolled-back deploy left a CREATE FAILED job; the same definition deployed again finds it by name.
    properties = base_properties()
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request_of(properties), "CREATE FAILED", "Input file not found"),
    )
    stubs.expect_first_delivery_of(arn_of(name_of(properties)))
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    message = str(raised.value)
    assert "already ran and failed: Input file not found" in message
    assert "set run_token to a new value" in message
    assert "StartExecution" not in stubs.operations()
