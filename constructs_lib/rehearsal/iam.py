"""IAM policy evaluation offline: may this principal call this action on this resource, in one account?

The stand-ins of the rehearsal accept any call; a real account refuses one that no policy allows. This
module decides as the account would, from resolved policy documents (plain JSON, no intrinsics left): the
identity policies of a principal and, where the target has one, its resource policy (an S3 bucket policy,
a KMS key policy). Which resources a call is authorized against comes from the Service Authorization
Reference, through the trimmed table `iam_actions.json` (written by `scripts/iam_actions.py`).

Modelled (same account): explicit Deny wins over any Allow; Action/NotAction, Resource/NotResource with
`*` and `?` (action names case-insensitive, resources case-sensitive, ARNs compared component by
component); Principal/NotPrincipal in resource policies; the condition operators of `_OPERATORS` with
`ForAnyValue:`/`ForAllValues:` and `...IfExists`. S3: the identity policy OR the bucket policy may allow.
KMS: the key policy must allow the principal itself, or allow the account (its root) so that the identity
policy decides. Not modelled: other accounts, SCPs, permission boundaries, session policies, grants,
policy variables (`${aws:username}` stays literal, so it matches only itself).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

Document = Mapping[str, Any]
"""A policy document: {"Version": ..., "Statement": [...]} with every value resolved."""
ContextValue = str | bool | int | float | Sequence[str]
Decision = Literal["allow", "explicit deny", "implicit deny"]

ACTIONS_FILE = Path(__file__).with_name("iam_actions.json")
_ACCOUNT_ROOT = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")
_PRINCIPAL_ACCOUNT = re.compile(r"^arn:[^:]+:(?:iam|sts)::(\d{12}):")
_ARN_VARIABLE = re.compile(r"\$\{([A-Za-z]+)\}")


class UnsupportedConditionError(ValueError):
    """A condition operator this evaluator does not implement (it refuses rather than guesses)."""


class UnknownActionError(KeyError):
    """An action missing from iam_actions.json."""


# ---------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class StatementRef:
    """Where a statement comes from, for reasons a reader can find in the template."""

    policy: str  # "identity policy 'RoleDefaultPolicy'", "bucket policy of arn:aws:s3:::b", ...
    index: int
    sid: str | None
    effect: str

    def describe(self) -> str:
        sid = f" (Sid {self.sid!r})" if self.sid else ""
        return f"statement {self.index}{sid} of {self.policy}"


@dataclass(frozen=True)
class Verdict:
    """The account's answer to one request, and a sentence saying why."""

    allowed: bool
    decision: Decision
    action: str
    resource: str
    principal: str
    statement: StatementRef | None  # the statement that allowed or explicitly denied; None if implicit
    reason: str


@dataclass(frozen=True)
class _Request:
    action: str
    resource: str
    principal: str
    account: str | None
    context: Mapping[str, tuple[str, ...]]  # lower-case keys

    def subject(self) -> str:
        return f"{self.action} on {self.resource} by {self.principal}"


@dataclass(frozen=True)
class _Statement:
    ref: StatementRef
    body: Mapping[str, Any]


# ---------------------------------------------------------------------- evaluation


