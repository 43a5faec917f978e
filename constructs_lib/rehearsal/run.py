"""``rehearse()``: read the assembly, start the sandbox, drive the lifecycle, collect the result."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from pathlib import Path

from constructs_lib._contract import contract
from constructs_lib.rehearsal import report
from constructs_lib.rehearsal._deps import require
from constructs_lib.rehearsal.assembly import read_assembly
from constructs_lib.rehearsal.clock import duration_text
from constructs_lib.rehearsal.discovery import JobResource
from constructs_lib.rehearsal.driver import Driver, JobRun, Options
from constructs_lib.rehearsal.enforce import Denial
from constructs_lib.rehearsal.engine import Change
from constructs_lib.rehearsal.personalize import ENDED, Durations
from constructs_lib.rehearsal.result import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STUCK,
    JobResult,
    Result,
    StackOperation,
)
from constructs_lib.rehearsal.sandbox import Sandbox

DEFAULT_REGION = "us-east-1"


def rehearse(
    cdk_out: str | Path,
    *,
    stack: str | None = None,
    quota: int | None = None,
    fail: Mapping[str, str] | None = None,
    throttle: int = 0,
    records: int = 20,
    input_exists: Collection[str] = (),
    pending_minutes: float = 4,
    run_minutes: float = 45,
    training_minutes: float = 120,
    update: bool | str = True,
    update_to: str | Path | None = None,
    fail_update: Mapping[str, str] | None = None,
    fail_resources: Collection[str] = (),
    duplicate_create: bool = False,
    color: bool = False,
    days: float = 0,
    fail_scheduled: Mapping[str, str] | None = None,
    new_input: Collection[tuple[str, float]] = (),
) -> Result:
    """Deploy, update and delete the Personalize jobs of a synthesized app against local stand-ins.

    :param cdk_out: The cloud assembly directory (``cdk synth -o DIR``).
    :param stack: Only this stack (and the stacks it depends on). Default: every stack.
    :param quota: Jobs of a kind that may be PENDING or IN PROGRESS at once. Default: each kind's
        Personalize default (5; 20 trainings).
    :param fail: Construct id (or logical id, or path) -> failure reason its jobs end CREATE FAILED with.
    :param throttle: The Personalize stand-in throttles N requests out of every N + 1. Default: none.
    :param records: Lines of the sample input written at a job's input path when nothing is there, in a
        bucket the app brings (imported) or for a job named in ``input_exists``. A bucket the deploy
        creates starts empty: a job reading one gets only what the app writes there (a
        ``BucketDeployment``, another job's output), and fails as Personalize fails it when that is
        nothing.
    :param input_exists: Construct (or logical) ids of jobs whose input you will have uploaded into the
        created bucket before they run (another process writes it): sample input is written there.
        Default: none.
    :param pending_minutes: Simulated minutes a batch job stays PENDING.
    :param run_minutes: Simulated minutes a batch job stays IN PROGRESS (a dataset import: half).
    :param training_minutes: Simulated minutes a solution version trains.
    :param update: Without ``update_to``: after the creates, update one job (a new RunToken, or new tags
        for a job with an explicit name): True for the first waited job, a construct id, False for none.
    :param update_to: A second cloud assembly (the app after a change): the stacks are updated to it as
        CloudFormation would, rollback included.
    :param fail_update: Like ``fail``, for the jobs the update starts only.
    :param fail_resources: Logical (or construct) ids of resources that fail where the update creates
        them or changes their properties (a sibling resource failing), which rolls the update back.
    :param duplicate_create: Deliver every Create and Update twice (same RequestId), as a retry would.
    :param color: Colour the report's statuses (for a terminal).
    :param days: After the deploy, let this many simulated days pass: every deployed schedule delivers
        (rate, cron with its time zone, at), every chain rule delivers the end events it matches, and
        their runs (or skips) end, before the update. Default: 0, no runs without a deploy.
    :param fail_scheduled: Like ``fail``, for the runs without a deploy (scheduled or chained) only.
    :param new_input: (job id, day) pairs: with ``days``, new data lands under that job's input path on
        that day after the deploy (a new object), so that its next scheduled run is not skipped.
    :raises MissingDependencyError: boto3 or moto is missing.
    :raises AssemblyError, DiscoveryError, RehearsalError: the assembly cannot be rehearsed as asked
        (not a cloud assembly, an unknown stack, or a ``fail``, ``fail_update``, ``fail_resources``,
        ``input_exists`` or ``update`` id the app does not have).
    :raises EngineError, UnresolvableError: the app asks for what the rehearsal cannot model. A template
        CloudFormation refuses raises nothing: the ``Result`` says so (exit code 1).
    """
    require()
    started = time.perf_counter()
    assembly = read_assembly(cdk_out)
    new = read_assembly(update_to) if update_to is not None else None
    options = Options(
        stack=stack,
        quota=quota,
        fail=dict(fail or {}),
        fail_update=dict(fail_update or {}),
        fail_resources=frozenset(fail_resources),
        throttle=throttle,
        records=records,
        input_exists=frozenset(input_exists),
        update=update,
        duplicate_requests=duplicate_create,
        days=days,
        fail_scheduled=dict(fail_scheduled or {}),
        new_input=tuple(new_input),
    )
    batch = Durations(pending_minutes * 60, run_minutes * 60)
    durations = {
        contract.BATCH_INFERENCE.key: batch,
        contract.BATCH_SEGMENT.key: batch,
        contract.DATASET_IMPORT.key: Durations(pending_minutes * 30, run_minutes * 30),
        contract.SOLUTION_VERSION.key: Durations(pending_minutes * 60, training_minutes * 60),
    }
    with Sandbox(region=DEFAULT_REGION, quota=quota, throttle=throttle, durations=durations) as sandbox:
        driver = Driver(assembly, options, sandbox, update_to=new)
        driver.run()
        rows = tuple(_row(run, sandbox) for run in driver.runs)
        wall = time.perf_counter() - started
        return _result(str(cdk_out), driver, sandbox, rows, wall, color)


def _row(run: JobRun, sandbox: Sandbox) -> JobResult:
    job = run.resource
    standin = sandbox.personalize.job(run.job_name) if run.job_name else None
    status = standin.status if standin else ("QUEUED" if run.job_name else "NOT CREATED")
    ended = standin is not None and standin.status in ENDED
    checks = [
        entry
        for entry in sandbox.timeline.entries()
        if entry.key == run.job_name and entry.kind == "check" and "checks" in entry.data
    ]
    return JobResult(
        stack=job.stack,
        construct_id=job.construct_id,
        logical_id=job.logical_id,
        kind=job.kind.key,
        phase=run.phase,
        job_name=run.job_name,
        job_arn=standin.arn if standin else run.job_arn,
        status=status,
        waited=job.waits,
        wait_status=run.wait.status if run.wait else None,
        failure_reason=run.reason or (standin.failure_reason if standin else None) or None,
        created_at=standin.created_at if standin else None,
        ended_at=standin.updated_at if standin and ended else None,
        checks=len(checks),
        throttled=standin.throttled if standin else 0,
        outputs=tuple(sandbox.s3.outputs(run.output_uri)) if run.output_uri else (),
    )


def _result(
    cdk_out: str, driver: Driver, sandbox: Sandbox, rows: tuple[JobResult, ...], wall: float, color: bool
) -> Result:
    # A job an update removed or replaced keeps its monitor until the cleanup stops it, while the policies
    # no longer name it: its checks are denied meanwhile, as in a real account, and the monitor waits
    # them out (lambda/monitor.py). Tolerated, and said; any harm is a failure of its own.
    moved = {
        change.old_physical_id
        for change in driver.changes
        if change.old_physical_id and change.old_physical_id != change.new_physical_id
    }
    every = driver.enforcer.denials if driver.enforcer else []
    # Its results and its latest.json: the objects under the parent of its run's output prefix.
    locations = tuple(
        "arn:aws:s3:::" + run.output_uri.removeprefix("s3://").rstrip("/").rsplit("/", 1)[0] + "/"
        for run in driver.runs
        if run.job_arn in moved and run.output_uri
    )

    def waited_out(denial: Denial) -> bool:  # the monitor's check function, on such a job's run
        ours = denial.resource in moved or denial.resource.startswith(locations)
        return ours and "CheckFunctionRole" in denial.role

    denials = dict.fromkeys(denial.describe() for denial in every if not waited_out(denial))
    transitional = dict.fromkeys(
        f"{denial.describe()} (tolerated: the update removed or replaced its job's resource, and the "
        "job's monitor waits for the cleanup, which stops it)"
        for denial in every
        if waited_out(denial)
    )
    failures = tuple([*driver.failures, *driver.engine.duplicate_mismatches, *denials])
    stuck, warnings = tuple(driver.stuck), tuple([*driver.warnings, *transitional])
    simulated = sandbox.clock.elapsed
    waited = [row for row in rows if row.waited and row.phase in ("create", "update")]
    jobs = driver.jobs()
    if stuck:
        exit_code, verdict = (
            EXIT_STUCK,
            f"Result: STUCK ({len(stuck)} problem{'s' if len(stuck) > 1 else ''})",
        )
    elif failures:
        exit_code, verdict = (
            EXIT_FAILED,
            f"Result: FAILED ({len(failures)} failure{'s' if len(failures) > 1 else ''})",
        )
    elif not jobs:
        exit_code, verdict = EXIT_OK, "Result: OK, no job resource in the rehearsed stacks"
    else:
        exit_code = EXIT_OK
        verdict = f"Result: OK, {len(waited)} waited job{'s' if len(waited) != 1 else ''} ended ACTIVE"
    verdict += f" (simulated {duration_text(simulated)}, wall {wall:.1f} s)"
    operations = tuple(
        f"{outcome.phase}: {outcome.operation.kind.lower()} {outcome.stack} -> {outcome.operation.status}"
        + (f" ({outcome.operation.reason})" if outcome.operation.reason else "")
        for outcome in driver.outcomes
    )
    changes = tuple(_update_lines(driver, jobs))
    sections = tuple(
        report.Section(
            f"{job.label()} ({job.logical_id})",
            sandbox.timeline.for_keys(
                {
                    job.key,
                    *(run.job_name for run in driver.runs if run.resource.key == job.key and run.job_name),
                }
            ),
        )
        for job in jobs
    )
    text = report.render(
        header=_header(cdk_out, driver, sandbox),
        sections=sections,
        rows=rows,
        operations=operations,
        changes=changes,
        outputs=[
            line
            for phase, stacks in driver.stack_outputs.items()
            for stack, values in stacks.items()
            if values
            for line in (
                f"Outputs of {stack} after the {phase}",
                *(f"  {k} = {v}" for k, v in values.items()),
            )
        ],
        failures=failures,
        stuck=stuck,
        warnings=warnings,
        verdict=verdict,
        color=color,
    )
    return Result(
        exit_code=exit_code,
        failures=failures,
        stuck=stuck,
        warnings=warnings,
        jobs=rows,
        operations=operations,
        changes=changes,
        report=text,
        personalize_jobs=tuple(job.name for job in sandbox.personalize.jobs()),
        executions=tuple(execution.name for execution in sandbox.stepfunctions.executions()),
        create_calls=sum(sandbox.personalize.calls.get(kind.create, 0) for kind in contract.KINDS.values()),
        limit_exceeded=sandbox.personalize.limit_exceeded,
        throttled=sandbox.personalize.throttled,
        signals=sandbox.signals.count,
        events=len(sandbox.events.events()),
        simulated_seconds=simulated,
        wall_seconds=wall,
        sample_records=driver.options.records,
        verdict=verdict,
        timeline=tuple(sandbox.timeline.entries()),
        sections=sections,
        stack_operations=tuple(
            StackOperation(
                outcome.phase,
                outcome.stack,
                outcome.operation.kind,
                outcome.operation.status,
                outcome.operation.reason,
                outcome.started_at,
                outcome.ended_at,
            )
            for outcome in driver.outcomes
        ),
    )


def _update_lines(driver: Driver, jobs: list[JobResource]) -> list[str]:
    """What the update did to each job resource: kept, retagged, waits again, replaced, re-run, queued,
    added, removed."""
    if not any(outcome.phase == "update" for outcome in driver.outcomes):
        return []
    updated = {
        (change.stack, change.logical_id): change
        for outcome in driver.outcomes
        if outcome.phase == "update"
        for change in outcome.operation.changes
    }
    lines = []
    for job in jobs:
        change = updated.get((job.stack, job.logical_id))
        lines.append(f"{job.label()}: {describe_change(change, job)}")
    return lines


def describe_change(change: Change | None, job: JobResource) -> str:
    if change is None:
        return "kept (no change)"
    if change.action in ("added", "removed"):
        return f"{change.action}" + (f" ({change.status})" if change.status else "")
    kind = job.kind
    old, new = change.old_properties, change.new_properties
    changed = [prop for prop in kind.defining if old.get(prop) != new.get(prop)]
    queued = " (queued)" if change.status == contract.QUEUED else ""
    if change.old_physical_id != change.new_physical_id:
        if changed and set(changed) <= {contract.RUN_TOKEN}:
            return f"re-run: a new job on the same definition (RunToken changed){queued}"
        what = ", ".join(changed) or "a value known only at deploy time"
        return f"replaced: a new job ({what} changed){queued}"
    parts = []
    if old.get(contract.TAGS) != new.get(contract.TAGS):
        parts.append("retagged in place")
    if (old.get(contract.WAIT_HANDLE), old.get(contract.TIMEOUT_SECONDS)) != (
        new.get(contract.WAIT_HANDLE),
        new.get(contract.TIMEOUT_SECONDS),
    ):
        parts.append("kept, waited for again")
    return (", ".join(parts) or "kept") + queued


def _header(cdk_out: str, driver: Driver, sandbox: Sandbox) -> list[str]:
    lines = [
        f"Rehearsal of {cdk_out}: a simulated deployment; every endpoint is on 127.0.0.1",
        f"  Personalize, Step Functions, EventBridge, WaitCondition handles: {sandbox.server.url}",
        f"  S3 (moto): {sandbox.s3.url}",
        (
            f"  quota {driver.options.quota or 'per kind'}, throttle {driver.options.throttle}, sample input "
            f"{driver.options.records} records (brought buckets"
            + (
                f", and for {', '.join(sorted(driver.options.input_exists))}"
                if driver.options.input_exists
                else ""
            )
            + "; created buckets start empty)"
        ),
    ]
    if driver.update_to is not None:
        lines.append(f"  update to {driver.update_to.directory}")
    for artifact in driver.artifacts:
        model = driver.models.get(artifact.stack_name)
        lines.append(f"Stack {artifact.stack_name} ({artifact.account}, {artifact.region})")
        if model is None or not model.jobs:
            lines.append("  no job resource")
            continue
        for job in model.jobs.values():
            lines.extend(_wiring(job))
    return lines


def _wiring(job: JobResource) -> list[str]:
    checks = ", ".join(f"{f.logical_id} ({f.handler})" for f in job.check_functions) or "none found"
    asset = job.on_event.code_dir.name[:18] if job.on_event.code_dir else "(no asset)"
    lines = [
        f"  {job.construct_id} ({job.logical_id}, {job.resource_type})",
        f"    on-event  {job.on_event.logical_id} ({job.on_event.handler}, {asset})",
        f"              via {job.framework.logical_id}",
        f"    monitor   {job.monitor.logical_id if job.monitor else 'none found'} -> check {checks}",
    ]
    if job.wait_logical_id:
        lines.append(f"    wait      {job.wait_logical_id} (timeout {duration_text(job.wait_timeout)})")
    else:
        lines.append("    wait      none (wait=False)")
    return lines
