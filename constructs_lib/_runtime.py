"""What every stack with batch inference jobs shares: the handler, the provider and the monitor."""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from constructs_lib._assets import handler_code
from constructs_lib.compliance import Acknowledgements, acknowledge, nag_resource

RUNTIME_ID = "PersonalizeBatchInferenceRuntime"
RESOURCE_TYPE = "Custom::PersonalizeBatchInferenceJob"
EVENT_SOURCE = "constructs_lib.personalize"
EVENT_DETAIL_TYPE = "Personalize Batch Inference Job State Change"
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# Longer than the longest job timeout (12 h), so a monitor always gets to report.
MONITOR_TIMEOUT_SECONDS = 13 * 3600
PERSONALIZE_JOB_ACTIONS = [
    "personalize:CreateBatchInferenceJob",
    "personalize:DescribeBatchInferenceJob",
    "personalize:TagResource",
    "personalize:UntagResource",
    "personalize:ListTagsForResource",
]
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


@functools.cache
def _pseudo_parameters() -> tuple[str, str, str]:
    """``Aws.PARTITION``, ``Aws.REGION`` and ``Aws.ACCOUNT_ID``: the same tokens for every stack, read
    once per process (each read is a round trip into jsii)."""
    return Aws.PARTITION, Aws.REGION, Aws.ACCOUNT_ID


def arn(service: str, resource: str) -> str:
    """An ARN in this stack's partition, region and account."""
    partition, region, account = _pseudo_parameters()
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def nag_arn(service: str, resource: str) -> str:
    """:func:`arn` as cdk-nag spells it in a granular finding id (see ``compliance.nag_resource``)."""
    return f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def job_arn_pattern(name_pattern: str) -> str:
    return arn("personalize", f"batch-inference-job/{name_pattern}")


