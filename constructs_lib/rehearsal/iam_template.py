"""The policies a synthesized template gives each role, bucket and key, as `iam.evaluate` takes them.

A role's identity policies are spread over the template the way CDK writes them: inline `Policies` on the
role, `AWS::IAM::Policy` and `AWS::IAM::RolePolicy` resources that name it, customer managed policies
attached from either side (`ManagedPolicyArns` on the role, `Roles` on the policy) and AWS managed policies
referenced by ARN. Buckets carry `AWS::S3::BucketPolicy` resources; keys carry their `KeyPolicy`. Every
value is resolved with the rehearsal's `Resolver`, so the documents hold the same fake physical ids as the
rest of the rehearsal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from constructs_lib.rehearsal.iam import Document
from constructs_lib.rehearsal.intrinsics import Resolver

_AWS_MANAGED = re.compile(r"^arn:[^:]+:iam::aws:policy/(.+)$")
_POLICY = ("PolicyName", "PolicyDocument", "Roles")

# The AWS managed policies CDK attaches to the library's roles, keyed by their path after `:policy/`.
# Documents as the AWS Managed Policy Reference publishes them (default versions checked 2026-11-27):
# AWSLambdaBasicExecutionRole v1 (unchanged since 2015-04-09) and AWSLambdaVPCAccessExecutionRole v3
# (edited 2024-01-05). A template referencing any other AWS managed policy fails loudly rather than
# being checked against nothing.
AWS_MANAGED_POLICIES: Mapping[str, Document] = {
    "service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
    "service-role/AWSLambdaVPCAccessExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSLambdaVPCAccessExecutionPermissions",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                "Resource": "*",
            }
        ],
    },
}


class UnknownManagedPolicyError(LookupError):
    """A role references an AWS managed policy missing from AWS_MANAGED_POLICIES."""


@dataclass(frozen=True)
class RolePolicies:
    """One AWS::IAM::Role: its fake physical name and ARN, trust policy and identity policies by name."""

    logical_id: str
    name: str
    arn: str
    trust_policy: Document
    policies: Mapping[str, Document]


@dataclass(frozen=True)
class TemplatePolicies:
    """Every role's identity policies, and the bucket and key policies, of one stack."""

    roles: Mapping[str, RolePolicies]  # by logical id
    bucket_policies: Mapping[str, Document]  # by bucket ARN
    key_policies: Mapping[str, Document]  # by key ARN

    def role(self, reference: str) -> RolePolicies:
        """A role by logical id, physical name or ARN."""
        for role in self.roles.values():
            if reference in (role.logical_id, role.name, role.arn):
                return role
        raise KeyError(f"No AWS::IAM::Role {reference!r} in the template (roles: {', '.join(self.roles)})")

    @property
    def resource_policies(self) -> dict[str, Document]:
        """Bucket and key policies together, by ARN, as `iam.check_call` takes them."""
        return {**self.bucket_policies, **self.key_policies}


def _resources(
    resolver: Resolver, kind: str, properties: tuple[str, ...]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Resources of one type whose Condition, if any, holds, with the named properties resolved (only
    those: another property may hold a value the rehearsal learns only later)."""
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") != kind:
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        given = resource.get("Properties", {})
        yield logical_id, {name: resolver.resolve(given[name]) for name in properties if name in given}


def _aws_managed(arn: str, role: str) -> Document:
    path = _AWS_MANAGED.match(arn)
    assert path is not None
    document = AWS_MANAGED_POLICIES.get(path[1])
    if document is None:
        raise UnknownManagedPolicyError(
            f"Role {role} attaches the AWS managed policy {arn}, whose document the rehearsal does not "
            "know: add it to AWS_MANAGED_POLICIES in constructs_lib/rehearsal/iam_template.py"
        )
    return document


def extract_policies(resolver: Resolver) -> TemplatePolicies:
    """The policies of every role, bucket and key in the resolver's template."""
    roles = {
        logical_id: properties
        for logical_id, properties in _resources(
            resolver, "AWS::IAM::Role", ("AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns")
        )
    }
    names = {logical_id: str(resolver.ref(logical_id)) for logical_id in roles}
    by_name = {name: logical_id for logical_id, name in names.items()}
    attached: dict[str, dict[str, Document]] = {logical_id: {} for logical_id in roles}

    for logical_id, properties in roles.items():
        for inline in properties.get("Policies", []):
            attached[logical_id][f"{logical_id} inline {inline['PolicyName']}"] = inline["PolicyDocument"]

    for logical_id, properties in _resources(resolver, "AWS::IAM::Policy", _POLICY):
        label = _label(logical_id, properties)
        for role_name in properties.get("Roles", []):
            if role_name in by_name:
                attached[by_name[role_name]][label] = properties["PolicyDocument"]

    for logical_id, properties in _resources(resolver, "AWS::IAM::RolePolicy", (*_POLICY, "RoleName")):
        role_name = properties.get("RoleName")
        if role_name in by_name:
            label = _label(logical_id, properties)
            attached[by_name[role_name]][label] = properties["PolicyDocument"]

    managed: dict[str, tuple[str, Document]] = {}
    for logical_id, properties in _resources(resolver, "AWS::IAM::ManagedPolicy", _POLICY):
        managed[str(resolver.ref(logical_id))] = (logical_id, properties["PolicyDocument"])
        for role_name in properties.get("Roles", []):
            if role_name in by_name:
                attached[by_name[role_name]][logical_id] = properties["PolicyDocument"]

    for logical_id, properties in roles.items():
        for arn in properties.get("ManagedPolicyArns", []):
            if arn in managed:
                policy_id, document = managed[arn]
                attached[logical_id][policy_id] = document
            elif _AWS_MANAGED.match(arn):
                attached[logical_id][arn] = _aws_managed(arn, logical_id)
            else:
                raise UnknownManagedPolicyError(
                    f"Role {logical_id} attaches {arn}, which is neither in the template nor AWS managed"
                )

    bucket_policies: dict[str, Document] = {}
    for _, properties in _resources(resolver, "AWS::S3::BucketPolicy", ("Bucket", "PolicyDocument")):
        bucket = str(properties["Bucket"])
        bucket_arn = (
            bucket if bucket.startswith("arn:") else resolver.arn("s3", bucket, region=False, account=False)
        )
        document = properties["PolicyDocument"]
        if bucket_arn in bucket_policies:  # CloudFormation allows one; merge rather than lose statements
            document = {**document, "Statement": _listed(bucket_policies[bucket_arn]) + _listed(document)}
        bucket_policies[bucket_arn] = document

    key_policies = {
        str(resolver.get_att(logical_id, "Arn")): properties.get("KeyPolicy", {})
        for logical_id, properties in _resources(resolver, "AWS::KMS::Key", ("KeyPolicy",))
    }

    return TemplatePolicies(
        roles={
            logical_id: RolePolicies(
                logical_id=logical_id,
                name=names[logical_id],
                arn=str(resolver.get_att(logical_id, "Arn")),
                trust_policy=properties.get("AssumeRolePolicyDocument", {}),
                policies=attached[logical_id],
            )
            for logical_id, properties in roles.items()
        },
        bucket_policies=bucket_policies,
        key_policies=key_policies,
    )


def _listed(document: Document) -> list[Any]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _label(logical_id: str, properties: Mapping[str, Any]) -> str:
    name = properties.get("PolicyName", logical_id)
    return logical_id if name == logical_id else f"{logical_id} ({name})"
