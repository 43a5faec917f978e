"""Running a function's own code as Lambda would: its asset, its environment, its handler, its logs.

Each function's modules are loaded from its asset directory into distinct module objects (the asset dir
is on sys.path and its modules in sys.modules only while loading or running), so two functions, two
assets or the test suite's own copies never share state. The environment is the function's resolved
variables plus what Lambda adds (region, credentials) plus `AWS_ENDPOINT_URL_*` pointing at the
loopback stand-ins; the process environment is restored after every invocation. botocore's retry
backoff sleeps on the simulated clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import os
import sys
import time
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.rehearsal.clock import SimClock
from constructs_lib.rehearsal.enforce import Enforcer
from constructs_lib.rehearsal.server import access_key_for

FAKE_SECRET = "rehearsal-secret-access-key-not-a-real-one"
FAKE_SESSION_TOKEN = "rehearsal-session-token"
# Variables of the calling process a Lambda function never sees.
_DROPPED_PREFIXES = ("AWS_",)
_DROPPED_NAMES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


class InvocationError(Exception):
    """The function raised: Lambda reports the exception's type as the error and its text as the cause."""

    def __init__(self, function: str, error_type: str, message: str, logs: list[str]) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.logs = logs


@dataclass(frozen=True)
class FunctionSpec:
    """An AWS::Lambda::Function of a template, resolved."""

    stack: str
    account: str
    region: str
    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    code_dir: Path | None
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int
    role_arn: str | None = None
    log_group_arn: str | None = None

    @property
    def is_python(self) -> bool:
        return self.runtime.startswith("python")

    def asset_label(self) -> str:
        return self.code_dir.name if self.code_dir else "(inline)"


@dataclass
class LambdaContext:
    """The `context` argument: the attributes handlers commonly read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float
    clock: SimClock
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock.elapsed) * 1000))


@dataclass
class Invocation:
    result: Any
    logs: list[str] = field(default_factory=list)


class _SimulatedTime:
    """Stands in for the `time` module inside botocore.endpoint: `sleep` advances the simulated clock."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _LoadedCode:
    """The handler of one function, loaded from its asset into its own module objects."""

    def __init__(self, code_dir: Path, handler: str) -> None:
        self.code_dir = code_dir
        self._names = _top_level_names(code_dir)
        # Directories holding Python code may be packages with submodules; a data directory (the bundled
        # service model) never is: only for packages must sys.modules be searched for dotted names.
        self._packages = {name for name in self._names if next((code_dir / name).rglob("*.py"), None)}
        self._modules: dict[str, types.ModuleType] = {}
        module_name, _, function_name = handler.rpartition(".")
        with self.active():
            importlib.invalidate_caches()
            module = importlib.import_module(module_name)
        handler_function = getattr(module, function_name, None)
        if not callable(handler_function):
            raise InvocationError(handler, "Runtime.HandlerNotFound", f"{handler} is not callable", [])
        self.handler: Callable[[Any, Any], Any] = handler_function

    def _owned_now(self) -> list[str]:
        """The names in sys.modules that this asset's code owns (a module of the same name from another
        asset, or from the rehearsal itself, included): looked up by name, not by a walk over every
        module loaded, which each invocation would otherwise pay twice."""
        found = [name for name in self._names if name in sys.modules]
        if self._packages:
            found += [
                name for name in sys.modules if name.partition(".")[0] in self._packages and "." in name
            ]
        return found

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """This asset's modules in sys.modules and its directory first on sys.path, for a while."""
        stashed = {name: sys.modules.pop(name) for name in self._owned_now()}
        sys.modules.update(self._modules)
        sys.path.insert(0, str(self.code_dir))
        writes_bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # never leave __pycache__ in the cloud assembly
        try:
            yield
        finally:
            sys.dont_write_bytecode = writes_bytecode
            sys.path.remove(str(self.code_dir))
            self._modules = {name: sys.modules.pop(name) for name in self._owned_now()}
            sys.modules.update(stashed)


