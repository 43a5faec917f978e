"""A stack's jobs share one runtime, yet no placement of the user's own dependencies that is itself acyclic
makes CloudFormation refuse the template: cfn-lint's E3004 (circular dependency) is the judge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import (
    BatchInferenceJob,
    BatchInferenceStorage,
    BatchSegmentJob,
    DatasetImportJob,
    SolutionVersion,
)
from examples.end_to_end import INTERACTIONS_SCHEMA, ITEM_AFFINITY, USER_PERSONALIZATION
from tests.conftest import SOLUTION_VERSION_ARN

REPO = Path(__file__).resolve().parent.parent
ENV = cdk.Environment(account="123456789012", region="us-east-1")
SEGMENT_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/segments/1a2b3c4d"


def _placements(app: cdk.App) -> None:
    """Every shape the examples and the README allow, each dependency pointing from a native resource (or
    a construct holding jobs or storage) to a job that does not itself depend on it."""
    stack = cdk.Stack(app, "Placements", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage")
    group = personalize.CfnDatasetGroup(stack, "Group", name="placements")
    schema = personalize.CfnSchema(stack, "Schema", name="placements", schema=json.dumps(INTERACTIONS_SCHEMA))
    interactions = personalize.CfnDataset(
        stack,
        "Interactions",
        dataset_group_arn=group.attr_dataset_group_arn,
        dataset_type="Interactions",
        name="interactions",
        schema_arn=schema.attr_schema_arn,
    )
    first_import = DatasetImportJob(
        stack, "Import", dataset_arn=interactions.attr_dataset_arn, data_path="interactions/", storage=storage
    )
    # A solution created only once the data is in (the reproduction), trained, then used.
    solution = personalize.CfnSolution(
        stack,
        "Solution",
        dataset_group_arn=group.attr_dataset_group_arn,
        name="placements-recs",
        recipe_arn=USER_PERSONALIZATION,
    )
    solution.node.add_dependency(first_import)
    version = SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn)
    version.node.add_dependency(first_import)
    recommendations = BatchInferenceJob(
        stack,
        "Recommendations",
        solution_version_arn=version.solution_version_arn,
        input_path="users/",
        storage=storage,
    )
    # A second dataset created after the first import, imported into in turn.
    second_group = personalize.CfnDatasetGroup(stack, "SecondGroup", name="placements-second")
    second_group.node.add_dependency(recommendations)
    second_dataset = personalize.CfnDataset(
        stack,
        "SecondInteractions",
        dataset_group_arn=second_group.attr_dataset_group_arn,
        dataset_type="Interactions",
        name="second-interactions",
        schema_arn=schema.attr_schema_arn,
    )
    second_dataset.node.add_dependency(first_import)
    second_import = DatasetImportJob(
        stack,
        "SecondImport",
        dataset_arn=second_dataset.attr_dataset_arn,
        data_path="second/",
        storage=storage,
    )
    segmentation = personalize.CfnSolution(
        stack,
        "Segmentation",
        dataset_group_arn=second_group.attr_dataset_group_arn,
        name="placements-segments",
        recipe_arn=ITEM_AFFINITY,
    )
    segmentation.node.add_dependency(second_import)
    segment_version = SolutionVersion(stack, "SegmentVersion", solution_arn=segmentation.attr_solution_arn)
    segment_version.node.add_dependency(second_import)
    BatchSegmentJob(
        stack,
        "Segments",
        solution_version_arn=segment_version.solution_version_arn,
        input_path="items/",
        storage=storage,
    )
    # A job with its own storage that waits for an import.
    own = BatchInferenceJob(
        stack, "OwnStorage", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/"
    )
    own.node.add_dependency(second_import)
    # A second storage created once a training has ended, and a job on it.
    later_storage = BatchInferenceStorage(stack, "LaterStorage")
    later_storage.node.add_dependency(version)
    BatchSegmentJob(
        stack,
        "LaterSegments",
        solution_version_arn=SEGMENT_VERSION_ARN,
        input_path="items/",
        storage=later_storage,
    )
    # A filter created after the import, used by a job.
    item_filter = personalize.CfnFilter(
        stack,
        "Filter",
        dataset_group_arn=group.attr_dataset_group_arn,
        filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
        name="placements-filter",
    )
    item_filter.node.add_dependency(first_import)
    BatchInferenceJob(
        stack,
        "Filtered",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="users/",
        storage=storage,
        filter_arn=item_filter.attr_filter_arn,
    )
    # A construct of the user's holding jobs, waiting as a whole for a job; a resource waiting for a job.
    team = Construct(stack, "Team")
    team.node.add_dependency(recommendations)
    SolutionVersion(team, "Retrain", solution_arn=solution.attr_solution_arn, run_token="2")
    queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
    queue.node.add_dependency(recommendations)


def _circular_dependencies(outdir: Path) -> str:
    templates = sorted(str(p) for p in outdir.glob("*.template.json"))
    assert templates, f"no template in {outdir}: nothing for cfn-lint to judge"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--config-file",
            str(REPO / ".cfnlintrc.yaml"),
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # cfn-lint's exit code is a bit mask of what it found (2 errors, 4 warnings, 8 informational); 1 is
    # its own failure, which would otherwise read as "no cycle".
    assert result.returncode % 2 == 0, result.stdout + result.stderr
    return "\n".join(line for line in result.stdout.splitlines() if line.startswith("E3004"))


@pytest.fixture(scope="module")
def placements(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("placements")
    app = cdk.App(outdir=str(outdir))
    _placements(app)
    app.synth()
    return outdir


def test_no_placement_of_acyclic_user_dependencies_makes_a_circular_template(placements: Path) -> None:
    assert _circular_dependencies(placements) == ""


def test_the_end_to_end_example_with_its_solutions_waiting_for_the_import_has_no_cycle(
    tmp_path: Path,
) -> None:
    from examples.end_to_end import EndToEndStack

    app = cdk.App(outdir=str(tmp_path))
    stack = EndToEndStack(app, "EndToEnd")
    import_job = stack.node.find_child("ImportInteractions")
    for solution in ("Recommendations", "Segmentation"):
        stack.node.find_child(solution).node.add_dependency(import_job)
    app.synth()
    assert _circular_dependencies(tmp_path) == ""


def test_more_resources_of_the_stack_than_iam_attaches_policies_for_warn_with_the_quota() -> None:
    from aws_cdk.assertions import Annotations, Match

    stack = cdk.Stack(cdk.App(), "ManySolutions", env=ENV)
    group = personalize.CfnDatasetGroup(stack, "Group", name="many")

    def solutions(count: int) -> None:
        for index in range(count):
            solution = personalize.CfnSolution(
                stack,
                f"Solution{index}",
                dataset_group_arn=group.attr_dataset_group_arn,
                name=f"many-{index}",
                recipe_arn=USER_PERSONALIZATION,
            )
            SolutionVersion(stack, f"Version{index}", solution_arn=solution.attr_solution_arn)

    # The check function's role holds its own two policies: 8 more fit IAM's default of 10.
    solutions(8)
    assert not Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("managedPolicyQuota"))
    solutions_more = personalize.CfnSolution(
        stack,
        "OneMore",
        dataset_group_arn=group.attr_dataset_group_arn,
        name="one-more",
        recipe_arn=USER_PERSONALIZATION,
    )
    SolutionVersion(stack, "OneMoreVersion", solution_arn=solutions_more.attr_solution_arn)
    Annotations.from_stack(stack).has_warning(
        "/ManySolutions/PersonalizeBatchInferenceRuntime",
        Match.string_like_regexp(
            r"more than 10 managed policies.*Service Quotas.*constructs-lib:managedPolicyQuota"
        ),
    )
