"""The rehearsal's CloudFormation engine on CloudFormation's own paths: templates it refuses, rollback twins,
operations cancelled when a resource fails, native Personalize deletes, fault options; and the command
line, which ends every odd input with one line and an exit code, never a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.rehearsal import RehearsalError, Result, rehearse
from constructs_lib.rehearsal import __main__ as cli
from constructs_lib.rehearsal.engine import EngineError
from constructs_lib.rehearsal.intrinsics import UnresolvableError
from constructs_lib.rehearsal.result import EXIT_FAILED, EXIT_STUCK, EXIT_USAGE
from constructs_lib.rehearsal.validation import template_refusal
from tests.apps import CDK_CONTEXT, REPO
from tests.conftest import SOLUTION_VERSION_ARN
from tests.variants import BASE, SAMPLE_DATA, STACK, Version, synthesize_all

pytestmark = pytest.mark.slow

NUM_RESULTS = replace(BASE, num_results=50)
NAMED = replace(BASE, job_name="nightly-recs")
NAMED_CHANGED = replace(NAMED, num_results=50)
TEMPLATE = f"{STACK}.template.json"
ONE_STACK = json.dumps(
    {"artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "t.json"}}}}
)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> dict[Version, Path]:
    return synthesize_all(tmp_path_factory.mktemp("engine"), [BASE, NUM_RESULTS, NAMED, NAMED_CHANGED])


def _edited(source: Path, target: Path, edit: Any) -> Path:
    """A copy of the assembly ``source`` whose template ``edit(resources)`` changed."""
    shutil.copytree(source, target)
    path = target / TEMPLATE
    template = json.loads(path.read_text())
    edit(template["Resources"])
    path.write_text(json.dumps(template))
    return target


def _logical_id(resources: dict[str, Any], prefix: str, kind: str | None = None) -> str:
    (found,) = [
        logical_id
        for logical_id, resource in resources.items()
        if logical_id.startswith(prefix) and (kind is None or resource["Type"] == kind)
    ]
    return found


def _cyclic(resources: dict[str, Any]) -> None:
    """The job made to depend on the queue that waits for it."""
    job = _logical_id(resources, "Job", "Custom::PersonalizeBatchInferenceJob")
    resources[job]["DependsOn"] = [*resources[job]["DependsOn"], _logical_id(resources, "Downstream1")]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "constructs_lib.rehearsal", *args],
        cwd=REPO,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# ---------------------------------------------------------------------------- templates refused


def test_template_refusal_names_the_resources_on_a_loop_in_template_order() -> None:
    template = {
        "Resources": {
            "Free": {"Type": "T"},
            "B": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["C", "Arn"]}}},
            "A": {"Type": "T", "DependsOn": "B"},
            "C": {"Type": "T", "Properties": {"Y": {"Fn::Sub": "${A.Arn}-${AWS::Region}"}}},
            "AfterLoop": {"Type": "T", "DependsOn": ["A"]},
        }
    }
    assert template_refusal(template) == (
        "Template format error: Circular dependency between resources: [B, A, C]"
    )


def test_template_refusal_counts_a_resource_naming_itself_as_a_loop() -> None:
    template = {"Resources": {"Self": {"Type": "T", "Properties": {"Name": {"Ref": "Self"}}}}}
    assert "Circular dependency between resources: [Self]" in template_refusal(template)


def test_template_refusal_accepts_parameters_pseudo_parameters_and_sub_variables() -> None:
    template = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {
            "A": {
                "Type": "T",
                "Properties": {
                    "Name": {
                        "Fn::Sub": ["${Prefix}-${Stage}-${AWS::AccountId}-${!Literal}", {"Prefix": "p"}]
                    },
                    "Stage": {"Ref": "Stage"},
                    "Region": {"Ref": "AWS::Region"},
                },
            },
            "B": {"Type": "T", "DependsOn": "A", "Properties": {"A": {"Fn::GetAtt": "A.Arn"}}},
        },
    }
    assert template_refusal(template) == ""


def test_template_refusal_names_unresolved_dependencies() -> None:
    template = {"Resources": {"A": {"Type": "T", "DependsOn": "Gone", "Properties": {"X": {"Ref": "Nope"}}}}}
    assert template_refusal(template) == (
        "Template format error: Unresolved resource dependencies [Gone, Nope] in the Resources block of "
        "the template"
    )


def test_a_dependency_cycle_refuses_the_create_before_anything_exists(
    out: dict[Version, Path], tmp_path: Path
) -> None:
    cyclic = _edited(out[BASE], tmp_path / "cyclic", _cyclic)
    result = rehearse(cyclic)
    assert result.exit_code == EXIT_FAILED, result.report
    (operation,) = result.operations
    assert operation.startswith(f"create: create {STACK} -> VALIDATION_FAILED (Template format error: ")
    assert "Circular dependency between resources: [Job" in operation and "Downstream1403F858" in operation
    assert result.create_calls == 0 and result.personalize_jobs == () and result.executions == ()
    assert result.stuck == ()
    assert f"Outputs of {STACK}" not in result.report  # no stack, so no outputs


def test_a_dependency_cycle_ends_the_command_line_with_exit_1_and_no_traceback(
    out: dict[Version, Path], tmp_path: Path
) -> None:
    cyclic = _edited(out[BASE], tmp_path / "cyclic", _cyclic)
    completed = _cli(str(cyclic))
    assert completed.returncode == EXIT_FAILED, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert "Circular dependency between resources: [" in completed.stdout


def test_an_update_to_a_cyclic_template_is_refused_and_the_stack_stays_as_it_was(
    out: dict[Version, Path], tmp_path: Path
) -> None:
    cyclic = _edited(out[NUM_RESULTS], tmp_path / "cyclic", _cyclic)
    result = rehearse(out[BASE], update_to=cyclic)
    assert result.exit_code == EXIT_FAILED, result.report
    assert any(
        line.startswith(f"update: update {STACK} -> VALIDATION_FAILED") and "Circular dependency" in line
        for line in result.operations
    ), result.operations
    assert len(result.personalize_jobs) == 1  # no new job: the update never started
    assert f"delete: delete {STACK} -> DELETE_COMPLETE" in result.operations
    assert result.stuck == ()


# ---------------------------------------------------------------------------- rollback


def test_the_resource_whose_own_update_failed_gets_the_rollback_update_too(out: dict[Version, Path]) -> None:
    # A definition change under an explicit job name: the handler refuses the Update (the name is taken).
    result = rehearse(out[NAMED], update_to=out[NAMED_CHANGED])
    assert result.exit_code == EXIT_FAILED, result.report
    created = result.job("Job", "create")
    timeline = result.report[result.report.index("Timeline of") :]
    failed = timeline.index("Update -> FAILED")
    # CloudFormation sends it the same Update with old and new swapped, to the physical id it kept.
    twin = timeline.index(f"rollback: Update (old and new swapped) -> {created.job_arn}")
    assert failed < twin
    assert f"update: update {STACK} -> UPDATE_ROLLBACK_COMPLETE" in " ".join(result.operations)
    assert result.stuck == ()
    assert result.personalize_jobs == (created.job_name,)  # the rollback twin started nothing


# ---------------------------------------------------------------------------- a failure cancels what runs


@pytest.fixture(scope="module")
def three_jobs_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One stack, three waited jobs: with a quota of one, two of them queue behind the first."""
    import aws_cdk as cdk

    from constructs_lib import BatchInferenceJob, BatchInferenceStorage

    outdir = tmp_path_factory.mktemp("three")
    app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
    stack = cdk.Stack(app, "ThreeJobs", env=cdk.Environment(account="123456789012", region="us-east-1"))
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


