"""Runs without a deploy: a job's EventBridge Scheduler schedule, and the chain rules that run a job made
from another job's result after each of that job's runs.

Both start the stack's monitor with a *run request* (``lambda/scheduled.py``): the job's deployed
definition (its custom resource's properties, without the WaitHandle), its stack and logical id, and
what names the run (the scheduled time, or the upstream run's job ARN). The monitor skips the run or
creates the job and reports its end, never touching the stack.

Nothing here is imported or created for a job without ``schedule=``: an app without schedules
synthesizes exactly the template it did before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import (
    Aspects,
    Aws,
    CfnResource,
    IAspect,
    Reference,
    Stack,
    Stage,
    Token,
    Tokenization,
)
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct, IValidation

from constructs_lib._contract import contract
from constructs_lib.compliance import Acknowledgements
from constructs_lib.runtime import PersonalizeJobRuntime

if TYPE_CHECKING:
    from aws_cdk import aws_scheduler as scheduler

    from constructs_lib._job import PersonalizeJob

SCHEDULER_ROLE_ID = "SchedulerRole"
SCHEDULED_RUNS_POLICY_ID = "ScheduledRunsPolicy"
# The schedule group the jobs' schedules are in (aws_scheduler.Schedule without schedule_group), as its
# ARN's resource part: what the scheduler role's trust names as aws:SourceArn.
SCHEDULE_GROUP_ARN_RESOURCE = "schedule-group/default"
# Where a job reads its input, by the kinds' snake-case names (``JobKind.properties`` turns them into the
# properties; a name no kind declares fails there): the skip check lists the objects under it.
INPUT_NAMES = ("input_path", "data_location")
# The skip checks' Personalize listings (lambda/scheduled.py SKIP_CHECK_ACTIONS): no resource type.
SKIP_CHECK_LISTINGS = ("personalize:ListDatasetImportJobs", "personalize:ListDatasets")


def schedule_errors(schedule: Any, job_name: str | None) -> list[str]:
    """What a job with ``schedule=`` cannot also be (the job base's option checks call it)."""
    if schedule is None or job_name is None:
        return []
    return [
        f"job_name={job_name!r} with schedule=: each scheduled run is a new job with a name of its own, and "
        "a fixed name allows only one job. Drop job_name (the generated names start with the stack's and "
        "the job's names), or drop schedule"
    ]


# The kinds that take schedule= (issue 22): what runs again on new data. An export or a deletion has no
# input to compare, and a recurring deletion or export is a decision to make each time.
SCHEDULED_KINDS = ("dataset-import", "solution-version", "batch-inference", "batch-segment")


def option_errors(kind: contract.JobKind, options: Mapping[str, Any]) -> list[str]:
    """schedule=, schedule_enabled= and skip_unchanged= of a ``kind`` job (the job base's checks)."""
    errors = [
        f"{name}={options.get(name)!r}: must be True or False"
        for name in ("schedule_enabled", "skip_unchanged")
        if not isinstance(options.get(name), bool)
    ]
    schedule = options.get("schedule")
    if schedule is None:
        return errors
    from aws_cdk import aws_scheduler as scheduler

    if not isinstance(schedule, scheduler.ScheduleExpression):
        errors.append(
            f"schedule={schedule!r}: not an aws_scheduler.ScheduleExpression. Use "
            "ScheduleExpression.rate(Duration.days(7)), ScheduleExpression.cron(...) (with a time zone) or "
            "ScheduleExpression.at(...)"
        )
    if kind.key not in SCHEDULED_KINDS:
        errors.append(
            f"schedule= on a {kind.noun}: only dataset imports, trainings (SolutionVersion), batch inference "
            "and batch segment jobs run on a schedule. Drop schedule= (a change of the job's definition or "
            "run_token runs it again at a deploy)"
        )
    return errors


def records_input(kind: contract.JobKind) -> bool:
    """Whether a scheduled ``kind`` job's deploy runs record their input (``RecordInput``): a batch
    kind reading an input path, whose first scheduled run compares what the deploy run read."""
    return kind.output is not None and bool(declared(kind, "input_path"))


def attach(
    job: PersonalizeJob,
    properties: Mapping[str, Any],
    upstream: Sequence[PersonalizeJob],
    *,
    schedule: scheduler.ScheduleExpression | None,
    enabled: bool,
    skip_unchanged: bool,
    made_from: Mapping[str, Sequence[str]],
) -> None:
    """The one call from the job base: the job's schedule. What a chained run needs is kept on the job
    (plain Python attributes, nothing in the template); the chain rules are added at synth by one aspect
    per stage (the app), registered only once a job of it has a schedule."""
    job._run_definition = _RunDefinition(  # type: ignore[attr-defined]
        properties=dict(properties),
        upstream=tuple(upstream),
        skip_unchanged=skip_unchanged,
        input_locations=tuple(
            (str(parts[0]), str(parts[1]))
            for key in (prop for name in INPUT_NAMES for prop in [declared(job.kind, name)] if prop)
            for parts in [made_from.get(key) or ()]
            if len(parts) == 2
        ),
    )
    if schedule is None:
        return
    for before in upstream:
        if before.kind is contract.SOLUTION_VERSION and getattr(before, "_scheduled", False):
            raise ValueError(_on_a_scheduled_version(job, before))
    definition = job._run_definition  # type: ignore[attr-defined]
    add_schedule(
        job,
        properties,
        schedule=schedule,
        enabled=enabled,
        skip_unchanged=skip_unchanged,
        input_locations=definition.input_locations,
    )
    if records_input(job.kind):  # its deploy run lists the input with the check's policy
        job.resource.node.add_dependency(scheduled_runs_policy(job.runtime))
    job._runs_without_deploy = True  # type: ignore[attr-defined]
    job._scheduled = True  # type: ignore[attr-defined]
    # On the job's stage (the app, or the Stage holding its stack: aspects do not cross a Stage): a job
    # of another stack made from this one is chained (or refused) too.
    stage = Stage.of(job)
    assert stage is not None  # a job is always in a stack, hence in an app
    if not getattr(stage, "_chains_scheduled_runs", False):
        stage._chains_scheduled_runs = True  # type: ignore[attr-defined]
        Aspects.of(stage).add(_ChainRuns())


@dataclass(frozen=True)
class _RunDefinition:
    properties: dict[str, Any]
    upstream: tuple[PersonalizeJob, ...]
    skip_unchanged: bool
    input_locations: tuple[tuple[str, str], ...]


@jsii.implements(IAspect)
class _ChainRuns:
    """Visits the stack's jobs in the order they were made: a job made from a job that runs without a
    deploy (its ``SolutionVersion``'s attribute), and a training that waits for such an import
    (``node.add_dependency``, on it or on its ``CfnSolution``), gets a rule per such upstream job that
    runs it after each of that job's successful runs; it then runs without a deploy too."""

    def visit(self, node: IConstruct) -> None:
        from constructs_lib._job import PersonalizeJob

        if not isinstance(node, PersonalizeJob) or getattr(node, "_chained", False):
            return
        definition: _RunDefinition | None = getattr(node, "_run_definition", None)
        if definition is None:
            return
        node._chained = True  # type: ignore[attr-defined]
        for before in chain_upstream(node):
            if not runs_without_deploy(before):
                continue
            refused = _chain_refusal(node, before)
            if refused is not None:
                node.node.add_validation(_Refused(refused))
                continue
            add_chain(
                node,
                before,
                definition.properties,
                skip_unchanged=definition.skip_unchanged,
                source_prop=chained_source_prop(node.kind, before.kind),
                input_locations=definition.input_locations,
            )
            node._runs_without_deploy = True  # type: ignore[attr-defined]


@jsii.implements(IValidation)
class _Refused:
    """A combination found only once the app is built (at synth): the error ``synth`` raises."""

    def __init__(self, error: str) -> None:
        self._error = error

    def validate(self) -> list[str]:
        return [self._error]


def _on_a_scheduled_version(job: PersonalizeJob, before: PersonalizeJob) -> str:
    return (
        f"schedule= on {job.node.path}, made from {before.node.path}, whose versions are trained without a "
        "deploy: its own schedule would run it on the deployed version and overwrite latest.json with the "
        f"old model's results. Drop schedule= here: it already runs after each new version of "
        f"{before.node.id} (schedule the upstream instead)"
    )


def _chain_refusal(job: PersonalizeJob, before: PersonalizeJob) -> str | None:
    """Why ``job`` cannot run after each run without a deploy of ``before`` (None: it can)."""
    if getattr(job, "_scheduled", False) and before.kind is contract.SOLUTION_VERSION:
        return _on_a_scheduled_version(job, before)
    if Stack.of(before) is not Stack.of(job):
        return (
            f"{job.node.path} is made from {before.node.path} in another stack, which runs without a deploy: "
            "the chain rule matches end events by the stack's own id, so it would never run. Put both jobs "
            f"in one stack, or give {job.node.id} a schedule= of its own (not if made from a SolutionVersion)"
        )
    return None


def chain_upstream(job: PersonalizeJob) -> list[PersonalizeJob]:
    """The jobs ``job`` runs after: those it is made from, and a training's imports (read at synth)."""
    found: list[PersonalizeJob] | None = getattr(job, "_chain_upstream", None)
    if found is not None:
        return found
    definition: _RunDefinition | None = getattr(job, "_run_definition", None)
    found = list(definition.upstream) if definition is not None else []
    if job.kind is contract.SOLUTION_VERSION:
        found += [before for before in _imports_waited_for(job) if before not in found]
    job._chain_upstream = found  # type: ignore[attr-defined]
    return found


def declared(kind: contract.JobKind, name: str) -> str | None:
    """The property ``kind`` declares under the snake-case ``name`` (``solution_arn`` ->
    ``SolutionArn``), None when it declares none."""
    try:
        return next(iter(kind.properties({name: True})))
    except KeyError:
        return None


def chained_source_prop(kind: contract.JobKind, upstream: contract.JobKind) -> str | None:
    """The property of a ``kind`` job that a chained run replaces with the upstream run's new job ARN:
    the one named as the upstream's ARN attribute (a ``SolutionVersion``'s ``SolutionVersionArn`` feeds a
    batch job's). None when the upstream's runs give no such source (an import before a training)."""
    if upstream.arn_attribute is None:
        return None
    return declared(kind, contract.snake_case(upstream.arn_attribute))


def _imports_waited_for(job: PersonalizeJob) -> list[PersonalizeJob]:
    """The dataset imports a training waits for: its own dependencies, and its solution's."""
    from constructs_lib._job import PersonalizeJob

    found: list[PersonalizeJob] = []
    pending: list[IConstruct] = [
        dependency for scope in job.node.scopes for dependency in scope.node.dependencies
    ]
    solution_arn = getattr(job, "solution_arn", None)
    if isinstance(solution_arn, str) and Token.is_unresolved(solution_arn):
        for token in Tokenization.reverse_string(solution_arn).tokens:
            if isinstance(token, Reference):
                pending += list(token.target.node.dependencies)
    seen: set[str] = set()
    while pending:
        construct = pending.pop()
        if construct.node.path in seen:
            continue
        seen.add(construct.node.path)
        held = [child for child in construct.node.find_all() if isinstance(child, PersonalizeJob)]
        for candidate in held:
            if candidate.kind is contract.DATASET_IMPORT and candidate not in found:
                found.append(candidate)
    return found


def runs_without_deploy(job: PersonalizeJob, seen: frozenset[int] = frozenset()) -> bool:
    """Whether ``job`` runs on a schedule, or after a job that does, over the whole upstream chain (in
    whatever order the aspect visits the jobs)."""
    if getattr(job, "_runs_without_deploy", False):
        return True
    if id(job) in seen or getattr(job, "_run_definition", None) is None:
        return False
    return any(runs_without_deploy(before, seen | {id(job)}) for before in chain_upstream(job))


def run_request(
    job: PersonalizeJob,
    properties: Mapping[str, Any],
    *,
    trigger: str,
    skip_unchanged: bool,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The monitor's input for a run of ``job``: what its custom resource is given, minus the handle."""
    cfn = job.resource.node.default_child
    assert isinstance(cfn, CfnResource)
    return {
        "trigger": trigger,
        **extra,
        "resourceType": job.kind.resource_type,
        "stackId": Aws.STACK_ID,
        "logicalId": cfn.logical_id,
        "skipUnchanged": skip_unchanged,
        "properties": {key: value for key, value in properties.items() if key != contract.WAIT_HANDLE},
    }


def add_schedule(
    job: PersonalizeJob,
    properties: Mapping[str, Any],
    *,
    schedule: scheduler.ScheduleExpression,
    enabled: bool,
    skip_unchanged: bool,
    input_locations: Sequence[tuple[str, str]],
) -> scheduler.Schedule:
    """The job's schedule (``<job>/Schedule``): each delivery starts the monitor with a run request."""
    from aws_cdk import aws_scheduler as scheduler
    from aws_cdk import aws_scheduler_targets as targets

    runtime = job.runtime
    policy = scheduled_runs_policy(runtime)
    _grant_skip_checks(runtime, policy, job, properties, input_locations)
    request = run_request(
        job,
        properties,
        trigger="schedule",
        skip_unchanged=skip_unchanged,
        extra={"scheduledTime": scheduler.ContextAttribute.scheduled_time},
    )
    made = scheduler.Schedule(
        job,
        "Schedule",
        schedule=schedule,
        enabled=enabled,
        description=f"Runs the Personalize {job.kind.noun} {job.node.path} without a deploy",
        target=targets.StepFunctionsStartExecution(
            runtime.state_machine,
            input=scheduler.ScheduleTargetInput.from_object(request),
            role=scheduler_role(runtime).without_policy_updates(),
            # A lost delivery is one run less; the next scheduled time runs again.
            retry_attempts=3,
        ),
    )
    # The first delivery comes after the deploy run has ended and the check may make its calls.
    made.node.add_dependency(policy, job.wait_condition or job.resource)
    return made


def add_chain(
    job: PersonalizeJob,
    upstream: PersonalizeJob,
    properties: Mapping[str, Any],
    *,
    skip_unchanged: bool,
    source_prop: str | None,
    input_locations: Sequence[tuple[str, str]],
) -> Any:
    """A rule on ``upstream``'s successful runs without a deploy (scheduled or chained) that runs
    ``job`` after each, on the upstream run's new job (``source_prop`` takes its ARN)."""
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as events_targets

    runtime = job.runtime
    policy = scheduled_runs_policy(runtime)
    _grant_skip_checks(runtime, policy, job, properties, input_locations)
    upstream_cfn = upstream.resource.node.default_child
    assert isinstance(upstream_cfn, CfnResource)
    extra: dict[str, Any] = {"upstreamArn": events.EventField.from_path("$.detail.jobArn")}
    if source_prop is not None:
        extra["sourceProp"] = source_prop
    request = run_request(job, properties, trigger="chain", skip_unchanged=skip_unchanged, extra=extra)
    scope = job.node.scope
    assert isinstance(scope, Construct)
    rule = events.Rule(
        scope,
        f"{job.node.id}After{upstream.node.id}",
        description=f"Runs {job.node.path} after each scheduled run of {upstream.node.path} that succeeds",
        event_pattern=events.EventPattern(
            source=[contract.EVENT_SOURCE],
            detail_type=[upstream.kind.detail_type],
            detail={
                "stackId": [Aws.STACK_ID],
                "logicalId": [upstream_cfn.logical_id],
                "result": ["SUCCESS"],
                "trigger": ["schedule", "chain"],
            },
        ),
    )
    rule.add_target(
        events_targets.SfnStateMachine(
            runtime.state_machine,
            input=events.RuleTargetInput.from_object(request),
            role=events_role(runtime).without_policy_updates(),
            retry_attempts=3,
        )
    )
    rule.node.add_dependency(policy, job.wait_condition or job.resource)
    acks = Acknowledgements()
    acks.add(
        rule,
        "Serverless-EventBusDLQ",
        "A chained run lost after 3 retries is one run less, never a wrong result: the upstream's end event "
        "and results stay, and the next scheduled run of the chain runs this job again.",
    )
    acks.record()
    return rule


# --- what the runtime gains once one of its jobs runs without a deploy --------------------------------


def _runtime_child(runtime: PersonalizeJobRuntime, id: str) -> Any:
    return runtime.node.try_find_child(id)


def _starter_role(
    runtime: PersonalizeJobRuntime, id: str, service: str, why: str, source_arn: str
) -> iam.Role:
    """A role ``service`` assumes to start the monitor, for the sources ``source_arn`` (an ARN pattern)
    of this account only (confused-deputy prevention)."""
    found = _runtime_child(runtime, id)
    if isinstance(found, iam.Role):
        return found
    policy = iam.ManagedPolicy(
        runtime,
        f"{id}Policy",
        description=f"{why} may start only the monitor of {runtime.node.path}",
        statements=[
            iam.PolicyStatement(
                sid="StartMonitor",
                actions=["states:StartExecution"],
                resources=[runtime.state_machine.state_machine_arn],
            )
        ],
    )
    return iam.Role(
        runtime,
        id,
        assumed_by=iam.ServicePrincipal(
            service,
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": source_arn},
            },
        ),
        description=f"{why} of {runtime.node.path}",
        managed_policies=[policy],
    )


def scheduler_role(runtime: PersonalizeJobRuntime) -> iam.Role:
    """The role EventBridge Scheduler assumes for every schedule of the stack: start the monitor.

    Trusted for the schedules of the ``default`` group (the jobs' schedules name no group) of this
    account and region: EventBridge Scheduler user guide, "Set up the execution role" and "Confused
    deputy prevention", give ``aws:SourceArn`` the schedule group's ARN."""
    return _starter_role(
        runtime,
        SCHEDULER_ROLE_ID,
        "scheduler.amazonaws.com",
        "The job schedules",
        f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}:{SCHEDULE_GROUP_ARN_RESOURCE}",
    )