def evaluate(
    action: str,
    resource: str,
    *,
    principal: str,
    identity_policies: Mapping[str, Document] | Sequence[Document] = (),
    resource_policy: Document | None = None,
    resource_policy_name: str | None = None,
    context: Mapping[str, ContextValue] | None = None,
) -> Verdict:
    """Whether `principal` (a role ARN, or a service principal such as `personalize.amazonaws.com`) may
    call `action` (`service:Name`) on `resource` (an ARN, or `*` for actions without resource types).

    `identity_policies` maps a policy's name to its document (names appear in reasons); `resource_policy`
    is the bucket policy or key policy of the target, if any. `context` holds the request's condition keys;
    `aws:PrincipalArn`, `aws:PrincipalAccount` and `aws:SecureTransport` (true) are added unless given.
    """
    request = _Request(
        action=action,
        resource=resource,
        principal=principal,
        account=_account_of(principal),
        context=_request_context(principal, context or {}),
    )
    identity = list(_identity_statements(identity_policies))
    label = resource_policy_name or _resource_policy_label(action, resource)
    # Resource-policy statements that name this principal: itself, everyone, or its account.
    held = [
        s
        for s in (_statements(resource_policy, label) if resource_policy is not None else ())
        if _principal_match(s.body, request) is not None
    ]
    deny = next((s for s in [*identity, *held] if s.ref.effect == "Deny" and _applies(s, request)), None)
    if deny is not None:
        return _verdict(request, "explicit deny", deny.ref, f"explicit deny by {deny.ref.describe()}")

    identity_allow = _first_allow(identity, request)
    direct_allow = _first_allow([s for s in held if _principal_match(s.body, request) == "direct"], request)
    if _service(action) == "kms":
        return _kms_decision(request, resource_policy, label, identity, held, identity_allow, direct_allow)
    allow = identity_allow or direct_allow
    if allow is not None:
        return _verdict(request, "allow", allow.ref, f"allowed by {allow.ref.describe()}")
    return _implicit_deny(request, identity, held, label if resource_policy is not None else None)


def _kms_decision(
    request: _Request,
    key_policy: Document | None,
    label: str,
    identity: list[_Statement],
    held: list[_Statement],
    identity_allow: _Statement | None,
    direct_allow: _Statement | None,
) -> Verdict:
    """A key policy is the authority: it admits the principal itself, or delegates to the account's IAM."""
    if key_policy is None:
        return _verdict(request, "implicit deny", None, f"implicit deny: no key policy was given for {label}")
    if direct_allow is not None:
        return _verdict(request, "allow", direct_allow.ref, f"allowed by {direct_allow.ref.describe()}")
    delegation = _first_allow([s for s in held if _principal_match(s.body, request) == "account"], request)
    if delegation is not None and identity_allow is not None:
        return _verdict(
            request,
            "allow",
            identity_allow.ref,
            f"allowed by {identity_allow.ref.describe()}, which {delegation.ref.describe()} lets IAM "
            f"policies of account {request.account} decide",
        )
    if delegation is not None:
        return _implicit_deny(
            request,
            identity,
            [],
            None,
            lead=f"{delegation.ref.describe()} lets IAM policies of account {request.account} decide, "
            "but none allows it",
        )
    account = f"account {request.account}" if request.account else "its account"
    return _implicit_deny(
        request,
        [],
        held,
        label,
        lead=f"the {label} neither allows {request.principal} nor lets IAM policies of {account} decide",
    )


def _first_allow(statements: Sequence[_Statement], request: _Request) -> _Statement | None:
    return next((s for s in statements if s.ref.effect == "Allow" and _applies(s, request)), None)


def _implicit_deny(
    request: _Request,
    identity: Sequence[_Statement],
    held: Sequence[_Statement],
    resource_policy_label: str | None,
    *,
    lead: str | None = None,
) -> Verdict:
    """Implicit deny, naming what was checked and the statements that failed only on a condition."""
    if lead is None:
        checked = sorted({s.ref.policy for s in identity}) + (
            [resource_policy_label] if resource_policy_label else []
        )
        lead = "no statement allows it" + (f" (checked: {', '.join(checked)})" if checked else "")
        if request.resource == "*":
            lead += '; the action has no resource type, so only a statement with "Resource": "*" can allow it'
    near = [
        f"{s.ref.describe()} matches but its condition {failed} is not met"
        for s in [*identity, *held]
        if s.ref.effect == "Allow" and _matches(s.body, request)
        for failed in [_failed_condition(s.body.get("Condition", {}), request.context)]
        if failed is not None
    ]
    reason = f"implicit deny: {lead}" + (f"; {'; '.join(near)}" if near else "")
    return _verdict(request, "implicit deny", None, reason)


def _verdict(request: _Request, decision: Decision, ref: StatementRef | None, why: str) -> Verdict:
    return Verdict(
        allowed=decision == "allow",
        decision=decision,
        action=request.action,
        resource=request.resource,
        principal=request.principal,
        statement=ref,
        reason=f"{request.subject()}: {why}",
    )


