"""What happened, when: entries recorded by the driver and the stand-ins, grouped per job in the report."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from constructs_lib.rehearsal.clock import SimClock

Kind = Literal[
    "cfn",  # a CloudFormation request to the custom resource and its answer
    "status",  # a job status transition in the Personalize stand-in
    "check",  # one run of the monitor's check function
    "signal",  # a WaitCondition signal received
    "wait",  # a WaitCondition's outcome
    "event",  # an EventBridge event received
    "output",  # an output object written
    "monitor",  # a monitor execution started or ended
    "note",  # anything else worth a line
]


@dataclass(frozen=True)
class Entry:
    """One line of a job's timeline. `key` is a job name or a resource key (`stack/logicalId`)."""

    seq: int
    at: float
    key: str
    kind: Kind
    text: str
    data: dict[str, Any] = field(default_factory=dict)


class Timeline:
    """Thread-safe: the stand-ins record from their server threads."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._entries: list[Entry] = []
        self._lock = threading.Lock()

    def add(self, key: str, kind: Kind, text: str, *, at: float | None = None, **data: Any) -> Entry:
        with self._lock:
            entry = Entry(
                len(self._entries), self._clock.elapsed if at is None else at, key, kind, text, dict(data)
            )
            self._entries.append(entry)
            return entry

    def entries(self) -> list[Entry]:
        with self._lock:
            return sorted(self._entries, key=lambda entry: (entry.at, entry.seq))

    def for_keys(self, keys: set[str]) -> list[Entry]:
        return [entry for entry in self.entries() if entry.key in keys]
