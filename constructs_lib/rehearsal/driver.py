"""The lifecycle, as CloudFormation and Step Functions would drive it, on simulated time.

Create every stack (dependencies first), run the monitors; then an update: to a second synthesized
assembly, or one job changed (a new run token); then delete everything. The handler code runs unchanged
in-process (lambdas.py) against the loopback stand-ins; CloudFormation is engine.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from constructs_lib._contract import contract
from constructs_lib.rehearsal.assembly import Assembly, StackArtifact
from constructs_lib.rehearsal.clock import duration_text
from constructs_lib.rehearsal.cloudformation import StackResource, StackStatus
from constructs_lib.rehearsal.discovery import JobResource, StackModel, construct_id, find_function
from constructs_lib.rehearsal.enforce import Enforcer
from constructs_lib.rehearsal.engine import (
    JOB_TYPES,
    STUCK,
    VALIDATION_FAILED,
    Change,
    Engine,
    Faults,
    Operation,
    ResourceState,
    StackState,
    names_resource,
)
from constructs_lib.rehearsal.intrinsics import UnresolvableError
from constructs_lib.rehearsal.lambdas import InvocationError
from constructs_lib.rehearsal.personalize import ENDED
from constructs_lib.rehearsal.provider import ProviderAnswer, ProviderFramework
from constructs_lib.rehearsal.recurring import Recurring
from constructs_lib.rehearsal.sandbox import Sandbox
from constructs_lib.rehearsal.signals import CANCELLED, COMPLETE, WaitCondition
from constructs_lib.rehearsal.stepfunctions import SUCCEEDED, Execution, Interpreter

CREATE, UPDATE = "create", "update"


class RehearsalError(ValueError):
    """The rehearsal cannot run as asked (unknown stack, a --fail id that names no job, ...)."""


@dataclass(frozen=True)
class Options:
    stack: str | None = None
    quota: int | None = None
    fail: Mapping[str, str] = field(default_factory=dict)  # construct id -> reason, any phase
    fail_update: Mapping[str, str] = field(default_factory=dict)  # ... for jobs the update starts
    # Logical ids whose create, or an update that changes them, fails (in the update phase).
    fail_resources: frozenset[str] = frozenset()
    throttle: int = 0
    records: int = 20  # lines of the sample input written where input is said to be there
    # Construct (or logical) ids of jobs whose input the user says will be in place before they run, in
    # a bucket the deploy creates (uploaded by another process): sample input is written there.
    input_exists: frozenset[str] = frozenset()
    update: bool | str = True  # the synthetic update: True for the first waited job, or a construct id
    duplicate_requests: bool = False
    enforce_iam: bool = True
    days: float = 0  # simulated days after the deploy in which schedules and chain rules deliver
    fail_scheduled: Mapping[str, str] = field(default_factory=dict)  # ... for its runs without a deploy
    new_input: tuple[tuple[str, float], ...] = ()  # (job id, day): new data lands under its input path


@dataclass
class JobRun:
    """One Personalize job started for a job resource, in the create or the update phase."""

    resource: JobResource
    phase: str
    job_name: str | None
    job_arn: str | None = None
    output_uri: str | None = None
    wait: WaitCondition | None = None
    reason: str = ""
    instance: int = 0  # the stack instance (StackId) that started it
    run_token: str = ""  # the resource's RunToken when it started the job
    explicit_name: str = ""  # its JobName, when it had one


@dataclass
class StackOutcome:
    """How one stack's operation ended, for the report."""

    phase: str
    stack: str
    operation: Operation
    started_at: float = 0.0  # simulated seconds since the start, when the operation began
    ended_at: float = 0.0  # ... and when it ended


