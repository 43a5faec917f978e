"""Chains that would start a job on an unfinished one, or bill a run and then be refused, fail at synth
with the fix (issue 19, defects 4 and 5)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_personalize as personalize
from aws_cdk.assertions import Annotations, Match

from constructs_lib import (
    BatchInferenceJob,
    BatchInferenceStorage,
    BatchSegmentJob,
    DatasetImportJob,
    SolutionVersion,
)
from examples.end_to_end import INTERACTIONS_SCHEMA, USER_PERSONALIZATION
from tests.conftest import SOLUTION_VERSION_ARN

ENV = cdk.Environment(account="123456789012", region="us-east-1")
SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
SEGMENT_SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/segments"
DATASET_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/INTERACTIONS"


def _stack(context: dict[str, Any] | None = None, name: str = "Chain") -> cdk.Stack:
    return cdk.Stack(cdk.App(context=context), name, env=ENV)


# ---------------------------------------------------------------- defect 4: a job on an unfinished one


@pytest.mark.parametrize("kind", [BatchInferenceJob, BatchSegmentJob])
def test_a_batch_job_given_the_version_of_a_training_that_does_not_wait_is_refused(kind: Any) -> None:
    stack = _stack()
    version = SolutionVersion(
        stack,
        "Training",
        solution_arn=SEGMENT_SOLUTION_ARN if kind is BatchSegmentJob else SOLUTION_ARN,
        wait=False,
    )
    with pytest.raises(ValueError, match=r"Chain/Training has wait=False.*Give Training wait=True"):
        kind(stack, "Batch", solution_version_arn=version.solution_version_arn, input_path="users/")


def _training_after_import(*, import_wait: bool) -> cdk.App:
    stack = _stack()
    storage = BatchInferenceStorage(stack, "Storage")
    import_job = DatasetImportJob(
        stack, "Import", dataset_arn=DATASET_ARN, data_path="interactions/", storage=storage, wait=import_wait
    )
    version = SolutionVersion(stack, "Training", solution_arn=SOLUTION_ARN)
    version.node.add_dependency(import_job)
    return stack.node.root  # type: ignore[return-value]


def test_a_training_that_depends_on_an_import_that_does_not_wait_fails_synth_naming_the_fix() -> None:
    app = _training_after_import(import_wait=False)
    with pytest.raises(RuntimeError, match=r"Chain/Import has wait=False.*Give Import wait=True"):
        app.synth()


def test_a_training_that_depends_on_an_import_that_waits_synthesizes() -> None:
    _training_after_import(import_wait=True).synth()


def test_a_training_of_a_solution_that_waits_for_an_import_that_does_not_wait_fails_synth() -> None:
    # The native resource in between ends as soon as the import has started: the training would too.
    stack = _stack()
    group = personalize.CfnDatasetGroup(stack, "Group", name="shop")
    schema = personalize.CfnSchema(stack, "Schema", name="shop", schema=json.dumps(INTERACTIONS_SCHEMA))
    dataset = personalize.CfnDataset(
        stack,
        "Interactions",
        dataset_group_arn=group.attr_dataset_group_arn,
        dataset_type="Interactions",
        name="interactions",
        schema_arn=schema.attr_schema_arn,
    )
    storage = BatchInferenceStorage(stack, "Storage")
    import_job = DatasetImportJob(
        stack, "Import", dataset_arn=dataset.attr_dataset_arn, data_path="i/", storage=storage, wait=False
    )
    solution = personalize.CfnSolution(
        stack,
        "Solution",
        dataset_group_arn=group.attr_dataset_group_arn,
        name="recs",
        recipe_arn=USER_PERSONALIZATION,
    )
    solution.node.add_dependency(import_job)
    SolutionVersion(stack, "Training", solution_arn=solution.attr_solution_arn)
    with pytest.raises(RuntimeError, match=r"Chain/Import has wait=False"):
        stack.node.root.synth()  # type: ignore[attr-defined]


def test_a_job_that_does_not_wait_may_still_have_jobs_that_do_not_depend_on_it() -> None:
    stack = _stack()
    SolutionVersion(stack, "Training", solution_arn=SOLUTION_ARN, wait=False)
    BatchInferenceJob(stack, "Batch", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/")
    cdk.App.of(stack).synth()  # type: ignore[union-attr]


# ---------------------------------------------------------------- defect 5a: a fixed name on a re-run job


def test_an_explicit_job_name_on_a_job_made_from_another_jobs_result_warns_naming_the_fix() -> None:
    # A warning, not an error: an app that synthesized before an upgrade keeps synthesizing, and the fix
    # (a generated name) starts the job once more, which its owner chooses when to pay for.
    stack = _stack()
    version = SolutionVersion(stack, "Training", solution_arn=SOLUTION_ARN)
    BatchInferenceJob(
        stack,
        "Batch",
        solution_version_arn=version.solution_version_arn,
        input_path="users/",
        job_name="nightly",
    )
    Annotations.from_stack(stack).has_warning(
        "/Chain/Batch",
        Match.string_like_regexp(
            r"job_name='nightly'.*runs again after each new run of Chain/Training.*Drop job_name.*"
            r"\[ack: constructs-lib:namedChainedJob\]"
        ),
    )


def test_an_explicit_job_name_on_a_job_with_a_literal_version_is_still_allowed() -> None:
    stack = _stack()
    job = BatchInferenceJob(
        stack, "Batch", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/", job_name="nightly"
    )
    assert job.resource is not None


# ---------------------------------------------------------------- defect 5b: a chain across stacks


def _two_stack_chain(context: dict[str, Any] | None) -> cdk.Stack:
    app = cdk.App(context=context)
    producer = cdk.Stack(app, "Producer", env=ENV)
    consumer = cdk.Stack(app, "Consumer", env=ENV)
    version = SolutionVersion(producer, "Training", solution_arn=SOLUTION_ARN)
    BatchInferenceJob(
        consumer, "Batch", solution_version_arn=version.solution_version_arn, input_path="users/"
    )
    app.synth()
    return consumer


@pytest.mark.parametrize("strength", [None, "strong", "both"])
def test_a_chain_across_stacks_with_strong_references_warns_naming_the_fix(strength: str | None) -> None:
    context = {} if strength is None else {"@aws-cdk/core:defaultCrossStackReferences": strength}
    Annotations.from_stack(_two_stack_chain(context)).has_warning(
        "/Consumer/Batch",
        Match.string_like_regexp(
            r"Producer/Training.*stack Producer.*'weak'.*\[ack: constructs-lib:strongCrossStackChain\]"
        ),
    )


def test_a_chain_across_stacks_with_weak_references_synthesizes_without_the_warning() -> None:
    consumer = _two_stack_chain({"@aws-cdk/core:defaultCrossStackReferences": "weak"})
    Annotations.from_stack(consumer).has_no_warning("*", Match.string_like_regexp("cross-stack reference"))


# ---------------------------------------------------------------- IAM: both readings of the solution


def _source_resources(stack: cdk.Stack, action: str) -> list[Any]:
    from aws_cdk.assertions import Template

    found: list[Any] = []
    for policy in Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if action in actions and statement.get("Sid", "").startswith("Sources"):
                resources = statement["Resource"]
                found += resources if isinstance(resources, list) else [resources]
    return found


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        (BatchInferenceJob, "personalize:CreateBatchInferenceJob"),
        (BatchSegmentJob, "personalize:CreateBatchSegmentJob"),
    ],
)
def test_a_batch_create_is_granted_on_the_version_and_on_its_parent_solution(kind: Any, action: str) -> None:
    stack = _stack()
    kind(stack, "Batch", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/")
    resources = _source_resources(stack, action)
    parent = SOLUTION_VERSION_ARN.rsplit("/", 1)[0]
    assert SOLUTION_VERSION_ARN in resources and parent in resources


def test_a_batch_create_on_a_trained_version_is_granted_on_that_solution_and_its_versions() -> None:
    stack = _stack()
    group = personalize.CfnDatasetGroup(stack, "Group", name="shop")
    solution = personalize.CfnSolution(
        stack,
        "Solution",
        dataset_group_arn=group.attr_dataset_group_arn,
        name="recs",
        recipe_arn=USER_PERSONALIZATION,
    )
    version = SolutionVersion(stack, "Training", solution_arn=solution.attr_solution_arn)
    BatchInferenceJob(stack, "Batch", solution_version_arn=version.solution_version_arn, input_path="users/")
    resources = _source_resources(stack, "personalize:CreateBatchInferenceJob")
    solution_arn = stack.resolve(solution.attr_solution_arn)
    assert solution_arn in resources
    assert {"Fn::Join": ["", [solution_arn, "/*"]]} in resources


def test_a_batch_create_on_a_deploy_time_version_arn_is_granted_on_the_solution_cut_from_it() -> None:
    stack = _stack()
    arn = cdk.CfnParameter(stack, "VersionArn").value_as_string
    BatchInferenceJob(stack, "Batch", solution_version_arn=arn, input_path="users/")
    resources = _source_resources(stack, "personalize:CreateBatchInferenceJob")
    assert {"Ref": "VersionArn"} in resources
    # arn:...:solution/<name>/<id> cut at its slashes by CloudFormation: the first two parts, joined.
    (cut,) = {json.dumps(r) for r in resources if "Fn::Join" in r}
    assert '"Fn::Split": ["/", {"Ref": "VersionArn"}]' in cut and '"Fn::Join": ["/"' in cut


def test_a_job_whose_storage_waits_for_a_job_that_does_not_wait_fails_synth() -> None:
    stack = _stack()
    storage = BatchInferenceStorage(stack, "Storage")
    later = BatchInferenceStorage(stack, "Later")
    import_job = DatasetImportJob(
        stack, "Import", dataset_arn=DATASET_ARN, data_path="i/", storage=storage, wait=False
    )
    later.node.add_dependency(import_job)
    BatchInferenceJob(
        stack, "Batch", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", storage=later
    )
    with pytest.raises(
        RuntimeError, match=r"\[Chain/Batch\] Chain/Import has wait=False.*Give Import wait=True"
    ):
        cdk.App.of(stack).synth()  # type: ignore[union-attr]


def test_a_job_on_the_storage_another_job_created_does_not_wait_for_that_job() -> None:
    # Sharing the storage a job created is not waiting for that job: its wait=False is no concern.
    stack = _stack()
    first = BatchInferenceJob(
        stack, "First", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", wait=False
    )
    BatchInferenceJob(
        stack, "Second", solution_version_arn=SOLUTION_VERSION_ARN, input_path="v/", storage=first.storage
    )
    cdk.App.of(stack).synth()  # type: ignore[union-attr]
