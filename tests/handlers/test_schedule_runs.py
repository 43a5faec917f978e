"""scheduled.py: runs started by EventBridge Scheduler or a chain rule, with stubbed clients.

The first check of such an execution skips the run (overlap, unchanged input) or starts the run's own,
named monitor; that monitor creates the job, reports its end with the trigger, and records what it read.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from typing import Any

from botocore.response import StreamingBody
from botocore.stub import ANY

from .testkit import (
    DATASET_ARN,
    DATASET_IMPORT,
    PUT_EVENTS_OK,
    SOLUTION_ARN,
    SOLUTION_VERSION,
    STACK_ID,
    STATE_MACHINE_ARN,
    Stubs,
    arn_of,
    at,
    base_properties,
    cfn_event,
    describe_response,
    execution_of,
    kind_properties,
    name_of,
    props_of,
    request_of,
    start_execution_response,
)

import contract  # isort: skip  (on sys.path once testkit is imported)
import definitions  # isort: skip
import handler  # isort: skip
import monitor  # isort: skip
import names  # isort: skip
import scheduled  # isort: skip
from monitor_state import initial_state  # isort: skip

BI = contract.BATCH_INFERENCE
SCHEDULED_TIME = "2026-12-07T08:00:00Z"
EXECUTION = names.execution_arn(STATE_MACHINE_ARN, "scheduler-delivery-1")
NEW_VERSION = "arn:aws:personalize:us-east-1:123456789012:solution/recs/9f9f9f9f"
WEEK_AGO = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
RUN_ID = "3f2a9c1d7e6b"
YESTERDAY = datetime(2026, 12, 6, 8, 0, tzinfo=timezone.utc)


def run_request(kind: contract.JobKind = BI, **changes: Any) -> dict[str, Any]:
    """What the schedule's target puts into the monitor: the deployed definition and the time."""
    request: dict[str, Any] = {
        "trigger": "schedule",
        "scheduledTime": SCHEDULED_TIME,
        "resourceType": kind.resource_type,
        "stackId": STACK_ID,
        "logicalId": "Job",
        "skipUnchanged": True,
        "properties": kind_properties(kind, WaitHandle="https://handle.example/1", RunId=RUN_ID),
    }
    request.update(changes)
    return request


def first_check(stubs: Stubs, request: dict[str, Any]) -> dict[str, Any]:
    event = {"state": request, "now": at(0), "execution": EXECUTION}
    return dict(monitor.run_check(event, stubs.clients, "req-1"))


def own_execution(request: dict[str, Any]) -> str:
    return scheduled.run_execution_name(STACK_ID, "Job", scheduled.run_key(request))


def expect_running_runs(stubs: Stubs, *running: str) -> None:
    stubs.stepfunctions.add_response(
        "list_executions",
        {
            "executions": [
                {
                    "executionArn": names.execution_arn(STATE_MACHINE_ARN, name),
                    "stateMachineArn": STATE_MACHINE_ARN,
                    "name": name,
                    "status": "RUNNING",
                    "startDate": YESTERDAY,
                }
                for name in running
            ]
        },
        {"stateMachineArn": STATE_MACHINE_ARN, "statusFilter": "RUNNING", "maxResults": 1000},
    )


def expect_input(stubs: Stubs, bucket: str, prefix: str, objects: dict[str, tuple[str, datetime]]) -> None:
    stubs.s3.add_response(
        "list_objects_v2",
        {
            "Contents": [
                {"Key": key, "ETag": etag, "LastModified": modified, "Size": 10}
                for key, (etag, modified) in objects.items()
            ],
            "KeyCount": len(objects),
        },
        {"Bucket": bucket, "Prefix": prefix},
    )


USERS = {"users/a.json": ('"e1"', WEEK_AGO), "users/b.json": ('"e2"', WEEK_AGO)}
IMPORT_ARN_PREFIX = "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/"
MANIFEST_KEY = "batch-inference/RecsStack/Job/latest.json"


def expect_latest(stubs: Stubs, document: dict[str, Any] | None) -> None:
    if document is None:
        stubs.s3.add_client_error(
            "get_object", "NoSuchKey", "no such key", 404, {"Bucket": "out-bucket", "Key": MANIFEST_KEY}
        )
        return
    body = json.dumps(document).encode()
    stubs.s3.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "out-bucket", "Key": MANIFEST_KEY},
    )


def recorded(
    objects: dict[str, tuple[str, datetime]],
    version: str = base_properties()["SolutionVersionArn"],
    run_id: str | None = None,
) -> dict[str, Any]:
    listed = [{"key": key, "etag": etag} for key, (etag, _) in objects.items()]
    return {
        "path": "s3://in-bucket/users/",
        "objects": len(objects),
        "fingerprint": scheduled.input_fingerprint(listed),
        "sourceVersionArn": version,
        "runId": run_id or RUN_ID,
    }


def expect_start(stubs: Stubs, name: str) -> None:
    stubs.stepfunctions.add_response(
        "start_execution",
        start_execution_response(name),
        {"stateMachineArn": STATE_MACHINE_ARN, "name": name, "input": ANY},
    )


def started_state(stubs: Stubs) -> dict[str, Any]:
    (params,) = stubs.params_of("StartExecution")
    state: dict[str, Any] = json.loads(params["input"])
    return state


def expect_claim(stubs: Stubs) -> None:
    """A skip takes its run's own execution name first (``scheduled.claim_skip``)."""
    expect_start(stubs, own_execution(run_request()))


def skip_event(stubs: Stubs) -> dict[str, Any]:
    (params,) = stubs.params_of("PutEvents")
    (entry,) = params["Entries"]
    detail: dict[str, Any] = json.loads(entry["Detail"])
    return detail


# --- names ---------------------------------------------------------------------------------------------


