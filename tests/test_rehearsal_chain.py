"""The whole Personalize workflow in one deploy, rehearsed (examples/end_to_end.py): the import ends
before either training starts, each batch job starts only once its training ended, every kind can be
made to fail, and a failure stops the chain where it happens."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from constructs_lib.rehearsal import Result, rehearse
from constructs_lib.rehearsal.result import EXIT_FAILED, EXIT_OK, JobResult
from tests.apps import SynthesizedApp

pytestmark = pytest.mark.slow

CHAIN = {
    "ImportInteractions": "dataset-import",
    "RecommendationsVersion": "solution-version",
    "SegmentationVersion": "solution-version",
    "UserRecommendations": "batch-inference",
    "ItemAudiences": "batch-segment",
}


@pytest.fixture(scope="module")
def out(example_apps: Mapping[str, SynthesizedApp]) -> Path:
    return example_apps["end_to_end"].outdir


@pytest.fixture(scope="module")
def chain(out: Path) -> Result:
    return rehearse(out, update=False)


def _job(result: Result, construct_id: str) -> JobResult:
    return result.job(construct_id)


def test_every_job_of_the_chain_ends_active(chain: Result) -> None:
    assert chain.exit_code == EXIT_OK, chain.report
    assert {job.construct_id: job.kind for job in chain.jobs} == CHAIN
    assert {job.status for job in chain.jobs} == {"ACTIVE"}


def test_each_job_starts_only_once_what_it_is_made_from_has_ended(chain: Result) -> None:
    def ended(construct_id: str) -> float:
        value = _job(chain, construct_id).ended_at
        assert value is not None
        return value

    def created(construct_id: str) -> float:
        value = _job(chain, construct_id).created_at
        assert value is not None
        return value

    assert created("RecommendationsVersion") >= ended("ImportInteractions")
    assert created("SegmentationVersion") >= ended("ImportInteractions")
    assert created("UserRecommendations") >= ended("RecommendationsVersion")
    assert created("ItemAudiences") >= ended("SegmentationVersion")


def test_the_batch_jobs_write_their_records(chain: Result) -> None:
    assert _job(chain, "UserRecommendations").records == 20
    assert _job(chain, "ItemAudiences").records > 0


@pytest.mark.parametrize("failing", list(CHAIN))
def test_any_kind_can_fail_and_stops_what_depends_on_it(out: Path, failing: str) -> None:
    result = rehearse(out, update=False, fail={failing: "planted failure"})
    assert result.exit_code == EXIT_FAILED
    assert any("planted failure" in failure for failure in result.failures), result.failures
    started = {job.construct_id for job in result.jobs if job.created_at is not None}
    downstream = {
        "ImportInteractions": set(CHAIN) - {"ImportInteractions"},
        "RecommendationsVersion": {"UserRecommendations"},
        "SegmentationVersion": {"ItemAudiences"},
    }.get(failing, set())
    assert not started & downstream, f"{failing} failed, yet {sorted(started & downstream)} started"


def test_a_create_delivered_twice_finds_its_solution_version_by_name(out: Path) -> None:
    # The service names a version; a second delivery lists the solution's versions to find it, which
    # IAM allows only with "Resource": "*" (enforced here as a real account would).
    result = rehearse(out, update=False, duplicate_create=True)
    assert result.exit_code == EXIT_OK, result.report
    assert sum(job.kind == "solution-version" for job in result.jobs) == 2


def test_the_synthetic_update_of_a_job_others_depend_on_renames_every_reference(out: Path) -> None:
    # The rehearsal's own update gives the job a new WaitCondition and handle, as a new synth would: what
    # depended on the old ones (the trainings wait for the import) depends on the new ones, so
    # CloudFormation accepts the template.
    result = rehearse(out, update="ImportInteractions")
    assert result.exit_code == EXIT_OK, result.report
    assert "update: update PersonalizeEndToEnd -> UPDATE_COMPLETE" in result.operations
    assert "ImportInteractions: re-run" in " ".join(result.changes)
