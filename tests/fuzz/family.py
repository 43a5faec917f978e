"""Model-based fuzzing of the whole job family: random sequences of deploys, pauses and deletes over
versions of one chain app (tests/family_variants.py: native dataset group, schema, dataset and solutions;
an import, two trainings, a batch inference and a batch segment job made from them), with faults per
kind, run by the rehearsal against the real handler code.

Every invariant of the lifecycle fuzzer (tests/fuzz/model.py) holds after every step (its 6 here too
for the runs without a deploy: none runs on once its resource is gone or moved on to another job), and
these too:

7. Manifest: a batch job's ``latest.json`` names a run of the job resource the stack holds, with that
   run's own result and end (``finishedAt``); once the run the stack holds has ended, it names that run
   (or a run without a deploy of the very definition it holds, on a version of the same solution, that
   ended later);
   never a newer run the stack has moved away from (a rolled-back update's).
8. Chain: once an operation has completed, a job made from a training's result holds a job made from
   the training the stack holds (it re-ran after each new training), never two jobs made from one
   training; and no job starts on a training of the app that is not ACTIVE.
9. Training: a training whose resource is gone is stopped or has ended; no native resource's delete is
   refused because a job still runs, but at the documented limit: an import (which cannot be stopped)
   still running after its Delete waited the longest it can (IMPORT_DELETE_WAIT). There the sequence does
   what the README says, waits for the import's end and deletes the stack again, which must then end
   DELETE_COMPLETE; counted apart (``limits``), not a violation.
10. Refusals: an update refused for a reason known before it started (a template that cannot be
    deployed, a replacement the resource cannot wait for) bills no job.
11. Runs without a deploy (issue 22; schedules on the import, the training and the batch jobs): at most
    one job per (resource, scheduled time), however late Scheduler repeats a delivery; every delivery
    starts its run; no scheduled run is skipped when new input landed under its path since its last
    successful run began; in each "days" step the schedules deliver as the version the stack holds
    (after a rollback: the restored one) defines them: a paused one nothing, the others at least once a
    period and one period apart; a scheduled batch run is made with the definition the stack held at its
    delivery (its source version, its number of results).

``python -m tests.fuzz --family --replay SEED`` runs one sequence again and prints every step.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, cast

from constructs_lib._contract import contract
from constructs_lib.rehearsal.driver import Driver, JobRun, StackOutcome
from constructs_lib.rehearsal.engine import DELETE_COMPLETE, STUCK, VALIDATION_FAILED, Operation, StackState
from constructs_lib.rehearsal.personalize import (
    ACTIVE,
    ENDED,
    IN_PROGRESS,
    RUNNING,
    Durations,
    StandInJob,
)
from constructs_lib.rehearsal.recurring import SCHEDULE_TYPE, Recurring, _Rule, _rules_of
from constructs_lib.rehearsal.sandbox import Sandbox
from constructs_lib.rehearsal.server import ServiceError
from tests.family_variants import (
    ALL_VERSIONS,
    CONSUMER,
    CONSUMER_STACK,
    IMPORT,
    INFERENCE,
    KIND_SCHEDULE_VERSIONS,
    OUTSIDE_SEGMENT_VERSION_ARN,
    OUTSIDE_VERSION_ARN,
    SCHEDULE_VERSIONS,
    SEGMENT_TRAINING,
    SEGMENTS,
    SIBLING,
    STACK,
    TRAINING,
    TWO_STACK_VERSIONS,
    VERSIONS,
    FamilyVersion,
)
from tests.fuzz.data_lifecycle import (
    LIFECYCLE_DURATIONS,
    LIFECYCLE_REASONS,
    DataLifecycleChecks,
    draw_data_lifecycle,
    lifecycle_injections,
)
from tests.fuzz.model import (
    EXPECTED_REASONS,
    MAX_LATE_SECONDS,
    RUNS_WITHOUT_A_DEPLOY,
    Fuzzer,
    Invariants,
    Outcome,
    Step,
)
from tests.fuzz.runner import run_sequences

# Short jobs keep sequences fast; a training still outlasts an import and a batch job.
DURATIONS = {
    contract.DATASET_IMPORT.key: Durations(60, 540),  # a Delete waits for it (import-slow: it does not)
    contract.SOLUTION_VERSION.key: Durations(60, 420),
    contract.BATCH_INFERENCE.key: Durations(30, 150),
    contract.BATCH_SEGMENT.key: Durations(30, 150),
    **LIFECYCLE_DURATIONS,  # a deletion outlasts an export
}
KIND_OF = {
    IMPORT: contract.DATASET_IMPORT,
    TRAINING: contract.SOLUTION_VERSION,
    SEGMENT_TRAINING: contract.SOLUTION_VERSION,
    INFERENCE: contract.BATCH_INFERENCE,
    SEGMENTS: contract.BATCH_SEGMENT,
}
BATCH_KINDS = (contract.BATCH_INFERENCE.key, contract.BATCH_SEGMENT.key)
# An import's Delete waits for its end as long as the on-event function may run (840 s, less its calls and
# the answer's): the library promises at least this. An import still running after that blocks the delete
# of its dataset: the documented limit.
IMPORT_DELETE_WAIT = 12 * 60
# The imports a step with "import-slow" starts run for 30 minutes, past that wait.
SLOW_IMPORT = Durations(60, 1740)
SLOW_IMPORT_FAULT = "import-slow"
_IMPORT_REFUSAL = re.compile(r"the dataset import job (\S+) is ")
FAILED_REASON = "job failed (fuzz)"
FAULTS = (
    "import-fails",
    "training-fails",
    "training-stopped",  # someone stops the running training (StopSolutionVersionCreation)
    "inference-fails",
    "segment-fails",
    "quota-full-import",
    "quota-full-training",
    "quota-full-inference",
    "quota-full-segment",
    "source-not-active",  # the outside version a job is made from is still training
    "sibling-fails",  # the update fails at its start: a rollback while the jobs it started run
    "delivered-twice",
    "throttling",
)
# The faults of a "days" step (issue 22): the import's scheduled runs fail; EventBridge Scheduler delivers
# each scheduled time twice (at-least-once delivery).
SCHEDULE_FAULTS = ("scheduled-fails", "redelivered")
SCHEDULED_FAILED = "scheduled run failed (fuzz)"  # not an expected reason: it must never fail a stack
_FAILS = {
    "import-fails": IMPORT,
    "training-fails": TRAINING,
    "inference-fails": INFERENCE,
    "segment-fails": SEGMENTS,
}
_QUOTAS = {
    "quota-full-import": contract.DATASET_IMPORT,
    "quota-full-training": contract.SOLUTION_VERSION,
    "quota-full-inference": contract.BATCH_INFERENCE,
    "quota-full-segment": contract.BATCH_SEGMENT,
}
EXPECTED_REASONS_FAMILY = (
    # No job of the family has an explicit name: another definition under a job's name is a defect.
    *(reason for reason in EXPECTED_REASONS if "another definition" not in reason),
    "was stopped before it finished",  # training-stopped
    "needs an ACTIVE solution version",  # source-not-active
    "would be replaced",  # a replaced CfnSolution without a new run_token: the handler refuses
    "already ran and failed",  # a definition whose run failed, deployed again
    "No data in dataset group",  # a training that does not wait for the import, on a new stack
    "could not be started: LimitExceededException",  # quota-full-training: a training cannot queue
    *LIFECYCLE_REASONS,  # a deletion or an export outliving its dataset group or dataset
)
# Refusals whose reason is in the templates before anything starts.
KNOWN_BEFORE = ("would be replaced", "Circular dependency")
STOPPED = "CREATE STOPPED"
STOPPED_OR_ENDED = ("CREATE STOPPING", *ENDED)


@dataclass(frozen=True)
class FamilyStep(Step):
    """A step of a family sequence: ``version`` indexes ALL_VERSIONS."""

    PREFIX: ClassVar[str] = "f"
    # A "days" step: new data lands under the import's path half a day after each delivery of the window.
    new_input: bool = False

    def version_label(self, index: int) -> str:
        return ALL_VERSIONS[index].label()

    def describe(self) -> str:
        if self.action != "days":
            return super().describe()
        text = f"days {self.minutes / 1440:g}" + (" with new input" if self.new_input else "")
        return text + (f" with {', '.join(self.faults)}" if self.faults else "")


def scenario(seed: int) -> list[FamilyStep]:
    """The steps of family sequence ``seed``: a deploy, 1 to 5 more steps, then a delete."""
    rng = random.Random(f"family-{seed}")
    steps = [FamilyStep("deploy", rng.randrange(len(VERSIONS)), faults=_faults(rng))]
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        if roll < 0.65:
            steps.append(FamilyStep("deploy", rng.randrange(len(VERSIONS)), faults=_faults(rng)))
        elif roll < 0.9:
            steps.append(FamilyStep("advance", minutes=rng.choice((1, 5, 15, 45))))
        else:
            steps.append(FamilyStep("delete", faults=_faults(rng, only=("delivered-twice", "throttling"))))
    steps.append(FamilyStep("delete"))
    # Drawn apart, so that adding them changed no other draw of the earlier scenarios: slow imports, and
    # the two-stack versions (a deploy of the app with its consumer stack).
    slow = random.Random(f"family-slow-{seed}")
    steps = [
        replace(step, faults=tuple(sorted({*step.faults, SLOW_IMPORT_FAULT})))
        if step.action == "deploy" and slow.random() < 0.15
        else step
        for step in steps
    ]
    two = random.Random(f"family-two-stacks-{seed}")
    steps = [
        replace(step, version=len(VERSIONS) + two.randrange(len(TWO_STACK_VERSIONS)))
        if step.action == "deploy" and two.random() < 0.12
        else step
        for step in steps
    ]
    # The stream's salt (792) is the first that leaves every fixed seed of tests/test_family_fuzz.py as it
    # was (their comments say what each one meets).
    steps = draw_data_lifecycle(seed, steps)
    schedules = random.Random(f"family-schedules-792-{seed}")
    if schedules.random() < SCHEDULED_SHARE:
        return _on_every_kind(seed, _scheduled(steps, schedules))
    return steps


# The share of sequences that deploy scheduled versions and let days pass (issue 22).
SCHEDULED_SHARE = 0.25
FIRST_SCHEDULED = ALL_VERSIONS.index(SCHEDULE_VERSIONS[0])
# How long a "days" step lets pass: just past a delivery (the next step meets the scheduled import and
# its chain running), or half a day past it (they have ended).
DAYS = (1.005, 2.005, 1.5)


# The schedules on each kind directly (KIND_SCHEDULE_VERSIONS) take the place of some deploys of the
# import's, on a stream of their own; its salt (557) is the first that leaves every fixed seed of
# tests/test_family_fuzz.py and tests/test_family_fuzz_data_lifecycle.py as it was.
FIRST_KIND_SCHEDULED = ALL_VERSIONS.index(KIND_SCHEDULE_VERSIONS[0])
KIND_SCHEDULED_SALT = 557
_IMPORT_SCHEDULED = range(FIRST_SCHEDULED, FIRST_SCHEDULED + len(SCHEDULE_VERSIONS))


def _on_every_kind(seed: int, steps: list[FamilyStep], salt: int | None = None) -> list[FamilyStep]:
    """``steps`` with half their deploys of a scheduled import turned into schedules on the other kinds."""
    rng = random.Random(f"family-schedule-kinds-{KIND_SCHEDULED_SALT if salt is None else salt}-{seed}")
    return [
        replace(step, version=FIRST_KIND_SCHEDULED + rng.randrange(len(KIND_SCHEDULE_VERSIONS)))
        if step.action == "deploy" and step.version in _IMPORT_SCHEDULED and rng.random() < 0.5
        else step
        for step in steps
    ]


def _scheduled(steps: list[FamilyStep], rng: random.Random) -> list[FamilyStep]:
    """``steps`` with the first deploy (and some later ones) of a scheduled version, and days let pass
    after deploys: with new input or not, with scheduled faults or not."""
    found: list[FamilyStep] = []
    for index, step in enumerate(steps):
        one_stack = step.action == "deploy" and step.version is not None and step.version < len(VERSIONS)
        if one_stack and (index == 0 or rng.random() < 0.5):
            # Paused less often than running.
            step = replace(step, version=FIRST_SCHEDULED + rng.choice((0, 0, 2, 1)))
        found.append(step)
        if step.action == "deploy" and rng.random() < 0.75:
            faults = tuple(fault for fault in SCHEDULE_FAULTS if rng.random() < 0.3)
            found.append(
                FamilyStep(
                    "days", minutes=rng.choice(DAYS) * 1440, faults=faults, new_input=rng.random() < 0.6
                )
            )
    return found


def _faults(rng: random.Random, only: Sequence[str] = FAULTS) -> tuple[str, ...]:
    if rng.random() < 0.6:
        return ()
    return tuple(sorted(set(rng.sample(list(only), rng.randint(1, 2)))))


@dataclass
class FamilyOutcome(Outcome):
    jobs_by_kind: dict[str, int] = field(default_factory=dict)
    # "<kind> <status>" -> how many of the sequence's jobs ended so (a training CREATE STOPPED, ...).
    ends: dict[str, int] = field(default_factory=dict)
    # Stack operations stuck at the documented limit (an import outlasting its Delete's wait), deleted
    # again once the import ended.
    limits: int = 0
    # Runs without a deploy (issue 22): the scheduler's deliveries, the jobs of scheduled and chained
    # runs, the SKIPPED end events.
    deliveries: int = 0
    scheduled_runs: int = 0
    skips: int = 0


class FamilyFuzzer(Fuzzer):
    """Runs family sequences over the versions' assemblies, in one sandbox reset between sequences."""

    versions = ALL_VERSIONS
    durations = DURATIONS
    key_width = 40
    # A planted bug of tests/test_family_fuzz.py (of the rehearsed CloudFormation, not of the library): a
    # rolled-back update leaves the stack with the schedules of the update it rolled back.
    rollback_keeps_schedules = False

    def scenario(self, seed: int) -> Sequence[Step]:
        return scenario(seed)

    def new_outcome(self, seed: int, steps: Sequence[Step]) -> Outcome:
        return FamilyOutcome(seed, list(steps))

    def new_checker(self, driver: Driver, outcome: Outcome) -> Invariants:
        assert isinstance(outcome, FamilyOutcome)
        self.checker = FamilyInvariants(driver, outcome)
        return self.checker

    def injected(self, driver: Driver, step: Step) -> AbstractContextManager[None]:
        return _Injected(driver, step)

    def before_step(self, driver: Driver, step: Step) -> None:
        if step.action == "deploy" and not ALL_VERSIONS[step.version or 0].consumer:
            self._destroy_consumer(driver)

    def act(self, driver: Driver, step: Step) -> None:
        if step.action != "days":
            super().act(driver, step)
            return
        assert isinstance(step, FamilyStep)
        recurring = driver.recurring
        if not isinstance(recurring, _LiveRecurring):
            recurring = driver.recurring = _LiveRecurring(driver)
        days = step.minutes / 1440
        options = driver.options
        held = self.checker.held_version
        # The import's path, and the batch jobs' input paths where they are scheduled themselves.
        scheduled = [IMPORT, *(c for c in (INFERENCE, SEGMENTS) if held and c in held.schedules())]
        landings: tuple[tuple[str, float], ...] = ()
        if step.new_input:
            # Each landing under its own key (the day's digits): new objects, unlike every one before.
            recurring.landed += 1
            landings = tuple(
                (wanted, day + 0.5 + recurring.landed * 1e-4)
                for day in range(int(days))
                for wanted in scheduled
            )
        failed = {IMPORT, *scheduled, *(held.schedules() if held else ())}
        failing = dict.fromkeys(sorted(failed), SCHEDULED_FAILED) if "scheduled-fails" in step.faults else {}
        driver.options = replace(options, new_input=landings, fail_scheduled=failing)
        recurring.redeliver = "redelivered" in step.faults
        phase, driver.phase = driver.phase, "days"
        start = self.sandbox.clock.elapsed
        try:
            recurring.run_days(days)
        finally:
            driver.options, driver.phase, recurring.redeliver = options, phase, False
        self.checker.windows.append(
            DaysWindow(
                start,
                self.sandbox.clock.elapsed,
                held,
                self.checker.sources(),
                {job.logical_id: job.construct_id for job in model.jobs.values()}
                if (model := driver.models.get(STACK)) is not None
                else {},
            )
        )

    def after_operation(self, checker: Invariants, stack_outcome: StackOutcome) -> None:
        assert isinstance(checker, FamilyInvariants)
        checker.recover_at_the_limit(stack_outcome)

    def after_step(
        self, checker: Invariants, index: int, step: Step, outcomes: Sequence[StackOutcome], started: float
    ) -> None:
        assert isinstance(checker, FamilyInvariants)
        if self.rollback_keeps_schedules:
            self._keep_failed_schedules(checker.driver, step, outcomes)
        checker.hold(step, outcomes)
        checker.after_family_step(index, outcomes, started)

    def at_end(self, checker: Invariants, steps: Sequence[Step]) -> None:
        assert isinstance(checker, FamilyInvariants)
        checker.at_end()
        checker.days_followed_the_held_schedules()
        checker.after_family_step(len(steps), [], self.sandbox.clock.elapsed)

    def count_jobs(self, driver: Driver, outcome: Outcome) -> None:
        assert isinstance(outcome, FamilyOutcome)
        ours = {run.job_name for run in driver.runs}
        mine = [job for job in self.sandbox.personalize.jobs() if job.name in ours]
        counted = Counter(job.kind.key for job in mine)
        outcome.ends = dict(Counter(f"{job.kind.key} {job.status}" for job in mine))
        outcome.jobs_by_kind = dict(counted)
        outcome.jobs = sum(counted.values())
        recurring = driver.recurring
        if recurring is not None:
            outcome.deliveries = recurring.deliveries
            outcome.skips = recurring.skips
        outcome.scheduled_runs = sum(run.phase in ("schedule", "chain") for run in driver.runs)

    def _keep_failed_schedules(self, driver: Driver, step: Step, outcomes: Sequence[StackOutcome]) -> None:
        """The planted bug: each schedule of the stack takes the definition the rolled-back update gave it
        (paused where that update had none), as if the rollback had not restored it."""
        state = driver.states.get(STACK)
        rolled_back = any(
            o.stack == STACK and o.operation.status == "UPDATE_ROLLBACK_COMPLETE" for o in outcomes
        )
        if state is None or not rolled_back or step.version is None:
            return
        failed = next(s for s in self.assemblies[step.version].stacks if s.stack_name == STACK).template
        for resource in list(state.resources.values()):
            if resource.type != SCHEDULE_TYPE or resource.status == DELETE_COMPLETE:
                continue
            given = failed["Resources"].get(resource.logical_id)
            if given is None:
                resource.properties = {**resource.properties, "State": "DISABLED"}
            else:
                resource.properties = state.resolver.resolve(dict(given.get("Properties", {})))
            resource.data = {"changedAt": self.sandbox.clock.elapsed}
            on_schedule = getattr(driver.engine, "on_schedule", None)
            if on_schedule is not None:
                on_schedule(state, resource)

    def _destroy_consumer(self, driver: Driver) -> None:
        """A version without the consumer stack: ``cdk destroy FamilyConsumer`` first, as its owner would
        before removing a stack from the app (``cdk deploy`` leaves a stack the app no longer has)."""
        state = driver.states.pop(CONSUMER_STACK, None)
        if state is not None:
            started = self.sandbox.clock.elapsed
            operation = driver.engine.delete(state)
            driver.outcomes.append(
                StackOutcome("delete", state.name, operation, started, self.sandbox.clock.elapsed)
            )


