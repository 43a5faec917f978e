"""The HTML report (``--html FILE``): one self-contained page of a whole rehearsal.

A timeline (Gantt) of the stack operations and of every Personalize job run, drawn from the rehearsal's
timeline entries (whatever kinds it holds: a kind this module does not know gets a marker of its own and a
line in the legend), then the runs, the stack operations, failures, skips, checks and every job resource's
full timeline as text. No network: inline CSS and inline SVG only, and every name and reason escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

from constructs_lib.rehearsal.clock import EPOCH, duration_text
from constructs_lib.rehearsal.report import timeline_lines
from constructs_lib.rehearsal.result import EXIT_OK, JobResult, Result, StackOperation
from constructs_lib.rehearsal.timeline import Entry

# Bar colours, by what the bar stands for; the legend lists those the page draws.
PENDING = "#90a4ae"
ACTIVE = "#2e7d32"
FAILED = "#c62828"
STOPPED = "#ef6c00"
SKIPPED = "#8e24aa"
RUNNING = "#1565c0"
STACK_COMPLETE = "#00838f"
STACK_ROLLBACK = "#f9a825"
STACK_FAILED = "#b71c1c"
WAITING = "#795548"

_END_COLOURS = {
    "ACTIVE": (ACTIVE, "ran, ended ACTIVE"),
    "CREATE FAILED": (FAILED, "ran, ended CREATE FAILED"),
    "COMPLETED": (ACTIVE, "ran, ended COMPLETED"),  # a data deletion job's spelling of ACTIVE
    "FAILED": (FAILED, "ran, ended FAILED"),
    "STOPPED": (STOPPED, "stopped"),
    "STOPPING": (STOPPED, "stopped"),
    "SKIPPED": (SKIPPED, "skipped"),
}
# Markers for the timeline's entry kinds; a kind not listed takes the next colour of _SPARE.
_MARKERS = {
    "cfn": ("#212121", "CloudFormation request or stack event"),
    "check": ("#607d8b", "monitor check"),
    "signal": ("#6a1b9a", "WaitCondition signal"),
    "wait": (WAITING, "WaitCondition waiting / ended"),
    "event": ("#e65100", "EventBridge event"),
    "output": ("#00695c", "output written"),
    "monitor": ("#0277bd", "monitor execution started / ended"),
    "note": ("#9e9e9e", "note"),
    "status": ("#37474f", "job status change"),
}
# Markers for the entries of runs without a deploy (their ``run`` data), drawn tall.
_RUN_MARKERS = {
    "scheduled": ("#d81b60", "scheduled delivery"),
    "skipped": (SKIPPED, "run skipped"),
    "chained": ("#3949ab", "chained run requested"),
    "new-input": ("#00897b", "new input landed"),
    "paused": ("#6d4c41", "schedule paused"),
}
_SPARE = ("#f06292", "#ffb300", "#26a69a", "#7e57c2", "#8d6e63", "#c0ca33", "#5c6bc0")
_STATUS = re.compile(r"(?:^status |created -> )([A-Z][A-Z_]*(?: [A-Z][A-Z_]*)*)")
_SKIP = re.compile(r"\bskip", re.IGNORECASE)
_TRIGGER = re.compile(r"\btrigger[\"']?\s*[=:]?\s*[\"']?(deploy|schedule|chain)\b", re.IGNORECASE)

WIDTH = 1240  # the SVG's width: fits a 1280-pixel window with the page's margins
LABEL = 380  # the left column of row labels
ROW = 22
AXIS = 30


@dataclass
class _Run:
    """One Personalize job (a key of the timeline with status entries): its status changes over time."""

    key: str
    entries: list[Entry] = field(default_factory=list)
    changes: list[tuple[float, str]] = field(default_factory=list)  # (at, status)

    @property
    def start(self) -> float:
        return self.changes[0][0] if self.changes else self.entries[0].at

    @property
    def final(self) -> str:
        return self.changes[-1][1] if self.changes else ""

    @property
    def end(self) -> float | None:
        return self.changes[-1][0] if self.final in _END_COLOURS else None

    @property
    def trigger(self) -> str:
        """What started it, where an entry says: its data's ``trigger``, or ``trigger=schedule`` in a text."""
        for entry in self.entries:
            value = entry.data.get("trigger")
            if value:
                return str(value)
            match = _TRIGGER.search(entry.text)
            if match:
                return match.group(1).lower()
        return ""


