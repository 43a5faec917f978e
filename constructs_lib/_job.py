"""What every Personalize job construct shares: one custom resource per job, named runs, the
WaitCondition that holds the deployment, IAM for the stack's runtime, and the end event rule."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

import jsii
from aws_cdk import (
    Annotations,
    CfnResource,
    CfnWaitCondition,
    CfnWaitConditionHandle,
    CustomResource,
    Duration,
    Reference,
    Stack,
    Tokenization,
)
from aws_cdk import aws_events as events
from constructs import Construct, IConstruct, IDependable, IValidation

from constructs_lib import _reads, _schedule
from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._metrics import JobMetrics
from constructs_lib.runtime import SERVICE_TIMEOUT, PersonalizeJobRuntime, Placed, stack_arn
from constructs_lib.storage import BatchInferenceStorage

if TYPE_CHECKING:
    from aws_cdk import aws_scheduler as scheduler
    from typing_extensions import Unpack

DEFAULT_TIMEOUT = Duration.hours(6)


class RunOptions(TypedDict, total=False):
    """What every job construct takes besides its own props, as keyword arguments: how its runs are
    made and waited for. ``SolutionVersion`` takes these; the other jobs take ``JobOptions``."""

    tags: Mapping[str, str] | None
    """Tags on the job (at most 49); a change is applied in place. Default: no tags."""
    run_token: str | None
    """Any change starts a new job on the same inputs, e.g. to run a job that failed once (Personalize
    keeps failed jobs under their name). Not with ``job_name``. Default: none, the job runs again only
    when its definition changes."""
    wait: bool
    """Hold the deployment until the job ends. Default: True."""
    timeout: Duration
    """How long to wait for the job, from 5 minutes to 12 hours; a job still running (or still queued
    under the quota) then fails the deployment. Default: 6 hours."""
    runtime: PersonalizeJobRuntime | None
    """The stack's ``PersonalizeJobRuntime``. Default: the stack's own, created with default settings if
    the stack has none yet."""
    schedule: scheduler.ScheduleExpression | None
    """Runs the job again without a deploy on this EventBridge Scheduler expression
    (``ScheduleExpression.rate``, ``.cron`` with a time zone, ``.at``): each run is a new job named from
    its scheduled time, with the deployed definition, reported by the end event (``trigger``
    ``schedule``); a failed run is an event, never a stack failure. Not with ``job_name``.
    Default: the job runs only when a deploy changes it."""
    schedule_enabled: bool
    """False pauses the schedule without removing it. Default: True."""
    skip_unchanged: bool
    """A run without a deploy that would change nothing is skipped (a ``SKIPPED`` end event, nothing
    billed): see the README's "Schedules". False always runs. Default: True."""


class JobOptions(RunOptions, total=False):
    """``RunOptions`` and a physical name: what every job construct but ``SolutionVersion`` takes."""

    job_name: str | None
    """Explicit physical name. Then a change of the job's definition is refused, since the replacement
    would need the same name. Default: ``<stack>-<id>-<hash>``, deterministic per stack and definition."""


# What a job given none of the ``JobOptions`` gets (the others are None).
_DEFAULTS: JobOptions = {
    "wait": True,
    "timeout": DEFAULT_TIMEOUT,
    "schedule_enabled": True,
    "skip_unchanged": True,
}


def _options_errors(options: JobOptions) -> list[str]:
    """The checks every kind makes; the kind adds its own and they are raised all at once."""
    job_name, schedule = options.get("job_name"), options.get("schedule")
    return [
        *v.check_job_name(job_name, wait=options["wait"]),
        *v.check_run_token(options.get("run_token"), job_name),
        *v.check_tags(options.get("tags")),
        *v.check_timeout(options["timeout"]),
        *_schedule.schedule_errors(schedule, job_name),
    ]


