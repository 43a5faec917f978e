"""SolutionVersion, DatasetImportJob and BatchSegmentJob as constructs, and the chain they make with
BatchInferenceJob: resources, attributes, IAM, runs, validation, defaults, shared keys and lifecycles.

One app is synthesized for the module. Tests about how ids and runs react to a change build construct
trees without synthesizing them: ``run_id`` and the WaitCondition are known once the construct exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from constructs import Construct

from constructs_lib import (
    BatchInferenceJob,
    BatchInferenceJobMode,
    BatchInferenceStorage,
    BatchSegmentJob,
    DataDeletionJob,
    DatasetExportJob,
    DatasetImportJob,
    DatasetImportMode,
    PersonalizeJob,
    PersonalizeJobRuntime,
    SolutionVersion,
    SolutionVersionTrainingMode,
)
from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib.compliance import nag_resource
from examples.end_to_end import INTERACTIONS_SCHEMA, ITEM_AFFINITY, USER_PERSONALIZATION
from tests.conftest import FILTER_ARN, SOLUTION_VERSION_ARN

ENV = cdk.Environment(account="123456789012", region="us-east-1")
ACCOUNT = "123456789012"
DATASET_GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
DATASET_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/INTERACTIONS"
SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
EU_FILTER_ARN = "arn:aws:personalize:eu-west-1:123456789012:filter/no-bought"
VERSION_TYPE = "Custom::PersonalizeSolutionVersion"
IMPORT_TYPE = "Custom::PersonalizeDatasetImportJob"
SEGMENT_TYPE = "Custom::PersonalizeBatchSegmentJob"
INFERENCE_TYPE = "Custom::PersonalizeBatchInferenceJob"
# A stage, a stack and constructs whose names make the construct path far longer than an S3 path.
LONG_STAGE = "Stage" + "s" * 55
LONG_STACK = "Stack" + "t" * 55
LONG_SCOPES = ("N" * 60, "M" * 60)
LONG_JOB_ID = "Recommendations" + "j" * 25


class Stacks:
    """One app for the module, one stack per situation; every construct is built before any synth."""

    def __init__(self) -> None:
        app = cdk.App()
        self._chain(app)
        self._import_only(app)
        self._one_key(app)
        self._lifecycle(app)
        self._token_name(app)
        self._long_path(app)
        self.templates = {
            name: Template.from_stack(stack)
            for name, stack in {
                "chain": self.chain,
                "import_only": self.import_only,
                "one_key": self.one_key,
                "lifecycle": self.lifecycle,
                "token_name": self.token_name,
                "long_path": self.long_path,
            }.items()
        }

    def _chain(self, app: cdk.App) -> None:
        """Native dataset group, schema, dataset and two solutions; import -> train -> batch jobs."""
        stack = self.chain = cdk.Stack(app, "Chain", env=ENV)
        group = personalize.CfnDatasetGroup(stack, "DatasetGroup", name="shop")
        schema = personalize.CfnSchema(
            stack, "Schema", name="shop-interactions", schema=json.dumps(INTERACTIONS_SCHEMA)
        )
        self.dataset = personalize.CfnDataset(
            stack,
            "Interactions",
            dataset_group_arn=group.attr_dataset_group_arn,
            dataset_type="Interactions",
            name="shop-interactions",
            schema_arn=schema.attr_schema_arn,
        )
        self.solution = personalize.CfnSolution(
            stack,
            "Recommendations",
            dataset_group_arn=group.attr_dataset_group_arn,
            name="recs",
            recipe_arn=USER_PERSONALIZATION,
        )
        self.segmentation = personalize.CfnSolution(
            stack,
            "Segmentation",
            dataset_group_arn=group.attr_dataset_group_arn,
            name="segments",
            recipe_arn=ITEM_AFFINITY,
        )
        self.storage = BatchInferenceStorage(stack, "Storage")
        self.import_job = DatasetImportJob(
            stack,
            "ImportInteractions",
            dataset_arn=self.dataset.attr_dataset_arn,
            data_path="interactions/",
            storage=self.storage,
        )
        self.version = SolutionVersion(
            stack, "Version", solution_arn=self.solution.attr_solution_arn, training_mode="UPDATE"
        )
        self.version.node.add_dependency(self.import_job)
        self.segment_version = SolutionVersion(
            stack,
            "SegmentVersion",
            solution_arn=self.segmentation.attr_solution_arn,
            training_mode=SolutionVersionTrainingMode.FULL,
        )
        self.job = BatchInferenceJob(
            stack,
            "Job",
            solution_version_arn=self.version.solution_version_arn,
            input_path="users/",
            storage=self.storage,
        )
        self.segments = BatchSegmentJob(
            stack,
            "Segments",
            solution_version_arn=self.segment_version.solution_version_arn,
            input_path="items/",
            storage=self.storage,
        )
        # A plain string mode works like the enum.
        self.themes = BatchInferenceJob(
            stack,
            "Themes",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="items/seed.json",
            storage=self.storage,
            mode="THEME_GENERATION",
            theme_item_name_field="title",
        )

    def _import_only(self, app: cdk.App) -> None:
        stack = self.import_only = cdk.Stack(app, "ImportOnly", env=ENV)
        self.import_storage = BatchInferenceStorage(stack, "Storage")
        self.literal_import = DatasetImportJob(
            stack,
            "Import",
            dataset_arn=DATASET_ARN,
            data_path="interactions/2026-11.csv",
            storage=self.import_storage,
            import_mode="INCREMENTAL",
        )

    def _one_key(self, app: cdk.App) -> None:
        stack = self.one_key = cdk.Stack(app, "OneKey", env=ENV)
        self.key = kms.Key(stack, "Key", enable_key_rotation=True)
        PersonalizeJobRuntime(stack, logs_key=self.key)
        storage = BatchInferenceStorage(stack, "Storage", input_key=self.key, output_key=self.key)
        BatchInferenceJob(
            stack, "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/", storage=storage
        )

    def _lifecycle(self, app: cdk.App) -> None:
        stack = self.lifecycle = cdk.Stack(app, "Lifecycle", env=ENV)
        self.plain_storage = BatchInferenceStorage(stack, "Plain")
        self.aged_storage = BatchInferenceStorage(
            stack,
            "Aged",
            output_expiration=cdk.Duration.days(90),
            output_transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(30)
                )
            ],
        )

    def _token_name(self, app: cdk.App) -> None:
        stack = self.token_name = cdk.Stack(app, "TokenName", env=ENV)
        self.name_parameter = cdk.CfnParameter(stack, "JobName")
        self.named_job = BatchInferenceJob(
            stack,
            "Job",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="users/",
            job_name=self.name_parameter.value_as_string,
            wait=False,
        )

    def _long_path(self, app: cdk.App) -> None:
        stage = cdk.Stage(app, LONG_STAGE)
        stack = self.long_path = cdk.Stack(stage, LONG_STACK, env=ENV)
        scope: Construct = stack
        for scope_id in LONG_SCOPES:
            scope = Construct(scope, scope_id)
        self.long_job = BatchInferenceJob(
            scope, LONG_JOB_ID, solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/"
        )


@pytest.fixture(scope="module")
def stacks() -> Stacks:
    return Stacks()


# ---------------------------------------------------------------- helpers


def _logical_id(element: Any) -> str:
    """The logical id of a CloudFormation element (an L1, or the default child of an L2)."""
    return cdk.Stack.of(element).get_logical_id(element)


def _resource(stacks: Stacks, template: str, construct: PersonalizeJob) -> dict[str, Any]:
    """The job's custom resource in the synthesized template."""
    logical_id = _logical_id(construct.resource.node.default_child)
    resource: dict[str, Any] = stacks.templates[template].to_json()["Resources"][logical_id]
    return resource


