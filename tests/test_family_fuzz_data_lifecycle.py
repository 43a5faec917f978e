"""The data lifecycle kinds in the family fuzzer (issue 21, tests/fuzz/data_lifecycle.py): a deletion after
the import and an export after the deletion keep every invariant over fixed seeds, and bugs planted in the
handler code are caught by the invariants added for them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests import shared
from tests.family_variants import ALL_VERSIONS, LIFECYCLE_VERSIONS, FamilyVersion
from tests.fuzz.data_lifecycle import FIRST_LIFECYCLE, LIFECYCLE_FAULTS, LIFECYCLE_SEEDS
from tests.fuzz.family import FamilyFuzzer, FamilyOutcome, FamilyStep, scenario
from tests.fuzz.harness import made_on_first_use, outcomes_once
from tests.test_family_fuzz import (  # noqa: F401 (fixtures)
    PlantedFamily,
    family_assemblies,
    planted,
    seeds_where,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lifecycle_fuzzer(
    family_assemblies: Mapping[FamilyVersion, Path],  # noqa: F811
) -> Iterator[Callable[[], FamilyFuzzer]]:
    with made_on_first_use(lambda: FamilyFuzzer(family_assemblies)) as get:
        yield get


@pytest.fixture(scope="module")
def lifecycle_outcomes(
    tmp_path_factory: pytest.TempPathFactory, lifecycle_fuzzer: Callable[[], FamilyFuzzer]
) -> list[FamilyOutcome]:
    outcomes = outcomes_once(
        shared.root(tmp_path_factory),
        "family-data-lifecycle",
        lambda index: LIFECYCLE_SEEDS,
        lambda seed: lifecycle_fuzzer().run(seed),
    )
    return [outcome for outcome in outcomes(0) if isinstance(outcome, FamilyOutcome)]


def test_every_data_lifecycle_sequence_keeps_every_invariant(lifecycle_outcomes: list[FamilyOutcome]) -> None:
    assert [o.seed for o in lifecycle_outcomes] == list(LIFECYCLE_SEEDS)
    failed = [outcome for outcome in lifecycle_outcomes if outcome.violations]
    assert not failed, "\n".join(
        f"seed {o.seed}: {o.violations[0]}  (replay: python -m tests.fuzz --family --replay {o.seed})"
        for o in failed
    )


# Found by make fuzz (issue 20), fixed: a job that does not wait, removed from the app (94: an export) or
# left queued by an update that then rolls back (4960: a segment job), while it runs. The update takes its
# monitor's grants from the runtime's policies (updated in place) before its resource's Delete stops the
# monitor in the cleanup; the monitor was denied Describe five times in a row (or its create for five
# minutes) and reported the job FAILED. It now asks for its stack's status and does not count a denial
# while the stack is *_IN_PROGRESS. 1504: the same for a batch inference job.
@pytest.mark.parametrize("seed", [94, 1504, 4960])
def test_a_running_unwaited_job_removed_by_an_update_is_not_reported_failed(
    lifecycle_fuzzer: Callable[[], FamilyFuzzer], seed: int
) -> None:
    outcome = lifecycle_fuzzer().run(seed)
    assert not outcome.violations, outcome.violations[0]


# Found by the family fuzz at 1,000 sequences (issue 20), an artifact of invariant 11, not a defect: 586
# deploys a deletion (token 2, not waiting), an update to token 3 that rolls back (its new run keeps
# running: a deletion cannot be stopped), then token 2 again with a waiting deletion and an export after it.
# The deletion adopts token 2's run, COMPLETED long before, and the export rightly starts while the rolled-
# back run still runs: no stack orders anything after that run. The checker took the construct's latest run;
# it now takes the run the deletion's resource holds. 403 is the same through an update that removes the
# deletion (kept out of make test: the slower of the two).
def test_an_export_after_an_adopted_deletion_run_ignores_a_rolled_back_run_still_running(
    lifecycle_fuzzer: Callable[[], FamilyFuzzer],
) -> None:
    steps = [step.describe() for step in scenario(586)]
    assert "deletion_token=3" in steps[1] and "sibling-fails" in steps[1], steps
    assert "deletion_token=2" in steps[3] and "export=True" in steps[3], steps
    assert "deletion_wait=False" not in steps[3], steps
    outcome = lifecycle_fuzzer().run(586)
    assert any("data-deletion" in end for end in outcome.ends), outcome.ends
    assert not outcome.violations, outcome.violations[0]


def test_the_data_lifecycle_seeds_walk_every_lifecycle_version_and_fault() -> None:
    steps = [step for seed in LIFECYCLE_SEEDS for step in scenario(seed)]
    lifecycle = set(range(FIRST_LIFECYCLE, FIRST_LIFECYCLE + len(LIFECYCLE_VERSIONS)))
    assert lifecycle <= {step.version for step in steps if step.action == "deploy"}
    assert set(LIFECYCLE_FAULTS) <= {fault for step in steps for fault in step.faults}


def test_the_data_lifecycle_sequences_erase_export_fail_and_roll_back(
    lifecycle_outcomes: list[FamilyOutcome],
) -> None:
    ends = {end for outcome in lifecycle_outcomes for end in outcome.ends}
    for end in (
        "data-deletion ACTIVE",
        "dataset-export ACTIVE",
        "data-deletion CREATE FAILED",
        "dataset-export CREATE FAILED",
    ):
        assert end in ends, sorted(ends)
    logs = [line for outcome in lifecycle_outcomes for line in outcome.log]
    assert any("update -> UPDATE_ROLLBACK_COMPLETE" in line for line in logs)


def test_the_draws_leave_other_sequences_alone() -> None:
    # Only one-stack deploys become lifecycle versions; a sequence's actions stay as they were.
    for seed in range(1, 300):
        steps = scenario(seed)
        assert all(isinstance(step, FamilyStep) for step in steps)
        for step in steps:
            if step.version is not None and step.version >= FIRST_LIFECYCLE:
                assert ALL_VERSIONS[step.version] in LIFECYCLE_VERSIONS


def _first_calm_ordered_deploy(steps: Sequence[FamilyStep]) -> bool:
    """A short sequence that first deploys a lifecycle version whose export follows a deletion that waits,
    with no fault, and then lets time pass."""
    ordered = {ALL_VERSIONS.index(v) for v in LIFECYCLE_VERSIONS if v.export and v.deletion_wait}
    return (
        len(steps) <= 3
        and steps[0].action == "deploy"
        and not steps[0].faults
        and steps[0].version in ordered
        and steps[1].action == "advance"
    )


def test_an_export_started_before_its_deletion_ended_is_caught(planted: PlantedFamily) -> None:  # noqa: F811
    # The monitor of a deletion reports success whatever the status: the export after it starts at once
    # and, shorter, ends holding the users the deletion erases after it.
    planted.plant(
        "schedule.py",
        "    if status == contract.ACTIVE:\n",
        '    if status == contract.ACTIVE or noun == "data deletion job":\n',
    )
    found = planted.violations(seeds_where(_first_calm_ordered_deploy))
    assert any("which the stack orders before it, had not COMPLETED" in v for v in found), found


def test_a_rollback_past_a_deletion_without_its_note_is_caught(planted: PlantedFamily) -> None:  # noqa: F811
    planted.plant("handler.py", '        state["note"] = kind.rollback_note\n', "        pass\n")
    found = planted.violations(LIFECYCLE_SEEDS[:1])
    assert any("with no note of what it cannot undo (Deleted users cannot be restored" in v for v in found), (
        found
    )