class EventOptions(TypedDict, total=False):
    """``events.OnEventOptions``' fields, for a job's ``on_event``, ``on_success`` and ``on_failure``."""

    target: events.IRuleTarget | None
    """Where matching events go. Default: no target (add one with ``rule.add_target``)."""
    description: str | None
    """The rule's description. Default: names the job's kind and path."""
    event_pattern: events.EventPattern | None
    """More to match: its ``detail`` fields are added to the job's ``jobArn`` (and ``result``), its
    account, region and resources kept; source and detail-type stay the end event's. Default: every
    end event of the job."""
    rule_name: str | None
    """The rule's physical name. Default: a name CloudFormation generates."""
    cross_stack_scope: Construct | None
    """The scope of a target in another account or region. Default: none."""


class PersonalizeJob(JobMetrics, Construct):
    """Base of the job constructs: one long-running Personalize job as one CloudFormation resource.

    With ``wait=True`` a WaitCondition holds the stack until the job has ended (the deployment then
    goes on, or fails with the job's own failure reason), for up to 12 hours. ``node.add_dependency(job)``
    on another construct waits for the job's end; so does a job given this job's attribute as a prop.

    A kind is a subclass naming its ``kind`` declaration, whose ``__init__`` takes its own props and
    ``**options`` (``JobOptions``), checks its props (``_check``), then makes its properties
    (``_build``): see docs/handler-contract.md, "Adding a job kind".
    """

    kind: ClassVar[contract.JobKind]
    """The job kind's declaration in the handlers' contract (``lambda/contract.py``): its resource type,
    its properties, the Personalize calls, the end event's detail-type."""
    resource: CustomResource
    """The job's ``Custom::Personalize*`` resource."""
    wait_condition: CfnWaitCondition | None
    """The WaitCondition holding the deployment until the job ends; None with ``wait=False``."""
    timeout: Duration
    """How long the deployment waits for the job."""
    run_id: str
    """Names the run: changes exactly when a change starts a new job (shown by ``cdk diff`` as the
    resource's ``RunId``)."""
    replaced_sources: tuple[str, ...]
    """Fingerprints of resources of this stack that CloudFormation replaces (a new ARN at deploy time,
    the template's token unchanged) and that this job, or a job it is made from, runs on: they name the
    WaitCondition, so such a replacement brings a fresh one. Empty for most jobs."""
    runtime: PersonalizeJobRuntime
    """The stack's runtime that creates and monitors the job."""

    def __init__(self, scope: Construct, id: str, options: RunOptions, *, named: bool = True) -> None:
        """For the kinds; nothing is created until ``_build``.

        :param options: The ``JobOptions`` the kind was given.
        :param named: Whether the kind takes ``job_name`` (``SolutionVersion`` does not: the service
            names a version). Default: True.
        """
        known = set(JobOptions.__annotations__) - (set() if named else {"job_name"})
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {', '.join(unknown)}")
        self._options: JobOptions = {**_DEFAULTS, **options}
        super().__init__(scope, id)

    # ---------------------------------------------------------------- for the subclasses

    @functools.cached_property
    def _stack(self) -> Stack:
        """The job's stack (read once: every read crosses into jsii)."""
        return Stack.of(self)

    def _check(self, errors: Iterable[str]) -> None:
        """Raise the kind's errors and those of its options at once, naming this construct's path."""
        self._raise_if_errors(
            [*errors, *_options_errors(self._options), *_schedule.option_errors(self.kind, self._options)]
        )

    def _raise_if_errors(self, errors: Iterable[str]) -> None:
        """Raise every error at once, naming this construct's class and path."""
        found = [error for error in errors if error]
        if found:  # the path only then: reading it crosses into jsii
            v.raise_if_errors(type(self).__name__, found, path=self.node.path)

    def _input_errors(self, prop: str, path: str, storage: BatchInferenceStorage | None) -> list[str]:
        """The checks of ``prop``, a key or prefix in the storage's input bucket."""
        bucket = _reads.bucket_name(storage.input_bucket) if storage else None
        return list(v.check_input_path(prop, path, bucket))

    def _find_runtime(self) -> PersonalizeJobRuntime:
        """The runtime given in the options, or the stack's own (created if the stack has none yet)."""
        if "runtime" not in vars(self):
            self.runtime = (
                self._options.get("runtime") or PersonalizeJobRuntime.find(self._stack) or self._new_runtime()
            )
        return self.runtime

    def _new_runtime(self) -> PersonalizeJobRuntime:
        """The stack's runtime, for the stack's first job."""
        return PersonalizeJobRuntime(self._stack)

    def _attribute(self, name: str) -> str:
        """The resource's attribute ``name``, one its kind declares (``contract.ATTR_*``)."""
        assert name in self.kind.attributes, f"{self.kind.key} declares no attribute {name}"
        return self.resource.get_att_string(name)

    def _build(
        self,
        values: Mapping[str, Any],
        *,
        storage: BatchInferenceStorage | None = None,
        input: tuple[str, str] | None = None,
        depends_on: Iterable[IDependable] = (),
        source_resources: Sequence[str] = (),
        made_from: Mapping[str, Sequence[str]] | None = None,
        replaced_source: str | None = None,
    ) -> None:
        """Create the job's resource and what it needs; props are validated (``_check`` did that).

        ``values`` are the kind's properties named in snake case (``solution_version_arn``), as
        ``contract.JobKind.properties`` takes them. With ``storage``, the kind's role property is its
        role (passed to Personalize: the runtime is granted that), and ``input`` (a property and a key
        or prefix) names an ``s3://`` location in its input bucket, which the job reads.

        ``made_from`` gives, for a value the subclass made by joining literal text to other values
        (``s3://<bucket>/<path>``), those values; ``()`` for one made of literal text only. Those values
        reference what the property references, and each of them is looked into once per stack, where
        the joined text is new for every job.

        ``replaced_source``: a fingerprint of what replaces the resource the job runs on at deploy time
        (a ``CfnSolution`` of the stack and its replacement-causing properties), folded into the
        WaitCondition's name only: a new name and a new handle let the handler start the new job, where
        a WaitCondition left as it was would make it refuse the update. The job's name and RunId do not
        see it (a replacement already changes the name the handler derives at deploy time).
        """
        kind = self.kind
        options = self._options
        job_name, tags, run_token = options.get("job_name"), options.get("tags"), options.get("run_token")
        wait = options["wait"]
        timeout = self.timeout = options["timeout"]
        runtime = self._find_runtime()
        values, made_from = dict(values), dict(made_from or {})
        grants: list[IDependable] = []
        if storage is not None:
            if input is not None:
                prop, path = input
                bucket = _reads.bucket_name(storage.input_bucket)
                values[prop], made_from[prop] = f"s3://{bucket}/{path}", (bucket, path)
                storage._job_reads_input(self)
            if kind.role_prop is not None:
                values[contract.snake_case(kind.role_prop)] = _reads.role_arn(storage.role)
                grants += [storage, *runtime.place_pass_role(storage.role, owner=storage).policies]
            grants += self._grants(runtime)
        properties = kind.properties(values)
        made_from = kind.properties(made_from)
        stack = self._stack
        if run_token is not None:
            properties[contract.RUN_TOKEN] = run_token
        if job_name is not None:
            properties[contract.JOB_NAME] = job_name
        if options.get("schedule") is not None and _schedule.records_input(kind):
            properties[contract.RECORD_INPUT] = "true"  # not in the RunId: only the deploy run's record
        tag_list = [{"Key": k, "Value": tags[k]} for k in sorted(tags)] if tags else None
        # What the job was given may reference other jobs; what is added below is the library's own
        # literal text (a sanitized name prefix, a number of seconds).
        given = [made_from.get(key, value) for key, value in properties.items()]
        upstream = [job for job in upstream_jobs([*given, tag_list], stack) if job is not self]
        self._raise_if_errors(_chain_errors(upstream))
        for warning_id, message in _chain_warnings(upstream, job_name, stack):
            Annotations.of(self).add_warning_v2(warning_id, message)

        node_id = self.node.id
        stack_name = _literal_stack_name(stack)
        prefix = contract.name_prefix(node_id if stack_name is None else f"{stack_name}-{node_id}")
        properties[contract.JOB_NAME_PREFIX] = prefix
        seconds = v.literal_seconds(timeout)
        assert seconds is not None  # validated
        wait_seconds = int(seconds)
        properties[contract.TIMEOUT_SECONDS] = str(contract.monitor_timeout_seconds(wait_seconds))
        if tag_list:
            properties[contract.TAGS] = tag_list

        defining = {k: properties[k] for k in kind.defining if k in properties}
        resolved = stack.resolve({**defining, contract.TIMEOUT_SECONDS: properties[contract.TIMEOUT_SECONDS]})
        upstream_runs = sorted(job.run_id for job in upstream)
        self.replaced_sources = tuple(
            sorted(
                {
                    *([replaced_source] if replaced_source else []),
                    *(key for job in upstream for key in job.replaced_sources),
                }
            )
        )
        # WaitConditions cannot be updated and their handles must never be reused: both are named after
        # the run and the timeout, so every change brings a fresh pair. A job made from another job's
        # result also changes when that job runs again, and when what it runs on is replaced at deploy
        # time (its own source or its upstream's: a renamed CfnSolution).
        generation = _digest(resolved, upstream_runs, self.replaced_sources).upper()
        self.run_id = _digest(
            {k: resolved[k] for k in resolved if k != contract.TIMEOUT_SECONDS}, upstream_runs
        )
        properties[contract.RUN_ID] = self.run_id

        handle = CfnWaitConditionHandle(self, f"WaitHandle{generation}") if wait else None
        handle_ref = handle.ref if handle is not None else None
        if handle_ref is not None:
            properties[contract.WAIT_HANDLE] = handle_ref
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=runtime.service_token,
            resource_type=kind.resource_type,
            properties=properties,
            service_timeout=SERVICE_TIMEOUT,
        )
        resource_node = self.resource.node
        # Personalize checks the role's and the buckets' and keys' policies when the job is created; the
        # job also waits for the jobs it is made from, and for its grants (added below): one call.
        dependencies: list[IDependable] = [*grants, *depends_on, *upstream]
        self.wait_condition = None
        if handle_ref is not None:
            self.wait_condition = CfnWaitCondition(
                self, f"WaitCondition{generation}", handle=handle_ref, timeout=str(wait_seconds), count=1
            )
            self.wait_condition.node.add_dependency(self.resource)
        # The grants on what the job is made from, in policies only the jobs made from it depend on.
        sources = [_grantable(source, upstream, stack) for source in source_resources]
        dependencies += self._grant(runtime, job_name, prefix, sources).policies
        resource_node.add_dependency(*dependencies)
        # What the user makes the job wait for (node.add_dependency) is known only once the app is built.
        self.node.add_validation(_StartsAfterEnds(self, given, _Walks.of(stack)))
        # Runs without a deploy (issue 22): the job's schedule; what its chained runs need (rules at synth).
        _schedule.attach(
            self,
            properties,
            upstream,
            schedule=options.get("schedule"),
            enabled=options["schedule_enabled"],
            skip_unchanged=options["skip_unchanged"],
            made_from=made_from,
        )

    def _grants(self, runtime: PersonalizeJobRuntime) -> list[IDependable]:
        """What the kind grants the runtime besides passing the storage's role (its results, say): the
        policies the job's resource must wait for."""
        return []

    def _grant(
        self,
        runtime: PersonalizeJobRuntime,
        job_name: str | None,
        prefix: str,
        source_resources: Sequence[str],
    ) -> Placed:
        kind = self.kind
        if kind.arn_resource is not None:
            # The stack's generated names, and an explicit name exactly. The generated names stay granted
            # beside an explicit one: when a change moves the resource between the two, the policy is
            # updated before the resource, and the old job's monitor (a queued job's create included)
            # must keep working until the resource has moved on, or a failed update has moved it back.
            pattern = f"{_stack_prefix(self._stack)}*"
            job_resources = [stack_arn(self._stack, "personalize", f"{kind.arn_resource}/{pattern}")]
            if job_name is not None:
                job_resources.append(stack_arn(self._stack, "personalize", f"{kind.arn_resource}/{job_name}"))
            runtime.acknowledge_job_pattern(
                job_resources[0],
                f"Job names are generated at deploy time as '<stack>-<id>-<hash>', so the jobs of this "
                f"stack are known only by their common prefix: '{pattern}'.",
            )
        else:
            # The service names the job (a solution version) inside its source: solution/<name>/<id>.
            job_resources = [f"{source}/*" for source in source_resources]
            for resource in job_resources:
                runtime.acknowledge_job_pattern(
                    resource,
                    "Personalize names a solution version '<solution ARN>/<id>', the id chosen when it is "
                    "created: the wildcard covers the versions of this one solution.",
                )
        return runtime.place_jobs(kind, job_resources=job_resources, source_resources=source_resources)

    def source_pattern(self) -> str | None:
        """What a job made from this job's result is granted instead of that result's token (which would
        make the shared runtime's policy depend on this job, and this job on the runtime: a cycle)."""
        return None

    # ---------------------------------------------------------------- attributes

    @functools.cached_property
    def job_arn(self) -> str:
        """ARN of the job (a deploy-time token; changes with each run)."""
        return self._attribute(contract.ATTR_JOB_ARN)

    @functools.cached_property
    def job_name(self) -> str:
        """Name of the job (a deploy-time token; changes with each run)."""
        return self._attribute(contract.ATTR_JOB_NAME)

    @functools.cached_property
    def status(self) -> str:
        """The job's status when the resource was last created or updated (a deploy-time token)."""
        return self._attribute(contract.ATTR_STATUS)

    def on_event(self, id: str, **options: Unpack[EventOptions]) -> events.Rule:
        """An EventBridge rule matching this job's end events (``events.OnEventOptions``' fields:
        ``EventOptions``).

        The rule is created beside the job with the id ``<job id><id>``. The event's detail carries
        kind, jobArn, jobName, status, result (SUCCESS or FAILURE), failureReason, outputS3Uri,
        manifestUri (for kinds with results in S3), metrics (solution versions), durationSeconds,
        stackId and logicalId, trigger (deploy, schedule, chain) and scheduledTime. The rule matches every
        run of the resource, deploy runs and runs without a deploy; with ``schedule=`` also the skipped
        runs' events (result SKIPPED, with a reason), which ``on_success`` and ``on_failure`` leave out.

        :param options: ``EventOptions``: ``target``, ``description``, ``event_pattern`` (more to
            match), ``rule_name``, ``cross_stack_scope``.
        """
        return self._end_rule(id, None, options)

    def on_success(self, id: str, **options: Unpack[EventOptions]) -> events.Rule:
        """As ``on_event``, for the runs that succeeded (``result`` SUCCESS: the job is ACTIVE).

        :param options: ``EventOptions``, as for ``on_event``.
        """
        return self._end_rule(id, "SUCCESS", options)

    def on_failure(self, id: str, **options: Unpack[EventOptions]) -> events.Rule:
        """As ``on_event``, for the runs that failed, were stopped or timed out (``result`` FAILURE;
        ``failureReason`` says why).

        :param options: ``EventOptions``, as for ``on_event``.
        """
        return self._end_rule(id, "FAILURE", options)

    def on_state_change(
        self,
        id: str,
        *,
        target: events.IRuleTarget | None = None,
        description: str | None = None,
        rule_name: str | None = None,
        enabled: bool = True,
    ) -> events.Rule:
        """``on_event`` under its earlier name (kept for existing apps, with the same rule), plus
        ``enabled``: False creates the rule disabled."""
        return self._end_rule(
            id, None, {"target": target, "description": description, "rule_name": rule_name}, enabled=enabled
        )

    def _end_rule(
        self, id: str, result: str | None, options: EventOptions, *, enabled: bool = True
    ) -> events.Rule:
        # The rule lives beside the job, not inside it: a construct that depends on the job (waits for
        # its end) may well be the rule's target, and must not find the rule among its dependencies.
        scope = self.node.scope
        assert isinstance(scope, Construct)
        unknown = sorted(set(options) - set(EventOptions.__annotations__))
        if unknown:
            raise TypeError(f"{type(self).__name__}.on_event() got unexpected keyword arguments: {unknown}")
        given = options.get("event_pattern") or events.EventPattern()
        # The resource's runs, not one job: the deploy run's and every run without a deploy (scheduled,
        # chained) carry the stack's id and the resource's logical id, as the chain rules match them.
        cfn = self.resource.node.default_child
        assert isinstance(cfn, CfnResource)
        detail: dict[str, Any] = {
            **(given.detail or {}),
            "stackId": [self._stack.stack_id],
            "logicalId": [cfn.logical_id],
        }
        if result is not None:
            detail["result"] = [result]
        rule = events.Rule(
            scope,
            f"{self.node.id}{id}",
            description=options.get("description")
            or f"End of the Personalize {self.kind.noun} {self.node.path}",
            rule_name=options.get("rule_name"),
            enabled=enabled,
            cross_stack_scope=options.get("cross_stack_scope"),
            event_pattern=events.EventPattern(
                account=given.account,
                region=given.region,
                resources=given.resources,
                source=[contract.EVENT_SOURCE],
                detail_type=[self.kind.detail_type],
                detail=detail,
            ),
        )
        target = options.get("target")
        if target is not None:
            rule.add_target(target)
        elsewhere = options.get("cross_stack_scope")
        if elsewhere is not None and Stack.of(elsewhere) is not self._stack:
            # The rule read the job's ARN from this stack before 0.2.0: keep that export while the
            # other stack may still import it (CloudFormation refuses to delete an export in use).
            self._stack.export_value(self.job_arn)
        return rule


