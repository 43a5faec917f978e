"""Synth time and template size: BatchInferenceJob against the same jobs as AwsCustomResource.

For 1, 10 and 50 jobs in one stack, next to one shared BatchInferenceStorage:
- ours (the library): ``BatchInferenceJob(wait=True)``;
- baseline: ``custom_resources.AwsCustomResource`` calling Personalize ``createBatchInferenceJob`` with
  the same parameters, policy ``from_sdk_calls`` on the job's ARN plus ``iam:PassRole`` on the role.

Two timings:
- whole process, the headline (target: ours at most ``TARGET_RATIO`` times the baseline): a fresh
  ``python`` process per synth that starts jsii, imports, builds the app and calls ``app.synth()``, as
  ``cdk synth`` runs an app; median of a few processes, alternating which of the two goes first;
- in process: app construction + ``app.synth()`` into a temporary directory, in this one (already warm)
  jsii process, alternating which of the two goes first; median of several runs after a discarded
  warm-up. What the constructs cost, without the start-up both pay.

    python benchmarks/synth_compare.py
"""

from __future__ import annotations

import atexit
import functools
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import _jsii_env  # noqa: F401  (before aws_cdk: silences the jsii Node banner)
import aws_cdk as cdk
from _table import Table, kilobytes, number, seconds
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import custom_resources as cr

# The storage only: the baseline's processes never import BatchInferenceJob (see batch_inference_job).
from constructs_lib import BatchInferenceStorage

if TYPE_CHECKING:
    from constructs_lib import BatchInferenceJob

REPO = Path(__file__).resolve().parent.parent
# The feature flags of the repo's cdk.json, for both apps alike.
CDK_CONTEXT = {
    key: value
    for key, value in json.loads((REPO / "cdk.json").read_text())["context"].items()
    if key.startswith("@aws-cdk/")
}
STACK_ID = "Jobs"
# Both stacks are deployed to one account and region, as real apps name them.
ENV = cdk.Environment(account="123456789012", region="us-east-1")
SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/bench/1a2b3c4d"
NUM_RESULTS = 25
JOB_COUNTS = (1, 10, 50)
# The target for a whole synth process: ours may take up to 15 % longer than the baseline.
TARGET_RATIO = 1.15
RUNS = 7
# The first synths of a process load modules and warm V8 up; these rounds are not counted.
WARMUP_ROUNDS = 2
# Marginal costs are taken between these two job counts.
MARGINAL_FROM, MARGINAL_TO = 1, 10

AddJob = Callable[[cdk.Stack, BatchInferenceStorage, int], None]


# ---------------------------------------------------------------- the two ways to write a job


def batch_inference_job() -> type[BatchInferenceJob]:
    """The construct, imported on first use: a baseline process imports the storage alone, as an app
    without this library's jobs would, so the import of the jobs' modules is charged to ours only."""
    from constructs_lib import BatchInferenceJob

    return BatchInferenceJob


def add_ours(stack: cdk.Stack, storage: BatchInferenceStorage, index: int, *, wait: bool = True) -> None:
    batch_inference_job()(
        stack,
        f"Job{index}",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path=f"users/job-{index}/",
        storage=storage,
        num_results=NUM_RESULTS,
        wait=wait,
    )


