"""Every invocation's worst case fits its function's timeout (and the on-event function's, CloudFormation's
ServiceTimeout): each heaviest path runs once with stubs to count its AWS calls, and each call is taken
at its worst, every attempt timing out, from the configured client timeouts, attempts and backoff."""

from __future__ import annotations

from .test_monitor_check import (
    ARN,
    expect_manifest,
    expect_report,
    expect_running,
    expect_status,
    run,
    started,
)
from .testkit import (
    SOLUTION_VERSION_ARN,
    HandleServer,
    Stubs,
    arn_of,
    base_properties,
    cfn_event,
    describe_response,
    execution_of,
    kind_properties,
    name_of,
    request_of,
)

import aws_clients  # isort: skip  (on sys.path once testkit is imported)
import contract  # isort: skip
import handler  # isort: skip
import manifest  # isort: skip
import notify  # isort: skip

CALL = aws_clients.call_worst_case_seconds()


def worst(stubs: Stubs, *waits: float) -> float:
    return len(stubs.calls) * CALL + sum(waits)


def test_a_call_at_its_worst_is_two_timed_out_attempts_and_one_backoff() -> None:
    assert CALL == 2 * (3 + 10) + 6


def test_the_heaviest_update_fits_the_on_event_timeout_and_the_service_timeout(stubs: Stubs) -> None:
    # A replacement: this request's monitor looked up, the old job's monitor stopped, the new job found
    # already created (adopted), a racing monitor of it stopped, this request's monitor started.
    old, new = base_properties(), base_properties(NumResults="50")
    new_arn = arn_of(name_of(new))
    old_monitor = execution_of(arn_of(name_of(old)), "an-earlier-request")
    stubs.expect_first_delivery()
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(new), "PENDING")
    )
    stubs.expect_start(execution_of(new_arn, "a-racing-request"))
    stubs.expect_list_monitors(old_monitor)
    stubs.expect_stop(old_monitor)
    event = cfn_event("Update", new, old_properties=old, physical_id=arn_of(name_of(old)))
    handler.handle_event(event, stubs.clients, "req-1")
    assert len(stubs.calls) == 8
    assert worst(stubs) <= contract.ON_EVENT_TIMEOUT_SECONDS <= contract.SERVICE_TIMEOUT_SECONDS


class WorstCaseClock:
    """The on-event function's time left when every AWS call takes its worst case and sleeps take
    their length: what the handler's bounded steps see through ``remaining``."""

    def __init__(self, stubs: Stubs) -> None:
        self.stubs = stubs
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds

    def elapsed(self) -> float:
        return worst(self.stubs, self.slept)

    def remaining(self) -> float:
        return contract.ON_EVENT_TIMEOUT_SECONDS - self.elapsed()


def expect_versions(stubs: Stubs, count: int, *, pages: int | None = None) -> None:
    """ListSolutionVersions pages of 100 over ``count`` versions none of which is the request's."""
    solution = SOLUTION_VERSION_ARN.rsplit("/", 1)[0]
    arns = [f"{solution}/{index:08x}" for index in range(count)]
    chunks = ([arns[start : start + 100] for start in range(0, count, 100)] or [[]])[:pages]
    for number, chunk in enumerate(chunks):
        answer: dict[str, object] = {"solutionVersions": [{"solutionVersionArn": arn} for arn in chunk]}
        if (number + 1) * 100 < count:
            answer["nextToken"] = f"page-{number + 1}"
        stubs.personalize.add_response("list_solution_versions", answer)


def test_a_solution_version_waiting_for_a_training_slot_fits_the_on_event_timeout(stubs: Stubs) -> None:
    # A full training quota, every call at its worst: the retries stop in time, and the create fails
    # naming the quota within the timeout.
    clock = WorstCaseClock(stubs)
    expect_versions(stubs, 0)
    # At 32 s a call: the listing and the first create leave 776 s; each retry (a create and its wait)
    # still leaves room for the answer's 6 calls, so every retry is tried, and the create fails in time.
    for _ in range(1 + len(handler.CREATE_RETRY_SECONDS)):
        stubs.personalize.add_client_error(
            "create_solution_version", "LimitExceededException", "20 trainings"
        )
    event = cfn_event("Create", kind_properties(contract.SOLUTION_VERSION), kind=contract.SOLUTION_VERSION)
    try:
        handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep, remaining=clock.remaining)
    except handler.JobResourceError as error:
        assert "20 trainings" in str(error)
    else:
        raise AssertionError("created without a slot")
    assert clock.elapsed() <= contract.ON_EVENT_TIMEOUT_SECONDS