def test_a_run_is_named_from_its_scheduled_time_and_definition() -> None:
    props = props_of(base_properties())
    first = scheduled.run_job_name(props, STACK_ID, "Job", "at:2026-12-07T08:00:00Z")
    assert first == scheduled.run_job_name(props, STACK_ID, "Job", "at:2026-12-07T08:00:00Z")
    assert first != scheduled.run_job_name(props, STACK_ID, "Job", "at:2026-12-14T08:00:00Z")
    assert first != names.derive_job_name(props, STACK_ID, "Job")  # never the deploy run's job
    assert first.startswith("RecsStack-Job-") and len(first) <= contract.MAX_JOB_NAME_LENGTH
    execution = scheduled.run_execution_name(STACK_ID, "Job", "at:2026-12-07T08:00:00Z")
    assert len(execution) <= 80 and execution.startswith(scheduled.run_execution_prefix(STACK_ID, "Job"))


# --- the first check of a scheduled execution ------------------------------------------------------------


def test_a_first_scheduled_run_starts_its_own_monitor_with_the_job_queued(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, None)
    expect_start(stubs, own_execution(request))
    state = first_check(stubs, request)
    assert state["done"] is True and "result" not in state
    run = started_state(stubs)
    name = scheduled.run_job_name(props_of(base_properties()), STACK_ID, "Job", f"at:{SCHEDULED_TIME}")
    assert (run["jobName"], run["created"], run["status"], run["waitHandle"]) == (name, False, "QUEUED", None)
    assert run["createRequest"]["jobName"] == name
    assert run["jobArn"].endswith(f":batch-inference-job/{name}")
    assert (run["trigger"], run["scheduledTime"]) == ("schedule", SCHEDULED_TIME)
    assert run["input"] == recorded(USERS)
    assert stubs.params_of("PutEvents") == [] and stubs.params_of("CreateBatchInferenceJob") == []


def test_a_repeated_delivery_finds_its_runs_monitor_and_starts_nothing(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs, own_execution(request))
    state = first_check(stubs, request)
    assert state["done"] is True
    assert stubs.params_of("StartExecution") == [] and stubs.params_of("PutEvents") == []


def test_a_delivery_repeated_after_its_run_ended_meets_the_executions_name(stubs: Stubs) -> None:
    request = run_request(skipUnchanged=False)
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    stubs.stepfunctions.add_client_error("start_execution", "ExecutionAlreadyExists", "exists")
    state = first_check(stubs, request)
    assert state["done"] is True and "result" not in state
    assert stubs.params_of("PutEvents") == []


def test_a_run_never_starts_while_another_run_of_the_job_is_in_progress(stubs: Stubs) -> None:
    request = run_request()
    other = scheduled.run_execution_name(STACK_ID, "Job", "at:2026-11-30T08:00:00Z")
    expect_running_runs(stubs, other, "unrelated-monitor-12345678-abcdefabcdef")
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = first_check(stubs, request)
    assert state["result"] == "SKIPPED" and other in state["reason"]
    detail = skip_event(stubs)
    assert (detail["result"], detail["trigger"], detail["scheduledTime"]) == (
        "SKIPPED",
        "schedule",
        SCHEDULED_TIME,
    )
    assert detail["failureReason"] is None and other in detail["reason"]
    claim = started_state(stubs)  # the run's own name, taken by the skip: no job, no monitor loop
    assert claim["skipClaim"]["result"] == "SKIPPED" and "createRequest" not in claim


def test_the_deploy_run_of_the_same_definition_in_progress_also_skips(stubs: Stubs) -> None:
    request = run_request()
    deploy_arn = names.job_arn(
        BI, STACK_ID, names.derive_job_name(props_of(base_properties()), STACK_ID, "Job")
    )
    assert deploy_arn is not None
    expect_running_runs(stubs, names.execution_name(deploy_arn, "cfn-request"))
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    assert first_check(stubs, request)["result"] == "SKIPPED"


def test_unchanged_input_and_version_skip_the_batch_run_without_any_personalize_call(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, {"result": "SUCCESS", "jobName": "RecsStack-Job-old", "input": recorded(USERS)})
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = first_check(stubs, request)
    assert state["result"] == "SKIPPED" and "RecsStack-Job-old" in state["reason"]
    assert skip_event(stubs)["result"] == "SKIPPED"
    assert [name for name, _ in stubs.calls if name.startswith("Create")] == []
    assert started_state(stubs)["skipClaim"]["reason"] == state["reason"]


def test_a_changed_object_runs(stubs: Stubs) -> None:
    request = run_request()
    changed = {**USERS, "users/b.json": ('"e3"', YESTERDAY)}
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", changed)
    expect_latest(stubs, {"result": "SUCCESS", "input": recorded(USERS)})
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    assert started_state(stubs)["input"] == recorded(changed)


def test_a_new_solution_version_runs_on_the_same_input(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, {"result": "SUCCESS", "input": recorded(USERS, version=NEW_VERSION)})
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    assert stubs.params_of("PutEvents") == []


def test_a_changed_definition_runs_on_the_same_input_and_version(stubs: Stubs) -> None:
    # An update that changes only the definition (num_results, say) gives a new RunId: not the same run.
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, {"result": "SUCCESS", "input": recorded(USERS, run_id="0000aaaa1111")})
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    assert stubs.params_of("PutEvents") == [] and started_state(stubs)["input"]["runId"] == RUN_ID


