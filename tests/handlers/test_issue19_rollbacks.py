"""Regression tests for issue 19, handler side: each CloudFormation path over the job family that left a
stack stuck (UPDATE_ROLLBACK_FAILED, DELETE_FAILED), billed a second training, or told consumers the
wrong thing. One defect per section; each test failed before its fix.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from .testkit import (
    DATASET_IMPORT,
    NEW_HANDLE,
    OLD_HANDLE,
    PUT_EVENTS_OK,
    SOLUTION_ARN,
    SOLUTION_VERSION,
    T0,
    Stubs,
    arn_of,
    at,
    base_properties,
    cfn_event,
    describe_response,
    execution_of,
    kind_properties,
    name_of,
    request_of,
)

import handler  # isort: skip  (on sys.path once testkit is imported)
import monitor  # isort: skip
import personalize_ops  # isort: skip

V1 = f"{SOLUTION_ARN}/1111aaaa"
V2 = f"{SOLUTION_ARN}/2222bbbb"
REPLACED_SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs-hrnn"


def sv_properties(**overrides: Any) -> dict[str, Any]:
    return kind_properties(SOLUTION_VERSION, **overrides)


def sv_update(
    stubs: Stubs, old: dict[str, Any], new: dict[str, Any], physical_id: str, **kwargs: Any
) -> dict[str, Any]:
    event = cfn_event("Update", new, old_properties=old, physical_id=physical_id, kind=SOLUTION_VERSION)
    return handler.handle_event(event, stubs.clients, "req-1", **kwargs)


def expect_version(stubs: Stubs, properties: dict[str, Any], arn: str, status: str = "ACTIVE") -> None:
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(
            request_of(properties, kind=SOLUTION_VERSION), status, kind=SOLUTION_VERSION, arn=arn
        ),
        {"solutionVersionArn": arn},
    )


# --- 2. a rollback to the resource's own physical id keeps its version ------------------------------------


def test_rollback_of_a_failed_run_token_update_keeps_the_version_without_a_create(stubs: Stubs) -> None:
    # run_token r1 -> r2 failed (no training slot): the physical id stayed V1. The rollback sends the
    # failed update's properties as "old"; the version under the physical id is r1's, and is kept.
    r1 = sv_properties(RunToken="r1", WaitHandle=OLD_HANDLE)
    r2 = sv_properties(RunToken="r2", WaitHandle=NEW_HANDLE)
    expect_version(stubs, r1, V1, "CREATE IN_PROGRESS")
    stubs.expect_first_delivery()
    stubs.expect_start()  # its monitor restarts, for the restored handle
    result = sv_update(stubs, r2, r1, V1)
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (V1, "IN PROGRESS")
    assert "CreateSolutionVersion" not in stubs.operations()
    assert "StopExecution" not in stubs.operations()
    assert stubs.monitor_input()["waitHandle"] == OLD_HANDLE


def test_rollback_of_a_refused_solution_replacement_keeps_the_version_and_its_monitor(stubs: Stubs) -> None:
    # A CfnSolution replaced (recipe or name change): the solution ARN changes at deploy time, the
    # template, RunId and WaitHandle do not. The forward update is refused before any training ...
    before = sv_properties(WaitHandle=OLD_HANDLE)
    after = sv_properties(SolutionArn=REPLACED_SOLUTION_ARN, WaitHandle=OLD_HANDLE)
    try:
        sv_update(stubs, before, after, V1)
    except handler.JobResourceError as error:
        assert "run_token" in str(error)
    else:
        raise AssertionError("a solution replaced under an unchanged WaitCondition was not refused")
    assert "CreateSolutionVersion" not in stubs.operations()
    # ... and its rollback (old and new swapped, the same physical id) keeps V1 and its running monitor.
    expect_version(stubs, before, V1)
    stubs.expect_first_delivery()
    result = sv_update(stubs, after, before, V1)
    assert result["PhysicalResourceId"] == V1
    assert not {"CreateSolutionVersion", "StopExecution", "StartExecution"} & set(stubs.operations())


def test_that_rollback_succeeds_even_when_the_policy_names_only_the_new_solutions_versions(
    stubs: Stubs,
) -> None:
    # The functions' policy follows the solution's ARN and is rolled back after the version: while the
    # version's rollback runs, describing a version of the old solution is denied.
    before = sv_properties(WaitHandle=OLD_HANDLE)
    after = sv_properties(SolutionArn=REPLACED_SOLUTION_ARN, WaitHandle=OLD_HANDLE)
    stubs.expect_first_delivery()
    stubs.personalize.add_client_error(
        "describe_solution_version", "AccessDeniedException", "not allowed", 400
    )
    result = sv_update(stubs, after, before, V1)
    assert (result["PhysicalResourceId"], result["Data"]["JobName"]) == (
        V1,
        name_of(before, kind=SOLUTION_VERSION),
    )
    assert not {"CreateSolutionVersion", "StopExecution", "StartExecution"} & set(stubs.operations())


def test_refusing_a_replaced_solution_names_the_fix(stubs: Stubs) -> None:
    before = sv_properties(WaitHandle=OLD_HANDLE)
    after = sv_properties(SolutionArn=REPLACED_SOLUTION_ARN, WaitHandle=OLD_HANDLE)
    try:
        sv_update(stubs, before, after, V1)
    except handler.JobResourceError as error:
        message = str(error)
    else:
        raise AssertionError("not refused")
    assert "SolutionArn" in message and "set run_token to a new value" in message
    assert "replaced" in message


# --- 3. a version is looked up before it is created, within bounds -----------------------------------------


def test_a_rollback_after_a_successful_replacement_goes_back_to_the_first_version(stubs: Stubs) -> None:
    # r1 -> r2 succeeded (physical id V2), a sibling failed: the rollback moves the resource back to V1
    # and stops V2's monitor, never the one it has just started for V1.
    r1 = sv_properties(RunToken="r1", WaitHandle=OLD_HANDLE)
    r2 = sv_properties(RunToken="r2", WaitHandle=NEW_HANDLE)
    name1 = name_of(r1, kind=SOLUTION_VERSION)
    expect_version(stubs, r2, V2, "CREATE IN_PROGRESS")
    stubs.personalize.add_response(
        "list_solution_versions",
        {"solutionVersions": [{"solutionVersionArn": V2}, {"solutionVersionArn": V1}]},
        {"solutionArn": SOLUTION_ARN, "maxResults": 100},
    )
    expect_version(stubs, r2, V2, "CREATE IN_PROGRESS")
    expect_version(stubs, r1, V1, "ACTIVE")
    stubs.expect_first_delivery()
    stubs.expect_start()
    v2_monitor = execution_of(V2, "the-update")
    stubs.expect_list_monitors(v2_monitor)
    stubs.expect_stop(v2_monitor)
    result = sv_update(stubs, r2, r1, V2)
    assert (result["PhysicalResourceId"], result["Data"]["JobName"]) == (V1, name1)
    assert "CreateSolutionVersion" not in stubs.operations()


def listed(arn: str, age_hours: float, mode: str = "FULL") -> dict[str, Any]:
    created = datetime(2026, 12, 1, tzinfo=timezone.utc) - timedelta(hours=age_hours)
    return {"solutionVersionArn": arn, "trainingMode": mode, "creationDateTime": created}


def test_a_re_sent_create_finds_its_version_newest_first_without_creating(stubs: Stubs) -> None:
    # Hundreds of versions over three pages; the re-sent create's own version is the newest, listed
    # last. Only candidates of its training mode are described, newest first: one description.
    properties = sv_properties()
    mine = f"{SOLUTION_ARN}/0000mine"
    older = [listed(f"{SOLUTION_ARN}/{index:08x}", 24 + index) for index in range(250)]
    updates = [listed(f"{SOLUTION_ARN}/u{index:07x}", 0.1, "UPDATE") for index in range(30)]
    items = updates + older + [listed(mine, 0.5)]
    for start in range(0, len(items), 100):
        answer: dict[str, Any] = {"solutionVersions": items[start : start + 100]}
        if start + 100 < len(items):
            answer["nextToken"] = str(start + 100)
        stubs.personalize.add_response("list_solution_versions", answer)
    expect_version(stubs, properties, mine, "CREATE IN_PROGRESS")
    stubs.expect_first_delivery()
    stubs.expect_start()
    event = cfn_event("Create", properties, kind=SOLUTION_VERSION)
    result = handler.handle_event(event, stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == mine
    assert stubs.operations().count("DescribeSolutionVersion") == 1
    assert "CreateSolutionVersion" not in stubs.operations()


def test_a_search_among_hundreds_of_versions_makes_a_bounded_number_of_calls(stubs: Stubs) -> None:
    properties = sv_properties()
    other = request_of(sv_properties(RunToken="someone-else"), kind=SOLUTION_VERSION)
    for page in range(personalize_ops.MAX_LIST_PAGES):
        answer: dict[str, Any] = {
            "solutionVersions": [
                listed(f"{SOLUTION_ARN}/{page:03x}{index:05x}", page) for index in range(100)
            ],
            "nextToken": f"page-{page + 1}",  # more than the pages read
        }
        stubs.personalize.add_response("list_solution_versions", answer)
    for _ in range(personalize_ops.MAX_NAME_DESCRIBES):
        stubs.personalize.add_response(
            "describe_solution_version",
            describe_response(other, "ACTIVE", kind=SOLUTION_VERSION, arn=f"{SOLUTION_ARN}/other"),
        )
    version = f"{SOLUTION_ARN}/0000new1"
    stubs.personalize.add_response("create_solution_version", {"solutionVersionArn": version})
    stubs.expect_first_delivery()
    stubs.expect_start()
    event = cfn_event("Create", properties, kind=SOLUTION_VERSION)
    assert handler.handle_event(event, stubs.clients, "req-1")["PhysicalResourceId"] == version
    lookups = [op for op in stubs.operations() if op in ("ListSolutionVersions", "DescribeSolutionVersion")]
    assert len(lookups) == personalize_ops.MAX_LIST_PAGES + personalize_ops.MAX_NAME_DESCRIBES


# --- 6. Delete does not leave what blocks the delete of the solution or dataset --------------------------


class Clock:
    """Time left in the on-event function: sleeps and calls (each at a quick 1 s) spend it."""

    def __init__(self, stubs: Stubs, seconds: float = 300.0) -> None:
        self.stubs, self.left, self.slept = stubs, seconds, 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds

    def remaining(self) -> float:
        return self.left - self.slept - len(self.stubs.calls)


def sv_delete(stubs: Stubs, clock: Clock, arn: str = V1) -> dict[str, Any]:
    event = cfn_event("Delete", sv_properties(), physical_id=arn, kind=SOLUTION_VERSION)
    return handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep, remaining=clock.remaining)


def test_delete_of_a_training_version_returns_once_it_has_stopped(stubs: Stubs) -> None:
    # CloudFormation deletes the CfnSolution next, which Personalize refuses while a version is
    # CREATE STOPPING: the Delete waits for CREATE STOPPED.
    properties, clock = sv_properties(), Clock(stubs)
    stubs.expect_list_monitors()
    expect_version(stubs, properties, V1, "CREATE IN_PROGRESS")
    stubs.personalize.add_response("stop_solution_version_creation", {}, {"solutionVersionArn": V1})
    for status in ("CREATE STOPPING", "CREATE STOPPING", "CREATE STOPPED"):
        expect_version(stubs, properties, V1, status)
    assert sv_delete(stubs, clock) == {"PhysicalResourceId": V1}
    assert clock.slept == 3 * handler.DELETE_POLL_SECONDS


def test_delete_of_a_version_already_stopping_waits_without_stopping_it_again(stubs: Stubs) -> None:
    properties, clock = sv_properties(), Clock(stubs)
    stubs.expect_list_monitors()
    expect_version(stubs, properties, V1, "CREATE_STOPPING")
    expect_version(stubs, properties, V1, "CREATE_STOPPED")
    sv_delete(stubs, clock)
    assert "StopSolutionVersionCreation" not in stubs.operations()


def test_delete_that_cannot_wait_long_enough_still_succeeds_and_says_what_will_fail(
    stubs: Stubs, capsys: Any
) -> None:
    properties, clock = sv_properties(), Clock(stubs, seconds=handler.CALL_SECONDS * 4)
    stubs.expect_list_monitors()
    expect_version(stubs, properties, V1, "CREATE PENDING")
    stubs.personalize.add_response("stop_solution_version_creation", {}, {"solutionVersionArn": V1})
    polls = 0
    while clock.remaining() - polls * (handler.DELETE_POLL_SECONDS + 1) >= (
        handler.DELETE_POLL_SECONDS + 2 * handler.CALL_SECONDS
    ):
        expect_version(stubs, properties, V1, "CREATE STOPPING")
        polls += 1
    assert sv_delete(stubs, clock) == {"PhysicalResourceId": V1}
    assert clock.remaining() >= 0
    out = capsys.readouterr().out
    assert "Personalize refuses to delete its solution" in out and "delete the stack again" in out


def test_delete_of_a_running_import_waits_for_its_end(stubs: Stubs) -> None:
    # An import cannot be stopped; the dataset cannot be deleted while it runs.
    properties, clock = kind_properties(DATASET_IMPORT), Clock(stubs)
    arn = arn_of(name_of(properties, kind=DATASET_IMPORT), DATASET_IMPORT)
    request = request_of(properties, kind=DATASET_IMPORT)
    stubs.expect_list_monitors()
    for status in ("CREATE IN_PROGRESS", "CREATE IN_PROGRESS", "ACTIVE"):
        stubs.personalize.add_response(
            "describe_dataset_import_job",
            describe_response(request, status, kind=DATASET_IMPORT),
            {"datasetImportJobArn": arn},
        )
    event = cfn_event("Delete", properties, physical_id=arn, kind=DATASET_IMPORT)
    handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep, remaining=clock.remaining)
    assert clock.slept == 2 * handler.DELETE_POLL_SECONDS
    assert stubs.operations().count("DescribeDatasetImportJob") == 3


# --- 8. an import's rollback says that imported data cannot be taken back --------------------------------


def import_rollback(stubs: Stubs, status: str = "ACTIVE") -> dict[str, Any]:
    """import 1 -> import 2 (a new run_token) succeeded; the rollback moves the resource back."""
    first = kind_properties(DATASET_IMPORT, RunToken="1", WaitHandle=OLD_HANDLE)
    second = kind_properties(DATASET_IMPORT, RunToken="2", WaitHandle=NEW_HANDLE)
    first_arn = arn_of(name_of(first, kind=DATASET_IMPORT), DATASET_IMPORT)
    second_arn = arn_of(name_of(second, kind=DATASET_IMPORT), DATASET_IMPORT)
    stubs.expect_first_delivery()
    stubs.personalize.add_client_error(
        "create_dataset_import_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_dataset_import_job",
        describe_response(request_of(first, kind=DATASET_IMPORT), status, kind=DATASET_IMPORT),
        {"datasetImportJobArn": first_arn},
    )
    stubs.expect_start()
    stubs.expect_list_monitors()
    event = cfn_event("Update", first, old_properties=second, physical_id=second_arn, kind=DATASET_IMPORT)
    return handler.handle_event(event, stubs.clients, "req-1")


def test_an_import_rollback_logs_that_the_imported_data_stays(stubs: Stubs, capsys: Any) -> None:
    import_rollback(stubs)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (rollback,) = [line for line in lines if line["decision"] == "rollback"]
    assert "Imported data cannot be taken back" in rollback["note"]
    assert "Imported data cannot be taken back" in stubs.monitor_input()["note"]


def test_the_end_event_of_a_rollback_to_an_import_says_the_data_stays(stubs: Stubs) -> None:
    import_rollback(stubs)
    state = {**stubs.monitor_input(), "startedAt": T0, "checks": 1}
    properties = kind_properties(DATASET_IMPORT, RunToken="1", WaitHandle=OLD_HANDLE)
    stubs.personalize.add_response(
        "describe_dataset_import_job",
        describe_response(request_of(properties, kind=DATASET_IMPORT), "ACTIVE", kind=DATASET_IMPORT),
    )
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []})
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response("tag_resource", {})
    state["waitHandle"] = None
    monitor.run_check({"state": state, "now": at(120)}, stubs.clients, "req-2")
    (params,) = stubs.params_of("PutEvents")
    detail = json.loads(params["Entries"][0]["Detail"])
    assert "Imported data cannot be taken back" in detail["note"]


def test_a_batch_job_rollback_carries_no_note(stubs: Stubs) -> None:
    first, second = base_properties(RunToken="1"), base_properties(RunToken="2")
    stubs.expect_first_delivery()
    stubs.personalize.add_client_error("create_batch_inference_job", "ResourceAlreadyExistsException", "x")
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(first), "ACTIVE")
    )
    stubs.expect_start()
    stubs.expect_list_monitors()
    event = cfn_event("Update", first, old_properties=second, physical_id=arn_of(name_of(second)))
    handler.handle_event(event, stubs.clients, "req-1")
    assert "note" not in stubs.monitor_input()


def test_an_update_that_keeps_a_version_that_no_longer_exists_never_trains(stubs: Stubs) -> None:
    # The version was deleted under the resource (with its solution): keeping it must not train again
    # (a version is never queued; a monitor with a Create request would create it).
    before = sv_properties(WaitHandle=OLD_HANDLE, Tags=[{"Key": "team", "Value": "a"}])
    after = sv_properties(WaitHandle=NEW_HANDLE, Tags=[{"Key": "team", "Value": "b"}])
    stubs.personalize.add_client_error("describe_solution_version", "ResourceNotFoundException", "gone")
    stubs.expect_first_delivery()
    stubs.expect_start()
    result = sv_update(stubs, before, after, V1)
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (V1, "CREATE FAILED")
    assert "CreateSolutionVersion" not in stubs.operations()
    state = stubs.monitor_input()
    assert state["created"] is True and "createRequest" not in state