class _Legend:
    """What the chart drew, for the legend: bars by colour, the hatch, markers by entry kind."""

    def __init__(self) -> None:
        self.bars: dict[str, str] = {}  # colour -> meaning
        self.triggers: list[str] = []  # what started the runs drawn hatched (not a deploy)
        self.markers: dict[str, tuple[str, str]] = {}  # kind -> (colour, meaning)

    def bar(self, colour: str, meaning: str) -> None:
        self.bars.setdefault(colour, meaning)

    def marker(self, category: str) -> str:
        """The colour of a marker of ``category`` (an entry's kind, or its ``run`` when it has one)."""
        if category not in self.markers:
            known = _MARKERS.get(category) or _RUN_MARKERS.get(category)
            colour, meaning = (
                (known[0], f"{known[1]} ({category})") if known else (_spare(self.markers), category)
            )
            self.markers[category] = (colour, meaning)
        return self.markers[category][0]


def _spare(taken: dict[str, tuple[str, str]]) -> str:
    used = {colour for colour, _ in taken.values()}
    return next((colour for colour in _SPARE if colour not in used), _SPARE[0])


@dataclass
class _Group:
    title: str
    runs: list[_Run]
    other: list[Entry]  # the resource's own entries (CloudFormation requests, WaitCondition)
    entries: Sequence[Entry]


def render(result: Result, *, source: str = "") -> str:
    """The page of ``result``; ``source`` is the assembly it rehearsed (shown in the heading)."""
    ok = result.exit_code == EXIT_OK
    word, why = _verdict(result)
    groups = _groups(result)
    rows = {row.job_name: row for row in result.jobs if row.job_name}
    legend = _Legend()
    chart = _gantt(result, groups, rows, legend)
    title = f"Rehearsal {word}: {why}"
    failed_runs = _failed_without_deploy(groups, rows)
    if failed_runs:
        # Not a stack failure (the verdict stands), but what a reader of the page must not miss.
        count = len(failed_runs)
        title += (
            f"; {count} run{'s' if count > 1 else ''} without a deploy FAILED (events, not stack failures)"
        )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1 class="{"ok" if ok else "bad"}">{escape(title)}</h1>',
        _summary(result, source),
        "<h2>Timeline</h2>",
        '<p class="hint">Simulated time from the start of the deploy '
        f"({escape(EPOCH.strftime('%Y-%m-%d %H:%M UTC'))}). Hover a bar or a marker for its details.</p>",
        _legend(legend),
        chart,
        _problems(result, failed_runs),
        _runs_table(groups, rows),
        _operations_table(result.stack_operations),
        _skips(result.timeline),
        _checks_table(groups),
        _changes(result.changes),
        _details(groups),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


# ------------------------------------------------------------------------------------------ the model


def _verdict(result: Result) -> tuple[str, str]:
    """OK or FAILED, and why in one line."""
    if result.exit_code == EXIT_OK:
        verdict = result.verdict.removeprefix("Result: OK, ").removeprefix("Result: OK")
        return "OK", verdict or "every stack deployed"
    problems = [*(f"stuck: {p}" for p in result.stuck), *result.failures]
    if not problems:
        return "FAILED", result.verdict or f"exit code {result.exit_code}"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    first = problems[0] if len(problems[0]) <= 160 else problems[0][:157] + "..."
    return "FAILED", first + more


def _status(entry: Entry) -> str | None:
    if entry.kind != "status":
        return None
    if entry.data.get("status"):
        return str(entry.data["status"])
    match = _STATUS.search(entry.text)
    return match.group(1) if match else None


