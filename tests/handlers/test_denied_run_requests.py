"""Runs without a deploy that meet an update removing their schedule or their job (issues 20 and 22).

CloudFormation's update phase changes the runtime's shared policies first and deletes the schedule or the
job resource only in its cleanup (whose Delete stops the job's run monitors). A delivery (or a chain
rule's request) in between is denied the calls that start its run: it asks again while the stack changes
(a rollback gives the grants back and it runs), and once the stack has settled and it is still denied it
is dropped with a log line: no job, no event blaming the job, once CloudFormation says the stack no
longer holds the job. A settled stack that still holds it denies for real (a policy edited by hand, a
permissions boundary, an SCP): the run fails with an end event saying what to check.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from .test_schedule_runs import (
    EXECUTION,
    NEW_VERSION,
    USERS,
    expect_input,
    expect_latest,
    expect_running_runs,
    expect_start,
    first_check,
    own_execution,
    run_request,
    started_state,
)
from .testkit import STACK_ID, STATE_MACHINE_ARN, Stubs, at

import monitor  # isort: skip  (on sys.path once testkit is imported)
import monitor_ops  # isort: skip
import schedule  # isort: skip
import scheduled  # isort: skip

DENIED = ("AccessDeniedException", "User: check-role is not authorized to perform: states:ListExecutions")


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def deny_listing(stubs: Stubs) -> None:
    stubs.stepfunctions.add_client_error("list_executions", *DENIED, 400)


def check_again(stubs: Stubs, state: dict[str, Any], seconds: float) -> dict[str, Any]:
    event = {"state": state, "now": at(seconds), "execution": EXECUTION}
    return dict(monitor.run_check(event, stubs.clients, "req-2"))


# --- the decision, without stubs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "stack_status",
    ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"],
)
def test_a_denied_request_asks_again_while_the_stack_changes_however_often(stack_status: str) -> None:
    decision = schedule.decide_on_denied_run_request(stack_status, 0, 3_000, 21_480)
    assert (decision.done, decision.wait_seconds, decision.result) == (False, 120, None)


def test_a_denied_request_on_a_settled_stack_asks_again_a_few_times_then_is_dropped() -> None:
    assert schedule.decide_on_denied_run_request("UPDATE_COMPLETE", 4, 240, 21_480).done is False
    dropped = schedule.decide_on_denied_run_request("UPDATE_COMPLETE", 5, 300, 21_480)
    assert dropped.done is True and dropped.result is None  # no FAILURE yet: asks CloudFormation first
    assert dropped.ask_stack is True
    assert "no longer grants this run" in dropped.reason and "UPDATE_COMPLETE" in dropped.reason
    unknown = schedule.decide_on_denied_run_request(None, 5, 300, 21_480)
    assert unknown.done is True and "unknown status" in unknown.reason


@pytest.mark.parametrize("stack_status", sorted(schedule.STACK_GOING_AWAY))
def test_a_denied_request_is_dropped_at_once_while_its_stack_is_deleted_or_gone(stack_status: str) -> None:
    decision = schedule.decide_on_denied_run_request(stack_status, 0, 60, 21_480)
    assert decision.done is True and decision.result is None and stack_status in decision.reason


def test_a_denied_request_is_dropped_at_the_runs_timeout_even_while_the_stack_changes() -> None:
    decision = schedule.decide_on_denied_run_request("UPDATE_IN_PROGRESS", 0, 21_480, 21_480)
    assert decision.done is True and decision.result is None and "timeout" in decision.reason


# --- a delivery denied during the update that removes its schedule -----------------------------------


def test_a_delivery_denied_while_the_stack_updates_asks_again_and_reports_nothing(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    request = run_request()
    deny_listing(stubs)
    stubs.expect_stack_status("UPDATE_IN_PROGRESS")
    state = first_check(stubs, request)
    assert (state["done"], state["waitSeconds"], state["deniedChecks"]) == (False, 60, 0)
    assert "result" not in state and state["deniedSince"] == at(0)
    assert scheduled.is_run_request(state)  # the next check is this request's first again
    assert stubs.params_of("DescribeStacks") == [{"StackName": STACK_ID}]
    assert stubs.params_of("StartExecution") == [] and stubs.params_of("PutEvents") == []
    assert any(
        record["decision"] == "denied-while-stack-changes" and record["stackStatus"] == "UPDATE_IN_PROGRESS"
        for record in logged(capsys)
    )


def test_a_delivery_denied_before_a_rollback_runs_once_the_grants_are_back(stubs: Stubs) -> None:
    request = run_request()
    deny_listing(stubs)
    stubs.expect_stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
    waiting = first_check(stubs, request)
    # The rollback restored the policies: the same request now starts its run, as a first delivery would.
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, None)
    expect_start(stubs, own_execution(request))
    state = check_again(stubs, waiting, 60)
    assert state["done"] is True and "result" not in state
    run = started_state(stubs)
    assert (run["status"], run["trigger"], run["created"]) == ("QUEUED", "schedule", False)
    assert "deniedSince" not in run and "deniedChecks" not in run
    assert stubs.params_of("PutEvents") == []


def test_a_delivery_denied_its_monitors_start_during_the_cleanup_asks_again(stubs: Stubs) -> None:
    request = run_request(skipUnchanged=False)
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    stubs.stepfunctions.add_client_error("start_execution", *DENIED, 400)
    stubs.expect_stack_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    state = first_check(stubs, request)
    assert (state["done"], state["waitSeconds"]) == (False, 60)
    assert stubs.params_of("PutEvents") == []  # no FAILURE event: the job is not at fault


def deny_five_times(stubs: Stubs, stack_status: str = "UPDATE_COMPLETE") -> dict[str, Any]:
    """The fifth denial in a row on a settled stack: the request asks CloudFormation in a check of its
    own (the denied check may have spent most of the function's time on a skip check)."""
    waiting = {**run_request(), "deniedSince": at(0), "deniedChecks": 4, "deniedCall": "denied earlier"}
    waiting["deniedWhileChanging"] = False
    deny_listing(stubs)
    stubs.expect_stack_status(stack_status)
    state = check_again(stubs, waiting, 900)
    assert (state["done"], state["deniedChecks"], state["waitSeconds"]) == (False, 5, 1)
    assert state["deniedWhileChanging"] is False  # every denial met a settled stack
    assert state["deniedCall"].startswith("AccessDeniedException: User: check-role is not authorized")
    assert stubs.params_of("DescribeStackResource") == [] and stubs.params_of("PutEvents") == []
    return state


def settle(stubs: Stubs, waiting: dict[str, Any]) -> dict[str, Any]:
    calls_before = len(stubs.calls)
    state = check_again(stubs, waiting, 901)
    # The settling check calls nothing it was denied again: its stack, its resource, an event at most.
    settling_calls = [name for name, _ in stubs.calls[calls_before:]]
    assert "ListExecutions" not in settling_calls and "StartExecution" not in settling_calls
    return state


def test_a_delivery_still_denied_once_the_stack_settled_is_dropped_when_its_job_is_gone(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # The update removed the job (its schedule and the runtime's grant with it): the delivery came before
    # its cleanup deleted the schedule. Once the stack has settled there is nothing to run.
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    stubs.expect_stack_resource("Job", None)
    state = settle(stubs, waiting)
    assert state["done"] is True and "result" not in state
    assert "no longer grants this run" in state["reason"]
    assert stubs.params_of("DescribeStackResource") == [{"StackName": STACK_ID, "LogicalResourceId": "Job"}]
    assert stubs.params_of("PutEvents") == [] and stubs.params_of("StartExecution") == []
    dropped = [record for record in logged(capsys) if record["decision"] == "run-dropped"]
    assert len(dropped) == 1 and dropped[0]["stackStatus"] == "UPDATE_COMPLETE"


def test_a_delivery_denied_on_a_settled_stack_whose_job_is_deleted_is_dropped(stubs: Stubs) -> None:
    # DescribeStackResource describes a deleted resource (a deleted stack's, for 90 days) as DELETE_*.
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    stubs.expect_stack_resource("Job", "DELETE_COMPLETE")
    state = settle(stubs, waiting)
    assert state["done"] is True and "result" not in state and stubs.params_of("PutEvents") == []


def test_a_delivery_denied_whose_stack_is_gone_by_the_settling_check_is_dropped(stubs: Stubs) -> None:
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("DELETE_COMPLETE")
    state = settle(stubs, waiting)
    assert state["done"] is True and "result" not in state and "DELETE_COMPLETE" in state["reason"]
    assert stubs.params_of("DescribeStackResource") == [] and stubs.params_of("PutEvents") == []


def sent_failure(stubs: Stubs) -> dict[str, Any]:
    (put,) = stubs.params_of("PutEvents")
    (entry,) = put["Entries"]
    detail: dict[str, Any] = json.loads(entry["Detail"])
    assert entry["DetailType"] == scheduled.contract.BATCH_INFERENCE.detail_type
    assert (detail["result"], detail["status"], detail["trigger"]) == ("FAILURE", "FAILURE", "schedule")
    assert detail["jobArn"] is None and detail["logicalId"] == "Job" and detail["stackId"] == STACK_ID
    assert detail["failureReason"] == detail["reason"]
    return detail


def test_a_delivery_denied_on_a_settled_stack_that_still_holds_its_job_fails_with_an_event(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # A permissions boundary, an SCP or a policy edited by hand: not an update's doing. The user's
    # on_failure rules must hear of it, each week.
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    stubs.expect_stack_resource("Job", "UPDATE_COMPLETE")
    stubs.events.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    state = settle(stubs, waiting)
    assert (state["done"], state["result"]) == (True, "FAILURE")
    reason = sent_failure(stubs)["reason"]
    assert reason == state["reason"]
    assert reason.startswith("The scheduled run of the batch inference job was denied 5 times in a row")
    assert "still holds the job Job (UPDATE_COMPLETE)" in reason
    assert "states:ListExecutions" in reason  # the denied call
    assert "permissions boundary" in reason and "(SCP)" in reason and "Nothing was started" in reason
    assert stubs.params_of("StartExecution") == []
    failed = [record for record in logged(capsys) if record["decision"] == "run-failed"]
    assert len(failed) == 1 and failed[0]["eventSent"] is True


def test_a_chained_request_denied_on_a_settled_stack_that_holds_its_job_fails_too(stubs: Stubs) -> None:
    request = run_request(trigger="chain", upstreamArn=NEW_VERSION, sourceProp="SolutionVersionArn")
    request.pop("scheduledTime")
    waiting = {**request, "deniedSince": at(0), "deniedChecks": 5, "deniedCall": f"{DENIED[0]}: {DENIED[1]}"}
    stubs.expect_stack_status("CREATE_COMPLETE")
    stubs.expect_stack_resource("Job", "CREATE_COMPLETE")
    stubs.events.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    state = settle(stubs, waiting)
    assert state["result"] == "FAILURE" and state["reason"].startswith("The chained run of the batch")
    detail = json.loads(stubs.params_of("PutEvents")[0]["Entries"][0]["Detail"])
    assert (detail["trigger"], detail["upstreamArn"]) == ("chain", NEW_VERSION)


def test_a_delivery_denied_on_a_settled_stack_fails_when_cloudformation_denies_the_question(
    stubs: Stubs,
) -> None:
    # A settled stack denying both is not an update's doing; failing loudly changes no stack.
    code, message = "AccessDenied", "User: check-role is not authorized to perform: cloudformation:X"
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    stubs.cloudformation.add_client_error("describe_stack_resource", code, message, 400)
    stubs.events.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    state = settle(stubs, waiting)
    assert state["result"] == "FAILURE"
    reason = sent_failure(stubs)["reason"]
    assert f"could not tell whether it still holds the job Job (DescribeStackResource: {code}" in reason
    assert "states:ListExecutions" in reason and "permissions boundary" in reason


def test_a_delivery_first_denied_while_the_stack_changed_is_dropped_though_the_job_stays(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # An update removed the job's schedule (and with the last schedule the runtime's grant to start runs)
    # but kept the job (make fuzz --family seed 281): the delivery met the cleanup, then the settled stack.
    # The update's doing, not a real denial: dropped as before, CloudFormation not asked about the job.
    deny_listing(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    state = first_check(stubs, run_request())
    assert (state["deniedChecks"], state["deniedWhileChanging"]) == (0, True)
    for seconds in (60, 120, 180, 240, 300):
        deny_listing(stubs)
        stubs.expect_stack_status("UPDATE_COMPLETE")
        state = check_again(stubs, state, seconds)
    assert (state["deniedChecks"], state["waitSeconds"], state["deniedWhileChanging"]) == (5, 1, True)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    state = settle(stubs, state)
    assert state["done"] is True and "result" not in state and "no longer grants this run" in state["reason"]
    assert stubs.params_of("DescribeStackResource") == [] and stubs.params_of("PutEvents") == []
    decisions = [record["decision"] for record in logged(capsys)]
    assert decisions[-2:] == ["run-denied-after-change", "run-dropped"]


def test_a_settling_check_that_meets_the_stack_changing_again_asks_again(stubs: Stubs) -> None:
    # An update began in between: its denials are not counted, the request is asked again from scratch.
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("UPDATE_IN_PROGRESS")
    state = settle(stubs, waiting)
    assert (state["done"], state["deniedChecks"], state["deniedWhileChanging"]) == (False, 0, True)
    assert not scheduled.settles_denial(state)  # its next check asks for its run's calls again
    assert stubs.params_of("DescribeStackResource") == [] and stubs.params_of("PutEvents") == []


def test_a_delivery_denied_on_a_settled_stack_asks_again_first(stubs: Stubs) -> None:
    # A policy just put in place (a first deploy) may take seconds to come into effect.
    deny_listing(stubs)
    stubs.expect_stack_status("CREATE_COMPLETE")
    state = first_check(stubs, run_request())
    assert (state["done"], state["deniedChecks"]) == (False, 1)


def test_a_delivery_denied_while_its_stack_is_created_counts_the_denial(stubs: Stubs) -> None:
    # No grant can be taken away during a create: the denial counts as on a settled stack, so a real
    # denial stops asking within minutes, not at the end of the stack's create.
    waiting = {**run_request(), "deniedSince": at(0), "deniedChecks": 2}
    deny_listing(stubs)
    stubs.expect_stack_status("CREATE_IN_PROGRESS")
    state = check_again(stubs, waiting, 180)
    assert (state["done"], state["deniedChecks"]) == (False, 3)


def test_other_errors_of_the_listing_still_run_the_request(stubs: Stubs) -> None:
    request = run_request()
    stubs.stepfunctions.add_client_error("list_executions", "ThrottlingException", "slow down", 400)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, None)
    expect_start(stubs, own_execution(request))
    state = first_check(stubs, request)
    assert state["done"] is True and stubs.params_of("DescribeStacks") == []


# --- a chained run's monitor (make fuzz seed 219) ----------------------------------------------------


def test_a_chained_runs_monitor_asks_cloudformation_when_denied_and_does_not_count_it(stubs: Stubs) -> None:
    # The state a chain rule's request starts carries the stack and no WaitCondition handle, so the
    # monitor's rule for denials while the stack changes applies to it as to a wait=False deploy run.
    request = run_request(trigger="chain", upstreamArn=NEW_VERSION, sourceProp="SolutionVersionArn")
    request.pop("scheduledTime")
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, None)
    expect_start(stubs, own_execution(request))
    first_check(stubs, request)
    run = started_state(stubs)
    assert run["waitHandle"] is None and run["stackId"] == STACK_ID
    run.update({"created": True, "status": "IN PROGRESS", "consecutiveErrors": 4, "startedAt": at(0)})
    run.pop("createRequest", None)
    stubs.personalize.add_client_error("describe_batch_inference_job", "AccessDeniedException", "denied")
    stubs.expect_stack_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    state = dict(
        monitor.run_check(
            {"state": run, "now": at(600), "execution": f"{STATE_MACHINE_ARN}:x"}, stubs.clients, "r"
        )
    )
    assert (state["done"], state["consecutiveErrors"]) == (False, 4)
    assert stubs.params_of("PutEvents") == []


@pytest.mark.parametrize(
    ("resource_status", "dropped"),
    [(None, True), ("DELETE_IN_PROGRESS", True), ("DELETE_COMPLETE", True), ("DELETE_FAILED", True)]
    + [
        (status, False) for status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED", "CREATE_FAILED")
    ],
)
def test_only_a_job_the_stack_no_longer_holds_drops_a_settled_denial(
    resource_status: str | None, dropped: bool
) -> None:
    asked = schedule.decide_on_denied_run_request("UPDATE_COMPLETE", 5, 300, 21_480)
    decision = schedule.decide_on_held_resource(
        asked,
        noun="batch inference job",
        trigger="schedule",
        logical_id="Job",
        stack_status="UPDATE_COMPLETE",
        settled_denials=5,
        denial="AccessDeniedException: denied",
        resource_status=resource_status,
    )
    assert decision.done is True
    assert (decision.result is None) is dropped


def test_a_request_the_previous_release_left_waiting_is_dropped_as_it_was(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # Started before the upgrade: it waits without deniedCall (nor deniedWhileChanging), as the previous
    # release wrote it, which dropped it once the stack had settled. Still dropped: no question, no event.
    waiting = {**run_request(), "deniedSince": at(0), "deniedChecks": 4}
    deny_listing(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    state = check_again(stubs, waiting, 900)
    assert (state["done"], state["deniedChecks"], state["deniedWhileChanging"]) == (False, 5, True)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    state = settle(stubs, state)
    assert state["done"] is True and "result" not in state and "no longer grants this run" in state["reason"]
    assert stubs.params_of("DescribeStackResource") == [] and stubs.params_of("PutEvents") == []
    decisions = [record["decision"] for record in logged(capsys)]
    assert decisions[-2:] == ["run-denied-after-change", "run-dropped"]


def test_a_first_denial_is_not_taken_for_a_request_of_the_previous_release() -> None:
    old = {**run_request(), "deniedSince": at(0), "deniedChecks": 4}
    assert scheduled.left_by_previous_release(old) is True
    assert scheduled.left_by_previous_release(run_request()) is False
    assert scheduled.left_by_previous_release({**old, "deniedCall": "x"}) is False


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", 400),
        ("ThrottlingException", 400),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_a_settling_check_whose_question_fails_for_now_asks_again_then_decides(
    stubs: Stubs, capsys: pytest.CaptureFixture[str], code: str, status: int
) -> None:
    # Throttled or a 5xx: CloudFormation did not answer, it did not say the job is held. The request asks
    # again later (its denials not counted again), then the answer decides.
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    stubs.cloudformation.add_client_error("describe_stack_resource", code, "Rate exceeded", status)
    state = settle(stubs, waiting)
    assert (state["done"], state["deniedChecks"], state["waitSeconds"]) == (False, 5, 91)  # 10 % of 901 s
    assert "result" not in state and stubs.params_of("PutEvents") == []
    assert state["deniedCall"] == waiting["deniedCall"] and state["deniedSince"] == at(0)
    assert scheduled.settles_denial(state)  # the next check asks CloudFormation again, nothing else
    assert any(record["decision"] == "run-denied-question-retry" for record in logged(capsys))
    stubs.expect_stack_status("UPDATE_COMPLETE")
    stubs.expect_stack_resource("Job", "UPDATE_COMPLETE")
    stubs.events.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    state = settle(stubs, state)
    assert state["result"] == "FAILURE" and "denied 5 times in a row" in sent_failure(stubs)["reason"]
    assert len(stubs.params_of("DescribeStackResource")) == 2


def test_a_question_that_keeps_failing_for_now_ends_at_the_runs_timeout_without_an_event(
    stubs: Stubs,
) -> None:
    waiting = deny_five_times(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE")
    stubs.cloudformation.add_client_error("describe_stack_resource", "Throttling", "Rate exceeded", 400)
    state = settle(stubs, waiting)
    assert state["done"] is False
    stubs.expect_stack_status("UPDATE_COMPLETE")
    state = check_again(stubs, state, 21_600)  # the run's TimeoutSeconds since deniedSince
    assert state["done"] is True and "result" not in state and "timeout" in state["reason"]
    assert stubs.params_of("PutEvents") == [] and len(stubs.params_of("DescribeStackResource")) == 1


def test_only_a_question_failing_for_now_waits() -> None:
    asked = schedule.decide_on_denied_run_request("UPDATE_COMPLETE", 5, 300, 21_480)
    common: dict[str, Any] = {
        "noun": "batch inference job",
        "trigger": "schedule",
        "logical_id": "Job",
        "stack_status": "UPDATE_COMPLETE",
        "settled_denials": 5,
        "denial": "AccessDeniedException: denied",
        "resource_status": None,
    }
    waits = schedule.decide_on_held_resource(
        asked, **common, question_error="Throttling: x", retry_seconds=60
    )
    assert (waits.done, waits.wait_seconds, waits.result) == (False, 60, None)
    fails = schedule.decide_on_held_resource(asked, **common, question_error="AccessDenied: x")
    assert fails.result == "FAILURE"
    held = schedule.decide_on_held_resource(
        asked, **{**common, "resource_status": "UPDATE_COMPLETE"}, retry_seconds=60
    )
    assert held.result == "FAILURE"  # an answer is an answer: retry_seconds only for a failed question


# --- a late delivery that meets only the settled stack of the update that took its grant -------------

SCHEDULED_AT = datetime.fromisoformat(run_request()["scheduledTime"].replace("Z", "+00:00"))


def test_a_late_delivery_after_the_update_that_removed_its_schedule_is_dropped(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # The update removed the job's last schedule (and the grant to start runs) but kept the job; it began
    # after the delivery was due and completed before Scheduler's late delivery (or a retry) arrived, so
    # no denial met the stack changing. LastUpdatedTime says the update came after: dropped, no event.
    updated = SCHEDULED_AT + timedelta(minutes=2)
    deny_listing(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=updated)
    state = first_check(stubs, run_request())
    assert (state["deniedChecks"], state["deniedWhileChanging"]) == (1, True)
    for seconds in (60, 120, 180):
        deny_listing(stubs)
        stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=updated)
        state = check_again(stubs, state, seconds)
    assert (state["deniedChecks"], state["waitSeconds"]) == (4, 60)
    deny_listing(stubs)
    stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=updated)
    state = check_again(stubs, state, 240)
    stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=updated)
    state = settle(stubs, state)
    assert state["done"] is True and "result" not in state and "no longer grants this run" in state["reason"]
    assert stubs.params_of("DescribeStackResource") == [] and stubs.params_of("PutEvents") == []
    decisions = [record["decision"] for record in logged(capsys)]
    assert decisions[-2:] == ["run-denied-after-change", "run-dropped"]


def test_a_stack_not_updated_since_the_delivery_was_due_still_fails_loudly(stubs: Stubs) -> None:
    before = SCHEDULED_AT - timedelta(days=3)  # the last update came before: not the update's doing
    waiting = {
        **run_request(),
        "deniedSince": at(0),
        "deniedChecks": 5,
        "deniedCall": f"{DENIED[0]}: {DENIED[1]}",
    }
    waiting["deniedWhileChanging"] = False
    stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=before)
    stubs.expect_stack_resource("Job", "UPDATE_COMPLETE")
    stubs.events.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    state = settle(stubs, waiting)
    assert state["result"] == "FAILURE" and "still holds the job Job" in sent_failure(stubs)["reason"]


def test_the_settling_check_alone_may_find_the_stack_updated_since(stubs: Stubs) -> None:
    waiting = {
        **run_request(),
        "deniedSince": at(0),
        "deniedChecks": 5,
        "deniedCall": f"{DENIED[0]}: {DENIED[1]}",
    }
    waiting["deniedWhileChanging"] = False
    stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=SCHEDULED_AT + timedelta(seconds=1))
    state = settle(stubs, waiting)
    assert state["done"] is True and "result" not in state
    assert stubs.params_of("DescribeStackResource") == [] and stubs.params_of("PutEvents") == []


def test_a_chained_request_without_a_time_compares_with_its_first_denial() -> None:
    chained = run_request(trigger="chain", upstreamArn=NEW_VERSION)
    chained.pop("scheduledTime")
    assert scheduled.request_moment(chained, at(0)) == at(0)
    assert scheduled.request_moment(run_request(), at(0)) == run_request()["scheduledTime"]
    first = datetime.fromisoformat(at(0).replace("Z", "+00:00"))
    assert scheduled.updated_since(first + timedelta(seconds=1), at(0)) is True
    assert scheduled.updated_since(first, at(0)) is False  # not later
    assert scheduled.updated_since(None, at(0)) is False  # never updated
    assert scheduled.updated_since(first, "not a time") is False


def test_the_stack_state_reads_last_updated_time_from_the_same_answer(stubs: Stubs) -> None:
    updated = SCHEDULED_AT + timedelta(hours=1)
    stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=updated)
    assert monitor_ops.stack_state(stubs.clients.cloudformation, STACK_ID) == ("UPDATE_COMPLETE", updated)
    stubs.expect_stack_status("CREATE_COMPLETE")
    assert monitor_ops.stack_state(stubs.clients.cloudformation, STACK_ID) == ("CREATE_COMPLETE", None)
    stubs.expect_stack_status("UPDATE_COMPLETE", last_updated=updated)
    assert monitor_ops.stack_status(stubs.clients.cloudformation, STACK_ID) == "UPDATE_COMPLETE"
    assert monitor_ops.stack_state(stubs.clients.cloudformation, None) == (None, None)
