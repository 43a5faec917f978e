"""What a job costs at synth: jsii round trips per job, and the shortcuts that keep it low (values read
once per stack, acknowledgements recorded once) finding what the long way found."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceStorage
from constructs_lib.compliance import Acknowledgements
from tests.conftest import SOLUTION_VERSION_ARN

ENV = cdk.Environment(account="123456789012", region="us-east-1")
ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
# benchmarks/profile_jobs.py charges each round trip to its call site; a job took 134 before these
# limits existed (the AwsCustomResource a team would write instead takes 15). A job's iam.Grant objects
# (issue 21) took it to 79 until they were made once per distinct grant (runtime.py _PlacedGrants): 27
# per job, 271 for the first, in December 2026.
MAX_ROUND_TRIPS_PER_JOB = 30
MAX_ROUND_TRIPS_FIRST_JOB = 280
# During app.synth(): each job's check of what it waits for (_job.py _StartsAfterEnds) shares what it
# reads with the stack's other jobs; 5 per job (it was 119, and grew with the stack's size).
MAX_SYNTH_ROUND_TRIPS_PER_JOB = 10


@contextmanager
def _round_trips() -> Iterator[list[object]]:
    """Counts the requests Python sends to the jsii kernel (hooks a private jsii class, as the
    benchmarks do). A jsii that moved it fails here, to be followed, rather than skip the guard."""
    from jsii._kernel.providers.process import _NodeProcess

    original = _NodeProcess.send
    sent: list[object] = []

    def send(self: Any, request: Any, response_type: Any) -> Any:
        sent.append(request)
        return original(self, request, response_type)

    _NodeProcess.send = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        _NodeProcess.send = original  # type: ignore[method-assign]


def _job(stack: cdk.Stack, storage: BatchInferenceStorage, index: int, **props: Any) -> BatchInferenceJob:
    return BatchInferenceJob(
        stack,
        f"Job{index}",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path=f"users/job-{index}/",
        storage=storage,
        num_results=25,
        **props,
    )


def _resource_id(job: BatchInferenceJob) -> str:
    """The logical id of the job's custom resource."""
    cfn = job.resource.node.default_child
    assert isinstance(cfn, cdk.CfnElement)
    return cdk.Stack.of(cfn).get_logical_id(cfn)


@pytest.mark.parametrize("wait", [True, False], ids=["wait", "no-wait"])
def test_a_job_added_to_a_stack_costs_few_jsii_round_trips(wait: bool) -> None:
    stack = cdk.Stack(cdk.App(), "Jobs", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage")
    with _round_trips() as first:
        _job(stack, storage, 0, wait=wait)
    with _round_trips() as added:
        for index in range(1, 11):
            _job(stack, storage, index, wait=wait)
    assert len(first) <= MAX_ROUND_TRIPS_FIRST_JOB
    assert len(added) / 10 <= MAX_ROUND_TRIPS_PER_JOB


def _synth_round_trips(jobs: int, outdir: Any) -> int:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Jobs", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage")
    for index in range(jobs):
        _job(stack, storage, index)
    with _round_trips() as sent:
        app.synth()
    return len(sent)


def test_a_job_added_to_a_stack_costs_few_jsii_round_trips_at_synth(tmp_path: Any) -> None:
    # Linear in the number of jobs: the synth-time checks do not walk the whole stack again per job.
    one, eleven, thirty_one = (_synth_round_trips(n, tmp_path / str(n)) for n in (1, 11, 31))
    assert (eleven - one) / 10 <= MAX_SYNTH_ROUND_TRIPS_PER_JOB
    assert (thirty_one - eleven) / 20 <= MAX_SYNTH_ROUND_TRIPS_PER_JOB


def test_a_job_whose_input_path_holds_another_jobs_attribute_waits_for_that_job() -> None:
    # The input path is joined from the bucket's name and the prop: the prop is looked into as such.
    stack = cdk.Stack(cdk.App(), "Chained", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage")
    first = _job(stack, storage, 1)
    second = BatchInferenceJob(
        stack,
        "Second",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path=f"from/{first.job_name}/",
        storage=storage,
    )
    resources = Template.from_stack(stack).to_json()["Resources"]
    assert first.wait_condition is not None
    waited = stack.get_logical_id(first.wait_condition)
    assert waited in resources[_resource_id(second)]["DependsOn"]


def test_jobs_sharing_a_storage_do_not_depend_on_each_other() -> None:
    # Every job references the storage's buckets and role: none of that makes one job wait for another.
    stack = cdk.Stack(cdk.App(), "Shared", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage")
    jobs = [_job(stack, storage, index) for index in range(3)]
    resources = Template.from_stack(stack).to_json()["Resources"]
    job_ids = {_resource_id(job) for job in jobs}
    for job_id in job_ids:
        assert not job_ids & set(resources[job_id].get("DependsOn", []))


def _acknowledged(owner: Construct) -> list[Any]:
    return [entry.data for entry in owner.node.metadata if entry.type == ACKNOWLEDGED]


def test_an_acknowledgement_already_recorded_on_an_owner_is_not_recorded_again() -> None:
    owner = Construct(cdk.Stack(cdk.App(), "Acks"), "Owner")
    acks = Acknowledgements()
    acks.add(owner, "AwsSolutions-IAM5[Resource::*]", "X-Ray takes no resource ARN.")
    acks.record()
    acks.add(owner, "AwsSolutions-IAM5[Resource::*]", "X-Ray takes no resource ARN.")
    acks.add(owner, "AwsSolutions-IAM5[Resource::*]", "X-Ray takes no resource ARN.")
    acks.record()
    assert len(_acknowledged(owner)) == 1


def test_an_acknowledgement_with_another_reason_is_recorded_beside_the_first() -> None:
    owner = Construct(cdk.Stack(cdk.App(), "Acks"), "Owner")
    acks = Acknowledgements()
    acks.add(owner, "AwsSolutions-IAM5[Resource::*]", "X-Ray takes no resource ARN.")
    acks.add(owner, "AwsSolutions-IAM5[Resource::*]", "Nor does ListSolutionVersions.")
    acks.record()
    assert len(_acknowledged(owner)) == 2


def _benchmark_module() -> Any:
    """benchmarks/synth_compare.py, imported as `make bench` runs it (benchmarks/ on the path)."""
    import importlib
    import sys
    from pathlib import Path

    benchmarks = str(Path(__file__).resolve().parents[1] / "benchmarks")
    if benchmarks not in sys.path:
        sys.path.insert(0, benchmarks)
    return importlib.import_module("synth_compare")


@pytest.mark.parametrize("variant", ["ours", "baseline"])
def test_the_benchmark_apps_are_written_as_real_apps_and_synthesize_without_a_warning(
    variant: str, tmp_path: Any
) -> None:
    # The synth ratio compares like with like: both stacks name their account and region and ship the
    # jobs' input, so neither pays for (or skips) a warning the other does not.
    synth_compare = _benchmark_module()
    app, stack, _ = synth_compare.build_app(str(tmp_path), synth_compare.VARIANTS[variant], 2)
    assert stack.region == "us-east-1" and stack.account == "123456789012"
    assembly = app.synth()
    found = [
        (entry.path, entry.data)
        for artifact in assembly.stacks
        for kind in ("aws:cdk:warning", "aws:cdk:error")
        for entry in artifact.find_metadata_by_type(kind)
    ]
    assert found == []
    resources = json.loads((tmp_path / f"{synth_compare.STACK_ID}.template.json").read_text())["Resources"]
    assert any(r["Type"] == "Custom::CDKBucketDeployment" for r in resources.values())
