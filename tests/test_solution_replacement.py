"""A ``CfnSolution`` of the app replaced by CloudFormation (renamed, another recipe, another dataset
group): the SolutionVersion on it, and every job made from that version, get a new WaitCondition and
handle, so the handler trains a new version (its name follows the solution's new ARN at deploy time)
instead of refusing the update after the jobs before it were billed (issue 19, defect 2). Their RunIds
and job names do not move; upgrading an existing app only renames those WaitConditions, and no job runs
again (rehearsed below)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import aws_cdk as cdk
import pytest
from aws_cdk import aws_personalize as personalize
from aws_cdk.assertions import Annotations, Match

import constructs_lib.solution_version as solution_version_module
from constructs_lib import BatchInferenceJob, BatchInferenceStorage, SolutionVersion
from constructs_lib.rehearsal import Result, rehearse
from constructs_lib.rehearsal.result import EXIT_OK
from examples.end_to_end import USER_PERSONALIZATION
from tests.apps import SynthesizedApp, synthesize

ENV = cdk.Environment(account="123456789012", region="us-east-1")
SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
DATASET_GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
USER_PERSONALIZATION_V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"


@dataclass(frozen=True)
class Ids:
    version_run: str
    version_wait: str
    version_handle: str
    inference_run: str
    inference_wait: str


def chain(
    *,
    solution_name: str = "recs",
    recipe: str = USER_PERSONALIZATION,
    group_name: str = "shop",
    run_token: str | None = None,
) -> Ids:
    """A dataset group, a solution on it, a version of it and a batch job made from that version."""
    app = cdk.App()
    stack = cdk.Stack(app, "Chain", env=ENV)
    group = personalize.CfnDatasetGroup(stack, "Group", name=group_name)
    solution = personalize.CfnSolution(
        stack,
        "Solution",
        name=solution_name,
        dataset_group_arn=group.attr_dataset_group_arn,
        recipe_arn=recipe,
    )
    version = SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn, run_token=run_token)
    job = BatchInferenceJob(
        stack,
        "Job",
        solution_version_arn=version.solution_version_arn,
        input_path="users/",
        storage=BatchInferenceStorage(stack, "Storage"),
    )
    assert version.wait_condition is not None and job.wait_condition is not None
    handle = [child.node.id for child in version.node.children if child.node.id.startswith("WaitHandle")]
    return Ids(
        version.run_id, version.wait_condition.node.id, handle[0], job.run_id, job.wait_condition.node.id
    )


@pytest.fixture(scope="module")
def base() -> Ids:
    return chain()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"solution_name": "recs-b"}, id="renamed"),
        pytest.param({"recipe": USER_PERSONALIZATION_V2}, id="another-recipe"),
        pytest.param({"group_name": "shop-b"}, id="dataset-group-replaced"),
    ],
)
def test_a_replaced_solution_renames_the_versions_wait_condition_not_its_run(
    base: Ids, change: dict[str, str]
) -> None:
    changed = chain(**change)
    # A new WaitCondition and handle: the handler may start the new training (under the new solution,
    # whose ARN names it) instead of refusing an update whose WaitCondition stayed.
    assert changed.version_wait != base.version_wait
    assert changed.version_handle != base.version_handle
    # The run is the same definition as far as the template knows: RunId, and with it the job names of
    # everything a user already has, do not move.
    assert changed.version_run == base.version_run


def test_a_job_made_from_a_version_on_a_replaced_solution_gets_a_new_wait_condition_too(base: Ids) -> None:
    changed = chain(solution_name="recs-b")
    # Its SolutionVersionArn changes at deploy time with the new training: without a new WaitCondition
    # the handler would refuse its update after the training was billed.
    assert changed.inference_wait != base.inference_wait
    assert changed.inference_run == base.inference_run


def test_the_same_solution_keeps_every_id(base: Ids) -> None:
    assert chain() == base


def test_a_new_run_token_still_changes_the_run(base: Ids) -> None:
    changed = chain(solution_name="recs-b", run_token="2")
    assert changed.version_run != base.version_run and changed.version_wait != base.version_wait
    assert changed.inference_run != base.inference_run


def test_a_version_of_a_literal_solution_arn_has_nothing_replaceable() -> None:
    stack = cdk.Stack(cdk.App(), "Literal", env=ENV)
    version = SolutionVersion(stack, "Version", solution_arn=SOLUTION_ARN)
    assert version.replaced_sources == ()
    assert solution_version_module.solution_fingerprint(SOLUTION_ARN, stack) is None


def test_every_property_of_the_fingerprinted_resources_is_create_only() -> None:
    """The fingerprint takes a solution's (and its dataset group's) whole property bag: exact only while
    CloudFormation replaces the resource on a change to any of them."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    for resource_type in (personalize.CfnSolution, personalize.CfnDatasetGroup):
        type_name = resource_type.CFN_RESOURCE_TYPE_NAME
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_name).schema
        read_only = {path.rsplit("/", 1)[1] for path in schema.get("readOnlyProperties", [])}
        create_only = {path.rsplit("/", 1)[1] for path in schema.get("createOnlyProperties", [])}
        writable = set(schema["properties"]) - read_only
        assert writable <= create_only, (
            f"{type_name}: {sorted(writable - create_only)} can be updated in place"
        )