def _policy_statements(template: Template, function: str) -> list[dict[str, Any]]:
    """The statements of the function's policies: the runtime's own, and those kept for the stack's
    resources that jobs are made from (its storage, a solution, a dataset)."""
    grants = f"{function.removesuffix('Function')}Grants"
    policies = [
        p
        for logical_id, p in template.find_resources("AWS::IAM::ManagedPolicy").items()
        if f"{function}Policy" in logical_id or grants in logical_id
    ]
    assert policies
    statements: list[dict[str, Any]] = [
        s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return statements


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _statements_with(template: Template, function: str, action: str) -> list[dict[str, Any]]:
    return [
        s
        for s in _policy_statements(template, function)
        if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]


def _acknowledged(construct: Construct) -> set[str]:
    """The cdk-nag rule ids acknowledged on ``construct`` (``Annotation::`` prefix dropped)."""
    return {
        rule.split("::", 1)[1] if rule.startswith("Annotation::") else rule
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule in entry.data
    }


def _fresh_stack(env: cdk.Environment | None = ENV) -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Fresh", env=env)


# ---------------------------------------------------------------- SolutionVersion


def test_solution_version_is_one_custom_resource_with_solution_mode_and_run(stacks: Stacks) -> None:
    stacks.templates["chain"].resource_count_is(VERSION_TYPE, 2)
    props = _resource(stacks, "chain", stacks.version)["Properties"]
    assert props["SolutionArn"] == {"Fn::GetAtt": ["Recommendations", "SolutionArn"]}
    assert props["TrainingMode"] == "UPDATE"
    assert re.fullmatch(r"[0-9a-f]{8}", props["RunId"])
    assert props["RunId"] == stacks.version.run_id


def test_solution_version_takes_the_training_mode_enum(stacks: Stacks) -> None:
    props = _resource(stacks, "chain", stacks.segment_version)["Properties"]
    assert props["TrainingMode"] == "FULL"
    assert props["SolutionArn"] == {"Fn::GetAtt": ["Segmentation", "SolutionArn"]}


def test_solution_version_arn_is_the_resources_attribute(stacks: Stacks) -> None:
    resolved = stacks.chain.resolve(stacks.version.solution_version_arn)
    assert resolved == {
        "Fn::GetAtt": [_logical_id(stacks.version.resource.node.default_child), "SolutionVersionArn"]
    }


def test_a_bad_training_mode_string_fails_naming_training_mode() -> None:
    with pytest.raises(ValueError, match=r"training_mode='INCREMENTAL' is not one of .*UPDATE"):
        SolutionVersion(_fresh_stack(), "Version", solution_arn=SOLUTION_ARN, training_mode="INCREMENTAL")


@pytest.mark.parametrize(
    ("solution_arn", "found"),
    [
        (SOLUTION_VERSION_ARN, "a solution version ARN"),
        (USER_PERSONALIZATION, "a 'recipe' ARN"),
        ("arn:aws:personalize:us-east-1:123456789012:campaign/recs", "a 'campaign' ARN"),
    ],
    ids=["solution-version", "recipe", "campaign"],
)
def test_a_solution_arn_of_another_kind_fails_naming_the_prop_and_the_kind_given(
    solution_arn: str, found: str
) -> None:
    with pytest.raises(ValueError) as raised:
        SolutionVersion(_fresh_stack(), "Version", solution_arn=solution_arn)
    message = str(raised.value)
    assert f"solution_arn={solution_arn!r} is {found}, not a solution ARN" in message
    assert v.SOLUTION.example in message


def test_runtime_may_create_versions_of_the_solution_only_and_list_versions_anywhere(stacks: Stacks) -> None:
    # IAM knows no resource type for ListSolutionVersions (a re-sent create finds its version by name):
    # only "*" allows it, in a statement of its own; the create stays on the one solution.
    template = stacks.templates["chain"]
    solution = stacks.chain.resolve(stacks.solution.attr_solution_arn)
    for function in ("OnEventFunction", "CheckFunction"):
        (listing,) = _statements_with(template, function, "personalize:ListSolutionVersions")
        assert (listing["Action"], listing["Resource"]) == ("personalize:ListSolutionVersions", "*")
        creates = [
            s
            for s in _statements_with(template, function, "personalize:CreateSolutionVersion")
            if s.get("Sid", "").startswith("Sources")
        ]
        resources = [r for create in creates for r in _resources(create)]
        assert solution in resources
        assert all("*" not in json.dumps(r) for r in resources)


@pytest.mark.parametrize(
    ("function", "actions"),
    [
        ("OnEventFunction", {"DescribeSolutionVersion", "TagResource", "StopSolutionVersionCreation"}),
        ("CheckFunction", {"DescribeSolutionVersion", "ListTagsForResource", "GetSolutionMetrics"}),
    ],
)
def test_runtime_acts_on_the_versions_under_the_solution_arn(
    stacks: Stacks, function: str, actions: set[str]
) -> None:
    template = stacks.templates["chain"]
    versions = {"Fn::Join": ["", [stacks.chain.resolve(stacks.solution.attr_solution_arn), "/*"]]}
    # The versions of a solution of the stack are granted in the policy kept for that solution.
    (statement,) = [
        s
        for s in _statements_with(template, function, "personalize:DescribeSolutionVersion")
        if versions in _resources(s)
    ]
    assert {f"personalize:{a}" for a in actions} <= set(statement["Action"])


def test_runtime_acknowledges_the_solution_version_wildcard_it_grants(stacks: Stacks) -> None:
    # Version ARNs are <solution>/<id>, the id chosen by the service: the grant must be a wildcard, and
    # AwsSolutions-IAM5 flags it on the runtime's policies, which are the library's to acknowledge.
    runtime = PersonalizeJobRuntime.find(stacks.chain)
    assert runtime is not None
    versions = nag_resource(stacks.chain, f"{stacks.solution.attr_solution_arn}/*")
    rule = f"AwsSolutions-IAM5[Resource::{versions}]"
    # On the policies kept for that solution (one per function), which hold the wildcard.
    holders = [child.node.id for child in runtime.node.children if rule in _acknowledged(child)]
    assert sorted(h[: -len("12345678")] for h in holders) == ["CheckGrants", "OnEventGrants"]


# ---------------------------------------------------------------- DatasetImportJob


def test_dataset_import_is_one_custom_resource_reading_the_input_bucket_with_the_storage_role(
    stacks: Stacks,
) -> None:
    stacks.templates["import_only"].resource_count_is(IMPORT_TYPE, 1)
    stack, storage = stacks.import_only, stacks.import_storage
    props = _resource(stacks, "import_only", stacks.literal_import)["Properties"]
    assert props["DatasetArn"] == DATASET_ARN
    assert props["DataLocation"] == {
        "Fn::Join": [
            "",
            ["s3://", stack.resolve(storage.input_bucket.bucket_name), "/interactions/2026-11.csv"],
        ]
    }
    assert props["RoleArn"] == stack.resolve(storage.role.role_arn)
    assert props["ImportMode"] == "INCREMENTAL"


def test_dataset_import_mode_defaults_to_full(stacks: Stacks) -> None:
    assert _resource(stacks, "chain", stacks.import_job)["Properties"]["ImportMode"] == "FULL"


@pytest.mark.parametrize("function", ["OnEventFunction", "CheckFunction"])
def test_dataset_import_passes_the_storage_role_to_personalize_only(stacks: Stacks, function: str) -> None:
    (pass_role,) = _statements_with(stacks.templates["import_only"], function, "iam:PassRole")
    assert _resources(pass_role) == [stacks.import_only.resolve(stacks.import_storage.role.role_arn)]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}


