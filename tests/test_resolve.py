"""Token handling done in Python to spare jsii round trips agrees with what CDK itself does."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs_lib._resolve import TokenResolver
from constructs_lib._runtime import arn, nag_arn
from constructs_lib._validation import is_token
from constructs_lib.compliance import nag_resource


@jsii.implements(cdk.IStableStringProducer)
class _Literal:
    def produce(self) -> str:
        return "lit"


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Resolve")


@pytest.fixture(scope="module")
def values(stack: cdk.Stack) -> dict[str, Any]:
    bucket = s3.Bucket(stack, "Bucket")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("personalize.amazonaws.com"))
    parameter = cdk.CfnParameter(stack, "Arn").value_as_string
    return {
        "literal": "arn:aws:personalize:us-east-1:123456789012:solution/x/1",
        "whole token": role.role_arn,
        "embedded": f"s3://{bucket.bucket_name}/users/",
        "adjacent tokens": f"{cdk.Aws.REGION}{cdk.Aws.ACCOUNT_ID}-x",
        "token resolving to a join with an empty delimiter": f"a/{cdk.Fn.join('', [cdk.Aws.REGION, 'b'])}/c",
        "token resolving to a join with a delimiter": f"a/{cdk.Fn.join('-', [cdk.Aws.REGION, 'b'])}",
        "token resolving to a literal": f"x-{cdk.Lazy.string(_Literal())}-y",
        "parameter": parameter,
        "format_arn": stack.format_arn(
            service="personalize", resource="batch-inference-job", resource_name="j*"
        ),
        "numbers": {"NumResults": 25, "POPULARITY": 0.5, "FRESHNESS": 1.0, "zero": 0.0},
        "flags": [True, False, None],
        "nested": {"a": [f"{bucket.bucket_arn}/*", {"b": role.role_name}]},
        "empty": "",
    }


def test_every_shape_resolves_as_stack_resolve_does(stack: cdk.Stack, values: dict[str, Any]) -> None:
    resolver = TokenResolver(stack)
    for name, value in values.items():
        assert resolver.resolve(value) == stack.resolve(value), name
    # Once more, now from the cache of resolved tokens.
    assert resolver.resolve(values) == stack.resolve(values)


def test_each_token_is_resolved_through_jsii_once_per_stack(
    stack: cdk.Stack, values: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = TokenResolver(stack)
    calls: list[Any] = []
    original = cdk.Stack.resolve

    def counting(self: cdk.Stack, obj: Any) -> Any:
        calls.append(obj)
        return original(self, obj)

    monkeypatch.setattr(cdk.Stack, "resolve", counting)
    resolver.resolve({"InputPath": values["embedded"], "RoleArn": values["whole token"]})
    resolver.resolve({"InputPath": values["embedded"] + "other/", "RoleArn": values["whole token"]})
    assert len(calls) == 1
    assert sorted(calls[0]) == sorted(
        [t for t in (values["whole token"], values["embedded"][5:-7]) if is_token(t)]
    )


def test_number_and_list_tokens_go_to_stack_resolve_whole(stack: cdk.Stack) -> None:
    number = cdk.CfnParameter(stack, "Count", type="Number").value_as_number
    listed = cdk.CfnParameter(stack, "Names", type="CommaDelimitedList").value_as_list
    value = {"NumResults": number, "Names": listed, "First": cdk.Fn.select(0, listed)}
    assert (
        TokenResolver(stack).resolve(value)
        == stack.resolve(value)
        == {
            "NumResults": {"Ref": "Count"},
            "Names": {"Ref": "Names"},
            "First": {"Fn::Select": [0, {"Ref": "Names"}]},
        }
    )


def test_is_token_agrees_with_token_is_unresolved(values: dict[str, Any]) -> None:
    strings = [v for v in values.values() if isinstance(v, str)]
    strings += [
        "${Token[not closed",
        "${Token[a b]}",
        "${Token[TOKEN.1]}",
        cdk.Token.as_list({"Ref": "X"})[0],
    ]
    for text in strings:
        assert is_token(text) == cdk.Token.is_unresolved(text), text


def test_each_stack_resolves_its_own_tokens(stack: cdk.Stack) -> None:
    other = cdk.Stack(cdk.App(), "Other")
    bucket = s3.Bucket(other, "Elsewhere")
    resolver = TokenResolver.of(other)
    assert TokenResolver.of(other) is resolver
    assert TokenResolver.of(stack) is not resolver
    path = f"s3://{bucket.bucket_name}/x/"
    assert resolver.resolve(path) == other.resolve(path)
    assert resolver.resolve(path)["Fn::Join"][1][1] == {
        "Ref": other.get_logical_id(bucket.node.default_child)
    }


@jsii.implements(cdk.IStableListProducer)
class _Names:
    def produce(self) -> list[str]:
        return ["a", "b"]


@jsii.implements(cdk.IStableNumberProducer)
class _Count:
    def produce(self) -> float:
        return 7


def test_lazy_lists_and_numbers_and_imports_resolve_as_stack_resolve_does(stack: cdk.Stack) -> None:
    value = {
        "Names": cdk.Lazy.list(_Names()),
        "Count": cdk.Lazy.number(_Count()),
        "Imported": f"arn:{cdk.Fn.import_value('SolutionArn')}/1",
    }
    assert TokenResolver(stack).resolve(value) == stack.resolve(value)


def test_nag_arn_spells_an_arn_as_cdk_nag_reports_it(stack: cdk.Stack) -> None:
    for service, resource in (("personalize", "batch-inference-job/Stack-*"), ("states", "execution:m:*")):
        assert nag_arn(service, resource) == nag_resource(stack, arn(service, resource))
