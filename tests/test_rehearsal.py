"""The offline rehearsal: the real handler code against local stand-ins, on a simulated clock."""

from __future__ import annotations

import itertools
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
import pytest

import app as demo_app
from constructs_lib import BatchInferenceJob, BatchInferenceStorage
from constructs_lib.rehearsal import MissingDependencyError, RehearsalError, Result, rehearse
from constructs_lib.rehearsal._deps import require
from constructs_lib.rehearsal.personalize import _output_line
from tests.apps import CDK_CONTEXT, REPO, SynthesizedApp, synthesize
from tests.conftest import SOLUTION_VERSION_ARN

pytestmark = pytest.mark.slow

FAILURE_REASON = "Input file exceeds the 1 GB limit"
DATA = REPO / "examples" / "data"


def _lines(*paths: Path) -> int:
    """JSON lines in files the examples ship as their input."""
    return sum(len(path.read_text().splitlines()) for path in paths)


# ---------------------------------------------------------------------------- synthesized apps, once


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize("demo", tmp_path_factory.mktemp("demo"), nag=False).outdir


@pytest.fixture(scope="module")
def shared_storage_out(example_apps: Mapping[str, SynthesizedApp]) -> Path:
    """The session's synth of the example (tests/shared.py): the rehearsal only reads it."""
    return Path(example_apps["shared_storage"].outdir)


@pytest.fixture(scope="module")
def shared_storage(shared_storage_out: Path) -> Result:
    return rehearse(shared_storage_out, update=False)


@pytest.fixture(scope="module")
def demo_without_input_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with its sample input left out (-c withSampleInput=false): nothing writes to its bucket."""
    outdir = tmp_path_factory.mktemp("demo-no-input")
    demo_app.build_app(
        cdk.App(context={**CDK_CONTEXT, "withSampleInput": "false"}, outdir=str(outdir))
    ).synth()
    return outdir


@pytest.fixture(scope="module")
def three_jobs_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One stack, one storage, three jobs: more jobs than a quota of one lets run at once."""
    outdir = tmp_path_factory.mktemp("three")
    app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
    stack = cdk.Stack(app, "ThreeJobs")
    storage = BatchInferenceStorage(stack, "Storage")
    for index in (1, 2, 3):
        BatchInferenceJob(
            stack,
            f"Job{index}",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path=f"part-{index}/",
            storage=storage,
        )
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def demo(demo_out: Path) -> Result:
    return rehearse(demo_out)


def _statuses(result: Result) -> list[str]:
    return [job.status for job in result.jobs]


# ---------------------------------------------------------------------------- the happy path


def test_demo_ends_every_job_active(demo: Result) -> None:
    assert demo.exit_code == 0, demo.report
    assert demo.failures == ()
    assert _statuses(demo) == ["ACTIVE", "ACTIVE"]  # the create, then the update's new job
    assert all(job.wait_status == "CREATE_COMPLETE" for job in demo.jobs)


def test_demo_writes_one_output_record_per_shipped_input_record(demo: Result) -> None:
    # The input is the file the demo ships (its BucketDeployment, read from the asset), not a sample.
    shipped = _lines(DATA / "demo" / "users" / "users.json")
    for job in demo.jobs:
        assert job.job_name is not None
        assert len(job.outputs) == 1
        (output,) = job.outputs
        prefix = "/batch-inference/PersonalizeBatchInferenceDemo/Job/"
        assert output.uri.endswith(f"{prefix}{job.job_name}/users.json.out")
        assert output.records == shipped == 20


def test_demo_report_shows_the_job_going_from_pending_to_active(demo: Result) -> None:
    report = demo.report[demo.report.index("Timeline of") :]
    assert report.index("created -> PENDING") < report.index("IN PROGRESS") < report.index("ACTIVE")
    for expected in ("signal SUCCESS received", "event emitted", "users.json.out (20 records)", "Summary"):
        assert expected in report


def test_demo_update_starts_a_new_job_and_deletes_the_replaced_one(demo: Result) -> None:
    created, updated = demo.job("Job", "create"), demo.job("Job", "update")
    assert created.job_name != updated.job_name
    assert list(demo.personalize_jobs) == [created.job_name, updated.job_name]
    assert f"cleanup: Delete of the replaced {created.job_arn} -> DELETE_COMPLETE" in demo.report
    assert f"Delete of {updated.job_arn} -> DELETE_COMPLETE" in demo.report


def test_shared_storage_example_ends_both_jobs_active(shared_storage: Result) -> None:
    result = shared_storage
    assert result.exit_code == 0, result.report
    assert {job.construct_id for job in result.jobs} == {"WeeklyRecommendations", "FreshRecommendations"}
    assert _statuses(result) == ["ACTIVE", "ACTIVE"]
    shipped = {
        "WeeklyRecommendations": _lines(DATA / "shared_storage" / "weekly" / "users.json"),
        "FreshRecommendations": _lines(DATA / "shared_storage" / "fresh" / "users.json"),
    }
    assert {job.construct_id: job.records for job in result.jobs} == shipped


