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
    ]


# ---------------------------------------------------------------- the monitor schedule


def monitor_table() -> Table:
    header = ("job length", "monitor checks", "monitor worst delay", "5 s checks", "5 s worst delay")
    rows = []
    for label, job_seconds in monitor_schedule.JOB_LENGTHS.items():
        ours = monitor_schedule.monitor_polling(job_seconds)
        fixed = monitor_schedule.fixed_polling(job_seconds)
        rows.append(
            (
                label,
                monitor_schedule.describe_checks(ours.checks),
                monitor_schedule.describe_delay(ours.worst_delay_seconds),
                monitor_schedule.describe_checks(fixed.checks),
                monitor_schedule.describe_delay(fixed.worst_delay_seconds),
            )
        )
    return Table.of(
        "Monitor schedule against the Provider framework's isComplete polling (5 s, 1 h cap)", header, rows
    )


# ---------------------------------------------------------------- synth


@dataclass(frozen=True)
class SynthFindings:
    tables: list[Table]
    jsii_startup_seconds: float
    ratios: dict[int, float]
    process_ratios: dict[int, float]
    fixed_resources: tuple[float, float]


def synth_findings() -> SynthFindings:
    results = synth_compare.compare_all()
    process, process_ratios = synth_compare.process_table()
    return SynthFindings(
        tables=[
            synth_compare.synth_table(results),
            process,
            synth_compare.per_job_table(results),
            synth_compare.job_cost_table(),
        ],
        jsii_startup_seconds=synth_compare.jsii_startup_seconds(),
        ratios={r.count: r.ratio for r in results},
        process_ratios=process_ratios,
        fixed_resources=synth_compare.fixed_resources(results),
    )


# ---------------------------------------------------------------- RESULTS.md


def verdict(ratios: dict[int, float], process_ratios: dict[int, float]) -> str:
    def listed(pairs: list[tuple[int, float]]) -> str:
        return ", ".join(f"{n} ({ratio:.2f}x)" for n, ratio in pairs)

    met = [(n, r) for n, r in ratios.items() if r <= 1.0]
    missed = [(n, r) for n, r in ratios.items() if r > 1.0]
    if not missed:
        return "Goal met: ours synthesizes no slower than the baseline at every N."
    whole = ", ".join(f"{n}: {ratio:.2f}x" for n, ratio in process_ratios.items())
    headline = (
        f"Goal met at N = {listed(met)}; missed at N = {listed(missed)}."
        if met
        else (f"Goal missed at N = {listed(missed)}.")
    )
    return (
        f"**{headline}** The gap at small N is the fixed cost of the shared runtime that holds the "
        "deployment until the job ends and fails it with the job's reason (handler and check functions, "
        "Provider framework, monitor state machine), built by a stack's first job; the per-job tables "
        "show what each further job costs next to the baseline's. As a whole `cdk synth` process, jsii "
        f"start-up included, the ratios are {whole}. `python benchmarks/profile_jobs.py` charges each "
        "jsii round trip to its call site."
    )


def synth_method_note(startup_seconds: float) -> str:
    return (
        "Synth time is app construction plus `app.synth()` into a temporary directory, in one Python "
        "process whose jsii kernel (Node.js) is already running. Starting a kernel and loading aws-cdk-lib "
        f"and constructs_lib takes {startup_seconds:.1f} s (a fresh process, measured apart): paid once per "
        f"process, the same for both, not counted. {synth_compare.WARMUP_ROUNDS} warm-up rounds are "
        f"discarded, then the median of {synth_compare.RUNS} rounds is taken; each round synthesizes every "
        "N, ours and the baseline, alternating which goes first."
    )


def baseline_note() -> str:
    return (
        "Baseline: one `custom_resources.AwsCustomResource` per job, on_create only, calling Personalize "
        "`createBatchInferenceJob` with the same jobName, solutionVersionArn, S3 paths and KMS keys, "
        "roleArn and numResults; physical id from `batchInferenceJobArn`; policy `from_sdk_calls` on the "
        "job's ARN, plus `iam:PassRole` on the storage role; CDK defaults otherwise "
        "(`InstallLatestAwsSdk: true`). It fires once and never waits for the job or reports its failure."
    )


def fixed_cost_note(fixed_resources: tuple[float, float]) -> str:
    ours, baseline = (number(count) for count in fixed_resources)
    return (
        "Both stacks hold the same `BatchInferenceStorage` and use the repo's cdk.json feature flags. "
        f"Without jobs, ours has {ours} resources and the baseline {baseline}: ours adds the shared runtime "
        "(on-event and check functions, the Provider framework function, the monitor state machine, their "
        "roles, managed policies and log groups, a logs key), a fixed cost that weighs most at N = 1. "
        "Template size: the stack's template as written to cdk.out. Resources per added job: "
        f"(resources at N = {synth_compare.MARGINAL_TO} - at N = {synth_compare.MARGINAL_FROM}) / "
        f"{synth_compare.MARGINAL_TO - synth_compare.MARGINAL_FROM}."
    )


def notes(synth: SynthFindings) -> list[str]:
    return [
        verdict(synth.ratios, synth.process_ratios),
        synth_method_note(synth.jsii_startup_seconds),
        baseline_note(),
        fixed_cost_note(synth.fixed_resources),
        "Handler: the asset's files are exactly those CDK stages (same excludes). Import time: boto3 and "
        "botocore are imported before the timer; creating the clients (loading service models) happens at "
        "the first invocation and is not counted.",
        "Monitor schedule: simulated with `job_logic.next_wait_seconds` (next check after max(60 s, 10 % of "
        "the elapsed time)); the worst delay is the gap between the checks around the job's end. The "
        "Provider framework polls isComplete every 5 s and must finish within CloudFormation's 1 hour.",
    ]


def results_markdown(
    started: datetime,
    seconds: float,
    machine_rows: list[tuple[str, str]],
    tables: list[Table],
    notes_: list[str],
) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Latest `make bench` (benchmarks/run_all.py): {started:%Y-%m-%d %H:%M} UTC, {seconds:.0f} s in all.",
        "",
        "## Machine",
        "",
        *(f"- {name}: {value}" for name, value in machine_rows),
        "",
        "## Figures",
        "",
    ]
    for table in tables:
        lines += [table.markdown(), ""]
    lines += ["## Notes", "", *(f"- {note}" for note in notes_), ""]
    return "\n".join(lines)


def main() -> None:
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
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
    RESULTS.write_text(results_markdown(started_at, elapsed, machine(), tables, notes_))
    print(notes_[0].replace("**", ""))
    print(f"\nDone in {elapsed:.0f} s; wrote {RESULTS.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
