"""The rehearsal's HTML report (`--html FILE`): its content, and the page as a person sees it (headless
Chromium's screenshot)."""

from __future__ import annotations

import dataclasses
import re
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.rehearsal import Result, html_report, rehearse
from constructs_lib.rehearsal.__main__ import main
from constructs_lib.rehearsal.report import Section
from constructs_lib.rehearsal.timeline import Entry

pytestmark = pytest.mark.slow

REASON = '<script>alert("x")</script> & input too large'
CHROMIUM = "/usr/bin/chromium"
SIZE = (1280, 900)


@pytest.fixture(scope="module")
def end_to_end(example_apps: Mapping[str, Any]) -> Path:
    """The chain example (import -> trainings -> batch inference and segments), shared with other tests."""
    return Path(example_apps["end_to_end"].outdir)


@pytest.fixture(scope="module")
def green(end_to_end: Path) -> Result:
    return rehearse(end_to_end)


@pytest.fixture(scope="module")
def failed(end_to_end: Path) -> Result:
    """The batch inference job fails with a reason holding markup; the stack rolls back."""
    return rehearse(end_to_end, fail={"UserRecommendations": REASON})


@pytest.fixture(scope="module")
def four_weeks(weekly_four_weeks: Result) -> Result:
    """examples/weekly.py for 29 days after its deploy, new interactions landing on day 15: two weeks
    import and chain trainings and batch jobs, two are skipped (the schedules' own test says which).
    Rehearsed once per session (tests/conftest.py), shared with tests/test_schedules_rehearsal.py."""
    return weekly_four_weeks


@pytest.fixture(scope="module")
def four_weeks_page(four_weeks: Result) -> str:
    return html_report.render(four_weeks, source="examples/weekly.py")


@pytest.fixture(scope="module")
def green_page(green: Result, end_to_end: Path) -> str:
    return html_report.render(green, source=str(end_to_end))


@pytest.fixture(scope="module")
def failed_page(failed: Result, end_to_end: Path) -> str:
    return html_report.render(failed, source=str(end_to_end))


def _title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page)
    assert match, page[:500]
    return match.group(1)


def _gantt(page: str) -> str:
    match = re.search(r'<svg class="gantt".*?</svg>', page, re.DOTALL)
    assert match, "no timeline chart"
    return match.group(0)


# ---------------------------------------------------------------------------------------- the content


def test_title_says_ok_and_why(green: Result, green_page: str) -> None:
    assert green.ok
    assert _title(green_page).startswith("Rehearsal OK: 6 waited jobs ended ACTIVE")
    assert '<h1 class="ok">' in green_page


def test_title_says_failed_with_the_first_failure_and_how_many_more(failed: Result, failed_page: str) -> None:
    assert failed.exit_code == 1 and len(failed.failures) == 2
    title = _title(failed_page)
    assert title.startswith("Rehearsal FAILED: PersonalizeEndToEnd/UserRecommendations: The batch inference")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; input too large" in title
    assert title.endswith("(and 1 more)")
    assert '<h1 class="bad">' in failed_page


def test_every_name_and_reason_is_escaped(failed_page: str) -> None:
    # The reason appears in the title, the failures, the job runs, the stack operations and tooltips.
    assert failed_page.count("&lt;script&gt;alert(") >= 5
    assert "<script" not in failed_page
    assert 'alert("x")' not in failed_page