CROSS_STACK_REFERENCES = "@aws-cdk/core:defaultCrossStackReferences"


# Warning ids (stable: users acknowledge them) for chains whose next upstream run would be billed, then
# the update refused. Warnings, not errors: an app that synthesized before keeps synthesizing, and its fix
# (a generated name, weak references) starts a run of its own, which its owner should choose to pay for.
NAMED_CHAINED_JOB_WARNING = "constructs-lib:namedChainedJob"
STRONG_CROSS_STACK_CHAIN_WARNING = "constructs-lib:strongCrossStackChain"


def _chain_errors(upstream: Sequence[PersonalizeJob]) -> list[str]:
    """What a job made from other jobs' results cannot be: a job started before those have ended."""
    return [
        _unfinished(before, "is made from its result") for before in upstream if before.wait_condition is None
    ]


def _chain_warnings(
    upstream: Sequence[PersonalizeJob], job_name: str | None, stack: Stack
) -> list[tuple[str, str]]:
    """A named job made from other jobs' results (it runs again after each of their runs), or one another
    stack imports them into: the update after the next upstream run would fail once that run is billed."""
    found: list[tuple[str, str]] = []
    if job_name is not None and upstream:
        found.append(
            (
                NAMED_CHAINED_JOB_WARNING,
                f"job_name={job_name!r}: this job runs again after each new run of "
                f"{', '.join(before.node.path for before in upstream)} (it is made from its result), and a "
                "fixed name allows only one job: the update after the next run would fail once that run is "
                "billed. Drop job_name before that run (the generated name follows each run; dropping it "
                "starts this job once more), or acknowledge this warning",
            )
        )
    for before in upstream:
        if before._stack is stack:
            continue
        strength = stack.node.try_get_context(CROSS_STACK_REFERENCES) or "strong"
        if strength != "weak":
            found.append(
                (
                    STRONG_CROSS_STACK_CHAIN_WARNING,
                    f"this job is made from the result of {before.node.path}, in the stack "
                    f"{before._stack.node.path}, through a {strength} cross-stack reference (an export): "
                    f"the next run of {before.node.id} changes that value, and CloudFormation refuses to "
                    "change an export another stack imports, after that run was billed. Set the context "
                    f"{CROSS_STACK_REFERENCES!r} to 'weak' (in cdk.json), or put both jobs in one stack, or "
                    "acknowledge this warning",
                )
            )
    return found