def test_dataset_import_takes_a_native_datasets_arn(stacks: Stacks) -> None:
    dataset = {"Fn::GetAtt": ["Interactions", "DatasetArn"]}
    props = _resource(stacks, "chain", stacks.import_job)["Properties"]
    assert props["DatasetArn"] == dataset
    assert props["DataLocation"]["Fn::Join"][1][-1] == "/interactions/"
    # The runtime may create imports into that dataset (IAM checks the create against the dataset too).
    creates = _statements_with(
        stacks.templates["chain"], "OnEventFunction", "personalize:CreateDatasetImportJob"
    )
    assert [s for s in creates if dataset in _resources(s)]


@pytest.mark.parametrize(
    "dataset_arn",
    [
        DATASET_GROUP_ARN,
        "arn:aws:personalize:us-east-1:123456789012:dataset/INTERACTIONS",
        "s3://bucket/interactions/",
    ],
    ids=["dataset-group", "no-group", "not-an-arn"],
)
def test_a_bad_dataset_arn_fails_naming_dataset_arn(dataset_arn: str) -> None:
    stack = _fresh_stack()
    with pytest.raises(
        ValueError, match=rf"dataset_arn={re.escape(repr(dataset_arn))} .*expected dataset ARN"
    ):
        DatasetImportJob(
            stack,
            "Import",
            dataset_arn=dataset_arn,
            data_path="i/",
            storage=BatchInferenceStorage(stack, "S"),
        )


