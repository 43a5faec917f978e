"""Step Functions on simulated time: a StartExecution stand-in and an interpreter for the states the
monitor uses (Task on Lambda, Choice, Wait, Pass, Succeed, Fail) with Retry and Catch.

A Wait is an entry in the scheduler's queue, never a sleep; a Task invokes the function at once and
`$$.State.EnteredTime` is the simulated time, which is what the check function takes as its clock.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from constructs_lib.rehearsal.clock import Scheduler, Timer, iso_time
from constructs_lib.rehearsal.lambdas import InvocationError
from constructs_lib.rehearsal.server import Caller, ServiceError

RUNNING, SUCCEEDED, FAILED, TIMED_OUT = "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# What entering a state returns when the execution continues later (a Wait, a Retry), not at once.
PAUSED = "\x00paused"
_EXECUTION_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\['([^']*)'\]|\[(\d+)\]")


class StatesError(Exception):
    """An error inside an execution (`States.Runtime`, a function's error, ...)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass(frozen=True)
class StateMachineSpec:
    arn: str
    name: str
    stack: str
    logical_id: str
    definition: dict[str, Any]
    role_arn: str | None = None


@dataclass
class Execution:
    arn: str
    name: str
    machine: StateMachineSpec
    input_text: str
    started_at: float
    status: str = RUNNING
    data: Any = None
    error: str | None = None
    cause: str | None = None
    ended_at: float | None = None
    tasks: int = 0
    retries: dict[tuple[str, int], int] = field(default_factory=dict)  # (state, retrier) -> attempts
    timer: Timer | None = None

    def reset_retries(self, state: str) -> None:
        for key in [key for key in self.retries if key[0] == state]:
            del self.retries[key]


class StepFunctionsStandIn:
    """StartExecution / DescribeExecution / StopExecution; new executions are handed to the driver."""

    target_prefix = "AWSStepFunctions"
    content_type = "application/x-amz-json-1.0"

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._machines: dict[str, StateMachineSpec] = {}
        self._executions: dict[str, Execution] = {}
        self._new: list[Execution] = []
        self._lock = threading.Lock()

    def register(self, machine: StateMachineSpec) -> None:
        self._machines[machine.arn] = machine

    def executions(self) -> list[Execution]:
        with self._lock:
            return list(self._executions.values())

    def take_new(self) -> list[Execution]:
        """Executions started since the last call (the driver runs them)."""
        with self._lock:
            new, self._new = self._new, []
            return new

    def handle(self, operation: str, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        with self._lock:
            if operation == "StartExecution":
                return self._start(request)
            if operation == "DescribeExecution":
                return self._describe(request)
            if operation == "StopExecution":
                return self._stop(request)
            if operation == "ListExecutions":
                return self._list(request)
        raise ServiceError("UnknownOperationException", f"The stand-in does not implement {operation}")

    def _start(self, request: dict[str, Any]) -> dict[str, Any]:
        machine = self._machines.get(str(request.get("stateMachineArn")))
        if machine is None:
            raise ServiceError(
                "StateMachineDoesNotExist",
                f"State Machine Does Not Exist: '{request.get('stateMachineArn')}'",
            )
        name = str(request.get("name") or f"rehearsal-{len(self._executions) + 1}")
        if not _EXECUTION_NAME.match(name):
            raise ServiceError("InvalidName", f"Invalid Name: '{name}'")
        input_text = str(request.get("input", "{}"))
        try:
            json.loads(input_text)
        except json.JSONDecodeError as error:
            raise ServiceError("InvalidExecutionInput", f"Invalid execution input: {error}") from None
        arn = machine.arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        existing = self._executions.get(arn)
        if existing is not None:
            if existing.status == RUNNING and existing.input_text == input_text:
                return self._started(existing)
            raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        execution = Execution(arn, name, machine, input_text, self._scheduler.clock.elapsed)
        self._executions[arn] = execution
        self._new.append(execution)
        return self._started(execution)

    def _started(self, execution: Execution) -> dict[str, Any]:
        return {
            "executionArn": execution.arn,
            "startDate": self._scheduler.clock.epoch_seconds(execution.started_at),
        }

    def _describe(self, request: dict[str, Any]) -> dict[str, Any]:
        execution = self._executions.get(str(request.get("executionArn")))
        if execution is None:
            raise ServiceError(
                "ExecutionDoesNotExist", f"Execution Does Not Exist: '{request.get('executionArn')}'"
            )
        described: dict[str, Any] = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.machine.arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": self._scheduler.clock.epoch_seconds(execution.started_at),
            "input": execution.input_text,
        }
        if execution.ended_at is not None:
            described["stopDate"] = self._scheduler.clock.epoch_seconds(execution.ended_at)
            described["output"] = json.dumps(execution.data)
        return described

    def _list(self, request: dict[str, Any]) -> dict[str, Any]:
        machine = str(request.get("stateMachineArn"))
        if machine not in self._machines:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine}'")
        wanted = request.get("statusFilter")
        found = [
            execution
            for execution in self._executions.values()
            if execution.machine.arn == machine and wanted in (None, execution.status)
        ]
        start = int(request.get("nextToken") or 0)
        size = int(request.get("maxResults") or 100) or 100
        page = found[start : start + size]
        answer: dict[str, Any] = {
            "executions": [
                {
                    "executionArn": execution.arn,
                    "stateMachineArn": machine,
                    "name": execution.name,
                    "status": execution.status,
                    "startDate": self._scheduler.clock.epoch_seconds(execution.started_at),
                }
                for execution in page
            ]
        }
        if start + size < len(found):
            answer["nextToken"] = str(start + size)
        return answer

    def _stop(self, request: dict[str, Any]) -> dict[str, Any]:
        execution = self._executions.get(str(request.get("executionArn")))
        if execution is None:
            raise ServiceError(
                "ExecutionDoesNotExist", f"Execution Does Not Exist: '{request.get('executionArn')}'"
            )
        if execution.status == RUNNING:
            execution.status, execution.ended_at = "ABORTED", self._scheduler.clock.elapsed
            if execution.timer is not None:
                execution.timer.cancel()  # its TimeoutSeconds no longer applies (nor moves the clock)
        return {"stopDate": self._scheduler.clock.epoch_seconds()}


