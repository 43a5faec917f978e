"""What every stack with Personalize jobs shares: the handler, the provider and the monitor."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct, DependencyGroup, IConstruct

from constructs_lib import _reads
from constructs_lib._assets import handler_code
from constructs_lib._contract import contract
from constructs_lib._validation import child_path, is_token, raise_if_errors
from constructs_lib.compliance import COMPLIANCE_PACKS, Acknowledgements, nag_form
from constructs_lib.storage import PERSONALIZE_PRINCIPAL

# The runtime's construct id is public contract: renaming it would replace the functions and the state
# machine of every deployed stack (and stop the monitors running in it).
RUNTIME_ID = "PersonalizeBatchInferenceRuntime"
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# Longer than the longest job timeout (12 h), so a monitor always gets to report.
MONITOR_TIMEOUT_SECONDS = 13 * 3600
FUNCTION_MEMORY_MB = 256
PROVIDER_FRAMEWORK_MEMORY_MB = 128
# CloudFormation fails the job resource when the handler has not answered by then (default: 1 hour).
SERVICE_TIMEOUT = Duration.seconds(contract.SERVICE_TIMEOUT_SECONDS)
# IAM's default quota of managed policies attached to one role, and how many the runtime attaches itself.
MANAGED_POLICIES_PER_ROLE = 10
SHARED_POLICIES = {"OnEvent": 1, "Check": 2}
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
VPC_ACCESS_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
# What Step Functions needs to deliver execution logs and traces; none of it takes a resource ARN.
STATE_MACHINE_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
]
_SYNCHRONOUS = (
    "Invoked synchronously: the Provider framework relays CloudFormation's call and answers it itself, "
    "and Step Functions invokes the check and retries it; a dead-letter queue only receives failed "
    "asynchronous invocations."
)


# What LambdaInvoke(retry_on_service_exceptions=True) retries, as it wrote them.
_LAMBDA_SERVICE_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]


def monitor_definition(check_arn: str) -> str:
    """The monitor's Amazon States Language, written as aws_stepfunctions_tasks.LambdaInvoke
    (payload_response_only, retry_on_service_exceptions) and the state classes wrote it, key for key and
    in the same order: deployed state machines see no change. Written here rather than built from those
    classes because importing aws_stepfunctions_tasks and a construct per state cost every synth about
    0.2 s of CPU (issue 23). ``check_arn`` is a token: it renders as Fn::Join around Fn::GetAtt."""

    def invoke(payload: dict[str, str]) -> dict[str, Any]:
        return {"Type": "Task", "Resource": check_arn, "Parameters": payload}

    retry = [
        {"ErrorEquals": _LAMBDA_SERVICE_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2},
        {
            "ErrorEquals": ["Lambda.TooManyRequestsException", "Lambda.ResourceNotReadyException"],
            "IntervalSeconds": 5,
            "MaxAttempts": 8,
            "BackoffRate": 2,
        },
        {"ErrorEquals": ["States.TaskFailed", "States.Timeout"], "IntervalSeconds": 10, "MaxAttempts": 2},
    ]
    payload = {"state.$": "$", "now.$": "$$.State.EnteredTime", "execution.$": "$$.Execution.Id"}
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Next": "JobEnded",
                "Retry": retry,
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "ReportMonitorFailure"}
                ],
                **invoke(payload),
            },
            "WaitForNextCheck": {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": "Check"},
            "JobEnded": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Reported"}],
                "Default": "WaitForNextCheck",
            },
            "Reported": {"Type": "Succeed"},
            "ReportMonitorFailure": {
                "Next": "MonitorFailed",
                "Retry": retry,
                **invoke({**payload, "abort.$": "$.caught"}),
            },
            "MonitorFailed": {
                "Type": "Fail",
                "Cause": "The monitor stopped on an error; the job was reported FAILED",
            },
        },
        "TimeoutSeconds": MONITOR_TIMEOUT_SECONDS,
        "Comment": "Polls one Personalize job until it ends, then reports it",
    }
    return json.dumps(definition, separators=(",", ":"))


def stack_arn(scope: IConstruct, service: str, resource: str) -> str:
    """``Stack.format_arn`` of ``scope``'s stack, in the deploying partition, region and account as
    pseudo parameters even where the stack names its env: the policies of existing stacks name
    ``AWS::Region`` and ``AWS::AccountId`` and keep doing so."""
    partition, region, account = _pseudo_parameters()
    stack = scope if isinstance(scope, Stack) else Stack.of(scope)
    return _reads.once(
        stack,
        f"arn {service} {resource}",
        lambda: stack.format_arn(
            service=service, resource=resource, partition=partition, region=region, account=account
        ),
    )


@functools.cache
def _pseudo_parameters() -> tuple[str, str, str]:
    """``Aws.PARTITION``, ``Aws.REGION`` and ``Aws.ACCOUNT_ID``: tokens aws-cdk-lib makes once, read once."""
    return Aws.PARTITION, Aws.REGION, Aws.ACCOUNT_ID


class _RuntimeFunctions(iam.PrincipalBase):
    """The runtime's functions as the grantee of an ``iam.Grant`` whose statements the runtime has
    already placed in its managed policies (widening shared statements): the grant records what was
    asked for, and depends on the policies a job's resource must wait for (none for a grant on a literal
    ARN, held by the runtime's own policies, which every job waits for anyway).

    A subclass of a jsii class (not a plain ``jsii.implements``): jsii then makes its JavaScript object
    once, where a plain Python principal is made again each time it is passed, and its grant principal
    (itself) is answered without calling back into Python."""

    def __init__(self, policies: Sequence[iam.ManagedPolicy]) -> None:
        super().__init__()
        self._dependable = DependencyGroup(*policies)

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return iam.PrincipalPolicyFragment({})

    def dedupe_string(self) -> str | None:
        return None  # never merged with another principal

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._dependable)


@dataclass(frozen=True)
class Placed:
    """What a runtime placed for a job: the policies the job's resource must wait for, and each grant
    as asked (the policies holding it, actions, resources, conditions), turned into an ``iam.Grant`` only
    for a caller who asks (the jobs depend on the policies alone: a grant costs jsii round trips)."""

    policies: tuple[iam.ManagedPolicy, ...]
    grants: tuple[tuple[tuple[iam.ManagedPolicy, ...], tuple[str, ...], tuple[str, ...], Any], ...]

    def __add__(self, other: Placed) -> Placed:
        return Placed(_distinct_tuple((*self.policies, *other.policies)), (*self.grants, *other.grants))


def _distinct_tuple(policies: Sequence[iam.ManagedPolicy]) -> tuple[iam.ManagedPolicy, ...]:
    return tuple({id(policy): policy for policy in policies}.values())


class _PlacedGrants:
    """``iam.Grant``s of what a runtime placed in its policies (see ``_RuntimeFunctions``), made once per
    distinct grant: a job's grants mostly repeat its stack's (the same role, bucket, key and job pattern),
    and each new one costs jsii round trips (the grantee, its dependable, the grant and two callbacks)."""

    def __init__(self) -> None:
        self._grantees: dict[tuple[int, ...], _RuntimeFunctions] = {}
        self._grants: dict[tuple[Any, ...], iam.Grant] = {}

    def grant(
        self,
        policies: Sequence[iam.ManagedPolicy],
        actions: Sequence[str],
        resources: Sequence[str],
        conditions: Mapping[str, Any] | None = None,
    ) -> iam.Grant:
        # The policies are the runtime's children (or its owners'): alive, so their ids stay theirs.
        placed = _distinct(policies)
        actions, resources = list(dict.fromkeys(actions)), list(dict.fromkeys(resources))
        key = (tuple(map(id, placed)), tuple(actions), tuple(resources), repr(conditions))
        found = self._grants.get(key)
        if found is None:
            grantee = self._grantees.get(key[0])
            if grantee is None:
                grantee = self._grantees[key[0]] = _RuntimeFunctions(placed)
            found = self._grants[key] = iam.Grant.add_to_principal(
                grantee=grantee,
                actions=actions,
                resource_arns=resources,
                conditions=dict(conditions) if conditions else None,
            )
        return found


class PersonalizeJobRuntime(Construct):
    """One per stack: the on-event handler behind a Provider, and the monitor state machine.

    Jobs find the stack's runtime (or create it with default settings) on their own. Create it yourself,
    once per stack and before the jobs, to place its functions in a VPC or to encrypt its logs with a key
    you bring; jobs then find it (or take it as ``runtime=``).

    Every role of the runtime gets its permissions from one customer-managed policy that lists them all
    (the compliance packs refuse inline policies): the roles are handed to CDK as
    ``without_policy_updates()`` views, and tests/test_runtime_iam.py builds the same runtime with
    ordinary roles to prove that whatever CDK itself would grant is in those policies.
    """

    vpc: ec2.IVpc | None
    """The VPC of the handler and monitor functions; None when they run outside a VPC."""
    logs_key: kms.IKey
    """The KMS key encrypting the functions' and the monitor's log groups: created, or the one given."""
    on_event_function: lambda_.Function
    """The function behind the Provider: creates or adopts each job and starts its monitor."""
    on_event_policy: iam.ManagedPolicy
    """The managed policy holding every permission of the on-event function."""
    check_function: lambda_.Function
    """The monitor's check function: describes a job, decides when to look again, signals its end."""
    check_policy: iam.ManagedPolicy
    """The managed policy holding every permission of the check function."""
    state_machine: sfn.StateMachine
    """The monitor: one Step Functions execution per job run, a Wait -> check -> Choice loop."""
    monitor_policy: iam.ManagedPolicy
    """The managed policy holding every permission of the monitor state machine."""
    provider: cr.Provider
    """The CDK Provider framework in front of the on-event function."""
    provider_policy: iam.ManagedPolicy
    """The managed policy holding every permission of the Provider framework's function."""
    service_token: str
    """The ServiceToken of the jobs' custom resources (the Provider's)."""

    @classmethod
    def of(cls, scope: Construct) -> PersonalizeJobRuntime:
        """The stack's runtime, created with default settings if the stack has none yet."""
        stack = scope if isinstance(scope, Stack) else Stack.of(scope)
        found = cls.find(stack)
        return found if found is not None else cls(stack)

    @classmethod
    def find(cls, scope: Construct) -> PersonalizeJobRuntime | None:
        """The runtime of ``scope``'s stack (or of the stack given), if it has one yet."""
        stack = scope if isinstance(scope, Stack) else Stack.of(scope)
        found = _reads.once(stack, "node", lambda: stack.node).try_find_child(RUNTIME_ID)
        return found if isinstance(found, PersonalizeJobRuntime) else None

    def __init__(
        self,
        scope: Construct,
        id: str = RUNTIME_ID,
        *,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        logs_key: kms.IKey | None = None,
    ) -> None:
        """
        :param id: The runtime's id. Jobs look for the stack's runtime under the default id at the
            stack's top level; a runtime created anywhere else must be given to each job as ``runtime=``.
        :param vpc: VPC for the handler and monitor functions. They need a route to the Personalize,
            Step Functions, EventBridge and S3 APIs (NAT or VPC endpoints). Default: the functions run
            outside any VPC.
        :param vpc_subnets: Subnets of ``vpc`` for those functions. Default: the VPC's private subnets.
        :param logs_key: KMS key encrypting the runtime's log groups; its key policy must let
            ``logs.<region>.amazonaws.com`` use it (added here for a key of this app; for an imported key
            the warning ``constructs-lib:logsKeyPolicy`` says what to add). The storage's key may serve
            here too, so that a stack needs one key. Default: a key with rotation is created.
        """
        errors = []
        if vpc_subnets is not None and vpc is None:
            errors.append("vpc_subnets was given without vpc; give the vpc too, or drop vpc_subnets")
        if scope.node.try_find_child(id) is not None:
            errors.append(
                f"{scope.node.path} already has a child {id!r}: a stack has one PersonalizeJobRuntime, "
                "shared by all its jobs; create it once, before the jobs"
            )
        raise_if_errors("PersonalizeJobRuntime", errors, path=child_path(scope, id))
        super().__init__(scope, id)
        self._stack = Stack.of(self)
        self._path = self.node.path
        self.vpc = vpc
        self._vpc_subnets = vpc_subnets
        self._acks = Acknowledgements()
        # Statements jobs widen, by policy (its Python id: the runtime holds it) and sid, with the resources
        # they already hold (reading them back crosses into jsii).
        self._job_statements: dict[tuple[int, str], tuple[iam.PolicyStatement, set[str]]] = {}
        # Wildcards of job names already acknowledged, with the reason.
        self._job_patterns: set[tuple[str, str]] = set()
        self._roles: dict[str, iam.Role] = {}
        # Policies holding grants on resources of the stack, by shared policy and what they are kept for.
        self._placed_policies: dict[tuple[int, str], iam.ManagedPolicy] = {}
        self._placed_count: dict[str, int] = {}
        self.logs_key: kms.IKey = logs_key or self._logs_key()
        if logs_key is not None and not allow_log_encryption(logs_key):
            self._warn_logs_key()
        code = handler_code()

        self.check_function, self.check_policy = self._function(
            "CheckFunction",
            code,
            handler=contract.CHECK_HANDLER,
            timeout=Duration.seconds(contract.CHECK_TIMEOUT_SECONDS),
            description="Checks one Personalize job and reports its end",
            environment={contract.ENV_EVENT_BUS_NAME: "default"},
        )
        self.check_policy.add_statements(
            iam.PolicyStatement(
                sid="PutEndEvents",
                actions=["events:PutEvents"],
                resources=[stack_arn(self._stack, "events", "event-bus/default")],
            ),
            # A check denied while the stack changes (an update takes a removed job's statements before
            # its cleanup stops the job's monitor) is not counted as an error: the monitor asks for its
            # own stack's status. A statement no job changes, so it holds throughout an update. A run
            # request still denied once the stack has settled asks whether the stack still holds its job
            # (DescribeStackResource): dropped if not, a FAILURE event if it does.
            iam.PolicyStatement(
                sid="ReadOwnStackStatus",
                actions=["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"],
                resources=[Aws.STACK_ID],
            ),
        )
        self.state_machine, self.monitor_policy = self._monitor()
        self._executions = stack_arn(
            self._stack, "states", f"execution:{self.state_machine.state_machine_name}:*"
        )
        self.on_event_function, self.on_event_policy = self._function(
            "OnEventFunction",
            code,
            handler=contract.ON_EVENT_HANDLER,
            timeout=Duration.seconds(contract.ON_EVENT_TIMEOUT_SECONDS),
            description="Creates, adopts and tags Personalize jobs for CloudFormation",
            environment={contract.ENV_MONITOR_STATE_MACHINE_ARN: self.state_machine.state_machine_arn},
        )
        self.on_event_policy.add_statements(
            iam.PolicyStatement(
                sid="StartAndListMonitors",
                actions=["states:StartExecution", "states:ListExecutions"],
                resources=[self.state_machine.state_machine_arn],
            ),
            # A job's older monitors, and a deleted job's, are stopped: one monitor per job. A request
            # delivered again looks up the monitor its first delivery started.
            iam.PolicyStatement(
                sid="StopMonitors",
                actions=["states:StopExecution", "states:DescribeExecution"],
                resources=[self._executions],
            ),
        )
        self._self_check_policy = self._allow_self_check()
        self.provider, self.provider_policy = self._provider()
        self.service_token = self.provider.service_token
        self._acknowledge_inherent_findings()

    # ---------------------------------------------------------------- what jobs ask for

    def grant_jobs(
        self, kind: contract.JobKind, *, job_resources: Sequence[str], source_resources: Sequence[str]
    ) -> iam.Grant:
        """Let each function make the calls it makes for ``kind``'s jobs (see ``place_jobs``).

        :returns: The grant, which depends on the policies a job's resource must wait for:
            ``grant.apply_before(job_resource)``.
        """
        return self.as_grant(
            self.place_jobs(kind, job_resources=job_resources, source_resources=source_resources)
        )

    def place_jobs(
        self, kind: contract.JobKind, *, job_resources: Sequence[str], source_resources: Sequence[str]
    ) -> Placed:
        """Let each function make the calls it makes for ``kind``'s jobs: on the jobs themselves, and the
        create (and listing) on the resources the jobs are made from.

        Jobs of a kind widen shared statements rather than adding their own, so that a stack with many
        jobs keeps small policies. A resource of the stack (a ``CfnSolution``'s ARN, say) is granted in
        a policy of its own instead, which the functions' roles take but nothing of the runtime depends
        on: the returned ``Placed`` names those policies.
        """
        title = "".join(part.title() for part in kind.key.split("-"))
        needed: list[iam.ManagedPolicy] = []
        for policy, actions in (
            (self.on_event_policy, kind.on_event_actions()),
            (self.check_policy, kind.check_actions()),
        ):
            needed += self._widen_placed(
                policy, f"Jobs{title}", [f"personalize:{a}" for a in actions], job_resources
            )
            if kind.list_actions():
                self._widen(policy, f"List{title}", [f"personalize:{a}" for a in kind.list_actions()], ["*"])
            if kind.arn_resource is None:
                # A version is named inside its solution, and a rollback after the solution was replaced
                # goes back to a version of the old one while the policies still name the new one (they
                # roll back after the job's resource): reading any solution's versions keeps that rollback
                # and its monitor working. Creating stays on the job's solution.
                reads = [a for a in actions if a.startswith(("Describe", "Get", "ListTags"))]
                self._widen(
                    policy, f"Read{title}s", [f"personalize:{a}" for a in reads], [self._any_solution]
                )
                if kind.stop in actions:
                    # A rollback deletes a version the update started (on a new solution, or a version
                    # the update added) under the restored policy, which no longer names its solution:
                    # without this, the stop is denied and the training runs on, billed, with its
                    # resource gone (and Personalize refuses to delete its solution meanwhile).
                    self._widen(policy, f"Stop{title}s", [f"personalize:{kind.stop}"], [self._any_solution])
            if source_resources:
                needed += self._widen_placed(
                    policy,
                    f"Sources{title}",
                    [f"personalize:{a}" for a in kind.source_actions()],
                    source_resources,
                )
        granted = [f"personalize:{a}" for a in (*kind.on_event_actions(), *kind.check_actions())]
        placed = _placed(needed, (needed, granted, job_resources, None))
        if source_resources:
            sources = [f"personalize:{a}" for a in kind.source_actions()]
            placed += _placed([], ([], sources, source_resources, None))
        return placed

    def as_grant(self, placed: Placed) -> iam.Grant:
        """The ``iam.Grant`` of what the runtime placed (its grantee: the runtime's functions)."""
        grants = [self._placed_grants.grant(*grant) for grant in placed.grants]
        combined = grants[0]
        for grant in grants[1:]:
            combined = combined.combine(grant)
        return combined

    @functools.cached_property
    def _placed_grants(self) -> _PlacedGrants:
        return _PlacedGrants()

    @functools.cached_property
    def _any_solution(self) -> str:
        """Every solution of the account and region (and so every version): reads and the stop only."""
        pattern = stack_arn(self._stack, "personalize", "solution/*")
        rule = f"AwsSolutions-IAM5[Resource::{nag_form(self._stack, pattern)}]"
        reads = (
            "a rollback after its solution was replaced goes back to a version of the old solution while "
            "the policies name only the new one"
        )
        for policy, reason in (
            (
                self.on_event_policy,
                f"Reads (describe) and the stop of solution versions, never a create: {reads}, and it stops "
                "the training the update started, whose solution the restored policy no longer names.",
            ),
            (self.check_policy, f"Only reads (describe, list tags, metrics) of solution versions: {reads}."),
        ):
            self._acks.add(policy, rule, reason)
        self._acks.record()
        return pattern

    def grant_pass_role(self, role: iam.IRole, *, owner: Construct | None = None) -> iam.Grant:
        """Let both functions pass ``role`` to Personalize, and to nothing else.

        :param owner: What holds the role (a ``BatchInferenceStorage``): a role of the stack is granted
            in a policy kept for its owner. Default: the role itself.
        :returns: The grant, which depends on the policies the job's resource must wait for (none for a
            role of another stack or account): ``grant.apply_before(job_resource)``.
        """
        return self.as_grant(self.place_pass_role(role, owner=owner))

    def place_pass_role(self, role: iam.IRole, *, owner: Construct | None = None) -> Placed:
        """``grant_pass_role``'s placement, for a job (see ``Placed``)."""
        role_arn = _reads.role_arn(role)
        needed: list[iam.ManagedPolicy] = []
        for policy in (self.on_event_policy, self.check_policy):
            needed += self._widen_placed(
                policy,
                "PassJobRoles",
                ["iam:PassRole"],
                [role_arn],
                conditions={"StringEquals": {"iam:PassedToService": PERSONALIZE_PRINCIPAL}},
                owner=owner,
            )
        return _placed(
            needed,
            (
                needed,
                ["iam:PassRole"],
                [role_arn],
                {"StringEquals": {"iam:PassedToService": PERSONALIZE_PRINCIPAL}},
            ),
        )

    def grant_results(
        self, *, bucket: s3.IBucket, key: kms.IKey | None, prefix: str, owner: Construct | None = None
    ) -> iam.Grant:
        """Let the check list and count a job's results under ``prefix`` and write its manifest there.

        :param owner: What holds the bucket and key (a ``BatchInferenceStorage``), as for
            ``grant_pass_role``. Default: the bucket.
        :returns: The grant, which depends on the policies the job's resource must wait for.
        """
        return self.as_grant(self.place_results(bucket=bucket, key=key, prefix=prefix, owner=owner))

    def place_results(
        self, *, bucket: s3.IBucket, key: kms.IKey | None, prefix: str, owner: Construct | None = None
    ) -> Placed:
        """``grant_results``'s placement, for a job (see ``Placed``)."""
        policy = self.check_policy
        bucket_arn = _reads.bucket_arn(bucket)
        # Every grant here references the bucket (or its key): one placement for all of them.
        place = self._place(policy, bucket_arn, owner)
        needed = [place] if place is not policy else []
        self._widen(place, "ListResults", ["s3:ListBucket"], [bucket_arn])
        results = bucket.arn_for_objects(f"{prefix}*")
        self._widen(place, "ReadResults", ["s3:GetObject"], [results])
        manifest = bucket.arn_for_objects(f"{prefix}{contract.MANIFEST_NAME}")
        self._widen(place, "WriteManifests", ["s3:PutObject"], [manifest])
        placed = _placed(
            needed,
            (needed, ["s3:ListBucket"], [bucket_arn], None),
            (needed, ["s3:GetObject"], [results], None),
            (needed, ["s3:PutObject"], [manifest], None),
        )
        if key is not None:
            key_arn = _reads.key_arn(key)
            key_place = self._place(policy, key_arn, owner)
            key_actions = ["kms:Decrypt", "kms:GenerateDataKey"]
            self._widen(key_place, "UseResultKeys", key_actions, [key_arn])
            key_needed = [key_place] if key_place is not policy else []
            placed += _placed(key_needed, (key_needed, key_actions, [key_arn], None))
        self._acks.add(
            place,
            f"AwsSolutions-IAM5[Resource::{nag_form(self._stack, results)}]",
            "The monitor counts the records of a run's results, whose keys Personalize chooses, under the "
            "job's own output prefix.",
        )
        self._acks.record()
        return placed

    def acknowledge_job_pattern(self, pattern: str, reason: str) -> None:
        """Acknowledge the IAM5 finding of a wildcard resource granted to the functions for jobs (once:
        the jobs of a kind share it), on the policies that hold it."""
        if (pattern, reason) in self._job_patterns:
            return
        self._job_patterns.add((pattern, reason))
        rule = f"AwsSolutions-IAM5[Resource::{nag_form(self._stack, pattern)}]"
        for policy in (self.on_event_policy, self.check_policy):
            self._acks.add(self._place(policy, pattern), rule, reason)
        self._acks.record()

    # ---------------------------------------------------------------- where a grant goes

    def _widen_placed(
        self,
        policy: iam.ManagedPolicy,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[str],
        conditions: dict[str, Any] | None = None,
        owner: Construct | None = None,
    ) -> list[iam.ManagedPolicy]:
        """``_widen`` each resource in the policy it belongs in; the policies of the stack's resources."""
        placed: dict[int, tuple[iam.ManagedPolicy, list[str]]] = {}
        for resource in resources:
            place = self._place(policy, resource, owner)
            placed.setdefault(id(place), (place, []))[1].append(resource)
        for place, held in placed.values():
            self._widen(place, sid, actions, held, conditions)
        return [place for place, _ in placed.values() if place is not policy]

    def _place(
        self, policy: iam.ManagedPolicy, resource: str, owner: Construct | None = None
    ) -> iam.ManagedPolicy:
        """Where a grant on ``resource`` belongs: ``policy`` itself, the runtime's shared policy, for a
        literal ARN (pseudo parameters aside) or a value of another stack; for a value that references a
        resource of this stack, a policy for what it references (``owner`` when given).

        The shared policies may never name a resource of the stack: every job depends on the runtime, so
        a resource that itself waits for a job (a ``CfnSolution`` created after an import, a storage
        created after a training) would close a circle. A policy kept for one resource (or one storage)
        is depended on only by the jobs made from it, which wait for it anyway.
        """
        references = self._stack_references(resource)
        if not references:
            return policy
        key = (
            _reads.once(owner, "path", lambda: owner.node.path) if owner is not None else "|".join(references)
        )
        found = self._placed_policies.get((id(policy), key))
        if found is not None:
            return found
        which = "OnEvent" if policy is self.on_event_policy else "Check"
        digest = hashlib.sha256(key.encode()).hexdigest()[:8].upper()
        place = iam.ManagedPolicy(
            self,
            f"{which}Grants{digest}",
            description=f"Least privilege for {self._path}/{which}Function on {key}"[:1000],
        )
        place.attach_to_role(self._roles[f"{which}Function"])
        self._placed_policies[(id(policy), key)] = place
        self.count_managed_policy(which)
        return place

    def count_managed_policy(self, which: str) -> None:
        """One more managed policy attached to the ``which`` (``OnEvent`` or ``Check``) function's role
        besides its SHARED_POLICIES (a placed policy, the scheduled runs' policy): the quota warning once
        the role holds more than MANAGED_POLICIES_PER_ROLE."""
        self._placed_count[which] = self._placed_count.get(which, 0) + 1
        if SHARED_POLICIES[which] + self._placed_count[which] == MANAGED_POLICIES_PER_ROLE + 1:
            from aws_cdk import Annotations

            Annotations.of(self).add_warning_v2(
                "constructs-lib:managedPolicyQuota",
                f"The {which} function's role takes more than {MANAGED_POLICIES_PER_ROLE} managed policies: "
                "one for the runtime, one for each resource of this stack that jobs are made from (a "
                "solution, a dataset, a storage) and, on the check function's, one for the runs of "
                "scheduled jobs. IAM allows 10 per role by default: ask for a higher 'Managed policies per "
                "role' quota (up to 20) in Service Quotas, or spread the jobs over more stacks.",
            )

    def _stack_references(self, value: str) -> tuple[str, ...]:
        """The resources of the stack that ``value`` references, as CloudFormation names them (sorted);
        empty for literal text, pseudo parameters and values imported from other stacks."""
        if not is_token(value):
            return ()
        known: dict[str, tuple[str, ...]] = _reads.once(self._stack, "stack references", dict)
        found = known.get(value)
        if found is None:
            found = known[value] = tuple(sorted(set(_references(self._stack.resolve(value)))))
        return found

    def _widen(
        self,
        policy: iam.ManagedPolicy,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[str],
        conditions: dict[str, Any] | None = None,
    ) -> None:
        key = (id(policy), sid)
        found = self._job_statements.get(key)
        if found is None:
            first = list(dict.fromkeys(resources))
            statement = iam.PolicyStatement(
                sid=sid, actions=list(actions), resources=first, conditions=conditions
            )
            policy.add_statements(statement)
            self._job_statements[key] = (statement, set(first))
            return
        statement, held = found
        new = [resource for resource in dict.fromkeys(resources) if resource not in held]
        if new:
            statement.add_resources(*new)
            held.update(new)

    # ---------------------------------------------------------------- pieces

    def _logs_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "LogsKey",
            description="Encrypts the logs of the Personalize job handler and monitor",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        allow_log_encryption(key)
        return key

    def _warn_logs_key(self) -> None:
        from aws_cdk import Annotations

        Annotations.of(self).add_warning_v2(
            "constructs-lib:logsKeyPolicy",
            "logs_key is imported, so its key policy cannot be changed here: allow the service principal "
            "logs.<region>.amazonaws.com kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey* "
            "and kms:Describe* on it, or the log groups cannot be created.",
        )

    def _log_group(self, id: str, name: str | None = None) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            id,
            log_group_name=name,
            retention=LOG_RETENTION,
            encryption_key=self.logs_key,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _role(self, id: str, service: str) -> tuple[iam.Role, iam.ManagedPolicy]:
        policy = iam.ManagedPolicy(self, f"{id}Policy", description=f"Least privilege for {self._path}/{id}")
        role = iam.Role(
            self, f"{id}Role", assumed_by=iam.ServicePrincipal(service), managed_policies=[policy]
        )
        return role, policy

    def _lambda_role(self, id: str, log_group: logs.ILogGroup) -> tuple[iam.Role, iam.ManagedPolicy]:
        """A role for a function, with its policy: write its own logs and traces (and use the VPC)."""
        role, policy = self._role(id, "lambda.amazonaws.com")
        policy.add_statements(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            iam.PolicyStatement(sid="WriteTraces", actions=XRAY_ACTIONS, resources=["*"]),
        )
        if self.vpc is not None:
            policy.add_statements(
                iam.PolicyStatement(sid="UseVpc", actions=VPC_ACCESS_ACTIONS, resources=["*"])
            )
        return role, policy

    def _function(
        self,
        id: str,
        code: lambda_.Code,
        *,
        handler: str,
        timeout: Duration,
        description: str,
        environment: dict[str, str],
    ) -> tuple[lambda_.Function, iam.ManagedPolicy]:
        log_group = self._log_group(f"{id}Logs")
        role, policy = self._lambda_role(id, log_group)
        self._roles[id] = role
        function = lambda_.Function(
            self,
            id,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            code=code,
            handler=handler,
            memory_size=FUNCTION_MEMORY_MB,
            timeout=timeout,
            description=description,
            environment=environment,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            role=role.without_policy_updates(),
            vpc=self.vpc,
            vpc_subnets=self._vpc_subnets,
        )
        function.node.add_dependency(policy)
        return function, policy

    def _monitor(self) -> tuple[sfn.StateMachine, iam.ManagedPolicy]:
        """Check -> JobEnded? -> WaitForNextCheck -> Check. The check answers ``waitSeconds`` and ``done``;
        whatever the loop cannot handle (throttled or inactive function, a timeout, a bug) is reported as
        the job's FAILURE at once, instead of leaving the stack waiting for the WaitCondition."""
        # Log group and role first: the same construct order as before, so the same logical IDs.
        # Under /aws/vendedlogs/: Step Functions then needs no entry of its own in the account's
        # CloudWatch Logs resource policy (5,120 characters, shared by every stack in the region).
        log_group = self._log_group(
            "MonitorLogs", f"/aws/vendedlogs/states/{Aws.STACK_NAME}-personalize-job-monitor"
        )
        role, policy = self._role("Monitor", "states.amazonaws.com")
        check_arn = self.check_function.function_arn
        policy.add_statements(
            iam.PolicyStatement(sid="InvokeCheck", actions=["lambda:InvokeFunction"], resources=[check_arn]),
            iam.PolicyStatement(
                sid="DeliverLogsAndTraces", actions=STATE_MACHINE_DELIVERY_ACTIONS, resources=["*"]
            ),
        )
        machine = sfn.StateMachine(
            self,
            "Monitor",
            role=role.without_policy_updates(),
            definition_body=sfn.DefinitionBody.from_string(monitor_definition(check_arn)),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
        )
        machine.node.add_dependency(policy)
        return machine, policy

    def _allow_self_check(self) -> iam.ManagedPolicy:
        """A check looks at its own execution before it creates a queued job (a Delete may just have
        stopped it). The grant names the state machine, which names the check function: it goes into a
        policy of its own, so that the function does not depend on the state machine."""
        policy = iam.ManagedPolicy(
            self,
            "CheckFunctionSelfCheck",
            description=f"The check of {self._path} may describe its own execution",
            statements=[
                iam.PolicyStatement(
                    sid="DescribeOwnExecution",
                    actions=["states:DescribeExecution"],
                    resources=[self._executions],
                )
            ],
        )
        policy.attach_to_role(self._roles["CheckFunction"])
        # Jobs are created only through the on-event function: once it exists, so does this policy.
        self.on_event_function.node.add_dependency(policy)
        return policy

    def _provider(self) -> tuple[cr.Provider, iam.ManagedPolicy]:
        log_group = self._log_group("ProviderLogs")
        role, policy = self._lambda_role("ProviderFramework", log_group)
        policy.add_statements(
            # GetFunction: the framework waits for an inactive or throttled function to become active.
            iam.PolicyStatement(
                sid="InvokeOnEvent",
                actions=["lambda:InvokeFunction", "lambda:GetFunction"],
                resources=[self.on_event_function.function_arn],
            )
        )
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.on_event_function,
            framework_on_event_role=role.without_policy_updates(),
            log_group=log_group,
            vpc=self.vpc,
            vpc_subnets=self._vpc_subnets,
        )
        provider.node.add_dependency(policy)
        # The Provider exposes neither tracing nor memory: both are set on its function's L1.
        cfn = _framework_function(provider).node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        cfn.memory_size = PROVIDER_FRAMEWORK_MEMORY_MB
        return provider, policy

    # ---------------------------------------------------------------- compliance

    def _acknowledge_inherent_findings(self) -> None:
        """Findings that no setting removes, each on the construct that owns it, with the reason."""
        acks = self._acks
        framework = _framework_function(self.provider)
        for policy in (self.on_event_policy, self.check_policy, self.provider_policy):
            acks.add(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray trace writes, finding a solution version by name (ListSolutionVersions) and, in a "
                "VPC, network interface management support no resource-level permissions.",
            )
        executions = f"AwsSolutions-IAM5[Resource::{nag_form(self._stack, self._executions)}]"
        acks.add(
            self.on_event_policy,
            executions,
            "Monitor executions are named per job and request at deploy time; the wildcard covers the "
            "executions of this one state machine.",
        )
        acks.add(
            self._self_check_policy,
            executions,
            "A check describes its own execution, named per job and request at deploy time; the wildcard "
            "covers the executions of this one state machine.",
        )
        acks.add(
            self.monitor_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery and X-Ray actions support no resource-level permissions.",
        )
        acks.add(
            framework,
            "AwsSolutions-L1",
            "The CDK Provider framework picks its own Node.js runtime; it is not ours to set.",
        )
        for function in (self.on_event_function, self.check_function, framework):
            acks.add(function, "Serverless-LambdaDLQ", _SYNCHRONOUS)
            for pack in COMPLIANCE_PACKS:
                acks.add(function, f"{pack}-LambdaDLQ", _SYNCHRONOUS)
                acks.add(
                    function,
                    f"{pack}-LambdaConcurrency",
                    "Reserved concurrency would take from the account's unreserved pool, and new accounts "
                    "(10 concurrent executions) refuse any reservation; one call per job and check.",
                )
                if self.vpc is None:
                    acks.add(
                        function,
                        f"{pack}-LambdaInsideVPC",
                        "No vpc was given: the functions call only AWS APIs and a presigned S3 URL. Give "
                        "PersonalizeJobRuntime a vpc to place them in one.",
                    )
        acks.record()


