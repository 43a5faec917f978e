"""A stack of 8 jobs deploys under the default quota of 5 pending-or-in-progress jobs.

The test plays Personalize: it knows which call each step makes (a queued job's check creates it, any
other check describes it) and stubs that one call with what a service holding at most 5 running jobs
would answer at that simulated time. The handler and the monitor run unchanged.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Any

import handler
import monitor

from .testkit import (
    PUT_EVENTS_OK,
    Stubs,
    arn_of,
    at,
    base_properties,
    cfn_event,
    describe_response,
    request_of,
)

QUOTA = 5
JOBS = 8
JOB_DURATION = 2 * 3600
TIMEOUT = 6 * 3600


@dataclass
class FakePersonalize:
    """When each job was created; a job runs for JOB_DURATION, then is ACTIVE."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: dict[str, float] = field(default_factory=dict)
    most_running: int = 0

    def running(self, now: float) -> int:
        return sum(1 for start in self.created_at.values() if start <= now < start + JOB_DURATION)

    def stub_create(self, stubs: Stubs, name: str, now: float) -> None:
        if self.running(now) >= QUOTA:
            stubs.personalize.add_client_error(
                "create_batch_inference_job", "LimitExceededException", "Too many pending or in-progress jobs"
            )
            return
        self.created_at[name] = now
        self.most_running = max(self.most_running, self.running(now))
        stubs.personalize.add_response("create_batch_inference_job", {"batchInferenceJobArn": arn_of(name)})

    def stub_describe(self, stubs: Stubs, name: str, now: float) -> None:
        done = now >= self.created_at[name] + JOB_DURATION
        stubs.personalize.add_response(
            "describe_batch_inference_job",
            describe_response(self.requests[name], "ACTIVE" if done else "IN PROGRESS"),
        )


def deploy(stubs: Stubs, service: FakePersonalize) -> list[dict[str, Any]]:
    """Create events for 8 job resources at time 0; returns the monitors' execution inputs."""
    for index in range(JOBS):
        properties = base_properties(TimeoutSeconds=str(TIMEOUT), JobNamePrefix=f"RecsStack-Job{index}")
        request = request_of(properties, logical_id=f"Job{index}")
        service.requests[request["jobName"]] = request
        service.stub_create(stubs, request["jobName"], 0)
        stubs.stepfunctions.add_response("start_execution", {"executionArn": "arn:x", "startDate": 0})
        handler.handle_event(cfn_event("Create", properties, logical_id=f"Job{index}"), stubs.clients, "req")
    return [json.loads(params["input"]) for params in stubs.params_of("StartExecution")]


def run_monitors(
    stubs: Stubs, service: FakePersonalize, states: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run every monitor's Wait -> Check loop on simulated time until all are done."""
    for _ in states:
        stubs.events.add_response("put_events", PUT_EVENTS_OK)
    queue = [(0.0, index, state) for index, state in enumerate(states)]
    finished: list[dict[str, Any]] = []
    while queue:
        now, index, state = heapq.heappop(queue)
        if state["created"]:
            service.stub_describe(stubs, state["jobName"], now)
        else:
            service.stub_create(stubs, state["jobName"], now)
        state = monitor.run_check({"state": state, "now": at(now)}, stubs.clients, "req")
        if state["done"]:
            finished.append({**state, "endedAt": now})
        else:
            heapq.heappush(queue, (now + state["waitSeconds"], index, state))
    return finished


def test_eight_jobs_deploy_under_a_quota_of_five(stubs: Stubs) -> None:
    service = FakePersonalize()
    states = deploy(stubs, service)
    assert [state["status"] for state in states] == ["PENDING"] * QUOTA + ["QUEUED"] * (JOBS - QUOTA)

    finished = run_monitors(stubs, service, states)

    assert sorted(state["result"] for state in finished) == ["SUCCESS"] * JOBS
    assert len(service.created_at) == JOBS
    assert service.most_running == QUOTA
    assert all(state["endedAt"] < TIMEOUT for state in finished)
    assert max(state["checks"] for state in finished) <= 100
