"""Model-based lifecycle fuzzing: random sequences of deploys, updates, pauses and deletes over versions
of one app (tests/variants.py), with random faults, run by the rehearsal's CloudFormation engine against
the real handler code; after every step the invariants below must hold.

1. Every stack operation ends, and none ends UPDATE_ROLLBACK_FAILED, ROLLBACK_FAILED or DELETE_FAILED.
2. No WaitCondition waits more than the monitor's longest interval (plus slack) past its job's end.
3. No two Personalize jobs for one job resource, stack instance, definition, run token and job_name.
4. Exactly one end event per job run whose monitor saw it end; never two for one job.
5. No job left QUEUED with nothing that will create it (no running monitor holds its create, and no
   end was reported for it).
6. After a stack's delete, no monitor execution of it is left running; and once a step's stack
   operations have ended (their cleanup done), none runs for a job its resource no longer holds
   (replaced, removed, or its stack deleted), nor for a run without a deploy of a resource that is gone
   or that an operation of the step moved on to another job after the run started.
Besides: no operation fails but for a reason the sequence asked for (an injected fault, a refused
change of an explicitly named job), and IAM denies nothing.

A sequence is a seed: ``python -m tests.fuzz --replay SEED`` runs it again and prints every step.
"""

from __future__ import annotations

import functools
import json
import random
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from constructs_lib._contract import contract
from constructs_lib.rehearsal.assembly import Assembly, read_assembly
from constructs_lib.rehearsal.driver import Driver, Options, StackOutcome
from constructs_lib.rehearsal.engine import STUCK
from constructs_lib.rehearsal.personalize import ENDED, Durations
from constructs_lib.rehearsal.sandbox import Sandbox
from constructs_lib.rehearsal.signals import COMPLETE, WAITING
from constructs_lib.rehearsal.stepfunctions import RUNNING, SUCCEEDED
from tests.fuzz.runner import run_sequences
from tests.fuzz.transport import in_process
from tests.variants import VERSIONS, Version

# Short jobs keep sequences fast; the schedule's 2-minute bound is what invariant 2 checks.
DURATIONS = {
    contract.BATCH_INFERENCE.key: Durations(120, 900),
    contract.BATCH_SEGMENT.key: Durations(120, 900),
    contract.DATASET_IMPORT.key: Durations(60, 300),
    contract.SOLUTION_VERSION.key: Durations(120, 1800),
}
# The monitor checks at most 2 minutes apart; a retried check, a signal's retries and a step of the
# engine add seconds.
MAX_LATE_SECONDS = contract.MAX_CHECK_INTERVAL_SECONDS + 60
FAULTS = (
    "job-fails",
    "throttling",
    "quota-full",
    "sibling-fails",
    "delivered-twice",
    "lambda-retried",
    "signal-fails",
    "check-times-out",
)
# Why an operation may fail in a sequence: what a fault or a refused change causes.
EXPECTED_REASONS = (
    "injected failure",  # a sibling resource
    "failed: job failed (fuzz)",  # a job failure, reported by the monitor
    "already exists with another definition",  # an explicitly named job's definition changed
)
# The phases of the runs a schedule or a chain rule starts (issue 22): each one a new job of the deployed
# definition.
RUNS_WITHOUT_A_DEPLOY = ("schedule", "chain")
# What `cdk deploy` takes before CloudFormation starts (synth, assets, change set): the time in which
# monitors started by the previous operation make their first check.
CLI_SECONDS = 60


@dataclass(frozen=True)
class Step:
    action: str  # "deploy", "advance", "delete"
    version: int | None = None  # index into VERSIONS (a subclass: into its own versions)
    minutes: float = 0
    faults: tuple[str, ...] = ()

    # How a version is named in a step's description: "v03 (num_results=50)".
    PREFIX: ClassVar[str] = "v"

    def version_label(self, index: int) -> str:
        return VERSIONS[index].label()

    def describe(self) -> str:
        if self.action == "deploy":
            assert self.version is not None
            text = f"deploy {self.PREFIX}{self.version:02d} ({self.version_label(self.version)})"
        elif self.action == "advance":
            text = f"advance {self.minutes:.0f} min"
        else:
            text = "delete"
        return text + (f" with {', '.join(self.faults)}" if self.faults else "")