# ---------------------------------------------------------------- upgrading an existing app


@pytest.fixture(scope="module")
def upgrade(
    tmp_path_factory: pytest.TempPathFactory, example_apps: Mapping[str, SynthesizedApp]
) -> Iterator[Result]:
    """examples/end_to_end.py as the library made it before the fingerprint (its versions' WaitConditions
    named as in 0.1), updated to the app as it is made now."""
    root = tmp_path_factory.mktemp("solution-replacement")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(solution_version_module, "solution_fingerprint", lambda *args: None)
        before = synthesize("end_to_end", root / "before", nag=False).outdir
    after = example_apps["end_to_end"].outdir  # the app as the library makes it now (the session's synth)
    yield rehearse(before, update_to=after)


@pytest.mark.slow
def test_upgrading_renames_the_wait_conditions_and_runs_no_job_again(upgrade: Result) -> None:
    result = upgrade
    assert result.exit_code == EXIT_OK, result.report
    assert any(line.startswith("update:") and "UPDATE_COMPLETE" in line for line in result.operations)
    # Only the first deploy's jobs: the update started no Personalize job of any kind.
    assert [job.phase for job in result.jobs] == ["create"] * len(result.jobs)
    assert len(result.personalize_jobs) == len(result.jobs)
    kinds = {job.kind for job in result.jobs}
    assert {"solution-version", "batch-inference", "batch-segment"} <= kinds
    renamed = {"RecommendationsVersion", "SegmentationVersion", "UserRecommendations", "ItemAudiences"}
    for construct in renamed:
        # The job is kept; its monitor starts again and signals the new WaitCondition at once.
        assert f"PersonalizeEndToEnd/{construct}: kept, waited for again" in result.changes
    assert "PersonalizeEndToEnd/ImportInteractions: kept (no change)" in result.changes
    # One end event per job run: the monitors started again report no new end.
    assert result.events == len(result.jobs)


def _solution_warnings(change_after: bool) -> list[str]:
    app = cdk.App()
    stack = cdk.Stack(app, "Late", env=ENV)
    solution = personalize.CfnSolution(
        stack, "Solution", name="recs", dataset_group_arn=DATASET_GROUP_ARN, recipe_arn=USER_PERSONALIZATION
    )
    SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn)
    if change_after:
        solution.name = "recs-b"
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("changed after"))
    return [str(entry.entry.data) for entry in found]


def test_a_solution_changed_after_its_version_was_made_warns_with_the_fix() -> None:
    (warning,) = _solution_warnings(change_after=True)
    assert "Make the SolutionVersion after setting the CfnSolution's properties" in warning
    assert solution_version_module.SOLUTION_CHANGED_WARNING in warning


def test_a_solution_left_as_it_was_gives_no_warning() -> None:
    assert _solution_warnings(change_after=False) == []


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The family's chain app (tests/family_variants.py) updated to its CfnSolution renamed, no run_token."""
    from tests.family_variants import BASE, synthesize_one

    root = tmp_path_factory.mktemp("solution-renamed")
    before = synthesize_one(root / "before", BASE)
    after = synthesize_one(root / "after", replace(BASE, solution_name="recs-b"))
    return rehearse(before, update_to=after)


@pytest.mark.slow
def test_a_renamed_solution_trains_a_new_version_and_its_jobs_run_again_in_one_deploy(
    renamed: Result,
) -> None:
    result = renamed
    assert result.exit_code == EXIT_OK, result.report
    assert any(line.startswith("update:") and "UPDATE_COMPLETE" in line for line in result.operations)
    assert "Family/Training: replaced: a new job (SolutionArn changed)" in result.changes
    assert "Family/Recommendations: replaced: a new job (SolutionVersionArn changed)" in result.changes
    training = result.job("Training", "update")
    assert training.status == "ACTIVE" and "/family-recs-b/" in str(training.job_arn)
    assert training.job_name != result.job("Training", "create").job_name
    assert result.job("Recommendations", "update").status == "ACTIVE"
    # The jobs the rename does not reach are kept: no new import, no new segment training.
    assert "Family/Import: kept (no change)" in result.changes
    assert "Family/SegmentTraining: kept (no change)" in result.changes