def _groups(result: Result) -> list[_Group]:
    """One group per job resource (as the text report groups them), then one for what no group holds."""
    groups: list[_Group] = []
    seen: set[int] = set()
    for section in result.sections:
        groups.append(_group(section.title, section.entries))
        seen.update(entry.seq for entry in section.entries)
    rest = [entry for entry in result.timeline if entry.seq not in seen]
    if rest:
        groups.append(_group("Other resources", rest))
    return groups


def _group(title: str, entries: Sequence[Entry]) -> _Group:
    run_keys = {entry.key for entry in entries if entry.kind == "status"}
    runs: dict[str, _Run] = {}
    other: list[Entry] = []
    for entry in entries:
        if entry.key not in run_keys:
            other.append(entry)
            continue
        run = runs.setdefault(entry.key, _Run(entry.key))
        run.entries.append(entry)
        status = _status(entry)
        if status and (not run.changes or run.changes[-1][1] != status):
            run.changes.append((entry.at, status))
    return _Group(title, sorted(runs.values(), key=lambda run: run.start), other, entries)


# ------------------------------------------------------------------------------------------ the chart


def _gantt(result: Result, groups: Sequence[_Group], rows: dict[str, JobResult], legend: _Legend) -> str:
    span = max(
        [
            60.0,
            result.simulated_seconds,
            *(entry.at for entry in result.timeline),
            *(operation.ended_at for operation in result.stack_operations),
        ]
    )
    scale = _Scale(span, _busy(result, groups, span), LABEL, WIDTH - LABEL - 10)
    x = scale.x
    body: list[str] = []
    y = AXIS

    def label(text: str, tooltip: str, css: str = "label") -> None:
        shown = text if len(text) <= 52 else text[:51] + "\u2026"
        body.append(
            f'<text class="{css}" x="6" y="{y + 15}"><title>{escape(tooltip)}</title>{escape(shown)}</text>'
        )

    def bar(start: float, end: float, colour: str, tooltip: str, *, hatch: bool = False, h: int = 14) -> None:
        left = x(start)
        width = max(x(end) - left, 2.0)
        top = y + (ROW - h) / 2
        fill = "url(#hatch)" if hatch else colour
        body.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{h}" fill="{colour}" rx="2">'
            f"<title>{escape(tooltip)}</title></rect>"
        )
        if hatch:
            body.append(
                f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{h}" fill="{fill}" '
                'pointer-events="none"/>'
            )

    def marker(entry: Entry) -> None:
        category = str(entry.data.get("run") or entry.kind)
        colour = legend.marker(category)
        left = x(entry.at)
        tip = escape(f"{_when(entry.at)} {entry.kind}: {entry.text}")
        # What a run without a deploy went through (a delivery, a skip) and kinds it does not know stand
        # tall; the routine ones (checks, requests) are ticks under the bar.
        tall = category not in _MARKERS
        top, width, height = (y + 4, 4, 14) if tall else (y + 16, 3, 5)
        body.append(
            f'<rect x="{left - width / 2:.1f}" y="{top}" width="{width}" height="{height}" fill="{colour}">'
            f"<title>{tip}</title></rect>"
        )

    # Stack operations: one row per stack.
    stacks = list(dict.fromkeys(operation.stack for operation in result.stack_operations))
    if stacks:
        body.append(f'<text class="group" x="6" y="{y + 15}">Stack operations</text>')
        y += ROW
    for stack in stacks:
        label(stack, f"stack {stack}")
        for operation in result.stack_operations:
            if operation.stack != stack:
                continue
            colour, meaning = _operation_colour(operation)
            legend.bar(colour, meaning)
            tip = (
                f"{operation.kind.lower()} {stack} ({operation.phase}): {operation.status}"
                f" from {_when(operation.started_at)} to {_when(operation.ended_at)}"
                + (f" - {operation.reason}" if operation.reason else "")
            )
            bar(operation.started_at, operation.ended_at, colour, tip)
            if x(operation.ended_at) - x(operation.started_at) > 60:
                body.append(
                    f'<text class="inbar" x="{x(operation.started_at) + 4:.1f}" y="{y + 15}">'
                    f"{escape(operation.kind.lower())}</text>"
                )
        y += ROW
    # Job resources: a row of their own entries (the WaitCondition's wait as a thin bar), a row per run.
    for group in groups:
        body.append(
            f'<text class="group" x="6" y="{y + 15}"><title>{escape(group.title)}</title>'
            f"{escape(_short(group.title.split(' (')[0], 60))}</text>"
        )
        for waiting, ended, text in _waits(group.other):
            legend.bar(WAITING, "WaitCondition waiting (thin bar)")
            bar(waiting, ended, WAITING, text, h=4)
        for entry in group.other:
            marker(entry)
        y += ROW
        for run in group.runs:
            row = rows.get(run.key)
            trigger = _trigger(run, row)
            what = f"{row.construct_id}: {row.kind}" if row else run.key
            phase = row.phase if row else ""
            how = ", ".join(
                dict.fromkeys(part for part in (phase, "" if trigger == "deploy" else trigger) if part)
            )
            label(f"  {what}" + (f" ({how})" if how else ""), f"{what}: {run.key} ({phase}, {trigger})")
            hatch = trigger != "deploy"
            if hatch:
                legend.triggers.append(trigger)
            end = run.end if run.end is not None else span
            for (at, status), following in zip(run.changes, [*run.changes[1:], (end, "")], strict=True):
                if status in _END_COLOURS:
                    continue
                colour, meaning = _segment_colour(status, run.final)
                legend.bar(colour, meaning)
                tip = f"{run.key}: {status} from {_when(at)} to {_when(following[0])}"
                if run.final in _END_COLOURS:
                    tip += f"; ended {run.final} at {_when(end)}"
                bar(at, following[0], colour, tip, hatch=hatch)
            if run.final in _END_COLOURS and len(run.changes) == 1:
                # Ended without ever running (skipped, refused): a short bar of its end colour.
                colour, meaning = _END_COLOURS[run.final]
                legend.bar(colour, meaning)
                bar(
                    run.start, run.start, colour, f"{run.key}: {run.final} at {_when(run.start)}", hatch=hatch
                )
            for entry in run.entries:
                if entry.kind != "status":
                    marker(entry)
            y += ROW
    height = y + 8
    axis = _axis(scale, height)
    return (
        f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="Timeline of the rehearsal">'
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="2" height="6" fill="#ffffff" fill-opacity="0.55"/>'
        "</pattern></defs>" + axis + "".join(body) + "</svg>"
    )