# How much later EventBridge Scheduler may deliver a scheduled time again (at-least-once delivery; its
# retry policy retries for up to 24 hours by default): at once, seconds, minutes or hours later.
REDELIVERY_DELAYS = (0.0, 40.0, 15 * 60.0, 3 * 3600.0, 9 * 3600.0)


@dataclass(frozen=True)
class DaysWindow:
    """A "days" step: when it began and ended, the version the stack held meanwhile (None: no stack), and
    the solution versions its jobs were made from then (construct id -> ARN), and its jobs' construct ids
    by logical id (taken then: the driver keeps only the latest deploy's model, which may lack a job the
    stack held during this step, as a later version without segments does)."""

    start: float
    end: float
    version: FamilyVersion | None
    sources: Mapping[str, str]
    constructs: Mapping[str, str] = field(default_factory=dict)


class _LiveRecurring(Recurring):
    """The rehearsal's deliveries over a sequence of steps: the chain rules are those of the stacks that
    exist at each event (a deleted or updated stack's rules deliver nothing more, as in EventBridge), and
    with ``redeliver`` every scheduled time is delivered again, as Scheduler's at-least-once delivery may:
    at once or up to hours later (REDELIVERY_DELAYS, drawn from the time and the resource), the same
    payload, unless the stack has been deleted meanwhile (its schedule with it)."""

    def __init__(self, driver: Driver) -> None:
        super().__init__(driver)
        self.redeliver = False
        self.landed = 0
        self.delivered: set[tuple[str, str | None]] = set()  # (stack, job) of every delivery made

    @property
    def _rules(self) -> list[_Rule]:
        return [rule for state in self._driver.states.values() for rule in _rules_of(state)]

    @_rules.setter
    def _rules(self, value: list[_Rule]) -> None:
        pass

    def _deliver_schedule(self, state: StackState, properties: dict[str, Any], moment: datetime) -> None:
        if self._driver.states.get(state.name) is not state:
            return  # the stack was deleted meanwhile: so was its schedule
        self.delivered.add((state.name, _logical_id(properties)))
        super()._deliver_schedule(state, properties, moment)
        if self.redeliver:
            rng = random.Random(f"{moment.isoformat()}-{state.name}-{properties['Target'].get('Input')}")
            delay = rng.choice(REDELIVERY_DELAYS)
            again = functools.partial(self._redeliver, state, properties, moment)
            if delay:
                self._sandbox.scheduler.after(delay, again)
            else:
                again()

    def _redeliver(self, state: StackState, properties: dict[str, Any], moment: datetime) -> None:
        """The same payload again, while the job's schedule exists (an update that removed it deleted it,
        and its role with it: Scheduler retries no deleted schedule)."""
        if self._driver.states.get(state.name) is state and _logical_id(properties) in _scheduled_jobs(state):
            super()._deliver_schedule(state, properties, moment)


