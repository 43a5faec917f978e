"""scheduled.py: a skip is sent once per scheduled time (or upstream run), as a run is started once.

EventBridge Scheduler and EventBridge rules deliver at least once. A repeated delivery of a run finds the
run's own execution name taken; a skip takes the same name (``scheduled.claim_skip``) before it sends its
SKIPPED event, so a repeated delivery of a skipped time sends nothing either.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.stub import ANY

from .test_schedule_runs import (
    EXECUTION,
    USERS,
    expect_claim,
    expect_input,
    expect_latest,
    expect_running_runs,
    expect_start,
    first_check,
    own_execution,
    recorded,
    run_request,
)
from .testkit import PUT_EVENTS_OK, STACK_ID, STATE_MACHINE_ARN, Stubs, at

import monitor  # isort: skip  (on sys.path once testkit is imported)
import names  # isort: skip
import scheduled  # isort: skip

SECOND_DELIVERY = names.execution_arn(STATE_MACHINE_ARN, "scheduler-delivery-2")
LAST_RUN = {"result": "SUCCESS", "jobName": "RecsStack-Job-old", "input": recorded(USERS)}


def delivered(stubs: Stubs, request: dict[str, Any], execution: str) -> dict[str, Any]:
    event = {"state": request, "now": at(0), "execution": execution}
    return dict(monitor.run_check(event, stubs.clients, "req-2"))


def expect_name_taken(stubs: Stubs, request: dict[str, Any]) -> None:
    stubs.stepfunctions.add_client_error(
        "start_execution",
        "ExecutionAlreadyExists",
        "Execution Already Exists",
        expected_params={"stateMachineArn": STATE_MACHINE_ARN, "name": own_execution(request), "input": ANY},
    )


def sent_events(stubs: Stubs) -> list[dict[str, Any]]:
    return [
        json.loads(entry["Detail"]) for params in stubs.params_of("PutEvents") for entry in params["Entries"]
    ]


def test_an_unchanged_scheduled_time_delivered_twice_sends_one_skipped_event(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, LAST_RUN)
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    first = first_check(stubs, request)
    # The repeated delivery, after the claim's execution ended: the same check, the name taken.
    expect_running_runs(stubs)
    expect_input(stubs, "in-bucket", "users/", USERS)
    expect_latest(stubs, LAST_RUN)
    expect_name_taken(stubs, request)
    second = delivered(stubs, request, SECOND_DELIVERY)
    assert first["result"] == "SKIPPED" and (second["done"], "result" in second) == (True, False)
    assert [event["result"] for event in sent_events(stubs)] == ["SKIPPED"]


def test_a_delivery_repeated_while_the_skips_claim_runs_sends_nothing(stubs: Stubs) -> None:
    request = run_request()
    other = scheduled.run_execution_name(STACK_ID, "Job", "at:2026-11-30T08:00:00Z")
    expect_running_runs(stubs, other)
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    assert first_check(stubs, request)["result"] == "SKIPPED"
    expect_running_runs(stubs, other, own_execution(request))  # the claim has not ended yet
    second = delivered(stubs, request, SECOND_DELIVERY)
    assert "result" not in second and len(sent_events(stubs)) == 1
    assert len(stubs.params_of("StartExecution")) == 1


def test_the_claim_names_its_delivery_so_that_a_concurrent_one_never_matches_it(stubs: Stubs) -> None:
    # Step Functions answers StartExecution with a running execution's name *and input* as a success:
    # two deliveries claiming at once must differ in input, so that the later one meets the name taken.
    request = run_request()
    expect_running_runs(stubs, scheduled.run_execution_name(STACK_ID, "Job", "at:2026-11-30T08:00:00Z"))
    expect_claim(stubs)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    first_check(stubs, request)
    ((params,),) = [stubs.params_of("StartExecution")]
    claim = json.loads(params["input"])
    assert claim["skipClaim"]["by"] == EXECUTION
    assert (claim["trigger"], claim["scheduledTime"]) == ("schedule", request["scheduledTime"])
    assert "properties" not in claim  # nothing a run could be made from


def test_a_skips_claim_ends_at_its_first_check_without_a_call(stubs: Stubs) -> None:
    claim = {
        **{
            key: run_request()[key]
            for key in ("trigger", "scheduledTime", "resourceType", "stackId", "logicalId")
        },
        "skipClaim": {"result": "SKIPPED", "jobName": None, "reason": "Unchanged", "by": EXECUTION},
    }
    state = delivered(stubs, claim, names.execution_arn(STATE_MACHINE_ARN, own_execution(run_request())))
    assert (state["done"], state["result"], state["reason"]) == (True, "SKIPPED", "Unchanged")
    aborted = dict(
        monitor.run_check(
            {"state": claim, "now": at(0), "execution": EXECUTION, "abort": {"Error": "X"}},
            stubs.clients,
            "r",
        )
    )
    assert aborted["result"] == "SKIPPED"
    assert stubs.calls == []  # no listing, no event: the delivery that claimed sent it


def test_a_skip_whose_claim_cannot_be_made_still_reports_it(stubs: Stubs) -> None:
    request = run_request()
    expect_running_runs(stubs, scheduled.run_execution_name(STACK_ID, "Job", "at:2026-11-30T08:00:00Z"))
    stubs.stepfunctions.add_client_error("start_execution", "ThrottlingException", "Rate exceeded", 400)
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    state = first_check(stubs, request)
    assert state["result"] == "SKIPPED" and [event["result"] for event in sent_events(stubs)] == ["SKIPPED"]


def test_a_chain_rules_repeated_delivery_of_a_skipped_run_sends_one_event(stubs: Stubs) -> None:
    # EventBridge delivers a rule's target at least once too: the key is the upstream run's job ARN.
    upstream = "arn:aws:personalize:us-east-1:123456789012:solution/recs/9f9f9f9f"
    request = run_request(trigger="chain", upstreamArn=upstream, sourceProp="SolutionVersionArn")
    request.pop("scheduledTime")
    other = scheduled.run_execution_name(STACK_ID, "Job", "at:2026-11-30T08:00:00Z")
    expect_running_runs(stubs, other)
    expect_start(stubs, own_execution(request))
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    assert first_check(stubs, request)["result"] == "SKIPPED"
    expect_running_runs(stubs, other)
    expect_name_taken(stubs, request)
    assert "result" not in delivered(stubs, request, SECOND_DELIVERY)
    (event,) = sent_events(stubs)
    assert (event["result"], event["trigger"], event["upstreamArn"]) == ("SKIPPED", "chain", upstream)
    assert own_execution(request) != own_execution(run_request())  # named after the upstream run
