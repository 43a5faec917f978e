"""Removing a job that does not wait while it still runs (issue 20, make fuzz seed 1504), rehearsed: the
update takes the job's statements from the runtime's shared policies first and deletes its resource (which
stops its monitor) only in the cleanup, after another job's long wait. The monitor's checks are denied in
between; it asks CloudFormation for the stack's status, sees UPDATE_IN_PROGRESS and waits: no FAILED end,
and the update completes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from constructs_lib.rehearsal import Result, rehearse
from constructs_lib.rehearsal.result import EXIT_OK
from tests.variants import ACCOUNT, REGION, SAMPLE_DATA, SOLUTION_VERSION_ARN

pytestmark = pytest.mark.slow

STACK = "Removal"


def _build(outdir: Path, *, keep_unwaited: bool, num_results: int) -> Path:
    import aws_cdk as cdk
    from aws_cdk import aws_s3_deployment as s3deploy

    from constructs_lib import BatchInferenceJob, BatchInferenceStorage

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    storage = BatchInferenceStorage(stack, "Storage", removal_policy=cdk.RemovalPolicy.DESTROY)
    storage.deploy_input("SampleData", sources=[s3deploy.Source.asset(str(SAMPLE_DATA))])
    # Waited for: replaced by the update (a new num_results), its new run keeps the update in progress.
    slow = BatchInferenceJob(
        stack,
        "Slow",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="users/",
        storage=storage,
        num_results=num_results,
    )
    if keep_unwaited:
        # Not waited for, created once Slow ended: still running when the update removes it.
        unwaited = BatchInferenceJob(
            stack,
            "Unwaited",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="items/",
            storage=storage,
            wait=False,
            # Named: the runtime's policies name this job alone, so the update takes its Describe too.
            job_name="removed-recs",
        )
        unwaited.node.add_dependency(slow)
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("removed-running-job")
    old = _build(root / "old", keep_unwaited=True, num_results=25)
    return old, _build(root / "new", keep_unwaited=False, num_results=50)


@pytest.fixture(scope="module")
def result(assemblies: tuple[Path, Path]) -> Iterator[Result]:
    old, new = assemblies
    yield rehearse(old, update_to=new, update=False)


def test_the_update_completes_and_the_removed_job_is_not_reported_failed(result: Result) -> None:
    assert result.exit_code == EXIT_OK, result.report
    assert "update: update Removal -> UPDATE_COMPLETE" in result.operations
    unwaited = result.job("Unwaited", "create")
    assert not unwaited.waited
    # It ran on to its end with no monitor left to report it: no FAILED end event, no FAILURE anywhere.
    assert unwaited.status == "ACTIVE"
    assert not any("FAILURE" in line and "Unwaited" in line for line in result.report.splitlines())
    assert result.events == 2  # Slow's two runs; none for the removed job (its monitor was stopped)


def test_the_monitor_waited_while_the_stack_changed_and_the_cleanup_stopped_it(result: Result) -> None:
    unwaited = [entry for entry in result.timeline if "removed-recs" in entry.key or "Unwaited" in entry.key]
    text = "\n".join(f"{entry.at:8.0f}  {entry.kind:8s} {entry.text}" for entry in unwaited)
    # Its checks were denied during the update (the policies no longer name it), tolerated and said.
    tolerated = [warning for warning in result.warnings if "tolerated" in warning]
    assert tolerated and all("CheckFunctionRole" in warning for warning in tolerated), result.report
    assert any("personalize:DescribeBatchInferenceJob" in warning for warning in tolerated)
    # The monitor never reported an end: the cleanup's Delete stopped it.
    assert "event emitted" not in text and "done (FAILURE)" not in text, text
    (cleanup,) = [entry.at for entry in unwaited if "cleanup: Delete of the removed resource" in entry.text]
    checks = [entry.at for entry in unwaited if entry.kind == "check"]
    assert len(checks) > 5 and max(checks) < cleanup, text  # past five denials, then no check after it
    assert result.failures == ()


def test_the_check_function_may_describe_its_own_stack_only_in_a_statement_no_job_changes(
    assemblies: tuple[Path, Path],
) -> None:
    for assembly in assemblies:
        resources = json.loads((assembly / f"{STACK}.template.json").read_text())["Resources"]
        found = [
            (logical_id, statement)
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::IAM::ManagedPolicy"
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            if "cloudformation:DescribeStacks" in json.dumps(statement["Action"])
        ]
        ((logical_id, statement),) = found
        # The check function's own policy (not a per-resource grants policy), on this stack's StackId.
        assert "CheckFunctionPolicy" in logical_id
        assert statement == {
            "Sid": "ReadOwnStackStatus",
            "Effect": "Allow",
            # DescribeStackResource: a run request denied on a settled stack asks whether it holds its job.
            "Action": ["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"],
            "Resource": {"Ref": "AWS::StackId"},
        }