def test_an_input_recorded_without_a_run_id_is_not_the_same_run(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    old = {key: value for key, value in recorded(USERS).items() if key != "runId"}
    expect_latest(stubs, {"result": "SUCCESS", "input": old})
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    assert stubs.params_of("PutEvents") == []


def test_a_run_requests_failed_first_check_is_a_failure_event_not_a_second_attempt(stubs: Stubs) -> None:
    # The state machine's Catch hands the failed first check back with "abort": no run request again.
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    event = {
        "state": run_request(contract.DATASET_EXPORT),
        "now": at(0),
        "execution": EXECUTION,
        "abort": {"Error": "KeyError", "Cause": "'InputPath'"},
    }
    state = dict(monitor.run_check(event, stubs.clients, "req-1"))
    assert state["done"] is True and state["result"] == "FAILURE"
    detail = skip_event(stubs)
    assert (detail["result"], detail["trigger"], detail["kind"]) == ("FAILURE", "schedule", "dataset-export")
    assert "KeyError" in detail["failureReason"] and "InputPath" in detail["failureReason"]
    assert stubs.params_of("StartExecution") == [] and stubs.params_of("ListExecutions") == []


def test_a_kind_without_an_input_path_is_never_compared_and_runs(stubs: Stubs) -> None:
    request = run_request(contract.DATASET_EXPORT)
    expect_running_runs(stubs)
    expect_start(stubs, own_execution(request))
    state = first_check(stubs, request)
    assert "result" not in state and "input" not in started_state(stubs)
    assert stubs.params_of("ListObjectsV2") == [] and stubs.params_of("GetObject") == []


# --- the deploy run of a scheduled batch job records what it read --------------------------------------


def test_the_deploy_run_of_a_scheduled_job_records_its_input_for_the_first_scheduled_run(
    stubs: Stubs,
) -> None:
    # A rate schedule fires as soon as it is created (right after the deploy run): that run compares what
    # the deploy run read, so it skips when nothing changed instead of repeating the deploy's job.
    properties = base_properties(RunId=RUN_ID, RecordInput="true")
    name = name_of(properties)
    stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)})
    stubs.expect_first_delivery_of(arn_of(name))
    stubs.expect_start()
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    state = stubs.monitor_input()
    assert state["recordInput"] == {
        "path": "s3://in-bucket/users/",
        "sourceVersionArn": base_properties()["SolutionVersionArn"],
        "runId": RUN_ID,
    }
    assert name == name_of(base_properties(RunId=RUN_ID))  # RecordInput names no run
    expect_input(stubs, "in-bucket", "users/", USERS)
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request_of(properties), "IN_PROGRESS", arn=arn_of(name)),
        {"batchInferenceJobArn": arn_of(name)},
    )
    checked = dict(monitor.run_check({"state": state, "now": at(0)}, stubs.clients, "r"))
    assert checked["input"] == recorded(USERS) and "recordInput" not in checked
    # What the scheduled run then compares: the same objects, version and definition, skipped.
    request = run_request(properties=kind_properties(BI, RunId=RUN_ID, RecordInput="true"))
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, {"result": "SUCCESS", "jobName": name, "input": checked["input"]})
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    assert first_check(stubs, request)["result"] == "SKIPPED"


def test_a_deploy_run_without_record_input_lists_nothing(stubs: Stubs) -> None:
    properties = base_properties(RunId=RUN_ID)
    name = name_of(properties)
    stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)})
    stubs.expect_first_delivery_of(arn_of(name))
    stubs.expect_start()
    handler.handle_event(cfn_event("Create", properties), stubs.clients, "req-1")
    assert "recordInput" not in stubs.monitor_input()


def test_a_deploy_runs_input_listing_denied_leaves_it_unrecorded_and_the_job_watched(stubs: Stubs) -> None:
    state = {
        **initial_state(
            props_of(base_properties()),
            job_name="RecsStack-Job-x",
            job_arn=arn_of("x"),
            status="IN PROGRESS",
            stack_id=STACK_ID,
            logical_id="Job",
            create_request=None,
        )
    }
    state["recordInput"] = {"path": "s3://in-bucket/users/", "sourceVersionArn": None, "runId": RUN_ID}
    stubs.s3.add_client_error("list_objects_v2", "AccessDenied", "denied", 403)
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request_of(base_properties()), "IN_PROGRESS", arn=arn_of("x")),
        {"batchInferenceJobArn": arn_of("x")},
    )
    checked = dict(monitor.run_check({"state": state, "now": at(0)}, stubs.clients, "r"))
    assert "input" not in checked and checked["done"] is False and checked["status"] == "IN PROGRESS"


def test_after_a_failed_run_the_same_input_runs_again(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, {"result": "FAILURE", "input": recorded(USERS)})
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)


def test_skip_unchanged_false_forces_the_run_and_still_records_its_input(stubs: Stubs) -> None:
    request = run_request(skipUnchanged=False)
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    assert started_state(stubs)["input"] == recorded(USERS)


# --- imports and trainings -------------------------------------------------------------------------------


def import_list(*jobs: tuple[str, datetime]) -> dict[str, Any]:
    return {
        "datasetImportJobs": [
            {
                "datasetImportJobArn": f"{IMPORT_ARN_PREFIX}{name}",
                "jobName": name,
                "status": "ACTIVE",
                "creationDateTime": created,
                "lastUpdatedDateTime": created.replace(hour=created.hour + 1),
            }
            for name, created in jobs
        ]
    }


INTERACTIONS = {"interactions.csv": ('"e"', WEEK_AGO)}


def expect_last_import(stubs: Stubs, created: datetime, tags: dict[str, str] | None = None) -> None:
    stubs.personalize.add_response(
        "list_dataset_import_jobs",
        import_list(("RecsStack-Job-imp1", created)),
        {"datasetArn": DATASET_ARN, "maxResults": 100},
    )
    stubs.personalize.add_response(
        "list_tags_for_resource",
        {"tags": [{"tagKey": key, "tagValue": value} for key, value in (tags or {}).items()]},
        {"resourceArn": f"{IMPORT_ARN_PREFIX}RecsStack-Job-imp1"},
    )