def _logical_id(properties: Mapping[str, Any]) -> str | None:
    """The job a schedule's target input names."""
    try:
        request = json.loads(str(dict(properties.get("Target") or {}).get("Input") or "{}"))
    except json.JSONDecodeError:
        return None
    return str(request.get("logicalId")) if isinstance(request, dict) else None


def _scheduled_jobs(state: StackState) -> set[str | None]:
    """The logical ids of the jobs whose schedule the stack holds now."""
    found: set[str | None] = set()
    for resource in state.resources.values():
        if resource.type != SCHEDULE_TYPE or resource.status == DELETE_COMPLETE:
            continue
        properties = resource.properties or state.resolver.resolve(
            dict(state.template.get("Resources", {}).get(resource.logical_id, {}).get("Properties", {}))
        )
        found.add(_logical_id(properties))
    return found


class _Injected(AbstractContextManager[None]):
    """The faults of one step, switched on for its duration (some outlast it, as they would)."""

    def __init__(self, driver: Driver, step: Step) -> None:
        self.driver, self.step = driver, step

    def __enter__(self) -> None:
        driver, faults = self.driver, self.step.faults
        sandbox = driver.sandbox
        driver.inject = {_FAILS[fault]: FAILED_REASON for fault in faults if fault in _FAILS}
        driver.inject.update(lifecycle_injections(faults))
        for fault, kind in _QUOTAS.items():
            if fault in faults:
                sandbox.personalize.occupied[kind.key] = kind.quota
                sandbox.scheduler.after(20 * 60, functools.partial(_free_slots, sandbox, kind.key))
        if "throttling" in faults:
            sandbox.personalize.throttle = 1
        if SLOW_IMPORT_FAULT in faults:
            sandbox.personalize.durations[contract.DATASET_IMPORT.key] = SLOW_IMPORT
        if "sibling-fails" in faults:
            driver.engine.faults.fail_resources = {SIBLING}
        if "delivered-twice" in faults:
            driver.engine.faults.duplicate_requests = True
        if "training-stopped" in faults:
            _stop_a_training(driver, tries=20)
        if "source-not-active" in faults:
            for arn in (OUTSIDE_VERSION_ARN, OUTSIDE_SEGMENT_VERSION_ARN):
                _outside_training(sandbox, arn, minutes=30)

    def __exit__(self, *_: object) -> None:
        self.driver.inject = {}
        self.driver.sandbox.personalize.throttle = 0
        self.driver.sandbox.personalize.durations.update(DURATIONS)
        self.driver.engine.faults.fail_resources = set()
        self.driver.engine.faults.duplicate_requests = False