def _at(report: str, text: str) -> float:
    """Simulated seconds of the first timeline line containing ``text``."""
    for line in report.splitlines():
        match = re.match(r"\s+\+(\d+):(\d\d):(\d\d)\s", line)
        if match and text in line:
            hours, minutes, seconds = (int(part) for part in match.groups())
            return hours * 3600 + minutes * 60 + seconds
    raise AssertionError(f"no timeline line with {text!r}")


def test_a_failure_cancels_the_waits_in_progress_and_rolls_back_at_once(three_jobs_out: Path) -> None:
    # The test app ships no input: its jobs' input is said to be uploaded before they run.
    result = rehearse(
        three_jobs_out,
        quota=1,
        update=False,
        fail={"Job1": "planted failure"},
        input_exists=("Job1", "Job2", "Job3"),
    )
    assert result.exit_code == EXIT_FAILED, result.report
    assert result.operations[0].startswith("create: create ThreeJobs -> ROLLBACK_COMPLETE (Job1WaitCondition")
    failed = result.job("Job1")
    assert failed.status == "CREATE FAILED" and failed.ended_at is not None
    for queued in ("Job2", "Job3"):
        job = result.job(queued)
        assert (job.status, job.wait_status) == ("QUEUED", "CREATE_FAILED")
        assert f"{job.logical_id[:-8]}WaitCondition" in result.report
        rollback = _at(result.report, f"rollback: Delete of {job.job_arn}")
        # The rollback starts as Job1 fails, not once the queued jobs have run (2 x 49 minutes later).
        assert failed.ended_at <= rollback <= failed.ended_at + 300
    assert result.report.count("CREATE_FAILED: Resource creation cancelled") == 2
    # The queued jobs' resources are gone before a slot freed: they never started a job.
    assert result.personalize_jobs == (failed.job_name,)
    assert result.stuck == ()
    # The cancelled waits are not failures of their own: the deploy failed for Job1's reason.
    assert not [failure for failure in result.failures if "cancelled" in failure]
    # Nothing left running after the rollback: the stopped monitors' timeouts do not move the clock.
    assert result.simulated_seconds < 2 * 3600