def test_an_import_is_compared_with_its_own_imports_only(stubs: Stubs) -> None:
    # Another job's import into the same dataset (newer, its objects older) says nothing of this one's.
    request = run_request(DATASET_IMPORT)
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "interactions.csv", INTERACTIONS)
    # This resource's last import began before the objects were last modified: it runs (the foreign
    # import, newer than the objects, would have skipped it).
    before_the_objects = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)
    stubs.personalize.add_response(
        "list_dataset_import_jobs",
        import_list(
            ("OtherStack-Backfill-0a1b2c3d4e5f", YESTERDAY), ("RecsStack-Job-imp1", before_the_objects)
        ),
        {"datasetArn": DATASET_ARN, "maxResults": 100},
    )
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []})
    expect_start(stubs, own_execution(request))
    state = first_check(stubs, request)
    assert "result" not in state and started_state(stubs)["jobName"].startswith("RecsStack-Job-")
    assert stubs.params_of("ListTagsForResource") == [
        {"resourceArn": f"{IMPORT_ARN_PREFIX}RecsStack-Job-imp1"}
    ]
    assert stubs.params_of("PutEvents") == []


def interactions_fingerprint(objects: dict[str, tuple[str, datetime]]) -> str:
    return scheduled.input_fingerprint([{"key": key, "etag": etag} for key, (etag, _) in objects.items()])


def test_an_import_whose_objects_are_older_than_the_last_deploy_import_is_skipped(stubs: Stubs) -> None:
    request = run_request(DATASET_IMPORT)
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "interactions.csv", INTERACTIONS)
    expect_last_import(stubs, YESTERDAY)  # a deploy's import: no fingerprint tag
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = first_check(stubs, request)
    assert (
        state["result"] == "SKIPPED"
        and "RecsStack-Job-imp1" in state["reason"]
        and "last modified" in state["reason"]
    )
    assert stubs.params_of("CreateDatasetImportJob") == []


def test_an_import_with_a_newer_object_runs_and_tags_its_job_with_what_it_reads(stubs: Stubs) -> None:
    request = run_request(DATASET_IMPORT)
    newer = {"interactions.csv": ('"e"', YESTERDAY)}
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "interactions.csv", newer)
    expect_last_import(stubs, WEEK_AGO)
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    create = started_state(stubs)["createRequest"]
    assert create["datasetArn"] == DATASET_ARN
    assert create["tags"] == [{"tagKey": scheduled.INPUT_TAG, "tagValue": interactions_fingerprint(newer)}]


def test_an_import_whose_objects_carry_the_last_runs_fingerprint_is_skipped_however_recent(
    stubs: Stubs,
) -> None:
    rewritten = {"interactions.csv": ('"e"', YESTERDAY)}  # uploaded again, same content (same ETag)
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "interactions.csv", rewritten)
    expect_last_import(stubs, WEEK_AGO, {scheduled.INPUT_TAG: interactions_fingerprint(INTERACTIONS)})
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = first_check(stubs, run_request(DATASET_IMPORT))
    assert state["result"] == "SKIPPED" and "ETags" in state["reason"]


def test_an_import_whose_objects_differ_from_the_last_runs_fingerprint_runs(stubs: Stubs) -> None:
    request = run_request(DATASET_IMPORT)
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "interactions.csv", INTERACTIONS)  # old, but another ETag than recorded
    expect_last_import(stubs, YESTERDAY, {scheduled.INPUT_TAG: "0" * 64})
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)


def expect_training_history(stubs: Stubs, version_created: datetime, import_created: datetime) -> None:
    stubs.personalize.add_response(
        "list_solution_versions",
        {
            "solutionVersions": [
                {
                    "solutionVersionArn": f"{SOLUTION_ARN}/aaaa1111",
                    "status": "ACTIVE",
                    "creationDateTime": version_created,
                    "lastUpdatedDateTime": version_created,
                }
            ]
        },
        {"solutionArn": SOLUTION_ARN, "maxResults": 100},
    )
    group = "arn:aws:personalize:us-east-1:123456789012:dataset-group/recs-group"
    stubs.personalize.add_response(
        "describe_solution",
        {"solution": {"solutionArn": SOLUTION_ARN, "datasetGroupArn": group}},
        {"solutionArn": SOLUTION_ARN},
    )
    stubs.personalize.add_response(
        "list_datasets",
        {"datasets": [{"datasetArn": DATASET_ARN}]},
        {"datasetGroupArn": group, "maxResults": 100},
    )
    stubs.personalize.add_response(
        "list_dataset_import_jobs",
        import_list(("imp-1", import_created)),
        {"datasetArn": DATASET_ARN, "maxResults": 100},
    )


def test_a_training_with_no_import_finished_since_the_last_version_is_skipped(stubs: Stubs) -> None:
    request = run_request(SOLUTION_VERSION)
    expect_running_runs(stubs)
    expect_training_history(stubs, version_created=YESTERDAY, import_created=WEEK_AGO)
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = first_check(stubs, request)
    assert state["result"] == "SKIPPED" and "no import" in state["reason"]
    assert stubs.params_of("CreateSolutionVersion") == []


def test_a_training_after_a_new_import_runs_and_its_monitor_learns_the_arn_when_created(stubs: Stubs) -> None:
    request = run_request(SOLUTION_VERSION)
    expect_running_runs(stubs)
    expect_training_history(stubs, version_created=WEEK_AGO, import_created=YESTERDAY)
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    run = started_state(stubs)
    assert run["jobArn"] == "" and run["createRequest"] == {
        "name": run["jobName"],
        "solutionArn": SOLUTION_ARN,
        "trainingMode": "FULL",
    }
    # The run's monitor: its first check creates the version and keeps its ARN.
    stubs.stepfunctions.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE_ARN,
            "status": "RUNNING",
            "startDate": YESTERDAY,
        },
        {"executionArn": EXECUTION},
    )
    created = f"{SOLUTION_ARN}/bbbb2222"
    stubs.personalize.add_response(
        "create_solution_version", {"solutionVersionArn": created}, run["createRequest"]
    )
    state = first_check(stubs, run)
    assert (state["jobArn"], state["created"], state["done"]) == (created, True, False)