# A function invoked by a Task: (execution, state name, function ARN or name, payload) -> its result.
Invoke = Callable[[Execution, str, str, Any], Any]


class Interpreter:
    """Runs executions on the scheduler. `on_end` is told when one ends."""

    def __init__(self, scheduler: Scheduler, invoke: Invoke, on_end: Callable[[Execution], None]) -> None:
        self._scheduler = scheduler
        self._invoke = invoke
        self._on_end = on_end

    def start(self, execution: Execution) -> None:
        execution.data = json.loads(execution.input_text)
        timeout = execution.machine.definition.get("TimeoutSeconds")
        if timeout is not None:
            execution.timer = self._scheduler.at(
                execution.started_at + float(timeout),
                lambda: self._end(execution, TIMED_OUT, "States.Timeout", ""),
            )
        start_at = execution.machine.definition["StartAt"]
        self._scheduler.at(execution.started_at, lambda: self._run(execution, start_at))

    def _run(self, execution: Execution, name: str | None) -> None:
        """Enter states until the execution waits, retries or ends."""
        while name is not None and execution.status == RUNNING:
            try:
                name = self._enter(execution, name)
            except StatesError as error:
                self._end(execution, FAILED, error.error, error.cause)
                return
            if name == PAUSED:
                return
        if name is None and execution.status == RUNNING:
            self._end(execution, SUCCEEDED, None, None)

    def _end(self, execution: Execution, status: str, error: str | None, cause: str | None) -> None:
        if execution.status != RUNNING:
            return
        execution.status, execution.error, execution.cause = status, error, cause
        execution.ended_at = self._scheduler.clock.elapsed
        if execution.timer is not None:
            execution.timer.cancel()
        self._on_end(execution)

    def _enter(self, execution: Execution, name: str) -> str | None:
        """Run state `name`: the next state's name, None when the execution ends, or PAUSED."""
        states = execution.machine.definition["States"]
        if name not in states:
            raise StatesError("States.Runtime", f"No state named {name!r}")
        state = states[name]
        context = self._context(execution, name)
        kind = state["Type"]
        if kind == "Task":
            return self._task(execution, name, state, context)
        if kind == "Choice":
            return _choose(state, execution.data)
        if kind == "Wait":
            return self._wait(execution, state)
        if kind == "Pass":
            result = state.get("Result", apply_parameters(state, execution.data, context))
            execution.data = _output(state, execution.data, result)
            return _next(state)
        if kind == "Succeed":
            execution.data = _select(state.get("OutputPath", "$"), execution.data, context)
            return None
        if kind == "Fail":
            self._end(execution, FAILED, state.get("Error"), state.get("Cause"))
            return None
        raise StatesError("States.Runtime", f"State type {kind} is not supported by the rehearsal")

    def _context(self, execution: Execution, name: str) -> dict[str, Any]:
        clock = self._scheduler.clock
        return {
            "Execution": {
                "Id": execution.arn,
                "Name": execution.name,
                "Input": json.loads(execution.input_text),
                "StartTime": iso_time(clock.start + timedelta(seconds=execution.started_at)),
            },
            "State": {
                "Name": name,
                "EnteredTime": clock.iso_now(),
                "RetryCount": sum(n for (state, _), n in execution.retries.items() if state == name),
            },
            "StateMachine": {"Id": execution.machine.arn, "Name": execution.machine.name},
        }

    def _task(
        self, execution: Execution, name: str, state: dict[str, Any], context: dict[str, Any]
    ) -> str | None:
        resource = str(state.get("Resource", ""))
        payload = apply_parameters(
            state, _select(state.get("InputPath", "$"), execution.data, context), context
        )
        try:
            result = self._call(execution, name, resource, payload)
        except StatesError as error:
            return self._on_task_error(execution, name, state, error)
        execution.reset_retries(name)
        if "ResultSelector" in state:
            result = resolve_template(state["ResultSelector"], result, context)
        execution.data = _output(state, execution.data, result, context)
        return _next(state)

    def _call(self, execution: Execution, name: str, resource: str, payload: Any) -> Any:
        execution.tasks += 1
        if resource.startswith(LAMBDA_INVOKE):
            if not isinstance(payload, dict) or "FunctionName" not in payload:
                raise StatesError("States.Runtime", "lambda:invoke needs Parameters.FunctionName")
            returned = self._invoke_function(
                execution, name, str(payload["FunctionName"]), payload.get("Payload")
            )
            return {"ExecutedVersion": "$LATEST", "Payload": returned, "StatusCode": 200}
        if ":lambda:" in resource and ":function:" in resource:
            return self._invoke_function(execution, name, resource, payload)
        raise StatesError("States.Runtime", f"Task resource {resource!r} is not supported by the rehearsal")

    def _invoke_function(self, execution: Execution, name: str, function: str, payload: Any) -> Any:
        try:
            return self._invoke(execution, name, function, payload)
        except InvocationError as error:
            raise StatesError(error.error_type, json.dumps({"errorMessage": error.message})) from error

    def _on_task_error(
        self, execution: Execution, name: str, state: dict[str, Any], error: StatesError
    ) -> str | None:
        for index, retrier in enumerate(state.get("Retry", [])):
            if not _matches(retrier.get("ErrorEquals", []), error.error):
                continue
            # Each retrier counts its own attempts.
            attempt = execution.retries.get((name, index), 0)
            if attempt >= int(retrier.get("MaxAttempts", 3)):
                break
            execution.retries[(name, index)] = attempt + 1
            delay = (
                float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** attempt
            )
            delay = min(delay, float(retrier.get("MaxDelaySeconds", delay)))
            self._scheduler.after(delay, lambda: self._run(execution, name))
            return PAUSED
        execution.reset_retries(name)
        for catcher in state.get("Catch", []):
            if _matches(catcher.get("ErrorEquals", []), error.error):
                result = {"Error": error.error, "Cause": error.cause}
                execution.data = _apply_result_path(catcher.get("ResultPath", "$"), execution.data, result)
                return str(catcher["Next"])
        raise error

    def _wait(self, execution: Execution, state: dict[str, Any]) -> str:
        context: dict[str, Any] = {}
        if "Seconds" in state:
            seconds = float(state["Seconds"])
        elif "SecondsPath" in state:
            seconds = float(_select(state["SecondsPath"], execution.data, context))
        else:
            raise StatesError(
                "States.Runtime", "Only Seconds and SecondsPath waits are supported by the rehearsal"
            )
        execution.data = _select(state.get("OutputPath", "$"), execution.data, context)
        following = _next(state)
        self._scheduler.after(max(0.0, seconds), lambda: self._run(execution, following))
        return PAUSED


