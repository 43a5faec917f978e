"""Finding, in a stack's template, what CloudFormation would run for each job resource (every kind).

job resource --ServiceToken--> Provider framework function --USER_ON_EVENT_FUNCTION_ARN--> on-event
function --MONITOR_STATE_MACHINE_ARN--> state machine --Task resource--> check function; each function's
code through `Code.S3Key` and the assembly's asset manifest; the job's `WaitHandle` -> its handle -> the
WaitCondition whose `Handle` refs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs_lib._contract import contract
from constructs_lib.rehearsal.assembly import Assembly, StackArtifact
from constructs_lib.rehearsal.events import RuleSpec
from constructs_lib.rehearsal.intrinsics import Resolver, UnresolvableError
from constructs_lib.rehearsal.lambdas import FunctionSpec
from constructs_lib.rehearsal.signals import Handle
from constructs_lib.rehearsal.stepfunctions import LAMBDA_INVOKE, StateMachineSpec

# The CDK Provider framework's environment variable naming the user's on-event function.
USER_ON_EVENT = "USER_ON_EVENT_FUNCTION_ARN"
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[^}]*)?\}")


class DiscoveryError(Exception):
    """The template does not wire a job the way the rehearsal (and CloudFormation) needs."""


@dataclass(frozen=True)
class JobResource:
    """A job kind's custom resource and everything it takes to deploy it (its wiring, not its state)."""

    stack: str
    logical_id: str
    resource_type: str
    construct_id: str
    path: str
    framework: FunctionSpec
    on_event: FunctionSpec
    check_functions: tuple[FunctionSpec, ...]
    monitor: StateMachineSpec | None
    wait_logical_id: str | None
    handle_logical_id: str | None
    wait_timeout: float

    @property
    def key(self) -> str:
        return f"{self.stack}/{self.logical_id}"

    @property
    def waits(self) -> bool:
        return self.wait_logical_id is not None

    @property
    def kind(self) -> Any:
        return contract.KINDS[self.resource_type]

    def label(self) -> str:
        return f"{self.stack}/{self.construct_id}"


@dataclass
class StackModel:
    """What a stack's template wires together: functions, monitors, rules, handles and job resources."""

    artifact: StackArtifact
    resolver: Resolver
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    machines: dict[str, StateMachineSpec] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    handles: dict[str, Handle] = field(default_factory=dict)
    jobs: dict[str, JobResource] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.artifact.stack_name

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.resolver.resources


def discover(
    artifact: StackArtifact,
    assembly: Assembly,
    resolver: Resolver,
    *,
    handles: Mapping[str, Handle] | None = None,
) -> StackModel:
    """The stack's jobs, functions, monitor state machines and rules, resolved with ``resolver``.

    ``handles``: WaitConditionHandles that exist already (an update); others are created with their
    resource, by the engine.
    """
    stack = StackModel(artifact, resolver, handles=dict(handles or {}))
    for logical_id, resource in stack.resources.items():
        kind = resource.get("Type")
        if kind == "AWS::Lambda::Function":
            spec = _function(stack, assembly, logical_id, resource)
            if spec is not None:
                stack.functions[logical_id] = spec
        elif kind == "AWS::StepFunctions::StateMachine":
            machine = _state_machine(stack, logical_id, resource)
            if machine is not None:
                stack.machines[machine.arn] = machine
        elif kind == "AWS::Events::Rule" and "EventPattern" in resource.get("Properties", {}):
            stack.rules.append(_rule(stack, logical_id, resource))
    for logical_id, resource in stack.resources.items():
        if resource.get("Type") in contract.KINDS and resource.get("Condition") in (
            None,
            *_true_conditions(stack),
        ):
            stack.jobs[logical_id] = _job(stack, logical_id, resource)
    return stack


# ---------------------------------------------------------------------- functions


