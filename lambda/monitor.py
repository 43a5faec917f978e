"""`check`: one step of the monitor state machine's Wait -> Check -> Choice loop.

Takes `{"state": {...}, "now": "ISO time"}` and returns the next state: `waitSeconds` until the next
check, or `done: true` once the job has ended, after the WaitCondition signal and the EventBridge
event. The clock is `now` (Step Functions' time), never the Lambda's. See docs/handler-contract.md.
"""

from __future__ import annotations

import os
from typing import Any

import job_logic
from aws_clients import AwsError, Clients, default_clients, describe_error, error_kind
from job_logic import Decision
from jsonlog import log, request_id_of
from notify import put_event, signal_wait_handle
from personalize_ops import create_or_adopt, describe_job

State = dict[str, Any]

# Error kinds after which the same call is simply made again at the next check.
RETRY_ON_CREATE = frozenset({"transient", "queue"})
RETRY_ON_DESCRIBE = frozenset({"transient", "queue", "not_found"})  # not_found: just created


def check(event: dict[str, Any], context: Any) -> State:
    return run_check(event, default_clients(), request_id_of(context))


def run_check(event: dict[str, Any], clients: Clients, request_id: str | None) -> State:
    state: State = dict(event["state"])
    now = job_logic.parse_time(event["now"])
    state["startedAt"] = state.get("startedAt") or event["now"]
    started = job_logic.parse_time(state["startedAt"])
    elapsed = (now - started).total_seconds()
    if "abort" in event:
        # The state machine caught an error the loop could not handle: report it rather than leave
        # the stack waiting for the WaitCondition's timeout.
        state.pop("caught", None)
        decision = Decision.end("FAILURE", job_logic.monitor_failure_reason(event["abort"]))
    else:
        state["checks"] = int(state.get("checks") or 0) + 1
        decision = advance(state, clients, elapsed)
    log(
        "end" if decision.done else "wait",
        request_id=request_id,
        job_arn=state["jobArn"],
        status=state["status"],
        checks=state["checks"],
        waitSeconds=decision.wait_seconds,
        result=decision.result,
        reason=decision.reason or None,
    )
    if decision.done:
        finish(state, decision, clients, elapsed, request_id)
    state["waitSeconds"] = decision.wait_seconds
    state["done"] = decision.done
    return state


def advance(state: State, clients: Clients, elapsed: float) -> Decision:
    """Create the job if it is still queued, else look at its status; decide what comes next."""
    timeout = int(state["timeoutSeconds"])
    if not state.get("created"):
        return try_create(state, clients, elapsed, timeout)
    try:
        job = describe_job(clients.personalize, state["jobArn"])
    except AwsError as error:
        return on_error(state, error, RETRY_ON_DESCRIBE, elapsed, timeout)
    state["consecutiveErrors"] = 0
    state["status"] = job_logic.normalize_status(job.get("status"))
    return job_logic.decide_on_status(state["status"], job.get("failureReason"), elapsed, timeout)


def try_create(state: State, clients: Clients, elapsed: float, timeout: int) -> Decision:
    """A queued job: create it now if a slot is free; past the timeout, give up without creating it."""
    if elapsed >= timeout:
        return job_logic.decide_while_queued(elapsed, timeout)
    try:
        outcome = create_or_adopt(clients.personalize, state["createRequest"], state["jobArn"])
    except AwsError as error:
        return on_error(state, error, RETRY_ON_CREATE, elapsed, timeout)
    state["consecutiveErrors"] = 0
    state["status"] = outcome.status
    if outcome.kind == "queued":
        return job_logic.decide_while_queued(elapsed, timeout)
    if outcome.kind == "mismatch":
        return Decision.end("FAILURE", outcome.detail)
    state["created"] = True
    state.pop("createRequest", None)
    return job_logic.decide_on_status(outcome.status, outcome.failure_reason, elapsed, timeout)


def on_error(
    state: State, error: Exception, retryable: frozenset[str], elapsed: float, timeout: int
) -> Decision:
    """Retryable errors: check again later (a bounded number of times in a row); others end the job."""
    kind = error_kind(error)
    reason = describe_error(error)
    if kind not in retryable:
        return Decision.end("FAILURE", f"The batch inference job could not be started or checked: {reason}")
    state["consecutiveErrors"] = int(state.get("consecutiveErrors") or 0) + 1
    return job_logic.decide_on_retryable_error(
        state["consecutiveErrors"], reason, state["status"], elapsed, timeout
    )


def finish(
    state: State,
    decision: Decision,
    clients: Clients,
    elapsed: float,
    request_id: str | None,
) -> None:
    """Signal the WaitCondition (if any) and put the one EventBridge event."""
    result = decision.result or "FAILURE"
    state["result"] = result
    state["reason"] = job_logic.truncate_bytes(decision.reason, job_logic.EVENT_REASON_LIMIT_BYTES)
    if state.get("waitHandle"):
        data = {"jobArn": state["jobArn"], "outputS3Uri": state["outputS3Uri"], "status": state["status"]}
        body = job_logic.signal_body(result, decision.reason, state["jobName"], data)
        outcome, detail = signal_wait_handle(state["waitHandle"], body)
        log(
            f"signal-{outcome}",
            request_id=request_id,
            job_arn=state["jobArn"],
            status=state["status"],
            detail=detail,
        )
    detail_doc = {
        "jobArn": state["jobArn"],
        "jobName": state["jobName"],
        "status": state["status"],
        "result": result,
        "failureReason": state["reason"] if result == "FAILURE" else None,
        "outputS3Uri": state["outputS3Uri"],
        "durationSeconds": round(elapsed),
        "stackId": state.get("stackId"),
        "logicalId": state.get("logicalId"),
    }
    sent, event_detail = put_event(clients.events, os.environ.get("EVENT_BUS_NAME", "default"), detail_doc)
    log(
        "event-sent" if sent else "event-failed",
        request_id=request_id,
        job_arn=state["jobArn"],
        status=state["status"],
        detail=event_detail,
    )