def scenario(seed: int) -> list[Step]:
    """The steps of sequence ``seed``: a deploy, 1 to 6 more steps, then a delete."""
    rng = random.Random(seed)
    steps = [Step("deploy", rng.randrange(len(VERSIONS)), faults=_faults(rng))]
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        if roll < 0.6:
            steps.append(Step("deploy", rng.randrange(len(VERSIONS)), faults=_faults(rng)))
        elif roll < 0.9:
            steps.append(Step("advance", minutes=rng.choice((1, 3, 10, 30, 90))))
        else:
            steps.append(Step("delete"))
    steps.append(Step("delete"))
    return steps


def _faults(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.5:
        return ()
    return tuple(sorted(set(rng.sample(FAULTS, rng.randint(1, 2)))))


@dataclass
class Outcome:
    seed: int
    steps: list[Step]
    log: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    faults: int = 0
    operations: int = 0
    jobs: int = 0
    transitional_denials: int = 0


class Fuzzer:
    """Runs sequences over the versions' assemblies, in one sandbox reset between sequences. A fuzzer of
    another app (tests/fuzz/family.py) overrides the hooks below: its versions, scenarios, faults and
    invariants."""

    versions: tuple[Any, ...] = VERSIONS
    durations: Mapping[str, Durations] = DURATIONS
    key_width = 34  # the timeline's column of resource keys

    def __init__(self, assemblies: Mapping[Any, Path], *, loopback: bool = False) -> None:
        self.assemblies: list[Assembly] = [read_assembly(assemblies[version]) for version in self.versions]
        self.sandbox = Sandbox(region="us-east-1", durations=self.durations)
        # False: the stand-ins answer the handlers' botocore calls in process (tests/fuzz/transport.py).
        self.loopback = loopback

    def close(self) -> None:
        self.sandbox.close()

    # -- hooks

    def scenario(self, seed: int) -> Sequence[Step]:
        return scenario(seed)

    def new_outcome(self, seed: int, steps: Sequence[Step]) -> Outcome:
        return Outcome(seed, list(steps))

    def new_checker(self, driver: Driver, outcome: Outcome) -> Invariants:
        return Invariants(driver, outcome)

    def injected(self, driver: Driver, step: Step) -> AbstractContextManager[None]:
        return _injected(driver, step)

    def before_step(self, driver: Driver, step: Step) -> None:
        """Before a step's operation (after the CLI's minute)."""

    def act(self, driver: Driver, step: Step) -> None:
        """The step's operation: a deploy, a pause or a delete (a subclass adds its own actions)."""
        if step.action == "deploy":
            assert step.version is not None
            driver.deploy(self.assemblies[step.version], "update" if driver.states else "create")
        elif step.action == "advance":
            driver.advance(step.minutes * 60)
        else:
            driver.delete()

    def after_operation(self, checker: Invariants, stack_outcome: StackOutcome) -> None:
        """Once a stack operation of the step has ended, before the step's invariants."""

    def after_step(
        self, checker: Invariants, index: int, step: Step, outcomes: Sequence[StackOutcome], started: float
    ) -> None:
        checker.after_step(index, step, outcomes)

    def at_end(self, checker: Invariants, steps: Sequence[Step]) -> None:
        checker.at_end()

    def count_jobs(self, driver: Driver, outcome: Outcome) -> None:
        outcome.jobs = len(self.sandbox.personalize.jobs())

    # -- the sequence

    def run(self, seed: int, *, verbose: bool = False) -> Outcome:
        steps = self.scenario(seed)
        outcome = self.new_outcome(seed, steps)
        self.sandbox.reset(durations=self.durations)
        driver = Driver(self.assemblies[0], Options(update=False), self.sandbox)
        checker = self.new_checker(driver, outcome)
        try:
            with nullcontext() if self.loopback else in_process(self.sandbox.server, self.sandbox.s3):
                self._steps(driver, checker, steps, outcome)
        except Exception:  # an engine or stand-in crash is a finding too, with its seed
            outcome.violations.append(f"crash: {traceback.format_exc()}")
        self.count_jobs(driver, outcome)
        if verbose:
            outcome.log.append("timeline:")
            outcome.log.extend(
                f"+{entry.at / 60:7.1f} min  {entry.key:<{self.key_width}} {entry.kind:<7} {entry.text}"
                for entry in self.sandbox.timeline.entries()
            )
        outcome.log.extend(f"VIOLATION {violation}" for violation in outcome.violations)
        return outcome

    def _steps(self, driver: Driver, checker: Invariants, steps: Sequence[Step], outcome: Outcome) -> None:
        clock = self.sandbox.clock
        for index, step in enumerate(steps):
            before = len(driver.outcomes)
            if step.action != "advance":
                driver.advance(CLI_SECONDS)
            started = clock.elapsed
            outcome.log.append(f"+{started / 60:7.1f} min  step {index}: {step.describe()}")
            self.before_step(driver, step)
            with self.injected(driver, step):
                self.act(driver, step)
            outcome.faults += len(step.faults)
            for stack_outcome in driver.outcomes[before:]:
                operation = stack_outcome.operation
                outcome.operations += 1
                outcome.log.append(
                    f"           {operation.kind.lower()} -> {operation.status} {operation.reason}"
                )
                self.after_operation(checker, stack_outcome)
            self.after_step(checker, index, step, driver.outcomes[before:], started)
        driver.settle()
        self.at_end(checker, steps)


class _injected(AbstractContextManager[None]):
    """The faults of one step, switched on for its duration (some outlast it, as they would)."""

    def __init__(self, driver: Driver, step: Step) -> None:
        self.driver, self.step = driver, step

    def __enter__(self) -> None:
        sandbox, faults = self.driver.sandbox, self.step.faults
        if "job-fails" in faults:
            self.driver.inject = {"Job": "job failed (fuzz)", "Second": "job failed (fuzz)"}
        if "throttling" in faults:
            sandbox.personalize.throttle = 1
        if "quota-full" in faults:
            kind = contract.BATCH_INFERENCE.key
            sandbox.personalize.occupied[kind] = contract.BATCH_INFERENCE.quota
            sandbox.scheduler.after(20 * 60, lambda: sandbox.personalize.occupied.pop(kind, None))
        if "sibling-fails" in faults:
            self.driver.engine.faults.fail_resources = {"Downstream"}
        if "delivered-twice" in faults:
            self.driver.engine.faults.duplicate_requests = True
        if "lambda-retried" in faults:
            sandbox.runtime.faults.append((contract.CHECK_HANDLER, "Lambda.ServiceException"))
        if "check-times-out" in faults:
            sandbox.runtime.faults.append((contract.CHECK_HANDLER, "Sandbox.Timedout"))
        if "signal-fails" in faults:
            sandbox.signals.fail_next = 2

    def __exit__(self, *_: object) -> None:
        self.driver.inject = {}
        self.driver.sandbox.personalize.throttle = 0
        self.driver.engine.faults.fail_resources = set()
        self.driver.engine.faults.duplicate_requests = False


class Invariants:
    # Why an operation may fail: a subclass for another app adds its own reasons.
    expected_reasons: tuple[str, ...] = EXPECTED_REASONS

    def __init__(self, driver: Driver, outcome: Outcome) -> None:
        self.driver = driver
        self.outcome = outcome
        self.sandbox = driver.sandbox
        self.denials_seen = 0
        self.monitors_flagged: set[str] = set()  # invariant 6: each left-over execution reported once

    def tolerated(self, operation: Any) -> bool:
        """Whether ``operation`` ended stuck only at a documented limit the sequence then recovered from
        (a subclass for another app says which); never, here."""
        return False

    def violation(self, text: str) -> None:
        if text not in self.outcome.violations:
            self.outcome.violations.append(text)

    def after_step(self, index: int, step: Step, outcomes: Sequence[Any]) -> None:
        for stack_outcome in outcomes:
            operation = stack_outcome.operation
            if not operation.finished:
                self.violation(f"step {index}: {operation.kind} of {operation.stack} never ended")
            if (operation.status in STUCK or operation.problems) and not self.tolerated(operation):
                self.violation(
                    f"step {index}: {operation.kind} ended {operation.status}: {operation.problems}"
                )
            if operation.reason and not any(
                expected in operation.reason for expected in self.expected_reasons
            ):
                self.violation(f"step {index}: {operation.kind} failed unexpectedly: {operation.reason}")
            if operation.kind == "DELETE":
                self._no_monitor_left(index, operation.stack)
        if all(stack_outcome.operation.finished for stack_outcome in outcomes):
            self._no_monitor_of_what_is_gone(index, outcomes)
        self._waits_end_in_time(index)
        self._queued_jobs_have_a_creator(index)
        self._one_job_per_definition(index)
        self._no_iam_denial(index, outcomes)

    def at_end(self) -> None:
        self._waits_end_in_time(len(self.outcome.steps))
        self._one_end_event_per_monitored_run()
        for event in self.sandbox.events.events():
            reason = str(event.detail.get("failureReason") or "")
            if "not authorized" in reason:
                self.violation(f"end: IAM failed the job {event.detail.get('jobName')}: {reason}")

    # -- 2
    def _waits_end_in_time(self, index: int) -> None:
        now = self.sandbox.clock.elapsed
        for wait, job_arn, key in self.driver.waits:
            job = self._job(job_arn)
            if job is None or job.status not in ENDED:
                continue
            due = max(job.updated_at, wait.started_at) + MAX_LATE_SECONDS
            ended = wait.ended_at if wait.status != WAITING else None
            if (ended is None and now > due) or (
                ended is not None and ended > due and wait.status != COMPLETE
            ):
                late = (ended if ended is not None else now) - max(job.updated_at, wait.started_at)
                self.violation(
                    f"step {index}: {key}'s WaitCondition {wait.logical_id} {wait.status} {late:.0f} s after "
                    f"its job {job.name} ended {job.status}"
                )
            elif ended is not None and ended > due:
                self.violation(f"step {index}: {key}'s WaitCondition completed {ended - due:.0f} s late")

    # -- 3
    def _one_job_per_definition(self, index: int) -> None:
        seen: dict[str, str] = {}
        for job in self.sandbox.personalize.jobs():
            definition = {k: v for k, v in job.request.items() if k not in ("jobName", "tags", "name")}
            output = definition.get("jobOutput", {}).get("s3DataDestination", {})
            if "path" in output:
                output = {**output, "path": output["path"].rsplit("/", 2)[0]}
                definition["jobOutput"] = {"s3DataDestination": output}
            run = next((r for r in self.driver.runs if r.job_name == job.name), None)
            if run is not None and run.phase in RUNS_WITHOUT_A_DEPLOY:
                continue  # a new job per scheduled time or upstream job, by design (checked apart)
            # A new run token (or another explicit name) asks for a new job: those are not duplicates.
            owner = (
                f"{run.resource.key}#{run.instance}#{run.run_token}#{run.explicit_name}"
                if run is not None
                else "?"
            )
            key = owner + json.dumps(definition, sort_keys=True)
            if key in seen and seen[key] != job.name:
                self.violation(
                    f"step {index}: two jobs for one definition of {owner}: {seen[key]}, {job.name}"
                )
            seen[key] = job.name

    # -- 4
    def _one_end_event_per_monitored_run(self) -> None:
        events: dict[str, int] = {}
        for event in self.sandbox.events.events():
            if not event.detail.get("jobArn"):
                continue  # a run without a deploy skipped (or failed) before it started a job: no job
            arn = str(event.detail.get("jobArn"))
            events[arn] = events.get(arn, 0) + 1
        reported = {
            json.loads(execution.input_text).get("jobArn")
            for execution in self.sandbox.stepfunctions.executions()
            if execution.status == SUCCEEDED
            and isinstance(execution.data, dict)
            and execution.data.get("result")
        }
        for arn, count in events.items():
            if count > 1:
                self.violation(f"end: {count} end events for {arn}")
        for arn in filter(None, reported):
            if events.get(arn, 0) != 1:
                self.violation(f"end: a monitor saw {arn} end, but {events.get(arn, 0)} end events were sent")

    # -- 5
    def _queued_jobs_have_a_creator(self, index: int) -> None:
        running = [
            execution
            for execution in self.sandbox.stepfunctions.executions()
            if execution.status == RUNNING and isinstance(execution.data, dict)
        ]
        reported = {str(event.detail.get("jobArn")) for event in self.sandbox.events.events()}
        for state in self.driver.states.values():
            for resource in state.resources.values():
                if resource.type not in contract.KINDS or not resource.physical_id:
                    continue
                if self._job(resource.physical_id) is not None or resource.physical_id in reported:
                    continue
                holders = [
                    e
                    for e in running
                    if e.data.get("jobArn") == resource.physical_id and not e.data.get("created")
                ]
                if not holders:
                    self.violation(
                        f"step {index}: {state.key(resource.logical_id)}'s job {resource.physical_id} "
                        "is queued and nothing will create it"
                    )

    # -- 6
    def _no_monitor_left(self, index: int, stack: str) -> None:
        model = self.driver.models.get(stack)
        if model is None:
            return
        machines = set(model.machines)
        for execution in self.sandbox.stepfunctions.executions():
            if execution.status == RUNNING and execution.machine.arn in machines:
                self.violation(f"step {index}: monitor {execution.name} still runs after {stack} was deleted")

    # -- 6, after every step
    def _no_monitor_of_what_is_gone(self, index: int, outcomes: Sequence[Any]) -> None:
        """A deploy's monitor (its input: the job's ARN, stack and logical id) runs only while its
        resource holds that job; a run without a deploy's (its input has a ``trigger``) only while its
        resource exists, and not past an operation of this step that moved the resource to another
        physical id (the cleanup's Delete of the other one stops the resource's runs). A Delete that
        forgets a stop leaves the execution polling on (and reporting an end, writing ``latest.json``)
        for a resource the stack no longer holds. StopExecution ends an execution at once here, so a
        monitor told to stop within its current check is already ABORTED when this runs."""
        live = {state.resolver.stack_id: state for state in self.driver.states.values()}
        moved_since = {
            (stack_outcome.stack, change.logical_id): stack_outcome.started_at
            for stack_outcome in outcomes
            for change in stack_outcome.operation.changes
            if change.old_physical_id != change.new_physical_id
        }
        for execution in self.sandbox.stepfunctions.executions():
            if execution.status != RUNNING or execution.arn in self.monitors_flagged:
                continue
            try:
                state_input = json.loads(execution.input_text)
            except json.JSONDecodeError:
                continue
            if not isinstance(state_input, dict) or not state_input.get("logicalId"):
                continue  # not a job's monitor
            stack_id, logical_id = str(state_input.get("stackId")), str(state_input["logicalId"])
            job_arn = state_input.get("jobArn")
            stack = stack_id.split(":stack/", 1)[-1].split("/", 1)[0]
            state = live.get(stack_id)
            resource = state.resources.get(logical_id) if state is not None else None
            run = state_input.get("trigger") in RUNS_WITHOUT_A_DEPLOY
            text = None
            if state is None:
                text = f"monitor {execution.name} still runs after {stack} was deleted"
            elif resource is None or resource.status.startswith("DELETE"):
                text = f"monitor {execution.name} of {job_arn} still runs after {stack}/{logical_id} went"
            elif not run and resource.physical_id != job_arn:
                text = (
                    f"monitor {execution.name} still runs though {stack}/{logical_id} no longer holds its "
                    f"job {job_arn} (it holds {resource.physical_id})"
                )
            elif run and execution.started_at < moved_since.get((stack, logical_id), -1.0):
                text = (
                    f"run monitor {execution.name} still runs though {stack}/{logical_id} moved on to "
                    f"{resource.physical_id} after the run started"
                )
            if text is not None:
                self.monitors_flagged.add(execution.arn)
                self.violation(f"step {index}: {text}")

    def _no_iam_denial(self, index: int, outcomes: Sequence[Any]) -> None:
        """No denial, but one: a job renamed from one explicit name to another updates the functions'
        policy a few seconds before the job resource, and a check of the old job's monitor in between is
        denied (and tried again). Tolerated, and counted, when the step moved a resource off that job
        (or its update rolled back onto it); any harm it does is caught by the other invariants."""
        moved = {
            change.old_physical_id
            for stack_outcome in outcomes
            for change in stack_outcome.operation.changes
            if change.old_physical_id != change.new_physical_id
        }
        rolled_back = {
            resource.physical_id
            for stack_outcome in outcomes
            if stack_outcome.operation.status == "UPDATE_ROLLBACK_COMPLETE"
            for state in self.driver.states.values()
            if state.name == stack_outcome.stack
            for resource in state.resources.values()
        }
        denials = self.driver.enforcer.denials if self.driver.enforcer is not None else []
        for denial in denials[self.denials_seen :]:
            job = denial.resource.split("/", 1)[0].endswith("-job") or ":solution/" in denial.resource
            if job and denial.resource in moved | rolled_back and "Runtime" in denial.role:
                self.outcome.transitional_denials += 1
            else:
                self.violation(f"step {index}: {denial.describe()}")
        self.denials_seen = len(denials)

    def _job(self, arn: str | None) -> Any:
        if arn is None:
            return None
        return next((job for job in self.sandbox.personalize.jobs() if job.arn == arn), None)


def run_many(
    assemblies: dict[Version, Path],
    seeds: Sequence[int],
    *,
    progress: Callable[[Outcome], None] | None = None,
    verbose: bool = False,
    workers: int = 1,
    loopback: bool = False,
) -> list[Outcome]:
    """Every seed's outcome, in order; ``workers`` processes share the seeds (each its own sandbox)."""
    make = functools.partial(Fuzzer, dict(assemblies), loopback=loopback)
    return run_sequences(make, seeds, progress=progress, verbose=verbose, workers=workers)