def _axis(scale: _Scale, height: int) -> str:
    """The time axis: ticks at a round step on the drawn (busy) time; a grey band for each idle stretch."""
    busy = sum(end - start for start, end, idle in scale.pieces if not idle) or scale.span
    steps = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
    step = next((s for s in steps if busy / s <= 12), 604800 * 4)
    parts = [f'<line x1="{LABEL}" y1="{AXIS - 4}" x2="{WIDTH - 10}" y2="{AXIS - 4}" class="axis"/>']
    last = -1000.0
    for index, (start, end, idle) in enumerate(scale.pieces):
        # A tick's label keeps clear of the idle band that follows its piece.
        before_band = index + 1 < len(scale.pieces) and scale.pieces[index + 1][2]
        limit = scale.bounds(index)[1] - 30 if before_band else float(WIDTH)
        if idle:
            left, right = scale.bounds(index)
            text = f"nothing happens for {_duration(end - start)} ({_when(start)} to {_when(end)})"
            parts.append(
                f'<rect x="{left:.1f}" y="{AXIS - 8}" width="{right - left:.1f}" '
                f'height="{height - AXIS + 8}" class="idle"><title>{escape(text)}</title></rect>'
                f'<text class="tick" x="{(left + right) / 2:.1f}" y="{AXIS - 12}">\u2248</text>'
            )
            last = right
            continue
        if index and scale.pieces[index - 1][2]:
            # After an idle band: the time the drawing resumes at, left-aligned on its edge.
            left = scale.bounds(index)[0]
            parts.append(
                f'<text class="tick resume" x="{left + 2:.1f}" y="{AXIS - 12}">'
                f"{escape(_when(start, short=True))}</text>"
            )
            last = left + 70
        tick = math.ceil(start / step) * step
        while tick <= end:
            left = scale.x(tick)
            if left - last >= 72 and left <= limit:
                parts.append(
                    f'<line x1="{left:.1f}" y1="{AXIS - 8}" x2="{left:.1f}" y2="{height}" class="grid"/>'
                    f'<text class="tick" x="{left:.1f}" y="{AXIS - 12}">'
                    f"{escape(_when(tick, short=True))}</text>"
                )
                last = left
            tick += step
    return "".join(parts)


