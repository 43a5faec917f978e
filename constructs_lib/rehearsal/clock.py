"""Simulated time: a clock shared by every stand-in, and an event queue ordered by simulated time.

Nothing here sleeps. A Wait state, a WaitCondition timeout or a job that runs for an hour is an entry in
the queue; popping it moves the clock forward. Code that "sleeps" inside a Lambda invocation (botocore's
retry backoff) advances the clock instead.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

# The simulated deployment starts here; every report shows times relative to it.
EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)
# Far more than any rehearsal needs (a 12-hour job is checked about 40 times).
MAX_STEPS = 100_000


class SimClock:
    """Seconds since EPOCH, only ever moving forward; thread-safe (the stand-ins read it from theirs)."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self.start = start
        self._elapsed = 0.0
        self._lock = threading.Lock()

    @property
    def elapsed(self) -> float:
        with self._lock:
            return self._elapsed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def iso_now(self) -> str:
        """Step Functions' `$$.State.EnteredTime` format: milliseconds and `Z`."""
        return iso_time(self.now())

    def advance_to(self, elapsed: float) -> None:
        with self._lock:
            self._elapsed = max(self._elapsed, elapsed)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._elapsed += max(0.0, seconds)

    def epoch_seconds(self, elapsed: float | None = None) -> float:
        """Unix time of `elapsed` (default: now), as AWS JSON protocols send timestamps."""
        offset = self.elapsed if elapsed is None else elapsed
        return (self.start + timedelta(seconds=offset)).timestamp()


def iso_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def offset_text(seconds: float) -> str:
    """`+HH:MM:SS` for a simulated offset."""
    whole = round(seconds)
    return f"+{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def duration_text(seconds: float) -> str:
    """`1h 02m 05s`, `4m 00s`, `12s`."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@dataclass(order=True)
class _Entry:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Timer:
    """A scheduled action that can be cancelled (a WaitCondition timeout once the signal came)."""

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry

    def cancel(self) -> None:
        self._entry.cancelled = True


class Scheduler:
    """Runs actions in simulated-time order; the clock jumps to each action's time (never back)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._queue: list[_Entry] = []
        self._seq = itertools.count()

    def at(self, elapsed: float, action: Callable[[], None]) -> Timer:
        entry = _Entry(elapsed, next(self._seq), action)
        heapq.heappush(self._queue, entry)
        return Timer(entry)

    def next_at(self) -> float | None:
        """When the next action (not cancelled) is due; None when nothing is left."""
        while self._queue and self._queue[0].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0].at if self._queue else None

    def after(self, seconds: float, action: Callable[[], None]) -> Timer:
        return self.at(self.clock.elapsed + seconds, action)

    def run(self, max_steps: int = MAX_STEPS) -> None:
        """Until nothing is left to do. Cancelled entries do not move the clock.

        :raises RuntimeError: after `max_steps` actions (a loop that never waits would spin forever).
        """
        self.run_until(lambda: False, max_steps)

    def run_until(self, done: Callable[[], bool], max_steps: int = MAX_STEPS) -> None:
        """Until ``done()`` holds (checked after each action) or nothing is left to do."""
        steps = 0
        while self._queue and not done():
            entry = heapq.heappop(self._queue)
            if entry.cancelled:
                continue
            steps += 1
            if steps > max_steps:
                raise RuntimeError(f"The simulation did not settle after {max_steps} steps")
            self.clock.advance_to(entry.at)
            entry.action()