def _free_slots(sandbox: Sandbox, kind: str) -> None:
    sandbox.personalize.occupied.pop(kind, None)


def _stop_a_training(driver: Driver, *, tries: int) -> None:
    """StopSolutionVersionCreation, as someone in the console would, on the first training of the app
    found running in the next ``tries`` minutes."""
    standin = driver.sandbox.personalize
    kind = contract.SOLUTION_VERSION
    ours = {run.job_arn for run in driver.runs if run.resource.kind is kind}
    standin.settle()
    running = [
        job for job in standin.jobs() if job.kind is kind and job.arn in ours and job.status in RUNNING
    ]
    if running:
        try:
            standin.handle(kind.stop, {kind.arn_member: running[0].arn}, cast(Any, None))
            return
        except ServiceError:  # throttled: try again in a minute
            pass
    if tries > 1:
        driver.sandbox.scheduler.after(60, lambda: _stop_a_training(driver, tries=tries - 1))


def _outside_training(sandbox: Sandbox, arn: str, *, minutes: float) -> None:
    """A solution version trained outside the app, still IN PROGRESS for ``minutes`` (the stand-in has no
    call that makes a version under a given ARN: it is put in its table)."""
    standin = sandbox.personalize
    if any(job.arn == arn for job in standin.jobs()):
        return
    now = sandbox.clock.elapsed
    job = StandInJob(
        contract.SOLUTION_VERSION,
        arn.rsplit("/", 2)[1],
        arn,
        {"solutionArn": arn.rsplit("/", 1)[0], "trainingMode": "FULL"},
        created_at=now,
        pending_until=now,
        done_at=now + minutes * 60,
        status=IN_PROGRESS,
        updated_at=now,
    )
    with standin._lock:
        standin._jobs[arn] = job


def _iso_epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