def _function(
    stack: StackModel, assembly: Assembly, logical_id: str, resource: Mapping[str, Any]
) -> FunctionSpec | None:
    """The function's spec; None when its environment cannot be resolved before deployment (not ours)."""
    properties = resource.get("Properties", {})
    resolver = stack.resolver
    try:
        variables = resolver.resolve(properties.get("Environment", {}).get("Variables", {})) or {}
        code = properties.get("Code", {})
        object_key = resolver.resolve(code["S3Key"]) if "S3Key" in code else None
        role = resolver.resolve(properties["Role"]) if "Role" in properties else None
        log_group = properties.get("LoggingConfig", {}).get("LogGroup")
        log_group_name = (
            resolver.resolve(log_group)
            if log_group is not None
            else f"/aws/lambda/{resolver.ref(logical_id)}"
        )
    except UnresolvableError:
        return None
    return FunctionSpec(
        stack=stack.name,
        account=resolver.account,
        region=resolver.region,
        logical_id=logical_id,
        name=str(resolver.ref(logical_id)),
        arn=str(resolver.get_att(logical_id, "Arn")),
        handler=str(properties.get("Handler", "")),
        runtime=str(properties.get("Runtime", "")),
        code_dir=assembly.asset_path(str(object_key)) if object_key else None,
        environment={str(k): _cfn_string(v) for k, v in variables.items()},
        timeout_seconds=int(properties.get("Timeout", 3)),
        memory_mb=int(properties.get("MemorySize", 128)),
        role_arn=str(role) if role else None,
        log_group_arn=resolver.arn("logs", f"log-group:{log_group_name}"),
    )


def find_function(stack: StackModel, reference: str) -> FunctionSpec | None:
    """A function of the stack by ARN (qualified or not) or by name."""
    unqualified = re.sub(r"^(arn:[^:]*:lambda:[^:]*:[^:]*:function:[^:]+):.*$", r"\1", reference)
    for function in stack.functions.values():
        if unqualified in (function.arn, function.name):
            return function
    return None


# ---------------------------------------------------------------------- state machines and rules


def _state_machine(
    stack: StackModel, logical_id: str, resource: Mapping[str, Any]
) -> StateMachineSpec | None:
    properties = resource.get("Properties", {})
    resolver = stack.resolver
    try:
        if "DefinitionString" in properties:
            text = resolver.resolve_str(properties["DefinitionString"])
        else:
            text = json.dumps(resolver.resolve(properties.get("Definition", {})))
        for key, value in (resolver.resolve(properties.get("DefinitionSubstitutions", {})) or {}).items():
            text = text.replace("${" + key + "}", str(value))
        definition = json.loads(text)
    except (UnresolvableError, json.JSONDecodeError):
        return None
    arn = str(resolver.ref(logical_id))
    try:
        role = str(resolver.resolve(properties["RoleArn"])) if "RoleArn" in properties else None
    except UnresolvableError:
        role = None
    return StateMachineSpec(arn, arn.rpartition(":")[2], stack.name, logical_id, definition, role)


def task_functions(stack: StackModel, machine: StateMachineSpec) -> tuple[FunctionSpec, ...]:
    """The functions the state machine's Task states invoke."""
    found: list[FunctionSpec] = []
    for state in _states(machine.definition):
        if state.get("Type") != "Task":
            continue
        resource = str(state.get("Resource", ""))
        reference = resource
        if resource.startswith(LAMBDA_INVOKE):
            reference = str(state.get("Parameters", {}).get("FunctionName", ""))
        function = find_function(stack, reference)
        if function is not None and function not in found:
            found.append(function)
    return tuple(found)