class _Scale:
    """Simulated seconds to x: linear, except that each idle stretch (nothing runs, nothing is recorded)
    of six hours or more is drawn as a narrow band, so days of a schedule's quiet weeks leave each run
    wide enough to read."""

    IDLE = 6 * 3600.0
    BAND = 18.0
    MOMENT = 84.0

    def __init__(self, span: float, busy: list[tuple[float, float]], left: float, width: float) -> None:
        self.span, self.left = span, left
        pieces: list[tuple[float, float, bool]] = []  # (from, to, idle)
        cursor = 0.0
        for start, end in busy:
            if start - cursor >= self.IDLE:
                pieces += [(cursor, start, True), (start, end, False)]
            elif pieces:  # the last piece is a busy one: it goes on
                pieces[-1] = (pieces[-1][0], max(pieces[-1][1], end), False)
            else:
                pieces.append((0.0, end, False))
            cursor = max(cursor, end)
        if span - cursor >= self.IDLE:
            pieces.append((cursor, span, True))
        elif pieces:
            pieces[-1] = (pieces[-1][0], span, False)
        else:
            pieces.append((0.0, span, False))
        self.pieces = pieces
        idle = [piece for piece in pieces if piece[2]]
        busy_total = sum(end - start for start, end, gap in pieces if not gap)
        room = width - self.BAND * len(idle)
        # Each busy piece gets its share of the room plus a floor that leaves a moment (a skip alone)
        # MOMENT pixels, room for its time label.
        count = len(pieces) - len(idle)
        floor = (
            self.MOMENT * busy_total / (room - self.MOMENT * count)
            if room > self.MOMENT * count
            else busy_total
        )
        weights = [0.0 if gap else end - start + floor for start, end, gap in pieces]
        self._widths = [
            self.BAND if gap else room * w / (sum(weights) or 1)
            for (_, _, gap), w in zip(pieces, weights, strict=True)
        ]

    def bounds(self, index: int) -> tuple[float, float]:
        """The pixels the ``index``-th piece spans."""
        left = self.left + sum(self._widths[:index])
        return left, left + self._widths[index]

    def x(self, at: float) -> float:
        position = self.left
        for (start, end, _), width in zip(self.pieces, self._widths, strict=True):
            if at <= end or end >= self.span:
                fraction = (at - start) / (end - start) if end > start else 0.0
                return position + width * min(max(fraction, 0.0), 1.0)
            position += width
        return position


def _busy(result: Result, groups: Sequence[_Group], span: float) -> list[tuple[float, float]]:
    """Sorted, merged stretches of simulated time in which something runs or is recorded."""
    stretches = [(o.started_at, o.ended_at) for o in result.stack_operations]
    for group in groups:
        stretches.extend((run.start, run.end if run.end is not None else span) for run in group.runs)
        stretches.extend((start, end) for start, end, _ in _waits(group.other))
    stretches.extend((entry.at, entry.at) for entry in result.timeline)
    merged: list[tuple[float, float]] = []
    for start, end in sorted(stretches):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _waits(entries: Iterable[Entry]) -> list[tuple[float, float, str]]:
    """(from, to, text) of each WaitCondition wait among a resource's entries."""
    spans = []
    started: dict[str, float] = {}
    for entry in entries:
        if entry.kind != "wait":
            continue
        name = entry.text.split(" ")[1] if entry.text.startswith("WaitCondition ") else entry.key
        if " waiting" in entry.text:
            started[name] = entry.at
        elif name in started:
            spans.append((started.pop(name), entry.at, entry.text))
    return spans


