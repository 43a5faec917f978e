"""CloudFormation, as far as the job resources meet it: stack operations on the simulated clock.

A create processes the template's resources in dependency order; an update compares the new template
with the stack's resources by logical id (new ones created, changed ones updated, removed ones and the
old physical ids of replaced custom resources deleted in the cleanup after success); a failure cancels
what is still in progress (a WaitCondition still waiting: "Resource creation cancelled") and, at once,
rolls an update back (the changed resources, the one whose own Update failed included, get an Update
with old and new swapped, the new ones a Delete) or a create back (every created resource deleted); a
delete removes everything in reverse order. Exports are shared between stacks; changing one that
another stack imports fails the update, as in AWS.

Custom job resources go to their Provider framework and the real on-event function; WaitConditions wait
for their handle's signals or time out; a `BucketDeployment` writes its assets' files (read from the
cloud assembly) into its bucket on Create and Update; every other resource is created, updated and
deleted at once (S3 buckets exist, empty, in the S3 stand-in). Faults can be injected: a resource's
create or update fails, a request is delivered twice.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from constructs_lib._contract import contract
from constructs_lib.rehearsal.assembly import StackArtifact
from constructs_lib.rehearsal.deployment import DEPLOYMENT_TYPE, DeploymentError, plan
from constructs_lib.rehearsal.discovery import StackModel, dependency_graph, discover
from constructs_lib.rehearsal.intrinsics import Resolver, UnresolvableError
from constructs_lib.rehearsal.personalize import NATIVE_TYPES
from constructs_lib.rehearsal.provider import (
    CREATE_FAILED_MARKER,
    ProviderAnswer,
    ProviderFramework,
    cfn_properties,
)
from constructs_lib.rehearsal.sandbox import Sandbox
from constructs_lib.rehearsal.signals import COMPLETE, WAITING, Handle, WaitCondition
from constructs_lib.rehearsal.validation import template_refusal

JOB_TYPES = frozenset(contract.KINDS)
HANDLE_TYPE = "AWS::CloudFormation::WaitConditionHandle"
WAIT_TYPE = "AWS::CloudFormation::WaitCondition"
# CloudFormation takes a few seconds per resource; the WaitCondition starts after its custom resource.
STEP_SECONDS = 2

# Stack statuses an operation ends in.
CREATE_COMPLETE, ROLLBACK_COMPLETE, ROLLBACK_FAILED = (
    "CREATE_COMPLETE",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
)
UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE = "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"
UPDATE_ROLLBACK_FAILED, DELETE_COMPLETE, DELETE_FAILED = (
    "UPDATE_ROLLBACK_FAILED",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
)
STUCK = frozenset({ROLLBACK_FAILED, UPDATE_ROLLBACK_FAILED, DELETE_FAILED})
# Not a stack status: CloudFormation answered the create or update with a ValidationError (a template it
# refuses), so the stack was not created, or stayed as it was.
VALIDATION_FAILED = "VALIDATION_FAILED"
DELETED = "DELETE_COMPLETE"  # a WaitCondition deleted while it waited (a rollback, a cleanup)
INJECTED_FAILURE = "Resource handler returned message: injected failure (rehearsal)"


SCHEDULE_TYPE = "AWS::Scheduler::Schedule"


class EngineError(Exception):
    """The rehearsal cannot model what the template asks for."""


@dataclass
class ResourceState:
    """One resource of a stack as CloudFormation holds it."""

    logical_id: str
    type: str
    physical_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)  # resolved, as last applied
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "CREATE_IN_PROGRESS"
    handle: Handle | None = None
    wait: WaitCondition | None = None


@dataclass
class StackState:
    """A deployed stack: its current template, resolver, wiring and resources."""

    artifact: StackArtifact
    template: dict[str, Any]
    resolver: Resolver
    model: StackModel
    resources: dict[str, ResourceState] = field(default_factory=dict)
    status: str = "REVIEW_IN_PROGRESS"
    instance: int = 0  # how many times a stack of this name was created before
    assembly: Any = None  # the cloud assembly the template came from (its file assets)
    # While an update runs: the other template's resources, which exist until its cleanup (the previous
    # template's going forward, the new template's in a rollback).
    lingering: Resolver | None = None
    # When its last update (or an update's rollback) began, on the simulated clock: DescribeStacks'
    # LastUpdatedTime (None for a stack never updated, which CloudFormation answers without it).
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.artifact.stack_name

    def key(self, logical_id: str) -> str:
        return f"{self.name}/{logical_id}"


@dataclass
class Change:
    """What an update did to one job resource (for the report)."""

    stack: str
    logical_id: str
    action: str  # added, updated, removed
    old_physical_id: str | None
    new_physical_id: str | None
    old_properties: dict[str, Any]
    new_properties: dict[str, Any]
    status: str = ""  # the job's status the resource answered with


@dataclass
class Operation:
    """One stack operation and how it ended."""

    kind: str  # CREATE, UPDATE, DELETE
    stack: str
    status: str = ""
    reason: str = ""
    rollback_reason: str = ""
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what leaves a stack stuck or a resource behind

    @property
    def finished(self) -> bool:
        return bool(self.status)


@dataclass
class Faults:
    """Faults injected into the engine's own work."""

    # Logical ids (or construct ids) of resources whose create, or update that changes them, fails.
    fail_resources: set[str] = field(default_factory=set)
    duplicate_requests: bool = False  # every custom resource request is delivered twice