# ---------------------------------------------------------------------------- native Personalize deletes


def _native_app(outdir: Path, *, batch_timeout_minutes: int) -> Path:
    """Native dataset group, schema, dataset and solution; an import into the dataset, a training of the
    solution after it; and, beside them, a batch job on another solution version that fails (or times out)
    while the import or the training still runs."""
    import aws_cdk as cdk
    from aws_cdk import aws_personalize as personalize
    from aws_cdk import aws_s3_deployment as s3deploy

    from constructs_lib import BatchInferenceJob, BatchInferenceStorage, DatasetImportJob, SolutionVersion

    app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
    stack = cdk.Stack(app, "Native", env=cdk.Environment(account="123456789012", region="us-east-1"))
    group = personalize.CfnDatasetGroup(stack, "Group", name="native-shop")
    schema = personalize.CfnSchema(
        stack,
        "Schema",
        name="native-interactions",
        schema=json.dumps(
            {
                "type": "record",
                "name": "Interactions",
                "namespace": "com.amazonaws.personalize.schema",
                "fields": [
                    {"name": "USER_ID", "type": "string"},
                    {"name": "ITEM_ID", "type": "string"},
                    {"name": "TIMESTAMP", "type": "long"},
                ],
                "version": "1.0",
            }
        ),
    )
    dataset = personalize.CfnDataset(
        stack,
        "Interactions",
        dataset_group_arn=group.attr_dataset_group_arn,
        dataset_type="Interactions",
        name="native-interactions",
        schema_arn=schema.attr_schema_arn,
    )
    storage = BatchInferenceStorage(stack, "Storage")
    # The bucket the stack creates starts empty: the app ships interactions/ and users/.
    storage.deploy_input("SampleData", sources=[s3deploy.Source.asset(str(SAMPLE_DATA))])
    load = DatasetImportJob(
        stack, "Import", dataset_arn=dataset.attr_dataset_arn, data_path="interactions/", storage=storage
    )
    solution = personalize.CfnSolution(
        stack,
        "Solution",
        dataset_group_arn=group.attr_dataset_group_arn,
        name="native-recommendations",
        recipe_arn="arn:aws:personalize:::recipe/aws-user-personalization",
    )
    solution.node.add_dependency(dataset)
    version = SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn)
    version.node.add_dependency(load)
    BatchInferenceJob(
        stack,
        "Elsewhere",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="users/",
        storage=storage,
        timeout=cdk.Duration.minutes(batch_timeout_minutes),
    )
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def native_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _native_app(tmp_path_factory.mktemp("native"), batch_timeout_minutes=6 * 60)


