"""IAM as a real account enforces it, in the rehearsal.

Every AWS call a function's code makes is checked against the policies the synthesized templates give
that function's role (iam.check_call), with the dependent actions AWS checks too (iam:PassRole for a
role passed to Personalize, with iam:PassedToService; TagResource for tags passed at create; KMS for
S3 objects under a bucket key); so are the invocations the Provider framework and the monitor make, each
function's log writes, and Personalize reading the input and writing the output as the job's role
(against the role's policies, the bucket policies and the key policies). A call the policies would deny
raises AccessDeniedException, as AWS would, and is recorded with the action, the resource and the role.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from constructs_lib._contract import contract
from constructs_lib.rehearsal import iam
from constructs_lib.rehearsal.iam_template import TemplatePolicies, extract_policies
from constructs_lib.rehearsal.intrinsics import Resolver, UnresolvableError

PERSONALIZE = "personalize.amazonaws.com"
# botocore's service names -> IAM's prefixes, where they differ; S3 operations -> IAM actions.
_PREFIXES = {"stepfunctions": "states"}
_S3_ACTIONS = {"ListObjectsV2": "ListBucket", "ListObjects": "ListBucket"}
# What S3 asks of the bucket's KMS key for an object of an SSE-KMS bucket.
_KMS_FOR_S3 = {"s3:GetObject": "kms:Decrypt", "s3:PutObject": "kms:GenerateDataKey"}


@dataclass(frozen=True)
class Denial:
    principal: str
    role: str  # the role's stack and logical id
    action: str
    resource: str
    reason: str

    def describe(self) -> str:
        why = self.reason.split(": ", 1)[-1] if ": " in self.reason else self.reason
        return f"IAM: role {self.role} may not {self.action} on {self.resource} ({why})"


@dataclass
class _Account:
    """Every role's policies and every resource policy, from the stacks as deployed now."""

    roles: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # role ARN -> policies by name
    labels: dict[str, str] = field(default_factory=dict)  # role ARN -> "<stack>/<logical id>"
    resource_policies: dict[str, Any] = field(default_factory=dict)  # bucket / key ARN -> policy
    bucket_keys: dict[str, str] = field(default_factory=dict)  # bucket name -> its KMS key ARN
    unreadable: list[str] = field(default_factory=list)


