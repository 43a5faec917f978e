"""Composition across stacks, rehearsed: a consumer stack imports a job's stable attributes and survives
the producer's next run; a consumer importing a run's own URI is flagged before any deploy would fail;
a stack without jobs rehearses as such."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from constructs_lib.rehearsal import Result, rehearse
from constructs_lib.rehearsal.result import EXIT_OK

pytestmark = pytest.mark.slow

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _synthesize(directory: Path) -> dict[str, Path]:
    """The two-stack example as it is and with a new num_results; a wrong consumer, before and after."""
    import aws_cdk as cdk
    from aws_cdk import aws_ssm as ssm

    from constructs_lib import BatchInferenceJob
    from examples import two_stacks

    def wrong(app: cdk.App, num_results: int) -> None:
        producer = two_stacks.ProducerStack(app, "Producer", num_results=num_results)
        consumer = cdk.Stack(app, "Consumer")
        job: BatchInferenceJob = producer.job
        # One run's own URI: its export changes with every run.
        ssm.StringParameter(consumer, "LatestResults", string_value=job.output_s3_uri)

    builds = {
        "v1": lambda app: two_stacks.build(app),
        "v2": lambda app: two_stacks.build(app, num_results=30),
        "wrong-v1": lambda app: wrong(app, 20),
        "wrong-v2": lambda app: wrong(app, 30),
    }
    found = {}
    weak = {"@aws-cdk/core:defaultCrossStackReferences": "weak"}  # what `cdk init` gives new apps
    builds["weak-v1"], builds["weak-v2"] = builds["v1"], builds["v2"]
    for name, build in builds.items():
        app = cdk.App(outdir=str(directory / name), context=weak if name.startswith("weak") else None)
        build(app)
        app.synth()
        found[name] = directory / name
    return found


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _synthesize(tmp_path_factory.mktemp("stacks"))


def _outputs(result: Result, stack: str, phase: str) -> list[str]:
    """The report's lines under "Outputs of <stack> after the <phase>"."""
    lines = result.report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"Outputs of {stack} after the {phase}")
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def test_a_new_run_of_the_producer_leaves_the_consumers_imports_as_they_are(out: dict[str, Path]) -> None:
    result = rehearse(out["v1"], update_to=out["v2"])
    assert result.exit_code == EXIT_OK, result.report
    assert "Producer/DailyRecommendations" in " ".join(result.changes)
    assert any("replaced: a new job (NumResults changed)" in change for change in result.changes)
    created, updated = result.job("DailyRecommendations"), result.job("DailyRecommendations", "update")
    assert created.job_name != updated.job_name and updated.status == "ACTIVE"
    # Every export the consumer imports has the same value after the new run: CloudFormation lets it be.
    exports = _outputs(result, "Producer", "create")
    assert any("ResultsPrefixUri" in line for line in exports) and any(
        "ManifestUri" in line for line in exports
    )
    assert _outputs(result, "Producer", "update") == exports


def test_weak_references_are_read_from_the_producers_outputs(out: dict[str, Path]) -> None:
    # Fn::GetStackOutput instead of exports: no export to lock, and the stable attributes still hold.
    template = (out["weak-v1"] / "Consumer.template.json").read_text()
    assert "Fn::GetStackOutput" in template and "Fn::ImportValue" not in template
    result = rehearse(out["weak-v1"], update_to=out["weak-v2"])
    assert result.exit_code == EXIT_OK, result.report
    assert _outputs(result, "Producer", "update") == _outputs(result, "Producer", "create")


def test_a_consumer_importing_one_runs_uri_is_flagged_before_a_deploy_fails(out: dict[str, Path]) -> None:
    result = rehearse(out["wrong-v1"], update_to=out["wrong-v2"])
    assert result.exit_code != EXIT_OK
    (failure,) = [f for f in result.failures if "cannot be updated as it is in use by Consumer" in f]
    assert failure.startswith("Producer: update failed (UPDATE_ROLLBACK_COMPLETE)")


def test_a_stack_without_jobs_rehearses_as_such(out: dict[str, Path]) -> None:
    result = rehearse(out["v1"], stack="Consumer")
    assert result.exit_code == EXIT_OK, result.report
    # The consumer depends on the producer: both are deployed, the producer's job included.
    assert [job.stack for job in result.jobs] == ["Producer", "Producer"]