def test_a_rollback_while_a_training_runs_stops_it_then_deletes_its_solution(native_out: Path) -> None:
    result = rehearse(native_out, update=False, fail={"Elsewhere": "planted failure"})
    assert result.exit_code == EXIT_FAILED, result.report
    assert result.operations[0].startswith("create: create Native -> ROLLBACK_COMPLETE")
    training = result.job("Version")
    failed = result.job("Elsewhere")
    assert failed.ended_at is not None and training.created_at is not None
    assert training.created_at < failed.ended_at  # the training ran when the rollback began
    assert training.status == "CREATE STOPPED"
    assert result.stuck == ()


def test_a_solution_whose_training_still_runs_cannot_be_deleted(native_out: Path, tmp_path: Path) -> None:
    # A handler that never stops a training (a planted defect): CloudFormation's Delete of the solution
    # meets Personalize's refusal, and the rollback ends ROLLBACK_FAILED.
    planted = tmp_path / "planted"
    shutil.copytree(native_out, planted)
    handlers = [
        path for path in planted.glob("asset.*/handler.py") if "personalize_ops.stop(" in path.read_text()
    ]
    assert handlers, "nothing to plant: the handler no longer calls personalize_ops.stop("
    for handler in handlers:
        handler.write_text(handler.read_text().replace("personalize_ops.stop(", "(lambda *a, **k: None)("))
    result = rehearse(planted, update=False, fail={"Elsewhere": "planted failure"})
    assert result.exit_code == EXIT_STUCK, result.report
    assert result.operations[0].startswith("create: create Native -> ROLLBACK_FAILED")
    (refusal,) = [problem for problem in result.stuck if "Cannot delete solution" in problem]
    assert "ResourceInUseException" in refusal and "is CREATE IN_PROGRESS" in refusal
    assert any("Cannot delete dataset group" in problem for problem in result.stuck)


def test_a_dataset_whose_import_still_runs_cannot_be_deleted(tmp_path: Path) -> None:
    # The batch job's WaitCondition times out at 5 minutes, while the import (which Personalize cannot
    # stop) still runs: the rollback's Delete of the dataset is refused.
    out = _native_app(tmp_path / "short", batch_timeout_minutes=5)
    result = rehearse(out, update=False)
    assert result.exit_code == EXIT_STUCK, result.report
    assert result.operations[0].startswith("create: create Native -> ROLLBACK_FAILED")
    (refusal,) = [problem for problem in result.stuck if "Cannot delete dataset arn:" in problem]
    assert "the dataset import job" in refusal and "is CREATE IN_PROGRESS" in refusal
    assert "Version" not in {job.construct_id for job in result.jobs}  # the training never started


# ---------------------------------------------------------------------------- fault options


def test_an_unknown_fail_resource_is_refused_naming_the_option_and_the_ids(out: dict[Version, Path]) -> None:
    with pytest.raises(
        RehearsalError, match=r"--fail-resource Nope: no resource has that logical id \(resources: "
    ) as raised:
        rehearse(out[BASE], update_to=out[NUM_RESULTS], fail_resources=["Nope"])
    assert "Downstream1403F858" in str(raised.value) and "JobB9D00F9F" in str(raised.value)


def test_an_unknown_fail_update_is_refused_naming_its_own_option(out: dict[Version, Path]) -> None:
    with pytest.raises(
        RehearsalError, match=r"--fail-update Nope: no job has that construct id \(jobs: Job\)"
    ):
        rehearse(out[BASE], update_to=out[NUM_RESULTS], fail_update={"Nope": "x"})


def test_an_unknown_fail_resource_on_the_command_line_is_one_line_and_exit_2(
    out: dict[Version, Path],
) -> None:
    completed = _cli(str(out[BASE]), "--update-to", str(out[NUM_RESULTS]), "--fail-resource", "Nope")
    _assert_one_line(completed, "--fail-resource Nope: no resource has that logical id", "Downstream1403F858")