def test_a_search_among_hundreds_of_versions_too_slow_to_finish_creates_nothing_and_answers_in_time(
    stubs: Stubs,
) -> None:
    # Creating without having looked everywhere could start a second training of the same name.
    # At 32 s a call: ten pages of the listing (the most it reads), then the newest versions described
    # one by one while a description and the create still leave room for the answer (9 of them).
    clock = WorstCaseClock(stubs)
    properties = kind_properties(contract.SOLUTION_VERSION)
    expect_versions(stubs, 1100, pages=10)
    request = request_of(properties, kind=contract.SOLUTION_VERSION)
    for index in range(9):
        stubs.personalize.add_response(
            "describe_solution_version",
            describe_response(
                request,
                "ACTIVE",
                kind=contract.SOLUTION_VERSION,
                arn=f"{SOLUTION_VERSION_ARN.rsplit('/', 1)[0]}/{index:08x}",
                name=f"someone-else-{index}",
            ),
        )
    event = cfn_event("Create", properties, kind=contract.SOLUTION_VERSION)
    try:
        handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep, remaining=clock.remaining)
    except handler.JobResourceError as error:
        assert "Nothing was created" in str(error)
    else:
        raise AssertionError("answered without having looked through the versions")
    assert "CreateSolutionVersion" not in stubs.operations()
    assert clock.elapsed() <= contract.ON_EVENT_TIMEOUT_SECONDS


def test_a_solution_version_created_every_call_at_its_worst_answers_in_time(stubs: Stubs) -> None:
    clock = WorstCaseClock(stubs)
    version_arn = f"{SOLUTION_VERSION_ARN.rsplit('/', 1)[0]}/0001"
    expect_versions(stubs, 0)
    stubs.personalize.add_response("create_solution_version", {"solutionVersionArn": version_arn})
    stubs.expect_first_delivery()
    stubs.expect_start()
    event = cfn_event("Create", kind_properties(contract.SOLUTION_VERSION), kind=contract.SOLUTION_VERSION)
    result = handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep, remaining=clock.remaining)
    assert result["PhysicalResourceId"] == version_arn
    assert clock.elapsed() <= contract.ON_EVENT_TIMEOUT_SECONDS <= contract.SERVICE_TIMEOUT_SECONDS


def test_a_solution_version_waiting_for_a_slot_with_quick_calls_tries_every_retry(stubs: Stubs) -> None:
    clock = WorstCaseClock(stubs)
    version_arn = f"{SOLUTION_VERSION_ARN.rsplit('/', 1)[0]}/0001"
    expect_versions(stubs, 0)
    for _ in handler.CREATE_RETRY_SECONDS:
        stubs.personalize.add_client_error(
            "create_solution_version", "LimitExceededException", "20 trainings"
        )
    stubs.personalize.add_response("create_solution_version", {"solutionVersionArn": version_arn})
    stubs.expect_first_delivery()
    stubs.expect_start()
    event = cfn_event("Create", kind_properties(contract.SOLUTION_VERSION), kind=contract.SOLUTION_VERSION)
    handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep)
    assert clock.slept == sum(handler.CREATE_RETRY_SECONDS)


def test_the_heaviest_check_fits_the_check_timeout(stubs: Stubs, handle_server: HandleServer) -> None:
    # A queued job another monitor created and that has ended meanwhile: created (adopted, retagged),
    # then the end: the signal at its worst, this monitor found still running, the results counted
    # within their budget, the event.
    expect_running(stubs)
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    expect_status(stubs, "ACTIVE")
    stubs.personalize.add_response(
        "tag_resource", {}, {"resourceArn": ARN, "tags": [{"tagKey": "team", "tagValue": "recs"}]}
    )
    expect_manifest(stubs)
    expect_report(stubs)
    state = started(created=False, status="QUEUED", wait_handle=handle_server.url)
    assert run(stubs, state, 600)["result"] == "SUCCESS"
    assert len(stubs.calls) == 11
    budget = worst(stubs, notify.signal_worst_case_seconds(), manifest.COUNT_SECONDS_BUDGET)
    assert budget <= contract.CHECK_TIMEOUT_SECONDS