def _states(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for state in definition.get("States", {}).values():
        yield state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        if "Iterator" in state or "ItemProcessor" in state:
            yield from _states(state.get("Iterator") or state["ItemProcessor"])


def _rule(stack: StackModel, logical_id: str, resource: Mapping[str, Any]) -> RuleSpec:
    properties = resource.get("Properties", {})
    resolver = stack.resolver

    def pattern() -> dict[str, Any] | None:
        try:
            resolved = resolver.resolve(properties["EventPattern"])
        except UnresolvableError:
            return None
        return resolved if isinstance(resolved, dict) else None

    try:
        bus = str(resolver.resolve(properties.get("EventBusName", "default"))).rpartition("/")[2]
    except UnresolvableError:
        bus = "default"
    targets = tuple(_target_label(target) for target in properties.get("Targets", []))
    return RuleSpec(stack.name, logical_id, bus, pattern, targets)


def _target_label(target: Mapping[str, Any]) -> str:
    arn = target.get("Arn")
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        return str(arn["Fn::GetAtt"][0])
    if isinstance(arn, dict) and "Ref" in arn:
        return str(arn["Ref"])
    return str(target.get("Id", arn))


# ---------------------------------------------------------------------- jobs


def _job(stack: StackModel, logical_id: str, resource: Mapping[str, Any]) -> JobResource:
    properties = resource.get("Properties", {})
    framework = _service_token_function(stack, logical_id, properties)
    on_event = _on_event_function(stack, logical_id, framework)
    monitor = _monitor(stack, on_event)
    wait_logical_id, handle_logical_id = _wait_condition(stack, properties)
    wait_properties = stack.resources[wait_logical_id].get("Properties", {}) if wait_logical_id else {}
    path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    return JobResource(
        stack=stack.name,
        logical_id=logical_id,
        resource_type=str(resource["Type"]),
        construct_id=construct_id(path, properties, logical_id),
        path=path,
        framework=framework,
        on_event=on_event,
        check_functions=task_functions(stack, monitor) if monitor else (),
        monitor=monitor,
        wait_logical_id=wait_logical_id,
        handle_logical_id=handle_logical_id,
        wait_timeout=float(
            stack.resolver.resolve(wait_properties.get("Timeout", contract.MAX_TIMEOUT_SECONDS))
        ),
    )


def _service_token_function(
    stack: StackModel, logical_id: str, properties: Mapping[str, Any]
) -> FunctionSpec:
    try:
        token = stack.resolver.resolve_str(properties.get("ServiceToken"))
    except UnresolvableError as error:
        raise DiscoveryError(f"{stack.name}/{logical_id}: cannot resolve ServiceToken: {error}") from error
    function = find_function(stack, token)
    if function is None:
        raise DiscoveryError(
            f"{stack.name}/{logical_id}: ServiceToken {token} is not a function of the stack"
        )
    return function


def _on_event_function(stack: StackModel, logical_id: str, framework: FunctionSpec) -> FunctionSpec:
    """The user's on-event function behind the CDK Provider framework (or the token's own, if Python)."""
    if USER_ON_EVENT not in framework.environment:
        if framework.is_python:
            return framework
        raise DiscoveryError(
            f"{stack.name}/{logical_id}: ServiceToken function {framework.logical_id} is neither a "
            f"CDK Provider framework function ({USER_ON_EVENT} unset) nor a Python handler"
        )
    function = find_function(stack, framework.environment[USER_ON_EVENT])
    if function is None:
        raise DiscoveryError(
            f"{stack.name}/{logical_id}: {USER_ON_EVENT} {framework.environment[USER_ON_EVENT]} is not a "
            "function of the stack"
        )
    return function


def _monitor(stack: StackModel, on_event: FunctionSpec) -> StateMachineSpec | None:
    return stack.machines.get(on_event.environment.get(contract.ENV_MONITOR_STATE_MACHINE_ARN, ""))


def _wait_condition(stack: StackModel, properties: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(WaitCondition, handle) logical ids for the job's `WaitHandle` property (Ref of a handle)."""
    reference = properties.get("WaitHandle")
    if not isinstance(reference, dict) or "Ref" not in reference:
        return None, None
    handle = str(reference["Ref"])
    for logical_id, resource in stack.resources.items():
        if resource.get("Type") != "AWS::CloudFormation::WaitCondition":
            continue
        if resource.get("Properties", {}).get("Handle") == {"Ref": handle}:
            return logical_id, handle
    return None, handle


def construct_id(path: str, properties: Mapping[str, Any], logical_id: str) -> str:
    """`Stack/Job/Resource/Default` -> `Job`; without metadata, the id ending the job name prefix."""
    parts = [part for part in path.split("/") if part]
    if "Resource" in parts[1:]:
        return parts[parts.index("Resource", 1) - 1]
    prefix = properties.get("JobNamePrefix")
    if isinstance(prefix, str) and prefix:
        return prefix.rpartition("-")[2]
    return logical_id


def _true_conditions(stack: StackModel) -> tuple[str, ...]:
    return tuple(
        name for name in stack.resolver.template.get("Conditions", {}) if stack.resolver.condition(name)
    )


# ---------------------------------------------------------------------- dependencies


def dependency_graph(resources: Mapping[str, Any]) -> dict[str, set[str]]:
    """logical id -> the logical ids it depends on (DependsOn, Ref, GetAtt, Fn::Sub names)."""
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        found = set([depends] if isinstance(depends, str) else depends)
        _references(resource.get("Properties", {}), found)
        graph[logical_id] = {name for name in found if name in resources and name != logical_id}
    return graph


def _references(value: Any, found: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item.split(".")[0] if isinstance(item, str) else str(item[0]))
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found.update(_SUB_NAME.findall(text))
                if not isinstance(item, str):
                    _references(item[1], found)
            else:
                _references(item, found)


def _cfn_string(value: Any) -> str:
    """Lambda environment values are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