def test_fail_resource_leaves_a_resource_the_update_does_not_change_alone(out: dict[Version, Path]) -> None:
    # The queue only gains a DependsOn on the new WaitCondition: CloudFormation does not update it.
    result = rehearse(out[BASE], update_to=out[NUM_RESULTS], fail_resources=["Downstream"])
    assert result.exit_code == 0, result.report
    assert f"update: update {STACK} -> UPDATE_COMPLETE" in result.operations
    assert any(
        warning.startswith("--fail-resource Downstream: the update neither created nor changed it")
        for warning in result.warnings
    ), result.warnings


def test_fail_resource_on_a_changed_job_fails_its_update_and_sends_it_the_rollback_update(
    out: dict[Version, Path],
) -> None:
    result = rehearse(out[BASE], update_to=out[NUM_RESULTS], fail_resources=["Job"])
    assert result.exit_code == EXIT_FAILED, result.report
    (update,) = [line for line in result.operations if line.startswith("update:")]
    assert "-> UPDATE_ROLLBACK_COMPLETE (JobB9D00F9F: Resource handler returned message: injected" in update
    created = result.job("Job", "create")
    assert f"rollback: Update (old and new swapped) -> {created.job_arn}" in result.report
    assert len(result.personalize_jobs) == 1  # the failed Update started nothing; the twin keeps the job
    assert result.stuck == ()


# ---------------------------------------------------------------------------- the command line


def _assert_one_line(completed: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert completed.returncode == EXIT_USAGE, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    for text in expected:
        assert text in lines[0]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--quota", "x", "argument --quota: x is not an integer"),
        ("--quota", "0", "argument --quota: 0 is not a positive integer"),
        ("--throttle", "-1", "argument --throttle: -1 is not zero or a positive integer"),
        ("--pending-minutes", "-3", "argument --pending-minutes: -3 is not a number of minutes"),
        ("--run-minutes", "nan", "argument --run-minutes: nan is not a number of minutes"),
        ("--training-minutes", "inf", "argument --training-minutes: inf is not a number of minutes"),
        ("--fail", "Job", "--fail 'Job': expected ID=REASON"),
    ],
)
def test_a_bad_option_value_is_one_line_and_exit_2(
    out: dict[Version, Path], option: str, value: str, expected: str
) -> None:
    _assert_one_line(_cli(str(out[BASE]), option, value), expected)


def test_an_unknown_option_is_one_line_and_exit_2(out: dict[Version, Path]) -> None:
    _assert_one_line(_cli(str(out[BASE]), "--bogus"), "unrecognized arguments: --bogus")


def test_an_unknown_stack_is_one_line_and_exit_2(out: dict[Version, Path]) -> None:
    _assert_one_line(_cli(str(out[BASE]), "--stack", "Nope"), "No stack named 'Nope'", f"stacks: {STACK}")


@pytest.mark.parametrize(
    ("manifest", "template", "expected"),
    [
        ("[]", None, "manifest.json: the document is not a JSON object"),
        ("{not json", None, "Cannot read"),
        (
            '{"artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {}}}}',
            None,
            "artifact S has no properties.templateFile",
        ),
        (
            ONE_STACK,
            '["not", "a", "template"]',
            "t.json: the document is not a JSON object",
        ),
        (
            ONE_STACK,
            '{"Resources": {"A": "x"}}',
            "t.json: Resources.A is not a JSON object",
        ),
        (
            ONE_STACK,
            '{"Resources": {"A": {"Properties": {}}}}',
            "t.json: Resources.A has no Type",
        ),
    ],
)
def test_a_malformed_assembly_is_one_line_and_exit_2(
    tmp_path: Path, manifest: str, template: str | None, expected: str
) -> None:
    (tmp_path / "manifest.json").write_text(manifest)
    if template is not None:
        (tmp_path / "t.json").write_text(template)
    _assert_one_line(_cli(str(tmp_path)), expected)