# ---------------------------------------------------------------------- statements


def _statements(document: Document, policy: str) -> Iterator[_Statement]:
    raw = document.get("Statement", [])
    for index, body in enumerate([raw] if isinstance(raw, Mapping) else raw):
        ref = StatementRef(policy=policy, index=index, sid=body.get("Sid"), effect=str(body.get("Effect")))
        yield _Statement(ref=ref, body=body)


def _identity_statements(policies: Mapping[str, Document] | Sequence[Document]) -> Iterator[_Statement]:
    named = policies.items() if isinstance(policies, Mapping) else enumerate(policies)
    for name, document in named:
        label = f"identity policy {name!r}" if isinstance(name, str) else f"identity policy #{name}"
        yield from _statements(document, label)


def _resource_policy_label(action: str, resource: str) -> str:
    service = _service(action)
    if service == "s3":
        return f"bucket policy of {resource.split('/', 1)[0]}"
    if service == "kms":
        return f"key policy of {resource}"
    return f"resource policy of {resource}"


def _applies(statement: _Statement, request: _Request) -> bool:
    return _matches(statement.body, request) and (
        _failed_condition(statement.body.get("Condition", {}), request.context) is None
    )


def _matches(body: Mapping[str, Any], request: _Request) -> bool:
    """The statement's Action/NotAction and Resource/NotResource cover the request (conditions aside)."""
    if "Action" in body:
        action_ok = any(_action_like(p, request.action) for p in _strings(body["Action"]))
    elif "NotAction" in body:
        action_ok = not any(_action_like(p, request.action) for p in _strings(body["NotAction"]))
    else:
        return False
    if "Resource" in body:
        return action_ok and any(arn_like(p, request.resource) for p in _strings(body["Resource"]))
    if "NotResource" in body:
        return action_ok and not any(arn_like(p, request.resource) for p in _strings(body["NotResource"]))
    return action_ok


def _principal_match(body: Mapping[str, Any], request: _Request) -> Literal["direct", "account"] | None:
    """How a resource-policy statement names the principal: itself (or everyone), its account, or not."""
    if "NotPrincipal" in body:
        found = _named(body["NotPrincipal"], request)
        return "direct" if found is None else None
    return _named(body.get("Principal"), request)


def _named(principal: Any, request: _Request) -> Literal["direct", "account"] | None:
    if principal == "*":
        return "direct"
    if not isinstance(principal, Mapping):
        return None
    aws = _strings(principal.get("AWS", []))
    services = _strings(principal.get("Service", []))
    if "*" in aws or request.principal in aws or request.principal in services:
        return "direct"
    for value in aws:
        root = _ACCOUNT_ROOT.match(value)
        if request.account is not None and (
            value == request.account or (root and root[1] == request.account)
        ):
            return "account"
    return None


# ---------------------------------------------------------------------- matching


def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    return _compiled(pattern, ignore_case)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _action_like(pattern: str, action: str) -> bool:
    return _glob(pattern, ignore_case=True).fullmatch(action) is not None


def string_like(pattern: str, value: str) -> bool:
    """IAM's StringLike: `*` any run of characters, `?` one character, case-sensitive."""
    return _glob(pattern).fullmatch(value) is not None


def arn_like(pattern: str, value: str) -> bool:
    """IAM's ArnLike (and Resource matching): each of the six `:`-separated components separately."""
    if pattern == "*":
        return True
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) == 6 and len(value_parts) == 6:
        return all(string_like(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))
    return string_like(pattern, value)