# ------------------------------------------------------------ input: created buckets start empty


def test_demo_reads_the_input_its_bucket_deployment_ships_not_a_sample(demo_out: Path) -> None:
    # Sample input of 7 records would be written only into a brought bucket: the demo's job reads the 20
    # users its BucketDeployment copies into the bucket the stack creates.
    result = rehearse(demo_out, records=7, update=False)
    assert result.exit_code == 0, result.report
    (job,) = result.jobs
    assert job.records == _lines(DATA / "demo" / "users" / "users.json") == 20


def test_a_first_deploy_reading_an_empty_created_bucket_fails_as_personalize_fails_it(
    demo_without_input_out: Path,
) -> None:
    result = rehearse(demo_without_input_out, update=False)
    assert result.exit_code == 1, result.report
    (job,) = result.jobs
    assert job.status == "CREATE FAILED"
    assert job.failure_reason is not None
    assert re.search(
        r"Input data not found at s3://[^ ]*storageinputbucket[^ ]*/users/\.", job.failure_reason
    )
    assert "ROLLBACK_COMPLETE" in result.report


def test_input_exists_writes_sample_input_where_the_user_says_the_data_will_be(
    demo_without_input_out: Path,
) -> None:
    result = rehearse(demo_without_input_out, records=7, update=False, input_exists=("Job",))
    assert result.exit_code == 0, result.report
    (job,) = result.jobs
    assert job.records == result.sample_records == 7
    assert (
        "sample input 7 records (brought buckets, and for Job; created buckets start empty)" in result.report
    )


def test_input_exists_with_an_id_the_app_does_not_have_is_refused(demo_out: Path) -> None:
    with pytest.raises(
        RehearsalError, match=r"--input-exists Nope: no job has that construct id \(jobs: Job\)"
    ):
        rehearse(demo_out, input_exists=("Nope",))


def test_a_brought_bucket_gets_sample_input(example_apps: Mapping[str, SynthesizedApp]) -> None:
    result = rehearse(example_apps["bring_your_own"].outdir, records=9, update=False)
    assert result.exit_code == 0, result.report
    assert [job.records for job in result.jobs] == [9]


@pytest.fixture(scope="module")
def usage_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/usage.py (the README's Usage snippet) run unchanged, its app writing to a temp dir."""
    outdir = tmp_path_factory.mktemp("usage")
    real_app = cdk.App
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cdk, "App", lambda *a, **k: real_app(context=CDK_CONTEXT, outdir=str(outdir)))
        runpy.run_path(str(REPO / "examples" / "usage.py"), run_name="__main__")
    return outdir


def test_usage_snippet_fails_its_first_deploy_until_its_input_is_there(usage_out: Path) -> None:
    # The snippet creates its input bucket and writes nothing there (the synth warning
    # inputBucketEmptyOnFirstDeploy says so): a real first deploy fails, and so does the rehearsal.
    first = rehearse(usage_out, update=False)
    assert first.exit_code == 1
    assert first.jobs[0].failure_reason is not None
    assert "Input data not found at" in first.jobs[0].failure_reason
    # Uploaded before the job runs (the README's way: the storage first, then the job), it runs.
    uploaded = rehearse(usage_out, update=False, input_exists=("Weekly",))
    assert uploaded.exit_code == 0, uploaded.report


def test_shared_storage_state_change_rule_matches_its_jobs_event(shared_storage: Result) -> None:
    result = shared_storage
    assert "matched rule WeeklyRecommendationsEnded" in result.report


# ---------------------------------------------------------------------------- faults


def test_injected_failure_surfaces_its_reason_and_a_non_zero_exit(demo_out: Path) -> None:
    result = rehearse(demo_out, fail={"Job": FAILURE_REASON})
    assert result.exit_code != 0
    assert any(FAILURE_REASON in failure for failure in result.failures)
    (job,) = result.jobs
    assert job.status == "CREATE FAILED"
    assert job.wait_status == "CREATE_FAILED"
    assert job.failure_reason is not None and FAILURE_REASON in job.failure_reason


def test_quota_of_one_still_ends_three_jobs_active_one_at_a_time(three_jobs_out: Path) -> None:
    # The test app ships no input: its jobs' input is said to be uploaded before they run.
    result = rehearse(three_jobs_out, quota=1, update=False, input_exists=("Job1", "Job2", "Job3"))
    assert result.exit_code == 0, result.report
    assert _statuses(result) == ["ACTIVE"] * 3
    assert result.limit_exceeded > 0
    spans = sorted((job.created_at, job.ended_at) for job in result.jobs)
    assert all(None not in span for span in spans)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))  # type: ignore[operator]


