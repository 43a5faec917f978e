"""What the fuzz test modules share (tests/test_lifecycle_fuzz.py, tests/test_family_fuzz.py): one fuzzer
per pytest worker made on first use, fixed seeds run in chunks whose outcomes are computed once per
session, and assemblies copied so that a bug can be planted in their handler code."""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from tests import shared

K = TypeVar("K")
O = TypeVar("O")  # noqa: E741 (an outcome)


class _Closable(Protocol):
    def close(self) -> None: ...


F = TypeVar("F", bound=_Closable)


@contextmanager
def made_on_first_use(make: Callable[[], F]) -> Iterator[Callable[[], F]]:
    """A getter of one fuzzer, made only when asked for (a worker that reads another worker's chunk
    never starts a sandbox), closed at the end."""
    made: list[F] = []

    def get() -> F:
        if not made:
            made.append(make())
        return made[0]

    try:
        yield get
    finally:
        for one in made:
            one.close()


def chunk_of(seeds: Sequence[int], chunks: int, index: int) -> Sequence[int]:
    """The seeds of chunk ``index`` of ``chunks`` (the last may be shorter)."""
    width = -(-len(seeds) // chunks)
    return seeds[index * width : (index + 1) * width]


def outcomes_once(
    root: Path, name: str, seeds_of: Callable[[int], Sequence[int]], run: Callable[[int], O]
) -> Callable[[int], list[O]]:
    """Chunk ``index``'s outcomes, computed by one pytest worker per session (tests/shared.py) and read
    by the others."""

    def outcomes(index: int) -> list[O]:
        def compute(directory: Path) -> None:
            found = [run(seed) for seed in seeds_of(index)]
            (directory / "outcomes.pickle").write_bytes(pickle.dumps(found))

        directory = shared.once(root, f"{name}-{index}", compute)
        assert directory is not None
        loaded: list[O] = pickle.loads((directory / "outcomes.pickle").read_bytes())
        return loaded

    return outcomes


class PlantedAssemblies(Generic[K]):
    """The versions' assemblies copied (large bundled ``.zip`` layers linked, not copied), for a bug to
    be planted in their handler code."""

    def __init__(self, assemblies: Mapping[K, Path], directory: Path) -> None:
        def copy(source: str, target: str) -> Any:
            if source.endswith(".zip"):
                os.symlink(source, target)
                return target
            return shutil.copy2(source, target)

        self.assemblies: dict[K, Path] = {
            version: Path(shutil.copytree(path, directory / path.name, copy_function=copy))
            for version, path in assemblies.items()
        }

    def plant(self, module: str, old: str, new: str) -> None:
        """Replace ``old`` by ``new`` in every copy of the handler module ``module``."""
        edited = 0
        for path in self.assemblies.values():
            for source in path.glob(f"asset.*/{module}"):
                text = source.read_text()
                assert old in text, f"{source}: the code to plant a bug in has changed"
                source.write_text(text.replace(old, new))
                edited += 1
        assert edited >= len(self.assemblies)

    def plant_template(self, old: str, new: str) -> None:
        """Replace ``old`` by ``new`` in every copied template (as a construct's bug would synthesize)."""
        edited = 0
        for path in self.assemblies.values():
            for template in path.glob("*.template.json"):
                text = template.read_text()
                if old in text:
                    template.write_text(text.replace(old, new))
                    edited += 1
        assert edited, f"no template holds {old}"
