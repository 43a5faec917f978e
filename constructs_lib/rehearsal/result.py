"""What a rehearsal returns: one row per Personalize job, the failures, the report and some counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from constructs_lib.rehearsal.s3 import OutputObject

if TYPE_CHECKING:
    from constructs_lib.rehearsal.report import Section
    from constructs_lib.rehearsal.timeline import Entry

EXIT_OK = 0
EXIT_FAILED = 1  # the deployment failed, as a real one would; every stack ended in a stable state
EXIT_USAGE = 2
EXIT_STUCK = 3  # a stack would end UPDATE_ROLLBACK_FAILED or DELETE_FAILED, or a deploy waited in vain


@dataclass(frozen=True)
class JobResult:
    """One Personalize job started for a job resource (an update that replaces the job adds a row)."""

    stack: str
    construct_id: str
    logical_id: str
    kind: str  # the job kind's key: batch-inference, batch-segment, dataset-import, solution-version
    phase: str  # "create" or "update"
    job_name: str | None
    job_arn: str | None
    status: str  # the stand-in's final status, QUEUED if never created, or the resource's failure
    waited: bool
    wait_status: str | None  # CREATE_COMPLETE / CREATE_FAILED of its WaitCondition
    failure_reason: str | None
    created_at: float | None  # simulated seconds since the start, when the stand-in created the job
    ended_at: float | None  # ... and when it ended (ACTIVE or CREATE FAILED)
    checks: int
    throttled: int
    outputs: tuple[OutputObject, ...]

    @property
    def duration_seconds(self) -> float | None:
        """Simulated, from CreateBatchInferenceJob to the job's end."""
        if self.created_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.created_at

    @property
    def records(self) -> int:
        return sum(output.records for output in self.outputs)


@dataclass(frozen=True)
class StackOperation:
    """One stack operation (create, update, delete) and when it ran, in simulated seconds."""

    phase: str  # the rehearsal's phase: create, update, delete
    stack: str
    kind: str  # CREATE, UPDATE, DELETE
    status: str  # how it ended: CREATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE, ...
    reason: str
    started_at: float
    ended_at: float


@dataclass(frozen=True)
class Result:
    exit_code: int
    failures: tuple[str, ...]
    stuck: tuple[str, ...]
    warnings: tuple[str, ...]
    jobs: tuple[JobResult, ...]
    operations: tuple[str, ...]  # "<phase>: <operation> <stack> -> <status> (reason)"
    changes: tuple[str, ...]  # what the update did to each job resource
    report: str
    personalize_jobs: tuple[str, ...]  # names of the jobs the stand-in created
    executions: tuple[str, ...]  # names of the monitor executions started
    create_calls: int
    limit_exceeded: int
    throttled: int
    signals: int
    events: int
    simulated_seconds: float
    wall_seconds: float
    sample_records: int
    # What the reports are drawn from (the HTML report, html_report.py): the verdict line, every timeline
    # entry, the entries per job resource as the text report groups them, the timed stack operations.
    verdict: str = ""
    timeline: tuple[Entry, ...] = ()
    sections: tuple[Section, ...] = ()
    stack_operations: tuple[StackOperation, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def job(self, construct_id: str, phase: str = "create") -> JobResult:
        for job in self.jobs:
            if job.construct_id == construct_id and job.phase == phase:
                return job
        raise KeyError(f"No {phase} job for {construct_id!r}")
