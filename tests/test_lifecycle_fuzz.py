"""Model-based lifecycle fuzzing (tests/fuzz/model.py): 200 fixed sequences of deploys, updates, pauses
and deletes between versions of one app, with faults, every invariant checked after every step; and
bugs planted in the handler code that the invariants must catch.

`make fuzz` runs many more sequences; `python -m tests.fuzz --replay SEED` replays one, step by step.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests import shared
from tests.fuzz.harness import PlantedAssemblies, chunk_of, made_on_first_use, outcomes_once
from tests.fuzz.model import FAULTS, Fuzzer, Outcome, scenario
from tests.variants import VERSIONS, Version

pytestmark = pytest.mark.slow

SEEDS = range(1, 201)
# The seeds run in chunks that pytest-xdist workers share out; each chunk's outcomes are computed once
# per session (tests/shared.py), so the test over all of them reads what the chunks found.
CHUNKS = 4


def chunk_seeds(index: int) -> Sequence[int]:
    return chunk_of(SEEDS, CHUNKS, index)


@pytest.fixture(scope="module")
def fuzzer(lifecycle_assemblies: Mapping[Version, Path]) -> Iterator[Callable[[], Fuzzer]]:
    with made_on_first_use(lambda: Fuzzer(dict(lifecycle_assemblies))) as get:
        yield get


@pytest.fixture(scope="module")
def chunk_outcomes(
    tmp_path_factory: pytest.TempPathFactory, fuzzer: Callable[[], Fuzzer]
) -> Callable[[int], list[Outcome]]:
    return outcomes_once(
        shared.root(tmp_path_factory), "fuzz-chunk", chunk_seeds, lambda seed: fuzzer().run(seed)
    )


@pytest.mark.parametrize("index", range(CHUNKS))
def test_every_sequence_keeps_every_invariant(
    chunk_outcomes: Callable[[int], list[Outcome]], index: int
) -> None:
    outcomes = chunk_outcomes(index)
    assert [o.seed for o in outcomes] == list(chunk_seeds(index))
    failed = [outcome for outcome in outcomes if outcome.violations]
    assert not failed, "\n".join(
        f"seed {o.seed}: {o.violations[0]}  (replay: python -m tests.fuzz --replay {o.seed})" for o in failed
    )


def test_the_sequences_walk_every_version_fault_and_outcome(
    chunk_outcomes: Callable[[int], list[Outcome]],
) -> None:
    outcomes = [outcome for index in range(CHUNKS) for outcome in chunk_outcomes(index)]
    assert [o.seed for o in outcomes] == list(SEEDS)
    steps = [step for seed in SEEDS for step in scenario(seed)]
    assert {step.version for step in steps if step.action == "deploy"} == set(range(len(VERSIONS)))
    assert set(FAULTS) <= {fault for step in steps for fault in step.faults}
    ends = Counter(line.split(" -> ")[1].split()[0] for o in outcomes for line in o.log if " -> " in line)
    # Creates and updates that complete, updates and creates that roll back, deletes: all of them, often.
    for status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "DELETE_COMPLETE"):
        assert ends[status] >= 20, ends
    assert ends["ROLLBACK_COMPLETE"] >= 5, ends
    assert sum(outcome.jobs for outcome in outcomes) >= 2 * len(outcomes)


# --- the invariants catch what they are for ----------------------------------------------------------


@pytest.fixture
def planted(lifecycle_assemblies: Mapping[Version, Path], tmp_path: Path) -> Iterator[PlantedFuzzer]:
    planted = PlantedFuzzer(lifecycle_assemblies, tmp_path)
    yield planted
    planted.close()


class PlantedFuzzer(PlantedAssemblies[Version]):
    """The versions' assemblies copied, their handler code edited, fuzzed."""

    def __init__(self, assemblies: Mapping[Version, Path], directory: Path) -> None:
        super().__init__(assemblies, directory)
        self.fuzzer: Fuzzer | None = None

    def violations(self, seeds: Iterable[int], *, until: tuple[str, ...]) -> list[str]:
        """The violations of ``seeds`` in order, up to the first seed with one that contains any of
        ``until``: the planted bug is caught there, and later seeds could only add to the list."""
        self.fuzzer = Fuzzer(self.assemblies)
        found: list[str] = []
        for seed in seeds:
            found += self.fuzzer.run(seed).violations
            if any(needle in violation for violation in found for needle in until):
                break
        return found

    def close(self) -> None:
        if self.fuzzer is not None:
            self.fuzzer.close()


def renaming_seeds(count: int) -> list[int]:
    """Seeds whose sequence deploys the unwaited explicitly named job, then renames it."""
    unwaited = next(i for i, v in enumerate(VERSIONS) if v.job_name and not v.wait)
    named = {i for i, v in enumerate(VERSIONS) if v.job_name and v.job_name != VERSIONS[unwaited].job_name}
    found = []
    for seed in range(1, 5000):
        deployed = [step.version for step in scenario(seed) if step.action == "deploy"]
        if any(a == unwaited and b in named for a, b in itertools.pairwise(deployed)):
            found.append(seed)
        if len(found) == count:
            return found
    raise AssertionError("no sequence renames the unwaited job")


def test_a_delete_that_leaves_the_monitor_running_is_caught(planted: PlantedFuzzer) -> None:
    planted.plant(
        "handler.py",
        'stop_monitors(clients, physical_id, log, "The job\'s CloudFormation resource was deleted.")',
        "pass",
    )
    found = planted.violations(range(1, 41), until=("still runs after Lifecycle was deleted",))
    assert any("still runs after Lifecycle was deleted" in violation for violation in found), found


def test_a_monitor_that_reports_an_end_twice_is_caught(planted: PlantedFuzzer) -> None:
    planted.plant(
        "monitor.py",
        'earlier = personalize_ops.end_reported(personalize, state["jobArn"])',
        "earlier = None",
    )
    found = planted.violations(range(1, 41), until=("end events for",))
    assert any("end events for" in violation for violation in found), found


def test_a_replacement_that_stops_no_old_monitor_is_caught(planted: PlantedFuzzer) -> None:
    # The old job (weekly-recs, not waited for, renamed nightly-recs) keeps its monitor: neither the
    # Update that moves the resource on nor the cleanup's Delete of the old physical id stops it. Since
    # issue 20 the monitor waits out its denials while the stack changes, so it reports nothing wrong and
    # only polls on, for a job the stack no longer holds: invariant 6 sees it once the update has ended.
    planted.plant(
        "handler.py",
        "            stop_monitors(\n                request.clients,",
        "            (lambda *_: None)(\n                request.clients,",
    )
    planted.plant(
        "handler.py",
        'stop_monitors(clients, physical_id, log, "The job\'s CloudFormation resource was deleted.")',
        "pass",
    )
    found = planted.violations(renaming_seeds(3), until=("no longer holds its job",))
    assert any("no longer holds its job" in violation for violation in found), found


def test_a_replacement_whose_update_stops_no_old_monitor_is_stopped_by_the_cleanup(
    planted: PlantedFuzzer,
) -> None:
    # Defence in depth: without the stop at the Update, the cleanup's Delete of the old physical id stops
    # the old monitor (which, since issue 20, waits out its denials meanwhile), and nothing goes wrong.
    planted.plant(
        "handler.py",
        "            stop_monitors(\n                request.clients,",
        "            (lambda *_: None)(\n                request.clients,",
    )
    found = planted.violations(renaming_seeds(3), until=("IAM", "end events for", "no longer holds"))
    assert found == []
