"""Runs every benchmark, prints its tables and writes benchmarks/RESULTS.md (`make bench`).

JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python benchmarks/run_all.py
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import _jsii_env  # noqa: F401  (before aws_cdk: silences the jsii Node banner)
import handler_cost
import monitor_schedule
import synth_compare
from _table import Table, number

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# ---------------------------------------------------------------- the machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1, 5, 15 min)"
    except OSError:
        return "unknown"


def code_version() -> str:
    """The commit benchmarked, and whether the working tree differed from it."""
    try:
        commit = _git("rev-parse", "--short", "HEAD").strip()
        changed = len(_git("status", "--porcelain", "--untracked-files=no").splitlines())
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit}, with uncommitted changes in {changed} files" if changed else commit


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=RESULTS.parent
    ).stdout


def machine() -> list[tuple[str, str]]:
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("aws-cdk-lib", "constructs", "jsii")
    )
    return [
        ("platform", platform.platform()),
        ("CPU", f"{cpu_model()}, {os.cpu_count()} cores"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Node.js", node_version()),
        ("libraries", versions),
        ("code", code_version()),
    ]


# ---------------------------------------------------------------- the monitor schedule


def monitor_table() -> Table:
    return Table.of(
        "Monitor: checks per job, worst delay in seeing the job's end, Step Functions + Lambda cost",
        monitor_schedule.HEADER,
        monitor_schedule.rows(),
    )


# ---------------------------------------------------------------- synth


@dataclass(frozen=True)
class SynthFindings:
    tables: list[Table]
    jsii_startup_seconds: float
    ratios: dict[int, float]
    processes: list[synth_compare.ProcessComparison]
    fixed_resources: tuple[float, float]

    @property
    def process_ratios(self) -> dict[int, float]:
        return {p.count: p.ratio for p in self.processes}

    @property
    def cpu_ratios(self) -> dict[int, float]:
        return {p.count: p.cpu_ratio for p in self.processes}


def synth_findings() -> SynthFindings:
    processes = synth_compare.compare_processes()
    results = synth_compare.compare_all()
    return SynthFindings(
        tables=[
            synth_compare.process_table(processes),
            synth_compare.synth_table(results),
            synth_compare.per_job_table(results),
            synth_compare.job_cost_table(),
        ],
        jsii_startup_seconds=synth_compare.jsii_startup_seconds(),
        ratios={r.count: r.ratio for r in results},
        processes=processes,
        fixed_resources=synth_compare.fixed_resources(results),
    )


# ---------------------------------------------------------------- RESULTS.md


def _listed(ratios: dict[int, float], decimals: int = 2) -> str:
    return ", ".join(f"{count} ({ratio:.{decimals}f}x)" for count, ratio in ratios.items())


def verdict(process_ratios: dict[int, float], cpu_ratios: dict[int, float], ratios: dict[int, float]) -> str:
    """The headline: whole-process ratios against the target, in plain words, then the CPU-time and
    in-process ones. Whole-process ratios show three decimals, so that none reads as the target itself."""
    target = synth_compare.TARGET_RATIO
    missed = synth_compare.over_target(process_ratios, target)
    met = {count: ratio for count, ratio in process_ratios.items() if count not in missed}
    if not missed:
        headline = (
            f"Target met: a whole synth with this library takes at most {target:.2f}x as long as with "
            f"AwsCustomResource at every N: {_listed(met, 3)}."
        )
    else:
        headline = (
            f"Target missed: a whole synth with this library takes more than {target:.2f}x as long as "
            f"with AwsCustomResource at N = {_listed(missed, 3)}."
        )
        if met:
            headline += f" Within target at N = {_listed(met, 3)}."
    cpu_missed = synth_compare.over_target(cpu_ratios, target)
    cpu = (
        f"over the target at N = {', '.join(str(count) for count in cpu_missed)}."
        if cpu_missed
        else "all within the target."
    )
    return (
        f"**{headline}** By CPU time (Python + Node), which other load on the machine disturbs less, the "
        f"same processes give {_listed(cpu_ratios, 3)}: {cpu} "
        f"In one warm process, start-up excluded, the ratios are {_listed(ratios)}: that "
        "is the constructs' own work (the shared runtime a stack's first job builds, then each job); "
        "`python benchmarks/profile_jobs.py` charges each jsii round trip to its call site."
    )


def process_note(processes: list[synth_compare.ProcessComparison]) -> str:
    spans = ", ".join(
        f"N = {p.count}: {p.startup_seconds[0]:.1f} s against {p.startup_seconds[1]:.1f} s" for p in processes
    )
    return (
        "Whole process: the wall time of `python benchmarks/synth_compare.py --once <variant> <N> <outdir>`, "
        "a fresh interpreter that starts the jsii kernel, imports aws-cdk-lib and the variant's constructs "
        "(the AwsCustomResource process imports BatchInferenceStorage, never BatchInferenceJob), builds the "
        "app and calls `app.synth()` (staging the handler asset included), as the app `cdk synth` runs; "
        f"the CDK CLI's own start-up, the same for both, is not included. {synth_compare.PROCESS_RUNS} "
        "rounds run every N, alternating which goes first; "
        "medians of wall time and of CPU time (user + system, the jsii Node processes included). "
        "Start-up and imports (the whole process less its construction and synth, which includes jsii "
        f"loading each aws-cdk-lib module on first use), library against AwsCustomResource: {spans}."
    )


def synth_method_note(startup_seconds: float) -> str:
    return (
        "In one warm process: app construction plus `app.synth()` into a temporary directory, in one "
        "Python process whose jsii kernel (Node.js) is already running. Starting a kernel and loading "
        f"aws-cdk-lib and BatchInferenceJob takes {startup_seconds:.1f} s (a fresh process, measured "
        f"apart): not counted here. {synth_compare.WARMUP_ROUNDS} warm-up rounds are discarded, then the "
        f"median of {synth_compare.RUNS} rounds is taken; each round synthesizes every N, the library and "
        "AwsCustomResource, alternating which goes first."
    )


def baseline_note() -> str:
    return (
        "AwsCustomResource: one `custom_resources.AwsCustomResource` per job, on_create only, calling "
        "Personalize `createBatchInferenceJob` with the same jobName, solutionVersionArn, S3 paths and KMS "
        "keys, roleArn and numResults; physical id from `batchInferenceJobArn`; policy `from_sdk_calls` on "
        "the job's ARN, plus `iam:PassRole` on the storage role; CDK defaults otherwise "
        "(`InstallLatestAwsSdk: true`). It fires once and never waits for the job or reports its failure."
    )


def fixed_cost_note(fixed_resources: tuple[float, float]) -> str:
    ours, baseline = (number(count) for count in fixed_resources)
    return (
        "Both stacks are written as a real app writes them, alike: the same account and region "
        "(`env=`), the same `BatchInferenceStorage`, the jobs' input shipped into its bucket with "
        "`storage.deploy_input` (a BucketDeployment: its function, role and custom resource, and the AWS CLI "
        "layer asset staged into cdk.out), and the repo's cdk.json feature flags; neither synthesizes with "
        "a warning (tests/test_synth_cost.py). "
        f"Resources that do not grow with N (N = {synth_compare.MARGINAL_FROM} less its jobs' share): "
        f"{ours} for the library, {baseline} for AwsCustomResource, the storage's included. Beyond the "
        "storage, the library's are the shared runtime a stack's first job creates (on-event and check "
        "functions, the Provider framework function, the monitor state machine, their roles, managed "
        "policies and log groups, a logs key), AwsCustomResource's its singleton function, role, policy "
        "and log group; a fixed cost that weighs most at N = 1. Template size: the stack's template as "
        "written to cdk.out. "
        f"Resources per added job: (resources at N = {synth_compare.MARGINAL_TO} - at N = "
        f"{synth_compare.MARGINAL_FROM}) / {synth_compare.MARGINAL_TO - synth_compare.MARGINAL_FROM}."
    )


def notes(synth: SynthFindings) -> list[str]:
    return [
        verdict(synth.process_ratios, synth.cpu_ratios, synth.ratios),
        process_note(synth.processes),
        synth_method_note(synth.jsii_startup_seconds),
        baseline_note(),
        fixed_cost_note(synth.fixed_resources),
        "Handler: the asset's files are exactly those CDK stages (same excludes). Import time: boto3 and "
        "botocore are imported before the timer; creating the clients (loading service models) happens at "
        "the first invocation and is not counted.",
        "Monitor: simulated by benchmarks/monitor_schedule.py with `schedule.next_wait_seconds` from "
        "lambda/ (next check after 10 % of the time since the first, at least 60 s and at most 120 s); "
        "the worst delay is the longest gap between two checks a job's end can fall in. The Provider "
        "framework polls isComplete every 5 s and must finish within CloudFormation's hour. "
        + monitor_schedule.prices_note(),
    ]


def results_markdown(
    started: datetime,
    seconds: float,
    machine_rows: list[tuple[str, str]],
    tables: list[Table],
    notes_: list[str],
) -> str:
    """The header (date, machine), the headline (the first note), the tables, then the other notes."""
    cpu = dict(machine_rows).get("CPU", "unknown CPU")
    lines = [
        "# Benchmark results",
        "",
        f"Latest `make bench` (benchmarks/run_all.py): {started:%Y-%m-%d %H:%M} UTC on {cpu}, "
        f"{seconds:.0f} s in all.",
        "",
        "## Machine",
        "",
        *(f"- {name}: {value}" for name, value in machine_rows),
        "",
        "## Headline",
        "",
        notes_[0],
        "",
        "## Figures",
        "",
    ]
    for table in tables:
        lines += [table.markdown(), ""]
    lines += ["## Notes", "", *(f"- {note}" for note in notes_[1:]), ""]
    return "\n".join(lines)


def main() -> None:
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    load_at_start = load_average()
    synth = synth_findings()
    tables = [
        *synth.tables,
        handler_cost.asset_table(handler_cost.asset_size()),
        handler_cost.import_table(),
        monitor_table(),
    ]
    for table in tables:
        print(table.text(), end="\n\n")
    elapsed = time.perf_counter() - started
    notes_ = notes(synth)
    machine_rows = [
        *machine(),
        ("load average", f"{load_at_start} at the start, {load_average()} at the end"),
    ]
    RESULTS.write_text(results_markdown(started_at, elapsed, machine_rows, tables, notes_))
    print(notes_[0].replace("**", ""))
    print(f"\nDone in {elapsed:.0f} s; wrote {RESULTS.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
