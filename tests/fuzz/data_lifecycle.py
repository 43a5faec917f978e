"""The data lifecycle kinds in the family fuzzer (issue 21): a ``DataDeletionJob`` after the import and a
``DatasetExportJob`` after the deletion (tests/family_variants.py's LIFECYCLE_VERSIONS), their durations,
faults and stand-in failure wordings, drawn on a random stream of their own, and these invariants:

11. Erasure: an export never holds a user a deletion erased before the export started; an export the
    stack orders after a deletion that waits starts only once the deletion's run has COMPLETED.
12. Rollbacks: a rollback that moves a deletion's (or an import's) resource back to a run that has ended
    says what it cannot undo: the monitor it starts for that run carries the kind's ``rollback_note``.
13. Figures: a deletion's ``numDeleted`` is reported once per run, in its end event, and is what the
    job deleted.
14. Deletes: a deletion's or an export's Delete never waits for its job nor stops it (neither blocks the
    delete of anything, and neither can be stopped).

tests/fuzz/family.py calls in here from its scenarios, its faults and its invariants.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from constructs_lib._contract import contract
from constructs_lib.rehearsal.personalize import ACTIVE, ENDED, STOPPED, STOPPING, Durations, StandInJob
from tests.family_variants import (
    ACCOUNT,
    ALL_VERSIONS,
    DELETION,
    EXPORT,
    LIFECYCLE_VERSIONS,
    REGION,
    VERSIONS,
)

if TYPE_CHECKING:
    from constructs_lib.rehearsal.discovery import StackModel
    from constructs_lib.rehearsal.driver import Driver, StackOutcome
    from constructs_lib.rehearsal.engine import Operation, ResourceState, StackState
    from tests.fuzz.model import Invariants, Step

DELETION_KIND, EXPORT_KIND = contract.DATA_DELETION, contract.DATASET_EXPORT
# A deletion outlasts an export: an export that starts before the deletion it follows has ended (a bug)
# ends first, holding the users the deletion erases after it.
LIFECYCLE_DURATIONS = {
    DELETION_KIND.key: Durations(60, 420),
    EXPORT_KIND.key: Durations(30, 150),
}
LIFECYCLE_FAULTS = ("deletion-fails", "export-fails")
LIFECYCLE_FAILS = {"deletion-fails": DELETION, "export-fails": EXPORT}
# The stand-ins' own failure wordings for the two kinds (constructs_lib/rehearsal/personalize.py): a
# deletion or an export that outlives the dataset group or dataset it works on.
LIFECYCLE_REASONS = (
    f"The dataset group arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/family-shop does not exist.",
    f"The dataset arn:aws:personalize:{REGION}:{ACCOUNT}:dataset/family-shop/INTERACTIONS does not exist.",
)
FIRST_LIFECYCLE = ALL_VERSIONS.index(LIFECYCLE_VERSIONS[0])
# The share of sequences that deploy the lifecycle versions, and of their one-stack deploys that do.
LIFECYCLE_SHARE, LIFECYCLE_DEPLOYS = 0.25, 0.6
# A Delete that neither waits nor stops: its on-event call and the provider framework's, in simulated
# seconds (an import's Delete waits minutes).
DELETE_WITHOUT_WAITING = 60.0

# The stream's name: the first that leaves the fixed seeds of tests/test_family_fuzz.py as they were
# (each was chosen for what it covers); a quarter of all other sequences draw lifecycle versions.
LIFECYCLE_STREAM = 260
# Chosen once (tests/test_family_fuzz_data_lifecycle.py): 7976 rolls an update back past a deletion (to
# a run that has ended: the note); 10714 deploys the other lifecycle versions, with a deletion failing;
# 519 with an export failing.
LIFECYCLE_SEEDS = (7976, 10714, 519)

S = TypeVar("S", bound="Step")


def draw_data_lifecycle(seed: int, steps: list[S]) -> list[S]:
    """``steps`` with some one-stack deploys turned into lifecycle versions (and some of those given a
    deletion's or an export's failure), on a random stream of their own: no other draw changes."""
    rng = random.Random(f"family-data-lifecycle-{LIFECYCLE_STREAM}-{seed}")
    if rng.random() >= LIFECYCLE_SHARE:
        return steps
    found: list[S] = []
    for step in steps:
        one_stack = step.action == "deploy" and step.version is not None and step.version < len(VERSIONS)
        if one_stack and rng.random() < LIFECYCLE_DEPLOYS:
            faults = set(step.faults)
            if rng.random() < 0.3:
                faults.add(rng.choice(LIFECYCLE_FAULTS))
            step = replace(
                step,
                version=FIRST_LIFECYCLE + rng.randrange(len(LIFECYCLE_VERSIONS)),
                faults=tuple(sorted(faults)),
            )
        found.append(step)
    return found


def lifecycle_injections(faults: Sequence[str]) -> dict[str, str]:
    """Construct id -> the failure injected into its job, for a step's lifecycle faults."""
    from tests.fuzz.family import FAILED_REASON

    return {LIFECYCLE_FAILS[fault]: FAILED_REASON for fault in faults if fault in LIFECYCLE_FAILS}