# ---------------------------------------------------------------------- paths and templates


def select(path: str, data: Any, context: dict[str, Any] | None = None) -> Any:
    """A JSONPath of the reference paths kind: `$`, `$.a.b`, `$.a[0]`, `$$.State.EnteredTime`."""
    if path.startswith("$$"):
        root, rest = (context or {}), path[2:]
    elif path.startswith("$"):
        root, rest = data, path[1:]
    else:
        raise StatesError("States.Runtime", f"{path!r} is not a path")
    value: Any = root
    position = 0
    for match in _PATH_TOKEN.finditer(rest):
        if match.start() != position:
            raise StatesError("States.Runtime", f"Unsupported path {path!r}")
        position = match.end()
        key = match.group(1) if match.group(1) is not None else match.group(2)
        try:
            value = value[int(match.group(3))] if key is None else value[key]
        except (KeyError, IndexError, TypeError):
            raise StatesError(
                "States.Runtime", f"The JSONPath {path!r} could not be found in the input"
            ) from None
    if position != len(rest):
        raise StatesError("States.Runtime", f"Unsupported path {path!r}")
    return value


_select = select


def resolve_template(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters / ResultSelector: keys ending in `.$` take the value at their path."""
    if isinstance(template, dict):
        resolved: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = select(str(value), data, context)
            else:
                resolved[key] = resolve_template(value, data, context)
        return resolved
    if isinstance(template, list):
        return [resolve_template(item, data, context) for item in template]
    return template


def apply_parameters(state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
    return resolve_template(state["Parameters"], data, context) if "Parameters" in state else data


def _output(state: dict[str, Any], data: Any, result: Any, context: dict[str, Any] | None = None) -> Any:
    combined = _apply_result_path(state.get("ResultPath", "$"), data, result)
    output_path = state.get("OutputPath", "$")
    return None if output_path is None else select(output_path, combined, context)


def _apply_result_path(path: str | None, data: Any, result: Any) -> Any:
    if path is None:
        return data
    if path == "$":
        return result
    keys = [match.group(1) or match.group(2) for match in _PATH_TOKEN.finditer(path[1:])]
    combined = json.loads(json.dumps(data)) if isinstance(data, dict) else {}
    target = combined
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = result
    return combined


def _next(state: dict[str, Any]) -> str | None:
    return None if state.get("End") else str(state["Next"])


def _matches(error_equals: list[str], error: str) -> bool:
    return (
        error in error_equals
        or "States.ALL" in error_equals
        or ("States.TaskFailed" in error_equals and not error.startswith("States."))
    )


# ---------------------------------------------------------------------- Choice


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda value, expected: isinstance(value, str) and value == expected,
    "StringMatches": lambda value, expected: isinstance(value, str) and fnmatch.fnmatchcase(value, expected),
    "NumericEquals": lambda value, expected: _is_number(value) and value == expected,
    "NumericLessThan": lambda value, expected: _is_number(value) and value < expected,
    "NumericGreaterThan": lambda value, expected: _is_number(value) and value > expected,
    "NumericLessThanEquals": lambda value, expected: _is_number(value) and value <= expected,
    "NumericGreaterThanEquals": lambda value, expected: _is_number(value) and value >= expected,
    "BooleanEquals": lambda value, expected: isinstance(value, bool) and value == expected,
    "IsNull": lambda value, expected: (value is None) == expected,
    "IsString": lambda value, expected: isinstance(value, str) == expected,
    "IsBoolean": lambda value, expected: isinstance(value, bool) == expected,
    "IsNumeric": lambda value, expected: _is_number(value) == expected,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _choose(state: dict[str, Any], data: Any) -> str:
    for rule in state.get("Choices", []):
        if _rule_holds(rule, data):
            return str(rule["Next"])
    if "Default" in state:
        return str(state["Default"])
    raise StatesError("States.NoChoiceMatched", "No Choice rule matched and there is no Default")


def _rule_holds(rule: dict[str, Any], data: Any) -> bool:
    if "And" in rule:
        return all(_rule_holds(item, data) for item in rule["And"])
    if "Or" in rule:
        return any(_rule_holds(item, data) for item in rule["Or"])
    if "Not" in rule:
        return not _rule_holds(rule["Not"], data)
    try:
        value = select(str(rule["Variable"]), data)
        present = True
    except StatesError:
        value, present = None, False
    if "IsPresent" in rule:
        return present == bool(rule["IsPresent"])
    for name, compare in _COMPARATORS.items():
        if name in rule:
            return present and compare(value, rule[name])
        if f"{name}Path" in rule:
            return present and compare(value, select(str(rule[f"{name}Path"]), data))
    raise StatesError("States.Runtime", f"Choice rule {rule!r} is not supported by the rehearsal")
