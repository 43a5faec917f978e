"""WaitConditionHandles as presigned URLs on loopback, and the WaitConditions that count their signals."""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from constructs_lib._contract import contract
from constructs_lib.rehearsal.clock import SimClock, Timer

WAITING, COMPLETE, FAILED = "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_FAILED"
# What CloudFormation says of a WaitCondition still waiting when another resource of the stack failed.
CANCELLED = "Resource creation cancelled"


@dataclass(frozen=True)
class Signal:
    at: float
    status: str
    reason: str
    unique_id: str
    data: str
    problem: str | None = None


@dataclass
class Handle:
    stack: str
    logical_id: str
    url: str
    path: str
    live: bool = True
    signals: list[Signal] = field(default_factory=list)


@dataclass
class WaitCondition:
    """One AWS::CloudFormation::WaitCondition: complete on `count` SUCCESS signals, failed on a FAILURE
    signal or when `timeout` simulated seconds pass first."""

    stack: str
    logical_id: str
    handle: Handle
    timeout: float
    count: int
    started_at: float
    status: str = WAITING
    reason: str = ""
    ended_at: float | None = None
    timer: Timer | None = None

    def evaluate(self, now: float) -> bool:
        """Apply the handle's signals; True when this call ended the wait."""
        if self.status != WAITING:
            return False
        failure = next((s for s in self.handle.signals if s.status != "SUCCESS"), None)
        if failure is not None:
            reason = f"malformed signal: {failure.problem}" if failure.problem else failure.reason
            return self._end(FAILED, reason or "received a FAILURE signal", now)
        successes = sum(1 for s in self.handle.signals if s.status == "SUCCESS")
        if successes >= self.count:
            return self._end(COMPLETE, "", now)
        return False

    def time_out(self, now: float) -> bool:
        if self.status != WAITING:
            return False
        received = len(self.handle.signals)
        return self._end(
            FAILED,
            f"WaitCondition timed out. Received {received} conditions when expecting {self.count}",
            now,
        )

    def cancel(self, now: float) -> bool:
        """Another resource failed: CloudFormation cancels the wait (CREATE_FAILED) and rolls back."""
        if self.status != WAITING:
            return False
        return self._end(FAILED, CANCELLED, now)

    def _end(self, status: str, reason: str, now: float) -> bool:
        self.status, self.reason, self.ended_at = status, reason, now
        if self.timer is not None:
            self.timer.cancel()
        return True


class SignalReceiver:
    """Serves PUTs to the handles' URLs. A PUT to a deleted or unknown handle gets 403, as S3 would."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._handles: dict[str, Handle] = {}
        self._lock = threading.Lock()
        self._received: list[tuple[Handle, Signal]] = []
        self.base_url = ""
        self.count = 0
        self.fail_next = 0  # PUTs answered 500 before any is accepted (a fault to inject)

    def new_handle(self, *, stack: str, stack_id: str, logical_id: str, region: str) -> Handle:
        token = f"{stack_id}|{logical_id}|{uuid.uuid4()}"
        path = f"/cloudformation-waitcondition-{region}/{urllib.parse.quote(token, safe='')}"
        query = "AWSAccessKeyId=ASIAREHEARSAL&Expires=1767603600&Signature=rehearsal"
        handle = Handle(stack, logical_id, f"{self.base_url}{path}?{query}", path)
        with self._lock:
            self._handles[path] = handle
        return handle

    def delete(self, handle: Handle) -> None:
        with self._lock:
            handle.live = False

    def take_new(self) -> list[tuple[Handle, Signal]]:
        with self._lock:
            new, self._received = self._received, []
            return new

    def receive(self, path: str, content_type: str | None, body: bytes) -> tuple[int, str]:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, "<Error><Code>InternalError</Code></Error>"
            handle = self._handles.get(path.partition("?")[0])
            if handle is None or not handle.live:
                return 403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            if content_type:
                # The URL was presigned without a Content-Type; S3 refuses a request that sends one.
                return 403, "<Error><Code>SignatureDoesNotMatch</Code></Error>"
            signal = _parse(body, self._clock.elapsed)
            handle.signals.append(signal)
            self._received.append((handle, signal))
            self.count += 1
            return 200, ""


def _parse(body: bytes, now: float) -> Signal:
    problem = None
    document: Any = {}
    if len(body) >= contract.SIGNAL_LIMIT_BYTES:
        problem = f"the signal is {len(body)} bytes, over the {contract.SIGNAL_LIMIT_BYTES}-byte limit"
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        problem = "the signal is not JSON"
    if not isinstance(document, dict):
        document, problem = {}, "the signal is not a JSON object"
    status = str(document.get("Status", ""))
    if status not in ("SUCCESS", "FAILURE"):
        problem = problem or f"Status {status!r} is neither SUCCESS nor FAILURE"
    return Signal(
        at=now,
        status=status if problem is None else "FAILURE",
        reason=str(document.get("Reason", "")),
        unique_id=str(document.get("UniqueId", "")),
        data=str(document.get("Data", "")),
        problem=problem,
    )
