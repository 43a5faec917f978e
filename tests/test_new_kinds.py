"""DataDeletionJob and DatasetExportJob as constructs: their resources, properties, IAM, chain, events,
grants and validation. One app (the data lifecycle example) is synthesized for the module; validation
builds construct trees without synthesizing them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from constructs_lib import (
    BatchInferenceStorage,
    DataDeletionJob,
    DatasetExportIngestionMode,
    DatasetExportJob,
    PersonalizeJob,
)
from examples import data_lifecycle
from tests.apps import REPO

ENV = cdk.Environment(account="123456789012", region="us-east-1")
DATASET_GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
DATASET_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/INTERACTIONS"
DELETION_TYPE = "Custom::PersonalizeDataDeletionJob"
EXPORT_TYPE = "Custom::PersonalizeDatasetExportJob"


class Lifecycle:
    def __init__(self) -> None:
        app = cdk.App()
        data_lifecycle.build(app)
        self.stack = app.node.find_child("PersonalizeDataLifecycle")
        assert isinstance(self.stack, cdk.Stack)
        self.erase = self.stack.node.find_child("EraseRequestedUsers")
        self.export = self.stack.node.find_child("ExportInteractions")
        self.load = self.stack.node.find_child("ImportInteractions")
        self.template = Template.from_stack(self.stack)
        self.json: dict[str, Any] = self.template.to_json()

    def logical_id(self, job: Any) -> str:
        return str(self.stack.get_logical_id(job.resource.node.default_child))

    def properties(self, job: Any) -> dict[str, Any]:
        resource: dict[str, Any] = self.json["Resources"][self.logical_id(job)]
        return resource

    def statements(self, action: str) -> list[dict[str, Any]]:
        found = []
        for resource in self.json["Resources"].values():
            if resource["Type"] not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                if action in actions:
                    found.append(statement)
        return found


@pytest.fixture(scope="module")
def lifecycle() -> Lifecycle:
    return Lifecycle()


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


# ---------------------------------------------------------------- templates


def test_each_kind_is_one_custom_resource_held_by_its_own_wait_condition(lifecycle: Lifecycle) -> None:
    lifecycle.template.resource_count_is(DELETION_TYPE, 1)
    lifecycle.template.resource_count_is(EXPORT_TYPE, 1)
    for job in (lifecycle.erase, lifecycle.export):
        assert isinstance(job, PersonalizeJob) and job.wait_condition is not None
        condition = lifecycle.json["Resources"][lifecycle.stack.get_logical_id(job.wait_condition)]
        assert lifecycle.logical_id(job) in condition["DependsOn"]


def test_the_deletion_reads_its_list_from_the_brought_bucket_with_its_storages_role(
    lifecycle: Lifecycle,
) -> None:
    props = lifecycle.properties(lifecycle.erase)["Properties"]
    assert props["DatasetGroupArn"] == {"Fn::GetAtt": ["DatasetGroup", "DatasetGroupArn"]}
    assert props["DataLocation"] == f"s3://{data_lifecycle.REQUESTS_BUCKET}/erase/users.csv"
    role = lifecycle.erase.storage.role.role_arn
    assert props["RoleArn"] == lifecycle.stack.resolve(role)
    assert "OutputBucket" not in props and "OutputKmsKeyArn" not in props


def test_the_export_writes_under_its_own_prefix_with_the_output_key(lifecycle: Lifecycle) -> None:
    props = lifecycle.properties(lifecycle.export)["Properties"]
    storage = lifecycle.export.storage
    assert props["DatasetArn"] == {"Fn::GetAtt": ["Interactions", "DatasetArn"]}
    assert props["IngestionMode"] == "ALL"
    assert props["OutputBucket"] == lifecycle.stack.resolve(storage.output_bucket.bucket_name)
    assert props["OutputPrefix"] == "dataset-export/PersonalizeDataLifecycle/ExportInteractions/"
    assert props["OutputKmsKeyArn"] == lifecycle.stack.resolve(storage.output_key.key_arn)


def test_the_jobs_chain_import_then_deletion_then_export(lifecycle: Lifecycle) -> None:
    # add_dependency on a job waits for its end: the next job's resource depends on its WaitCondition.
    erase = lifecycle.properties(lifecycle.erase)
    export = lifecycle.properties(lifecycle.export)
    assert lifecycle.stack.get_logical_id(lifecycle.load.wait_condition) in erase["DependsOn"]
    assert lifecycle.stack.get_logical_id(lifecycle.erase.wait_condition) in export["DependsOn"]


@pytest.mark.parametrize(
    ("action", "source"),
    [
        ("personalize:CreateDataDeletionJob", {"Fn::GetAtt": ["DatasetGroup", "DatasetGroupArn"]}),
        ("personalize:CreateDatasetExportJob", {"Fn::GetAtt": ["Interactions", "DatasetArn"]}),
    ],
)
def test_the_functions_may_create_each_kind_on_its_jobs_and_its_source(
    lifecycle: Lifecycle, action: str, source: dict[str, Any]
) -> None:
    resources = [r for s in lifecycle.statements(action) for r in _resources(s)]
    assert source in resources
    job_type = "data-deletion-job" if "Deletion" in action else "dataset-export-job"
    assert any(job_type in str(r) for r in resources)


def test_the_deletion_role_is_passed_to_personalize_only(lifecycle: Lifecycle) -> None:
    role = lifecycle.stack.resolve(lifecycle.erase.storage.role.role_arn)
    passes = [s for s in lifecycle.statements("iam:PassRole") if role in _resources(s)]
    assert passes and all(
        s["Condition"] == {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}
        for s in passes
    )


def test_the_check_may_write_the_exports_manifest_under_its_prefix(lifecycle: Lifecycle) -> None:
    prefix = "dataset-export/PersonalizeDataLifecycle/ExportInteractions/latest.json"
    assert any(prefix in str(_resources(s)) for s in lifecycle.statements("s3:PutObject"))


def test_end_events_of_each_kind_are_matched_by_its_detail_type(lifecycle: Lifecycle) -> None:
    scope = cdk.Stack(cdk.App(), "Events", env=ENV)
    storage = _sse_s3_storage(scope)
    erase = DataDeletionJob(
        scope, "Erase", dataset_group_arn=DATASET_GROUP_ARN, data_path="erase/users.csv", storage=storage
    )
    export = DatasetExportJob(
        scope, "Export", dataset_arn=DATASET_ARN, storage=BatchInferenceStorage(scope, "S")
    )
    patterns = {
        job.kind.key: scope.resolve(job.on_failure("Failed").node.default_child.event_pattern)
        for job in (erase, export)
    }
    assert patterns["data-deletion"]["detail-type"] == ["Personalize Data Deletion Job State Change"]
    assert patterns["dataset-export"]["detail-type"] == ["Personalize Dataset Export Job State Change"]
    assert all(pattern["detail"]["result"] == ["FAILURE"] for pattern in patterns.values())


def test_the_exports_results_are_granted_as_a_batch_jobs() -> None:
    scope = cdk.Stack(cdk.App(), "Grants", env=ENV)
    export = DatasetExportJob(
        scope, "Export", dataset_arn=DATASET_ARN, storage=BatchInferenceStorage(scope, "S")
    )
    reader = iam.Role(scope, "Reader", assumed_by=iam.AccountRootPrincipal())
    assert isinstance(export.grant_read_results(reader), iam.Grant)


def test_an_app_without_the_new_kinds_never_imports_them() -> None:
    code = (
        "import sys, constructs_lib; from constructs_lib import BatchInferenceJob; "
        "print(sorted(m for m in sys.modules if m in "
        "('constructs_lib.data_deletion', 'constructs_lib.dataset_export')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- validation


def _sse_s3_storage(scope: cdk.Stack) -> BatchInferenceStorage:
    bucket = s3.Bucket.from_bucket_name(scope, "Requests", "privacy-requests")
    return BatchInferenceStorage(scope, "Privacy", input_bucket=bucket, output_bucket=bucket)


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Checks", env=ENV)


def test_a_deletion_refuses_a_storage_whose_input_bucket_has_a_customer_key() -> None:
    stack = _stack()
    with pytest.raises(ValueError) as raised:
        DataDeletionJob(
            stack,
            "Erase",
            dataset_group_arn=DATASET_GROUP_ARN,
            data_path="erase/users.csv",
            storage=BatchInferenceStorage(stack, "Storage"),
        )
    message = str(raised.value)
    assert "Checks/Erase" in message and "storage='Checks/Storage'" in message
    assert "customer managed KMS key" in message and "S3_MANAGED" in message


def test_a_deletion_names_every_bad_prop_at_once() -> None:
    stack = _stack()
    with pytest.raises(ValueError) as raised:
        DataDeletionJob(
            stack,
            "Erase",
            dataset_group_arn=DATASET_ARN,
            data_path="s3://privacy-requests/erase/users.csv",
            storage=_sse_s3_storage(stack),
            tags={"aws:owner": "x"},
        )
    message = str(raised.value)
    assert f"dataset_group_arn={DATASET_ARN!r} is a dataset ARN, not a dataset group ARN" in message
    assert "data_path='s3://privacy-requests/erase/users.csv'" in message
    assert "aws:" in message


def test_an_export_refuses_an_unknown_mode_and_a_prefix_without_a_slash() -> None:
    stack = _stack()
    with pytest.raises(ValueError) as raised:
        DatasetExportJob(
            stack,
            "Export",
            dataset_arn=DATASET_GROUP_ARN,
            storage=BatchInferenceStorage(stack, "Storage"),
            ingestion_mode="EVERYTHING",
            output_prefix="exports",
        )
    message = str(raised.value)
    assert "ingestion_mode='EVERYTHING' is not one of DatasetExportIngestionMode.BULK" in message
    assert "output_prefix='exports'" in message
    assert f"dataset_arn={DATASET_GROUP_ARN!r}" in message


def test_an_export_mode_given_as_a_string_works_like_the_enum() -> None:
    stack = _stack()
    storage = BatchInferenceStorage(stack, "Storage")
    by_string = DatasetExportJob(stack, "A", dataset_arn=DATASET_ARN, storage=storage, ingestion_mode="BULK")
    by_enum = DatasetExportJob(
        stack, "B", dataset_arn=DATASET_ARN, storage=storage, ingestion_mode=DatasetExportIngestionMode.BULK
    )
    resolved = [
        stack.resolve(job.resource.node.default_child._cfn_properties) for job in (by_string, by_enum)
    ]
    assert resolved[0]["IngestionMode"] == resolved[1]["IngestionMode"] == "BULK"