def _unfinished(before: PersonalizeJob, why: str) -> str:
    return (
        f"{before.node.path} has wait=False: its resource is complete as soon as its {before.kind.noun} has "
        f"started, and this job, which {why}, would start before it is ACTIVE (Personalize refuses it, or "
        f"works on incomplete data). Give {before.node.id} wait=True (the default), or make this job from a "
        "literal ARN once that one has ended"
    )


@jsii.implements(IValidation)
class _Walks:
    """What the jobs' synth-time walks read (each construct's scopes' dependencies, the jobs a construct
    stands for), kept for every job of a stack: their walks cross the same storage, policies, stack and
    app. Registered on the stack, whose own validations run before those of its constructs
    (aws-cdk-lib validates the tree in pre-order): each synthesis starts afresh, on the tree as it is."""

    def __init__(self) -> None:
        self.waits: dict[str, list[IConstruct]] = {}
        self.waited: dict[str, list[IConstruct]] = {}
        self.jobs: dict[str, list[PersonalizeJob]] = {}
        self.references: dict[str, list[IConstruct]] = {}

    def validate(self) -> list[str]:
        self.waits.clear()
        self.waited.clear()
        self.jobs.clear()
        self.references.clear()
        return []

    @staticmethod
    def of(stack: Stack) -> _Walks:
        def registered() -> _Walks:
            walks = _Walks()
            stack.node.add_validation(walks)
            return walks

        return _reads.once(stack, "job walks", registered)

    def waits_of(self, construct: IConstruct) -> list[IConstruct]:
        """What ``construct`` and its scopes wait for (``node.add_dependency``)."""
        found = self.waited.get(_kernel_ref(construct))
        if found is None:
            found = self.waited[_kernel_ref(construct)] = []
            for scope in construct.node.scopes:
                key = _kernel_ref(scope)
                if key not in self.waits:
                    self.waits[key] = scope.node.dependencies
                found += self.waits[key]
        return found

    def referenced(self, values: Any) -> list[IConstruct]:
        """``_referenced(values)``, each string read once: the stack's jobs share most of theirs (the
        storage's bucket names, key and role ARNs)."""
        targets: list[IConstruct] = []
        for value in _strings(values):
            if value not in self.references:
                self.references[value] = _referenced(value)
            targets += self.references[value]
        return targets

    def jobs_in(self, construct: IConstruct) -> list[PersonalizeJob]:
        key = _kernel_ref(construct)
        if key not in self.jobs:
            self.jobs[key] = _jobs_in(construct)
        return self.jobs[key]


