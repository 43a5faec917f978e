"""The lifecycle, as CloudFormation and Step Functions would drive it, on simulated time.

Create every job resource (after what it depends on), run the monitors to their end and the
WaitConditions to their outcome; then an Update that changes one job; then Delete everything. The
handler code runs unchanged in-process (lambdas.py) against the loopback stand-ins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs_lib.rehearsal.assembly import Assembly
from constructs_lib.rehearsal.clock import duration_text
from constructs_lib.rehearsal.discovery import (
    JOB_RESOURCE_TYPE,
    JobResource,
    StackModel,
    discover,
    find_function,
)
from constructs_lib.rehearsal.intrinsics import UnresolvableError
from constructs_lib.rehearsal.lambdas import InvocationError
from constructs_lib.rehearsal.provider import (
    CREATE_FAILED_MARKER,
    ProviderAnswer,
    ProviderFramework,
    cfn_properties,
)
from constructs_lib.rehearsal.sandbox import Sandbox
from constructs_lib.rehearsal.signals import COMPLETE, FAILED, Handle, WaitCondition
from constructs_lib.rehearsal.stepfunctions import SUCCEEDED, Execution, Interpreter

DUPLICATE_DELAY_SECONDS = 5
# CloudFormation learns that the custom resource is done, then creates the WaitCondition depending on it.
WAIT_CONDITION_DELAY_SECONDS = 2
CREATE_COMPLETE, CREATE_FAILED_STATUS, NOT_CREATED = "CREATE_COMPLETE", "CREATE_FAILED", "NOT CREATED"


class RehearsalError(ValueError):
    """The rehearsal cannot run as asked (unknown stack, a --fail id that names no job, ...)."""


@dataclass(frozen=True)
class Options:
    stack: str | None = None
    quota: int = 5
    fail: Mapping[str, str] = field(default_factory=dict)
    throttle: int = 0
    records: int = 20
    pending_seconds: float = 240
    run_seconds: float = 2700
    update: bool | str = True
    duplicate_create: bool = False


@dataclass
class JobRun:
    """One Personalize job started for a resource, in the create or the update phase."""

    resource: JobResource
    phase: str
    job_name: str | None
    output_uri: str | None = None
    wait: WaitCondition | None = None
    reason: str = ""


class Driver:
    def __init__(self, assembly: Assembly, options: Options, sandbox: Sandbox) -> None:
        self.assembly = assembly
        self.options = options
        self.sandbox = sandbox
        self.stacks = self._stacks()
        self.runs: list[JobRun] = []
        self.failures: list[str] = []
        self.warnings: list[str] = []
        self._started: set[str] = set()
        self._waits: dict[str, tuple[JobResource, WaitCondition, JobRun | None]] = {}
        self._handle_owners: dict[str, JobResource] = {}
        self.stack_outputs: dict[str, dict[str, str]] = {}
        self.provider = ProviderFramework(sandbox.runtime, sandbox.server.url, self._drain)
        self.interpreter = Interpreter(sandbox.scheduler, self._invoke_task, self._monitor_ended)
        for stack in self.stacks:
            for machine in stack.machines.values():
                sandbox.stepfunctions.register(machine)
            for rule in stack.rules:
                sandbox.events.add_rule(rule)
        self._check_ids()

    # ------------------------------------------------------------------ setup

    def _stacks(self) -> list[StackModel]:
        artifacts = [
            artifact
            for artifact in self.assembly.stacks
            if self.options.stack in (None, artifact.stack_name, artifact.artifact_id, artifact.display_name)
        ]
        if self.options.stack is not None and not artifacts:
            names = ", ".join(artifact.stack_name for artifact in self.assembly.stacks)
            raise RehearsalError(
                f"No stack named {self.options.stack!r} in {self.assembly.directory} (stacks: {names})"
            )
        stacks = [discover(artifact, self.assembly, self.sandbox.signals) for artifact in artifacts]
        stacks = [stack for stack in stacks if stack.jobs]
        if not stacks:
            raise RehearsalError(
                f"No {JOB_RESOURCE_TYPE} resource in {self.assembly.directory}: nothing to rehearse"
            )
        return stacks

    def jobs(self) -> list[JobResource]:
        return [job for stack in self.stacks for job in stack.jobs]

    def _check_ids(self) -> None:
        """Every job named by --fail or --update exists."""
        named = [("--fail", wanted) for wanted in self.options.fail]
        if isinstance(self.options.update, str):
            named.append(("--update", self.options.update))
        for option, wanted in named:
            if not any(_names(job, wanted) for job in self.jobs()):
                known = ", ".join(sorted({job.construct_id for job in self.jobs()}))
                raise RehearsalError(f"{option} {wanted}: no job has that construct id (jobs: {known})")

    # ------------------------------------------------------------------ phases

    def run(self) -> None:
        for stack in self.stacks:
            self._create_stack(stack)
        if self.failures:
            self.warnings.append("Update skipped: the stack would have rolled back after the failure above.")
        elif self.options.update:
            self._update()
        self._delete()

    def _create_stack(self, stack: StackModel) -> None:
        for job in stack.jobs:
            self._start_ready(job)
        self.sandbox.scheduler.run()
        self.stack_outputs[stack.name] = _outputs(stack)
        for job in stack.jobs:
            if job.key not in self._started:
                job.reason = "not created: a resource it depends on failed"
                self.warnings.append(f"{job.label()}: {job.reason}")
                self.sandbox.timeline.add(job.key, "cfn", f"{job.reason} (CloudFormation cancels it)")

    def _start_ready(self, job: JobResource) -> None:
        if job.key in self._started or not all(self._blocker_done(job.stack, name) for name in job.blockers):
            return
        if any(self._blocker_failed(job.stack, name) for name in job.blockers):
            return
        self._started.add(job.key)
        self.sandbox.scheduler.after(0, lambda: self._create(job))

    def _blocker_done(self, stack: StackModel, logical_id: str) -> bool:
        for job in stack.jobs:
            if job.logical_id == logical_id:
                return job.status == CREATE_COMPLETE
            if job.wait_logical_id == logical_id:
                return job.wait is not None and job.wait.status == COMPLETE
        return True

    def _blocker_failed(self, stack: StackModel, logical_id: str) -> bool:
        return any(
            (job.logical_id == logical_id and job.status == CREATE_FAILED_STATUS)
            or (job.wait_logical_id == logical_id and job.wait is not None and job.wait.status == FAILED)
            for job in stack.jobs
        )

    def _unblock(self, stack: StackModel) -> None:
        for job in stack.jobs:
            self._start_ready(job)

    # ------------------------------------------------------------------ Create

    def _create(self, job: JobResource) -> None:
        properties = cfn_properties(job.stack.resolver.resolve(dict(job.template_properties)))
        self._seed(properties)
        job.properties = properties
        event = self._event(job, "Create", properties)
        self.sandbox.timeline.add(job.key, "cfn", "Create sent to the custom resource")
        answer = self._provider(job, event)
        if not answer.ok:
            self._resource_failed(job, "Create", answer)
            return
        self._created(job, answer)
        run = self._adopt(job, answer, "create")
        self._note_answer(job, "Create", answer)
        if self.options.duplicate_create:
            self.sandbox.scheduler.after(DUPLICATE_DELAY_SECONDS, lambda: self._duplicate(job, event, answer))
        if job.wait_logical_id and job.handle_logical_id:
            self._start_wait(job, job.wait_logical_id, job.stack.handles[job.handle_logical_id], run)
        self._unblock(job.stack)

    def _created(self, job: JobResource, answer: ProviderAnswer) -> None:
        job.status, job.physical_id, job.data = CREATE_COMPLETE, answer.physical_id, answer.data
        job.stack.resolver.set_ref(job.logical_id, answer.physical_id)
        job.stack.resolver.set_attributes(job.logical_id, answer.data)
        if job.handle_logical_id:
            job.handle = job.stack.handles[job.handle_logical_id]
            self._handle_owners[job.handle.path] = job

    def _resource_failed(self, job: JobResource, request: str, answer: ProviderAnswer) -> None:
        if request == "Create":
            job.status, job.physical_id = CREATE_FAILED_STATUS, answer.physical_id
            self.runs.append(JobRun(job, "create", None, reason=answer.reason))
        job.reason = answer.reason
        self.sandbox.timeline.add(job.key, "cfn", f"{request} -> {request.upper()}_FAILED: {answer.reason}")
        self.failures.append(f"{job.label()}: {request} failed: {answer.reason}")
        self._unblock(job.stack)

    def _note_answer(self, job: JobResource, request: str, answer: ProviderAnswer) -> None:
        data = answer.data
        self.sandbox.timeline.add(
            job.key,
            "cfn",
            f"{request} -> {request.upper()}_COMPLETE (job {data.get('Status')})",
        )

    def _adopt(self, job: JobResource, answer: ProviderAnswer, phase: str) -> JobRun:
        name = answer.data.get("JobName")
        run = JobRun(job, phase, name, output_uri=answer.data.get("OutputS3Uri"))
        self.runs.append(run)
        if name:
            job.job_names.append(name)
            for wanted, reason in self.options.fail.items():
                if _names(job, wanted):
                    self.sandbox.personalize.fail(name, reason)
                    self.sandbox.timeline.add(job.key, "note", f"failure injected (--fail): {reason}")
        return run

    def _duplicate(self, job: JobResource, event: dict[str, Any], first: ProviderAnswer) -> None:
        """CloudFormation sends the same Create again (same RequestId): it must find the same job."""
        answer = self._provider(job, event)
        same = answer.ok and answer.physical_id == first.physical_id
        outcome = "same physical id" if same else answer.reason or answer.physical_id
        text = f"duplicated Create (same RequestId) -> {outcome}"
        self.sandbox.timeline.add(job.key, "cfn", text)
        if not same:
            self.failures.append(f"{job.label()}: a duplicated Create did not find the same job: {text}")

    def _seed(self, properties: Mapping[str, Any]) -> None:
        s3 = self.sandbox.s3
        s3.ensure_bucket(str(properties.get("OutputBucket")))
        s3.seed_input(
            str(properties["InputPath"]), str(properties.get("Mode", "BATCH_INFERENCE")), self.options.records
        )

    # ------------------------------------------------------------------ WaitConditions

    def _start_wait(self, job: JobResource, logical_id: str, handle: Handle, run: JobRun | None) -> None:
        self.sandbox.scheduler.after(
            WAIT_CONDITION_DELAY_SECONDS, lambda: self._wait_started(job, logical_id, handle, run)
        )

    def _wait_started(self, job: JobResource, logical_id: str, handle: Handle, run: JobRun | None) -> None:
        scheduler = self.sandbox.scheduler
        wait = WaitCondition(
            job.stack.name, logical_id, handle, job.wait_timeout, job.wait_count, scheduler.clock.elapsed
        )
        wait.timer = scheduler.after(job.wait_timeout, lambda: self._wait_timeout(job, wait, run))
        job.wait = wait
        if run is not None:
            run.wait = wait
        self._waits[handle.path] = (job, wait, run)
        self.sandbox.timeline.add(
            job.key, "wait", f"WaitCondition waiting (timeout {duration_text(job.wait_timeout)})"
        )
        if wait.evaluate(scheduler.clock.elapsed):
            self._wait_ended(job, wait, run)

    def _wait_timeout(self, job: JobResource, wait: WaitCondition, run: JobRun | None) -> None:
        if wait.time_out(self.sandbox.clock.elapsed):
            self._wait_ended(job, wait, run)

    def _wait_ended(self, job: JobResource, wait: WaitCondition, run: JobRun | None) -> None:
        if wait.status == COMPLETE:
            self.sandbox.timeline.add(job.key, "wait", "WaitCondition CREATE_COMPLETE")
        else:
            self.sandbox.timeline.add(job.key, "wait", f"WaitCondition CREATE_FAILED: {wait.reason}")
            self.failures.append(f"{job.label()}: {wait.reason}")
            if run is not None:
                run.reason = wait.reason
        self._unblock(job.stack)

    # ------------------------------------------------------------------ Update

    def _update(self) -> None:
        job = self._update_target()
        if job is None:
            self.warnings.append("Update skipped: no job resource was created.")
            return
        old = dict(job.properties)
        new = dict(old)
        handle = None
        if old.get("JobName"):
            # An explicit name cannot be replaced: change the tags, in place.
            new["Tags"] = [*old.get("Tags", []), {"Key": "rehearsal", "Value": "updated"}]
            change = "Tags"
        else:
            new["RunToken"] = f"{old.get('RunToken', 'rehearsal')}-update"
            change = "RunToken"
            if job.handle_logical_id:
                # A changed definition synthesizes a new handle (and WaitCondition): a new URL.
                handle = self.sandbox.signals.new_handle(
                    stack=job.stack.name,
                    stack_id=job.stack.resolver.stack_id,
                    logical_id=f"{job.handle_logical_id}Next",
                    region=job.stack.resolver.region,
                )
                new["WaitHandle"] = handle.url
        self.sandbox.timeline.add(job.key, "cfn", f"Update sent ({change} changed)")
        event = self._event(job, "Update", new, old=old, physical_id=job.physical_id)
        answer = self._provider(job, event)
        if not answer.ok:
            self._resource_failed(job, "Update", answer)
            return
        if answer.physical_id == job.physical_id:
            job.properties, job.data = new, answer.data
            self.sandbox.timeline.add(job.key, "cfn", f"Update -> UPDATE_COMPLETE in place ({change})")
            self.sandbox.scheduler.run()
            return
        self._replace(job, old, new, answer, handle)

    def _update_target(self) -> JobResource | None:
        created = [job for job in self.jobs() if job.status == CREATE_COMPLETE]
        if isinstance(self.options.update, str):
            created = [job for job in created if _names(job, str(self.options.update))]
        waited = [job for job in created if job.waits]
        candidates = waited or created
        return candidates[0] if candidates else None

    def _replace(
        self,
        job: JobResource,
        old: dict[str, Any],
        new: dict[str, Any],
        answer: ProviderAnswer,
        handle: Handle | None,
    ) -> None:
        old_physical_id, old_handle, old_wait = job.physical_id, job.handle, job.wait
        job.properties = new
        self._created(job, answer)
        job.handle = handle
        if handle is not None:
            self._handle_owners[handle.path] = job
        run = self._adopt(job, answer, "update")
        self._note_answer(job, "Update", answer)
        if handle is not None and job.wait_logical_id:
            self._start_wait(job, f"{job.wait_logical_id}Next", handle, run)
        self.sandbox.scheduler.run()
        # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: the old WaitCondition and handle go, then the old job resource.
        if old_wait is not None and old_wait.timer is not None:
            old_wait.timer.cancel()
        if old_handle is not None:
            self.sandbox.signals.delete(old_handle)
        event = self._event(job, "Delete", old, physical_id=old_physical_id)
        cleanup = self._provider(job, event)
        if cleanup.ok:
            self.sandbox.timeline.add(
                job.key, "cfn", f"cleanup: Delete of the replaced {old_physical_id} -> DELETE_COMPLETE"
            )
        else:
            self._resource_failed(job, "Delete", cleanup)

    # ------------------------------------------------------------------ Delete

    def _delete(self) -> None:
        for stack in reversed(self.stacks):
            for job in reversed(stack.jobs):
                if job.wait is not None and job.wait.timer is not None:
                    job.wait.timer.cancel()
                if job.status == NOT_CREATED:
                    continue
                physical_id = job.physical_id or CREATE_FAILED_MARKER
                answer = self._provider(
                    job, self._event(job, "Delete", job.properties, physical_id=physical_id)
                )
                if answer.ok:
                    detail = f" ({answer.reason})" if answer.reason else ""
                    self.sandbox.timeline.add(job.key, "cfn", f"Delete -> DELETE_COMPLETE{detail}")
                else:
                    self._resource_failed(job, "Delete", answer)
            for handle in stack.handles.values():
                self.sandbox.signals.delete(handle)
        self.sandbox.scheduler.run()

    # ------------------------------------------------------------------ the Provider framework

    def _event(
        self,
        job: JobResource,
        request_type: str,
        properties: dict[str, Any],
        *,
        old: dict[str, Any] | None = None,
        physical_id: str | None = None,
    ) -> dict[str, Any]:
        return self.provider.event(
            stack_id=job.stack.resolver.stack_id,
            logical_id=job.logical_id,
            resource_type=JOB_RESOURCE_TYPE,
            request_type=request_type,
            properties=properties,
            old=old,
            physical_id=physical_id,
        )

    def _provider(self, job: JobResource, event: dict[str, Any]) -> ProviderAnswer:
        return self.provider.send(job.on_event, event)

    # ------------------------------------------------------------------ Step Functions

    def _invoke_task(self, execution: Execution, state: str, reference: str, payload: Any) -> Any:
        stack = next(s for s in self.stacks if s.name == execution.machine.stack)
        function = find_function(stack, reference)
        job_name = _job_name(execution)
        if function is None:
            raise InvocationError(
                reference, "Lambda.ResourceNotFoundException", f"Function not found: {reference}", []
            )
        try:
            result = self.sandbox.runtime.invoke(function, payload).result
        except InvocationError as error:
            self.sandbox.timeline.add(
                job_name, "check", f"{state} raised {error.error_type}: {error.message}"
            )
            self._drain()
            raise
        if isinstance(result, dict) and "checks" in result:
            self._record_check(job_name, result)
        self._drain()
        return result

    def _record_check(self, job_name: str, state: Mapping[str, Any]) -> None:
        status = state.get("status")
        errors = int(state.get("consecutiveErrors") or 0)
        seen = f"{status} (last known; the check got an error, {errors} in a row)" if errors else status
        if state.get("done"):
            text = f"check {state['checks']}: {seen}, done ({state.get('result')})"
        else:
            text = f"check {state['checks']}: {seen}, next in {state.get('waitSeconds')} s"
        self.sandbox.timeline.add(
            job_name,
            "check",
            text,
            status=seen,
            checks=state.get("checks"),
            wait=state.get("waitSeconds"),
            done=bool(state.get("done")),
        )

    def _monitor_ended(self, execution: Execution) -> None:
        if execution.status == SUCCEEDED:
            text = "monitor execution SUCCEEDED"
        else:
            text = f"monitor execution {execution.status}: {execution.error}: {execution.cause}"
            self.warnings.append(f"{_job_name(execution)}: {text}")
        self.sandbox.timeline.add(_job_name(execution), "monitor", text)

    # ------------------------------------------------------------------ what the stand-ins received

    def _drain(self) -> None:
        sandbox = self.sandbox
        sandbox.personalize.settle()
        for execution in sandbox.stepfunctions.take_new():
            sandbox.timeline.add(
                _job_name(execution), "monitor", f"monitor execution started ({execution.name})"
            )
            self.interpreter.start(execution)
        for handle, signal in sandbox.signals.take_new():
            owner = self._waits.get(handle.path)
            job = self._handle_owners.get(handle.path)
            key = job.key if job else f"{handle.stack}/{handle.logical_id}"
            reason = f": {signal.reason}" if signal.status != "SUCCESS" and signal.reason else ""
            sandbox.timeline.add(key, "signal", f"signal {signal.status} received{reason}")
            if owner is not None and owner[1].evaluate(sandbox.clock.elapsed):
                self._wait_ended(*owner)
        for event in sandbox.events.take_new():
            rules = f", matched rule {', '.join(event.matched_rules)}" if event.matched_rules else ""
            detail = event.detail
            sandbox.timeline.add(
                str(detail.get("jobName")),
                "event",
                f"event emitted: {event.detail_type} ({detail.get('status')}){rules}",
            )


def _outputs(stack: StackModel) -> dict[str, str]:
    """The stack's Outputs as `cdk deploy` would print them after the create."""
    outputs: dict[str, str] = {}
    for name, output in stack.resolver.template.get("Outputs", {}).items():
        try:
            outputs[name] = str(stack.resolver.resolve(output.get("Value")))
        except UnresolvableError as error:
            outputs[name] = f"(not resolved: {error})"
    return outputs


def _names(job: JobResource, wanted: str) -> bool:
    """Does `wanted` (from --fail / --update) name this job: its construct id, path or logical id?"""
    return wanted in (job.construct_id, job.logical_id, job.path, job.path.removesuffix("/Resource/Default"))


def _job_name(execution: Execution) -> str:
    try:
        return str(json.loads(execution.input_text).get("jobName"))
    except (json.JSONDecodeError, AttributeError):
        return execution.name
