"""The dataset export job kind (CreateDatasetExportJob) through the shared handler and monitor, its calls
checked by botocore's Stubber against the service model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import ANY

from .testkit import (
    DATASET_ARN,
    KEY_ARN,
    PUT_EVENTS_OK,
    STATE_MACHINE_ARN,
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
import names  # isort: skip

KIND = contract.DATASET_EXPORT
PROPERTIES = kind_properties(KIND, OutputKmsKeyArn=KEY_ARN)
REQUEST = request_of(PROPERTIES, kind=KIND)
NAME = name_of(PROPERTIES, kind=KIND)
ARN = arn_of(NAME, KIND)
OUTPUT = f"dataset-export/RecsStack/Job/{NAME}/"
EXECUTION = names.execution_arn(STATE_MACHINE_ARN, "this-monitor")


def expect_status(stubs: Stubs, status: str, failure_reason: str | None = None) -> None:
    stubs.personalize.add_response(
        "describe_dataset_export_job",
        describe_response(REQUEST, status, failure_reason, kind=KIND),
        {"datasetExportJobArn": ARN},
    )


def check(stubs: Stubs, seconds: float, wait_handle: str | None = None) -> dict[str, Any]:
    state = monitor_state(PROPERTIES, kind=KIND, started_at=T0, checks=1, wait_handle=wait_handle)
    event = {"state": state, "now": at(seconds), "execution": EXECUTION}
    return dict(monitor.run_check(event, stubs.clients, "req-1"))


def expect_this_monitor_runs(stubs: Stubs) -> None:
    stubs.stepfunctions.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE_ARN,
            "status": "RUNNING",
            "startDate": "2024-05-01T10:00:00Z",
        },
        {"executionArn": EXECUTION},
    )


def expect_report(stubs: Stubs) -> None:
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": ARN})
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response(
        "tag_resource",
        {},
        {"resourceArn": ARN, "tags": [{"tagKey": contract.END_REPORTED_TAG, "tagValue": ANY}]},
    )


def test_create_sends_the_dataset_the_mode_and_a_path_of_its_own_run(stubs: Stubs) -> None:
    stubs.personalize.add_response("create_dataset_export_job", {"datasetExportJobArn": ARN}, REQUEST)
    stubs.expect_first_delivery_of(ARN)
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", PROPERTIES, kind=KIND), stubs.clients, "req-1")
    assert f"arn:aws:personalize:us-east-1:123456789012:dataset-export-job/{NAME}" == ARN
    (params,) = stubs.params_of("CreateDatasetExportJob")
    assert (params["datasetArn"], params["ingestionMode"]) == (DATASET_ARN, "ALL")
    assert params["jobOutput"] == {
        "s3DataDestination": {"path": f"s3://out-bucket/{OUTPUT}", "kmsKeyArn": KEY_ARN}
    }
    assert result["Data"] == {
        "JobArn": ARN,
        "JobName": NAME,
        "Status": "PENDING",
        "OutputS3Uri": f"s3://out-bucket/{OUTPUT}",
        "ResultsPrefixUri": "s3://out-bucket/dataset-export/RecsStack/Job/",
        "ManifestUri": "s3://out-bucket/dataset-export/RecsStack/Job/latest.json",
    }


def test_an_export_without_a_mode_asks_for_the_apis_default_and_matches_its_description() -> None:
    import definitions

    left_out = request_of(kind_properties(KIND, IngestionMode=None), kind=KIND)
    assert left_out["ingestionMode"] == "PUT"
    described = describe_response(left_out, "ACTIVE", kind=KIND)["datasetExportJob"]
    assert definitions.definition_differences(KIND, left_out, described) == []


def test_a_create_sent_again_adopts_its_own_export(stubs: Stubs) -> None:
    stubs.personalize.add_client_error(
        "create_dataset_export_job", "ResourceAlreadyExistsException", "exists"
    )
    expect_status(stubs, "CREATE IN_PROGRESS")
    stubs.expect_first_delivery_of(ARN)
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", PROPERTIES, kind=KIND), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (ARN, "IN PROGRESS")


def test_another_mode_is_a_new_export_under_a_new_name(stubs: Stubs) -> None:
    bulk = kind_properties(KIND, OutputKmsKeyArn=KEY_ARN, IngestionMode="BULK")
    assert name_of(bulk, kind=KIND) != NAME


@pytest.mark.parametrize("status", ["CREATE PENDING", "CREATE IN_PROGRESS"])
def test_a_running_export_is_checked_again(stubs: Stubs, status: str) -> None:
    expect_status(stubs, status)
    assert check(stubs, 600)["done"] is False


def test_an_active_export_succeeds_and_its_manifest_lists_the_files_it_wrote(
    stubs: Stubs, handle_server: HandleServer
) -> None:
    expect_status(stubs, "ACTIVE")
    expect_this_monitor_runs(stubs)
    csv = b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1700000000\n"
    stubs.s3.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": f"{OUTPUT}part-00000.csv", "Size": len(csv)}], "KeyCount": 1},
        {"Bucket": "out-bucket", "Prefix": OUTPUT},
    )
    stubs.s3.add_response(
        "put_object",
        {},
        {
            "Bucket": "out-bucket",
            "Key": "dataset-export/RecsStack/Job/latest.json",
            "Body": ANY,
            "ContentType": "application/json",
        },
    )
    expect_report(stubs)
    state = check(stubs, 1800, wait_handle=handle_server.url)
    assert (state["result"], state["status"]) == ("SUCCESS", "ACTIVE")
    (put,) = stubs.params_of("PutObject")
    body = put["Body"]
    document = json.loads(body.getvalue() if hasattr(body, "getvalue") else body)
    assert [item["uri"] for item in document["objects"]] == [f"s3://out-bucket/{OUTPUT}part-00000.csv"]
    assert document["records"] is None  # only batch results (.out) are counted
    (params,) = stubs.params_of("PutEvents")
    (entry,) = params["Entries"]
    assert entry["DetailType"] == "Personalize Dataset Export Job State Change"
    assert json.loads(entry["Detail"])["outputS3Uri"] == f"s3://out-bucket/{OUTPUT}"


def test_a_failed_export_fails_with_the_services_reason(stubs: Stubs, handle_server: HandleServer) -> None:
    expect_status(stubs, "CREATE FAILED", "Access denied writing to s3://out-bucket/")
    expect_this_monitor_runs(stubs)
    stubs.s3.add_response(
        "put_object", {}, {"Bucket": "out-bucket", "Key": ANY, "Body": ANY, "ContentType": "application/json"}
    )
    expect_report(stubs)
    state = check(stubs, 1800, wait_handle=handle_server.url)
    assert state["result"] == "FAILURE"
    (request,) = handle_server.requests
    assert "Access denied writing" in json.loads(request["body"])["Reason"]