# --- the run's own monitor -------------------------------------------------------------------------------


def written(stubs: Stubs) -> dict[str, Any]:
    (put,) = stubs.params_of("PutObject")
    body = put["Body"]
    document: dict[str, Any] = json.loads(body.getvalue() if hasattr(body, "getvalue") else body)
    return document


def run_state(stubs: Stubs) -> dict[str, Any]:
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, None)
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    return started_state(stubs)


def test_a_scheduled_run_ends_with_the_manifest_recording_its_input_and_an_event_with_its_trigger(
    stubs: Stubs,
) -> None:
    state = {**run_state(stubs), "created": True, "status": "IN PROGRESS", "startedAt": at(0), "checks": 3}
    state.pop("createRequest")
    arn, name = state["jobArn"], state["jobName"]
    request = {**started_state(stubs)["createRequest"]}
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request, "ACTIVE", arn=arn),
        {"batchInferenceJobArn": arn},
    )
    stubs.stepfunctions.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE_ARN,
            "status": "RUNNING",
            "startDate": YESTERDAY,
        },
        {"executionArn": EXECUTION},
    )
    expect_latest(stubs, None)  # a run without a deploy reads latest.json before writing it (issue 22)
    output = f"batch-inference/RecsStack/Job/{name}/"
    stubs.s3.add_response(
        "list_objects_v2", {"Contents": [], "KeyCount": 0}, {"Bucket": "out-bucket", "Prefix": output}
    )
    stubs.s3.add_response(
        "put_object",
        {},
        {"Bucket": "out-bucket", "Key": MANIFEST_KEY, "Body": ANY, "ContentType": "application/json"},
    )
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": arn})
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response(
        "tag_resource",
        {},
        {"resourceArn": arn, "tags": [{"tagKey": contract.END_REPORTED_TAG, "tagValue": "SUCCESS"}]},
    )
    ended = dict(
        monitor.run_check({"state": state, "now": at(3600), "execution": EXECUTION}, stubs.clients, "r")
    )
    assert (ended["done"], ended["result"]) == (True, "SUCCESS")
    document = written(stubs)
    assert document["jobName"] == name and document["input"] == recorded(USERS)
    (events,) = stubs.params_of("PutEvents")
    detail = json.loads(events["Entries"][0]["Detail"])
    assert (detail["trigger"], detail["scheduledTime"], detail["jobName"]) == (
        "schedule",
        SCHEDULED_TIME,
        name,
    )


def test_a_failed_scheduled_run_is_an_event_and_never_a_signal(stubs: Stubs) -> None:
    state = {**run_state(stubs), "created": True, "status": "IN PROGRESS", "startedAt": at(0), "checks": 3}
    request = state.pop("createRequest")
    arn = state["jobArn"]
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request, "CREATE FAILED", "bad input", arn=arn),
        {"batchInferenceJobArn": arn},
    )
    stubs.stepfunctions.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE_ARN,
            "status": "RUNNING",
            "startDate": YESTERDAY,
        },
        {"executionArn": EXECUTION},
    )
    expect_latest(stubs, None)  # a run without a deploy reads latest.json before writing it (issue 22)
    stubs.s3.add_response(
        "put_object", {}, {"Bucket": "out-bucket", "Key": MANIFEST_KEY, "Body": ANY, "ContentType": ANY}
    )
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": arn})
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response("tag_resource", {}, {"resourceArn": arn, "tags": ANY})
    ended = dict(
        monitor.run_check({"state": state, "now": at(3600), "execution": EXECUTION}, stubs.clients, "r")
    )
    assert ended["result"] == "FAILURE" and "bad input" in ended["reason"]
    (events,) = stubs.params_of("PutEvents")
    detail = json.loads(events["Entries"][0]["Detail"])
    assert (detail["result"], detail["trigger"]) == ("FAILURE", "schedule")
    assert "input" not in written(stubs)  # a failure records no input: the next run runs


# --- chains ----------------------------------------------------------------------------------------------


def test_a_chained_run_uses_the_upstream_runs_new_version_and_is_named_after_it(stubs: Stubs) -> None:
    request = run_request(trigger="chain", upstreamArn=NEW_VERSION, sourceProp="SolutionVersionArn")
    request.pop("scheduledTime")
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, {"result": "SUCCESS", "input": recorded(USERS)})  # same input, new version: runs
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    run = started_state(stubs)
    assert run["createRequest"]["solutionVersionArn"] == NEW_VERSION
    assert (run["trigger"], run["upstreamArn"]) == ("chain", NEW_VERSION)
    assert run["input"]["sourceVersionArn"] == NEW_VERSION


# --- a chained training after an import that ended while another run of it trains ----------------------


def expect_monitor_running(stubs: Stubs) -> None:
    stubs.stepfunctions.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE_ARN,
            "status": "RUNNING",
            "startDate": YESTERDAY,
        },
        {"executionArn": EXECUTION},
    )


def waiting_run(stubs: Stubs, other: str) -> dict[str, Any]:
    """A training chained after an import while ``other``, a run of the same training, is in progress."""
    request = run_request(
        SOLUTION_VERSION, trigger="chain", upstreamArn=f"{IMPORT_ARN_PREFIX}RecsStack-Imp-2"
    )
    request.pop("scheduledTime")
    expect_running_runs(stubs, other)
    expect_start(stubs, own_execution(request))
    ended = first_check(stubs, request)
    assert ended["done"] is True and "result" not in ended
    run = started_state(stubs)
    stubs.calls.clear()
    return run