class FamilyInvariants(Invariants):
    expected_reasons = EXPECTED_REASONS_FAMILY

    def __init__(self, driver: Driver, outcome: FamilyOutcome) -> None:
        super().__init__(driver, outcome)
        self.family_outcome = outcome
        # Resource key -> (the physical id it held after the last step, since when at the latest).
        self.held: dict[str, tuple[str | None, float]] = {}
        # Physical id -> when CloudFormation last sent its Delete; stack name -> its latest state (a stack
        # stuck ROLLBACK_FAILED or DELETE_FAILED is no longer the driver's, but can be deleted again).
        self.delete_sent: dict[str, float] = {}
        self.stacks: dict[str, StackState] = {}
        self.at_the_limit: set[int] = set()  # id() of the operations stuck at the documented limit
        self.failures_seen = 0  # the rehearsal's failures (a delivery's) seen by the last step
        # The version the first stack holds (None: none deployed), and the "days" steps (issue 22).
        self.held_version: FamilyVersion | None = None
        self.windows: list[DaysWindow] = []
        self._watch(driver)
        self.data_lifecycle = DataLifecycleChecks(self, driver)

    def _watch(self, driver: Driver) -> None:
        engine, clock = driver.engine, self.sandbox.clock
        delete_resource, create, delete = engine.delete_resource, engine.create, engine.delete

        def deleting(state: StackState, resource: Any, *args: Any, **kwargs: Any) -> bool:
            if resource.physical_id:
                self.delete_sent[resource.physical_id] = clock.elapsed
            return delete_resource(state, resource, *args, **kwargs)

        def creating(state: StackState) -> Operation:
            self.stacks[state.name] = state
            return create(state)

        def deleting_stack(state: StackState) -> Operation:
            self.stacks[state.name] = state
            return delete(state)

        run_started = driver.scheduled_run_started

        def scheduled_run_started(request: Mapping[str, Any]) -> None:
            # A run without a deploy belongs to the stack instance its request names (the rehearsal
            # records none): that of the stack deployed now.
            before = len(driver.runs)
            run_started(request)
            live = driver.states.get(_stack_name(request))
            for run in driver.runs[before:]:
                run.instance = live.instance if live is not None else -1

        driver.scheduled_run_started = scheduled_run_started  # type: ignore[method-assign]
        engine.delete_resource = deleting  # type: ignore[method-assign]
        engine.create = creating  # type: ignore[method-assign]
        engine.delete = deleting_stack  # type: ignore[method-assign]

    def hold(self, step: Step, outcomes: Sequence[StackOutcome]) -> None:
        """The version the first stack holds after ``step``: a deploy's that completed; a rolled-back
        update's predecessor; none once the stack is gone."""
        if STACK not in self.driver.states:
            self.held_version = None
            return
        for stack_outcome in outcomes:
            status = stack_outcome.operation.status
            if stack_outcome.stack == STACK and status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                self.held_version = ALL_VERSIONS[step.version or 0]

    def sources(self) -> dict[str, str]:
        """The solution version each batch job of the first stack is made from now (construct id -> ARN)."""
        state = self.driver.states.get(STACK)
        if state is None:
            return {}
        return {
            construct: str(resource.properties.get("SolutionVersionArn"))
            for construct, resource in self._by_construct(state).items()
            if construct in (INFERENCE, SEGMENTS)
        }

    def tolerated(self, operation: Any) -> bool:
        return id(operation) in self.at_the_limit

    def _no_monitor_left(self, index: int, stack: str) -> None:
        """The base rule, after Step Functions' DeleteStateMachine (which the stand-in does not model):
        the stack's delete deletes its monitor, whose executions are terminated at their next state
        transition. A run request still waiting (denied the start of its run while its stack changed,
        lambda/scheduled.py ``while_denied``) has no job and no run monitor: its next transition ends its
        Wait, before any further check, so it calls nothing more. Ended here, and counted."""
        model = self.driver.models.get(stack)
        machines = set(model.machines) if model is not None else set()
        standin = self.sandbox.stepfunctions
        for execution in standin.executions():
            if execution.status != "RUNNING" or execution.machine.arn not in machines:
                continue
            try:
                request = json.loads(execution.input_text)
            except json.JSONDecodeError:
                continue
            if isinstance(request, dict) and request.get("trigger") and "jobName" not in request:
                standin._stop({"executionArn": execution.arn})
                self.outcome.transitional_denials += 1
        super()._no_monitor_left(index, stack)

    def _no_iam_denial(self, index: int, outcomes: Sequence[Any]) -> None:
        """The base rule, and the denials of runs without a deploy that an update removing their job or
        their schedule leaves without the runtime's grants before its cleanup (they happen in a real
        account too; the handler asks again while the stack changes, then drops or goes on): tolerated
        and counted, like the base rule's."""
        enforcer = self.driver.enforcer
        if enforcer is None:
            super()._no_iam_denial(index, outcomes)
            return
        every = enforcer.denials
        fresh = every[self.denials_seen :]
        kept = [denial for denial in fresh if not self._a_removed_runs_denial(denial, outcomes)]
        self.outcome.transitional_denials += len(fresh) - len(kept)
        enforcer.denials = every[: self.denials_seen] + kept
        try:
            super()._no_iam_denial(index, outcomes)
        finally:
            enforcer.denials = every
            self.denials_seen = len(every)

    def _a_removed_runs_denial(self, denial: Any, outcomes: Sequence[Any]) -> bool:
        if "Runtime" not in denial.role:
            return False
        if denial.action in ("states:ListExecutions", "states:StartExecution"):
            # A delivery of a schedule the stack no longer holds (its update took the runtime's grant).
            recurring = self.driver.recurring
            delivered = recurring.delivered if isinstance(recurring, _LiveRecurring) else set()
            return ":stateMachine:" in denial.resource and any(
                (state := self.driver.states.get(stack)) is None or job not in _scheduled_jobs(state)
                for stack, job in delivered
            )
        # The monitor of a scheduled or chained run whose job's resource this step removed or replaced.
        removed = {
            (change.stack, change.logical_id)
            for stack_outcome in outcomes
            for change in stack_outcome.operation.changes
            if change.action == "removed" or change.old_physical_id != change.new_physical_id
        }
        # Or an update that would have removed it and rolled back (its policies came back; the run went on).
        rolled_back = {
            stack_outcome.stack
            for stack_outcome in outcomes
            if stack_outcome.operation.status == "UPDATE_ROLLBACK_COMPLETE"
        }
        return any(
            run.phase in ("schedule", "chain")
            and (run.job_arn == denial.resource or denial.resource.endswith(f"/{run.job_name}"))
            and (
                (run.resource.stack, run.resource.logical_id) in removed or run.resource.stack in rolled_back
            )
            for run in self.driver.runs
        )

    def _outran_the_wait(self, operation: Operation) -> list[StandInJob] | None:
        """The imports that left ``operation`` stuck, when each problem is a native delete refused because
        of an import that outlasted its Delete's longest wait (or a refusal that follows: the schema of
        that dataset, its group); else None: the library could have prevented it."""
        if operation.status not in STUCK or not operation.problems:
            return None
        jobs, found = self._jobs_by_arn(), []
        for problem in operation.problems:
            if "ResourceInUseException" not in problem:
                return None
            match = _IMPORT_REFUSAL.search(problem)
            if match is None:
                if "used by" in problem or "delete its datasets" in problem:
                    continue
                return None
            job, sent = jobs.get(match.group(1)), self.delete_sent.get(match.group(1))
            if job is None or sent is None or job.done_at <= sent + IMPORT_DELETE_WAIT:
                return None
            found.append(job)
        return found or None

    def recover_at_the_limit(self, stack_outcome: StackOutcome) -> None:
        """A stack stuck at the documented limit: wait until the imports end, then delete it again (the
        README's recovery); the new delete joins the driver's outcomes, to be checked like any other."""
        operation = stack_outcome.operation
        imports = self._outran_the_wait(operation)
        state = self.stacks.get(stack_outcome.stack)
        if imports is None or state is None:
            return
        self.at_the_limit.add(id(operation))
        self.family_outcome.limits += 1
        clock = self.sandbox.clock
        self.driver.advance(max(job.done_at for job in imports) - clock.elapsed + 60)
        started = clock.elapsed
        again = self.driver.engine.delete(state)
        self.driver.outcomes.append(StackOutcome("delete", state.name, again, started, clock.elapsed))
        self.outcome.operations += 1
        self.outcome.log.append(
            f"+{started / 60:7.1f} min  the import ended: delete again -> {again.status} {again.reason}"
        )
        if again.status != DELETE_COMPLETE:
            self.violation(f"deleted again once the import ended, {state.name} ended {again.status}")

    def after_family_step(self, index: int, outcomes: Sequence[Any], started: float) -> None:
        if index < len(self.outcome.steps):
            self.after_step(index, cast(Any, None), outcomes)
        now = self.sandbox.clock.elapsed
        completed = all(o.operation.status not in STUCK and not o.operation.problems for o in outcomes)
        # A resource moved to another job in this step (and maybe back, by a rollback): its monitor
        # starts again as the operation ends.
        moved = {
            f"{change.stack}/{change.logical_id}"
            for stack_outcome in outcomes
            for change in stack_outcome.operation.changes
            if change.old_physical_id != change.new_physical_id
        }
        for state in self.driver.states.values():
            for resource in state.resources.values():
                key = state.key(resource.logical_id)
                if key in moved or self.held.get(key, (None, 0.0))[0] != resource.physical_id:
                    self.held[key] = (resource.physical_id, now)
        if completed:
            self._manifests(index)
            self._chain(index)
            self._chain_across_stacks(index, outcomes)
        self._jobs_start_on_active_sources(index)
        self._deleted_trainings_stopped(index)
        self._no_delete_refused(index, outcomes)
        self._refusals_bill_nothing(index, outcomes, started, now)
        self.data_lifecycle.after_step(index, outcomes)
        self._one_job_per_scheduled_time(index)
        self._every_delivery_runs(index)
        self._no_skip_of_changed_input(index)

    # -- 11 (issue 22): runs without a deploy
    def days_followed_the_held_schedules(self) -> None:
        """In each "days" step, the schedules delivered are those of the version the stack held then (after
        a rollback: the restored one's): a paused or absent schedule delivers nothing; each scheduled job
        is delivered at least once a period, its scheduled times one period apart; and each scheduled
        batch run's job is made with the definition the stack held at its delivery (its source version,
        its number of results)."""
        first: dict[tuple[str, str], float] = {}  # (resource key, scheduled time) -> its first delivery
        for entry in self.sandbox.timeline.entries():
            if entry.data.get("run") == "scheduled":
                first.setdefault((entry.key, str(entry.data.get("scheduledTime"))), entry.at)
        jobs = {job.name: job for job in self.sandbox.personalize.jobs()}
        made = {
            (str(request.get("logicalId")), str(request.get("scheduledTime"))): jobs[str(request["jobName"])]
            for request in self._run_requests()
            if str(request.get("jobName")) in jobs and _stack_name(request) == STACK
        }
        for number, window in enumerate(self.windows, start=1):
            version = window.version
            wanted = version.schedules() if version is not None and version.schedule_enabled else {}
            label = f"days step {number} ({version.label() if version else 'no stack'})"
            delivered: dict[str, list[str]] = {}
            for (key, moment), at in first.items():
                stack, _, logical_id = key.partition("/")
                if stack != STACK or not window.start < at <= window.end:
                    continue
                construct = window.constructs.get(logical_id, logical_id)
                delivered.setdefault(construct, []).append(moment)
                if construct not in wanted:
                    why = (
                        "paused"
                        if version is not None and version.schedule_enabled is False
                        else "not scheduled"
                    )
                    self.violation(
                        f"{label}: {construct} ({why}) was delivered its run scheduled at {moment}"
                    )
                    continue
                job = made.get((logical_id, moment))
                if job is not None and construct in (INFERENCE, SEGMENTS):
                    self._run_as_defined(label, construct, moment, job, window)
            for construct, expression in wanted.items():
                period = _rate_seconds(expression)
                times = sorted({_iso_epoch(moment) or 0.0 for moment in delivered.get(construct, [])})
                if not times and window.end - window.start >= period + MAX_LATE_SECONDS:
                    self.violation(f"{label}: {construct}'s schedule ({expression}) delivered nothing")
                gaps = {round(later - earlier) for earlier, later in itertools.pairwise(times)}
                if gaps - {round(period)}:
                    self.violation(
                        f"{label}: {construct}'s scheduled times are {sorted(gaps)} s apart, not its "
                        f"schedule's {expression}"
                    )

    def _run_as_defined(
        self, label: str, construct: str, moment: str, job: StandInJob, window: DaysWindow
    ) -> None:
        version = window.version
        assert version is not None
        source = window.sources.get(construct)
        if source is not None and job.request.get("solutionVersionArn") != source:
            self.violation(
                f"{label}: {construct}'s run scheduled at {moment} ({job.name}) is made from "
                f"{job.request.get('solutionVersionArn')}, not from {source}, the source the stack held"
            )
        if construct == INFERENCE and job.request.get("numResults") != version.inference_results:
            self.violation(
                f"{label}: {construct}'s run scheduled at {moment} ({job.name}) asks for "
                f"{job.request.get('numResults')} results, not the {version.inference_results} the stack held"
            )

    def _run_requests(self) -> list[dict[str, Any]]:
        """The input of every monitor execution of a scheduled run (its request, then its job's)."""
        found = []
        for execution in self.sandbox.stepfunctions.executions():
            try:
                request = json.loads(execution.input_text)
            except json.JSONDecodeError:
                continue
            if isinstance(request, dict) and request.get("trigger") == "schedule":
                found.append(request)
        return found

    def _one_job_per_scheduled_time(self, index: int) -> None:
        """At most one Personalize job per (resource, scheduled time), a delivery repeated or not."""
        jobs = {job.name for job in self.sandbox.personalize.jobs()}
        named: dict[tuple[str, str, str], set[str]] = {}
        for request in self._run_requests():
            name = request.get("jobName")
            if name in jobs:
                key = (_stack_name(request), str(request.get("logicalId")), str(request.get("scheduledTime")))
                named.setdefault(key, set()).add(str(name))
        times: dict[str, set[str]] = {}
        for (_, _, moment), names in named.items():
            for name in names:
                times.setdefault(name, set()).add(moment)
        for name, moments in times.items():
            if len(moments) > 1:
                self.violation(
                    f"step {index}: one job, {name}, for the runs scheduled at {', '.join(sorted(moments))}"
                )
        for (stack, logical_id, moment), names in named.items():
            if len(names) > 1:
                self.violation(
                    f"step {index}: {len(names)} jobs for {stack}/{logical_id}'s run scheduled at {moment}: "
                    f"{', '.join(sorted(names))}"
                )

    def _every_delivery_runs(self, index: int) -> None:
        """Each delivery starts the resource's run (or meets the one it started already): nothing the
        rehearsal's deliveries did failed (a monitor that could not start, a denied delivery)."""
        for failure in self.driver.failures[self.failures_seen :]:
            if "delivery" in failure:  # not a stack's failure: those are checked as every step's
                self.violation(f"step {index}: {failure}")
        self.failures_seen = len(self.driver.failures)
        requested = {
            (_stack_name(request), str(request.get("logicalId")), str(request.get("scheduledTime")))
            for request in self._run_requests()
        }
        now = self.sandbox.clock.elapsed
        for entry in self.sandbox.timeline.entries():
            if entry.data.get("run") != "scheduled" or now < entry.at + MAX_LATE_SECONDS:
                continue
            stack, _, logical_id = entry.key.partition("/")
            if (stack, logical_id, str(entry.data.get("scheduledTime"))) not in requested:
                self.violation(
                    f"step {index}: the delivery to {entry.key} at {entry.data.get('scheduledTime')} "
                    "started no run"
                )

    def _no_skip_of_changed_input(self, index: int) -> None:
        """No scheduled import is skipped when new data landed under its path since the last import of
        its resource that ended ACTIVE began (what the skip compares against)."""
        landed = [
            (entry.key, entry.at)
            for entry in self.sandbox.timeline.entries()
            if entry.data.get("run") == "new-input"
        ]
        if not landed:
            return
        jobs = {job.name: job for job in self.sandbox.personalize.jobs()}
        for event in self.sandbox.events.events():
            detail = event.detail
            if detail.get("result") != "SKIPPED" or detail.get("trigger") != "schedule":
                continue
            if "in progress" in str(detail.get("reason")):
                continue  # another run of the job was running: the documented overlap, not a comparison
            key = f"{_stack_name(detail)}/{detail.get('logicalId')}"
            succeeded = [
                jobs[run.job_name].created_at
                for run in self.driver.runs
                if run.resource.key == key
                and run.job_name in jobs
                and jobs[run.job_name].status == ACTIVE
                and jobs[run.job_name].updated_at <= event.at
            ]
            since = max(succeeded, default=None)
            changed = [at for where, at in landed if where == key and (since is None or at > since)]
            if since is not None and any(at <= event.at for at in changed):
                self.violation(
                    f"step {index}: {key}'s run scheduled at {detail.get('scheduledTime')} was skipped at "
                    f"+{event.at / 60:.1f} min, though new input landed at +{min(changed) / 60:.1f} min, "
                    f"after its last successful run began (+{since / 60:.1f} min): {detail.get('reason')}"
                )

    # -- helpers

    def _runs(self, key: str, instance: int) -> list[JobRun]:
        return [run for run in self.driver.runs if run.resource.key == key and run.instance == instance]

    def _jobs_by_arn(self) -> dict[str, StandInJob]:
        return {job.arn: job for job in self.sandbox.personalize.jobs()}

    def _live(self) -> list[StackState]:
        return [
            state
            for state in self.driver.states.values()
            if state.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
        ]

    def _by_construct(self, state: StackState) -> dict[str, Any]:
        return {
            job.construct_id: state.resources[job.logical_id]
            for job in state.model.jobs.values()
            if job.logical_id in state.resources
        }

    def _checkable(self, ended: float) -> float:
        """When a monitor could first check a run that ended at ``ended``: a function invocation that held
        the simulated clock (a Delete awaiting an import, up to 13 minutes) defers every check due while it
        ran to its end, where in an account the monitors go on meanwhile (docs/rehearsal-fidelity.md)."""
        for start, end in sorted(self.sandbox.runtime.held):
            if start <= ended + MAX_LATE_SECONDS and end > ended:
                ended = end
        return ended

    # -- 7
    def _manifests(self, index: int) -> None:
        jobs = self._jobs_by_arn()
        now = self.sandbox.clock.elapsed
        s3 = self.sandbox.s3.client
        for state in self._live():
            for job_resource in state.model.jobs.values():
                kind = job_resource.kind
                resource = state.resources.get(job_resource.logical_id)
                if kind.key not in BATCH_KINDS or resource is None or not resource.physical_id:
                    continue
                key = state.key(resource.logical_id)
                bucket = str(resource.properties.get(kind.output.bucket_prop))
                prefix = str(resource.properties.get(kind.output.prefix_prop))
                try:
                    body = s3.get_object(Bucket=bucket, Key=f"{prefix}{contract.MANIFEST_NAME}")["Body"]
                    document: dict[str, Any] | None = json.loads(body.read())
                except s3.exceptions.NoSuchKey:
                    document = None
                except s3.exceptions.NoSuchBucket:
                    document = None
                runs = self._runs(job_resource.key, state.instance)
                current = jobs.get(resource.physical_id)
                # Runs without a deploy started since the resource came to hold its job rewrite the manifest
                # too (issue 22): the newest of them is the run it names then.
                moved_at = self.held.get(state.key(resource.logical_id), (None, 0.0))[1]
                later = [
                    jobs[run.job_arn]
                    for run in runs
                    if run.phase in RUNS_WITHOUT_A_DEPLOY
                    and run.job_arn in jobs
                    and jobs[run.job_arn].created_at >= moved_at
                ]
                if later:
                    current = later[-1]
                label = f"step {index}: {job_resource.label()}'s {contract.MANIFEST_NAME}"
                since = self.held.get(key, (None, 0.0))[1]
                # A rollback (or a re-added resource adopting the old job by name) restarts the held run's
                # monitor long after a later scheduled or chained run of the very same definition and
                # source ended: that later run is the newest result of what the stack holds, and the
                # library keeps it by design (manifest.keep_reason), so the manifest may name it.
                newest = self._later_run_of_held_definition(
                    document, current, runs, jobs, resource.properties.get(contract.RUN_ID)
                )
                if current is not None and current.status in ENDED and not newest:
                    due = max(self._checkable(current.updated_at), since) + MAX_LATE_SECONDS
                    if now > due and (document is None or document.get("jobArn") != current.arn):
                        named = document.get("jobName") if document else "nothing"
                        self.violation(
                            f"{label} names {named}, not the run the stack holds ({current.name}, "
                            f"{current.status} {now - current.updated_at:.0f} s ago)"
                        )
                if document is None:
                    continue
                # A resource that moved in this step (a rollback's restored run) has its monitor rewrite
                # the manifest at its first check, once the operation ended.
                settled = now > since + MAX_LATE_SECONDS
                held = current.arn if later and current is not None else resource.physical_id
                if newest:  # not a run the stack moved away from: it holds that run's definition
                    held = str(document.get("jobArn"))
                self._manifest_names_its_run(label, document, runs, jobs, held, settled)

    @staticmethod
    def _later_run_of_held_definition(
        document: Mapping[str, Any] | None,
        held: StandInJob | None,
        runs: Sequence[JobRun],
        jobs: Mapping[str, StandInJob],
        run_id: Any,
    ) -> bool:
        """Whether ``document`` names a run without a deploy of this resource, of the definition the stack
        holds (its ``RunId``, and a job made with the same request as the held run's but for its name, its
        output and its source version, which must belong to the same solution: a chained run follows each
        new training of the upstream the stack holds, not one of an abandoned, replaced solution), that
        ended after the held run ended."""
        if document is None or held is None or held.status not in ENDED or not run_id:
            return False
        arn = str(document.get("jobArn"))
        run = next((run for run in runs if run.job_arn == arn), None)
        job = jobs.get(arn)
        if run is None or job is None or run.phase not in RUNS_WITHOUT_A_DEPLOY or job.status not in ENDED:
            return False

        source = "solutionVersionArn"

        def defining(request: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in request.items() if k not in ("jobName", "jobOutput", "tags", source)}

        def solution(request: Mapping[str, Any]) -> str:
            return str(request.get(source, "")).rsplit("/", 1)[0]

        return (
            document.get("runId") == str(run_id)
            and defining(job.request) == defining(held.request)
            and solution(job.request) == solution(held.request)
            and job.updated_at > held.updated_at
        )

    def _manifest_names_its_run(
        self,
        label: str,
        document: Mapping[str, Any],
        runs: Sequence[JobRun],
        jobs: Mapping[str, StandInJob],
        held: str,
        settled: bool,
    ) -> None:
        arn = str(document.get("jobArn"))
        position = next((i for i, run in enumerate(runs) if run.job_arn == arn), None)
        if position is None:
            self.violation(f"{label} names {document.get('jobName')}, not a run of this resource")
            return
        current = next((i for i, run in enumerate(runs) if run.job_arn == held), None)
        if settled and arn != held and current is not None and position > current:
            self.violation(
                f"{label} names {document.get('jobName')}, a run the stack moved away from "
                f"(it holds {runs[current].job_name})"
            )
        job = jobs.get(arn)
        result = document.get("result")
        if result == "SUCCESS":
            if job is None or job.status != ACTIVE:
                status = job.status if job else "never created"
                self.violation(f"{label} says {document.get('jobName')} succeeded; it is {status}")
            elif document.get("outputS3Uri") != runs[position].output_uri:
                self.violation(f"{label} names {document.get('outputS3Uri')}, not its run's output")
        elif job is not None and job.status not in ENDED:
            self.violation(f"{label} says {document.get('jobName')} ended {result}; it is {job.status}")
        if job is not None and job.status in ENDED:
            written = _iso_epoch(str(document.get("finishedAt")))
            ended = self.sandbox.clock.epoch_seconds(job.updated_at)
            if written is None or abs(written - ended) > 1:
                self.violation(
                    f"{label}: finishedAt {document.get('finishedAt')} is not its run's end "
                    f"(+{job.updated_at / 60:.1f} min)"
                )

    # -- 8
    def _chain(self, index: int) -> None:
        jobs = self._jobs_by_arn()
        for state in self._live():
            held = self._by_construct(state)
            for downstream, upstream in ((INFERENCE, TRAINING), (SEGMENTS, SEGMENT_TRAINING)):
                source, made = held.get(upstream), held.get(downstream)
                if source is None or made is None:
                    continue
                if made.properties.get("SolutionVersionArn") != source.physical_id:
                    continue  # made from an outside version in this version of the app
                job = jobs.get(str(made.physical_id))
                training = jobs.get(str(source.physical_id))
                if job is not None and job.request.get("solutionVersionArn") != source.physical_id:
                    self.violation(
                        f"step {index}: {state.name}/{downstream} holds {job.name}, made from "
                        f"{job.request.get('solutionVersionArn')}, not from the training the stack holds "
                        f"({training.name if training else source.physical_id}): it did not run again"
                    )
            for downstream in (INFERENCE, SEGMENTS, CONSUMER):
                resource_key = next(
                    (j.key for j in state.model.jobs.values() if j.construct_id == downstream), None
                )
                if resource_key is None:
                    continue
                # A job on its own schedule runs again on the same training, and a new definition of the
                # job (its number of results) runs again too: each other run counts.
                made_from = Counter(
                    (
                        str(jobs[run.job_arn].request.get("solutionVersionArn")),
                        jobs[run.job_arn].request.get("numResults"),
                    )
                    for run in self._runs(resource_key, state.instance)
                    if run.job_arn in jobs and run.phase != "schedule"
                )
                for (arn, _), count in made_from.items():
                    training = jobs.get(arn)
                    if count > 1 and training is not None and training.kind is contract.SOLUTION_VERSION:
                        self.violation(
                            f"step {index}: {state.name}/{downstream} ran {count} times on the training "
                            f"{training.name}"
                        )

    def _chain_across_stacks(self, index: int, outcomes: Sequence[Any]) -> None:
        """Deployed together, the consumer stack's job holds a job made from the training the first stack
        holds: it ran again after each new training (never twice on one: ``_chain``)."""
        deployed = {o.stack for o in outcomes if o.operation.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")}
        states = {state.name: state for state in self._live()}
        if not {STACK, CONSUMER_STACK} <= deployed or not {STACK, CONSUMER_STACK} <= set(states):
            return
        source = self._by_construct(states[STACK]).get(TRAINING)
        made = self._by_construct(states[CONSUMER_STACK]).get(CONSUMER)
        if source is None or made is None:
            return
        job = self._jobs_by_arn().get(str(made.physical_id))
        wanted = made.properties.get("SolutionVersionArn")
        if wanted in (OUTSIDE_VERSION_ARN, None):
            return  # made from an outside version in this version of the app
        if wanted != source.physical_id or (
            job is not None and job.request.get("solutionVersionArn") != source.physical_id
        ):
            made_from = job.request.get("solutionVersionArn") if job else wanted
            self.violation(
                f"step {index}: {CONSUMER_STACK}/{CONSUMER} holds a job made from {made_from}, not from the "
                f"training {STACK} holds ({source.physical_id}): it did not run again"
            )

    def _jobs_start_on_active_sources(self, index: int) -> None:
        jobs = self._jobs_by_arn()
        trainings = {
            run.job_arn
            for run in self.driver.runs
            if run.resource.kind is contract.SOLUTION_VERSION and run.job_arn
        }
        for job in jobs.values():
            if job.kind.key not in BATCH_KINDS:
                continue
            arn = str(job.request.get("solutionVersionArn"))
            source = jobs.get(arn)
            if arn not in trainings or source is None:
                continue
            if source.status != ACTIVE or source.updated_at > job.created_at:
                self.violation(
                    f"step {index}: {job.name} started at +{job.created_at / 60:.1f} min on the training "
                    f"{source.name}, which was not ACTIVE then (it is {source.status})"
                )

    # -- 9
    def _deleted_trainings_stopped(self, index: int) -> None:
        held = {
            resource.physical_id
            for state in self.driver.states.values()
            for resource in state.resources.values()
        }
        ours = {run.job_arn for run in self.driver.runs if run.resource.kind is contract.SOLUTION_VERSION}
        for job in self.sandbox.personalize.jobs():
            if job.arn not in ours or job.arn in held:
                continue
            sent = self.delete_sent.get(job.arn)
            if job.status not in STOPPED_OR_ENDED:
                self.violation(
                    f"step {index}: the training {job.name} is {job.status} though its resource is gone"
                )
            elif job.status != STOPPED and sent is not None and job.updated_at > sent:
                # Ended on its own after its Delete (which waits for a stop, and so for an end too).
                self.violation(
                    f"step {index}: the training {job.name} trained on to its end ({job.status}) after its "
                    "resource's Delete, though its resource is gone"
                )

    def _no_delete_refused(self, index: int, outcomes: Sequence[Any]) -> None:
        for stack_outcome in outcomes:
            if self.tolerated(stack_outcome.operation):
                continue
            for problem in stack_outcome.operation.problems:
                if "ResourceInUseException" in problem:
                    self.violation(f"step {index}: a native delete was refused while a job ran: {problem}")

    # -- 10
    def _refusals_bill_nothing(
        self, index: int, outcomes: Sequence[Any], started: float, ended: float
    ) -> None:
        ours = {run.job_name for run in self.driver.runs}
        for stack_outcome in outcomes:
            operation = stack_outcome.operation
            refused = operation.status == VALIDATION_FAILED or any(
                reason in operation.reason for reason in KNOWN_BEFORE
            )
            if operation.kind == "DELETE" or not refused:
                continue
            billed = sorted(
                job.name
                for job in self.sandbox.personalize.jobs()
                if job.name in ours and started <= job.created_at <= ended
            )
            if billed:
                self.violation(
                    f"step {index}: {operation.kind} of {operation.stack} was refused "
                    f"({operation.reason[:160]}), after it had started {', '.join(billed)}"
                )


def _rate_seconds(expression: str) -> float:
    """``rate(N unit)`` in seconds (the versions' schedules are rates)."""
    count, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return int(count) * {"minute": 60, "hour": 3600, "day": 86_400}[unit.rstrip("s")]


def _stack_name(request: Mapping[str, Any]) -> str:
    """The stack a run's request or end event names (``stackId``: ``arn:...:stack/NAME/id``)."""
    return str(request.get("stackId") or "").split(":stack/", 1)[-1].split("/", 1)[0]


def run_family(
    assemblies: Mapping[FamilyVersion, Path],
    seeds: Sequence[int],
    *,
    progress: Callable[[FamilyOutcome], None] | None = None,
    verbose: bool = False,
    workers: int = 1,
    loopback: bool = False,
) -> list[FamilyOutcome]:
    """Every seed's outcome, in order; ``workers`` processes share the seeds (each its own sandbox)."""
    make = functools.partial(FamilyFuzzer, dict(assemblies), loopback=loopback)
    return run_sequences(make, seeds, progress=progress, verbose=verbose, workers=workers)