class Driver:
    def __init__(
        self,
        assembly: Assembly,
        options: Options,
        sandbox: Sandbox,
        *,
        update_to: Assembly | None = None,
    ) -> None:
        self.assembly = assembly
        self.update_to = update_to
        self.options = options
        self.sandbox = sandbox
        self.runs: list[JobRun] = []
        self.failures: list[str] = []
        self.warnings: list[str] = []
        self.stuck: list[str] = []
        self.outcomes: list[StackOutcome] = []
        self.stack_outputs: dict[str, dict[str, dict[str, str]]] = {}  # phase -> stack -> outputs
        self.changes: list[Change] = []
        self.phase = CREATE
        self.provider = ProviderFramework(sandbox.runtime, sandbox.server.url, self._drain)
        self.engine = Engine(
            sandbox,
            self.provider,
            faults=Faults(duplicate_requests=options.duplicate_requests),
            on_answer=self._answered,
            on_wait=self._wait_changed,
            on_seed=self._seed,
        )
        sandbox.cloudformation.source = self._stack_statuses
        self.interpreter = Interpreter(sandbox.scheduler, self._invoke_task, self._monitor_ended)
        self.enforcer: Enforcer | None = None
        if options.enforce_iam:
            self.enforcer = Enforcer(self.engine.live_resolvers)
            sandbox.runtime.enforcer = self.enforcer
            sandbox.personalize.access_check = self.enforcer.personalize_access
        self.artifacts = self._select(assembly)
        self.models: dict[str, StackModel] = {}  # every stack's wiring, as last deployed
        self.states: dict[str, StackState] = {}  # the stacks deployed now
        # Failures to inject into the jobs started from now on (construct id -> reason), set per step.
        self.inject: dict[str, str] = {}
        # Every WaitCondition, with the job it waits for (the job resource's physical id as it started).
        self.waits: list[tuple[WaitCondition, str | None, str]] = []
        self._answers: dict[str, str] = {}  # resource key -> the physical id of its last answer
        self.recurring: Recurring | None = None  # the schedules' deliveries, once --days runs
        self._check_ids()

    # ------------------------------------------------------------------ setup

    def _stack_statuses(self) -> list[StackStatus]:
        """What DescribeStacks (and DescribeStackResource) answers: each deployed stack's status (and its
        resources') at this moment of the operation."""
        return [
            StackStatus(
                state.name,
                state.resolver.stack_id,
                state.status,
                tuple(
                    StackResource(r.logical_id, r.type, r.physical_id, r.status)
                    for r in list(state.resources.values())  # one copy: the engine's thread may change it
                ),
                state.updated_at,
            )
            for state in list(self.engine.stacks.values())
        ]

    def _select(self, assembly: Assembly) -> list[StackArtifact]:
        """The stacks to rehearse: all, or the one asked for and the stacks it depends on."""
        wanted = self.options.stack
        if wanted is None:
            return list(assembly.stacks)
        chosen = [s for s in assembly.stacks if wanted in (s.stack_name, s.artifact_id, s.display_name)]
        if not chosen:
            names = ", ".join(artifact.stack_name for artifact in assembly.stacks)
            raise RehearsalError(f"No stack named {wanted!r} in {assembly.directory} (stacks: {names})")
        needed = {chosen[0].artifact_id}
        for artifact in reversed(assembly.stacks):
            if artifact.artifact_id in needed:
                needed.update(artifact.dependencies)
        return [artifact for artifact in assembly.stacks if artifact.artifact_id in needed]

    def jobs(self) -> list[JobResource]:
        """Every job resource ever deployed, in the order first seen."""
        seen: dict[str, JobResource] = {}
        for model in self._all_models():
            for job in model.jobs.values():
                seen.setdefault(job.key, job)
        return list(seen.values())

    def _all_models(self) -> list[StackModel]:
        return list(self.models.values())

    def _job_templates(self) -> list[tuple[str, str, dict[str, Any]]]:
        found = []
        for assembly in filter(None, (self.assembly, self.update_to)):
            for artifact in assembly.stacks:
                for logical_id, resource in artifact.template.get("Resources", {}).items():
                    if resource.get("Type") in JOB_TYPES:
                        found.append((artifact.stack_name, logical_id, resource))
        return found

    def _check_ids(self) -> None:
        """Every job named by --fail, --fail-update, --input-exists or --update exists."""
        named = [("--fail", wanted) for wanted in self.options.fail]
        named += [("--fail-update", wanted) for wanted in self.options.fail_update]
        named += [("--input-exists", wanted) for wanted in sorted(self.options.input_exists)]
        named += [("--fail-scheduled", wanted) for wanted in self.options.fail_scheduled]
        named += [("--new-input", wanted) for wanted, _ in self.options.new_input]
        if isinstance(self.options.update, str):
            named.append(("--update", self.options.update))
        templates = self._job_templates()
        for option, wanted in named:
            if not any(
                _names_template(logical_id, resource, wanted) for _, logical_id, resource in templates
            ):
                known = ", ".join(
                    sorted({_construct_id_of(logical_id, resource) for _, logical_id, resource in templates})
                )
                raise RehearsalError(f"{option} {wanted}: no job has that construct id (jobs: {known})")
        logical_ids = sorted(
            {
                logical_id
                for assembly in filter(None, (self.assembly, self.update_to))
                for artifact in assembly.stacks
                for logical_id in artifact.template.get("Resources", {})
            }
        )
        for wanted in sorted(self.options.fail_resources):
            if not any(names_resource(wanted, logical_id) for logical_id in logical_ids):
                raise RehearsalError(
                    f"--fail-resource {wanted}: no resource has that logical id "
                    f"(resources: {', '.join(logical_ids)})"
                )

    # ------------------------------------------------------------------ phases

    def run(self) -> None:
        """The rehearsal: create, an update, delete, then let every monitor finish."""
        outcomes = self.deploy(self.assembly, CREATE)
        if all(outcome.operation.status == "CREATE_COMPLETE" for outcome in outcomes):
            if self.options.days:
                self.phase = "days"
                self.recurring = Recurring(self)
                self.recurring.run_days(self.options.days)
            self.engine.faults.fail_resources = set(self.options.fail_resources)
            if self.update_to is not None:
                self.deploy(self.update_to, UPDATE)
            elif self.options.update:
                self._synthetic_update(self.states)
            for unused in sorted(self.engine.faults.fail_resources):
                self.warnings.append(
                    f"--fail-resource {unused}: the update neither created nor changed it, so nothing "
                    "failed (CloudFormation touches only what an update changes)"
                )
            self.engine.faults.fail_resources = set()
        elif self.update_to is not None or self.options.update:
            self.warnings.append("Update skipped: a stack did not deploy.")
        self.delete()
        self.settle()

    # ------------------------------------------------------------------ steps

    def deploy(self, assembly: Assembly, phase: str) -> list[StackOutcome]:
        """``cdk deploy`` of the selected stacks of ``assembly``: each created, or updated to it; stops at
        the first stack that fails, as the CLI does."""
        self.phase = phase
        outcomes: list[StackOutcome] = []
        for artifact in self._select(assembly):
            state = self.states.get(artifact.stack_name)
            started = self.sandbox.clock.elapsed
            try:
                if state is None:
                    state = self.engine.new_stack(artifact, assembly)
                    self.models[state.name] = state.model
                    operation = self.engine.create(state)
                    ok = operation.status == "CREATE_COMPLETE"
                else:
                    operation = self.engine.update(state, artifact, assembly)
                    ok = operation.status == "UPDATE_COMPLETE"
            except UnresolvableError as error:
                self.failures.append(f"{artifact.stack_name}: cannot be deployed: {error}")
                break
            self.models[state.name] = state.model
            outcomes.append(self._record(phase, state, operation, started))
            if state.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
                self.states[state.name] = state
            elif state.status == "ROLLBACK_COMPLETE":
                # A stack whose create rolled back must be deleted before it can be created again.
                started = self.sandbox.clock.elapsed
                self._record("delete", state, self.engine.delete(state), started)
            if not ok:
                break
        return outcomes

    def delete(self) -> list[StackOutcome]:
        """``cdk destroy`` of every deployed stack, dependents first."""
        self.phase = "delete"
        outcomes = []
        for name in reversed(list(self.states)):
            state = self.states.pop(name)
            started = self.sandbox.clock.elapsed
            outcomes.append(self._record("delete", state, self.engine.delete(state), started))
        return outcomes

    def advance(self, seconds: float) -> None:
        """Let time pass with no stack operation: monitors check, jobs run and end."""
        scheduler = self.sandbox.scheduler
        until = scheduler.clock.elapsed + seconds

        def later() -> bool:
            due = scheduler.next_at()
            return due is None or due > until

        scheduler.run_until(later)
        scheduler.clock.advance_to(until)

    def settle(self) -> None:
        """Until nothing is left to do."""
        self.sandbox.scheduler.run()

    def _synthetic_update(self, states: dict[str, StackState]) -> None:
        """One job changed as a new synth would change it: a new run token (or, for an explicit name,
        new tags), and a new WaitCondition and handle when it waits."""
        target = self._update_target(states)
        if target is None:
            self.warnings.append("Update skipped: no job resource was created.")
            return
        state, job = target
        template = copy.deepcopy(state.template)
        resources = template["Resources"]
        properties = resources[job.logical_id]["Properties"]
        if properties.get(contract.JOB_NAME):
            properties[contract.TAGS] = [
                *properties.get(contract.TAGS, []),
                {"Key": "rehearsal", "Value": "updated"},
            ]
        else:
            properties[contract.RUN_TOKEN] = f"{properties.get(contract.RUN_TOKEN, 'rehearsal')}-update"
            if job.handle_logical_id and job.wait_logical_id:
                # New logical ids, as a new synth gives them: whatever named the old ones names the new.
                handle, wait = f"{job.handle_logical_id}Next", f"{job.wait_logical_id}Next"
                renamed = {job.handle_logical_id: handle, job.wait_logical_id: wait}
                resources[handle] = resources.pop(job.handle_logical_id)
                resources[wait] = resources.pop(job.wait_logical_id)
                template = _renamed(template, renamed)
                resources = template["Resources"]
                properties = resources[job.logical_id]["Properties"]
                resources[wait]["Properties"]["Handle"] = {"Ref": handle}
                properties[contract.WAIT_HANDLE] = {"Ref": handle}
                resources[wait]["DependsOn"] = job.logical_id
        artifact = replace(state.artifact, template=template)
        self.phase = UPDATE
        started = self.sandbox.clock.elapsed
        operation = self.engine.update(state, artifact, self.assembly)
        self.models[state.name] = state.model
        self._record(UPDATE, state, operation, started)

    def _update_target(self, states: Mapping[str, StackState]) -> tuple[StackState, JobResource] | None:
        candidates = [
            (state, job)
            for state in states.values()
            for job in state.model.jobs.values()
            if job.logical_id in state.resources
            and (not isinstance(self.options.update, str) or _names(job, self.options.update))
        ]
        waited = [candidate for candidate in candidates if candidate[1].waits]
        chosen = waited or candidates
        return chosen[0] if chosen else None

    # ------------------------------------------------------------------ what each operation did

    def _record(self, phase: str, state: StackState, operation: Operation, started: float) -> StackOutcome:
        outcome = StackOutcome(phase, state.name, operation, started, self.sandbox.clock.elapsed)
        self.outcomes.append(outcome)
        self.changes.extend(operation.changes)
        for job in state.model.jobs.values():
            if operation.kind != "DELETE":
                self.sandbox.timeline.add(
                    job.key, "cfn", f"stack {operation.kind.lower()}: {operation.status}"
                )
        if operation.kind != "DELETE" and operation.status != VALIDATION_FAILED:
            self.stack_outputs.setdefault(phase, {})[state.name] = _outputs(state)
        if operation.status in STUCK or operation.problems:
            self.stuck.extend(f"{state.name}: {problem}" for problem in operation.problems)
            if operation.status in STUCK:
                self.stuck.append(f"{state.name}: {operation.kind.lower()} ended {operation.status}")
        if operation.reason and operation.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            self.failures.append(
                f"{state.name}: {operation.kind.lower()} failed ({operation.status}): {operation.reason}"
            )
        return outcome

    def _answered(
        self,
        state: StackState,
        resource: ResourceState,
        request: str,
        event: dict[str, Any],
        answer: ProviderAnswer,
    ) -> None:
        job = state.model.jobs.get(resource.logical_id)
        key = state.key(resource.logical_id)
        if not answer.ok:
            self.sandbox.timeline.add(key, "cfn", f"{request} -> FAILED: {answer.reason}")
            return
        data = answer.data
        status = f" (job {data['Status']})" if "Status" in data else ""
        if event["RequestType"] == "Delete":
            detail = f" ({answer.reason})" if answer.reason else ""
            text = request if request.endswith((" of the replaced", " of the new")) else f"{request} of"
            self.sandbox.timeline.add(
                key, "cfn", f"{text} {event.get('PhysicalResourceId')} -> DELETE_COMPLETE{detail}"
            )
            return
        if request.endswith("(delivered again)"):
            first = self._answers.get(key)
            same = "same physical id" if answer.physical_id == first else answer.physical_id
            self.sandbox.timeline.add(key, "cfn", f"{request.replace(' (', ' (same RequestId, ')} -> {same}")
            return
        self.sandbox.timeline.add(key, "cfn", f"{request} -> {answer.physical_id}{status}")
        self._answers[key] = answer.physical_id
        name = data.get("JobName")
        if job is None or not name:
            return
        if any(run.resource.key == job.key and run.job_name == name for run in self.runs):
            return
        properties = event.get("ResourceProperties", {})
        run = JobRun(
            job,
            self.phase,
            str(name),
            data.get("JobArn"),
            data.get("OutputS3Uri"),
            instance=state.instance,
            run_token=str(properties.get(contract.RUN_TOKEN) or ""),
            explicit_name=str(properties.get(contract.JOB_NAME) or ""),
        )
        self.runs.append(run)
        failures = {**self.options.fail, **self.inject}
        if self.phase == UPDATE:
            failures.update(self.options.fail_update)
        for wanted, reason in failures.items():
            if _names(job, wanted):
                self.sandbox.personalize.fail(str(name), reason)
                self.sandbox.timeline.add(key, "note", f"failure injected: {reason}")

    def _wait_changed(self, state: StackState, resource: ResourceState, wait: WaitCondition) -> None:
        job = next((j for j in state.model.jobs.values() if j.wait_logical_id == resource.logical_id), None)
        key = job.key if job is not None else state.key(resource.logical_id)
        if wait.status == "CREATE_IN_PROGRESS":
            current = state.resources.get(job.logical_id) if job is not None else None
            self.waits.append((wait, current.physical_id if current is not None else None, key))
            self.sandbox.timeline.add(
                key,
                "wait",
                f"WaitCondition {resource.logical_id} waiting (timeout {duration_text(wait.timeout)})",
            )
            run = self._current_run(job)
            if run is not None:
                run.wait = wait
            return
        if wait.status == COMPLETE:
            self.sandbox.timeline.add(key, "wait", f"WaitCondition {resource.logical_id} CREATE_COMPLETE")
            return
        if wait.reason == CANCELLED:
            # Another resource failed first: that failure is the deploy's; the job itself may still run.
            self.sandbox.timeline.add(
                key, "wait", f"WaitCondition {resource.logical_id} CREATE_FAILED: {CANCELLED}"
            )
            return
        self.sandbox.timeline.add(
            key, "wait", f"WaitCondition {resource.logical_id} CREATE_FAILED: {wait.reason}"
        )
        label = job.label() if job is not None else key
        self.failures.append(f"{label}: {wait.reason}")
        run = self._current_run(job)
        if run is not None:
            run.reason = wait.reason
            standin = self.sandbox.personalize.job(run.job_name) if run.job_name else None
            if "timed out" in wait.reason and standin is not None and standin.status in ENDED:
                ended = standin.updated_at
                if ended <= (wait.ended_at or 0):
                    self.stuck.append(
                        f"{label}: WaitCondition timed out at +{duration_text(wait.ended_at or 0)} although "
                        f"its job ended {standin.status} at +{duration_text(ended)}"
                    )

    def _current_run(self, job: JobResource | None) -> JobRun | None:
        if job is None:
            return None
        found = [run for run in self.runs if run.resource.key == job.key]
        return found[-1] if found else None

    def _seed(
        self, state: StackState, logical_id: str, properties: Mapping[str, Any], kind: contract.JobKind
    ) -> None:
        """Sample input where a job reads, before it starts, only where a real deploy would find input it
        does not write itself: in a bucket the app brings, or where the user says it will be
        (``input_exists``). A bucket the deploy creates starts empty: its input comes from the app (a
        BucketDeployment, another job's output) or the job fails as Personalize fails it. Existing input
        is left alone."""
        s3 = self.sandbox.s3
        if kind.output is not None:
            s3.ensure_bucket(str(properties.get(kind.output.bucket_prop)))
        if kind in (contract.BATCH_INFERENCE, contract.BATCH_SEGMENT):
            mode = (
                str(properties.get("Mode", "BATCH_INFERENCE"))
                if kind is contract.BATCH_INFERENCE
                else "SEGMENTS"
            )
            uri = str(properties["InputPath"])
        elif kind is contract.DATASET_IMPORT:
            mode, uri = "INTERACTIONS", str(properties["DataLocation"])
        elif kind is contract.DATA_DELETION:
            mode, uri = "USERS_TO_DELETE", str(properties["DataLocation"])
        else:
            return
        if s3.brought(uri) or self._input_declared(state, logical_id):
            s3.seed_input(uri, mode, self.options.records)

    def _input_declared(self, state: StackState, logical_id: str) -> bool:
        """Does ``input_exists`` name this job resource?"""
        resource = state.template.get("Resources", {}).get(logical_id, {})
        return any(_names_template(logical_id, resource, wanted) for wanted in self.options.input_exists)

    # ------------------------------------------------------------------ Step Functions

    def _model(self, stack: str) -> StackModel | None:
        """The stack's wiring as it is now (an update in progress included)."""
        live = self.engine.stacks.get(stack)
        return live.model if live is not None else self.models.get(stack)

    def _invoke_task(self, execution: Execution, state: str, reference: str, payload: Any) -> Any:
        model = self._model(execution.machine.stack)
        function = find_function(model, reference) if model is not None else None
        key = _execution_key(execution)
        if function is None:
            raise InvocationError(
                reference, "Lambda.ResourceNotFoundException", f"Function not found: {reference}", []
            )
        denial = (
            self.enforcer.check(
                execution.machine.role_arn,
                "lambda:InvokeFunction",
                {"FunctionName": function.arn},
                region=function.region,
                account=function.account,
            )
            if self.enforcer is not None
            else None
        )
        if denial is not None:
            self.sandbox.timeline.add(key, "check", f"{state}: {denial.describe()}")
            raise InvocationError(reference, "Lambda.AWSLambdaException", denial.describe(), [])
        try:
            result = self.sandbox.runtime.invoke(function, payload).result
        except InvocationError as error:
            self.sandbox.timeline.add(key, "check", f"{state} raised {error.error_type}: {error.message}")
            self._drain()
            raise
        if isinstance(result, dict) and "checks" in result:
            self._record_check(key, result)
        self._drain()
        return result

    def _record_check(self, key: str, state: Mapping[str, Any]) -> None:
        status = state.get("status")
        errors = int(state.get("consecutiveErrors") or 0)
        seen = f"{status} (last known; the check got an error, {errors} in a row)" if errors else status
        if state.get("done"):
            ending = state.get("result") or "monitor stopped"
            text = f"check {state['checks']}: {seen}, done ({ending})"
        else:
            text = f"check {state['checks']}: {seen}, next in {state.get('waitSeconds')} s"
        self.sandbox.timeline.add(
            key,
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
            why = f"{execution.error or ''} {execution.cause or ''}".strip()
            text = f"monitor execution {execution.status}: {why}".rstrip(": ")
            if execution.status != "ABORTED":
                self.warnings.append(f"{_execution_key(execution)}: {text}")
        self.sandbox.timeline.add(_execution_key(execution), "monitor", text)

    # ------------------------------------------------------------------ what the stand-ins received

    def _drain(self) -> None:
        sandbox = self.sandbox
        sandbox.personalize.settle()
        for execution in sandbox.stepfunctions.take_new():
            sandbox.timeline.add(
                _execution_key(execution), "monitor", f"monitor execution started ({execution.name})"
            )
            if self.recurring is not None:
                self.recurring.on_execution(execution)
            self.interpreter.start(execution)
        for handle, signal in sandbox.signals.take_new():
            reason = f": {signal.reason}" if signal.status != "SUCCESS" and signal.reason else ""
            key = self._handle_key(handle.stack, handle.logical_id)
            sandbox.timeline.add(key, "signal", f"signal {signal.status} received{reason}")
            self.engine.signal_arrived(handle)
        for event in sandbox.events.take_new():
            if self.recurring is not None:
                self.recurring.on_event(event)
            rules = f", matched rule {', '.join(event.matched_rules)}" if event.matched_rules else ""
            detail = event.detail
            sandbox.timeline.add(
                str(detail.get("jobName")),
                "event",
                f"event emitted: {event.detail_type} ({detail.get('status')}, {detail.get('result')}){rules}",
            )

    def drain(self) -> None:
        """What the stand-ins received since the last look (for a delivery the driver did not make)."""
        self._drain()

    def scheduled_run_started(self, state: Mapping[str, Any]) -> None:
        """A run without a deploy has its own monitor: its job joins the report, and a failure asked for
        (``fail_scheduled``) is injected into it."""
        stack = str(state.get("stackId") or "").split(":stack/", 1)[-1].split("/", 1)[0]
        model = self._model(stack)
        job = model.jobs.get(str(state.get("logicalId"))) if model is not None else None
        if job is None:
            return
        name = str(state["jobName"])
        self.runs.append(
            JobRun(
                job, str(state.get("trigger")), name, state.get("jobArn") or None, state.get("outputS3Uri")
            )
        )
        for wanted, reason in self.options.fail_scheduled.items():
            if _names(job, wanted):
                self.sandbox.personalize.fail(name, reason)
                self.sandbox.timeline.add(name, "note", f"failure injected: {reason}")

    def _handle_key(self, stack: str, handle_logical_id: str) -> str:
        model = self._model(stack)
        if model is not None:
            for job in model.jobs.values():
                if job.handle_logical_id == handle_logical_id:
                    return job.key
        return f"{stack}/{handle_logical_id}"


def _renamed(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` with every reference to a logical id in ``names`` (Ref, Fn::GetAtt, DependsOn, a
    ``${Name}`` in Fn::Sub) pointing to its new name."""
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    found: dict[str, Any] = {}
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            found[key] = names.get(item, item)
        elif key == "DependsOn":
            found[key] = (
                names.get(item, item) if isinstance(item, str) else [names.get(name, name) for name in item]
            )
        elif key == "Fn::GetAtt" and isinstance(item, list) and item:
            found[key] = [names.get(item[0], item[0]), *item[1:]]
        elif key == "Fn::GetAtt" and isinstance(item, str):
            name, dot, attribute = item.partition(".")
            found[key] = f"{names.get(name, name)}{dot}{attribute}"
        elif key == "Fn::Sub":
            text, variables = (item, None) if isinstance(item, str) else (item[0], item[1])
            for old, new in names.items():
                text = text.replace(f"${{{old}}}", f"${{{new}}}").replace(f"${{{old}.", f"${{{new}.")
            found[key] = text if variables is None else [text, _renamed(variables, names)]
        else:
            found[key] = _renamed(item, names)
    return found


def _outputs(state: StackState) -> dict[str, str]:
    """The stack's Outputs as `cdk deploy` would print them."""
    outputs: dict[str, str] = {}
    for name, output in state.template.get("Outputs", {}).items():
        try:
            outputs[name] = str(state.resolver.resolve(output.get("Value")))
        except UnresolvableError as error:
            outputs[name] = f"(not resolved: {error})"
    return outputs


def _names(job: JobResource, wanted: str) -> bool:
    """Does ``wanted`` (from --fail / --update) name this job: its construct id, path or logical id?"""
    return wanted in (job.construct_id, job.logical_id, job.path, job.path.removesuffix("/Resource/Default"))


def _construct_id_of(logical_id: str, resource: Mapping[str, Any]) -> str:
    path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    return construct_id(path, resource.get("Properties", {}), logical_id)


def _names_template(logical_id: str, resource: Mapping[str, Any], wanted: str) -> bool:
    path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    return wanted in (
        _construct_id_of(logical_id, resource),
        logical_id,
        path,
        path.removesuffix("/Resource/Default"),
    )


def _execution_key(execution: Execution) -> str:
    """Timeline entries of a monitor go under its job's name."""
    try:
        return str(json.loads(execution.input_text).get("jobName"))
    except (json.JSONDecodeError, AttributeError):
        return execution.name