def add_baseline(stack: cdk.Stack, storage: BatchInferenceStorage, index: int) -> None:
    """What teams write instead: fire CreateBatchInferenceJob once, never wait."""
    job_name = f"{STACK_ID}-Job{index}"
    assert storage.input_key is not None and storage.output_key is not None
    call = cr.AwsSdkCall(
        service="Personalize",
        action="createBatchInferenceJob",
        parameters={
            "jobName": job_name,
            "solutionVersionArn": SOLUTION_VERSION_ARN,
            "jobInput": {
                "s3DataSource": {
                    "path": f"s3://{storage.input_bucket.bucket_name}/users/job-{index}/",
                    "kmsKeyArn": storage.input_key.key_arn,
                }
            },
            "jobOutput": {
                "s3DataDestination": {
                    # The prefix BatchInferenceJob writes under by default.
                    "path": f"s3://{storage.output_bucket.bucket_name}/batch-inference/{STACK_ID}/Job{index}/",
                    "kmsKeyArn": storage.output_key.key_arn,
                }
            },
            "roleArn": storage.role.role_arn,
            "numResults": NUM_RESULTS,
        },
        physical_resource_id=cr.PhysicalResourceId.from_response("batchInferenceJobArn"),
    )
    job_arn = stack.format_arn(service="personalize", resource="batch-inference-job", resource_name=job_name)
    resource = cr.AwsCustomResource(
        stack,
        f"Job{index}",
        on_create=call,
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[job_arn]),
    )
    resource.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["iam:PassRole"], resources=[storage.role.role_arn])
    )


def add_ours_not_waited(stack: cdk.Stack, storage: BatchInferenceStorage, index: int) -> None:
    add_ours(stack, storage, index, wait=False)


# ---------------------------------------------------------------- one synthesis


@dataclass(frozen=True)
class Synthesis:
    seconds: float
    template_bytes: int
    resources: int