def _strings(value: Any) -> list[str]:
    """A policy value as strings: one or a list; booleans as IAM spells them, numbers as written."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [item for element in value for item in _strings(element)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


# ---------------------------------------------------------------------- conditions


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def check(actual: str, expected: str) -> bool:
        a, e = _number(actual), _number(expected)
        return a is not None and e is not None and compare(a, e)

    return check


def _instant(text: str) -> datetime | None:
    """An ISO 8601 date-time or epoch seconds, as IAM's Date operators accept them."""
    number = _number(text)
    if number is not None:
        return datetime.fromtimestamp(number, tz=timezone.utc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _dated(compare: Callable[[datetime, datetime], bool]) -> Callable[[str, str], bool]:
    def check(actual: str, expected: str) -> bool:
        a, e = _instant(actual), _instant(expected)
        return a is not None and e is not None and compare(a, e)

    return check


def _in_network(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _equal(actual: str, expected: str) -> bool:
    return actual == expected


def _equal_ignoring_case(actual: str, expected: str) -> bool:
    return actual.lower() == expected.lower()


# Base operator -> (the positive comparison of one request value with one policy value, negated?).
# A negated operator holds when no request value matches any policy value.
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_equal, False),
    "StringNotEquals": (_equal, True),
    "StringEqualsIgnoreCase": (_equal_ignoring_case, False),
    "StringNotEqualsIgnoreCase": (_equal_ignoring_case, True),
    "StringLike": (lambda a, e: string_like(e, a), False),
    "StringNotLike": (lambda a, e: string_like(e, a), True),
    "NumericEquals": (_numeric(lambda a, e: a == e), False),
    "NumericNotEquals": (_numeric(lambda a, e: a == e), True),
    "NumericLessThan": (_numeric(lambda a, e: a < e), False),
    "NumericLessThanEquals": (_numeric(lambda a, e: a <= e), False),
    "NumericGreaterThan": (_numeric(lambda a, e: a > e), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, e: a >= e), False),
    "DateEquals": (_dated(lambda a, e: a == e), False),
    "DateNotEquals": (_dated(lambda a, e: a == e), True),
    "DateLessThan": (_dated(lambda a, e: a < e), False),
    "DateLessThanEquals": (_dated(lambda a, e: a <= e), False),
    "DateGreaterThan": (_dated(lambda a, e: a > e), False),
    "DateGreaterThanEquals": (_dated(lambda a, e: a >= e), False),
    "Bool": (_equal_ignoring_case, False),
    "BinaryEquals": (_equal, False),
    "IpAddress": (_in_network, False),
    "NotIpAddress": (_in_network, True),
    "ArnEquals": (lambda a, e: arn_like(e, a), False),
    "ArnLike": (lambda a, e: arn_like(e, a), False),
    "ArnNotEquals": (lambda a, e: arn_like(e, a), True),
    "ArnNotLike": (lambda a, e: arn_like(e, a), True),
}


def _parse_operator(operator: str) -> tuple[str | None, str, bool]:
    """`ForAnyValue:StringLikeIfExists` -> ("ForAnyValue", "StringLike", True)."""
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedConditionError(f"Unknown set operator {qualifier!r} in {operator!r}")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base != "Null" and base not in _OPERATORS:
        raise UnsupportedConditionError(f"Condition operator {operator!r} is not supported offline")
    return qualifier or None, base, if_exists


def condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Sequence[str]]) -> bool:
    """One `{operator: {key: expected}}` entry against a request context keyed by lower-case key names.

    A key absent from the request: `...IfExists` and `ForAllValues:` hold, `ForAnyValue:` and positive
    operators fail, negated operators (StringNotEquals, ArnNotLike, ...) hold, as in IAM.
    """
    qualifier, base, if_exists = _parse_operator(operator)
    policy_values = _strings(expected)
    present = key.lower() in context
    if base == "Null":
        return any((not present) == (value.lower() == "true") for value in policy_values)
    compare, negated = _OPERATORS[base]
    if not present:
        return if_exists or qualifier == "ForAllValues" or (qualifier is None and negated)

    def holds(actual: str) -> bool:
        matched = any(compare(actual, value) for value in policy_values)
        return not matched if negated else matched

    values = context[key.lower()]
    if qualifier == "ForAllValues":
        return all(holds(value) for value in values)
    if qualifier == "ForAnyValue":
        return any(holds(value) for value in values)
    matched = any(compare(actual, value) for actual in values for value in policy_values)
    return not matched if negated else matched