def _top_level_names(code_dir: Path) -> set[str]:
    names = {path.stem for path in code_dir.glob("*.py")}
    names.update(path.name for path in code_dir.iterdir() if path.is_dir() and path.name != "__pycache__")
    return names


def _apply_environment(current: Mapping[str, str], wanted: Mapping[str, str]) -> None:
    """Make os.environ equal ``wanted``, from ``current`` (what it holds now)."""
    for name in current.keys() - wanted.keys():
        del os.environ[name]
    for name, value in wanted.items():
        if current.get(name) != value:
            os.environ[name] = value


TIMED_OUT = "Sandbox.Timedout"
# An invocation holding the simulated clock longer than this is recorded in LambdaRuntime.held.
HELD_SECONDS = 60.0


class LambdaRuntime:
    """Invokes Python functions in-process on the simulated clock, with loopback endpoints."""

    def __init__(
        self, *, clock: SimClock, endpoints: Mapping[str, str], invocation_seconds: float = 0.5
    ) -> None:
        self._clock = clock
        self._endpoints = dict(endpoints)
        self._invocation_seconds = invocation_seconds
        self._loaded: dict[tuple[str, str], _LoadedCode] = {}
        self._content_keys: dict[Path, str] = {}
        self._requests = 0
        self.invocations = 0
        self.held: list[tuple[float, float]] = []
        """(start, end) of every invocation that held the simulated clock longer than a minute: nothing
        else runs while one waits (docs/rehearsal-fidelity.md, "not modelled")."""
        self.enforcer: Enforcer | None = None
        self._logs_checked: set[tuple[str, str]] = set()
        # Faults to inject: (handler, error type) raised by the next invocation of that handler.
        self.faults: list[tuple[str, str]] = []

    def reset(self, clock: SimClock) -> None:
        """A new clock and no faults; the loaded code stays warm."""
        self._clock = clock
        self._requests = 0
        self.invocations = 0
        self.held = []
        self.enforcer = None
        self._logs_checked.clear()
        self.faults.clear()

    def invoke(self, function: FunctionSpec, event: Any) -> Invocation:
        """Run the handler with `event`; InvocationError when it raises (its logs attached)."""
        if not function.is_python or function.code_dir is None:
            raise InvocationError(
                function.logical_id,
                "Rehearsal.Unsupported",
                f"runtime {function.runtime} with {function.asset_label()} cannot be run by the rehearsal",
                [],
            )
        self.invocations += 1
        self._requests += 1
        fault = next((f for f in self.faults if f[0] == function.handler), None)
        if fault is not None:
            self.faults.remove(fault)
            if fault[1] != TIMED_OUT:
                # The service failed the invocation: the code never ran.
                self._clock.sleep(self._invocation_seconds)
                raise InvocationError(function.logical_id, fault[1], f"injected {fault[1]} (rehearsal)", [])
        context = self._context(function)
        output = io.StringIO()
        started = self._clock.elapsed
        self._check_logs(function)
        checked = (
            self.enforcer.calls_of(function.role_arn, region=function.region, account=function.account)
            if self.enforcer is not None
            else contextlib.nullcontext()
        )
        with self._environment(function), _simulated_sleep(self._clock):
            code = self._code(function)
            with (
                code.active(),
                contextlib.redirect_stdout(output),
                contextlib.redirect_stderr(output),
                checked,
            ):
                try:
                    result = code.handler(event, context)
                except Exception as error:
                    logs = output.getvalue().splitlines()
                    raise InvocationError(
                        function.logical_id, type(error).__name__, str(error), logs
                    ) from error
                finally:
                    self._clock.sleep(self._invocation_seconds)
                    if self._clock.elapsed - started > HELD_SECONDS:
                        self.held.append((started, self._clock.elapsed))
        if fault is not None:
            # Timed out after its work was done: what it changed stays changed, its answer is lost.
            raise InvocationError(
                function.logical_id,
                TIMED_OUT,
                f"injected {TIMED_OUT} (rehearsal)",
                output.getvalue().splitlines(),
            )
        return Invocation(result, output.getvalue().splitlines())

    def _check_logs(self, function: FunctionSpec) -> None:
        """A function must be able to write its own logs (once per function)."""
        key = (function.stack, function.logical_id)
        if self.enforcer is None or key in self._logs_checked or function.log_group_arn is None:
            return
        self._logs_checked.add(key)
        group = function.log_group_arn.split(":log-group:", 1)[1]
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            self.enforcer.check(
                function.role_arn,
                action,
                {"logGroupName": group, "logStreamName": "2026/01/05/[$LATEST]rehearsal"},
                region=function.region,
                account=function.account,
            )

    def _code(self, function: FunctionSpec) -> _LoadedCode:
        """One execution environment per handler and asset content, kept warm for the whole rehearsal:
        the same asset staged in several cloud assemblies (the versions of an app an update rehearsal or
        the fuzzer deploys) is loaded, and makes its clients, once."""
        assert function.code_dir is not None
        key = (self._content_key(function.code_dir), function.handler)
        if key not in self._loaded:
            self._loaded[key] = _LoadedCode(function.code_dir, function.handler)
        return self._loaded[key]

    def _content_key(self, code_dir: Path) -> str:
        """A digest of every file under ``code_dir`` (names and bytes), computed once per directory."""
        found = self._content_keys.get(code_dir)
        if found is None:
            digest = hashlib.sha256()
            for path in sorted(
                p for p in code_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            ):
                digest.update(path.relative_to(code_dir).as_posix().encode() + b"\0" + path.read_bytes())
            found = self._content_keys[code_dir] = digest.hexdigest()
        return found

    def _context(self, function: FunctionSpec) -> LambdaContext:
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rehearsal-invocation:{self._requests}"))
        return LambdaContext(
            function_name=function.name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory_mb,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{function.name}",
            log_stream_name=f"rehearsal/[$LATEST]{request_id.replace('-', '')}",
            deadline=self._clock.elapsed + function.timeout_seconds,
            clock=self._clock,
        )

    @contextlib.contextmanager
    def _environment(self, function: FunctionSpec) -> Iterator[None]:
        """The function's environment for the invocation, then the process's again; only the variables
        that differ are set or removed (each change of os.environ is a putenv)."""
        saved = dict(os.environ)
        variables = {
            name: value
            for name, value in saved.items()
            if not name.startswith(_DROPPED_PREFIXES) and name.lower() not in _DROPPED_NAMES
        }
        variables.update(self._lambda_variables(function))
        variables.update(function.environment)
        _apply_environment(saved, variables)
        try:
            yield
        finally:
            _apply_environment(dict(os.environ), saved)

    def _lambda_variables(self, function: FunctionSpec) -> dict[str, str]:
        assert function.code_dir is not None
        return {
            "AWS_ACCESS_KEY_ID": access_key_for(function.account),
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_SESSION_TOKEN": FAKE_SESSION_TOKEN,
            **self._endpoints,
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "LAMBDA_TASK_ROOT": str(function.code_dir),
            "_HANDLER": function.handler,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }


@contextlib.contextmanager
def _simulated_sleep(clock: SimClock) -> Iterator[None]:
    """botocore sleeps between retries with ``time.sleep`` in botocore.endpoint, and the handlers with
    ``time.sleep`` (looked up when they sleep): both on the simulated clock while a function runs."""
    import botocore.endpoint

    real = botocore.endpoint.__dict__["time"]
    real_sleep = time.sleep
    setattr(botocore.endpoint, "time", _SimulatedTime(clock))  # noqa: B010 (the stubs do not declare it)
    time.sleep = clock.sleep  # type: ignore[assignment]
    try:
        yield
    finally:
        setattr(botocore.endpoint, "time", real)  # noqa: B010
        time.sleep = real_sleep
