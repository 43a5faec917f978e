"""Status mapping, the polling schedule, the end of a job (schedule) and what errors mean (aws_clients)."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError

from .testkit import LAMBDA_DIR  # noqa: F401  (puts lambda/ on sys.path)

import aws_clients  # isort: skip
import contract  # isort: skip
import schedule  # isort: skip
import sizes  # isort: skip

MINUTE = 60
HOUR = 3600
TWELVE_HOURS = 12 * HOUR
NOUN = "batch inference job"


# --- statuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PENDING", "PENDING"),
        ("IN PROGRESS", "IN PROGRESS"),
        ("IN_PROGRESS", "IN PROGRESS"),
        ("in progress", "IN PROGRESS"),
        ("ACTIVE", "ACTIVE"),
        ("CREATE FAILED", "CREATE FAILED"),
        ("CREATE_FAILED", "CREATE FAILED"),
        ("FAILED", "CREATE FAILED"),
        ("CREATE PENDING", "PENDING"),
        ("CREATE IN_PROGRESS", "IN PROGRESS"),
        ("CREATE STOPPING", "IN PROGRESS"),
        ("CREATE STOPPED", "CREATE STOPPED"),
        ("SOMETHING NEW", "SOMETHING NEW"),
        (None, "UNKNOWN"),
    ],
)
def test_status_is_normalized(raw: str | None, expected: str) -> None:
    assert schedule.normalize_status(raw) == expected


def test_a_stopping_job_is_still_running() -> None:
    assert schedule.normalize_status("CREATE STOPPING") in contract.RUNNING


def test_a_stopped_job_has_ended() -> None:
    assert schedule.normalize_status("CREATE STOPPED") in contract.ENDED


# --- the schedule ---------------------------------------------------------------------------------


def test_first_waits_are_one_minute() -> None:
    assert schedule.next_wait_seconds(0, TWELVE_HOURS) == 60
    assert schedule.next_wait_seconds(599, TWELVE_HOURS) == 60


@pytest.mark.parametrize(("elapsed", "wait"), [(600, 60), (900, 90), (1000, 100), (1199, 120)])
def test_wait_is_a_tenth_of_the_elapsed_time_between_10_and_20_minutes(elapsed: int, wait: int) -> None:
    assert schedule.next_wait_seconds(elapsed, TWELVE_HOURS) == wait


@pytest.mark.parametrize("elapsed", [20 * MINUTE, 2 * HOUR, 6 * HOUR, TWELVE_HOURS - 1000])
def test_wait_is_never_more_than_two_minutes(elapsed: int) -> None:
    assert schedule.next_wait_seconds(elapsed, TWELVE_HOURS) == 120


def test_wait_never_passes_the_deadline() -> None:
    assert schedule.next_wait_seconds(HOUR - 10, HOUR) == 10


def test_wait_is_at_least_one_second() -> None:
    assert schedule.next_wait_seconds(HOUR - 0.2, HOUR) == 1


def test_wait_past_the_deadline_is_still_one_second() -> None:
    assert schedule.next_wait_seconds(HOUR + 30, HOUR) == 1


def check_times(timeout: int) -> list[float]:
    """When the monitor checks (seconds since its first check, at 0) until the deadline."""
    times = [0.0]
    while times[-1] < timeout:
        times.append(times[-1] + schedule.next_wait_seconds(times[-1], timeout))
    return times


def checks_until(job_seconds: float, timeout: int) -> int:
    """Checks the monitor makes for a job ending after `job_seconds` (first check at 0)."""
    return next(index for index, moment in enumerate(check_times(timeout)) if moment >= job_seconds) + 1


@pytest.mark.parametrize("job_seconds", [20 * MINUTE, HOUR, 6 * HOUR, TWELVE_HOURS])
def test_the_wait_in_which_a_job_ends_is_at_most_two_minutes(job_seconds: int) -> None:
    times = check_times(TWELVE_HOURS)
    seen = next(index for index, moment in enumerate(times) if moment >= job_seconds)
    assert times[seen] - times[seen - 1] <= contract.MAX_CHECK_INTERVAL_SECONDS
    assert times[seen] - job_seconds <= contract.MAX_CHECK_INTERVAL_SECONDS


def waits(timeout: int) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(check_times(timeout))]


def test_no_wait_of_a_12_hour_schedule_is_longer_than_two_minutes() -> None:
    assert max(waits(TWELVE_HOURS)) == contract.MAX_CHECK_INTERVAL_SECONDS


def test_only_the_wait_cut_by_the_deadline_is_shorter_than_a_minute() -> None:
    assert min(waits(TWELVE_HOURS)[:-1]) == contract.MIN_CHECK_INTERVAL_SECONDS


def test_a_12_hour_job_needs_fewer_than_400_checks() -> None:
    assert checks_until(TWELVE_HOURS - 1, TWELVE_HOURS) < 400


def test_the_last_check_lands_exactly_on_the_deadline() -> None:
    assert check_times(HOUR)[-1] == HOUR


def test_the_last_check_lands_exactly_on_an_odd_deadline() -> None:
    assert check_times(contract.monitor_timeout_seconds(1000))[-1] == 900


# --- decisions ------------------------------------------------------------------------------------


def test_active_ends_with_success() -> None:
    decision = schedule.decide_on_status(NOUN, "ACTIVE", None, 120, HOUR)
    assert (decision.done, decision.result) == (True, "SUCCESS")
    assert decision.reason == "The batch inference job is ACTIVE."


def test_create_failed_ends_with_failure_and_the_jobs_reason() -> None:
    decision = schedule.decide_on_status(NOUN, "CREATE FAILED", "Input file not found", 120, HOUR)
    assert (decision.done, decision.result) == (True, "FAILURE")
    assert "Input file not found" in decision.reason


def test_create_failed_without_a_reason_says_so() -> None:
    decision = schedule.decide_on_status(NOUN, "CREATE FAILED", None, 120, HOUR)
    assert decision.reason == (
        "The batch inference job failed: no reason given. To run it again, fix the cause, then deploy "
        "with a new run_token (or a new job_name)."
    )


def test_create_stopped_ends_with_failure() -> None:
    decision = schedule.decide_on_status(NOUN, "CREATE STOPPED", None, 120, HOUR)
    assert (decision.done, decision.result) == (True, "FAILURE")
    assert "stopped" in decision.reason


def test_create_stopped_status_from_the_service_ends_with_failure() -> None:
    status = schedule.normalize_status("CREATE STOPPED")
    assert schedule.decide_on_status(NOUN, status, None, 120, HOUR).result == "FAILURE"


def test_create_stopping_waits_for_the_job_to_stop() -> None:
    status = schedule.normalize_status("CREATE STOPPING")
    assert schedule.decide_on_status(NOUN, status, None, 120, HOUR).done is False


def test_decisions_name_the_kind_of_job() -> None:
    decision = schedule.decide_on_status("solution version", "ACTIVE", None, 120, HOUR)
    assert decision.reason == "The solution version is ACTIVE."


def test_in_progress_waits_per_schedule() -> None:
    decision = schedule.decide_on_status(NOUN, "IN PROGRESS", None, 2 * HOUR, TWELVE_HOURS)
    assert (decision.done, decision.wait_seconds) == (False, 120)


def test_in_progress_past_the_timeout_ends_with_failure_naming_timeout_and_status() -> None:
    decision = schedule.decide_on_status(NOUN, "IN PROGRESS", None, HOUR, HOUR)
    assert (decision.done, decision.result) == (True, "FAILURE")
    assert "did not finish within the timeout of 3600 s" in decision.reason
    assert "IN PROGRESS" in decision.reason


def test_active_at_the_deadline_is_still_success() -> None:
    assert schedule.decide_on_status(NOUN, "ACTIVE", None, HOUR, HOUR).result == "SUCCESS"


def test_queued_job_waits_for_a_slot() -> None:
    decision = schedule.decide_while_queued(NOUN, 300, HOUR)
    assert (decision.done, decision.wait_seconds) == (False, 60)


def test_queued_job_past_the_timeout_fails_saying_it_waited_for_a_slot() -> None:
    decision = schedule.decide_while_queued(NOUN, HOUR, HOUR)
    assert decision.result == "FAILURE"
    assert "QUEUED" in decision.reason and "free slot" in decision.reason


def test_queued_job_past_the_timeout_fails_with_why_it_could_not_be_created() -> None:
    decision = schedule.decide_while_queued(NOUN, HOUR, HOUR, "the role cannot be assumed yet")
    assert decision.result == "FAILURE"
    assert "waiting to be created: the role cannot be assumed yet" in decision.reason


def test_a_few_errors_in_a_row_wait_and_check_again() -> None:
    decision = schedule.decide_on_retryable_error(
        NOUN, 2, "ThrottlingException: slow down", "PENDING", 60, HOUR
    )
    assert (decision.done, decision.wait_seconds) == (False, 60)


def test_too_many_errors_in_a_row_end_with_failure_and_the_error() -> None:
    decision = schedule.decide_on_retryable_error(
        NOUN, schedule.MAX_CONSECUTIVE_ERRORS, "ThrottlingException: slow down", "PENDING", 60, HOUR
    )
    assert decision.result == "FAILURE"
    assert "ThrottlingException: slow down" in decision.reason


def test_errors_past_the_timeout_end_with_failure_naming_the_last_error() -> None:
    decision = schedule.decide_on_retryable_error(NOUN, 1, "InternalFailure: oops", "IN PROGRESS", HOUR, HOUR)
    assert decision.result == "FAILURE"
    assert "timeout" in decision.reason and "last error: InternalFailure: oops" in decision.reason


@pytest.mark.parametrize(
    ("stack_status", "transitional"),
    [
        ("UPDATE_IN_PROGRESS", True),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", True),
        ("DELETE_IN_PROGRESS", True),
        ("ROLLBACK_IN_PROGRESS", True),
        ("UPDATE_COMPLETE", False),
        ("CREATE_IN_PROGRESS", False),
        ("REVIEW_IN_PROGRESS", False),
        ("IMPORT_IN_PROGRESS", False),
        ("IMPORT_ROLLBACK_IN_PROGRESS", False),
        ("CREATE_COMPLETE", False),
        ("UPDATE_ROLLBACK_FAILED", False),
        ("DELETE_FAILED", False),
        (None, False),
    ],
)
def test_a_denial_is_transitional_only_while_the_stack_changes(
    stack_status: str | None, transitional: bool
) -> None:
    assert schedule.denial_is_transitional(stack_status) is transitional


@pytest.mark.parametrize(
    ("stack_status", "transitional"),
    [
        ("UPDATE_IN_PROGRESS", False),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", True),
        ("UPDATE_ROLLBACK_IN_PROGRESS", True),
        ("ROLLBACK_IN_PROGRESS", True),
        ("DELETE_IN_PROGRESS", True),
        ("CREATE_IN_PROGRESS", False),
    ],
)
def test_a_run_the_stack_waits_for_counts_its_denials_only_while_the_stack_waits(
    stack_status: str, transitional: bool
) -> None:
    assert schedule.denial_is_transitional(stack_status, waits_for_run=True) is transitional


@pytest.mark.parametrize(
    ("error", "denied"),
    [
        ("AccessDeniedException", True),
        ("AccessDenied: not authorized", True),
        ("InvalidInputException: the role may not have propagated", False),
        ("ThrottlingException", False),
    ],
)
def test_only_an_access_denied_is_a_denial(error: str, denied: bool) -> None:
    assert schedule.is_access_denied(error) is denied


def test_a_denial_while_the_stack_changes_waits_with_the_usual_schedule() -> None:
    decision = schedule.decide_while_stack_changes(
        NOUN, "UPDATE_IN_PROGRESS", "AccessDeniedException: no", "IN PROGRESS", 30 * MINUTE, HOUR
    )
    assert (decision.done, decision.wait_seconds) == (False, 120)


def test_a_denial_while_the_stack_changes_still_ends_at_the_timeout() -> None:
    decision = schedule.decide_while_stack_changes(
        NOUN, "UPDATE_IN_PROGRESS", "AccessDeniedException: no", "IN PROGRESS", HOUR, HOUR
    )
    assert decision.result == "FAILURE"
    assert "timeout" in decision.reason and "denied while its stack was UPDATE_IN_PROGRESS" in decision.reason


def test_monitor_failure_reason_names_the_error_and_its_cause() -> None:
    reason = schedule.monitor_failure_reason(NOUN, {"Error": "Lambda.Unknown", "Cause": "out of memory"})
    assert reason == "The monitor of the batch inference job stopped on Lambda.Unknown: out of memory"


def test_monitor_failure_reason_without_details_says_unknown_error() -> None:
    assert (
        schedule.monitor_failure_reason(NOUN, None)
        == "The monitor of the batch inference job stopped on unknown error"
    )


def test_monitor_failure_reason_cuts_a_long_cause() -> None:
    reason = schedule.monitor_failure_reason(NOUN, {"Error": "States.Runtime", "Cause": "x" * 5000})
    assert len(reason.encode()) < 1200
    assert reason.endswith(sizes.TRUNCATION_MARK)


# --- time -----------------------------------------------------------------------------------------


def test_step_functions_time_with_z_is_parsed_as_utc() -> None:
    moment = schedule.parse_time("2024-05-01T10:00:00.123Z")
    assert moment == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)


def test_time_without_a_zone_is_taken_as_utc() -> None:
    assert schedule.parse_time("2024-05-01T10:00:00").tzinfo == timezone.utc


# --- what an error means (aws_clients) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("LimitExceededException", 400, "queue"),
        ("ThrottlingException", 400, "queue"),
        ("TooManyRequestsException", 429, "queue"),
        ("ResourceAlreadyExistsException", 400, "exists"),
        ("ResourceNotFoundException", 404, "not_found"),
        ("InternalFailure", 500, "transient"),
        ("ServiceUnavailableException", 503, "transient"),
        ("SomethingElse", 503, "transient"),
        ("InvalidInputException", 400, "fatal"),
        ("ValidationException", 400, "fatal"),
    ],
)
def test_errors_are_classified(code: str, status: int, kind: str) -> None:
    assert aws_clients.classify_error(code, status) == kind


def test_access_denied_is_waited_out_as_iam_propagation() -> None:
    assert aws_clients.classify_error("AccessDeniedException", 400, "User is not authorized") == "propagation"


@pytest.mark.parametrize(
    "message",
    [
        "Amazon Personalize cannot assume the role arn:aws:iam::123456789012:role/PersonalizeBatchRole.",
        "Unable to assume role arn:aws:iam::123456789012:role/PersonalizeBatchRole; check its trust policy",
        "The role arn:aws:iam::123456789012:role/PersonalizeBatchRole does not have permission to read s3://b/",
    ],
)
def test_invalid_input_about_a_role_it_cannot_use_yet_is_iam_propagation(message: str) -> None:
    assert aws_clients.classify_error("InvalidInputException", 400, message) == "propagation"


@pytest.mark.parametrize(
    "message",
    [
        "Input path s3://in-bucket/users/ does not exist.",
        "Provide a valid role ARN.",
        "The solution version is not ACTIVE.",
        "",
    ],
)
def test_other_invalid_input_is_fatal(message: str) -> None:
    assert aws_clients.classify_error("InvalidInputException", 400, message) == "fatal"


def test_a_throttled_call_is_queued_whatever_its_message() -> None:
    assert aws_clients.classify_error("ThrottlingException", 400, "Rate exceeded for role assume") == "queue"


def test_a_server_error_of_any_code_is_transient() -> None:
    assert aws_clients.classify_error("Whatever", 502, "") == "transient"


def test_client_error_is_classified_by_code_status_and_message() -> None:
    error = ClientError(
        {
            "Error": {"Code": "InvalidInputException", "Message": "Cannot assume role arn:aws:iam::1:role/R"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "CreateBatchInferenceJob",
    )
    assert aws_clients.error_kind(error) == "propagation"


def test_no_answer_at_all_is_transient() -> None:
    assert aws_clients.error_kind(ConnectTimeoutError(endpoint_url="https://personalize")) == "transient"


def test_an_error_is_described_as_code_and_message() -> None:
    error = ClientError(
        {"Error": {"Code": "LimitExceededException", "Message": "too many"}}, "CreateBatchInferenceJob"
    )
    assert aws_clients.describe_error(error) == "LimitExceededException: too many"
