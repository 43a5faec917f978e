"""An EventBridge sink: PutEvents is accepted, recorded, and matched against the stack's rules."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from constructs_lib.rehearsal.clock import SimClock
from constructs_lib.rehearsal.server import Caller, ServiceError


@dataclass(frozen=True)
class RuleSpec:
    """An AWS::Events::Rule; `pattern` resolves its EventPattern (None while it cannot be resolved yet)."""

    stack: str
    logical_id: str
    bus: str
    pattern: Callable[[], dict[str, Any] | None]
    targets: tuple[str, ...]


@dataclass
class ReceivedEvent:
    event_id: str
    at: float
    bus: str
    source: str
    detail_type: str
    detail: dict[str, Any]
    resources: list[str]
    matched_rules: list[str] = field(default_factory=list)


class EventBridgeSink:
    target_prefix = "AWSEvents"
    content_type = "application/x-amz-json-1.1"

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._rules: list[RuleSpec] = []
        self._events: list[ReceivedEvent] = []
        self._new: list[ReceivedEvent] = []
        self._lock = threading.Lock()

    def add_rule(self, rule: RuleSpec) -> None:
        self._rules.append(rule)

    def events(self) -> list[ReceivedEvent]:
        with self._lock:
            return list(self._events)

    def take_new(self) -> list[ReceivedEvent]:
        with self._lock:
            new, self._new = self._new, []
            return new

    def handle(self, operation: str, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if operation != "PutEvents":
            raise ServiceError("UnknownOperationException", f"The stand-in does not implement {operation}")
        entries = request.get("Entries", [])
        if not 1 <= len(entries) <= 10:
            raise ServiceError("ValidationException", "Entries must have between 1 and 10 items")
        with self._lock:
            results = [self._put(entry, caller) for entry in entries]
        failed = sum(1 for result in results if "ErrorCode" in result)
        return {"FailedEntryCount": failed, "Entries": results}

    def _put(self, entry: dict[str, Any], caller: Caller) -> dict[str, str]:
        missing = [name for name in ("Source", "DetailType", "Detail") if not entry.get(name)]
        if missing:
            return {"ErrorCode": "InvalidArgument", "ErrorMessage": f"Missing {', '.join(missing)}"}
        try:
            detail = json.loads(entry["Detail"])
        except json.JSONDecodeError:
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is not valid JSON"}
        if not isinstance(detail, dict):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is not a JSON object"}
        bus = str(entry.get("EventBusName") or "default").rpartition("/")[2]
        event = ReceivedEvent(
            event_id=str(uuid.uuid4()),
            at=self._clock.elapsed,
            bus=bus,
            source=entry["Source"],
            detail_type=entry["DetailType"],
            detail=detail,
            resources=list(entry.get("Resources", [])),
        )
        document = {
            "version": "0",
            "id": event.event_id,
            "detail-type": event.detail_type,
            "source": event.source,
            "account": caller.account,
            "time": self._clock.iso_now(),
            "region": caller.region,
            "resources": event.resources,
            "detail": detail,
        }
        event.matched_rules = [
            _rule_label(rule) for rule in self._rules if rule.bus == bus and _rule_matches(rule, document)
        ]
        self._events.append(event)
        self._new.append(event)
        return {"EventId": event.event_id}


def _rule_label(rule: RuleSpec) -> str:
    return f"{rule.logical_id} (targets: {', '.join(rule.targets)})" if rule.targets else rule.logical_id


def _rule_matches(rule: RuleSpec, document: dict[str, Any]) -> bool:
    pattern = rule.pattern()
    return pattern is not None and matches(pattern, document)


def matches(pattern: dict[str, Any], document: Any) -> bool:
    """EventBridge pattern matching: exact values, prefix, suffix, exists, anything-but, nested fields."""
    if not isinstance(document, dict):
        return False
    for key, expected in pattern.items():
        present = key in document
        value = document.get(key)
        if isinstance(expected, dict):
            if not present or not matches(expected, value):
                return False
        elif not any(_value_matches(condition, value, present) for condition in expected):
            return False
    return True


def _value_matches(condition: Any, value: Any, present: bool) -> bool:
    values = value if isinstance(value, list) else [value]
    if not isinstance(condition, dict):
        return present and condition in values
    if "exists" in condition:
        return present == bool(condition["exists"])
    if not present:
        return False
    if "prefix" in condition:
        return any(isinstance(item, str) and item.startswith(condition["prefix"]) for item in values)
    if "suffix" in condition:
        return any(isinstance(item, str) and item.endswith(condition["suffix"]) for item in values)
    if "anything-but" in condition:
        excluded = condition["anything-but"]
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return all(item not in excluded for item in values)
    if "equals-ignore-case" in condition:
        wanted = str(condition["equals-ignore-case"]).lower()
        return any(isinstance(item, str) and item.lower() == wanted for item in values)
    return False
