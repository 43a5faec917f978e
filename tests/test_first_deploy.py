"""A first deploy that can work: the end-to-end example ships its data into the storage it creates, every
job waits for the copy, and a job on a created bucket nothing writes to is pointed out at synth."""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import BatchInferenceJob, BatchInferenceStorage, DatasetImportJob
from constructs_lib.storage import EMPTY_INPUT_WARNING
from examples import end_to_end
from tests.conftest import SOLUTION_VERSION_ARN

ENV = cdk.Environment(account="123456789012", region="us-east-1")
DATASET_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/INTERACTIONS"
DEPLOYMENT_TYPE = "Custom::CDKBucketDeployment"
JOB_TYPES = (
    "Custom::PersonalizeDatasetImportJob",
    "Custom::PersonalizeSolutionVersion",
    "Custom::PersonalizeBatchInferenceJob",
    "Custom::PersonalizeBatchSegmentJob",
)


@pytest.fixture(scope="module")
def end_to_end_stack() -> cdk.Stack:
    app = cdk.App()
    return end_to_end.EndToEndStack(app, "PersonalizeEndToEnd")


def _resources(template: Template, type_: str) -> dict[str, Any]:
    return template.find_resources(type_)


def test_the_end_to_end_example_copies_its_sample_data_into_the_input_bucket_it_creates(
    end_to_end_stack: cdk.Stack,
) -> None:
    template = Template.from_stack(end_to_end_stack)
    (deployment,) = _resources(template, DEPLOYMENT_TYPE).values()
    storage = end_to_end_stack.node.find_child("Storage")
    assert isinstance(storage, BatchInferenceStorage)
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == end_to_end_stack.resolve(storage.input_bucket.bucket_name)
    assert props["Prune"] is False  # files uploaded beside the sample data are left alone
    assert len(props["SourceObjectKeys"]) == 1


def test_every_job_of_the_end_to_end_example_waits_for_the_copy(end_to_end_stack: cdk.Stack) -> None:
    template = Template.from_stack(end_to_end_stack)
    (deployment_id,) = _resources(template, DEPLOYMENT_TYPE)
    for job_type in JOB_TYPES:
        jobs = _resources(template, job_type)
        assert jobs, job_type
        for logical_id in jobs:
            assert deployment_id in _all_dependencies(template, logical_id), logical_id


def _all_dependencies(template: Template, logical_id: str) -> set[str]:
    resources = template.to_json()["Resources"]
    found: set[str] = set()
    pending = [logical_id]
    while pending:
        for dependency in resources[pending.pop()].get("DependsOn", []):
            if dependency not in found:
                found.add(dependency)
                pending.append(dependency)
    return found


def test_the_sample_data_is_enough_for_personalize_to_train_and_the_jobs_to_read() -> None:
    data = end_to_end.SAMPLE_DATA
    with (data / "interactions" / "interactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    # The header is the schema's fields; Personalize trains on at least 1,000 interactions of at least 25
    # users with 2 or more each.
    assert list(rows[0]) == [field["name"] for field in end_to_end.INTERACTIONS_SCHEMA["fields"]]
    assert len(rows) >= 1000
    per_user = Counter(row["USER_ID"] for row in rows)
    assert sum(1 for count in per_user.values() if count >= 2) >= 25
    assert all(row["TIMESTAMP"].isdigit() for row in rows)
    users = [json.loads(line) for line in (data / "users" / "users.json").read_text().splitlines()]
    assert users and all(set(u) == {"userId"} and u["userId"] in per_user for u in users)
    items = [json.loads(line) for line in (data / "items" / "items.json").read_text().splitlines()]
    known_items = {row["ITEM_ID"] for row in rows}
    assert items and all(set(i) == {"itemId"} and i["itemId"] in known_items for i in items)


def test_the_example_reads_the_paths_the_sample_data_holds(end_to_end_stack: cdk.Stack) -> None:
    template = Template.from_stack(end_to_end_stack)
    paths = [
        json.dumps(end_to_end_stack.resolve(props))
        for job_type in JOB_TYPES
        for job in _resources(template, job_type).values()
        for key, props in job["Properties"].items()
        if key in ("DataLocation", "InputPath")
    ]
    for directory in ("interactions/", "users/", "items/"):
        assert (end_to_end.SAMPLE_DATA / directory).is_dir()
        assert any(directory in path for path in paths), directory


# ---------------------------------------------------------------- the warning


def _warning_ids(stack: cdk.Stack) -> list[str]:
    messages = [w.entry.data for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())]
    return sorted(m.rsplit("[ack: ", 1)[1].rstrip("]") for m in messages if "[ack: " in m)


def _stack_with_job(**storage_props: Any) -> tuple[cdk.Stack, BatchInferenceStorage]:
    stack = cdk.Stack(cdk.App(), "FirstDeploy", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage", **storage_props)
    DatasetImportJob(stack, "Import", dataset_arn=DATASET_ARN, data_path="interactions/", storage=storage)
    BatchInferenceJob(
        stack, "Batch", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/", storage=storage
    )
    return stack, storage


def test_a_job_on_a_created_input_bucket_nothing_writes_to_warns_once_naming_the_fix() -> None:
    stack, _ = _stack_with_job()
    assert _warning_ids(stack) == [EMPTY_INPUT_WARNING]
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp(r"storage\.deploy_input\('Data', sources=\[s3deploy\.Source\.asset")
    )


