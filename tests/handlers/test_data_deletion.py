"""The data deletion job kind (CreateDataDeletionJob) through the shared handler and monitor, its calls
checked by botocore's Stubber against the service model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import ANY

from .testkit import (
    DATASET_GROUP_ARN,
    NEW_HANDLE,
    OLD_HANDLE,
    PUT_EVENTS_OK,
    ROLE_ARN,
    T0,
    HandleServer,
    Stubs,
    arn_of,
    at,
    cfn_event,
    describe_response,
    kind_properties,
    monitor_state,
    name_of,
    request_of,
)

import contract  # isort: skip  (on sys.path once testkit is imported)
import handler  # isort: skip
import monitor  # isort: skip
import schedule  # isort: skip

KIND = contract.DATA_DELETION
PROPERTIES = kind_properties(KIND)
REQUEST = request_of(PROPERTIES, kind=KIND)
NAME = name_of(PROPERTIES, kind=KIND)
ARN = arn_of(NAME, KIND)


def expect_status(stubs: Stubs, status: str, failure_reason: str | None = None, **changes: Any) -> None:
    stubs.personalize.add_response(
        "describe_data_deletion_job",
        describe_response(REQUEST, status, failure_reason, kind=KIND, **changes),
        {"dataDeletionJobArn": ARN},
    )


def check(stubs: Stubs, seconds: float, wait_handle: str | None = None) -> dict[str, Any]:
    state = monitor_state(PROPERTIES, kind=KIND, started_at=T0, checks=1, wait_handle=wait_handle)
    return dict(monitor.run_check({"state": state, "now": at(seconds)}, stubs.clients, "req-1"))


def expect_report(stubs: Stubs) -> None:
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": ARN})


def expect_event_and_mark(stubs: Stubs) -> None:
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response(
        "tag_resource",
        {},
        {"resourceArn": ARN, "tags": [{"tagKey": contract.END_REPORTED_TAG, "tagValue": ANY}]},
    )


def sent_event(stubs: Stubs) -> tuple[str, dict[str, Any]]:
    (params,) = stubs.params_of("PutEvents")
    (entry,) = params["Entries"]
    detail: dict[str, Any] = json.loads(entry["Detail"])
    return str(entry["DetailType"]), detail


def test_create_sends_the_dataset_group_the_users_file_and_the_role(stubs: Stubs) -> None:
    stubs.personalize.add_response("create_data_deletion_job", {"dataDeletionJobArn": ARN}, REQUEST)
    stubs.expect_first_delivery_of(ARN)
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", PROPERTIES, kind=KIND), stubs.clients, "req-1")
    assert f"arn:aws:personalize:us-east-1:123456789012:data-deletion-job/{NAME}" == ARN
    assert result == {
        "PhysicalResourceId": ARN,
        "Data": {"JobArn": ARN, "JobName": NAME, "Status": "PENDING"},
    }
    (params,) = stubs.params_of("CreateDataDeletionJob")
    assert (params["datasetGroupArn"], params["dataSource"], params["roleArn"]) == (
        DATASET_GROUP_ARN,
        {"dataLocation": "s3://in-bucket/erase/users.csv"},
        ROLE_ARN,
    )
    assert stubs.monitor_input()["resourceType"] == "Custom::PersonalizeDataDeletionJob"


def test_a_create_sent_again_adopts_its_own_running_deletion(stubs: Stubs) -> None:
    stubs.personalize.add_client_error("create_data_deletion_job", "ResourceAlreadyExistsException", "exists")
    expect_status(stubs, "IN_PROGRESS")
    stubs.expect_first_delivery_of(ARN)
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", PROPERTIES, kind=KIND), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (ARN, "IN PROGRESS")
    assert stubs.monitor_input()["created"] is True


def test_a_deletion_of_the_same_name_reading_another_file_is_refused(stubs: Stubs) -> None:
    properties = kind_properties(KIND, JobName="erase-requests")
    request = request_of(properties, kind=KIND)
    stubs.personalize.add_client_error("create_data_deletion_job", "ResourceAlreadyExistsException", "exists")
    stubs.personalize.add_response(
        "describe_data_deletion_job",
        describe_response(
            request, "COMPLETED", kind=KIND, dataSource={"dataLocation": "s3://in-bucket/erase/old.csv"}
        ),
    )
    stubs.expect_first_delivery_of(arn_of("erase-requests", KIND))
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(cfn_event("Create", properties, kind=KIND), stubs.clients, "req-1")
    assert "data deletion job named 'erase-requests' already exists with another definition" in str(
        raised.value
    )
    assert stubs.params_of("StartExecution") == []


@pytest.mark.parametrize(
    ("service", "normalized"),
    [
        ("PENDING", "PENDING"),
        ("IN_PROGRESS", "IN PROGRESS"),
        ("COMPLETED", "ACTIVE"),
        ("FAILED", "CREATE FAILED"),
    ],
)
def test_the_deletion_statuses_map_onto_the_shared_ones(service: str, normalized: str) -> None:
    assert schedule.normalize_status(service) == normalized


@pytest.mark.parametrize("status", ["PENDING", "IN_PROGRESS"])
def test_a_running_deletion_is_checked_again(stubs: Stubs, status: str) -> None:
    expect_status(stubs, status)
    state = check(stubs, 600)
    assert (state["done"], state["waitSeconds"]) == (False, 60)


def test_a_completed_deletion_succeeds_and_its_event_says_how_many_records_went(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "COMPLETED", numDeleted=42)
    expect_report(stubs)
    expect_status(stubs, "COMPLETED", numDeleted=42)  # the end figures, read once the job has ended
    expect_event_and_mark(stubs)
    state = check(stubs, 1800, wait_handle=handle_server.url)
    assert (state["done"], state["result"], state["status"]) == (True, "SUCCESS", "ACTIVE")
    detail_type, detail = sent_event(stubs)
    assert detail_type == "Personalize Data Deletion Job State Change"
    assert (detail["kind"], detail["metrics"], detail["outputS3Uri"]) == (
        "data-deletion",
        {"numDeleted": 42},
        None,
    )
    (request,) = handle_server.requests
    assert json.loads(request["body"])["Status"] == "SUCCESS"
    assert stubs.params_of("PutObject") == []  # no results, no manifest


def test_a_failed_deletion_fails_with_the_services_reason(stubs: Stubs, handle_server: HandleServer) -> None:
    expect_status(stubs, "FAILED", "The USER_ID column is missing from s3://in-bucket/erase/users.csv")
    expect_report(stubs)
    expect_event_and_mark(stubs)
    state = check(stubs, 1800, wait_handle=handle_server.url)
    assert (state["result"], state["status"]) == ("FAILURE", "CREATE FAILED")
    (request,) = handle_server.requests
    assert "The USER_ID column is missing" in json.loads(request["body"])["Reason"]
    _, detail = sent_event(stubs)
    assert "metrics" not in detail and "USER_ID" in detail["failureReason"]


def test_a_deletion_is_never_stopped_nor_waited_for_on_delete(stubs: Stubs) -> None:
    stubs.expect_list_monitors()
    event = cfn_event("Delete", PROPERTIES, physical_id=ARN, kind=KIND)
    handler.handle_event(event, stubs.clients, "req-1")
    assert [name for name in stubs.operations() if name.startswith(("Describe", "Stop"))] == []


def test_a_rollback_to_an_earlier_deletion_says_the_erased_users_stay_erased(
    stubs: Stubs, capsys: Any
) -> None:
    # deletion 1 -> deletion 2 (a new run_token) succeeded; the rollback moves the resource back to 1.
    first = kind_properties(KIND, RunToken="1", WaitHandle=OLD_HANDLE)
    second = kind_properties(KIND, RunToken="2", WaitHandle=NEW_HANDLE)
    first_arn = arn_of(name_of(first, kind=KIND), KIND)
    second_arn = arn_of(name_of(second, kind=KIND), KIND)
    stubs.expect_first_delivery()
    stubs.personalize.add_client_error("create_data_deletion_job", "ResourceAlreadyExistsException", "exists")
    stubs.personalize.add_response(
        "describe_data_deletion_job",
        describe_response(request_of(first, kind=KIND), "COMPLETED", kind=KIND, numDeleted=3),
        {"dataDeletionJobArn": first_arn},
    )
    stubs.expect_start()
    stubs.expect_list_monitors()
    event = cfn_event("Update", first, old_properties=second, physical_id=second_arn, kind=KIND)
    assert handler.handle_event(event, stubs.clients, "req-1")["PhysicalResourceId"] == first_arn
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (rollback,) = [line for line in lines if line["decision"] == "rollback"]
    assert "Deleted users cannot be restored" in rollback["note"]
    # One create, answered "already exists": the earlier deletion is adopted, nothing is deleted again.
    assert len(stubs.params_of("CreateDataDeletionJob")) == 1