@jsii.implements(IValidation)
class _StartsAfterEnds:
    """At synth: every job a job waits for (``node.add_dependency``, on it or a construct holding it, or
    on a resource it is made from, such as a ``CfnSolution`` created after an import) holds the
    deployment until its end: it has a WaitCondition."""

    def __init__(self, job: PersonalizeJob, given: Sequence[Any], walks: _Walks) -> None:
        self._job = job
        self._given = given
        self._walks = walks

    def validate(self) -> list[str]:
        job, walks = self._job, self._walks
        found: dict[str, str] = {}
        seen: set[str] = set()
        pending: list[tuple[IConstruct, str]] = [
            (dependency, "waits for it") for dependency in walks.waits_of(job)
        ]
        pending += [
            (target, "is made from a resource that waits for it") for target in walks.referenced(self._given)
        ]
        while pending:
            construct, why = pending.pop()
            key = _kernel_ref(construct)
            if key in seen:
                continue
            seen.add(key)
            jobs = walks.jobs_in(construct)
            if jobs:
                for before in jobs:
                    if before is not job and before.wait_condition is None:
                        found.setdefault(before.node.path, _unfinished(before, why))
                continue
            # A resource or construct of the user's in between: what it waits for, this job waits for.
            for dependency in walks.waits_of(construct):
                pending.append((dependency, "waits for a resource that waits for it"))
        return [found[path] for path in sorted(found)]


