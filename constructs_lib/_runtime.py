"""What every stack with batch inference jobs shares: the handler, the provider and the monitor."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import custom_resources as cr
from constructs import Construct

from constructs_lib._assets import handler_code
from constructs_lib.compliance import Acknowledgements, acknowledge, nag_resource

RUNTIME_ID = "PersonalizeBatchInferenceRuntime"
RESOURCE_TYPE = "Custom::PersonalizeBatchInferenceJob"
EVENT_SOURCE = "constructs_lib.personalize"
EVENT_DETAIL_TYPE = "Personalize Batch Inference Job State Change"
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# Longer than the longest job timeout (12 h), so a monitor always gets to report.
MONITOR_TIMEOUT = Duration.hours(13)
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


def job_arn_pattern(name_pattern: str) -> str:
    return f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}:batch-inference-job/{name_pattern}"


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
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(RUNTIME_ID)
        if not isinstance(existing, BatchInferenceRuntime):
            return cls(stack, RUNTIME_ID, vpc=vpc, vpc_subnets=vpc_subnets)
        if (existing.vpc.node.addr if existing.vpc else None) != (vpc.node.addr if vpc else None):
            raise ValueError(
                f"BatchInferenceJob: invalid props:\n  - vpc: the jobs of stack {stack.stack_name} share one "
                "handler and monitor, placed by the first job; give every job in the stack the same vpc "
                "(or none)"
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
        )
        self.state_machine = self._monitor()
        self.on_event_function, on_event_policy = self._function(
            "OnEventFunction",
            code,
            handler="handler.on_event",
            timeout=Duration.minutes(5),
            description="Creates, adopts and tags Personalize batch inference jobs for CloudFormation",
            environment={"MONITOR_STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
        )
        self._job_policies = [check_policy, on_event_policy]
        self._job_statements: list[tuple[iam.PolicyStatement, iam.PolicyStatement]] | None = None
        # What the shared statements hold, kept on the Python side: reading them back crosses into jsii.
        self._job_resources: set[str] = set()
        self._job_roles: set[str] = set()
        self._arn_patterns: dict[str, str] = {}
        executions = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:"
            f"{self.state_machine.state_machine_name}:*"
        )
        on_event_policy.add_statements(
            iam.PolicyStatement(
                sid="StartMonitor",
                actions=["states:StartExecution"],
                resources=[self.state_machine.state_machine_arn],
            ),
            # A deleted job's monitor is stopped, so a job still queued is never created afterwards.
            iam.PolicyStatement(sid="StopMonitor", actions=["states:StopExecution"], resources=[executions]),
        )
        acknowledge(
            on_event_policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, executions)}]",
            "Executions of the monitor state machine are named per job and wait handle at deploy time; "
            "the wildcard covers this one state machine's executions.",
        )
        check_policy.add_statements(
            iam.PolicyStatement(
                sid="PutJobEvents",
                actions=["events:PutEvents"],
                resources=[f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/default"],
            )
        )
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
            for policy in self._job_policies:
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{nag_resource(self, resource)}]",
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
        key.add_to_resource_policy(
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
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
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

    def _role(
        self, id: str, service: str, statements: Sequence[iam.PolicyStatement]
    ) -> tuple[iam.Role, iam.ManagedPolicy]:
        policy = iam.ManagedPolicy(
            self,
            f"{id}Policy",
            description=f"Least privilege for {self.node.path}/{id}",
            statements=list(statements),
        )
        role = iam.Role(
            self, f"{id}Role", assumed_by=iam.ServicePrincipal(service), managed_policies=[policy]
        )
        return role, policy

    def _lambda_statements(self, log_group: logs.ILogGroup) -> list[iam.PolicyStatement]:
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            iam.PolicyStatement(sid="WriteTraces", actions=XRAY_ACTIONS, resources=["*"]),
        ]
        if self.vpc is not None:
            statements.append(iam.PolicyStatement(sid="UseVpc", actions=VPC_ACCESS_ACTIONS, resources=["*"]))
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
    ) -> tuple[lambda_.Function, iam.ManagedPolicy]:
        log_group = self._log_group(f"{id}Logs")
        role, policy = self._role(id, "lambda.amazonaws.com", self._lambda_statements(log_group))
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
        now = sfn.JsonPath.string_at("$$.State.EnteredTime")
        check = self._invoke_check("Check", {"state": sfn.JsonPath.entire_payload, "now": now})
        # Whatever the loop cannot handle (throttled or inactive function, a timeout, a bug) is reported
        # as the job's FAILURE at once, instead of leaving the stack waiting for the WaitCondition.
        report = self._invoke_check(
            "ReportMonitorFailure",
            {"state": sfn.JsonPath.entire_payload, "now": now, "abort": sfn.JsonPath.object_at("$.caught")},
        )
        check.add_catch(report, errors=[sfn.Errors.ALL], result_path="$.caught")
        report.next(
            sfn.Fail(
                self, "MonitorFailed", cause="The monitor stopped on an error; the job was reported FAILED"
            )
        )
        wait = sfn.Wait(self, "WaitForNextCheck", time=sfn.WaitTime.seconds_path("$.waitSeconds"))
        done = sfn.Choice(self, "JobEnded").when(
            sfn.Condition.boolean_equals("$.done", True), sfn.Succeed(self, "Reported")
        )
        done.otherwise(wait.next(check))
        role, policy = self._role(
            "Monitor",
            "states.amazonaws.com",
            [
                iam.PolicyStatement(
                    sid="InvokeCheck",
                    actions=["lambda:InvokeFunction"],
                    resources=[self.check_function.function_arn],
                ),
                iam.PolicyStatement(
                    sid="DeliverLogsAndTraces", actions=STATE_MACHINE_DELIVERY_ACTIONS, resources=["*"]
                ),
            ],
        )
        self.monitor_policy = policy
        machine = sfn.StateMachine(
            self,
            "Monitor",
            comment="Polls one Personalize batch inference job until it ends, then reports it",
            definition_body=sfn.DefinitionBody.from_chainable(check.next(done)),
            timeout=MONITOR_TIMEOUT,
            tracing_enabled=True,
            role=role.without_policy_updates(),
            logs=sfn.LogOptions(destination=self._log_group("MonitorLogs"), level=sfn.LogLevel.ALL),
        )
        machine.node.add_dependency(policy)
        return machine

    def _invoke_check(self, id: str, payload: dict[str, object]) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            id,
            lambda_function=self.check_function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=True,
        )
        task.add_retry(
            errors=["Lambda.TooManyRequestsException", "Lambda.ResourceNotReadyException"],
            interval=Duration.seconds(5),
            max_attempts=8,
            backoff_rate=2,
        )
        task.add_retry(
            errors=[sfn.Errors.TASKS_FAILED, sfn.Errors.TIMEOUT],
            interval=Duration.seconds(10),
            max_attempts=2,
        )
        return task

    def _provider(self) -> cr.Provider:
        log_group = self._log_group("ProviderLogs")
        statements = self._lambda_statements(log_group)
        statements.append(
            iam.PolicyStatement(
                sid="InvokeOnEvent",
                # GetFunction: the framework waits for an inactive or throttled function to become active.
                actions=["lambda:InvokeFunction", "lambda:GetFunction"],
                resources=[self.on_event_function.function_arn],
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