# ---------------------------------------------------------------- BatchSegmentJob


def test_batch_segment_job_is_its_own_resource_type(stacks: Stacks) -> None:
    stacks.templates["chain"].resource_count_is(SEGMENT_TYPE, 1)
    props = _resource(stacks, "chain", stacks.segments)["Properties"]
    assert props["SolutionVersionArn"] == stacks.chain.resolve(stacks.segment_version.solution_version_arn)
    assert "Mode" not in props


def test_batch_segment_job_writes_under_its_own_default_prefix(stacks: Stacks) -> None:
    props = _resource(stacks, "chain", stacks.segments)["Properties"]
    assert props["OutputPrefix"] == "batch-segment/Chain/Segments/"


def test_batch_segment_job_results_are_attributes_of_its_resource(stacks: Stacks) -> None:
    logical_id = _logical_id(stacks.segments.resource.node.default_child)
    for attribute, name in (
        (stacks.segments.output_s3_uri, "OutputS3Uri"),
        (stacks.segments.results_prefix_uri, "ResultsPrefixUri"),
        (stacks.segments.manifest_uri, "ManifestUri"),
        (stacks.segments.job_arn, "JobArn"),
    ):
        assert stacks.chain.resolve(attribute) == {"Fn::GetAtt": [logical_id, name]}


# ---------------------------------------------------------------- the chain


def test_a_job_made_from_a_version_waits_for_its_training(stacks: Stacks) -> None:
    job = _resource(stacks, "chain", stacks.job)
    assert stacks.version.wait_condition is not None
    assert _logical_id(stacks.version.wait_condition) in job["DependsOn"]
    assert job["Properties"]["SolutionVersionArn"] == stacks.chain.resolve(
        stacks.version.solution_version_arn
    )


def test_a_segment_job_made_from_a_version_waits_for_its_training(stacks: Stacks) -> None:
    job = _resource(stacks, "chain", stacks.segments)
    assert stacks.segment_version.wait_condition is not None
    assert _logical_id(stacks.segment_version.wait_condition) in job["DependsOn"]


def test_a_version_depending_on_an_import_trains_after_the_import_ended(stacks: Stacks) -> None:
    version = _resource(stacks, "chain", stacks.version)
    assert stacks.import_job.wait_condition is not None
    assert _logical_id(stacks.import_job.wait_condition) in version["DependsOn"]


def test_a_job_made_from_a_version_is_granted_the_versions_of_that_solution(stacks: Stacks) -> None:
    # Not the version's ARN token: that would make the shared runtime depend on the version, a cycle.
    versions = {"Fn::Join": ["", [stacks.chain.resolve(stacks.solution.attr_solution_arn), "/*"]]}
    for function in ("OnEventFunction", "CheckFunction"):
        creates = _statements_with(stacks.templates["chain"], function, "personalize:CreateBatchInferenceJob")
        assert [s for s in creates if versions in _resources(s)], function


def _chain_ids(**version_props: Any) -> tuple[str, str]:
    """The RunId and WaitCondition logical id of a job made from a version built with ``version_props``."""
    stack = _fresh_stack()
    solution = personalize.CfnSolution(
        stack, "Solution", dataset_group_arn=DATASET_GROUP_ARN, name="recs", recipe_arn=USER_PERSONALIZATION
    )
    version = SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn, **version_props)
    job = BatchInferenceJob(stack, "Job", solution_version_arn=version.solution_version_arn, input_path="u/")
    assert job.wait_condition is not None
    return job.run_id, _logical_id(job.wait_condition)


def test_a_job_runs_again_when_its_version_is_trained_again() -> None:
    first_run, first_condition = _chain_ids(run_token="1")
    second_run, second_condition = _chain_ids(run_token="2")
    assert first_run != second_run
    assert first_condition != second_condition


def test_a_job_stays_when_only_its_versions_tags_change() -> None:
    assert _chain_ids(tags={"team": "a"}) == _chain_ids(tags={"team": "b"})


def test_a_segment_job_refuses_a_version_of_a_recommendation_recipe() -> None:
    stack = _fresh_stack()
    solution = personalize.CfnSolution(
        stack, "Solution", dataset_group_arn=DATASET_GROUP_ARN, name="recs", recipe_arn=USER_PERSONALIZATION
    )
    version = SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn)
    with pytest.raises(ValueError, match=r"recipe aws-user-personalization.*use BatchInferenceJob"):
        BatchSegmentJob(stack, "Segments", solution_version_arn=version.solution_version_arn, input_path="i/")


