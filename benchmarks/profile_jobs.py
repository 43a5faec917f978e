"""Where BatchInferenceJob's construction time goes: jsii round trips by call site in constructs_lib.

Not part of run_all.py: a diagnostic for when the synth ratio against AwsCustomResource is high.
Every request the Python side sends to the jsii kernel (Node) is charged to the innermost frame inside
constructs_lib, with the time spent waiting for its answer (which includes the JavaScript work the
request does).

    python benchmarks/profile_jobs.py [--by function|line] [--top 25]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import synth_compare
from _table import Table

import constructs_lib

PACKAGE_DIR = str(Path(constructs_lib.__file__).resolve().parent)
EXTRA_JOBS = 20


@dataclass
class Site:
    calls: int = 0
    seconds: float = 0.0


def call_site(frame: FrameType | None, by_line: bool) -> str:
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(PACKAGE_DIR):
            where = f"{Path(code.co_filename).name}:{code.co_name}"
            return f"{where}:{frame.f_lineno}" if by_line else where
        frame = frame.f_back
    return "(outside constructs_lib)"


@contextmanager
def charged_to_call_sites(by_line: bool) -> Iterator[dict[str, Site]]:
    sites: dict[str, Site] = defaultdict(Site)

    def charge(request: Any, seconds: float, frame: FrameType | None) -> None:
        site = sites[f"{call_site(frame, by_line)} ({type(request).__name__})"]
        site.calls += 1
        site.seconds += seconds

    with synth_compare.jsii_requests(charge) as hooked:
        if not hooked:
            sys.exit("profile_jobs: this jsii version has no _NodeProcess.send to hook")
        yield sites


def site_table(title: str, sites: dict[str, Site], per: int, top: int) -> Table:
    ranked = sorted(sites.items(), key=lambda item: -item[1].seconds)
    total = Site(sum(s.calls for s in sites.values()), sum(s.seconds for s in sites.values()))
    rows = [
        (name, f"{site.calls / per:.1f}", f"{site.seconds / per * 1000:.2f}")
        for name, site in [*ranked[:top], ("total", total)]
    ]
    return Table.of(title, ("call site (request type)", "round trips", "ms"), rows)


def profile(by_line: bool, top: int) -> list[Table]:
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as outdir:
        for _ in range(3):  # warm the kernel up
            synth_compare.build_app(outdir, synth_compare.add_ours, EXTRA_JOBS)
        _, stack, storage = synth_compare.build_app(outdir, synth_compare.add_ours, 0)
        with charged_to_call_sites(by_line) as first:
            synth_compare.add_ours(stack, storage, 0)
        with charged_to_call_sites(by_line) as added:
            for index in range(1, 1 + EXTRA_JOBS):
                synth_compare.add_ours(stack, storage, index)
    return [
        site_table("First job of a stack (creates the shared runtime)", first, 1, top),
        site_table(f"Each added job (mean of {EXTRA_JOBS})", added, EXTRA_JOBS, top),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by", choices=("function", "line"), default="line")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for table in profile(args.by == "line", args.top):
        print(table.text(), end="\n\n")


if __name__ == "__main__":
    main()