def test_a_delete_waiting_for_a_training_to_stop_fits_the_on_event_timeout(stubs: Stubs) -> None:
    # The version never leaves CREATE STOPPING: the Delete polls while a poll fits, then answers.
    clock = WorstCaseClock(stubs)
    properties = kind_properties(contract.SOLUTION_VERSION)
    request = request_of(properties, kind=contract.SOLUTION_VERSION)
    version_arn = f"{SOLUTION_VERSION_ARN.rsplit('/', 1)[0]}/0001"

    def describe(status: str) -> None:
        stubs.personalize.add_response(
            "describe_solution_version",
            describe_response(request, status, kind=contract.SOLUTION_VERSION, arn=version_arn),
        )

    stubs.expect_list_monitors()
    describe("CREATE IN_PROGRESS")
    stubs.personalize.add_response("stop_solution_version_creation", {})
    polls = 16  # 840 s - 3 calls, then (10 s + a call) while 10 s and two calls still fit
    for _ in range(polls):
        describe("CREATE STOPPING")
    event = cfn_event("Delete", properties, physical_id=version_arn, kind=contract.SOLUTION_VERSION)
    handler.handle_event(event, stubs.clients, "req-1", sleep=clock.sleep, remaining=clock.remaining)
    assert clock.slept == polls * handler.DELETE_POLL_SECONDS
    assert clock.elapsed() <= contract.ON_EVENT_TIMEOUT_SECONDS


def test_the_on_event_function_leaves_the_provider_framework_time_to_answer() -> None:
    # The framework's function (15 min) invokes the on-event function and then sends the answer;
    # CloudFormation waits for it as long as that function may run (ServiceTimeout at most 3,600 s).
    framework = 15 * 60
    assert contract.ON_EVENT_TIMEOUT_SECONDS + 60 <= framework <= contract.SERVICE_TIMEOUT_SECONDS <= 3600


def test_a_delete_waiting_for_a_running_import_waits_about_13_minutes_and_answers_in_time(
    stubs: Stubs,
) -> None:
    # An import cannot be stopped, and Personalize refuses to delete its dataset until it ends: with
    # quick calls, the Delete polls for as long as the on-event function's time allows, then answers.
    properties = kind_properties(contract.DATASET_IMPORT)
    arn = arn_of(name_of(properties, kind=contract.DATASET_IMPORT), contract.DATASET_IMPORT)
    request = request_of(properties, kind=contract.DATASET_IMPORT)
    slept: list[float] = []

    def remaining() -> float:  # each call takes 0.1 s
        return contract.ON_EVENT_TIMEOUT_SECONDS - sum(slept) - 0.1 * len(stubs.calls)

    stubs.expect_list_monitors()
    polls = 0
    while True:
        stubs.personalize.add_response(
            "describe_dataset_import_job",
            describe_response(request, "CREATE IN_PROGRESS", kind=contract.DATASET_IMPORT),
            {"datasetImportJobArn": arn},
        )
        if contract.ON_EVENT_TIMEOUT_SECONDS - 0.1 * (polls + 2) - 10 * polls < (
            handler.DELETE_POLL_SECONDS + 2 * handler.CALL_SECONDS
        ):
            break
        polls += 1
    event = cfn_event("Delete", properties, physical_id=arn, kind=contract.DATASET_IMPORT)
    answer = handler.handle_event(event, stubs.clients, "req-1", sleep=slept.append, remaining=remaining)
    assert answer == {"PhysicalResourceId": arn}
    assert 12.5 * 60 <= sum(slept) <= 13 * 60
    assert contract.ON_EVENT_TIMEOUT_SECONDS - remaining() >= sum(slept)
    assert remaining() >= 2 * handler.CALL_SECONDS