def _failed_condition(block: Mapping[str, Any], context: Mapping[str, Sequence[str]]) -> str | None:
    """The first condition of a Condition block the request does not meet, described; None if all hold."""
    for operator, entries in block.items():
        for key, expected in entries.items():
            if not condition_holds(operator, key, expected, context):
                actual = context.get(key.lower())
                shown = "absent" if actual is None else ", ".join(actual)
                return f"{operator} {key} {_strings(expected)} (request: {shown})"
    return None


def _request_context(principal: str, given: Mapping[str, ContextValue]) -> dict[str, tuple[str, ...]]:
    context: dict[str, tuple[str, ...]] = {"aws:securetransport": ("true",)}
    account = _account_of(principal)
    if account is not None:
        context["aws:principalarn"] = (principal,)
        context["aws:principalaccount"] = (account,)
    for key, value in given.items():
        context[key.lower()] = tuple(_strings(value))
    return context


def _account_of(principal: str) -> str | None:
    found = _PRINCIPAL_ACCOUNT.match(principal)
    return found[1] if found else None


def _service(action: str) -> str:
    return action.partition(":")[0].lower()


# ---------------------------------------------------------------------- required resources


@dataclass(frozen=True)
class RequiredResource:
    """A resource IAM authorizes a call against, per the Service Authorization Reference."""

    action: str  # as the table spells it: "personalize:CreateBatchInferenceJob"
    resource_type: str  # "batchInferenceJob", or "*" for actions without resource types
    arn: str
    required: bool  # the reference marks the type required (S3 marks none, yet the object is named)
    from_request: bool = True  # False: the request cannot name it; its ARN keeps `${...}` placeholders


@functools.cache
def action_table() -> Mapping[str, Any]:
    """iam_actions.json: the actions, their resource types and ARN formats, and where the data came from."""
    table: Mapping[str, Any] = json.loads(ACTIONS_FILE.read_text())
    return table


def _action_entry(action: str) -> tuple[str, Mapping[str, Any]]:
    actions: Mapping[str, Any] = action_table()["actions"]
    for name, entry in actions.items():
        if name.lower() == action.lower():
            return name, entry
    raise UnknownActionError(
        f"{action} is not in {ACTIONS_FILE.name}: add it to ACTIONS in scripts/iam_actions.py and rerun it"
    )


class _Call:
    """One API request's parameters, with the ARN formats of its action filled in."""

    def __init__(
        self,
        entry: Mapping[str, Any],
        params: Mapping[str, Any],
        *,
        partition: str,
        region: str,
        account: str,
    ) -> None:
        self.types = {t["name"]: t for t in entry["resource_types"]}
        self.params = params
        self.known = {"Partition": partition, "Region": region, "Account": account}

    def has(self, name: str) -> bool:
        return any(key.lower() == name.lower() for key in self.params)

    def param(self, name: str) -> Any:
        """A request parameter by name, whatever its case (Personalize says `jobName`, S3 `Bucket`)."""
        if name in self.params:
            return self.params[name]
        for key, value in self.params.items():
            if key.lower() == name.lower():
                return value
        raise KeyError(f"The request has no {name} parameter (parameters: {', '.join(self.params)})")

    def arn(self, resource_type: str, **variables: str) -> str:
        """The type's ARN format with partition, region, account and `variables` filled in."""
        values = {**self.known, **variables}
        return _ARN_VARIABLE.sub(
            lambda m: values.get(m[1], m[0]), self.types[resource_type]["arn_formats"][0]
        )


def _personalize_job(
    resource_type: str, arn_param: str | None = None
) -> Callable[[_Call], list[tuple[str, str]]]:
    """A Create names its job by `jobName`; a Describe by its ARN."""

    def build(call: _Call) -> list[tuple[str, str]]:
        if arn_param is not None:
            return [(resource_type, str(call.param(arn_param)))]
        return [(resource_type, call.arn(resource_type, ResourceId=str(call.param("jobName"))))]

    return build