def _kernel_ref(construct: IConstruct) -> str:
    """The jsii kernel's id of a construct's JavaScript object: one per construct, read without a round
    trip (a construct's Python proxies may differ from one read to the next)."""
    return str(construct.__jsii_ref__.ref)  # type: ignore[attr-defined]


def _jobs_in(construct: IConstruct) -> list[PersonalizeJob]:
    """The jobs whose run waiting for ``construct`` waits for: the jobs it is or holds, or the job whose
    own resource it is. Another part of a job (a storage it created) stands for no job."""
    held = [child for child in construct.node.find_all() if isinstance(child, PersonalizeJob)]
    if held:
        return held
    scopes = construct.node.scopes
    for index, scope in enumerate(scopes[:-1]):
        if isinstance(scope, PersonalizeJob):
            resource = getattr(scope, "resource", None)
            if resource is not None and scopes[index + 1].node.path == resource.node.path:
                return [scope]
    return []


def _referenced(values: Any) -> list[IConstruct]:
    """The resources of the app that deploy-time strings in ``values`` reference."""
    targets: list[IConstruct] = []
    for value in _strings(values):
        if not v.is_token(value):
            continue
        for token in Tokenization.reverse_string(value).tokens:
            if isinstance(token, Reference) and isinstance(token.target, CfnResource):
                targets.append(token.target)
    return targets