def test_an_inference_job_refuses_a_version_of_a_segmentation_recipe() -> None:
    stack = _fresh_stack()
    solution = personalize.CfnSolution(
        stack, "Solution", dataset_group_arn=DATASET_GROUP_ARN, name="segs", recipe_arn=ITEM_AFFINITY
    )
    version = SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn)
    with pytest.raises(ValueError, match=r"recipe aws-item-affinity.*use BatchSegmentJob"):
        BatchInferenceJob(stack, "Job", solution_version_arn=version.solution_version_arn, input_path="u/")


def test_a_job_sharing_the_storage_another_job_created_is_not_made_from_that_job() -> None:
    # The storage a job creates lives inside that job; using it makes no job the other's result.
    def build(first_run_token: str) -> tuple[BatchInferenceJob, BatchInferenceJob]:
        stack = _fresh_stack()
        first = BatchInferenceJob(
            stack,
            "First",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="a/",
            run_token=first_run_token,
        )
        second = BatchInferenceJob(
            stack, "Second", solution_version_arn=SOLUTION_VERSION_ARN, input_path="b/", storage=first.storage
        )
        return first, second

    first, second = build("1")
    waits_for = {d.node.path for d in second.resource.node.dependencies}
    assert first.node.path not in waits_for
    assert second.run_id == build("2")[1].run_id


# ---------------------------------------------------------------- runs (RunId)


def _run(**overrides: Any) -> tuple[str, str]:
    """RunId and WaitCondition logical id of a job with ``overrides``."""
    props: dict[str, Any] = {
        "solution_version_arn": SOLUTION_VERSION_ARN,
        "input_path": "users/",
        "num_results": 25,
        "tags": {"team": "recs"},
    }
    props.update(overrides)
    job = BatchInferenceJob(_fresh_stack(), "Job", **props)
    assert job.wait_condition is not None
    return job.run_id, _logical_id(job.wait_condition)


def test_run_id_is_the_resources_run_id_property(stacks: Stacks) -> None:
    assert _resource(stacks, "chain", stacks.job)["Properties"]["RunId"] == stacks.job.run_id


def test_run_id_is_the_same_for_the_same_definition() -> None:
    assert _run() == _run()


@pytest.mark.parametrize(
    "change",
    [{"num_results": 10}, {"run_token": "again"}, {"input_path": "other/"}, {"filter_arn": FILTER_ARN}],
    ids=lambda change: next(iter(change)),
)
def test_run_id_changes_with_what_starts_a_new_job(change: dict[str, Any]) -> None:
    assert _run()[0] != _run(**change)[0]


def test_run_id_and_wait_condition_stay_when_only_tags_change() -> None:
    assert _run() == _run(tags={"team": "other", "cost-center": "42"})


def test_a_timeout_change_renews_the_wait_condition_but_not_the_run() -> None:
    run, condition = _run()
    longer_run, longer_condition = _run(timeout=cdk.Duration.hours(8))
    assert run == longer_run
    assert condition != longer_condition


# ---------------------------------------------------------------- region and account


def test_a_filter_of_another_region_fails_naming_both_regions() -> None:
    with pytest.raises(
        ValueError, match=r"filter_arn='[^']+' is in eu-west-1, but the stack deploys to us-east-1"
    ):
        BatchInferenceJob(
            _fresh_stack(),
            "Job",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="u/",
            filter_arn=EU_FILTER_ARN,
        )


def test_a_solution_of_another_account_fails_naming_both_accounts() -> None:
    other = "arn:aws:personalize:us-east-1:210987654321:solution/recs"
    with pytest.raises(
        ValueError, match=r"belongs to account 210987654321, but the stack deploys to 123456789012"
    ):
        SolutionVersion(_fresh_stack(), "Version", solution_arn=other)


def test_an_environment_agnostic_stack_accepts_any_region() -> None:
    job = BatchInferenceJob(
        _fresh_stack(env=None),
        "Job",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="u/",
        filter_arn=EU_FILTER_ARN,
    )
    assert job.resource is not None


# ---------------------------------------------------------------- messages and their hints


def _hint(message: str) -> str:
    """The example value a message offers: after ``like`` or ``e.g.``."""
    found = re.search(r"(?:like|e\.g\.) '?([^\s',)]+)'?", message)
    assert found, message
    return found.group(1)


@pytest.mark.parametrize("kind", v.ARN_KINDS, ids=lambda kind: kind.what)
def test_every_arn_kinds_example_passes_its_own_check(kind: v.ArnKind) -> None:
    for place in (v.StackPlace("us-east-1", ACCOUNT), v.StackPlace(None, None)):
        assert list(v.check_personalize_arn("prop", kind.example, kind, place)) == []


@pytest.mark.parametrize("kind", v.ARN_KINDS, ids=lambda kind: kind.what)
def test_the_arn_a_message_suggests_passes_the_same_check(kind: v.ArnKind) -> None:
    place = v.StackPlace("us-east-1", ACCOUNT)
    (message,) = v.check_personalize_arn("prop", "arn:aws:s3:::bucket", kind, place)
    assert list(v.check_personalize_arn("prop", _hint(message), kind, place)) == []


def test_the_role_arn_a_message_suggests_passes_the_same_check() -> None:
    (message,) = v.check_role_arn("role", "arn:aws:iam::123456789012:user/me")
    assert _hint(message) == "arn:aws:iam::123456789012:role/my-role"
    assert list(v.check_role_arn("role", _hint(message))) == []