def _batch_inference_job(call: _Call) -> list[tuple[str, str]]:
    # The current reference also requires the solution (`solution/${ResourceId}`) and does not say which
    # ARN IAM checks: the solution version the job reads (solution/<name>/<id>, which has the solution's
    # format) or its parent solution (solution/<name>). Both readings are checked, so that only a policy
    # that allows the create under either passes.
    job = _personalize_job("batchInferenceJob")(call)
    version = str(call.param("solutionVersionArn"))
    return [*job, ("solution", version), ("solution", parent_solution(version))]


def parent_solution(solution_version_arn: str) -> str:
    """``arn:...:solution/<name>`` of ``arn:...:solution/<name>/<id>`` (an ARN without an id unchanged)."""
    head, _, rest = solution_version_arn.partition(":solution/")
    if not rest:
        return solution_version_arn
    return f"{head}:solution/{rest.split('/', 1)[0]}"


def _dataset_import_job(call: _Call) -> list[tuple[str, str]]:
    # The current reference also requires the dataset the job imports into.
    job = _personalize_job("datasetImportJob")(call)
    return [*job, ("dataset", str(call.param("datasetArn")))]


# The resource type of a Personalize ARN, by its resource segment.
_PERSONALIZE_TYPES = {
    "batch-inference-job": "batchInferenceJob",
    "batch-segment-job": "batchSegmentJob",
    "dataset-import-job": "datasetImportJob",
    "data-deletion-job": "dataDeletionJob",
    "dataset-export-job": "datasetExportJob",
    "solution": "solution",
}


def _tagged(call: _Call) -> list[tuple[str, str]]:
    """Tag calls are authorized against the tagged resource (optional types in the current reference)."""
    arn = str(call.param("resourceArn"))
    segment = arn.split(":", 5)[-1].split("/", 1)[0]
    resource_type = _PERSONALIZE_TYPES.get(segment)
    return [(resource_type, arn)] if resource_type is not None and resource_type in call.types else []


def _given_arn(resource_type: str, param: str) -> Callable[[_Call], list[tuple[str, str]]]:
    return lambda call: [(resource_type, str(call.param(param)))]


def _state_machine_executions(call: _Call) -> list[tuple[str, str]]:
    # The reference marks both `maprun` and `statemachine` required, but they are alternatives: the
    # request names one of them (stateMachineArn or mapRunArn) and is authorized against that one.
    if call.has("mapRunArn"):
        return [("maprun", str(call.param("mapRunArn")))]
    return [("statemachine", str(call.param("stateMachineArn")))]


def _execution(call: _Call) -> list[tuple[str, str]]:
    # DescribeExecution lists `execution` and `express` as required: alternatives told apart by the ARN.
    arn = str(call.param("executionArn"))
    return [("express" if ":express:" in arn else "execution", arn)]


def _event_buses(call: _Call) -> list[tuple[str, str]]:
    """Each entry goes to its EventBusName (a name or an ARN); no name means the account's default bus."""
    buses: list[str] = []
    for entry in call.param("Entries"):
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else call.arn("event-bus", EventBusName=bus)
        if arn not in buses:
            buses.append(arn)
    return [("event-bus", arn) for arn in buses]


def _function(call: _Call) -> list[tuple[str, str]]:
    """FunctionName may be a name, `name:qualifier`, a partial ARN or an ARN; Qualifier may add one."""
    name = str(call.param("FunctionName"))
    qualifier = call.param("Qualifier") if call.has("Qualifier") else None
    if name.startswith("arn:"):
        arn = name
    else:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # "123456789012:function:name[:qualifier]"
            parts = parts[2:]
        arn = call.arn("function", FunctionName=parts[0]) + (f":{parts[1]}" if len(parts) > 1 else "")
    return [("function", f"{arn}:{qualifier}" if qualifier else arn)]


def _s3_object(call: _Call) -> list[tuple[str, str]]:
    bucket, key = str(call.param("Bucket")), str(call.param("Key"))
    if bucket.startswith("arn:") and ":accesspoint/" in bucket:
        return [("accesspointobject", f"{bucket}/object/{key}")]
    return [("object", call.arn("object", BucketName=bucket, ObjectName=key))]