def upstream_jobs(values: Any, stack: Stack | None = None) -> list[PersonalizeJob]:
    """The jobs whose results ``values`` (strings, or mappings and lists of them) reference (a solution
    version's ARN, say): references to a job's own resource, not to anything else it holds (a storage it
    created and others share).

    With ``stack``, what a deploy-time string references is kept for the stack's other jobs: a token
    always stands for the same thing, and a stack's jobs share many (the storage's names and ARNs).
    """
    known: dict[str, tuple[PersonalizeJob, ...]] = (
        _reads.once(stack, "upstream jobs", dict) if stack is not None else {}
    )
    found: list[PersonalizeJob] = []
    for value in _strings(values):
        if not v.is_token(value):
            continue
        jobs = known.get(value)
        if jobs is None:
            jobs = known[value] = tuple(_referenced_jobs(value))
        found.extend(job for job in jobs if job not in found)
    return found


def _referenced_jobs(value: str) -> Iterable[PersonalizeJob]:
    """The jobs whose own resource a deploy-time string references."""
    for token in Tokenization.reverse_string(value).tokens:
        if not isinstance(token, Reference):
            continue
        scopes = token.target.node.scopes  # from the root down to <job>/Resource/Default
        if len(scopes) < 3 or not isinstance(scopes[-3], PersonalizeJob):
            continue
        job, owner = scopes[-3], scopes[-2]
        resource = getattr(job, "resource", None)
        # The job's resource is the Python object CDK hands back for it: no need to compare addresses.
        if resource is not None and (owner is resource or owner.node.addr == resource.node.addr):
            yield job