def _segment_colour(status: str, final: str) -> tuple[str, str]:
    if status in ("PENDING", "CREATE PENDING", "QUEUED"):
        return PENDING, "PENDING (queued in Personalize)"
    if final in _END_COLOURS:
        return _END_COLOURS[final]
    return RUNNING, "still running when the rehearsal ended"


def _operation_colour(operation: StackOperation) -> tuple[str, str]:
    status = operation.status
    if "FAILED" in status:
        return STACK_FAILED, "stack operation failed (stuck)"
    if "ROLLBACK" in status:
        return STACK_ROLLBACK, "stack operation rolled back"
    if status.endswith("_COMPLETE"):
        return STACK_COMPLETE, "stack operation completed"
    return STACK_FAILED, "stack operation refused or unfinished"


def _trigger(run: _Run, row: JobResult | None) -> str:
    """What started a run: what its entries say, else its phase (a deploy's create or update)."""
    if run.trigger:
        return run.trigger
    if row is None or row.phase in ("create", "update"):
        return "deploy"
    return row.phase


def _noun(run: _Run) -> str:
    first = run.entries[0].text
    head, _, _ = first.partition(f" {run.key}")
    return head if head != first else "job"


def _when(at: float, *, short: bool = False) -> str:
    whole = round(at)
    days, rest = divmod(whole, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}" + ("" if short else f":{rest % 60:02d}")
    return f"+{days}d {clock}" if days else f"+{clock}"


def _duration(seconds: float) -> str:
    """`duration_text`, with days past a day: `6d 23h 14m`."""
    if seconds < 86400:
        return duration_text(seconds)
    whole = round(seconds)
    return f"{whole // 86400}d {whole % 86400 // 3600}h {whole % 3600 // 60:02d}m"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# ------------------------------------------------------------------------------------------ the tables


def _summary(result: Result, source: str) -> str:
    facts = [
        ("assembly", source or "-"),
        ("verdict", result.verdict or "-"),
        ("exit code", str(result.exit_code)),
        ("simulated", _duration(result.simulated_seconds)),
        ("wall", f"{result.wall_seconds:.1f} s"),
        ("Personalize jobs created", str(len(result.personalize_jobs))),
        ("create calls", str(result.create_calls)),
        ("monitor executions", str(len(result.executions))),
        ("signals", str(result.signals)),
        ("events", str(result.events)),
        ("throttled requests", str(result.throttled)),
        ("quota refusals", str(result.limit_exceeded)),
    ]
    cells = "".join(f"<li><b>{escape(k)}</b> {escape(v)}</li>" for k, v in facts)
    return f'<ul class="facts">{cells}</ul>'


def _legend(legend: _Legend) -> str:
    items = [
        f'<li><span class="sw" style="background:{c}"></span>{escape(m)}</li>' for c, m in legend.bars.items()
    ]
    if legend.triggers:
        triggers = ", ".join(dict.fromkeys(legend.triggers))
        items.append(
            f'<li><span class="sw hatch"></span>{escape(f"run without a deploy ({triggers}): hatched")}</li>'
        )
    items.extend(
        f'<li><span class="mk" style="background:{colour}"></span>marker: {escape(meaning)}</li>'
        for colour, meaning in legend.markers.values()
    )
    return f'<ul class="legend">{"".join(items)}</ul>'


def _failed_without_deploy(groups: Sequence[_Group], rows: dict[str, JobResult]) -> list[str]:
    """One line per run without a deploy (scheduled, chained) that ended failed: an event, not a verdict."""
    lines = []
    for group in groups:
        for run in group.runs:
            row = rows.get(run.key)
            trigger = _trigger(run, row)
            if trigger == "deploy" or run.final not in ("CREATE FAILED", "FAILED"):
                continue
            what = f"{row.stack}/{row.construct_id}" if row else group.title
            reason = (row.failure_reason if row else "") or _reason(run) or "no reason given"
            ended = _when(run.end if run.end is not None else run.start)
            lines.append(f"{what} ({trigger}): {run.key} ended {run.final} at {ended}: {reason}")
    return lines