def _s3_bucket(call: _Call) -> list[tuple[str, str]]:
    bucket = str(call.param("Bucket"))
    if bucket.startswith("arn:") and ":accesspoint/" in bucket:
        return [("accesspoint", bucket)]
    return [("bucket", call.arn("bucket", BucketName=bucket))]


def _kms_key(call: _Call) -> list[tuple[str, str]]:
    """The key's ARN: KeyId as an ARN or a key id. An alias names no key until it is looked up."""
    key = str(call.param("KeyId"))
    if key.startswith("alias/") or ":alias/" in key:
        raise ValueError(f"KeyId {key} is an alias: resolve it to its key's ARN before checking IAM")
    return [("key", key if key.startswith("arn:") else call.arn("key", KeyId=key))]


def _log_stream(call: _Call) -> list[tuple[str, str]]:
    return [
        (
            "log-stream",
            call.arn(
                "log-stream",
                LogGroupName=str(call.param("logGroupName")),
                LogStreamName=str(call.param("logStreamName")),
            ),
        )
    ]


def _stack(call: _Call) -> list[tuple[str, str]]:
    # DescribeStacks names a stack by its StackId (an ARN) or its name; no name: every stack (ListStacks).
    if not call.has("StackName"):
        return []
    name = str(call.param("StackName"))
    return [("stack", name if name.startswith("arn:") else call.arn("stack", StackName=name))]


def _role(call: _Call) -> list[tuple[str, str]]:
    # iam:PassRole is not an API call: the caller gives the ARN of the role being passed as `RoleArn`.
    return [("role", str(call.param("RoleArn")))]


# Action -> the resources its request names. Actions absent here name none (data: no resource types).
_BUILDERS: dict[str, Callable[[_Call], list[tuple[str, str]]]] = {
    "personalize:CreateBatchInferenceJob": _batch_inference_job,
    "personalize:DescribeBatchInferenceJob": _personalize_job("batchInferenceJob", "batchInferenceJobArn"),
    "personalize:CreateBatchSegmentJob": _personalize_job("batchSegmentJob"),
    "personalize:DescribeBatchSegmentJob": _personalize_job("batchSegmentJob", "batchSegmentJobArn"),
    "personalize:CreateDatasetImportJob": _dataset_import_job,
    "personalize:DescribeDatasetImportJob": _personalize_job("datasetImportJob", "datasetImportJobArn"),
    "personalize:CreateDataDeletionJob": _personalize_job("dataDeletionJob"),
    "personalize:DescribeDataDeletionJob": _personalize_job("dataDeletionJob", "dataDeletionJobArn"),
    "personalize:CreateDatasetExportJob": _personalize_job("datasetExportJob"),
    "personalize:DescribeDatasetExportJob": _personalize_job("datasetExportJob", "datasetExportJobArn"),
    # The reference has no solution-version type: a solution version's ARN (solution/<name>/<id>) has the
    # `solution` format, so calls naming a version are checked against that ARN.
    "personalize:CreateSolutionVersion": _given_arn("solution", "solutionArn"),
    "personalize:DescribeSolutionVersion": _given_arn("solution", "solutionVersionArn"),
    "personalize:StopSolutionVersionCreation": _given_arn("solution", "solutionVersionArn"),
    "personalize:GetSolutionMetrics": _given_arn("solution", "solutionVersionArn"),
    "personalize:DescribeSolution": _given_arn("solution", "solutionArn"),
    "personalize:TagResource": _tagged,
    "personalize:UntagResource": _tagged,
    "personalize:ListTagsForResource": _tagged,
    "iam:PassRole": _role,
    "cloudformation:DescribeStacks": _stack,
    "cloudformation:DescribeStackResource": _stack,
    "states:StartExecution": _given_arn("statemachine", "stateMachineArn"),
    "states:StopExecution": _given_arn("execution", "executionArn"),
    "states:DescribeExecution": _execution,
    "states:ListExecutions": _state_machine_executions,
    "events:PutEvents": _event_buses,
    "lambda:InvokeFunction": _function,
    "lambda:GetFunction": _function,
    "s3:GetObject": _s3_object,
    "s3:PutObject": _s3_object,
    "s3:ListBucket": _s3_bucket,
    "kms:Decrypt": _kms_key,
    "kms:GenerateDataKey": _kms_key,
    "kms:DescribeKey": _kms_key,
    "kms:CreateGrant": _kms_key,
    "kms:ListGrants": _kms_key,
    "logs:CreateLogStream": _log_stream,
    "logs:PutLogEvents": _log_stream,
}
# Required types that are alternatives of one another: naming one of a group satisfies the group.
_ALTERNATIVES: dict[str, tuple[frozenset[str], ...]] = {
    "states:DescribeExecution": (frozenset({"execution", "express"}),),
    "states:ListExecutions": (frozenset({"maprun", "statemachine"}),),
}