def statement(sid: str, actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    """One Allow statement in policy JSON; a role's statements become one document in one jsii call."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions) if len(actions) > 1 else actions[0],
        "Resource": list(resources) if len(resources) > 1 else resources[0],
    }


def monitor_definition(check_function_arn: str) -> dict[str, Any]:
    """The monitor's Amazon States Language: Check -> JobEnded? -> WaitForNextCheck -> Check.

    Written out rather than built from state constructs: it is one small loop, and each state
    construct would be a round trip into jsii at synth time. Keys and states come in the order CDK's
    ``DefinitionBody.from_chainable`` writes them (with ``tasks.LambdaInvoke``), so that stacks
    deployed from those constructs see no change; ``tests/test_job.py`` builds both and compares.
    The check answers ``waitSeconds`` and ``done``; whatever the loop cannot handle (throttled or
    inactive function, a timeout, a bug) is reported as the job's FAILURE at once, instead of leaving
    the stack waiting for the WaitCondition.
    """

    def invoke_check(next_state: str, parameters: dict[str, str], **catch: Any) -> dict[str, Any]:
        return {
            "Next": next_state,
            "Retry": [
                # Step Functions' advice for Lambda service errors, as CDK's LambdaInvoke writes it.
                {
                    "ErrorEquals": [
                        "Lambda.ClientExecutionTimeoutException",
                        "Lambda.ServiceException",
                        "Lambda.AWSLambdaException",
                        "Lambda.SdkClientException",
                    ],
                    "IntervalSeconds": 2,
                    "MaxAttempts": 6,
                    "BackoffRate": 2,
                },
                {
                    "ErrorEquals": ["Lambda.TooManyRequestsException", "Lambda.ResourceNotReadyException"],
                    "IntervalSeconds": 5,
                    "MaxAttempts": 8,
                    "BackoffRate": 2,
                },
                {
                    "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
                    "IntervalSeconds": 10,
                    "MaxAttempts": 2,
                },
            ],
            **catch,
            "Type": "Task",
            "Resource": check_function_arn,
            "Parameters": parameters,
        }

    check_input = {"state.$": "$", "now.$": "$$.State.EnteredTime"}
    return {
        "StartAt": "Check",
        "States": {
            "Check": invoke_check(
                "JobEnded",
                check_input,
                Catch=[
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "ReportMonitorFailure"}
                ],
            ),
            "WaitForNextCheck": {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": "Check"},
            "JobEnded": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Reported"}],
                "Default": "WaitForNextCheck",
            },
            "Reported": {"Type": "Succeed"},
            "ReportMonitorFailure": invoke_check("MonitorFailed", {**check_input, "abort.$": "$.caught"}),
            "MonitorFailed": {
                "Type": "Fail",
                "Cause": "The monitor stopped on an error; the job was reported FAILED",
            },
        },
        "TimeoutSeconds": MONITOR_TIMEOUT_SECONDS,
        "Comment": "Polls one Personalize batch inference job until it ends, then reports it",
    }


# The runtime each scope's jobs found, so that only a scope's first job looks it up through jsii.
_RUNTIME_OF_SCOPE: weakref.WeakKeyDictionary[IConstruct, BatchInferenceRuntime] = weakref.WeakKeyDictionary()


class BatchInferenceRuntime(Construct):
    """One per stack: the on-event handler behind a Provider, and the monitor state machine.

    Jobs find it with :meth:`of`; each job widens the handler policies by exactly its own job ARNs
    and role. Every role gets its permissions from one customer-managed policy that lists them all:
    the roles are handed to CDK as ``without_policy_updates()`` views, so nothing becomes an inline
    policy behind our back.
    """

    @classmethod
    def of(
        cls,
        scope: Construct,
        *,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
    ) -> BatchInferenceRuntime:
        existing = _RUNTIME_OF_SCOPE.get(scope)
        if existing is None:
            stack = Stack.of(scope)
            found = stack.node.try_find_child(RUNTIME_ID)
            if not isinstance(found, BatchInferenceRuntime):
                runtime = _RUNTIME_OF_SCOPE[scope] = cls(stack, RUNTIME_ID, vpc=vpc, vpc_subnets=vpc_subnets)
                return runtime
            # Jobs of a stack mostly share one scope: the next one finds the runtime without jsii.
            existing = _RUNTIME_OF_SCOPE[scope] = found
        if (existing.vpc.node.addr if existing.vpc else None) != (vpc.node.addr if vpc else None):
            raise ValueError(
                "BatchInferenceJob: invalid props:\n  - vpc: the jobs of stack "
                f"{existing.stack_name} share one handler and monitor, placed by the first job; give every "
                "job in the stack the same vpc (or none)"
            )
        return existing

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.vpc = vpc
        self._vpc_subnets = vpc_subnets
        self._principals: dict[str, iam.ServicePrincipal] = {}
        self.logs_key = self._logs_key()
        code = handler_code()

        self.check_function, check_policy = self._function(
            "CheckFunction",
            code,
            handler="monitor.check",
            # Room for retried Personalize calls, a retried WaitCondition signal and the event.
            timeout=Duration.minutes(5),
            description="Checks one Personalize batch inference job and reports its end",
            environment={"EVENT_BUS_NAME": "default"},
            statements=[
                statement("PutJobEvents", ["events:PutEvents"], [arn("events", "event-bus/default")])
            ],
        )
        self.state_machine = self._monitor()
        self._monitor_executions = arn("states", f"execution:{self.state_machine.state_machine_name}:*")
        self.on_event_function, on_event_policy = self._function(
            "OnEventFunction",
            code,
            handler="handler.on_event",
            timeout=Duration.minutes(5),
            description="Creates, adopts and tags Personalize batch inference jobs for CloudFormation",
            environment={"MONITOR_STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
            statements=[
                statement("StartMonitor", ["states:StartExecution"], [self.state_machine.state_machine_arn]),
                # A deleted job's monitor is stopped, so a job still queued is never created afterwards.
                statement("StopMonitor", ["states:StopExecution"], [self._monitor_executions]),
            ],
        )
        self._on_event_policy = on_event_policy
        self._job_policies = [check_policy, on_event_policy]
        self._job_statements: list[tuple[iam.PolicyStatement, iam.PolicyStatement]] | None = None
        # What the shared statements hold, kept on the Python side: reading them back crosses into jsii.
        self._job_resources: set[str] = set()
        self._job_roles: set[str] = set()
        self._arn_patterns: dict[str, str] = {}
        self.provider = self._provider()
        self._acknowledge_inherent_findings()

    @functools.cached_property
    def service_token(self) -> str:
        return self.provider.service_token

    @functools.cached_property
    def stack(self) -> Stack:
        return Stack.of(self)

    @functools.cached_property
    def stack_name(self) -> str:
        return self.stack.stack_name

    def allow_job(self, name_pattern: str, role_arn: str) -> None:
        """Let both functions create, describe and tag jobs named ``name_pattern`` and pass ``role_arn``.

        Jobs widen two shared statements rather than adding their own, so a stack with many jobs stays
        far below the 6,144-character limit of a managed policy.
        """
        resource = self._arn_patterns.get(name_pattern)
        if resource is None:
            resource = self._arn_patterns[name_pattern] = job_arn_pattern(name_pattern)
        new_resource, new_role = resource not in self._job_resources, role_arn not in self._job_roles
        if not (new_resource or new_role):
            return
        if self._job_statements is None:
            self._job_statements = [
                (
                    iam.PolicyStatement(sid="ManageJobs", actions=PERSONALIZE_JOB_ACTIONS, resources=[]),
                    iam.PolicyStatement(
                        sid="PassJobRoles",
                        actions=["iam:PassRole"],
                        resources=[],
                        conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
                    ),
                )
                for _ in self._job_policies
            ]
            for policy, statements in zip(self._job_policies, self._job_statements, strict=True):
                policy.add_statements(*statements)
        for manage, pass_role in self._job_statements:
            if new_resource:
                manage.add_resources(resource)
            if new_role:
                pass_role.add_resources(role_arn)
        self._job_resources.add(resource)
        self._job_roles.add(role_arn)
        if new_resource and "*" in name_pattern:
            nag_form = nag_arn("personalize", f"batch-inference-job/{name_pattern}")
            for policy in self._job_policies:
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{nag_form}]",
                    f"Job names are generated at deploy time as '<stack>-<id>-<hash>', so the jobs of this "
                    f"stack are known only by their common prefix: '{name_pattern}'.",
                )

    # ---------------------------------------------------------------- pieces

    def _logs_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "LogsKey",
            description="Encrypts the logs of the Personalize batch inference handler and monitor",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        _, region, _ = _pseudo_parameters()
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisStack",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn("logs", "log-group:*")}},
            )
        )
        return key

    def _log_group(self, id: str) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            id,
            retention=LOG_RETENTION,
            encryption_key=self.logs_key,
            removal_policy=RemovalPolicy.DESTROY,
        )

    @functools.cached_property
    def _path(self) -> str:
        return self.node.path

    def _principal(self, service: str) -> iam.ServicePrincipal:
        principal = self._principals.get(service)
        if principal is None:
            principal = self._principals[service] = iam.ServicePrincipal(service)
        return principal

    def _role(
        self, id: str, service: str, statements: Sequence[dict[str, Any]]
    ) -> tuple[iam.Role, iam.ManagedPolicy]:
        policy = iam.ManagedPolicy(
            self,
            f"{id}Policy",
            description=f"Least privilege for {self._path}/{id}",
            document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": list(statements)}),
        )
        role = iam.Role(self, f"{id}Role", assumed_by=self._principal(service), managed_policies=[policy])
        return role, policy

    def _lambda_statements(self, log_group: logs.ILogGroup) -> list[dict[str, Any]]:
        statements = [
            statement(
                "WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group.log_group_arn]
            ),
            statement("WriteTraces", XRAY_ACTIONS, ["*"]),
        ]
        if self.vpc is not None:
            statements.append(statement("UseVpc", VPC_ACCESS_ACTIONS, ["*"]))
        return statements

    def _function(
        self,
        id: str,
        code: lambda_.Code,
        *,
        handler: str,
        timeout: Duration,
        description: str,
        environment: dict[str, str],
        statements: Sequence[dict[str, Any]],
    ) -> tuple[lambda_.Function, iam.ManagedPolicy]:
        log_group = self._log_group(f"{id}Logs")
        role, policy = self._role(
            id, "lambda.amazonaws.com", [*self._lambda_statements(log_group), *statements]
        )
        function = lambda_.Function(
            self,
            id,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            code=code,
            handler=handler,
            memory_size=256,
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

    def _monitor(self) -> sfn.StateMachine:
        role, policy = self._role(
            "Monitor",
            "states.amazonaws.com",
            [
                statement("InvokeCheck", ["lambda:InvokeFunction"], [self.check_function.function_arn]),
                statement("DeliverLogsAndTraces", STATE_MACHINE_DELIVERY_ACTIONS, ["*"]),
            ],
        )
        self.monitor_policy = policy
        machine = sfn.StateMachine(
            self,
            "Monitor",
            definition_body=sfn.DefinitionBody.from_string(
                json.dumps(monitor_definition(self.check_function.function_arn), separators=(",", ":"))
            ),
            tracing_enabled=True,
            role=role.without_policy_updates(),
            logs=sfn.LogOptions(destination=self._log_group("MonitorLogs"), level=sfn.LogLevel.ALL),
        )
        machine.node.add_dependency(policy)
        return machine

    def _provider(self) -> cr.Provider:
        log_group = self._log_group("ProviderLogs")
        statements = self._lambda_statements(log_group)
        statements.append(
            # GetFunction: the framework waits for an inactive or throttled function to become active.
            statement(
                "InvokeOnEvent",
                ["lambda:InvokeFunction", "lambda:GetFunction"],
                [self.on_event_function.function_arn],
            )
        )
        role, policy = self._role("ProviderFramework", "lambda.amazonaws.com", statements)
        self.provider_policy = policy
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
        return provider

    # ---------------------------------------------------------------- compliance

    def _acknowledge_inherent_findings(self) -> None:
        """Findings that no setting removes, each on the construct that owns it, with the reason."""
        framework = self.provider.node.find_child("framework-onEvent")
        assert isinstance(framework, lambda_.Function)
        acks = Acknowledgements()
        acks.add(
            self._on_event_policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, self._monitor_executions)}]",
            "Executions of the monitor state machine are named per job and wait handle at deploy time; "
            "the wildcard covers this one state machine's executions.",
        )
        for policy in (*self._job_policies, self.provider_policy):
            acks.add(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray trace writes (and, in a VPC, network interface management) support no "
                "resource-level permissions.",
            )
        acks.add(
            self.monitor_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery and X-Ray actions support no resource-level permissions.",
        )
        for rule, reason in (
            (
                "AwsSolutions-L1",
                "The CDK Provider framework picks its own Node.js runtime; it is not ours to set.",
            ),
            (
                "Serverless-LambdaTracing",
                "The CDK Provider framework function exposes no tracing setting; our own functions trace.",
            ),
            (
                "Serverless-LambdaDefaultMemorySize",
                "The CDK Provider framework function exposes no memory setting; it only relays one call.",
            ),
        ):
            acks.add(framework, rule, reason)
        for function in (self.on_event_function, self.check_function, framework):
            acks.add(function, "Serverless-LambdaDLQ", _SYNCHRONOUS)
            for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
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
                        "No vpc was given: the functions call only AWS APIs and a presigned S3 URL. Pass "
                        "vpc= to BatchInferenceJob to place them in one.",
                    )
        acks.record()