def _references(resolved: Any) -> Iterable[str]:
    """Logical ids a resolved value references with ``Ref`` (pseudo parameters aside) or ``Fn::GetAtt``."""
    if isinstance(resolved, dict):
        for fn, arg in resolved.items():
            if fn == "Ref" and isinstance(arg, str):
                if not arg.startswith("AWS::"):
                    yield arg
            elif fn == "Fn::GetAtt" and isinstance(arg, list) and arg:
                yield str(arg[0])
            else:
                yield from _references(arg)
    elif isinstance(resolved, list):
        for item in resolved:
            yield from _references(item)


def _placed(
    policies: Sequence[iam.ManagedPolicy],
    *grants: tuple[Sequence[iam.ManagedPolicy], Sequence[str], Sequence[str], Mapping[str, Any] | None],
) -> Placed:
    return Placed(
        _distinct_tuple(policies),
        tuple(
            (_distinct_tuple(held), tuple(actions), tuple(resources), conditions)
            for held, actions, resources, conditions in grants
        ),
    )


def _distinct(policies: Sequence[iam.ManagedPolicy]) -> list[iam.ManagedPolicy]:
    found: dict[int, iam.ManagedPolicy] = {}
    for policy in policies:
        found.setdefault(id(policy), policy)
    return list(found.values())


def _framework_function(provider: cr.Provider) -> lambda_.Function:
    framework = provider.node.find_child("framework-onEvent")
    assert isinstance(framework, lambda_.Function)
    return framework


def allow_log_encryption(key: kms.IKey) -> bool:
    """Let CloudWatch Logs of this account and region use ``key`` for log groups; False for an imported
    key, whose policy cannot be changed here."""
    added = key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsOfThisStack",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack_arn(key, "logs", "log-group:*")}
            },
        )
    )
    return bool(added.statement_added)