def _problems(result: Result, failed_runs: Sequence[str]) -> str:
    parts = ["<h2>Failures</h2>"]
    if result.failures or result.stuck:
        items = [*(f"STUCK: {p}" for p in result.stuck), *(f"FAILED: {f}" for f in result.failures)]
        parts.append('<ul class="problems">')
        parts.extend(f"<li>{escape(item)}</li>" for item in items)
        parts.append("</ul>")
    else:
        parts.append("<p>None that fails the deploy: every stack operation and waited job succeeded.</p>")
    if failed_runs:
        parts.append("<p>Runs without a deploy that failed (each an end event; the stack is unchanged):</p>")
        parts.append('<ul class="problems">')
        parts.extend(f"<li>FAILED: {escape(line)}</li>" for line in failed_runs)
        parts.append("</ul>")
    if result.warnings:
        parts.append("<h2>Notes</h2><ul>")
        parts.extend(f"<li>{escape(warning)}</li>" for warning in result.warnings)
        parts.append("</ul>")
    return "".join(parts)


def _table(headings: Sequence[str], body: Iterable[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    rows = "".join(
        "<tr>" + "".join(f"<td{_cell_class(cell)}>{escape(cell)}</td>" for cell in cells) + "</tr>"
        for cells in body
    )
    return (
        f'<div class="scroll"><table class="grid {css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _cell_class(cell: str) -> str:
    """A status's colour; short cells (times, statuses) never wrap, long ones (names, reasons) anywhere,
    the others where words end."""
    classes = ["nw"] if len(cell) <= 15 else ["wrap"] if len(cell) > 24 else []
    if cell in ("ACTIVE", "SUCCEEDED") or (cell.endswith("_COMPLETE") and "ROLLBACK" not in cell):
        classes.append("good")
    elif "FAILED" in cell or "ROLLBACK" in cell or cell in ("STOPPED", "TIMED_OUT"):
        classes.append("badcell")
    return f' class="{" ".join(classes)}"' if classes else ""


def _runs_table(groups: Sequence[_Group], rows: dict[str, JobResult]) -> str:
    body = []
    for group in groups:
        for run in group.runs:
            row = rows.get(run.key)
            end = run.end
            trigger = _trigger(run, row)
            body.append(
                (
                    row.construct_id if row else group.title,
                    row.kind if row else _noun(run),
                    f"deploy ({row.phase})" if row and trigger == "deploy" else trigger,
                    run.key,
                    run.final or "-",
                    _when(run.start),
                    _when(end) if end is not None else "-",
                    _duration(end - run.start) if end is not None else "-",
                    str(row.records) if row else "-",
                    (row.wait_status or ("not waited" if not row.waited else "-")) if row else "-",
                    (row.failure_reason or "") if row else _reason(run),
                )
            )
    headings = (
        "job resource",
        "kind",
        "started by",
        "Personalize job",
        "status",
        "start",
        "end",
        "duration",
        "records",
        "wait",
        "failure reason",
    )
    return "<h2>Job runs</h2>" + (
        _table(headings, body) if body else "<p>No Personalize job was started.</p>"
    )


def _reason(run: _Run) -> str:
    for entry in reversed(run.entries):
        if entry.kind == "status" and ": " in entry.text:
            return entry.text.split(": ", 1)[1]
    return ""


def _operations_table(operations: Sequence[StackOperation]) -> str:
    body = [
        (
            operation.phase,
            operation.stack,
            operation.kind.lower(),
            _when(operation.started_at),
            _when(operation.ended_at),
            _duration(operation.ended_at - operation.started_at),
            operation.status or "-",
            operation.reason,
        )
        for operation in operations
    ]
    headings = ("phase", "stack", "operation", "start", "end", "duration", "outcome", "reason")
    return "<h2>Stack operations</h2>" + (
        _table(headings, body) if body else "<p>No stack operation ran.</p>"
    )


def _skips(timeline: Sequence[Entry]) -> str:
    skipped = [
        entry
        for entry in timeline
        if str(entry.kind) == "skip" or entry.data.get("status") == "SKIPPED" or _SKIP.search(entry.text)
    ]
    if not skipped:
        return "<h2>Skips</h2><p>No run was skipped.</p>"
    body = [(_when(entry.at), entry.key, entry.kind, entry.text) for entry in skipped]
    return "<h2>Skips</h2>" + _table(("time", "job", "kind", "what"), body)


def _checks_table(groups: Sequence[_Group]) -> str:
    body = []
    for group in groups:
        for run in group.runs:
            checks = [entry for entry in run.entries if entry.kind == "check"]
            if not checks:
                continue
            counted = [entry for entry in checks if "checks" in entry.data]
            statuses = list(dict.fromkeys(str(entry.data.get("status")) for entry in counted))
            problems = [entry.text for entry in checks if "checks" not in entry.data]
            last = checks[-1]
            body.append(
                (
                    run.key,
                    str(len(counted)),
                    _when(checks[0].at),
                    _when(last.at),
                    ", ".join(statuses) or "-",
                    last.text,
                    "; ".join(problems),
                )
            )
    headings = ("Personalize job", "checks", "first", "last", "statuses seen", "last check", "errors")
    return "<h2>Checks</h2>" + (_table(headings, body) if body else "<p>No check ran.</p>")


def _changes(changes: Sequence[str]) -> str:
    if not changes:
        return ""
    items = "".join(f"<li>{escape(change)}</li>" for change in changes)
    return f"<h2>What the update did to each job</h2><ul>{items}</ul>"


def _details(groups: Sequence[_Group]) -> str:
    parts = ["<h2>Full timeline per job resource</h2>"]
    for group in groups:
        lines = "\n".join(timeline_lines(group.entries))
        parts.append(
            f"<details><summary>{escape(group.title)} ({len(group.entries)} entries)</summary>"
            f"<pre>{escape(lines)}</pre></details>"
        )
    return "".join(parts)


_CSS = """
body{font:14px/1.4 'DejaVu Sans',Roboto,sans-serif;margin:16px;color:#212121;background:#fff}
h1{font-size:20px;margin:0 0 8px;padding:8px 12px;border-radius:4px;color:#fff}
h1.ok{background:#1b5e20}h1.bad{background:#a01818}
h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #ddd}
.hint{color:#555;margin:2px 0}
table{border-collapse:collapse;margin:4px 0}
ul.facts{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:2px 20px}
table.grid{max-width:100%;font-size:13px}
table.grid th,table.grid td{border:1px solid #ddd;padding:2px 4px;text-align:left;vertical-align:top}
td.nw{white-space:nowrap}div.scroll{overflow-x:auto}td.wrap{overflow-wrap:anywhere}
table.grid th{background:#f5f5f5}
td.good{color:#1b5e20;font-weight:600}td.badcell{color:#b71c1c;font-weight:600}
ul.problems li{color:#b71c1c}
ul.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 16px}
ul.legend li{display:flex;align-items:center;gap:6px}
.sw{display:inline-block;width:22px;height:12px;border-radius:2px}
.sw.hatch{background:repeating-linear-gradient(45deg,#607d8b 0 3px,#cfd8dc 3px 6px)}
.mk{display:inline-block;width:4px;height:10px}
svg.gantt{display:block;width:100%;height:auto;border:1px solid #e0e0e0;background:#fff}
svg .label{font-size:12px;fill:#212121}
svg .group{font-size:12px;font-weight:700;fill:#000}
svg .inbar{font-size:11px;fill:#fff}
svg .tick{font-size:11px;fill:#555;text-anchor:middle}svg .resume{text-anchor:start}
svg .axis{stroke:#999}svg .grid{stroke:#eee}svg .idle{fill:#eceff1}
pre{background:#fafafa;border:1px solid #eee;padding:6px;overflow:auto;font-size:12px}
"""