def test_input_shipped_with_the_app_silences_the_warning() -> None:
    stack, storage = _stack_with_job()
    storage.deploy_input("Data", sources=[s3deploy.Source.asset(str(end_to_end.SAMPLE_DATA))])
    assert EMPTY_INPUT_WARNING not in _warning_ids(stack)


def test_a_principal_of_the_app_granted_the_input_silences_the_warning() -> None:
    stack, storage = _stack_with_job()
    storage.grant_write_input(iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal()))
    assert EMPTY_INPUT_WARNING not in _warning_ids(stack)


def test_a_bucket_deployment_of_the_users_own_into_the_input_bucket_silences_the_warning() -> None:
    stack, storage = _stack_with_job()
    s3deploy.BucketDeployment(
        stack,
        "Own",
        sources=[s3deploy.Source.data("users/u.json", '{"userId": "u"}\n')],
        destination_bucket=storage.input_bucket,
    )
    assert EMPTY_INPUT_WARNING not in _warning_ids(stack)


def test_a_brought_input_bucket_does_not_warn() -> None:
    stack = cdk.Stack(cdk.App(), "Brought", env=ENV)
    storage = BatchInferenceStorage(
        stack, "Storage", input_bucket=s3.Bucket.from_bucket_name(stack, "In", "my-input")
    )
    BatchInferenceJob(
        stack, "Batch", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/", storage=storage
    )
    assert EMPTY_INPUT_WARNING not in _warning_ids(stack)


# ---------------------------------------------------------------- removal policy on a failed create


def test_created_storage_is_retained_by_default_also_on_a_failed_create() -> None:
    # A rollback cannot delete a bucket holding objects (the shipped input, access logs, results), and a
    # key must not be deleted while a retained bucket holds data it encrypts: both stay, as RETAIN says.
    stack = cdk.Stack(cdk.App(), "Default", env=ENV)
    BatchInferenceStorage(stack, "Storage")
    template = Template.from_stack(stack)
    for type_ in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in template.find_resources(type_).values():
            assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_retain_except_on_create_deletes_created_buckets_and_keys_on_a_failed_create() -> None:
    stack = cdk.Stack(cdk.App(), "ExceptOnCreate", env=ENV)
    BatchInferenceStorage(stack, "Storage", removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
    template = Template.from_stack(stack)
    for type_ in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        resources = template.find_resources(type_).values()
        assert resources
        assert {r["DeletionPolicy"] for r in resources} == {"RetainExceptOnCreate"}


def test_retain_except_on_create_with_input_shipped_in_the_same_deploy_warns() -> None:
    stack = cdk.Stack(cdk.App(), "ExceptOnCreateWithInput", env=ENV)
    storage = BatchInferenceStorage(
        stack, "Storage", removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    )
    storage.deploy_input("Data", sources=[s3deploy.Source.asset(str(end_to_end.SAMPLE_DATA))])
    assert "constructs-lib:retainExceptOnCreateWithInput" in _warning_ids(stack)


def test_a_bucket_of_the_stacks_own_brought_as_input_warns_too() -> None:
    stack = cdk.Stack(cdk.App(), "OwnBucket", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage", input_bucket=s3.Bucket(stack, "In", enforce_ssl=True))
    BatchInferenceJob(
        stack, "Batch", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/", storage=storage
    )
    assert _warning_ids(stack).count(EMPTY_INPUT_WARNING) == 1


def test_the_input_copys_findings_are_acknowledged_on_its_own_function_not_a_users_other_deployment() -> None:
    # BucketDeployment's function is a singleton per setting (memory size among them): a user's own
    # deployment with another memory size has a function of its own, which keeps its findings.
    stack = cdk.Stack(cdk.App(), "Shipped", env=ENV)
    theirs = s3deploy.BucketDeployment(
        stack,
        "TheirSite",
        sources=[s3deploy.Source.data("index.html", "<p>hi</p>")],
        destination_bucket=s3.Bucket(stack, "Site", enforce_ssl=True),
        memory_limit=1024,
    )
    storage = BatchInferenceStorage(stack, "Storage")
    ours = storage.deploy_input(
        "Input", sources=[s3deploy.Source.data("users/users.json", '{"userId": "1"}')]
    )

    def acknowledged(deployment: s3deploy.BucketDeployment) -> set[str]:
        function = deployment.handler_role.node.scope
        return {
            rule
            for entry in function.node.metadata
            if entry.type == "aws:cdk:acknowledged-rules"
            for rule in entry.data
        }

    assert ours.handler_role.node.scope is not theirs.handler_role.node.scope
    assert any("AwsSolutions-L1" in rule for rule in acknowledged(ours))
    assert acknowledged(theirs) == set()