def events_role(runtime: PersonalizeJobRuntime) -> iam.Role:
    """The role EventBridge assumes for every chain rule of the stack: start the monitor.

    Trusted for rules on the default bus of this account and region (EventBridge user guide, "Using IAM
    policy conditions" and confused-deputy prevention: ``aws:SourceArn`` is the rule's ARN). Not the
    rules' own ARNs: each rule's target names this role, so a role naming its rules would close a
    circle, and CloudFormation generates the rules' names (their stack name part is truncated)."""
    return _starter_role(
        runtime,
        "ChainRulesRole",
        "events.amazonaws.com",
        "The chain rules",
        f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/*",
    )


def scheduled_runs_policy(runtime: PersonalizeJobRuntime) -> iam.ManagedPolicy:
    """What the check function needs for runs without a deploy, on the check function's role: list the
    monitor's executions (overlap) and start a run's own one; the skip checks' listings. It names the
    state machine, which names the check function: a policy of its own that the function does not
    depend on (as the self-check's)."""
    found = _runtime_child(runtime, SCHEDULED_RUNS_POLICY_ID)
    if isinstance(found, iam.ManagedPolicy):
        return found
    policy = iam.ManagedPolicy(
        runtime,
        SCHEDULED_RUNS_POLICY_ID,
        description=f"The check of {runtime.node.path} starts the runs its jobs' schedules ask for",
        statements=[
            iam.PolicyStatement(
                sid="StartRuns",
                actions=["states:ListExecutions", "states:StartExecution"],
                resources=[runtime.state_machine.state_machine_arn],
            ),
            iam.PolicyStatement(sid="SkipCheckListings", actions=list(SKIP_CHECK_LISTINGS), resources=["*"]),
        ],
    )
    policy.attach_to_role(runtime._roles["CheckFunction"])  # the function's own role (not its view)
    runtime.count_managed_policy("Check")
    acks = Acknowledgements()
    acks.add(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "ListDatasetImportJobs and ListDatasets support no resource-level permissions; the skip check of a "
        "scheduled import or training only lists (what was imported since the last run).",
    )
    acks.record()
    return policy


def _grant_skip_checks(
    runtime: PersonalizeJobRuntime,
    policy: iam.ManagedPolicy,
    job: PersonalizeJob,
    properties: Mapping[str, Any],
    input_locations: Sequence[tuple[str, str]],
) -> None:
    """The skip check lists the objects under the job's input path; a training's reads its solution."""
    for bucket, path in input_locations:
        bucket_arn = f"arn:{Aws.PARTITION}:s3:::{bucket}"
        policy.add_statements(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{path}*"]}},
            )
        )
    if job.kind is contract.SOLUTION_VERSION:
        policy.add_statements(
            iam.PolicyStatement(
                actions=["personalize:DescribeSolution"],
                resources=[properties[str(declared(contract.SOLUTION_VERSION, "solution_arn"))]],
            )
        )