@functools.cache
def input_directory(count: int) -> Path:
    """The jobs' input, as an app ships it: ``users/job-<index>/users.json`` for each of ``count`` jobs."""
    directory = Path(tempfile.mkdtemp(prefix="bench-input-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    for index in range(count):
        (directory / "users" / f"job-{index}").mkdir(parents=True)
        (directory / "users" / f"job-{index}" / "users.json").write_text(f'{{"userId": "user-{index}"}}\n')
    return directory


def build_app(outdir: str, add_job: AddJob, count: int) -> tuple[cdk.App, cdk.Stack, BatchInferenceStorage]:
    """One stack, written as a real app writes it (both variants alike): an account and a region, the
    shared storage, the jobs' input shipped into its bucket with ``storage.deploy_input`` (a
    BucketDeployment), and ``count`` jobs. Neither app synthesizes with a warning."""
    app = cdk.App(outdir=outdir, context=CDK_CONTEXT)
    stack = cdk.Stack(app, STACK_ID, env=ENV)
    storage = BatchInferenceStorage(stack, "Storage")
    storage.deploy_input("Input", sources=[s3deploy.Source.asset(str(input_directory(count)))])
    for index in range(count):
        add_job(stack, storage, index)
    return app, stack, storage


def synthesize(add_job: AddJob, count: int) -> Synthesis:
    """Construction and synth timed; the template measured as written to the cloud assembly."""
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as outdir:
        started = time.perf_counter()
        app, _, _ = build_app(outdir, add_job, count)
        assembly = app.synth()
        elapsed = time.perf_counter() - started
        template = Path(outdir) / assembly.get_stack_by_name(STACK_ID).template_file
        return Synthesis(
            seconds=elapsed,
            template_bytes=template.stat().st_size,
            resources=len(json.loads(template.read_text())["Resources"]),
        )


# ---------------------------------------------------------------- ours against the baseline


@dataclass
class Comparison:
    count: int
    ours: list[Synthesis] = field(default_factory=list)
    baseline: list[Synthesis] = field(default_factory=list)

    @property
    def ours_median(self) -> float:
        return statistics.median(s.seconds for s in self.ours)

    @property
    def baseline_median(self) -> float:
        return statistics.median(s.seconds for s in self.baseline)

    @property
    def ratio(self) -> float:
        return self.ours_median / self.baseline_median


def compare_all(counts: tuple[int, ...] = JOB_COUNTS, runs: int = RUNS) -> list[Comparison]:
    """``WARMUP_ROUNDS`` discarded rounds, then ``runs`` rounds; each round synthesizes every job count,
    ours and the baseline, with the one that goes first alternating from round to round."""
    results = {count: Comparison(count) for count in counts}
    for round_ in range(WARMUP_ROUNDS + runs):
        for count in counts:
            pair = [(add_ours, results[count].ours), (add_baseline, results[count].baseline)]
            for add_job, into in pair if round_ % 2 == 0 else reversed(pair):
                synthesis = synthesize(add_job, count)
                if round_ >= WARMUP_ROUNDS:
                    into.append(synthesis)
    return list(results.values())


def synth_table(results: list[Comparison]) -> Table:
    header = (
        "N",
        "library median s",
        "AwsCustomResource median s",
        "ratio",
        "library template KB",
        "AwsCustomResource KB",
        "library resources",
        "AwsCustomResource resources",
    )
    rows = [
        (
            str(r.count),
            seconds(r.ours_median),
            seconds(r.baseline_median),
            f"{r.ratio:.2f}x",
            kilobytes(r.ours[0].template_bytes),
            kilobytes(r.baseline[0].template_bytes),
            str(r.ours[0].resources),
            str(r.baseline[0].resources),
        )
        for r in results
    ]
    title = "In one warm process: construction + app.synth(), start-up excluded; template size"
    return Table.of(title, header, rows)


# ---------------------------------------------------------------- per added job


def _at(results: list[Comparison], count: int) -> Comparison:
    return next(r for r in results if r.count == count)


def per_added_job(low: Synthesis, high: Synthesis) -> tuple[float, float]:
    """(resources, template bytes) per job, between the syntheses at MARGINAL_FROM and MARGINAL_TO jobs."""
    jobs = MARGINAL_TO - MARGINAL_FROM
    return (high.resources - low.resources) / jobs, (high.template_bytes - low.template_bytes) / jobs


def fixed_resources(results: list[Comparison]) -> tuple[float, float]:
    """(ours, baseline) resources of a stack without jobs, extrapolated from the marginal cost."""
    low, high = _at(results, MARGINAL_FROM), _at(results, MARGINAL_TO)

    def without_jobs(at_low: Synthesis, at_high: Synthesis) -> float:
        return at_low.resources - MARGINAL_FROM * per_added_job(at_low, at_high)[0]

    return without_jobs(low.ours[0], high.ours[0]), without_jobs(low.baseline[0], high.baseline[0])


def per_job_table(results: list[Comparison]) -> Table:
    """Marginal resources and template bytes per job, from the templates at N=1 and N=10."""
    low, high = _at(results, MARGINAL_FROM), _at(results, MARGINAL_TO)
    variants = {
        "library, wait=True": (low.ours[0], high.ours[0]),
        "library, wait=False": (
            synthesize(add_ours_not_waited, MARGINAL_FROM),
            synthesize(add_ours_not_waited, MARGINAL_TO),
        ),
        "AwsCustomResource": (low.baseline[0], high.baseline[0]),
    }
    rows = []
    for label, (at_low, at_high) in variants.items():
        resources, size = per_added_job(at_low, at_high)
        rows.append((label, number(resources), f"{size:,.0f}"))
    title = f"Template resources per added job (N={MARGINAL_FROM} -> {MARGINAL_TO})"
    return Table.of(title, ("variant", "resources per job", "template bytes per job"), rows)


# ---------------------------------------------------------------- jsii round trips per added job


@dataclass
class RoundTrips:
    calls: int = 0
    seconds: float = 0.0


OnRequest = Callable[[Any, float, FrameType | None], None]


@contextmanager
def jsii_requests(on_request: OnRequest) -> Iterator[bool]:
    """Calls ``on_request(request, seconds waiting for the answer, the sender's frame)`` for every
    request sent to the jsii kernel (Node), answer time including the JavaScript work it does.

    Hooks a private jsii class; yields False, and calls nothing, when it is not there (another jsii).
    """
    try:
        from jsii._kernel.providers.process import _NodeProcess
    except ImportError:
        yield False
        return
    original = _NodeProcess.send

    def send(self: Any, request: Any, response_type: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, request, response_type)
        finally:
            on_request(request, time.perf_counter() - started, sys._getframe(1))

    _NodeProcess.send = send  # type: ignore[method-assign]
    try:
        yield True
    finally:
        _NodeProcess.send = original  # type: ignore[method-assign]


@contextmanager
def jsii_round_trips() -> Iterator[RoundTrips | None]:
    """Counts the requests sent to the jsii kernel and the time spent waiting for their answers."""
    counted = RoundTrips()

    def count(request: Any, seconds: float, frame: FrameType | None) -> None:
        counted.calls += 1
        counted.seconds += seconds

    with jsii_requests(count) as hooked:
        yield counted if hooked else None


@dataclass(frozen=True)
class JobCost:
    calls: float | None
    construct_ms: float
    jsii_ms: float | None


def job_cost(add_job: AddJob, extra_jobs: int = 10, repeats: int = 3) -> JobCost:
    """Construction cost of one more job in a stack that already holds one (median of ``repeats``)."""
    samples: list[tuple[float, RoundTrips | None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as outdir:
        for _ in range(repeats):
            _, stack, storage = build_app(outdir, add_job, 1)
            with jsii_round_trips() as trips:
                started = time.perf_counter()
                for index in range(1, 1 + extra_jobs):
                    add_job(stack, storage, index)
                samples.append((time.perf_counter() - started, trips))
    elapsed, trips = sorted(samples, key=lambda sample: sample[0])[len(samples) // 2]
    return JobCost(
        calls=trips.calls / extra_jobs if trips else None,
        construct_ms=elapsed / extra_jobs * 1000,
        jsii_ms=trips.seconds / extra_jobs * 1000 if trips else None,
    )


def job_cost_table() -> Table:
    variants: dict[str, AddJob] = {
        "library, wait=True": add_ours,
        "library, wait=False": add_ours_not_waited,
        "AwsCustomResource": add_baseline,
    }
    rows = []
    for label, add_job in variants.items():
        cost = job_cost(add_job)
        rows.append(
            (
                label,
                number(cost.calls) if cost.calls is not None else "n/a",
                f"{cost.construct_ms:.1f}",
                f"{cost.jsii_ms:.1f}" if cost.jsii_ms is not None else "n/a",
            )
        )
    header = ("variant", "jsii round trips per job", "construction ms per job", "of which waiting on jsii ms")
    return Table.of("Construction cost per added job (Python -> jsii kernel)", header, rows)


def jsii_startup_seconds() -> float:
    """Starting a jsii kernel and loading aws-cdk-lib and BatchInferenceJob, in a fresh process."""
    script = (
        "import time; started = time.perf_counter(); "
        "import aws_cdk; from constructs_lib import BatchInferenceJob; print(time.perf_counter() - started)"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(completed.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- whole process, as `cdk synth` runs it

PROCESS_RUNS = 7
VARIANTS: dict[str, AddJob] = {"ours": add_ours, "baseline": add_baseline}


def synthesize_once(variant: str, count: int, outdir: str) -> float:
    """What one `cdk synth` of such an app does once Python and jsii have started: import, construct,
    synth. Returns the seconds of construction and synth (the imports are start-up)."""
    if variant == "ours":
        batch_inference_job()
    started = time.perf_counter()
    app, _, _ = build_app(outdir, VARIANTS[variant], count)
    app.synth()
    return time.perf_counter() - started


@dataclass(frozen=True)
class ProcessRun:
    seconds: float  # wall time of the whole process, from its start to its exit
    cpu_seconds: float  # user + system CPU time of the process and its jsii Node processes
    synth_seconds: float  # of the wall time, construction and app.synth(), as the process timed them


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_run(variant: str, count: int) -> ProcessRun:
    """One fresh process: ``python synth_compare.py --once <variant> <count> <outdir>``. Its CPU time
    includes the Node processes of its jsii kernel: jsii waits for them at exit."""
    with tempfile.TemporaryDirectory(prefix="bench-process-") as outdir:
        cpu_before = _children_cpu_seconds()
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, __file__, "--once", variant, str(count), outdir], capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        cpu = _children_cpu_seconds() - cpu_before
    if completed.returncode != 0:
        raise RuntimeError(f"synth of {count} {variant} job(s) failed:\n{completed.stderr}")
    return ProcessRun(seconds=elapsed, cpu_seconds=cpu, synth_seconds=float(completed.stdout.split()[-1]))


def median_of(runs: list[ProcessRun], measure: str) -> float:
    """The median of one ``ProcessRun`` field (``seconds``, ``cpu_seconds`` or ``synth_seconds``)."""
    return statistics.median(getattr(run, measure) for run in runs)


@dataclass
class ProcessComparison:
    count: int
    ours: list[ProcessRun] = field(default_factory=list)
    baseline: list[ProcessRun] = field(default_factory=list)

    @property
    def ours_median(self) -> float:
        return median_of(self.ours, "seconds")

    @property
    def baseline_median(self) -> float:
        return median_of(self.baseline, "seconds")

    @property
    def ratio(self) -> float:
        """Wall time, library / AwsCustomResource: the figure the target is about."""
        return self.ours_median / self.baseline_median

    @property
    def cpu_ratio(self) -> float:
        """CPU time, library / AwsCustomResource: less disturbed by other load on the machine."""
        return median_of(self.ours, "cpu_seconds") / median_of(self.baseline, "cpu_seconds")

    @property
    def startup_seconds(self) -> tuple[float, float]:
        """(library, AwsCustomResource) median wall time before construction: Python, jsii, imports."""
        return (
            self.ours_median - median_of(self.ours, "synth_seconds"),
            self.baseline_median - median_of(self.baseline, "synth_seconds"),
        )


def compare_processes(
    counts: tuple[int, ...] = JOB_COUNTS, runs: int = PROCESS_RUNS
) -> list[ProcessComparison]:
    """``runs`` rounds; each round runs every job count, ours and the baseline, the one going first
    alternating. No warm-up process: jsii keeps aws-cdk-lib unpacked in its package cache."""
    results = {count: ProcessComparison(count) for count in counts}
    for round_ in range(runs):
        for count in counts:
            pair = [("ours", results[count].ours), ("baseline", results[count].baseline)]
            for variant, into in pair if round_ % 2 == 0 else reversed(pair):
                into.append(process_run(variant, count))
    return list(results.values())


def over_target(ratios: dict[int, float], target: float = TARGET_RATIO) -> dict[int, float]:
    """The job counts whose whole-process ratio exceeds the target."""
    return {count: ratio for count, ratio in ratios.items() if ratio > target}


def process_table(results: list[ProcessComparison]) -> Table:
    header = (
        "N",
        "library median s",
        "AwsCustomResource median s",
        "ratio",
        "within target",
        "library CPU s",
        "AwsCustomResource CPU s",
        "CPU ratio",
    )
    rows = [
        (
            str(r.count),
            seconds(r.ours_median),
            seconds(r.baseline_median),
            f"{r.ratio:.3f}x",
            "no" if over_target({r.count: r.ratio}) else "yes",
            seconds(median_of(r.ours, "cpu_seconds")),
            seconds(median_of(r.baseline, "cpu_seconds")),
            f"{r.cpu_ratio:.3f}x",
        )
        for r in results
    ]
    runs = min(len(r.ours) for r in results) if results else 0
    title = (
        f"Whole synth process, as `cdk synth` runs the app: fresh Python + jsii, median of {runs} "
        f"(target: ratio <= {TARGET_RATIO:.2f}x)"
    )
    return Table.of(title, header, rows)


def main() -> None:
    if sys.argv[1:2] == ["--once"]:
        print(synthesize_once(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
        return
    results = compare_all()
    tables = (
        process_table(compare_processes()),
        synth_table(results),
        per_job_table(results),
        job_cost_table(),
    )
    for table in tables:
        print(table.text(), end="\n\n")


if __name__ == "__main__":
    main()