def test_a_chained_training_waits_for_the_run_in_progress_instead_of_missing_the_import(stubs: Stubs) -> None:
    other = scheduled.run_execution_name(STACK_ID, "Job", f"after:{IMPORT_ARN_PREFIX}RecsStack-Imp-1")
    run = waiting_run(stubs, other)
    assert (run["after"], run["skipUnchanged"], run["status"]) == ([other], True, "QUEUED")
    # Its monitor: the earlier run still trains, so it waits (QUEUED), creating nothing.
    expect_monitor_running(stubs)
    expect_running_runs(stubs, other)
    waiting = first_check(stubs, run)
    assert (waiting["done"], waiting["status"], waiting["after"]) == (False, "QUEUED", [other])
    assert waiting["waitSeconds"] > 0 and stubs.params_of("CreateSolutionVersion") == []
    # That run has ended, before this import: the versions it made miss the import, so this one trains.
    expect_monitor_running(stubs)
    expect_running_runs(stubs)
    expect_training_history(stubs, version_created=WEEK_AGO, import_created=YESTERDAY)
    created = f"{SOLUTION_ARN}/cccc3333"
    stubs.personalize.add_response(
        "create_solution_version", {"solutionVersionArn": created}, run["createRequest"]
    )
    state = first_check(stubs, waiting)
    assert state["jobArn"] == created and "after" not in state and stubs.params_of("PutEvents") == []


def test_a_waiting_training_whose_import_a_later_run_trained_on_is_skipped(stubs: Stubs) -> None:
    other = scheduled.run_execution_name(STACK_ID, "Job", f"after:{IMPORT_ARN_PREFIX}RecsStack-Imp-1")
    run = waiting_run(stubs, other)
    expect_monitor_running(stubs)
    expect_running_runs(stubs)
    # A version began after the last import ended (the run it waited for, or one after it): skipped.
    expect_training_history(stubs, version_created=YESTERDAY, import_created=WEEK_AGO)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = first_check(stubs, run)
    assert state["done"] is True and "no import" in state["reason"]
    detail = skip_event(stubs)
    assert (detail["result"], detail["trigger"], detail["jobName"]) == ("SKIPPED", "chain", run["jobName"])
    assert stubs.params_of("CreateSolutionVersion") == []


def test_a_scheduled_run_meeting_a_run_in_progress_is_still_skipped(stubs: Stubs) -> None:
    request = run_request(SOLUTION_VERSION)
    expect_running_runs(stubs, scheduled.run_execution_name(STACK_ID, "Job", "at:2026-11-30T08:00:00Z"))
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    assert first_check(stubs, request)["result"] == "SKIPPED"


# --- time budget -----------------------------------------------------------------------------------------


def test_the_heaviest_skip_check_fits_the_check_functions_timeout() -> None:
    import aws_clients

    # A training's: running monitors, its versions, its solution, the group's datasets, each dataset's
    # imports, then two: the run's monitor started (and, denied, DescribeStacks of its stack:
    # scheduled.while_denied), or the skip's claim and its event put.
    calls = 1 + scheduled.MAX_LIST_PAGES + 1 + 1 + scheduled.MAX_LIST_PAGES * scheduled.MAX_DATASETS + 2
    assert calls * aws_clients.call_worst_case_seconds() <= contract.CHECK_TIMEOUT_SECONDS


def test_a_training_whose_versions_are_too_many_to_read_runs(stubs: Stubs) -> None:
    request = run_request(SOLUTION_VERSION)
    expect_running_runs(stubs)
    for token in (None, "page-2"):  # two full pages, and more to come: not read
        stubs.personalize.add_response(
            "list_solution_versions",
            {"solutionVersions": [], "nextToken": "page-2" if token is None else "page-3"},
            {"solutionArn": SOLUTION_ARN, "maxResults": 100, **({"nextToken": token} if token else {})},
        )
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    assert stubs.params_of("DescribeSolution") == []


# --- a Delete of the job resource stops its runs -----------------------------------------------------------

DEPLOY_VERSION = f"{SOLUTION_ARN}/0000dep1"
RUN_VERSION = f"{SOLUTION_ARN}/0000run1"


def run_monitor(kind: contract.JobKind, scheduled_time: str = SCHEDULED_TIME) -> tuple[str, dict[str, Any]]:
    """A scheduled run's own monitor of this resource ("Job"), as ``scheduled.begin`` starts it: its
    execution name and input (the job QUEUED, its Create request; a training's ARN not known yet)."""
    props = props_of(kind_properties(kind), kind)
    key = f"at:{scheduled_time}"
    name = scheduled.run_job_name(props, STACK_ID, "Job", key)
    state = initial_state(
        props,
        job_name=name,
        job_arn=names.job_arn(kind, STACK_ID, name) or "",
        status=contract.QUEUED,
        stack_id=STACK_ID,
        logical_id="Job",
        create_request=definitions.build_create_request(props, name),
    )
    state.update({"trigger": "schedule", "scheduledTime": scheduled_time})  # type: ignore[typeddict-item]
    return scheduled.run_execution_name(STACK_ID, "Job", key), dict(state)


def expect_run_described(stubs: Stubs, execution: str, state: dict[str, Any]) -> None:
    arn = names.execution_arn(STATE_MACHINE_ARN, execution)
    stubs.stepfunctions.add_response(
        "describe_execution",
        {
            "executionArn": arn,
            "stateMachineArn": STATE_MACHINE_ARN,
            "status": "ABORTED",
            "startDate": YESTERDAY,
            "input": json.dumps(state),
        },
        {"executionArn": arn},
    )


def expect_version(stubs: Stubs, arn: str, status: str, name: str | None = None) -> None:
    request = request_of(kind_properties(SOLUTION_VERSION), kind=SOLUTION_VERSION)
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(
            request, status, kind=SOLUTION_VERSION, arn=arn, **({"name": name} if name else {})
        ),
        {"solutionVersionArn": arn},
    )