def test_throttling_is_survived(demo_out: Path) -> None:
    result = rehearse(demo_out, throttle=2)
    assert result.exit_code == 0, result.report
    assert result.throttled > 0
    assert _statuses(result) == ["ACTIVE", "ACTIVE"]


def test_duplicated_create_makes_no_second_job(demo_out: Path) -> None:
    result = rehearse(demo_out, duplicate_create=True, update=False)
    assert result.exit_code == 0, result.report
    assert result.create_calls == 2
    assert len(result.personalize_jobs) == 1
    assert len(result.executions) == 1
    assert "Create (same RequestId, delivered again) -> same physical id" in result.report


def test_job_outlasting_its_timeout_fails_the_wait_condition(demo_out: Path) -> None:
    result = rehearse(demo_out, run_minutes=8 * 60, update=False)
    assert result.exit_code != 0
    assert any("did not finish within the timeout" in failure for failure in result.failures)
    assert result.jobs[0].wait_status == "CREATE_FAILED"


def test_unknown_fail_id_is_refused_naming_the_jobs(demo_out: Path) -> None:
    with pytest.raises(RehearsalError, match="--fail Nope: no job has that construct id \\(jobs: Job\\)"):
        rehearse(demo_out, fail={"Nope": "x"})


# ---------------------------------------------------------------------------- isolation


def test_rehearsal_leaves_the_environment_and_modules_as_it_found_them(demo_out: Path) -> None:
    environment, modules, path = dict(os.environ), set(sys.modules), list(sys.path)
    rehearse(demo_out, update=False)
    assert dict(os.environ) == environment
    assert sys.path == path
    assert not {"handler", "monitor", "job_logic", "aws_clients"} & (set(sys.modules) - modules)
    assert not list(demo_out.glob("asset.*/__pycache__"))


def test_importing_the_rehearsal_needs_neither_boto3_nor_moto() -> None:
    blocked = "import sys\nfor name in ('boto3', 'botocore', 'moto'):\n    sys.modules[name] = None\n"
    completed = subprocess.run(
        [sys.executable, "-c", f"{blocked}import constructs_lib.rehearsal"],
        cwd=REPO,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def test_missing_moto_is_reported_with_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test venv holds an editable install of this checkout (make setup): the hint reinstalls it so.
    monkeypatch.setitem(sys.modules, "moto.server", None)
    hint = f"pip install -e {shlex.quote(f'{REPO}[rehearsal]')}"
    with pytest.raises(MissingDependencyError, match=re.escape(hint)):
        require()


# ---------------------------------------------------------------------------- output format


def test_output_record_has_the_batch_inference_format() -> None:
    record = json.loads(_output_line('{"userId": "user-0001"}', "BATCH_INFERENCE", 25))
    assert record["input"] == {"userId": "user-0001"}
    assert record["error"] is None
    assert len(record["output"]["recommendedItems"]) == len(set(record["output"]["recommendedItems"])) == 25
    assert record["output"]["scores"] == sorted(record["output"]["scores"], reverse=True)


def test_theme_output_record_carries_a_theme_and_excludes_the_seed_item() -> None:
    record = json.loads(_output_line('{"itemId": "item-0001"}', "THEME_GENERATION", 10))
    output = record["output"]
    assert output["theme"]
    assert len(output["recommendedItems"]) == len(output["itemsThemeRelevanceScores"]) == 10
    assert "item-0001" not in output["recommendedItems"]


# ---------------------------------------------------------------------------- the command line


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return subprocess.run(
        [sys.executable, "-m", "constructs_lib.rehearsal", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_exits_zero_on_the_demo(demo_out: Path) -> None:
    completed = _cli(str(demo_out))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Result: OK" in completed.stdout
    assert "\033[" not in completed.stdout  # no colours when stdout is not a terminal


def test_cli_exits_non_zero_with_the_reason_on_fail(demo_out: Path) -> None:
    completed = _cli(str(demo_out), "--fail", f"Job={FAILURE_REASON}")
    assert completed.returncode == 1
    assert f"FAILED: PersonalizeBatchInferenceDemo/Job: The batch inference job failed: {FAILURE_REASON}" in (
        completed.stdout
    )


def test_cli_refuses_a_directory_that_is_no_cloud_assembly(tmp_path: Path) -> None:
    completed = _cli(str(tmp_path))
    assert completed.returncode == 2
    assert "is not a cloud assembly" in completed.stderr


def test_rehearsal_does_not_load_aws_cdk() -> None:
    import subprocess
    import sys

    probe = "import constructs_lib.rehearsal, sys; print('aws_cdk' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