# Observers the driver installs: a custom resource answered; a WaitCondition ended.
OnAnswer = Callable[[StackState, ResourceState, str, dict[str, Any], ProviderAnswer], None]
OnWait = Callable[[StackState, ResourceState, WaitCondition], None]
# A job resource is about to be sent its Create or Update (the stack, its logical id, its properties, its
# kind): the driver may write the sample input the user says will be there.
OnSeed = Callable[[StackState, str, Mapping[str, Any], Any], None]


class Engine:
    def __init__(
        self,
        sandbox: Sandbox,
        provider: ProviderFramework,
        *,
        faults: Faults | None = None,
        on_answer: OnAnswer | None = None,
        on_wait: OnWait | None = None,
        on_seed: OnSeed | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.provider = provider
        self.faults = faults or Faults()
        self.exports: dict[str, tuple[str, Any]] = {}  # name -> (exporting stack, value)
        self.stacks: dict[str, StackState] = {}
        self._waits: dict[str, tuple[_Run, ResourceState]] = {}  # handle path -> the waiting run
        self.duplicate_mismatches: list[str] = []
        self._instances: dict[str, int] = {}
        self._on_answer = on_answer
        self._on_wait = on_wait
        self._on_seed = on_seed
        # Called when an AWS::Scheduler::Schedule is created or updated (a rollback included): the
        # rehearsal's scheduler reads its definition from then on (recurring.py).
        self.on_schedule: Callable[[StackState, ResourceState], None] | None = None

    # ------------------------------------------------------------------ stacks

    def new_stack(self, artifact: StackArtifact, assembly: Any) -> StackState:
        """A stack about to be created: a new stack instance (a new StackId, as each CloudFormation
        create of a stack name gets)."""
        instance = self._instances[artifact.stack_name] = self._instances.get(artifact.stack_name, -1) + 1
        resolver = self._resolver(artifact, artifact.template, instance)
        model = discover(artifact, assembly, resolver)
        state = StackState(artifact, artifact.template, resolver, model, instance=instance, assembly=assembly)
        self._register(model)
        return state

    def _resolver(self, artifact: StackArtifact, template: dict[str, Any], instance: int) -> Resolver:
        return Resolver(
            template,
            stack_name=artifact.stack_name,
            account=artifact.account,
            region=artifact.region,
            imports=self._import,
            stack_outputs=self._stack_output,
            instance=instance,
        )

    def _import(self, name: str) -> Any:
        if name not in self.exports:
            raise UnresolvableError(f"No export named {name} found")
        return self.exports[name][1]

    def _stack_output(self, stack_name: str, output_name: str) -> Any:
        state = next((s for s in self.stacks.values() if s.name == stack_name), None)
        output = state.template.get("Outputs", {}).get(output_name) if state is not None else None
        if state is None or output is None:
            raise UnresolvableError(f"Stack {stack_name} has no output {output_name} (not deployed yet?)")
        return state.resolver.resolve(output.get("Value"))

    def importers(self, name: str, *, exclude: str) -> set[str]:
        """Stacks whose template imports the export ``name``."""
        return {
            state.name
            for state in self.stacks.values()
            if state.name != exclude and name in _imported_names(state.template)
        }

    def signal_arrived(self, handle: Handle) -> None:
        """A signal reached ``handle``: its WaitCondition may have ended."""
        found = self._waits.get(handle.path)
        if found is not None:
            run, resource = found
            run.check_wait(resource)

    def _register(self, model: StackModel) -> None:
        for machine in model.machines.values():
            self.sandbox.stepfunctions.register(machine)
        for rule in model.rules:
            self.sandbox.events.add_rule(rule)

    def run_until(self, operation: Operation) -> Operation:
        self.sandbox.scheduler.run_until(lambda: operation.finished)
        if not operation.finished:
            raise EngineError(f"{operation.kind} of {operation.stack} never finished")
        return operation

    # ------------------------------------------------------------------ create and update

    def create(self, state: StackState) -> Operation:
        operation = Operation("CREATE", state.name)
        refusal = template_refusal(state.template)
        if refusal:
            operation.status, operation.reason = VALIDATION_FAILED, refusal
            return operation
        self.stacks[state.name] = state
        state.status = "CREATE_IN_PROGRESS"
        _Run(self, state, operation, previous=None).start()
        return self.run_until(operation)

    def update(self, state: StackState, artifact: StackArtifact, assembly: Any) -> Operation:
        operation = Operation("UPDATE", state.name)
        refusal = template_refusal(artifact.template)
        if refusal:
            operation.status, operation.reason = VALIDATION_FAILED, refusal
            return operation
        previous = _Snapshot(
            copy.deepcopy(state.template), state.resolver, state.model, dict(state.resources)
        )
        state.artifact, state.template, state.assembly = artifact, artifact.template, assembly
        state.resolver = self._resolver(artifact, artifact.template, state.instance)
        for resource in state.resources.values():
            self._learn(state, resource)
        state.model = discover(artifact, assembly, state.resolver, handles=self._handles(state))
        self._register(state.model)
        state.status = "UPDATE_IN_PROGRESS"
        state.updated_at = self.sandbox.clock.now()
        state.lingering = previous.resolver
        _Run(self, state, operation, previous=previous).start()
        try:
            return self.run_until(operation)
        finally:
            state.lingering = None

    def live_resolvers(self) -> list[Resolver]:
        """What exists in the account now, as templates: a resource only the other template of an update
        in progress has is there until the cleanup (later resolvers override earlier ones)."""
        found: list[Resolver] = []
        for state in self.stacks.values():
            if state.lingering is not None:
                found.append(state.lingering)
            found.append(state.resolver)
        return found

    def delete(self, state: StackState) -> Operation:
        operation = Operation("DELETE", state.name)
        state.status = "DELETE_IN_PROGRESS"
        order = _reverse_order(state.template, state.resources)
        failed = False
        for logical_id in order:
            resource = state.resources[logical_id]
            if not self.delete_resource(state, resource, state.model, operation):
                failed = True
        for name in [name for name, (owner, _) in self.exports.items() if owner == state.name]:
            del self.exports[name]
        operation.status = DELETE_FAILED if failed else DELETE_COMPLETE
        state.status = operation.status
        self.stacks.pop(state.name, None)
        return operation

    # ------------------------------------------------------------------ one resource

    def delete_resource(
        self,
        state: StackState,
        resource: ResourceState,
        model: StackModel,
        operation: Operation,
        label: str = "Delete",
    ) -> bool:
        """Delete a resource (wired as in ``model``); False when it ends DELETE_FAILED."""
        if resource.wait is not None:
            if resource.wait.timer is not None:
                resource.wait.timer.cancel()
            if resource.wait.status == WAITING:
                resource.wait.status, resource.wait.ended_at = DELETED, self.sandbox.clock.elapsed
        if resource.handle is not None:
            self.sandbox.signals.delete(resource.handle)
        ok = True
        if resource.type in JOB_TYPES and resource.status != "DELETE_COMPLETE":
            properties = resource.properties
            event = self._event(
                state,
                resource,
                "Delete",
                properties,
                physical_id=resource.physical_id or CREATE_FAILED_MARKER,
            )
            answer = self._send(state, resource, event, label=label, model=model)
            if not answer.ok:
                ok = False
                operation.problems.append(f"{state.key(resource.logical_id)}: Delete failed: {answer.reason}")
        elif resource.type in NATIVE_TYPES and resource.physical_id and resource.status != "DELETE_COMPLETE":
            # The resource provider's Delete calls Personalize, which may refuse (a training or an import
            # still runs): the resource is DELETE_FAILED, and the stack operation ends stuck.
            refusal = self.sandbox.personalize.delete_native(resource.type, resource.physical_id)
            self.sandbox.timeline.add(
                state.key(resource.logical_id),
                "cfn",
                f"{label} of {resource.physical_id} -> "
                + (f"DELETE_FAILED: {refusal}" if refusal else "DELETE_COMPLETE"),
            )
            if refusal is not None:
                ok = False
                operation.problems.append(f"{state.key(resource.logical_id)}: {label} failed: {refusal}")
        resource.status = "DELETE_COMPLETE" if ok else "DELETE_FAILED"
        return ok

    def _handles(self, state: StackState) -> dict[str, Handle]:
        return {
            logical_id: resource.handle
            for logical_id, resource in state.resources.items()
            if resource.handle is not None
        }

    def _learn(self, state: StackState, resource: ResourceState) -> None:
        """What the resolver learns of a resource once it exists: its Ref and attributes."""
        if resource.handle is not None:
            state.resolver.set_ref(resource.logical_id, resource.handle.url)
        elif resource.type in JOB_TYPES and resource.physical_id:
            state.resolver.set_ref(resource.logical_id, resource.physical_id)
            state.resolver.set_attributes(resource.logical_id, resource.data)

    def _event(
        self,
        state: StackState,
        resource: ResourceState,
        request_type: str,
        properties: dict[str, Any],
        *,
        old: dict[str, Any] | None = None,
        physical_id: str | None = None,
    ) -> dict[str, Any]:
        return self.provider.event(
            stack_id=state.resolver.stack_id,
            logical_id=resource.logical_id,
            resource_type=resource.type,
            request_type=request_type,
            properties=properties,
            old=old,
            physical_id=physical_id,
        )

    def _send(
        self,
        state: StackState,
        resource: ResourceState,
        event: dict[str, Any],
        *,
        label: str | None = None,
        model: StackModel | None = None,
    ) -> ProviderAnswer:
        job = (model or state.model).jobs.get(resource.logical_id)
        if job is None:
            raise EngineError(f"{state.key(resource.logical_id)}: no on-event function found for it")
        answer = self.provider.send(job.on_event, event, job.framework)
        if self._on_answer is not None:
            self._on_answer(state, resource, label or event["RequestType"], event, answer)
        if self.faults.duplicate_requests and event["RequestType"] != "Delete":
            # At-least-once delivery: the same request again before CloudFormation acts on the answer.
            # (One arriving after CloudFormation moved on, a rollback done, is not modelled: see
            # docs/handler-contract.md.)
            self._duplicate(state, resource, event, answer)
        return answer

    def _duplicate(
        self, state: StackState, resource: ResourceState, event: dict[str, Any], first: ProviderAnswer
    ) -> None:
        """The same request again (same RequestId): it must find what its first delivery did."""
        job = state.model.jobs.get(resource.logical_id)
        if job is None:
            return
        answer = self.provider.send(job.on_event, event, job.framework)
        if self._on_answer is not None:
            self._on_answer(state, resource, f"{event['RequestType']} (delivered again)", event, answer)
        if first.ok and (not answer.ok or answer.physical_id != first.physical_id):
            self.duplicate_mismatches.append(
                f"{state.key(resource.logical_id)}: the {event['RequestType']} delivered again answered "
                f"{answer.physical_id if answer.ok else answer.reason!r}, not {first.physical_id}"
            )


@dataclass
class _Snapshot:
    template: dict[str, Any]
    resolver: Resolver
    model: StackModel
    resources: dict[str, ResourceState]


class _Run:
    """One create or update of a stack, resource by resource in dependency order."""

    def __init__(
        self, engine: Engine, state: StackState, operation: Operation, previous: _Snapshot | None
    ) -> None:
        self.engine = engine
        self.state = state
        self.operation = operation
        self.previous = previous
        self.sandbox = engine.sandbox
        resources = state.template.get("Resources", {})
        self.ids = [
            logical_id
            for logical_id, resource in resources.items()
            if resource.get("Condition") is None or state.resolver.condition(resource["Condition"])
        ]
        self.graph = dependency_graph(resources)
        self.done: list[str] = []  # in order of completion
        self.started: set[str] = set()
        self.created: list[str] = []
        self.updated: list[tuple[str, ResourceState]] = []  # logical id, its state before the update
        self.failed = ""
        self.waiting: set[str] = set()
        # Schedules the update created or changed: logical id, the definition before (None: created).
        self.rescheduled: list[tuple[str, dict[str, Any] | None]] = []

    # ------------------------------------------------------------------ the forward pass

    def start(self) -> None:
        self.sandbox.scheduler.after(0, self._next)

    def _next(self) -> None:
        if self.operation.finished:
            return  # a step scheduled before the operation ended (two failures at once)
        if self.failed:
            # What was in progress is cancelled (_fail): the rollback starts at once. A resource whose
            # handler already answered is created or updated; one not started yet is never started.
            self._roll_back()
            return
        ready = [
            logical_id
            for logical_id in self.ids
            if logical_id not in self.started
            and all(d in self.done for d in self.graph.get(logical_id, ()) if d in self.ids)
        ]
        for logical_id in ready:
            self.started.add(logical_id)
            self.sandbox.scheduler.after(0, functools.partial(self._process, logical_id))
        if len(self.done) == len(self.ids) and not self.waiting:
            self._succeed()

    def _complete(self, logical_id: str) -> None:
        self.done.append(logical_id)
        self.sandbox.scheduler.after(0, self._next)

    def _fail(self, logical_id: str, reason: str) -> None:
        if not self.failed:
            self.failed = f"{logical_id}: {reason}"
            self.operation.reason = self.failed
        self.done.append(logical_id)
        self._cancel()
        self.sandbox.scheduler.after(0, self._next)

    def _cancel(self) -> None:
        """A resource failed: CloudFormation cancels the operations still in progress, a WaitCondition
        still waiting included ("Resource creation cancelled", CREATE_FAILED), and rolls back at once."""
        now = self.sandbox.clock.elapsed
        for logical_id in sorted(self.waiting):
            resource = self.state.resources[logical_id]
            wait = resource.wait
            if wait is not None and wait.cancel(now):
                resource.status = "CREATE_FAILED"
                if self.engine._on_wait is not None:
                    self.engine._on_wait(self.state, resource, wait)
            self.done.append(logical_id)
        self.waiting.clear()

    def _process(self, logical_id: str) -> None:
        if self.failed:
            self.done.append(logical_id)
            self.sandbox.scheduler.after(0, self._next)
            return
        state, template = self.state, self.state.template["Resources"][logical_id]
        kind = template.get("Type", "")
        existing = state.resources.get(logical_id)
        try:
            if kind in JOB_TYPES:
                self._job(logical_id, kind, template, existing)
            elif kind == HANDLE_TYPE:
                self._handle(logical_id, existing)
            elif kind == WAIT_TYPE:
                self._wait(logical_id, template, existing)
            else:
                self._other(logical_id, kind, template, existing)
        except UnresolvableError as error:
            self._fail(logical_id, str(error))

    def _take_fault(self, logical_id: str) -> bool:
        """Is this resource's create or change to fail (--fail-resource)? The fault is then used up."""
        faults = self.engine.faults
        injected = next(
            (name for name in sorted(faults.fail_resources) if names_resource(name, logical_id)), None
        )
        if injected is None:
            return False
        faults.fail_resources.discard(injected)
        return True

    def _changes(self, logical_id: str, template: Mapping[str, Any]) -> bool:
        """Does the update change this (non-job) resource? Its type or properties, as written or as
        resolved; a change of DependsOn, Metadata or policies alone updates nothing."""
        if self.previous is None:
            return False
        old = self.previous.template.get("Resources", {}).get(logical_id, {})
        if old.get("Type") != template.get("Type") or old.get("Properties") != template.get("Properties"):
            return True
        try:
            before = self.previous.resolver.resolve(old.get("Properties", {}))
            return bool(before != self.state.resolver.resolve(template.get("Properties", {})))
        except UnresolvableError:
            return False

    def _job(
        self, logical_id: str, kind: str, template: Mapping[str, Any], existing: ResourceState | None
    ) -> None:
        state = self.state
        properties = cfn_properties(state.resolver.resolve(dict(template.get("Properties", {}))))
        if existing is not None and existing.status not in ("DELETE_COMPLETE",) and existing.physical_id:
            if properties == existing.properties:
                self._complete(logical_id)
                return
            if self.engine._on_seed is not None:
                self.engine._on_seed(state, logical_id, properties, contract.KINDS[kind])
            before = copy.copy(existing)
            if self._take_fault(logical_id):
                # As if its handler had failed the Update: it still gets the rollback Update.
                existing.status, existing.properties = "UPDATE_FAILED", properties
                self.updated.append((logical_id, before))
                self._fail(logical_id, INJECTED_FAILURE)
                return
            event = self.engine._event(
                state,
                existing,
                "Update",
                properties,
                old=existing.properties,
                physical_id=existing.physical_id,
            )
            answer = self.engine._send(state, existing, event)
            if not answer.ok:
                # UPDATE_FAILED, the physical id unchanged. The rollback still sends this resource the
                # Update with old and new swapped: its old properties are those of the failed update.
                existing.status, existing.properties = "UPDATE_FAILED", properties
                self.updated.append((logical_id, before))
                self._fail(logical_id, answer.reason)
                return
            existing.physical_id, existing.data, existing.properties = (
                answer.physical_id,
                answer.data,
                properties,
            )
            existing.status = "UPDATE_COMPLETE"
            self.updated.append((logical_id, before))
            self.operation.changes.append(
                Change(
                    state.name,
                    logical_id,
                    "updated",
                    before.physical_id,
                    answer.physical_id,
                    before.properties,
                    properties,
                    str(answer.data.get("Status", "")),
                )
            )
            self.engine._learn(state, existing)
            self._after(logical_id)
            return
        resource = ResourceState(logical_id, kind, properties=properties)
        state.resources[logical_id] = resource
        if self._take_fault(logical_id):
            # As if its handler had failed the Create: the rollback sends it a Delete of the marker id.
            resource.status = "CREATE_FAILED"
            self.created.append(logical_id)
            self._fail(logical_id, INJECTED_FAILURE)
            return
        if self.engine._on_seed is not None:
            self.engine._on_seed(state, logical_id, properties, contract.KINDS[kind])
        event = self.engine._event(state, resource, "Create", properties)
        answer = self.engine._send(state, resource, event)
        if not answer.ok:
            resource.status, resource.physical_id = "CREATE_FAILED", answer.physical_id
            self.created.append(logical_id)  # a rollback deletes it too (the framework's marker id)
            self._fail(logical_id, answer.reason)
            return
        resource.physical_id, resource.data, resource.status = (
            answer.physical_id,
            answer.data,
            "CREATE_COMPLETE",
        )
        self.created.append(logical_id)
        self.operation.changes.append(
            Change(
                state.name,
                logical_id,
                "added",
                None,
                answer.physical_id,
                {},
                properties,
                str(answer.data.get("Status", "")),
            )
        )
        self.engine._learn(state, resource)
        self._after(logical_id)

    def _after(self, logical_id: str) -> None:
        self.sandbox.scheduler.after(STEP_SECONDS, lambda: self._complete(logical_id))

    def _handle(self, logical_id: str, existing: ResourceState | None) -> None:
        if existing is not None and existing.handle is not None:
            self._complete(logical_id)
            return
        if self._take_fault(logical_id):
            self._fail(logical_id, INJECTED_FAILURE)
            return
        state = self.state
        handle = state.model.handles.get(logical_id) or self.sandbox.signals.new_handle(
            stack=state.name,
            stack_id=state.resolver.stack_id,
            logical_id=logical_id,
            region=state.artifact.region,
        )
        state.model.handles[logical_id] = handle
        resource = ResourceState(
            logical_id, HANDLE_TYPE, physical_id=handle.url, handle=handle, status="CREATE_COMPLETE"
        )
        state.resources[logical_id] = resource
        self.created.append(logical_id)
        self.engine._learn(state, resource)
        self._complete(logical_id)

    def _wait(self, logical_id: str, template: Mapping[str, Any], existing: ResourceState | None) -> None:
        state = self.state
        if existing is not None:
            self._complete(logical_id)  # WaitConditions cannot be updated: a changed one has a new id
            return
        if self._take_fault(logical_id):
            self._fail(logical_id, INJECTED_FAILURE)
            return
        properties = template.get("Properties", {})
        reference = properties.get("Handle")
        handle_id = reference.get("Ref") if isinstance(reference, dict) else None
        handle = state.resources.get(str(handle_id)) if handle_id else None
        if handle is None or handle.handle is None:
            self._fail(logical_id, f"WaitCondition {logical_id} has no WaitConditionHandle")
            return
        timeout = float(state.resolver.resolve(properties.get("Timeout", contract.MAX_TIMEOUT_SECONDS)))
        count = int(state.resolver.resolve(properties.get("Count", 1)))
        scheduler = self.sandbox.scheduler
        wait = WaitCondition(state.name, logical_id, handle.handle, timeout, count, scheduler.clock.elapsed)
        resource = ResourceState(logical_id, WAIT_TYPE, physical_id=logical_id, wait=wait)
        state.resources[logical_id] = resource
        self.created.append(logical_id)
        self.waiting.add(logical_id)
        self.engine._waits[handle.handle.path] = (self, resource)
        wait.timer = scheduler.after(timeout, lambda: self._wait_timeout(resource))
        if self.engine._on_wait is not None:
            self.engine._on_wait(state, resource, wait)
        self.check_wait(resource)

    def check_wait(self, resource: ResourceState) -> None:
        """A signal arrived: the WaitCondition may have ended."""
        wait = resource.wait
        if wait is None or resource.logical_id not in self.waiting:
            return
        if wait.evaluate(self.sandbox.clock.elapsed):
            self._wait_ended(resource)

    def _wait_timeout(self, resource: ResourceState) -> None:
        wait = resource.wait
        if wait is not None and wait.time_out(self.sandbox.clock.elapsed):
            self._wait_ended(resource)

    def _wait_ended(self, resource: ResourceState) -> None:
        wait = resource.wait
        assert wait is not None
        self.waiting.discard(resource.logical_id)
        if self.engine._on_wait is not None:
            self.engine._on_wait(self.state, resource, wait)
        if wait.status == COMPLETE:
            resource.status = "CREATE_COMPLETE"
            self._complete(resource.logical_id)
        else:
            resource.status = "CREATE_FAILED"
            self._fail(resource.logical_id, wait.reason)

    def _other(
        self, logical_id: str, kind: str, template: Mapping[str, Any], existing: ResourceState | None
    ) -> None:
        state = self.state
        if (existing is None or self._changes(logical_id, template)) and self._take_fault(logical_id):
            self._fail(logical_id, INJECTED_FAILURE)
            return
        if kind == DEPLOYMENT_TYPE and (existing is None or self._changes(logical_id, template)):
            # Create and Update copy the sources into the bucket; a Delete (RetainOnDelete) leaves them.
            try:
                self._deploy_files(logical_id, template)
            except DeploymentError as error:
                raise EngineError(f"{state.key(logical_id)}: {error}") from error
        if existing is None:
            resource = ResourceState(logical_id, kind, status="CREATE_COMPLETE")
            if kind == "AWS::S3::Bucket":
                name = state.resolver.physical_name(logical_id, template)
                self.sandbox.s3.create_bucket(name)
                resource.physical_id = name
            elif kind in NATIVE_TYPES:
                # Personalize's own resources: what it refuses to delete depends on them (their Ref is
                # the ARN).
                resource.physical_id = str(state.resolver.resolve({"Ref": logical_id}))
                properties = state.resolver.resolve(dict(template.get("Properties", {})))
                self.sandbox.personalize.register_native(kind, resource.physical_id, properties)
            state.resources[logical_id] = resource
            self.created.append(logical_id)
        if kind == SCHEDULE_TYPE and (existing is None or self._changes(logical_id, template)):
            self._schedule(state.resources[logical_id], template, existing)
        self._complete(logical_id)

    def _schedule(
        self, resource: ResourceState, template: Mapping[str, Any], existing: ResourceState | None
    ) -> None:
        """A schedule created or updated (CreateSchedule, UpdateSchedule): its definition, and when."""
        self.rescheduled.append(
            (resource.logical_id, None if existing is None else dict(resource.properties))
        )
        try:
            resource.properties = self.state.resolver.resolve(dict(template.get("Properties", {})))
        except UnresolvableError:
            resource.properties = {}  # read from the template when it delivers
        resource.data = {"changedAt": self.sandbox.clock.elapsed}
        if self.engine.on_schedule is not None:
            self.engine.on_schedule(self.state, resource)

    def _deploy_files(self, logical_id: str, template: Mapping[str, Any]) -> None:
        """A `BucketDeployment`: its assets' files written into the destination bucket, as its handler
        does (read from the assembly; the handler Lambda itself is not run)."""
        assembly = self.state.assembly
        properties = self.state.resolver.resolve(dict(template.get("Properties", {})))
        copy_ = plan(properties, assembly.asset_path if assembly is not None else lambda _key: None)
        s3 = self.sandbox.s3
        s3.put_objects(copy_.bucket, copy_.objects)
        if copy_.prune:
            s3.prune(copy_.bucket, copy_.prefix, set(copy_.objects))
        self.sandbox.timeline.add(
            self.state.key(logical_id),
            "cfn",
            f"BucketDeployment copied {len(copy_.objects)} file(s) to s3://{copy_.bucket}/{copy_.prefix}",
        )

    # ------------------------------------------------------------------ the end of the forward pass

    def _succeed(self) -> None:
        state, operation = self.state, self.operation
        conflict = self._export_conflicts()
        if conflict:
            self.failed = conflict
            operation.reason = conflict
            self._roll_back()
            return
        self._publish_exports()
        if self.previous is None:
            operation.status = state.status = CREATE_COMPLETE
            return
        # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: removed resources, then the old physical ids of replacements.
        state.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        removed = [
            logical_id
            for logical_id in _reverse_order(self.previous.template, self.previous.resources)
            if logical_id not in self.ids
        ]
        for logical_id in removed:
            resource = state.resources.pop(logical_id)
            if resource.type in JOB_TYPES:
                operation.changes.append(
                    Change(
                        state.name, logical_id, "removed", resource.physical_id, None, resource.properties, {}
                    )
                )
            self.engine.delete_resource(
                state, resource, self.previous.model, operation, "cleanup: Delete of the removed resource"
            )
        for logical_id, before in reversed(self.updated):
            now = state.resources[logical_id]
            if before.physical_id and before.physical_id != now.physical_id:
                self.engine.delete_resource(
                    state, before, state.model, operation, "cleanup: Delete of the replaced"
                )
        operation.status = state.status = UPDATE_COMPLETE

    def _export_conflicts(self) -> str:
        """An export another stack imports may not change (nor go)."""
        if self.previous is None:
            return ""
        for name, (owner, value) in list(self.engine.exports.items()):
            if owner != self.state.name:
                continue
            importers = self.engine.importers(name, exclude=self.state.name)
            if not importers:
                continue
            new = self._exports().get(name)
            if new is None:
                return f"Export {name} cannot be deleted as it is in use by {', '.join(sorted(importers))}"
            if new != value:
                return f"Export {name} cannot be updated as it is in use by {', '.join(sorted(importers))}"
        return ""

    def _exports(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for output in self.state.template.get("Outputs", {}).values():
            export = output.get("Export")
            if export is None:
                continue
            try:
                found[str(self.state.resolver.resolve(export["Name"]))] = self.state.resolver.resolve(
                    output["Value"]
                )
            except UnresolvableError as error:
                found[str(export["Name"])] = f"(not resolved: {error})"
        return found

    def _publish_exports(self) -> None:
        for name in [n for n, (owner, _) in self.engine.exports.items() if owner == self.state.name]:
            del self.engine.exports[name]
        for name, value in self._exports().items():
            self.engine.exports[name] = (self.state.name, value)

    # ------------------------------------------------------------------ rollback

    def _roll_back(self) -> None:
        state, operation = self.state, self.operation
        for logical_id in list(self.waiting):
            resource = state.resources[logical_id]
            if resource.wait is not None and resource.wait.timer is not None:
                resource.wait.timer.cancel()
        self.waiting.clear()
        if self.previous is None:
            # ROLLBACK_IN_PROGRESS after a failed create: everything created is deleted.
            state.status = "ROLLBACK_IN_PROGRESS"
            failed = False
            for logical_id in reversed(self.created):
                if not self.engine.delete_resource(
                    state, state.resources[logical_id], state.model, operation, "rollback: Delete"
                ):
                    failed = True
            operation.status = state.status = ROLLBACK_FAILED if failed else ROLLBACK_COMPLETE
            return
        operation.rollback_reason = operation.reason
        state.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        state.updated_at = self.engine.sandbox.clock.now()
        stuck = False
        to_delete: list[ResourceState] = []
        # A rollback is an update to the previous template: what the job resources depend on (their
        # functions' policies above all) is back as it was before the rollback twins are sent, in the
        # previous template's dependency order.
        assert self.previous is not None
        new_model = state.model
        state.lingering = state.resolver
        state.template, state.resolver, state.model = (
            self.previous.template,
            self.previous.resolver,
            self.previous.model,
        )
        before_of = dict(self.updated)
        order = reversed(_reverse_order(state.template, before_of))
        for logical_id in order:
            before = before_of[logical_id]
            now = state.resources[logical_id]
            # The rollback twin: the same Update with old and new swapped, to the resource as it is now.
            event = self.engine._event(
                state, now, "Update", before.properties, old=now.properties, physical_id=now.physical_id
            )
            answer = self.engine._send(state, now, event, label="rollback: Update (old and new swapped)")
            if not answer.ok:
                stuck = True
                operation.problems.append(f"{state.key(logical_id)}: rollback Update failed: {answer.reason}")
                break
            if answer.physical_id != now.physical_id:
                to_delete.append(copy.copy(now))
            now.physical_id, now.data, now.properties = answer.physical_id, answer.data, before.properties
            now.status = "UPDATE_COMPLETE"
        if stuck:
            operation.status = state.status = UPDATE_ROLLBACK_FAILED
            return
        # Each schedule the update changed gets its previous definition back (an UpdateSchedule).
        for logical_id, definition in reversed(self.rescheduled):
            resource = state.resources[logical_id]
            if definition is not None:
                resource.properties = definition
                resource.data = {"changedAt": self.sandbox.clock.elapsed}
                if self.engine.on_schedule is not None:
                    self.engine.on_schedule(state, resource)
        # UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: what the update created, and the new ids of
        # resources the update replaced.
        state.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        for logical_id in reversed(self.created):
            resource = state.resources.pop(logical_id)
            self.engine.delete_resource(state, resource, new_model, operation, "rollback cleanup: Delete")
        for resource in to_delete:
            self.engine.delete_resource(
                state, resource, new_model, operation, "rollback cleanup: Delete of the new"
            )
        for resource in state.resources.values():
            self.engine._learn(state, resource)
        operation.status = state.status = UPDATE_ROLLBACK_COMPLETE


def names_resource(name: str, logical_id: str) -> bool:
    """A resource named by its logical id, or by its construct id (CDK adds 8 hex digits to it)."""
    return logical_id == name or re.fullmatch(rf"{re.escape(name)}[0-9A-F]{{8}}", logical_id) is not None


def _imported_names(value: Any) -> set[str]:
    """The literal names a template imports with Fn::ImportValue."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Fn::ImportValue" and isinstance(item, str):
                found.add(item)
            else:
                found |= _imported_names(item)
    elif isinstance(value, list):
        for item in value:
            found |= _imported_names(item)
    return found


def _reverse_order(template: Mapping[str, Any], resources: Collection[str]) -> list[str]:
    """Logical ids of ``resources``, dependents first (the order CloudFormation deletes in)."""
    graph = dependency_graph(template.get("Resources", {}))
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in seen:
            return
        seen.add(logical_id)
        for dependency in graph.get(logical_id, ()):
            if dependency in resources:
                visit(dependency)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return list(reversed(ordered))
