"""python -m constructs_lib.deploy_policy: the policy CloudFormation needs for what the templates hold,
from the resource provider schemas' handler permissions (cfn-lint's copy), over every example."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import deploy_policy as dp
from tests.apps import EXAMPLES

pytestmark = pytest.mark.slow

# What CloudFormation must be allowed for each type the library's templates hold: create and delete.
CREATE_AND_DELETE = {
    "AWS::KMS::Key": {
        "kms:CreateKey",
        "kms:ScheduleKeyDeletion",
        "kms:PutKeyPolicy",
        "kms:EnableKeyRotation",
    },
    "AWS::S3::Bucket": {"s3:CreateBucket", "s3:DeleteBucket", "s3:PutEncryptionConfiguration"},
    "AWS::S3::BucketPolicy": {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"},
    "AWS::IAM::Role": {"iam:CreateRole", "iam:DeleteRole"},
    "AWS::IAM::ManagedPolicy": {"iam:CreatePolicy", "iam:DeletePolicy", "iam:AttachRolePolicy"},
    "AWS::Lambda::Function": {
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "iam:PassRole",
        "s3:GetObject",
    },
    "AWS::Logs::LogGroup": {"logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:AssociateKmsKey"},
    "AWS::StepFunctions::StateMachine": {"states:CreateStateMachine", "states:DeleteStateMachine"},
    "AWS::Events::Rule": {"events:PutRule", "events:DeleteRule", "events:PutTargets"},
    "AWS::Personalize::Dataset": {"personalize:CreateDataset", "personalize:DeleteDataset"},
    "AWS::Personalize::Solution": {"personalize:CreateSolution", "personalize:DeleteSolution"},
}


def _actions(documents: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for document in documents:
        for statement in document["Statement"]:
            found.update(statement["Action"])
    return found


def _types(outdir: Path) -> set[str]:
    return {
        str(resource["Type"])
        for stack in dp.read_assembly(outdir)
        for resource in stack.template.get("Resources", {}).values()
    }


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_gets_a_policy_covering_each_resource_type(
    name: str, example_apps: Mapping[str, Any]
) -> None:
    outdir = example_apps[name].outdir
    documents = dp.deploy_policy(outdir)
    actions = _actions(documents)
    for resource_type in _types(outdir):
        if resource_type in dp.NO_PERMISSIONS:
            continue
        if resource_type.startswith("Custom::"):
            assert "lambda:InvokeFunction" in actions
            continue
        permissions = dp.handler_permissions(resource_type)
        assert permissions is not None, resource_type
        for handler in ("create", "update", "delete"):
            wanted = {a for a in permissions[handler] if dp.IAM_ACTION.match(a)}
            assert wanted <= actions, (resource_type, handler, wanted - actions)
        assert CREATE_AND_DELETE.get(resource_type, set()) <= actions, resource_type
    for document in documents:
        assert document["Version"] == "2012-10-17"
        assert len(re.sub(r"\s", "", json.dumps(document))) <= dp.MAX_POLICY_CHARACTERS
    assert all(dp.IAM_ACTION.match(action) for action in actions)
    # The jobs' Personalize calls are made by the stack's functions with their own roles. (A native
    # AWS::Personalize::Dataset lists CreateDatasetImportJob, for its own DatasetImportJob property.)
    jobs = {
        a for a in actions if re.match(r"personalize:Create\w*Job$|personalize:CreateSolutionVersion$", a)
    }
    assert jobs <= {"personalize:CreateDatasetImportJob"}
    assert "personalize:CreateBatchInferenceJob" not in actions


def test_the_native_personalize_resources_of_the_chain_are_covered(example_apps: Mapping[str, Any]) -> None:
    actions = _actions(dp.deploy_policy(example_apps["end_to_end"].outdir))
    assert {
        "personalize:CreateDatasetGroup",
        "personalize:CreateSchema",
        "personalize:CreateDataset",
        "personalize:CreateSolution",
        "personalize:DeleteSolution",
    } <= actions


def test_the_custom_resources_and_the_bootstrap_parameter_are_named(example_apps: Mapping[str, Any]) -> None:
    outdir = example_apps["bring_your_own"].outdir  # a stack with env: account and region known
    found = {r.type: r for r in dp.requirements(dp.read_assembly(outdir))}
    custom = found["Custom resources"]
    assert custom.actions == {"lambda:InvokeFunction"}
    assert custom.resources == {"arn:aws:lambda:us-east-1:*:function:*"}
    assert found["SSM parameters"].resources == {
        "arn:aws:ssm:us-east-1:*:parameter/cdk-bootstrap/hnb659fds/version"
    }
    assert "AWS::CloudFormation::WaitCondition" not in found


def test_an_event_rule_is_covered_where_on_state_change_is_used(example_apps: Mapping[str, Any]) -> None:
    outdir = example_apps["shared_storage"].outdir
    assert "AWS::Events::Rule" in _types(outdir)
    assert {"events:PutRule", "events:PutTargets", "events:DeleteRule"} <= _actions(dp.deploy_policy(outdir))


def test_the_command_writes_policy_files_and_explains(
    example_apps: Mapping[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = example_apps["demo"].outdir
    assert dp.main([str(outdir), "--out", str(tmp_path / "policies")]) == 0
    files = sorted((tmp_path / "policies").glob("deploy-policy-*.json"))
    assert files
    written = [json.loads(f.read_text()) for f in files]
    assert written == dp.deploy_policy(outdir)
    capsys.readouterr()
    assert dp.main([str(outdir), "--explain"]) == 0
    explained = capsys.readouterr().out
    assert "AWS::KMS::Key (PersonalizeBatchInferenceDemo)" in explained
    assert "left out, not IAM actions: s3:REST.PUT.OBJECT" in explained or "s3:REST" not in explained
    assert dp.main([str(outdir), "--stack", "Nope"]) == 2


def test_a_directory_that_is_not_an_assembly_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dp.main([str(tmp_path)]) == 2
    assert "is not a cloud assembly" in capsys.readouterr().err


def test_a_type_without_a_schema_is_named_instead_of_left_out() -> None:
    stack = dp.StackTemplate("S", "us-east-1", {"Resources": {"X": {"Type": "AWS::Nope::Thing"}}})
    with pytest.raises(dp.DeployPolicyError, match=r"AWS::Nope::Thing \(in S\)"):
        dp.requirements([stack])


def test_a_statement_too_large_for_one_policy_is_split() -> None:
    many = dp.Requirement("AWS::Big::Thing", {f"svc:Action{n:04d}Something" for n in range(600)})
    documents = dp.policy_documents([many])
    assert len(documents) > 1
    assert _actions(documents) == many.actions
    for document in documents:
        assert len(re.sub(r"\s", "", json.dumps(document))) <= dp.MAX_POLICY_CHARACTERS


def test_arns_take_the_partition_of_the_stacks_region() -> None:
    template = {
        "Parameters": {
            "V": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/x/version"}
        },
        "Resources": {
            "J": {"Type": "Custom::Thing", "Properties": {"ServiceToken": {"Fn::GetAtt": ["F", "Arn"]}}}
        },
    }
    found = {r.type: r for r in dp.requirements([dp.StackTemplate("S", "cn-north-1", template)])}
    assert found["Custom resources"].resources == {"arn:aws-cn:lambda:cn-north-1:*:function:*"}
    assert found["SSM parameters"].resources == {
        "arn:aws-cn:ssm:cn-north-1:*:parameter/cdk-bootstrap/x/version"
    }
    assert dp.partition("us-gov-west-1") == "aws-us-gov" and dp.partition(None) == "aws"
