"""Work done once per test session and shared by every pytest-xdist worker: synthesized assemblies,
fuzzing results. One directory per key under a root the workers share, guarded by a file lock; a
worker that finds the work done (or being done) uses it instead of doing it again.

A failure is shared too: the worker that hit it raises it, the others raise its text, so an example
that does not synthesize fails its own tests once per worker, without being synthesized again.
"""

from __future__ import annotations

import fcntl
import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")
DONE, FAILED = ".done", ".failed"


class SharedWorkFailed(RuntimeError):
    """Another worker's attempt at the same work failed; the message is its error."""


def root(factory: pytest.TempPathFactory) -> Path:
    """The directory every worker of this session sees (a worker's own basetemp sits under it)."""
    base = factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    shared.mkdir(exist_ok=True)
    return shared


def worker_index() -> int:
    """0 for the first worker (or no xdist), 1 for the second, ..."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name[2:].isdigit() else 0


@contextmanager
def _locked(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _result(directory: Path) -> Path | None:
    if (directory / DONE).exists():
        return directory
    if (directory / FAILED).exists():
        raise SharedWorkFailed((directory / FAILED).read_text())
    return None


def once(
    shared_root: Path, key: str, produce: Callable[[Path], None], *, blocking: bool = True
) -> Path | None:
    """``produce(directory)`` run once per session for ``key``; the directory it filled.

    With ``blocking=False`` a key another worker is producing right now returns None at once.
    """
    directory = shared_root / key
    found = _result(directory)
    if found is not None:
        return found
    with _locked(directory, blocking=blocking) as held:
        if not held:
            return None
        found = _result(directory)
        if found is not None:
            return found
        directory.mkdir(parents=True, exist_ok=True)
        try:
            produce(directory)
        except BaseException as error:
            (directory / FAILED).write_text("".join(traceback.format_exception_only(error)).strip())
            raise
        (directory / DONE).touch()
        return directory


def all_of(shared_root: Path, keys: Sequence[str], produce: Callable[[str, Path], None]) -> dict[str, Path]:
    """Every key's directory; the workers that need them split the work: each starts at its own place
    in the list, takes the keys nobody holds, then waits for the ones others hold."""
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    start = worker_index() * len(keys) // workers
    rotated: Iterable[str] = [*keys[start:], *keys[:start]]
    found: dict[str, Path] = {}
    for key in rotated:
        path = once(shared_root, key, lambda directory, key=key: produce(key, directory), blocking=False)
        if path is not None:
            found[key] = path
    for key in keys:
        if key not in found:
            path = once(shared_root, key, lambda directory, key=key: produce(key, directory))
            assert path is not None
            found[key] = path
    return {key: found[key] for key in keys}