def test_the_page_is_self_contained(green_page: str) -> None:
    # No script, no stylesheet or image to fetch; the only URL is the SVG namespace (a name, not a fetch).
    for needle in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url(http"):
        assert needle not in green_page.lower(), needle
    assert re.findall(r"https?://[^\s\"'<]+", green_page) == ["http://www.w3.org/2000/svg"]
    assert "<style>" in green_page and '<svg class="gantt"' in green_page


def test_the_timeline_draws_a_bar_per_job_run_with_its_status_times(green: Result, green_page: str) -> None:
    chart = _gantt(green_page)
    assert len(green.jobs) == 6  # five resources, the import run again by the update
    for job in green.jobs:
        assert job.job_name and job.created_at is not None and job.ended_at is not None
        assert f"{job.job_name}: PENDING from " in chart
        assert f"{job.job_name}: IN PROGRESS from " in chart
        assert f"ended ACTIVE at {html_report._when(job.ended_at)}" in chart
    assert chart.count(f'fill="{html_report.ACTIVE}"') == 6
    assert chart.count(f'fill="{html_report.PENDING}"') == 6
    assert f'fill="{html_report.FAILED}"' not in chart


def test_a_failed_run_is_drawn_red_and_its_reason_listed(failed: Result, failed_page: str) -> None:
    chart = _gantt(failed_page)
    job = failed.job("UserRecommendations")
    assert job.status == "CREATE FAILED"
    assert chart.count(f'fill="{html_report.FAILED}"') == 1
    assert f"{job.job_name}: IN PROGRESS from " in chart and "ended CREATE FAILED" in chart
    runs = failed_page.split("<h2>Job runs</h2>")[1].split("</table>")[0]
    assert '<td class="nw badcell">CREATE FAILED</td>' in runs
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; input too large" in runs


def test_stack_operations_are_timed_in_order_with_their_outcomes(green: Result, green_page: str) -> None:
    operations = green.stack_operations
    assert [(o.phase, o.kind, o.status) for o in operations] == [
        ("create", "CREATE", "CREATE_COMPLETE"),
        ("update", "UPDATE", "UPDATE_COMPLETE"),
        ("delete", "DELETE", "DELETE_COMPLETE"),
    ]
    assert operations[0].started_at == 0
    # The create holds until the last waited job ended; the update starts after it, the delete after that.
    last_create_end = max(j.ended_at or 0 for j in green.jobs if j.phase == "create")
    assert operations[0].ended_at >= last_create_end
    assert operations[0].ended_at <= operations[1].started_at < operations[1].ended_at
    assert operations[1].ended_at <= operations[2].started_at <= operations[2].ended_at
    table = green_page.split("<h2>Stack operations</h2>")[1].split("</table>")[0]
    for operation in operations:
        assert html_report._when(operation.started_at) in table
        assert html_report._when(operation.ended_at) in table
        assert f'<td class="nw good">{operation.status}</td>' in table
    chart = _gantt(green_page)
    assert chart.count(f'fill="{html_report.STACK_COMPLETE}"') == 3


def test_a_rolled_back_create_is_drawn_as_a_rollback(failed: Result, failed_page: str) -> None:
    create = failed.stack_operations[0]
    assert create.status == "ROLLBACK_COMPLETE"
    assert f'fill="{html_report.STACK_ROLLBACK}"' in _gantt(failed_page)
    assert "stack operation rolled back" in failed_page


def test_checks_are_counted_per_run(green: Result, green_page: str) -> None:
    table = green_page.split("<h2>Checks</h2>")[1].split("</table>")[0]
    for job in green.jobs:
        assert job.checks > 1
        row = next(r for r in table.split("<tr>") if f">{job.job_name}<" in r)
        assert f'<td class="nw">{job.checks}</td>' in row
        assert "ACTIVE, done (SUCCESS)" in row


def test_the_full_timeline_of_each_job_resource_is_on_the_page(green: Result, green_page: str) -> None:
    details = green_page.split("<h2>Full timeline per job resource</h2>")[1]
    for section in green.sections:
        assert f"<summary>{section.title} ({len(section.entries)} entries)</summary>" in details
    assert "signal SUCCESS received" in details and "status IN PROGRESS" in details


def test_the_legend_names_every_colour_and_entry_kind_drawn(green_page: str) -> None:
    legend = green_page.split('<ul class="legend">')[1].split("</ul>")[0]
    for meaning in ("PENDING", "ran, ended ACTIVE", "stack operation completed", "WaitCondition waiting"):
        assert meaning in legend
    for kind in ("cfn", "check", "signal", "event", "output", "monitor", "wait"):
        assert f"({kind})" in legend
    assert "No run was skipped." in green_page


def test_entry_kinds_and_triggers_it_does_not_know_are_drawn_generically(green: Result) -> None:
    """A scheduled run and a skip (as the scheduling work adds them to the timeline): a hatched bar, a
    marker of a new colour, both in the legend, and the skip in the skips table."""
    base = len(green.timeline)
    start = green.simulated_seconds + 86400
    added = [
        Entry(
            base,
            start,
            "Weekly-20260112T0900",
            "status",
            "job Weekly created -> PENDING",
            {"trigger": "schedule"},
        ),
        Entry(base + 1, start + 240, "Weekly-20260112T0900", "status", "status IN PROGRESS"),
        Entry(base + 2, start + 3000, "Weekly-20260112T0900", "status", "status ACTIVE"),
        Entry(base + 3, start + 7 * 86400, "Stack/Weekly", "skip", "skipped <unchanged input>"),  # type: ignore[arg-type]
    ]
    page = html_report.render(
        dataclasses.replace(
            green,
            timeline=(*green.timeline, *added),
            sections=(*green.sections, Section("Stack/Weekly (Weekly1234)", tuple(added))),
        )
    )
    chart = _gantt(page)
    assert 'fill="url(#hatch)"' in chart
    assert "Weekly-20260112T0900 (schedule)" in chart
    legend = page.split('<ul class="legend">')[1].split("</ul>")[0]
    assert "run without a deploy (schedule): hatched" in legend
    assert "marker: skip</li>" in legend
    skips = page.split("<h2>Skips</h2>")[1].split("</table>")[0]
    assert "skipped &lt;unchanged input&gt;" in skips and '<td class="nw">+8d ' in skips
    runs = page.split("<h2>Job runs</h2>")[1].split("</table>")[0]
    assert "Weekly-20260112T0900" in runs and '<td class="nw">schedule</td>' in runs
    # The axis runs to the last entry, a week and a day later; the idle days between are narrow bands, so
    # the 46-minute scheduled run is drawn about as wide as the deploy's own runs, not as a sliver.
    idle = re.findall(r'class="idle"><title>nothing happens for ([^<]*)</title>', chart)
    assert len(idle) == 2 and idle[1].startswith("6d ") and "to +8d " in idle[1], idle
    width = float(
        re.search(r'width="([\d.]+)"[^>]*><title>Weekly-20260112T0900: IN PROGRESS', chart).group(1)
    )
    assert width > 80, width


def test_a_run_whose_entries_say_trigger_schedule_in_their_text_is_a_scheduled_run(green: Result) -> None:
    at, key = green.simulated_seconds + 3600, "Nightly-20260106T0100"
    added = [
        Entry(len(green.timeline), at, key, "status", f"job {key} created -> PENDING"),
        Entry(len(green.timeline) + 1, at + 60, key, "status", "status IN PROGRESS"),
        Entry(len(green.timeline) + 2, at + 600, key, "status", "status COMPLETED"),
        Entry(
            len(green.timeline) + 3,
            at + 660,
            key,
            "event",
            "event emitted: End (COMPLETED, trigger=schedule)",
        ),
    ]
    page = html_report.render(dataclasses.replace(green, timeline=(*green.timeline, *added)))
    chart = _gantt(page)
    assert f"{key} (schedule)" in chart and 'fill="url(#hatch)"' in chart
    # A data deletion job's COMPLETED is its ACTIVE: the run is drawn in ACTIVE's colour.
    assert f'fill="{html_report.ACTIVE}" rx="2"><title>{key}: IN PROGRESS from ' in chart
    assert "ended COMPLETED at" in chart


def test_weeks_of_schedules_draw_each_run_without_a_deploy_hatched_and_each_skip(
    four_weeks: Result, four_weeks_page: str
) -> None:
    assert four_weeks.ok, four_weeks.report
    without_deploy = [row for row in four_weeks.jobs if row.phase not in ("create", "update")]
    assert {row.phase for row in without_deploy} == {"schedule", "chain"} and len(without_deploy) == 10
    chart = _gantt(four_weeks_page)
    for row in without_deploy:
        label = f"{row.construct_id}: {row.kind} ({row.phase})"
        assert f">  {label}</text>" in chart, label
    # PENDING then IN PROGRESS, each hatched, for each of the ten; the deploy's own five are plain.
    assert chart.count('fill="url(#hatch)"') == 20
    legend = four_weeks_page.split('<ul class="legend">')[1].split("</ul>")[0]
    assert "run without a deploy (schedule, chain): hatched" in legend
    assert "marker: run skipped (skipped)" in legend and "marker: scheduled delivery (scheduled)" in legend
    skips = re.findall(rf'fill="{html_report.SKIPPED}"><title>([^<]*)</title>', chart)
    assert len(skips) == 2 and all("run skipped: Unchanged" in tip for tip in skips), skips
    table = four_weeks_page.split("<h2>Skips</h2>")[1].split("</table>")[0]
    assert table.count("run skipped: Unchanged") == 2
    # Four quiet weeks shrink to bands: a two-hour chained training is still drawn wider than 60 px.
    assert chart.count('class="idle"') >= 4
    trainings = re.findall(
        r'width="([\d.]+)"[^>]*><title>[^<]*RecommendationsVersion[^<]*: IN PROGRESS', chart
    )
    assert len(trainings) == 3 and min(float(w) for w in trainings) > 60, trainings


def test_a_failed_run_without_a_deploy_is_named_in_the_title_though_the_verdict_stays_ok(
    example_apps: Mapping[str, Any],
) -> None:
    result = rehearse(
        example_apps["weekly"].outdir,
        days=29,
        update=False,
        new_input=[("WeeklyImport", 15)],
        fail_scheduled={"WeeklyAudiences": REASON},
    )
    assert result.ok  # a run without a deploy that fails is an event, not a stack failure
    page = html_report.render(result)
    title = _title(page)
    assert title.startswith("Rehearsal OK: ")
    assert title.endswith("; 2 runs without a deploy FAILED (events, not stack failures)")
    failures = page.split("<h2>Failures</h2>")[1].split("<h2>")[0]
    lines = re.findall(r"<li>FAILED: (PersonalizeWeekly/WeeklyAudiences \(chain\): [^<]*)</li>", failures)
    assert len(lines) == 2, failures
    assert all(
        line.endswith("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; input too large")
        for line in lines
    )
    assert "<script" not in page
    assert _gantt(page).count(f'fill="{html_report.FAILED}"') == 2


def test_cli_writes_the_page_and_keeps_the_exit_code(
    end_to_end: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    assert main([str(end_to_end), "--no-update", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"HTML report: {page}")
    assert "Result: OK" in out
    assert _title(page.read_text()).startswith("Rehearsal OK: 5 waited jobs ended ACTIVE")


def test_cli_refuses_a_page_it_could_not_write_before_rehearsing(
    end_to_end: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "report.html"
    assert main([str(end_to_end), "--no-update", "--html", str(target)]) == 2
    assert (
        capsys.readouterr().err == f"rehearsal: --html {target}: no such directory to write the report in\n"
    )
    assert not target.parent.exists()


# ---------------------------------------------------------------------------------------- as seen


def _read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of RGB(A) bytes of an 8-bit RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    step = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * step
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(step, stride):
                line[i] = (line[i] + line[i - step]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - step] if i >= step else 0
                line[i] = (line[i] + (left + previous[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - step] if i >= step else 0
                b, c = previous[i], previous[i - step] if i >= step else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line) if step == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
        previous = line
    return width, height, rows


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


SEEN = {
    # The failed rehearsal: its runs, the red one, the rolled-back create.
    "failed": (
        ("ACTIVE", html_report.ACTIVE, 5000),
        ("CREATE FAILED", html_report.FAILED, 1000),  # one bar (the heading is of another red)
        ("PENDING", html_report.PENDING, 300),
        ("stack rollback", html_report.STACK_ROLLBACK, 5000),
    ),
    # Four weeks of schedules: the deploy's runs, the stack operations, the two skips' markers.
    "four_weeks": (
        ("ACTIVE", html_report.ACTIVE, 2000),
        ("stack complete", html_report.STACK_COMPLETE, 1000),
        ("skip markers", html_report.SKIPPED, 2 * 40),
    ),
}


@pytest.mark.parametrize("name", SEEN)
def test_the_page_renders_in_headless_chromium(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The page, screenshotted at 1280x900: a PNG of that size, not blank, the bars' colours on screen."""
    rendered = request.getfixturevalue(f"{name}_page")
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (scripts/prepare_tests.py: apt-get install -y "
            "chromium); install it to check the HTML report as a person sees it"
        )
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    page.write_text(rendered, encoding="utf-8")
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            f"--window-size={SIZE[0]},{SIZE[1]}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0 and shot.exists(), completed.stderr[-2000:]
    width, height, rows = _read_png(shot)
    assert (width, height) == SIZE
    pixels = Counter(row[i : i + 3] for row in rows for i in range(0, len(row), 3))
    white = pixels[bytes((255, 255, 255))]
    assert white < 0.95 * width * height, "the page is (nearly) blank"
    assert len(pixels) > 50, f"only {len(pixels)} colours: nothing drawn"
    for what, colour, least in SEEN[name]:
        seen = pixels[bytes(_rgb(colour))]
        assert seen >= least, f"{what} ({colour}): {seen} pixels on the screenshot"