def _grantable(source: str, upstream: Sequence[PersonalizeJob], stack: Stack) -> str:
    """``source`` for the runtime's policy: a token of another job becomes that job's pattern."""
    if not upstream or not v.is_token(source):
        return source
    for job in upstream_jobs(source, stack):
        if job in upstream:
            return job.source_pattern() or stack_arn(stack, "personalize", "solution/*")
    return source


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _digest(resolved: Any, upstream_runs: list[str], replaced: Sequence[str] = ()) -> str:
    """8 hex digits over resolved properties (and, when there are any, the runs of upstream jobs and the
    fingerprints of replaceable sources). Without those two the material is the properties alone, as it
    has always been: the names of existing jobs' WaitConditions do not move."""
    material: Any = resolved if not upstream_runs else {"job": resolved, "upstream": upstream_runs}
    if replaced:
        material = {"job": resolved, "upstream": upstream_runs, "replaced": list(replaced)}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _literal_stack_name(stack: Stack) -> str | None:
    """The stack's name; None when it is a token."""

    def read() -> str | None:
        name = stack.stack_name
        return None if v.is_token(name) else name

    return _reads.once(stack, "literal stack name", read)


def _stack_prefix(stack: Stack) -> str:
    """What every generated job name of the stack starts with."""
    stack_name = _literal_stack_name(stack)
    if stack_name is None:
        return ""
    return f"{contract.sanitize_name_part(stack_name, contract.MAX_NAME_PREFIX_LENGTH)}-"[
        : contract.MAX_NAME_PREFIX_LENGTH
    ]