def expect_stop_version(stubs: Stubs, arn: str) -> None:
    stubs.personalize.add_response("stop_solution_version_creation", {}, {"solutionVersionArn": arn})


def expect_import(stubs: Stubs, arn: str, status: str) -> None:
    request = request_of(kind_properties(DATASET_IMPORT), kind=DATASET_IMPORT)
    stubs.personalize.add_response(
        "describe_dataset_import_job",
        describe_response(request, status, kind=DATASET_IMPORT, arn=arn),
        {"datasetImportJobArn": arn},
    )


def delete(
    stubs: Stubs, kind: contract.JobKind, physical_id: str, slept: list[float] | None = None, **event: Any
) -> dict[str, Any]:
    properties = event.pop("properties", None) or kind_properties(kind)
    request = cfn_event("Delete", properties, physical_id=physical_id, kind=kind, **event)
    sleep = (slept if slept is not None else []).append
    answer: dict[str, Any] = handler.handle_event(request, stubs.clients, "req-1", sleep=sleep)
    return answer


def test_a_delete_stops_a_scheduled_training_and_waits_until_it_has_stopped(stubs: Stubs) -> None:
    # A stack delete while a chained or scheduled training runs: CloudFormation deletes the solution
    # right after, which Personalize refuses while any of its versions trains.
    execution, state = run_monitor(SOLUTION_VERSION)
    deploy_monitor = execution_of(DEPLOY_VERSION)
    stubs.expect_list_monitors(deploy_monitor, execution, "run-Other-0123abcd-ffffffffffff")
    stubs.expect_stop(deploy_monitor)
    stubs.expect_stop(execution)  # the run's monitor: it never reports, nor creates, anything more
    expect_run_described(stubs, execution, state)
    # The run's version, found by its name among the solution's newest versions.
    stubs.personalize.add_response(
        "list_solution_versions",
        {"solutionVersions": [{"solutionVersionArn": RUN_VERSION, "trainingMode": "FULL"}]},
        {"solutionArn": SOLUTION_ARN, "maxResults": 100},
    )
    expect_version(stubs, RUN_VERSION, "CREATE IN_PROGRESS", name=state["jobName"])
    expect_stop_version(stubs, RUN_VERSION)
    expect_version(stubs, DEPLOY_VERSION, "ACTIVE")  # the deploy's own version ended long ago
    expect_version(stubs, RUN_VERSION, "CREATE STOPPING", name=state["jobName"])
    expect_version(stubs, RUN_VERSION, "CREATE STOPPED", name=state["jobName"])
    slept: list[float] = []
    assert delete(stubs, SOLUTION_VERSION, DEPLOY_VERSION, slept) == {"PhysicalResourceId": DEPLOY_VERSION}
    stopped = [params["executionArn"] for params in stubs.params_of("StopExecution")]
    assert stopped == [names.execution_arn(STATE_MACHINE_ARN, name) for name in (deploy_monitor, execution)]
    assert stubs.params_of("StopSolutionVersionCreation") == [{"solutionVersionArn": RUN_VERSION}]
    assert slept == [handler.DELETE_POLL_SECONDS] * 2
    # One listing served the deploy's monitors and the runs' (the other resource's run is left alone).
    assert len(stubs.params_of("ListExecutions")) == 1


def test_a_delete_waits_for_a_scheduled_import_it_cannot_stop(stubs: Stubs) -> None:
    execution, state = run_monitor(DATASET_IMPORT)
    deploy = arn_of(name_of(kind_properties(DATASET_IMPORT), kind=DATASET_IMPORT), DATASET_IMPORT)
    stubs.expect_list_monitors(execution)
    stubs.expect_stop(execution)
    expect_run_described(stubs, execution, state)
    expect_import(stubs, state["jobArn"], "CREATE IN_PROGRESS")
    expect_import(stubs, deploy, "ACTIVE")
    expect_import(stubs, state["jobArn"], "CREATE IN_PROGRESS")
    expect_import(stubs, state["jobArn"], "ACTIVE")
    slept: list[float] = []
    assert delete(stubs, DATASET_IMPORT, deploy, slept) == {"PhysicalResourceId": deploy}
    assert slept == [handler.DELETE_POLL_SECONDS] * 2  # until the import ended: the dataset can go
    assert [name for name in stubs.operations() if name.startswith(("Stop", "Create"))] == ["StopExecution"]


def test_a_delete_whose_runs_have_ended_stops_and_waits_for_nothing_more(stubs: Stubs) -> None:
    # A finished run's monitor has ended: it is not listed as running, so the Delete makes no call for it.
    stubs.expect_list_monitors("run-Other-0123abcd-ffffffffffff")  # another resource's run
    expect_version(stubs, DEPLOY_VERSION, "ACTIVE")
    slept: list[float] = []
    assert delete(stubs, SOLUTION_VERSION, DEPLOY_VERSION, slept) == {"PhysicalResourceId": DEPLOY_VERSION}
    assert stubs.operations() == ["ListExecutions", "DescribeSolutionVersion"] and slept == []


def test_a_run_that_had_not_created_its_job_is_only_stopped(stubs: Stubs) -> None:
    # Still queued (no free slot): its monitor stopped, the run's job is never created.
    execution, state = run_monitor(DATASET_IMPORT)
    deploy = arn_of(name_of(kind_properties(DATASET_IMPORT), kind=DATASET_IMPORT), DATASET_IMPORT)
    stubs.expect_list_monitors(execution)
    stubs.expect_stop(execution)
    expect_run_described(stubs, execution, state)
    stubs.personalize.add_client_error(
        "describe_dataset_import_job", "ResourceNotFoundException", "no such job", 404
    )
    expect_import(stubs, deploy, "ACTIVE")
    assert delete(stubs, DATASET_IMPORT, deploy) == {"PhysicalResourceId": deploy}