@pytest.mark.parametrize(
    ("errors", "check"),
    [
        (lambda: v.check_output_prefix("recs", None), lambda hint: v.check_output_prefix(hint, None)),
        (
            lambda: v.check_item_exploration({"explorationWeight": "2"}),
            lambda hint: v.check_item_exploration({"explorationWeight": hint}),
        ),
        (
            lambda: v.check_item_exploration({"explorationItemAgeCutOff": "-1"}),
            lambda hint: v.check_item_exploration({"explorationItemAgeCutOff": hint}),
        ),
        (lambda: v.check_theme(True, "1st name"), lambda hint: v.check_theme(True, hint)),
    ],
    ids=["output_prefix", "explorationWeight", "explorationItemAgeCutOff", "theme_item_name_field"],
)
def test_other_suggested_values_pass_the_same_check(
    errors: Callable[[], Iterable[str]], check: Callable[[str], Iterable[str]]
) -> None:
    (message,) = errors()
    assert list(check(_hint(message))) == []


@pytest.mark.parametrize("kind", v.ARN_KINDS, ids=lambda kind: kind.what)
def test_an_arn_of_the_right_type_but_wrong_shape_is_not_called_what_it_is_not(kind: v.ArnKind) -> None:
    # e.g. dataset/<group>/INTERACTIONS/extra: a message "is a 'dataset' ARN, not a dataset ARN" contradicts
    # itself; it should say what is wrong with the shape.
    arn = f"{kind.example}/extra"
    (message,) = v.check_personalize_arn("prop", arn, kind, v.StackPlace("us-east-1", ACCOUNT))
    assert not re.search(
        rf"is an? '?{re.escape(kind.what)}'? ARN, not an? {re.escape(kind.what)} ARN", message
    ), message


# ---------------------------------------------------------------- validation before children


def _stack_with_storage() -> tuple[cdk.Stack, BatchInferenceStorage]:
    stack = _fresh_stack()
    return stack, BatchInferenceStorage(stack, "Storage")


BAD_PROPS: dict[str, Callable[[cdk.Stack, BatchInferenceStorage], object]] = {
    "BatchInferenceJob": lambda stack, storage: BatchInferenceJob(
        stack,
        "Job",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="u/",
        storage=storage,
        filter_arn=EU_FILTER_ARN,
    ),
    "BatchSegmentJob": lambda stack, storage: BatchSegmentJob(
        stack,
        "Job",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="u/",
        storage=storage,
        num_results=0,
    ),
    "DatasetImportJob": lambda stack, storage: DatasetImportJob(
        stack, "Job", dataset_arn=DATASET_GROUP_ARN, data_path="i/", storage=storage
    ),
    "SolutionVersion": lambda stack, storage: SolutionVersion(
        stack, "Job", solution_arn=USER_PERSONALIZATION
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_PROPS))
def test_bad_props_fail_before_the_job_creates_any_child(kind: str) -> None:
    stack, storage = _stack_with_storage()
    with pytest.raises(ValueError, match=rf"^{kind} at '{stack.node.path}/Job': invalid props:\n  - "):
        BAD_PROPS[kind](stack, storage)
    # The construct itself exists (Construct.__init__ ran first), but it holds nothing, and no runtime
    # was created for it.
    failed = stack.node.try_find_child("Job")
    assert failed is not None
    assert failed.node.children == []
    assert PersonalizeJobRuntime.find(stack) is None
    assert {child.node.id for child in stack.node.children} == {"Storage", "Job"}


# ---------------------------------------------------------------- forgiving inputs


def test_a_mode_given_as_a_string_works_like_the_enum(stacks: Stacks) -> None:
    assert _resource(stacks, "chain", stacks.themes)["Properties"]["Mode"] == "THEME_GENERATION"
    enum_run = BatchInferenceJob(
        _fresh_stack(),
        "Themes",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="i.json",
        mode=BatchInferenceJobMode.THEME_GENERATION,
        theme_item_name_field="title",
    ).run_id
    string_run = BatchInferenceJob(
        _fresh_stack(),
        "Themes",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="i.json",
        mode="THEME_GENERATION",
        theme_item_name_field="title",
    ).run_id
    assert enum_run == string_run


def test_a_bad_mode_fails_naming_mode_and_the_choices() -> None:
    with pytest.raises(ValueError) as raised:
        BatchInferenceJob(
            _fresh_stack(), "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", mode="bad"
        )
    message = str(raised.value)
    assert "mode='bad' is not one of" in message
    assert "BatchInferenceJobMode.BATCH_INFERENCE" in message
    assert "BatchInferenceJobMode.THEME_GENERATION" in message


def test_an_import_mode_given_as_a_string_works_like_the_enum(stacks: Stacks) -> None:
    assert (
        DatasetImportMode("INCREMENTAL").value
        == _resource(stacks, "import_only", stacks.literal_import)["Properties"]["ImportMode"]
    )


def test_a_timeout_error_names_the_users_value() -> None:
    with pytest.raises(ValueError, match=r"timeout=30 seconds is shorter than 5 minutes"):
        SolutionVersion(
            _fresh_stack(), "Version", solution_arn=SOLUTION_ARN, timeout=cdk.Duration.seconds(30)
        )


# ---------------------------------------------------------------- output paths


def test_a_long_construct_path_gets_a_default_prefix_within_personalizes_output_path_limit(
    stacks: Stacks,
) -> None:
    prefix = _resource(stacks, "long_path", stacks.long_job)["Properties"]["OutputPrefix"]
    assert len(stacks.long_job.node.path) > 256
    # s3://<bucket of up to 63>/<prefix><job name of up to 63>/
    assert len("s3://") + 63 + 1 + len(prefix) + 63 + 1 <= 256


