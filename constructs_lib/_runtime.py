"""What every stack with batch inference jobs shares: the handler, the provider and the monitor."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import custom_resources as cr
from constructs import Construct

from constructs_lib._acknowledge import acknowledge, nag_resource
from constructs_lib._assets import handler_code

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


def job_arn_pattern(name_pattern: str) -> str:
    return f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}:batch-inference-job/{name_pattern}"


class BatchInferenceRuntime(Construct):
    """One per stack: the on-event handler behind a Provider, and the monitor state machine.

    Jobs find it with :meth:`of`; each job widens its policies by exactly its own job ARNs and role.
    """

    @classmethod
    def of(cls, scope: Construct) -> BatchInferenceRuntime:
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(RUNTIME_ID)
        if isinstance(existing, BatchInferenceRuntime):
            return existing
        return cls(stack, RUNTIME_ID)

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        code = handler_code()

        self.check_function, check_policy = self._function(
            "CheckFunction",
            code,
            handler="monitor.check",
            timeout=Duration.minutes(2),
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
        self._policies = [check_policy, on_event_policy]
        on_event_policy.add_statements(
            iam.PolicyStatement(
                sid="StartMonitor",
                actions=["states:StartExecution"],
                resources=[self.state_machine.state_machine_arn],
            )
        )
        check_policy.add_statements(
            iam.PolicyStatement(
                sid="PutJobEvents",
                actions=["events:PutEvents"],
                resources=[f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/default"],
            )
        )
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.on_event_function,
            log_group=logs.LogGroup(
                self, "ProviderLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
            ),
        )
        self._acknowledge_provider_internals()

    @property
    def service_token(self) -> str:
        return self.provider.service_token

    def allow_job(self, owner: Construct, name_pattern: str, role_arn: str) -> None:
        """Let both functions create, describe and tag the jobs named ``name_pattern``, passing ``role_arn``.

        ``owner`` (the job) acknowledges the wildcard this needs while its names are generated.
        """
        resource = job_arn_pattern(name_pattern)
        for policy in self._policies:
            policy.add_statements(
                iam.PolicyStatement(actions=PERSONALIZE_JOB_ACTIONS, resources=[resource]),
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
                ),
            )
            if "*" in name_pattern:
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{nag_resource(self, resource)}]",
                    (
                        f"{owner.node.path}: the job's name is generated at deploy time as "
                        f"'{name_pattern}' (a hash of the job's definition follows the prefix), so its "
                        "ARN is only known by that prefix."
                    ),
                )

    # ---------------------------------------------------------------- pieces

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
        log_group = logs.LogGroup(
            self, f"{id}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        policy = iam.ManagedPolicy(
            self,
            f"{id}Policy",
            description=f"Least privilege for {id}",
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                )
            ],
        )
        role = iam.Role(
            self,
            f"{id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[policy],
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
            role=role,
        )
        return function, policy

    def _monitor(self) -> sfn.StateMachine:
        check = tasks.LambdaInvoke(
            self,
            "Check",
            lambda_function=self.check_function,
            payload=sfn.TaskInput.from_object(
                {"state": sfn.JsonPath.entire_payload, "now": sfn.JsonPath.string_at("$$.State.EnteredTime")}
            ),
            payload_response_only=True,
            retry_on_service_exceptions=True,
        )
        wait = sfn.Wait(self, "WaitForNextCheck", time=sfn.WaitTime.seconds_path("$.waitSeconds"))
        done = sfn.Choice(self, "JobEnded").when(
            sfn.Condition.boolean_equals("$.done", True), sfn.Succeed(self, "Reported")
        )
        done.otherwise(wait.next(check))
        return sfn.StateMachine(
            self,
            "Monitor",
            comment="Polls one Personalize batch inference job until it ends, then reports it",
            definition_body=sfn.DefinitionBody.from_chainable(check.next(done)),
            timeout=MONITOR_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self, "MonitorLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
                ),
                level=sfn.LogLevel.ALL,
            ),
        )

    def _acknowledge_provider_internals(self) -> None:
        framework = self.provider.node.find_child("framework-onEvent")
        assert isinstance(framework, lambda_.Function)
        role = framework.role
        assert role is not None
        acknowledge(
            role,
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]"
            ),
            "The CDK Provider framework's own function role; CDK attaches this policy to it.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, self.on_event_function.function_arn)}:*]",
            (
                "The CDK Provider framework invokes the on-event function by its versioned ARN; "
                "the wildcard covers versions of that one function only."
            ),
        )
        acknowledge(
            framework,
            "AwsSolutions-L1",
            "The CDK Provider framework picks its own Node.js runtime; it is not ours to set.",
        )
        sm_role = self.state_machine.role
        acknowledge(
            sm_role,
            "AwsSolutions-IAM5[Resource::*]",
            (
                "Step Functions needs X-Ray and CloudWatch Logs delivery actions, which support no "
                "resource-level permissions."
            ),
        )
        acknowledge(
            sm_role,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, self.check_function.function_arn)}:*]",
            "Step Functions invokes the check function by versioned ARN; versions of that function only.",
        )
