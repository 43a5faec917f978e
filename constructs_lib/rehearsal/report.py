"""The plain-text report: what was found, a timeline per job resource, a summary table, the verdict."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from constructs_lib.rehearsal.clock import duration_text, offset_text
from constructs_lib.rehearsal.result import JobResult
from constructs_lib.rehearsal.timeline import Entry

_GREEN, _RED, _RESET = "\033[32m", "\033[31m", "\033[0m"
_GOOD = re.compile(r"\b(ACTIVE|CREATE_COMPLETE|SUCCESS|SUCCEEDED|OK)\b")
_BAD = re.compile(r"\b(CREATE FAILED|CREATE_FAILED|FAILURE|FAILED|TIMED_OUT)\b")


@dataclass(frozen=True)
class Section:
    """One job resource's timeline."""

    title: str
    entries: Sequence[Entry]


def render(
    *,
    header: Sequence[str],
    sections: Sequence[Section],
    rows: Sequence[JobResult],
    operations: Sequence[str],
    changes: Sequence[str],
    outputs: Sequence[str],
    failures: Sequence[str],
    stuck: Sequence[str],
    warnings: Sequence[str],
    verdict: str,
    color: bool = False,
) -> str:
    lines = [*header, ""]
    for section in sections:
        lines.append(f"Timeline of {section.title}")
        lines.extend(f"  {line}" for line in timeline_lines(section.entries))
        lines.append("")
    lines.append("Summary")
    lines.extend(f"  {line}" for line in table(rows))
    lines.append("")
    lines.append("Stack operations")
    lines.extend(f"  {line}" for line in operations)
    lines.append("")
    if changes:
        lines.append("What the update did to each job")
        lines.extend(f"  {line}" for line in changes)
        lines.append("")
    if outputs:
        lines.extend(outputs)
        lines.append("")
    for warning in warnings:
        lines.append(f"Note: {warning}")
    for failure in failures:
        lines.append(f"FAILED: {failure}")
    for problem in stuck:
        lines.append(f"STUCK: {problem}")
    lines.append(verdict)
    text = "\n".join(lines) + "\n"
    return colorize(text) if color else text


def timeline_lines(entries: Sequence[Entry]) -> list[str]:
    """One line per entry; runs of checks that saw the same status collapse into one line."""
    lines: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        run = _check_run(entries, index)
        if len(run) > 1:
            lines.append(f"{offset_text(entry.at)}  {_collapsed(run)}")
            index += len(run)
            continue
        lines.append(f"{offset_text(entry.at)}  {entry.text}")
        index += 1
    return lines


def _check_run(entries: Sequence[Entry], start: int) -> list[Entry]:
    """The checks from `start` on that saw one status and did not end the job (no other entry between)."""
    first = entries[start]
    if first.kind != "check" or first.data.get("done"):
        return [first]
    run = [first]
    for entry in entries[start + 1 :]:
        if (
            entry.kind != "check"
            or entry.data.get("done")
            or entry.data.get("status") != first.data.get("status")
        ):
            break
        run.append(entry)
    return run


def _collapsed(run: Sequence[Entry]) -> str:
    waits = [int(entry.data.get("wait") or 0) for entry in run]
    spacing = f"every {waits[0]} s" if min(waits) == max(waits) else f"next in {min(waits)}..{max(waits)} s"
    first, last = run[0].data.get("checks"), run[-1].data.get("checks")
    return f"checks {first}-{last}: {run[0].data.get('status')}, {spacing}"


def table(rows: Sequence[JobResult]) -> list[str]:
    headings = (
        "job",
        "kind",
        "phase",
        "personalize job",
        "status",
        "duration",
        "checks",
        "throttled",
        "outputs",
        "records",
        "wait condition",
    )
    body = [
        (
            f"{row.stack}/{row.construct_id}",
            row.kind,
            row.phase,
            row.job_name or "-",
            row.status,
            duration_text(row.duration_seconds) if row.duration_seconds is not None else "-",
            str(row.checks),
            str(row.throttled),
            str(len(row.outputs)),
            str(row.records),
            row.wait_status or ("not waited" if not row.waited else "-"),
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in (headings, *body)) for i in range(len(headings))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in (headings, *body)
    ]


def colorize(text: str) -> str:
    text = _GOOD.sub(lambda match: f"{_GREEN}{match.group(0)}{_RESET}", text)
    return _BAD.sub(lambda match: f"{_RED}{match.group(0)}{_RESET}", text)