def test_a_shortened_default_prefix_keeps_the_paths_end_and_a_hash_of_the_whole(stacks: Stacks) -> None:
    prefix = _resource(stacks, "long_path", stacks.long_job)["Properties"]["OutputPrefix"]
    found = re.fullmatch(r"batch-inference/([0-9a-f]{8})-([^/].*)/", prefix)
    assert found, prefix
    kept = found.group(2)
    assert stacks.long_job.node.path.endswith(kept)
    assert kept.endswith(f"/{LONG_JOB_ID}")


def test_an_explicit_output_prefix_too_long_for_personalize_fails_at_synth() -> None:
    with pytest.raises(ValueError, match=r"output_prefix='x+/' makes output paths of up to 264 characters"):
        BatchInferenceJob(
            _fresh_stack(),
            "Job",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="u/",
            output_prefix="x" * 130 + "/",
        )


# ---------------------------------------------------------------- token job names


def test_a_token_job_name_with_wait_fails_naming_job_name_and_the_fix() -> None:
    stack = _fresh_stack()
    name = cdk.CfnParameter(stack, "JobName").value_as_string
    with pytest.raises(ValueError) as raised:
        BatchInferenceJob(
            stack, "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", job_name=name
        )
    message = str(raised.value)
    assert "job_name is a deploy-time value (a token)" in message
    assert "Give a literal job_name, or set wait=False" in message


@pytest.mark.parametrize("function", ["OnEventFunction", "CheckFunction"])
def test_a_token_job_name_without_wait_is_granted_exactly_that_name(stacks: Stacks, function: str) -> None:
    template = stacks.templates["token_name"]
    jobs = [
        resource
        for statement in _statements_with(template, function, "personalize:CreateBatchInferenceJob")
        for resource in _resources(statement)
        if ":batch-inference-job/" in json.dumps(resource)
    ]
    named = [job for job in jobs if {"Ref": "JobName"} in job["Fn::Join"][1]]
    (job_arn,) = named
    assert job_arn["Fn::Join"][1][-2:] == [":batch-inference-job/", {"Ref": "JobName"}]
    # Beside it, only the stack's own generated names (see test_job.py), never every job.
    others = [json.dumps(job) for job in jobs if job not in named]
    assert len(others) == 1 and ':batch-inference-job/TokenName-*"' in others[0]
    assert _resource(stacks, "token_name", stacks.named_job)["Properties"]["JobName"] == {"Ref": "JobName"}


# ---------------------------------------------------------------- one key for everything


def test_one_key_serves_the_runtime_logs_and_both_buckets(stacks: Stacks) -> None:
    template = stacks.templates["one_key"]
    key = {"Fn::GetAtt": [_logical_id(stacks.key.node.default_child), "Arn"]}
    template.resource_count_is("AWS::KMS::Key", 1)
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert groups
    assert all(group["Properties"]["KmsKeyId"] == key for group in groups.values())


def test_one_key_encrypts_both_data_buckets_and_the_job_uses_it(stacks: Stacks) -> None:
    template = stacks.templates["one_key"]
    key = {"Fn::GetAtt": [_logical_id(stacks.key.node.default_child), "Arn"]}
    encrypted = [
        b
        for b in template.find_resources("AWS::S3::Bucket").values()
        if b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ].get("KMSMasterKeyID")
        == key
    ]
    assert len(encrypted) == 2
    (job,) = template.find_resources(INFERENCE_TYPE).values()
    assert job["Properties"]["InputKmsKeyArn"] == job["Properties"]["OutputKmsKeyArn"] == key


# ---------------------------------------------------------------- bucket lifecycles


def _rules(stacks: Stacks, bucket: s3.IBucket) -> list[dict[str, Any]]:
    logical_id = _logical_id(bucket.node.default_child)
    properties = stacks.templates["lifecycle"].to_json()["Resources"][logical_id]["Properties"]
    rules: list[dict[str, Any]] = properties["LifecycleConfiguration"]["Rules"]
    return rules


@pytest.mark.parametrize("which", ["input_bucket", "output_bucket"])
def test_created_buckets_expire_noncurrent_versions_and_abort_stale_uploads(
    stacks: Stacks, which: str
) -> None:
    for storage in (stacks.plain_storage, stacks.aged_storage):
        rules = _rules(stacks, getattr(storage, which))
        assert {
            "Id": "ExpireNoncurrentVersions",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            "Status": "Enabled",
        } in rules


def test_output_expiration_ages_out_the_output_bucket_only(stacks: Stacks) -> None:
    output = _rules(stacks, stacks.aged_storage.output_bucket)
    assert [r["ExpirationInDays"] for r in output if "ExpirationInDays" in r] == [90]
    for bucket in (stacks.aged_storage.input_bucket, stacks.plain_storage.output_bucket):
        assert not [r for r in _rules(stacks, bucket) if "ExpirationInDays" in r or "Transitions" in r]


def test_output_transitions_move_results_to_cheaper_storage(stacks: Stacks) -> None:
    output = _rules(stacks, stacks.aged_storage.output_bucket)
    transitions = [t for r in output for t in r.get("Transitions", [])]
    assert transitions == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]