def test_an_update_to_a_missing_assembly_is_one_line_and_exit_2(
    out: dict[Version, Path], tmp_path: Path
) -> None:
    _assert_one_line(
        _cli(str(out[BASE]), "--update-to", str(tmp_path / "nowhere")), "is not a cloud assembly"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (EngineError("CREATE of S never finished"), "cannot rehearse"),
        (UnresolvableError("No export named X found"), "cannot rehearse"),
        (
            RuntimeError("a defect"),
            "internal error, not a verdict on the app (builtins.RuntimeError: a defect)",
        ),
    ],
)
def test_an_error_inside_the_rehearsal_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception, expected: str
) -> None:
    def failing(*args: object, **kwargs: object) -> Result:
        raise error

    monkeypatch.setattr(cli, "rehearse", failing)
    assert cli.main(["cdk.out", "--no-update"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert expected in line and str(error) in line


# ---------------------------------------------------------------------------- a BucketDeployment's copy


def _deployment_assembly(directory: Path, files: dict[str, str], *, prune: bool) -> Path:
    """A stack of a bucket and a BucketDeployment copying one asset (``files``) to ``users/`` in it."""
    asset_hash = f"{directory.name:a>64}"  # one per version
    staged = directory / f"asset.{asset_hash}"
    for name, body in files.items():
        (staged / name).parent.mkdir(parents=True, exist_ok=True)
        (staged / name).write_text(body)
    template = {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Copy": {
                "Type": "Custom::CDKBucketDeployment",
                "Properties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:deployment",
                    "SourceBucketNames": ["cdk-hnb659fds-assets-123456789012-us-east-1"],
                    "SourceObjectKeys": [f"{asset_hash}.zip"],
                    "DestinationBucketName": {"Ref": "Bucket"},
                    "DestinationBucketKeyPrefix": "users/",
                    "Prune": prune,
                    "RetainOnDelete": True,
                },
            },
        }
    }
    (directory / "t.json").write_text(json.dumps(template))
    (directory / "manifest.json").write_text(ONE_STACK)
    (directory / "S.assets.json").write_text(
        json.dumps(
            {
                "files": {
                    asset_hash: {
                        "source": {"path": staged.name, "packaging": "zip"},
                        "destinations": {"d": {"objectKey": f"{asset_hash}.zip"}},
                    }
                }
            }
        )
    )
    return directory


def _bucket_keys(sandbox: Any, bucket: str) -> list[str]:
    return [item.key for item in sandbox.s3.read_input(f"s3://{bucket}/")]


@pytest.mark.parametrize(("prune", "after_update"), [(False, ["a.json", "b.json"]), (True, ["b.json"])])
def test_a_bucket_deployment_copies_its_asset_on_create_and_update_and_keeps_it_on_delete(
    tmp_path: Path, prune: bool, after_update: list[str]
) -> None:
    from constructs_lib.rehearsal.assembly import read_assembly
    from constructs_lib.rehearsal.driver import CREATE, UPDATE, Driver, Options
    from constructs_lib.rehearsal.sandbox import Sandbox

    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    first = _deployment_assembly(tmp_path / "v1", {"a.json": '{"userId": "a"}\n'}, prune=prune)
    second = _deployment_assembly(tmp_path / "v2", {"b.json": '{"userId": "b"}\n'}, prune=prune)
    with Sandbox(region="us-east-1") as sandbox:
        driver = Driver(read_assembly(first), Options(update=False), sandbox, update_to=read_assembly(second))
        driver.deploy(driver.assembly, CREATE)
        bucket = str(driver.states["S"].resources["Bucket"].physical_id)
        assert _bucket_keys(sandbox, bucket) == ["users/a.json"]
        assert driver.update_to is not None
        driver.deploy(driver.update_to, UPDATE)
        assert _bucket_keys(sandbox, bucket) == [f"users/{name}" for name in after_update]
        driver.delete()
        assert _bucket_keys(sandbox, bucket) == [f"users/{name}" for name in after_update]  # RetainOnDelete


def test_a_bucket_deployment_whose_asset_is_missing_cannot_be_rehearsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "v1").mkdir()
    out = _deployment_assembly(tmp_path / "v1", {"a.json": "{}\n"}, prune=False)
    shutil.rmtree(next(out.glob("asset.*")))
    assert cli.main([str(out), "--no-update"]) == EXIT_USAGE
    assert "is not in the cloud assembly" in capsys.readouterr().err
