"""The runtime's roles are frozen (the compliance packs refuse inline policies), so whatever CDK itself
would grant must already be in the runtime's managed policies: built again with ordinary roles, every
action CDK grants a role, on every resource, is allowed by that role's managed policies.

When the next aws-cdk-lib grants something new (it once added lambda:GetFunction to the Provider
framework), this test fails here instead of the user's first deploy.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from constructs_lib import BatchInferenceJob, BatchInferenceStorage, PersonalizeJobRuntime, SolutionVersion
from tests.conftest import SOLUTION_VERSION_ARN

ENV = cdk.Environment(account="123456789012", region="us-east-1")
SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
# CDK also grants invoking a function's versions and aliases (``<arn>:*``); none exist: we leave it out.
VERSIONS_OF_FUNCTIONS = ":*"

Statement = dict[str, Any]


def build(vpc: bool) -> Template:
    stack = cdk.Stack(cdk.App(), "Runtime", env=ENV)
    if vpc:
        PersonalizeJobRuntime(stack, vpc=ec2.Vpc(stack, "Vpc", max_azs=1))
    storage = BatchInferenceStorage(stack, "Storage")
    BatchInferenceJob(
        stack, "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", storage=storage
    )
    version = SolutionVersion(stack, "Version", solution_arn=SOLUTION_ARN)
    BatchInferenceJob(
        stack, "Scored", solution_version_arn=version.solution_version_arn, input_path="v/", storage=storage
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module", params=[False, True], ids=["no-vpc", "vpc"])
def templates(request: pytest.FixtureRequest) -> Iterator[tuple[Template, Template]]:
    frozen = build(request.param)
    original = iam.Role.without_policy_updates
    iam.Role.without_policy_updates = lambda self, **_: self  # type: ignore[method-assign]
    try:
        ordinary = build(request.param)
    finally:
        iam.Role.without_policy_updates = original  # type: ignore[method-assign]
    yield frozen, ordinary


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def managed_statements(template: Template) -> dict[str, list[Statement]]:
    """Role logical id -> the statements of every managed policy attached to it."""
    found: dict[str, list[Statement]] = {}
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    for role_id, role in template.find_resources("AWS::IAM::Role").items():
        for reference in role["Properties"].get("ManagedPolicyArns", []):
            if isinstance(reference, dict) and reference.get("Ref") in policies:
                found.setdefault(role_id, []).extend(
                    policies[reference["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
                )
    for policy in policies.values():
        for role in policy["Properties"].get("Roles", []):
            found.setdefault(role["Ref"], []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def cdk_statements(template: Template) -> dict[str, list[Statement]]:
    """Role logical id -> what CDK wrote into its default (inline) policy."""
    found: dict[str, list[Statement]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            found.setdefault(role["Ref"], []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def allowed(ours: list[Statement], action: str, resource: Any) -> bool:
    for statement in ours:
        if statement.get("Effect") != "Allow" or "Condition" in statement:
            continue
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _list(statement["Action"])):
            continue
        if any(r == "*" or r == resource for r in _list(statement["Resource"])):
            return True
    return False


def _is_versions_of_a_function(resource: Any) -> bool:
    text = json.dumps(resource)
    return "Fn::Join" in text and text.endswith(f'"{VERSIONS_OF_FUNCTIONS}"]]}}') and "Function" in text


def test_the_frozen_runtime_has_no_inline_policy(templates: tuple[Template, Template]) -> None:
    frozen, _ = templates
    frozen.resource_count_is("AWS::IAM::Policy", 0)


def test_what_cdk_grants_each_role_is_already_in_its_managed_policies(
    templates: tuple[Template, Template],
) -> None:
    frozen, ordinary = templates
    ours = managed_statements(frozen)
    granted = cdk_statements(ordinary)
    assert granted, "with ordinary roles CDK grants something; the comparison would prove nothing"
    missing = [
        f"{role}: {action} on {json.dumps(resource)}"
        for role, statements in granted.items()
        for statement in statements
        for action in _list(statement["Action"])
        for resource in _list(statement["Resource"])
        if not _is_versions_of_a_function(resource) and not allowed(ours.get(role, []), action, resource)
    ]
    assert missing == []


def test_the_comparison_sees_a_grant_that_is_missing(templates: tuple[Template, Template]) -> None:
    # The test above can fail: without the statement that lets the Provider framework call the handler,
    # the framework's role lacks what CDK grants it (lambda:GetFunction among it).
    frozen, ordinary = templates
    ours = managed_statements(frozen)
    (role,) = [r for r in ours if r.startswith("PersonalizeBatchInferenceRuntimeProviderFrameworkRole")]
    trimmed = [s for s in ours[role] if s.get("Sid") != "InvokeOnEvent"]
    get_function = [
        (action, resource)
        for statement in cdk_statements(ordinary).get(role, [])
        for action in _list(statement["Action"])
        for resource in _list(statement["Resource"])
        if action == "lambda:GetFunction"
    ]
    assert get_function and not all(allowed(trimmed, action, resource) for action, resource in get_function)
