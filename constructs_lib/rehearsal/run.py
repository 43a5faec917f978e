"""`rehearse()`: read the assembly, start the sandbox, drive the lifecycle, collect the result."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from constructs_lib.rehearsal import report
from constructs_lib.rehearsal._deps import require
from constructs_lib.rehearsal.assembly import read_assembly
from constructs_lib.rehearsal.clock import duration_text
from constructs_lib.rehearsal.discovery import JobResource
from constructs_lib.rehearsal.driver import Driver, JobRun, Options
from constructs_lib.rehearsal.personalize import ACTIVE, CREATE_FAILED
from constructs_lib.rehearsal.result import JobResult, Result
from constructs_lib.rehearsal.sandbox import Sandbox

DEFAULT_REGION = "us-east-1"


def rehearse(
    cdk_out: str | Path,
    *,
    stack: str | None = None,
    quota: int = 5,
    fail: Mapping[str, str] | None = None,
    throttle: int = 0,
    records: int = 20,
    pending_minutes: float = 4,
    run_minutes: float = 45,
    update: bool | str = True,
    duplicate_create: bool = False,
    color: bool = False,
) -> Result:
    """Deploy, update and delete the batch inference jobs of a synthesized app against local stand-ins.

    :param cdk_out: The cloud assembly directory (`cdk synth -o DIR`).
    :param stack: Only this stack. Default: every stack with a batch inference job.
    :param quota: Jobs that may be PENDING or IN PROGRESS at once; more get LimitExceededException.
    :param fail: Construct id (or logical id, or path) -> failure reason the job ends CREATE FAILED with.
    :param throttle: The Personalize stand-in throttles N requests out of every N + 1. Default: none.
    :param records: Lines of the sample input seeded at each job's input path (when none is there).
    :param pending_minutes: Simulated minutes a job stays PENDING.
    :param run_minutes: Simulated minutes a job stays IN PROGRESS.
    :param update: After the creates, update one job (a new RunToken, or new tags for a job with an
        explicit name): True for the first waited job, a construct id for that job, False for none.
    :param duplicate_create: Send every Create twice (same RequestId), as a CloudFormation retry would.
    :param color: Colour the report's statuses (for a terminal).
    :raises MissingDependencyError: boto3 or moto is missing (`pip install 'constructs-lib[rehearsal]'`).
    :raises AssemblyError, DiscoveryError, RehearsalError: the assembly cannot be rehearsed as asked.
    """
    require()
    started = time.perf_counter()
    assembly = read_assembly(cdk_out)
    options = Options(
        stack=stack,
        quota=quota,
        fail=dict(fail or {}),
        throttle=throttle,
        records=records,
        pending_seconds=pending_minutes * 60,
        run_seconds=run_minutes * 60,
        update=update,
        duplicate_create=duplicate_create,
    )
    with Sandbox(
        region=DEFAULT_REGION,
        quota=quota,
        throttle=throttle,
        pending_seconds=options.pending_seconds,
        run_seconds=options.run_seconds,
    ) as sandbox:
        driver = Driver(assembly, options, sandbox)
        driver.run()
        rows = tuple(_row(run, driver, sandbox) for run in driver.runs)
        wall = time.perf_counter() - started
        return _result(str(cdk_out), driver, sandbox, rows, wall, color)


def _row(run: JobRun, driver: Driver, sandbox: Sandbox) -> JobResult:
    job = run.resource
    standin = sandbox.personalize.job(run.job_name) if run.job_name else None
    status = standin.status if standin else ("QUEUED" if run.job_name else job.status)
    ended = standin is not None and standin.status in (ACTIVE, CREATE_FAILED)
    checks = [
        entry
        for entry in sandbox.timeline.entries()
        if entry.key == run.job_name and entry.kind == "check" and "checks" in entry.data
    ]
    return JobResult(
        stack=job.stack.name,
        construct_id=job.construct_id,
        logical_id=job.logical_id,
        phase=run.phase,
        job_name=run.job_name,
        job_arn=standin.arn if standin else None,
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
    failures, warnings = tuple(driver.failures), tuple(driver.warnings)
    simulated = sandbox.clock.elapsed
    waited = [row for row in rows if row.waited]
    if failures:
        verdict = f"Result: FAILED ({len(failures)} failure{'s' if len(failures) > 1 else ''})"
    else:
        verdict = f"Result: OK, {len(waited)} waited job{'s' if len(waited) != 1 else ''} ended ACTIVE"
    verdict += f" (simulated {duration_text(simulated)}, wall {wall:.1f} s)"
    text = report.render(
        header=_header(cdk_out, driver, sandbox),
        sections=[
            report.Section(
                f"{job.label()} ({job.logical_id})", sandbox.timeline.for_keys({job.key, *job.job_names})
            )
            for job in driver.jobs()
        ],
        rows=rows,
        outputs=[
            line
            for stack, values in driver.stack_outputs.items()
            if values
            for line in (f"Outputs of {stack} after the create", *(f"  {k} = {v}" for k, v in values.items()))
        ],
        failures=failures,
        warnings=warnings,
        verdict=verdict,
        color=color,
    )
    return Result(
        exit_code=1 if failures else 0,
        failures=failures,
        warnings=warnings,
        jobs=rows,
        report=text,
        personalize_jobs=tuple(job.name for job in sandbox.personalize.jobs()),
        executions=tuple(execution.name for execution in sandbox.stepfunctions.executions()),
        create_calls=sandbox.personalize.calls.get("CreateBatchInferenceJob", 0),
        limit_exceeded=sandbox.personalize.limit_exceeded,
        throttled=sandbox.personalize.throttled,
        signals=sandbox.signals.count,
        events=len(sandbox.events.events()),
        simulated_seconds=simulated,
        wall_seconds=wall,
        sample_records=driver.options.records,
    )


def _header(cdk_out: str, driver: Driver, sandbox: Sandbox) -> list[str]:
    options = driver.options
    lines = [
        f"Rehearsal of {cdk_out}: a simulated deployment; every endpoint is on 127.0.0.1",
        f"  Personalize, Step Functions, EventBridge, WaitCondition handles: {sandbox.server.url}",
        f"  S3 (moto): {sandbox.s3.url}",
        (
            f"  quota {options.quota}, throttle {options.throttle}, sample input {options.records} records, "
            f"jobs PENDING {duration_text(options.pending_seconds)} then IN PROGRESS "
            f"{duration_text(options.run_seconds)} (simulated)"
        ),
    ]
    for stack in driver.stacks:
        lines.append(f"Stack {stack.name} ({stack.resolver.account}, {stack.resolver.region})")
        for job in stack.jobs:
            lines.extend(_wiring(job))
    return lines


def _wiring(job: JobResource) -> list[str]:
    checks = ", ".join(f"{f.logical_id} ({f.handler})" for f in job.check_functions) or "none found"
    asset = job.on_event.code_dir.name[:18] if job.on_event.code_dir else "(no asset)"
    lines = [
        f"  {job.construct_id} ({job.logical_id})",
        f"    on-event  {job.on_event.logical_id} ({job.on_event.handler}, {asset})",
        f"              via {job.framework.logical_id}",
        f"    monitor   {job.monitor.logical_id if job.monitor else 'none found'} -> check {checks}",
    ]
    if job.wait_logical_id:
        lines.append(f"    wait      {job.wait_logical_id} (timeout {duration_text(job.wait_timeout)})")
    else:
        lines.append("    wait      none (wait=False)")
    return lines
