"""Running fuzz sequences: in this process, or shared out to worker processes (each with its own sandbox),
for the lifecycle fuzzer (tests/fuzz/model.py) and the family's (tests/fuzz/family.py) alike."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol, TypeVar

OutcomeT = TypeVar("OutcomeT", covariant=True)


class SequenceFuzzer(Protocol[OutcomeT]):
    def run(self, seed: int, *, verbose: bool = False) -> OutcomeT: ...

    def close(self) -> None: ...


def run_sequences(
    make: Callable[[], SequenceFuzzer[OutcomeT]],
    seeds: Sequence[int],
    *,
    progress: Callable[[OutcomeT], None] | None = None,
    verbose: bool = False,
    workers: int = 1,
) -> list[OutcomeT]:
    """Every seed's outcome, in seed order. ``make`` builds a fuzzer (in each worker: it must pickle, a
    ``functools.partial`` of the class and its assemblies); ``workers`` processes share the seeds. A
    worker that cannot start raises (BrokenProcessPool) instead of being started again forever."""
    outcomes: list[OutcomeT] = []
    for outcome in _outcomes(make, seeds, verbose=verbose, workers=workers):
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes


def _outcomes(
    make: Callable[[], SequenceFuzzer[OutcomeT]], seeds: Sequence[int], *, verbose: bool, workers: int
) -> Iterator[OutcomeT]:
    if workers <= 1 or len(seeds) <= 1:
        fuzzer = make()
        try:
            for seed in seeds:
                yield fuzzer.run(seed, verbose=verbose)
        finally:
            fuzzer.close()
        return
    # Small chunks: a sequence's cost varies tenfold, and the last chunks should end together.
    chunksize = max(1, min(8, len(seeds) // (workers * 16)))
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(make, verbose),
    ) as pool:
        yield from pool.map(_run_in_worker, seeds, chunksize=chunksize)


_worker: tuple[SequenceFuzzer[object], bool] | None = None


def _start_worker(make: Callable[[], SequenceFuzzer[object]], verbose: bool) -> None:
    global _worker
    _worker = (make(), verbose)


def _run_in_worker(seed: int) -> object:
    assert _worker is not None
    fuzzer, verbose = _worker
    return fuzzer.run(seed, verbose=verbose)