class DataLifecycleChecks:
    """Invariants 11 to 14, over one sequence (made with the family's checker)."""

    def __init__(self, checker: Invariants, driver: Driver) -> None:
        self.checker, self.driver = checker, driver
        self.sandbox = driver.sandbox
        # (what, how long it took, the job's status before, after) of each Delete of the two kinds.
        self.deletes: list[tuple[str, float, str | None, str | None]] = []
        self.checked_until = 0.0  # when the last step's checks ran
        self._watch_deletes()

    def violation(self, text: str) -> None:
        self.checker.violation(text)

    def _watch_deletes(self) -> None:
        engine, clock = self.driver.engine, self.sandbox.clock
        delete_resource = engine.delete_resource
        types = {DELETION_KIND.resource_type, EXPORT_KIND.resource_type}

        def deleting(
            state: StackState,
            resource: ResourceState,
            model: StackModel,
            operation: Operation,
            label: str = "Delete",
        ) -> bool:
            if resource.type not in types or not resource.physical_id:
                return delete_resource(state, resource, model, operation, label)
            before, started = self._status(resource.physical_id), clock.elapsed
            deleted = delete_resource(state, resource, model, operation, label)
            after = self._status(resource.physical_id)
            self.deletes.append(
                (f"{state.name}/{resource.logical_id}", clock.elapsed - started, before, after)
            )
            return deleted

        engine.delete_resource = deleting  # type: ignore[method-assign]

    def _status(self, arn: str) -> str | None:
        job = self._jobs().get(arn)
        return job.status if job is not None else None

    def _jobs(self) -> dict[str, StandInJob]:
        return {job.arn: job for job in self.sandbox.personalize.jobs()}

    def after_step(self, index: int, outcomes: Sequence[StackOutcome]) -> None:
        # The templates the stacks hold are the ones this step's exports started under, unless it rolled
        # back.
        forward = all(o.operation.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") for o in outcomes)
        self._exports_hold_no_erased_users(index, forward)
        self.checked_until = self.sandbox.clock.elapsed
        self._rollbacks_carry_their_note(index, outcomes)
        self._deleted_counted_once(index)
        self._deletes_never_wait(index)

    # -- 11
    def _exports_hold_no_erased_users(self, index: int, forward: bool) -> None:
        jobs = self._jobs()
        ours = {run.job_arn for run in self.driver.runs if run.job_arn}
        deletions = [job for job in jobs.values() if job.kind is DELETION_KIND and job.arn in ours]
        for export in jobs.values():
            if export.kind is not EXPORT_KIND or export.arn not in ours:
                continue
            if export.status == ACTIVE:
                held = self._exported_users(export)
                for deletion in deletions:
                    if deletion.status != ACTIVE or deletion.updated_at > export.created_at:
                        continue
                    kept = sorted(held & self._listed_users(deletion))
                    if kept:
                        self.violation(
                            f"step {index}: the export {export.name} (started "
                            f"+{export.created_at / 60:.1f} min) holds {', '.join(kept[:3])}, erased by "
                            f"{deletion.name} before it started "
                            f"(+{deletion.updated_at / 60:.1f} min)"
                        )
            if forward and export.created_at >= self.checked_until:
                self._ordered_after_its_deletion(index, export, jobs)

    def _ordered_after_its_deletion(
        self, index: int, export: StandInJob, jobs: Mapping[str, StandInJob]
    ) -> None:
        """An export started in this step, held by a stack that orders it after a deletion that waits (in
        the template it started under): the run that deletion's resource holds had COMPLETED when the
        export started.

        The run the resource holds, not the construct's latest run: ``DependsOn`` orders the export after
        the deletion's resource and its WaitCondition in this template (CFN UG "DependsOn attribute";
        docs/rehearsal-fidelity.md, "Resources are created in dependency order"), and a deploy back to a
        token whose run has COMPLETED adopts that run (docs/handler-contract.md, "Request handling":
        ``ResourceAlreadyExistsException`` -> adopt) and signals at once. A later run of the same
        construct that an update removed or rolled back keeps running (Personalize has no
        StopDataDeletionJob; invariant 14), and no stack orders anything after it (seeds 403 and 586:
        the export rightly starts while that orphan runs; the guide's advice to run no jobs while a
        deletion runs is not modelled, docs/rehearsal-fidelity.md "What the stand-ins do not model")."""
        for state in self.driver.states.values():
            held = {
                resource.logical_id: resource
                for resource in state.resources.values()
                if resource.physical_id == export.arn
            }
            if not held:
                continue
            logical_id = next(iter(held))
            depends = state.template.get("Resources", {}).get(logical_id, {}).get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else list(depends)
            for job_resource in state.model.jobs.values():
                if job_resource.kind is not DELETION_KIND or job_resource.logical_id not in depends:
                    continue
                waits = job_resource.wait_logical_id is not None and job_resource.wait_logical_id in depends
                if not waits:
                    continue
                resource = state.resources.get(job_resource.logical_id)
                deletion = jobs.get(resource.physical_id) if resource and resource.physical_id else None
                if deletion is None:
                    self.violation(
                        f"step {index}: the export {export.name} started at +{export.created_at / 60:.1f} "
                        f"min, ordered after {state.name}/{job_resource.construct_id}, which holds no "
                        f"deletion run ({resource.physical_id if resource else 'no resource'})"
                    )
                    continue
                if deletion.status != ACTIVE or deletion.updated_at > export.created_at:
                    self.violation(
                        f"step {index}: the export {export.name} started at "
                        f"+{export.created_at / 60:.1f} min while {deletion.name}, which the stack orders "
                        f"before it, had not COMPLETED (it is {deletion.status}, since "
                        f"+{deletion.updated_at / 60:.1f} min)"
                    )

    def _exported_users(self, export: StandInJob) -> set[str]:
        users: set[str] = set()
        for output in export.outputs:
            users.update(row.get("USER_ID", "") for row in _csv_rows(self._read(output.uri)))
        return users - {""}

    def _listed_users(self, deletion: StandInJob) -> set[str]:
        location = str(deletion.request["dataSource"]["dataLocation"])
        users: set[str] = set()
        for item in self.sandbox.s3.read_input(location):
            users.update(row.get("USER_ID", "") for row in _csv_rows("\n".join(item.lines)))
        return users - {""}

    def _read(self, uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = self.sandbox.s3.client.get_object(Bucket=bucket, Key=key)["Body"]
        return str(body.read().decode())

    # -- 12
    def _rollbacks_carry_their_note(self, index: int, outcomes: Sequence[StackOutcome]) -> None:
        jobs = self._jobs()
        executions = self.sandbox.stepfunctions.executions()
        for stack_outcome in outcomes:
            if stack_outcome.operation.status != "UPDATE_ROLLBACK_COMPLETE":
                continue
            state = self.driver.states.get(stack_outcome.stack)
            if state is None:
                continue
            started, ended = stack_outcome.started_at, stack_outcome.ended_at
            for job_resource in state.model.jobs.values():
                note = job_resource.kind.rollback_note
                resource = state.resources.get(job_resource.logical_id)
                if note is None or resource is None or not resource.physical_id:
                    continue
                restored = jobs.get(resource.physical_id)
                moved_from = [
                    run
                    for run in self.driver.runs
                    if run.resource.key == job_resource.key
                    and run.instance == state.instance
                    and run.job_arn in jobs
                    and run.job_arn != resource.physical_id
                    and started <= jobs[str(run.job_arn)].created_at <= ended
                ]
                if restored is None or not moved_from or restored.updated_at > started:
                    continue  # not moved back, or back to a run that had not ended
                if restored.status not in ENDED:
                    continue
                carried = [
                    execution
                    for execution in executions
                    if started <= execution.started_at <= ended
                    and restored.arn in execution.input_text
                    and note[:40] in execution.input_text
                ]
                if not carried:
                    self.violation(
                        f"step {index}: {state.name}/{job_resource.construct_id} rolled back to "
                        f"{restored.name} past {moved_from[-1].job_name}, with no note of what it cannot "
                        f"undo ({note[:40]}...)"
                    )

    # -- 13
    def _deleted_counted_once(self, index: int) -> None:
        jobs = self._jobs()
        reported: Counter[str] = Counter()
        for event in self.sandbox.events.events():
            detail = event.detail
            if detail.get("kind") != DELETION_KIND.key:
                continue
            metrics = detail.get("metrics")
            arn = str(detail.get("jobArn"))
            if not isinstance(metrics, dict) or "numDeleted" not in metrics:
                continue  # a start event, a failure, or figures the monitor could not read (throttled)
            reported[arn] += 1
            job = jobs.get(arn)
            if job is not None and metrics["numDeleted"] != job.num_deleted:
                self.violation(
                    f"step {index}: {detail.get('jobName')}'s end event reports numDeleted "
                    f"{metrics['numDeleted']}; it deleted {job.num_deleted}"
                )
        for arn, count in reported.items():
            if count > 1:
                name = jobs[arn].name if arn in jobs else arn
                self.violation(f"step {index}: {name}'s numDeleted was reported {count} times")

    # -- 14
    def _deletes_never_wait(self, index: int) -> None:
        for what, took, before, after in self.deletes:
            if took > DELETE_WITHOUT_WAITING:
                self.violation(
                    f"step {index}: the Delete of {what} took {took:.0f} s (its job {before}): it waited"
                )
            if after in (STOPPING, STOPPED) and before not in (STOPPING, STOPPED):
                self.violation(f"step {index}: the Delete of {what} stopped its job ({before} -> {after})")
        self.deletes.clear()


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in text.splitlines() if line.strip()))