def required_resources(
    action: str, params: Mapping[str, Any], *, partition: str, region: str, account: str
) -> list[RequiredResource]:
    """The resources IAM checks `action` against for a request with `params` (the API's parameters).

    An action whose data lists no resource types needs `*`. A required type the request cannot name is
    still returned, its ARN format filled as far as known (`${ResourceId}` left in), so that only a policy
    granting every resource of that type allows it: a policy that lacks it fails as in a real account.
    """
    name, entry = _action_entry(action)
    call = _Call(entry, params, partition=partition, region=region, account=account)
    if not call.types:
        return [RequiredResource(action=name, resource_type="*", arn="*", required=True)]
    builder = _BUILDERS.get(name)
    named = builder(call) if builder is not None else []
    unknown = [resource_type for resource_type, _ in named if resource_type not in call.types]
    if unknown:
        raise UnknownActionError(f"{name} has no resource type {unknown[0]} in {ACTIONS_FILE.name}")
    found = [
        RequiredResource(name, resource_type, arn, bool(call.types[resource_type]["required"]))
        for resource_type, arn in named
    ]
    if not found and not any(spec["required"] for spec in call.types.values()):
        # Only optional types, none named: the request is authorized against what it names, if anything.
        named_arn = str(params.get("resourceArn") or "*")
        return [RequiredResource(name, "*", named_arn, True)]
    covered = {resource_type for resource_type, _ in named}
    for group in _ALTERNATIVES.get(name, ()):
        if covered & group:
            covered |= group
    for resource_type, spec in call.types.items():
        if spec["required"] and resource_type not in covered:
            arn = call.arn(resource_type)
            found.append(RequiredResource(name, resource_type, arn, True, from_request=False))
    return found


def check_call(
    action: str,
    params: Mapping[str, Any],
    *,
    principal: str,
    identity_policies: Mapping[str, Document] | Sequence[Document],
    resource_policies: Mapping[str, Document] | None = None,
    context: Mapping[str, ContextValue] | None = None,
    partition: str,
    region: str,
    account: str,
) -> Verdict:
    """One API request, checked on every resource it is authorized against: the first denial, or the
    allow of the last resource. `resource_policies` maps bucket ARNs and key ARNs to their policies."""
    verdict: Verdict | None = None
    for required in required_resources(action, params, partition=partition, region=region, account=account):
        owner = _policy_owner(required.action, required.arn)
        policy = (resource_policies or {}).get(owner) if owner else None
        verdict = evaluate(
            required.action,
            required.arn,
            principal=principal,
            identity_policies=identity_policies,
            resource_policy=policy,
            context=context,
        )
        if not verdict.allowed:
            return verdict
    assert verdict is not None  # required_resources returns at least one resource
    return verdict


def _policy_owner(action: str, arn: str) -> str | None:
    """The ARN whose resource policy governs `arn`: a bucket for S3 objects, the key itself for KMS."""
    service = _service(action)
    if service == "s3" and arn.startswith("arn:"):
        return arn.split("/", 1)[0]
    if service == "kms":
        return arn
    return None