class Enforcer:
    """Checks calls; ``resolvers`` gives the resolvers of the stacks deployed right now."""

    def __init__(self, resolvers: Callable[[], list[Resolver]]) -> None:
        self._resolvers = resolvers
        self._account: _Account | None = None
        self._seen: tuple[int, ...] = ()
        self.denials: list[Denial] = []
        self.deleted_roles: set[str] = set()  # roles of stacks deleted since (a job may outlive its stack)

    @property
    def account(self) -> _Account:
        """The policies of the stacks as deployed now (read again when a template changed)."""
        resolvers = self._resolvers()
        seen = tuple(id(resolver) for resolver in resolvers)
        if self._account is None or seen != self._seen:
            before = set(self._account.roles) if self._account is not None else set()
            self._account, self._seen = _read(resolvers), seen
            self.deleted_roles = (self.deleted_roles | before) - set(self._account.roles)
        return self._account

    # ------------------------------------------------------------------ checks

    def check(
        self,
        principal: str | None,
        action: str,
        params: Mapping[str, Any],
        *,
        region: str,
        account: str,
        context: Mapping[str, iam.ContextValue] | None = None,
    ) -> Denial | None:
        """Whether ``principal`` (a role ARN of the templates) may make the call; None when it may, or
        when the role is not one of the templates (a role brought by ARN: its policies are not known)."""
        roles = self.account.roles
        if principal is not None and principal not in roles and principal in self.deleted_roles:
            # Not a policy's finding: the role is gone (its stack was deleted), so nothing it does works.
            return Denial(
                principal, principal, action, "", "the role no longer exists: its stack was deleted"
            )
        if principal is None or principal not in roles:
            return None
        verdict = iam.check_call(
            action,
            params,
            principal=principal,
            identity_policies=self.account.roles[principal],
            resource_policies=self.account.resource_policies,
            context=context,
            partition="aws",
            region=region,
            account=account,
        )
        if verdict.allowed:
            return None
        label = self.account.labels.get(principal, principal)
        denial = Denial(principal, label, verdict.action, verdict.resource, verdict.reason)
        self.denials.append(denial)
        return denial

    def check_api_call(
        self,
        principal: str | None,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        region: str,
        account: str,
    ) -> Denial | None:
        """An API call and what AWS checks with it; the first denial."""
        actions = _actions_of(
            service, operation, params, self.account.bucket_keys, region=region, account=account
        )
        for action, action_params, context in actions:
            denial = self.check(
                principal, action, action_params, region=region, account=account, context=context
            )
            if denial is not None:
                return denial
        return None

    def personalize_access(self, role: str, action: str, resource: str, key: str | None) -> str | None:
        """Personalize, acting as the job's role, on S3 (and the key that encrypts it)."""
        region, account = _region_account(role)
        bucket, _, object_key = resource.removeprefix("arn:aws:s3:::").partition("/")
        params: dict[str, Any] = (
            {"Bucket": bucket} if action == "s3:ListBucket" else {"Bucket": bucket, "Key": object_key}
        )
        denial = self.check(role, action, params, region=region, account=account)
        if denial is None and key and action in _KMS_FOR_S3:
            denial = self.check(role, _KMS_FOR_S3[action], {"KeyId": key}, region=region, account=account)
        return denial.describe() if denial is not None else None

    # ------------------------------------------------------------------ the handlers' own calls

    @contextmanager
    def calls_of(self, principal: str | None, *, region: str, account: str) -> Iterator[None]:
        """While a function runs, its botocore calls are checked (this thread's only: the stand-ins answer
        from their own threads and are not the function)."""
        import botocore.client
        from botocore.exceptions import ClientError

        original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
        owner = threading.get_ident()
        enforcer = self

        def checked(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if threading.get_ident() == owner:
                service = client.meta.service_model.service_name
                denial = enforcer.check_api_call(
                    principal, service, operation, params, region=region, account=account
                )
                if denial is not None:
                    answer: Any = {
                        "Error": {
                            # The query protocol services (CloudFormation) say AccessDenied, as S3 does.
                            "Code": "AccessDenied"
                            if service in ("s3", "cloudformation")
                            else "AccessDeniedException",
                            "Message": f"User: {denial.principal} is not authorized to perform: "
                            f"{denial.action} on resource: {denial.resource}",
                        },
                        "ResponseMetadata": {"HTTPStatusCode": 403},
                    }
                    raise ClientError(answer, operation)
            return original(client, operation, params)

        setattr(botocore.client.BaseClient, "_make_api_call", checked)  # noqa: B010 (private, undeclared)
        try:
            yield
        finally:
            setattr(botocore.client.BaseClient, "_make_api_call", original)  # noqa: B010


def _actions_of(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    bucket_keys: Mapping[str, str],
    *,
    region: str,
    account: str,
) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, iam.ContextValue] | None]]:
    prefix = _PREFIXES.get(service, service)
    name = _S3_ACTIONS.get(operation, operation) if prefix == "s3" else operation
    action = f"{prefix}:{name}"
    # A listing's prefix is a condition key of s3:ListBucket (a grant may be scoped to a path).
    listing = action == "s3:ListBucket" and operation in ("ListObjectsV2", "ListObjects")
    yield action, params, {"s3:prefix": str(params.get("Prefix") or "")} if listing else None
    kind = next((kind for kind in contract.KINDS.values() if kind.create == operation), None)
    if prefix == "personalize" and kind is not None:
        if params.get("roleArn"):
            yield "iam:PassRole", {"RoleArn": params["roleArn"]}, {"iam:PassedToService": PERSONALIZE}
        if params.get("tags"):
            # A create with tags is also a TagResource on the job it creates.
            job = kind.job_arn("aws", region, account, str(params[kind.name_member])) or params.get(
                "solutionArn"
            )
            yield "personalize:TagResource", {"resourceArn": job, "tags": params["tags"]}, None
    if prefix == "s3" and action in _KMS_FOR_S3 and params.get("Bucket") in bucket_keys:
        yield _KMS_FOR_S3[action], {"KeyId": bucket_keys[str(params["Bucket"])]}, None


def _region_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return (parts[3] or "us-east-1"), parts[4]


def _read(resolvers: list[Resolver]) -> _Account:
    account = _Account()
    for resolver in resolvers:
        try:
            policies: TemplatePolicies = extract_policies(resolver)
        except (UnresolvableError, LookupError) as error:
            account.unreadable.append(f"{resolver.stack_name}: {error}")
            continue
        for role in policies.roles.values():
            account.roles[role.arn] = role.policies
            account.labels[role.arn] = f"{resolver.stack_name}/{role.logical_id}"
        account.resource_policies.update(policies.resource_policies)
        account.bucket_keys.update(_bucket_keys(resolver))
    return account


def _bucket_keys(resolver: Resolver) -> dict[str, str]:
    """Bucket name -> the KMS key ARN its default encryption uses."""
    found: dict[str, str] = {}
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        rules = (
            resource.get("Properties", {})
            .get("BucketEncryption", {})
            .get("ServerSideEncryptionConfiguration", [])
        )
        for rule in rules:
            key = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
            if key is None:
                continue
            try:
                found[resolver.physical_name(logical_id, resource)] = str(resolver.resolve(key))
            except UnresolvableError:
                continue
    return found