def test_output_expiration_for_a_brought_output_bucket_fails_naming_the_prop() -> None:
    stack = _fresh_stack()
    with pytest.raises(
        ValueError,
        match=r"output_expiration/output_transitions apply to a bucket this construct creates, "
        r"but output_bucket was given",
    ):
        BatchInferenceStorage(
            stack,
            "Storage",
            output_bucket=s3.Bucket.from_bucket_name(stack, "Results", "existing-results"),
            output_expiration=cdk.Duration.days(90),
        )


@pytest.mark.parametrize(
    ("function", "granted"),
    [
        (
            "OnEventFunction",
            [{"personalize:DescribeSolutionVersion"}, {"personalize:StopSolutionVersionCreation"}],
        ),
        (
            "CheckFunction",
            [
                {
                    "personalize:DescribeSolutionVersion",
                    "personalize:ListTagsForResource",
                    "personalize:GetSolutionMetrics",
                }
            ],
        ),
    ],
)
def test_runtime_may_read_and_stop_versions_of_any_solution_but_create_only_on_its_own(
    stacks: Stacks, function: str, granted: list[set[str]]
) -> None:
    # A rollback after a CfnSolution was replaced goes back to a version of the old solution while the
    # policies still name the new one: reads of any solution's versions keep that rollback working, and
    # the stop of the training the update started (its solution no longer in the restored policy) keeps
    # it from running on, billed, with its resource gone. Never a create.
    template = stacks.templates["chain"]
    any_solution = "arn:<Ref>:personalize:<Ref>:<Ref>:solution/*"
    holding = [
        s
        for s in _policy_statements(template, function)
        if any(_joined(r) == any_solution for r in _resources(s))
    ]
    assert [set(s["Action"]) if isinstance(s["Action"], list) else {s["Action"]} for s in holding] == granted


def _joined(value: Any) -> str:
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_joined(p) for p in value["Fn::Join"][1])
    return "<" + next(iter(value)) + ">"


# ---------------------------------------------------------------- the shape of a kind (issue 21)


KIND_CLASSES: list[type[PersonalizeJob]] = [
    BatchInferenceJob,
    BatchSegmentJob,
    DatasetImportJob,
    SolutionVersion,
    DataDeletionJob,
    DatasetExportJob,
]


@pytest.mark.parametrize("cls", KIND_CLASSES, ids=lambda cls: cls.__name__)
def test_a_kinds_run_is_defined_by_every_property_it_declares(cls: type[PersonalizeJob]) -> None:
    kind = cls.kind
    own = [field.prop for field in kind.fields]
    if kind.output is not None:
        own += [kind.output.bucket_prop, kind.output.prefix_prop]
    assert kind.defining == (*own, contract.RUN_TOKEN, contract.JOB_NAME)
    assert set(kind.attributes) >= {contract.ATTR_JOB_ARN, contract.ATTR_JOB_NAME, contract.ATTR_STATUS}


def test_a_kinds_properties_come_from_its_snake_case_names_and_refuse_others() -> None:
    kind = contract.BATCH_INFERENCE
    assert kind.properties({"solution_version_arn": "a", "num_results": None, "input_kms_key_arn": "k"}) == {
        "SolutionVersionArn": "a",
        "InputKmsKeyArn": "k",
    }
    with pytest.raises(KeyError, match="declares no property for dataset_arn"):
        kind.properties({"dataset_arn": "d"})


def test_an_unknown_keyword_is_a_type_error_naming_the_kind() -> None:
    stack = _fresh_stack()
    with pytest.raises(TypeError, match=r"SolutionVersion\(\) got unexpected keyword arguments: job_name"):
        SolutionVersion(stack, "Version", solution_arn=SOLUTION_ARN, job_name="named")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"BatchSegmentJob\(\) got unexpected keyword arguments: mode"):
        BatchSegmentJob(
            stack, "Segments", solution_version_arn=SOLUTION_VERSION_ARN, input_path="i/", mode="x"
        )  # type: ignore[call-arg]
    with pytest.raises(
        TypeError, match=r"BatchSegmentJob\(\) missing required keyword arguments: input_path"
    ):
        BatchSegmentJob(stack, "Segments2", solution_version_arn=SOLUTION_VERSION_ARN)  # type: ignore[call-arg]
    job = BatchSegmentJob(stack, "Segments3", solution_version_arn=SOLUTION_VERSION_ARN, input_path="i/")
    with pytest.raises(TypeError, match=r"on_event\(\) got unexpected keyword arguments: \['enabled'\]"):
        job.on_event("Ended", enabled=False)  # type: ignore[call-arg]


def test_options_reach_every_kind_the_same_way() -> None:
    stack = _fresh_stack()
    storage = BatchInferenceStorage(stack, "Storage")
    options: dict[str, Any] = {"tags": {"team": "recs"}, "run_token": "7", "wait": False}
    jobs = [
        SolutionVersion(stack, "Version", solution_arn=SOLUTION_ARN, **options),
        DatasetImportJob(
            stack, "Import", dataset_arn=DATASET_ARN, data_path="d/", storage=storage, **options
        ),
        BatchSegmentJob(
            stack, "Segments", solution_version_arn=SOLUTION_VERSION_ARN, input_path="i/", **options
        ),
    ]
    for job in jobs:
        properties = stack.resolve(job.resource.node.default_child._cfn_properties)  # type: ignore[union-attr]
        assert properties["Tags"] == [{"Key": "team", "Value": "recs"}]
        assert properties["RunToken"] == "7"
        assert job.wait_condition is None
