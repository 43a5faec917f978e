"""Issue 22: latest.json never moves back to an older run of the same definition, nor to a run of a
definition the stack moved away from (make fuzz family seeds 281 and 1912).

The decision (``manifest.keep_reason``) is pure and tested as a table; the monitor's calls (GetObject of
latest.json only for a resource that has runs without a deploy) with Stubber."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY

from .testkit import (
    PUT_EVENTS_OK,
    STATE_MACHINE_ARN,
    T0,
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
import manifest  # isort: skip
import monitor  # isort: skip
import monitor_state as state_module  # isort: skip
import names  # isort: skip

PROPERTIES = base_properties()
REQUEST = request_of(PROPERTIES)
NAME = name_of(PROPERTIES)
ARN = arn_of(NAME)
OUTPUT = f"batch-inference/RecsStack/Job/{NAME}/"
KEY = "batch-inference/RecsStack/Job/latest.json"
EXECUTION = names.execution_arn(STATE_MACHINE_ARN, "this-monitor")
ENDED = "2024-05-01T10:05:00.000Z"  # describe_response's lastUpdatedDateTime: this run's own end
OTHER = "RecsStack-Job-0123456789ab"


# --- the decision (pure) --------------------------------------------------------------------------------


def current(**fields: Any) -> dict[str, Any]:
    document = {
        "jobName": OTHER,
        "result": "SUCCESS",
        "runId": "r1",
        "finishedAt": at(7200),
        "trigger": "schedule",
    }
    document["runStartedAt"] = at(3600)
    document.update(fields)
    return document


def deploy(
    document: dict[str, Any] | None, run_id: str | None = "r1", source: str | None = None
) -> str | None:
    return manifest.keep_reason(
        document,
        job_name=NAME,
        run_id=run_id,
        deploy_run=True,
        started_at=T0,
        finished_at=ENDED,
        source_version_arn=source,
    )


def scheduled_run(document: dict[str, Any] | None, run_id: str | None = "r0") -> str | None:
    return manifest.keep_reason(
        document, job_name=NAME, run_id=run_id, deploy_run=False, started_at=T0, finished_at=at(600)
    )


@pytest.mark.parametrize(
    ("document", "run_id", "kept"),
    [
        (current(), "r1", True),  # a restarted monitor of an older deploy run: the newer run stays
        (None, "r1", False),  # no manifest yet
        (current(jobName=NAME), "r1", False),  # this run's own manifest
        (current(runId="r0"), "r1", False),  # another definition: a rollback or replacement writes
        (current(result="FAILURE"), "r1", True),  # a newer failure is the current run: it stays
        (current(trigger="chain"), "r1", True),  # a chained run's too (seed 1601)
        (current(trigger="deploy"), "r1", False),  # another deploy run's job: a rollback writes (1213)
        (current(trigger=None), "r1", False),  # a manifest from before these fields
        (current(finishedAt="2024-05-01T10:01:00.000Z"), "r1", False),  # finished before this run
        (current(finishedAt=ENDED), "r1", False),  # at the same time: written, as before
        (current(finishedAt=None), "r1", False),  # a manifest from before these fields
        (current(finishedAt="yesterday"), "r1", False),  # unreadable
        (current(), None, False),  # this run's definition unknown
        (current(runId=None), None, False),
    ],
)
def test_a_deploy_run_keeps_only_a_later_run_of_its_own_definition(
    document: dict[str, Any] | None, run_id: str | None, kept: bool
) -> None:
    assert (deploy(document, run_id) is not None) is kept


SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
REPLACED = "arn:aws:personalize:us-east-1:123456789012:solution/recs-2"


@pytest.mark.parametrize(
    ("document", "source", "kept"),
    [
        (current(sourceVersionArn=f"{SOLUTION}/v1"), f"{SOLUTION}/v1", True),  # the very same source
        # A newer training of the solution the stack holds (a chained run after a scheduled import):
        # the newest result of what the stack holds (make fuzz seeds 2973, 3224, 3270, 3813, 3845, 3964).
        (current(sourceVersionArn=f"{SOLUTION}/v2", trigger="chain"), f"{SOLUTION}/v1", True),
        # A chained run made from a solution the stack abandoned (a replaced one; same RunId): a
        # rollback's restored run writes over it.
        (current(sourceVersionArn=f"{REPLACED}/v2", trigger="chain"), f"{SOLUTION}/v1", False),
        (current(sourceVersionArn=f"{REPLACED}/v2"), f"{SOLUTION}/v1", False),
        (current(), f"{SOLUTION}/v1", True),  # a manifest from before the field: RunId and end decide
        (current(sourceVersionArn=f"{REPLACED}/v2"), None, True),  # this run's source unknown
    ],
)
def test_a_deploy_run_keeps_a_later_run_only_from_its_own_solution(
    document: dict[str, Any], source: str | None, kept: bool
) -> None:
    assert (deploy(document, "r1", source) is not None) is kept


@pytest.mark.parametrize(
    ("document", "run_id", "kept"),
    [
        (current(), "r0", True),  # the stack's newer definition ran after this run started
        (current(result="FAILURE"), "r0", True),  # the new definition's failure stands as well
        (current(runId=None), "r0", True),
        (None, "r0", False),
        (current(jobName=NAME), "r0", False),
        (current(runId="r0"), "r0", False),  # same definition: the later end writes, as before
        (current(runStartedAt=T0), "r0", False),  # not later
        (current(runStartedAt="2024-05-01T09:00:00.000Z"), "r0", False),  # started before this run
        (current(runStartedAt=None), "r0", False),  # a manifest from before these fields
    ],
)
def test_a_run_without_a_deploy_keeps_a_later_run_of_another_definition(
    document: dict[str, Any] | None, run_id: str | None, kept: bool
) -> None:
    assert (scheduled_run(document, run_id) is not None) is kept


def chained_run(document: dict[str, Any], source: str | None) -> str | None:
    return manifest.keep_reason(
        document,
        job_name=NAME,
        run_id="r1",
        deploy_run=False,
        started_at=T0,
        finished_at=at(600),
        source_version_arn=source,
    )


@pytest.mark.parametrize(
    ("document", "source", "kept"),
    [
        # An update replaced the upstream solution (same RunId downstream): the new deploy run, made from
        # the new solution and started after this chained run from the replaced one, stays.
        (current(trigger="deploy", sourceVersionArn=f"{SOLUTION}/v1"), f"{REPLACED}/v7", True),
        (
            current(trigger="deploy", result="FAILURE", sourceVersionArn=f"{SOLUTION}/v1"),
            f"{REPLACED}/v7",
            True,
        ),
        # The same solution (a newer training, or the same version): the later end writes, as before.
        (current(trigger="deploy", sourceVersionArn=f"{SOLUTION}/v1"), f"{SOLUTION}/v2", False),
        (current(trigger="chain", sourceVersionArn=f"{SOLUTION}/v1"), f"{SOLUTION}/v1", False),
        # The other run started first: this later run of the definition writes.
        (
            current(runStartedAt="2024-05-01T09:00:00.000Z", sourceVersionArn=f"{SOLUTION}/v1"),
            f"{REPLACED}/v7",
            False,
        ),
        (current(runStartedAt=None, sourceVersionArn=f"{SOLUTION}/v1"), f"{REPLACED}/v7", False),
        # Either source unknown (a manifest from before the field, an import's run): as before.
        (current(trigger="deploy"), f"{REPLACED}/v7", False),
        (current(trigger="deploy", sourceVersionArn=f"{SOLUTION}/v1"), None, False),
    ],
)
def test_a_run_without_a_deploy_keeps_a_later_run_of_its_definition_made_from_another_solution(
    document: dict[str, Any], source: str | None, kept: bool
) -> None:
    assert (chained_run(document, source) is not None) is kept


def test_the_deploy_runs_state_takes_the_run_id_and_whether_other_runs_may_have_written() -> None:
    scheduled = {contract.RUN_ID: "r1", contract.RECORD_INPUT: "true"}
    create = {"RequestType": "Create", "ResourceProperties": scheduled}
    assert state_module.deploy_run_fields(create) == {"runId": "r1", "runsWithoutDeploy": True}
    unscheduled = {"RequestType": "Create", "ResourceProperties": {contract.RUN_ID: "r1"}}
    assert state_module.deploy_run_fields(unscheduled) == {"runId": "r1"}
    assert state_module.deploy_run_fields({}) == {}
    # An Update restarts the monitor of a job that may have ended before runs without a deploy (a
    # chained job's, seed 1601; one whose schedule the update removes, seed 281).
    update = {"RequestType": "Update", "ResourceProperties": {contract.RUN_ID: "r1"}}
    assert state_module.deploy_run_fields(update) == {"runId": "r1", "runsWithoutDeploy": True}


# --- the monitor's calls (Stubber) ----------------------------------------------------------------------


def ended_state(**fields: Any) -> dict[str, Any]:
    state = monitor_state(PROPERTIES, started_at=T0, checks=3, status="IN PROGRESS")
    state.update(fields)
    return state


def expect_active_and_running(stubs: Stubs) -> None:
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(REQUEST, "ACTIVE"), {"batchInferenceJobArn": ARN}
    )
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


def expect_latest(stubs: Stubs, document: dict[str, Any] | None) -> None:
    if document is None:
        stubs.s3.add_client_error(
            "get_object", "NoSuchKey", "no such key", 404, {"Bucket": "out-bucket", "Key": KEY}
        )
        return
    body = json.dumps(document).encode()
    stubs.s3.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "out-bucket", "Key": KEY},
    )


def expect_written(stubs: Stubs) -> None:
    stubs.s3.add_response(
        "list_objects_v2", {"Contents": [], "KeyCount": 0}, {"Bucket": "out-bucket", "Prefix": OUTPUT}
    )
    stubs.s3.add_response(
        "put_object", {}, {"Bucket": "out-bucket", "Key": KEY, "Body": ANY, "ContentType": "application/json"}
    )


def expect_report(stubs: Stubs) -> None:
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": ARN})
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response("tag_resource", {}, {"resourceArn": ARN, "tags": ANY})


def finish(stubs: Stubs, state: dict[str, Any]) -> dict[str, Any]:
    event = {"state": state, "now": at(30 * 3600), "execution": EXECUTION}
    ended = dict(monitor.run_check(event, stubs.clients, "req-1"))
    assert (ended["done"], ended["result"]) == (True, "SUCCESS")
    return ended


def sent_detail(stubs: Stubs) -> dict[str, Any]:
    (params,) = stubs.params_of("PutEvents")
    detail: dict[str, Any] = json.loads(params["Entries"][0]["Detail"])
    return detail


def written(stubs: Stubs) -> dict[str, Any]:
    (put,) = stubs.params_of("PutObject")
    body = put["Body"]
    document: dict[str, Any] = json.loads(body.getvalue() if hasattr(body, "getvalue") else body)
    return document


def test_a_restarted_deploy_run_keeps_the_newer_scheduled_run_of_its_definition(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # Seed 281: a wait change restarts the deploy run's monitor a day after a scheduled run succeeded.
    expect_active_and_running(stubs)
    expect_latest(stubs, current(finishedAt=at(20 * 3600)))
    expect_report(stubs)
    finish(stubs, ended_state(runId="r1", runsWithoutDeploy=True))
    assert stubs.params_of("PutObject") == [] and stubs.params_of("ListObjectsV2") == []
    assert "manifestUri" not in sent_detail(stubs)
    assert '"manifest-kept"' in capsys.readouterr().out


def test_a_scheduled_run_that_ends_after_the_stack_moved_on_keeps_the_new_definitions_manifest(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # Seed 1912: the run of the old definition ends during the update, after the new deploy run wrote.
    expect_active_and_running(stubs)
    expect_latest(stubs, current(result="FAILURE", runId="r1", runStartedAt=at(1800)))
    expect_report(stubs)
    finish(stubs, ended_state(runId="r0", trigger="schedule", scheduledTime=T0))
    assert stubs.params_of("PutObject") == []
    assert "manifestUri" not in sent_detail(stubs)
    assert '"manifest-kept"' in capsys.readouterr().out


def test_a_scheduled_deploy_run_with_no_manifest_yet_writes_its_run_id_and_start(stubs: Stubs) -> None:
    expect_active_and_running(stubs)
    expect_latest(stubs, None)
    expect_written(stubs)
    expect_report(stubs)
    finish(stubs, ended_state(runId="r1", runsWithoutDeploy=True))
    document = written(stubs)
    assert (document["jobName"], document["runId"], document["runStartedAt"]) == (NAME, "r1", T0)
    assert document["trigger"] == "deploy"
    assert document["finishedAt"] == ENDED
    assert sent_detail(stubs)["manifestUri"] == f"s3://out-bucket/{KEY}"


def test_a_deploy_run_after_a_rollback_rewrites_the_manifest_of_another_definition(stubs: Stubs) -> None:
    expect_active_and_running(stubs)
    expect_latest(stubs, current(runId="r2", finishedAt=at(20 * 3600)))
    expect_written(stubs)
    expect_report(stubs)
    finish(stubs, ended_state(runId="r1", runsWithoutDeploy=True))
    assert written(stubs)["jobName"] == NAME


def test_a_restarted_deploy_run_rewrites_a_later_run_made_from_another_solution(
    stubs: Stubs,
) -> None:
    state = ended_state(runId="r1", runsWithoutDeploy=True)
    assert state["sourceVersionArn"] == PROPERTIES["SolutionVersionArn"]  # from the run's props
    expect_active_and_running(stubs)
    abandoned = "arn:aws:personalize:us-east-1:123456789012:solution/other/abandoned"
    expect_latest(stubs, current(trigger="chain", finishedAt=at(20 * 3600), sourceVersionArn=abandoned))
    expect_written(stubs)
    expect_report(stubs)
    finish(stubs, state)
    document = written(stubs)
    assert (document["jobName"], document["sourceVersionArn"]) == (NAME, PROPERTIES["SolutionVersionArn"])


def test_a_restarted_deploy_run_keeps_a_later_run_on_a_newer_version_of_its_solution(stubs: Stubs) -> None:
    # Seeds 3845, 3964: a scheduled import chains a training, then the batch job on its new version; a
    # later update rolls back and restarts the deploy run's monitor, which must not move latest.json back.
    expect_active_and_running(stubs)
    newer = PROPERTIES["SolutionVersionArn"].rsplit("/", 1)[0] + "/newer"
    expect_latest(stubs, current(trigger="chain", finishedAt=at(20 * 3600), sourceVersionArn=newer))
    expect_report(stubs)
    finish(stubs, ended_state(runId="r1", runsWithoutDeploy=True))
    assert stubs.params_of("PutObject") == []


def test_a_restarted_deploy_run_keeps_a_later_run_of_its_own_source_version(stubs: Stubs) -> None:
    expect_active_and_running(stubs)
    own = PROPERTIES["SolutionVersionArn"]
    expect_latest(stubs, current(trigger="chain", finishedAt=at(20 * 3600), sourceVersionArn=own))
    expect_report(stubs)
    finish(stubs, ended_state(runId="r1", runsWithoutDeploy=True))
    assert stubs.params_of("PutObject") == []


def test_a_manifest_that_cannot_be_read_is_overwritten_as_before(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_active_and_running(stubs)
    stubs.s3.add_client_error(
        "get_object", "AccessDenied", "denied", 403, {"Bucket": "out-bucket", "Key": KEY}
    )
    expect_written(stubs)
    expect_report(stubs)
    finish(stubs, ended_state(runId="r0", trigger="schedule", scheduledTime=T0))
    assert written(stubs)["runId"] == "r0"
    assert '"manifest-unread"' in capsys.readouterr().out


def test_an_unscheduled_jobs_run_reads_no_manifest_before_writing(stubs: Stubs) -> None:
    # No runs without a deploy: nothing else writes its latest.json, so no GetObject (Stubber: any
    # unexpected call fails).
    expect_active_and_running(stubs)
    expect_written(stubs)
    expect_report(stubs)
    finish(stubs, ended_state(runId="r1"))
    assert stubs.params_of("GetObject") == []
    assert written(stubs)["runId"] == "r1"


def test_a_chained_run_from_a_replaced_solution_keeps_the_new_deploy_runs_manifest(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # The update replaced the upstream solution S1 by S2 (the downstream keeps its RunId); its deploy run
    # (wait=True, from S2) wrote latest.json; this chained run, started from S1 before the update, ends
    # before the cleanup stops it: latest.json keeps naming the S2 run.
    replaced = "arn:aws:personalize:us-east-1:123456789012:solution/replaced/v1"
    state = ended_state(runId="r1", trigger="chain", upstreamArn=replaced, sourceVersionArn=replaced)
    expect_active_and_running(stubs)
    new_deploy = current(
        trigger="deploy",
        runStartedAt=at(1800),
        finishedAt=at(5400),
        sourceVersionArn=PROPERTIES["SolutionVersionArn"],
    )
    expect_latest(stubs, new_deploy)
    expect_report(stubs)
    finish(stubs, state)
    assert stubs.params_of("PutObject") == [] and stubs.params_of("ListObjectsV2") == []
    assert "manifestUri" not in sent_detail(stubs)
    kept = [line for line in capsys.readouterr().out.splitlines() if '"manifest-kept"' in line]
    assert len(kept) == 1 and "another solution" in kept[0]