def test_a_batch_runs_monitor_is_stopped_and_its_job_left_to_end(stubs: Stubs) -> None:
    # A batch job cannot be stopped and blocks no delete: its run's monitor is stopped, nothing described.
    execution, _ = run_monitor(BI)
    deploy = arn_of(name_of(base_properties()))
    stubs.expect_list_monitors(execution)
    stubs.expect_stop(execution)
    assert delete(stubs, BI, deploy) == {"PhysicalResourceId": deploy}
    assert stubs.operations() == ["ListExecutions", "StopExecution"]


def test_the_cleanup_delete_of_a_replaced_job_and_a_rollbacks_delete_stop_the_resources_runs(
    stubs: Stubs,
) -> None:
    # Both name a job the resource has moved away from (a replacement's old physical id; the job of a
    # create that is rolled back): the logical resource's runs are no longer wanted either way.
    old = base_properties(NumResults="10")
    for request_id, scheduled_time in (
        ("cleanup-after-replacement", "2026-12-07T08:00:00Z"),
        ("rollback-of-the-create", "2026-12-14T08:00:00Z"),
    ):
        execution, _ = run_monitor(BI, scheduled_time=scheduled_time)
        stubs.expect_list_monitors(execution)
        stubs.expect_stop(execution)
        answer = delete(stubs, BI, arn_of(name_of(old)), properties=old, request_id=request_id)
        assert answer == {"PhysicalResourceId": arn_of(name_of(old))}
    assert len(stubs.params_of("StopExecution")) == 2


def test_a_delete_delivered_twice_stops_the_run_once_and_answers_both_times(stubs: Stubs) -> None:
    execution, state = run_monitor(SOLUTION_VERSION)
    stubs.expect_list_monitors(execution)
    stubs.expect_stop(execution)
    expect_run_described(stubs, execution, state)
    stubs.personalize.add_response(
        "list_solution_versions",
        {"solutionVersions": [{"solutionVersionArn": RUN_VERSION}]},
        {"solutionArn": SOLUTION_ARN, "maxResults": 100},
    )
    expect_version(stubs, RUN_VERSION, "CREATE PENDING", name=state["jobName"])
    expect_stop_version(stubs, RUN_VERSION)
    expect_version(stubs, DEPLOY_VERSION, "ACTIVE")
    expect_version(stubs, RUN_VERSION, "CREATE STOPPED", name=state["jobName"])
    assert delete(stubs, SOLUTION_VERSION, DEPLOY_VERSION) == {"PhysicalResourceId": DEPLOY_VERSION}
    # The second delivery: the run's monitor is no longer running, so nothing is stopped again.
    stubs.expect_list_monitors()
    expect_version(stubs, DEPLOY_VERSION, "ACTIVE")
    assert delete(stubs, SOLUTION_VERSION, DEPLOY_VERSION) == {"PhysicalResourceId": DEPLOY_VERSION}
    assert len(stubs.params_of("StopSolutionVersionCreation")) == 1
    assert len(stubs.params_of("StopExecution")) == 1


def test_a_run_monitor_that_ended_meanwhile_or_an_error_never_fails_the_delete(stubs: Stubs) -> None:
    execution, _ = run_monitor(SOLUTION_VERSION)
    other, _ = run_monitor(SOLUTION_VERSION, scheduled_time="2026-12-14T08:00:00Z")
    stubs.expect_list_monitors(execution, other)
    stubs.stepfunctions.add_client_error("stop_execution", "ExecutionDoesNotExist", "ended", 400)
    stubs.expect_stop(other)
    stubs.stepfunctions.add_client_error("describe_execution", "AccessDeniedException", "denied", 400)
    expect_version(stubs, DEPLOY_VERSION, "ACTIVE")
    assert delete(stubs, SOLUTION_VERSION, DEPLOY_VERSION) == {"PhysicalResourceId": DEPLOY_VERSION}
    assert "StopSolutionVersionCreation" not in stubs.operations()


def test_a_delete_with_runs_every_call_at_its_worst_answers_in_time(stubs: Stubs) -> None:
    # The deploy's training and a run's both stopping and never leaving CREATE STOPPING: the runs are
    # looked at while their calls fit, the waits stop in time for the answer.
    from .test_time_budget import WorstCaseClock

    clock = WorstCaseClock(stubs)
    execution, state = run_monitor(SOLUTION_VERSION)
    stubs.expect_list_monitors(execution)
    stubs.expect_stop(execution)
    expect_run_described(stubs, execution, state)
    stubs.personalize.add_response(
        "list_solution_versions",
        {"solutionVersions": [{"solutionVersionArn": RUN_VERSION}]},
        {"solutionArn": SOLUTION_ARN, "maxResults": 100},
    )
    expect_version(stubs, RUN_VERSION, "CREATE IN_PROGRESS", name=state["jobName"])
    expect_stop_version(stubs, RUN_VERSION)
    expect_version(stubs, DEPLOY_VERSION, "CREATE IN_PROGRESS")
    expect_stop_version(stubs, DEPLOY_VERSION)
    polls = 13  # 840 s - 8 calls at 32 s, then (10 s + a call) while 10 s and two calls still fit
    for _ in range(polls):
        expect_version(stubs, DEPLOY_VERSION, "CREATE STOPPING")
    event = cfn_event(
        "Delete", kind_properties(SOLUTION_VERSION), physical_id=DEPLOY_VERSION, kind=SOLUTION_VERSION
    )
    answer = handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep, remaining=clock.remaining)
    assert answer == {"PhysicalResourceId": DEPLOY_VERSION}
    assert clock.elapsed() <= contract.ON_EVENT_TIMEOUT_SECONDS
    assert clock.slept == polls * handler.DELETE_POLL_SECONDS  # no time was left to poll the run's
    assert len(stubs.params_of("StopSolutionVersionCreation")) == 2
