"""Status mapping, the polling schedule and the end of a job (job_logic)."""

from __future__ import annotations

from datetime import datetime, timezone

import job_logic
import pytest

HOUR = 3600
TWELVE_HOURS = 12 * HOUR


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
        ("CREATE PENDING", "PENDING"),
        ("SOMETHING NEW", "SOMETHING NEW"),
        (None, "UNKNOWN"),
    ],
)
def test_status_is_normalized(raw: str | None, expected: str) -> None:
    assert job_logic.normalize_status(raw) == expected


def test_first_waits_are_one_minute() -> None:
    assert job_logic.next_wait_seconds(0, TWELVE_HOURS) == 60
    assert job_logic.next_wait_seconds(599, TWELVE_HOURS) == 60


def test_wait_grows_to_a_tenth_of_the_elapsed_time() -> None:
    assert job_logic.next_wait_seconds(2 * HOUR, TWELVE_HOURS) == 720


def test_wait_never_passes_the_deadline() -> None:
    assert job_logic.next_wait_seconds(HOUR - 10, HOUR) == 10


def test_wait_is_at_least_one_second() -> None:
    assert job_logic.next_wait_seconds(HOUR - 0.2, HOUR) == 1


def checks_until(job_seconds: float, timeout: int) -> int:
    """Checks the monitor makes for a job ending after `job_seconds` (first check at 0)."""
    elapsed, checks = 0.0, 1
    while elapsed < job_seconds and elapsed < timeout:
        elapsed += job_logic.next_wait_seconds(elapsed, timeout)
        checks += 1
    return checks


def test_a_12_hour_job_needs_at_most_100_checks() -> None:
    assert checks_until(TWELVE_HOURS - 1, TWELVE_HOURS) <= 100


def test_the_last_check_lands_exactly_on_the_deadline() -> None:
    elapsed = 0.0
    while elapsed < HOUR:
        elapsed += job_logic.next_wait_seconds(elapsed, HOUR)
    assert elapsed == HOUR


def test_active_ends_with_success() -> None:
    decision = job_logic.decide_on_status("ACTIVE", None, 120, HOUR)
    assert (decision.done, decision.result) == (True, "SUCCESS")


def test_create_failed_ends_with_failure_and_the_jobs_reason() -> None:
    decision = job_logic.decide_on_status("CREATE FAILED", "Input file not found", 120, HOUR)
    assert (decision.done, decision.result) == (True, "FAILURE")
    assert "Input file not found" in decision.reason


def test_in_progress_waits_per_schedule() -> None:
    decision = job_logic.decide_on_status("IN PROGRESS", None, 2 * HOUR, TWELVE_HOURS)
    assert (decision.done, decision.wait_seconds) == (False, 720)


def test_in_progress_past_the_timeout_ends_with_failure_naming_timeout_and_status() -> None:
    decision = job_logic.decide_on_status("IN PROGRESS", None, HOUR, HOUR)
    assert (decision.done, decision.result) == (True, "FAILURE")
    assert "did not finish within the timeout of 3600 s" in decision.reason
    assert "IN PROGRESS" in decision.reason


def test_active_at_the_deadline_is_still_success() -> None:
    assert job_logic.decide_on_status("ACTIVE", None, HOUR, HOUR).result == "SUCCESS"


def test_queued_job_waits_for_a_slot() -> None:
    decision = job_logic.decide_while_queued(300, HOUR)
    assert (decision.done, decision.wait_seconds) == (False, 60)


def test_queued_job_past_the_timeout_fails_saying_it_waited_for_a_slot() -> None:
    decision = job_logic.decide_while_queued(HOUR, HOUR)
    assert decision.result == "FAILURE"
    assert "QUEUED" in decision.reason and "free slot" in decision.reason


def test_a_few_errors_in_a_row_wait_and_check_again() -> None:
    decision = job_logic.decide_on_retryable_error(2, "ThrottlingException: slow down", "PENDING", 60, HOUR)
    assert (decision.done, decision.wait_seconds) == (False, 60)


def test_too_many_errors_in_a_row_end_with_failure_and_the_error() -> None:
    decision = job_logic.decide_on_retryable_error(
        job_logic.MAX_CONSECUTIVE_ERRORS, "ThrottlingException: slow down", "PENDING", 60, HOUR
    )
    assert decision.result == "FAILURE"
    assert "ThrottlingException: slow down" in decision.reason


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("LimitExceededException", 400, "queue"),
        ("ThrottlingException", 400, "queue"),
        ("ResourceAlreadyExistsException", 400, "exists"),
        ("ResourceNotFoundException", 400, "not_found"),
        ("InternalFailure", 500, "transient"),
        ("SomethingElse", 503, "transient"),
        ("InvalidInputException", 400, "fatal"),
        ("AccessDeniedException", 400, "fatal"),
    ],
)
def test_errors_are_classified(code: str, status: int, kind: str) -> None:
    assert job_logic.classify_error(code, status) == kind


def test_step_functions_time_with_z_is_parsed_as_utc() -> None:
    moment = job_logic.parse_time("2024-05-01T10:00:00.123Z")
    assert moment == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)
