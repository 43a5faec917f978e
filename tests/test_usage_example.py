"""examples/usage.py, the README's Usage snippet: the library adds no compliance finding to a user's app.

The snippet stays short, so its own consumer function is not hardened (no VPC, DLQ, reserved concurrency,
encrypted log group): under the five cdk-nag packs that function, and only it, has findings. The
snippet is therefore not among the examples of tests/apps.py, which must pass the packs outright;
tests/test_wheel.py runs it in a fresh `cdk init` project, tests/test_readme.py from the README.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from tests.apps import CDK_CONTEXT, REPO, nag_packs

pytestmark = pytest.mark.slow

USAGE = REPO / "examples" / "usage.py"
CONSUMER = "Recommendations/Consumer/"


@pytest.fixture(scope="module")
def usage_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snippet run unchanged, its ``cdk.App()`` given the repo's context and the five packs."""
    outdir = tmp_path_factory.mktemp("usage")
    real_app = cdk.App

    def app_with_packs(*args: Any, **kwargs: Any) -> cdk.App:
        app = real_app(context=CDK_CONTEXT, outdir=str(outdir))
        cdk.Validations.of(app).add_plugins(*nag_packs(app))
        return app

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cdk, "App", app_with_packs)
        try:
            runpy.run_path(str(USAGE), run_name="__main__")
        except Exception as error:  # the consumer's findings fail validation; the report says which
            assert "ValidationFailed" in str(error), error
    return outdir


def _violations(outdir: Path) -> list[tuple[str, str]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


def test_usage_findings_are_only_on_the_users_own_function(usage_out: Path) -> None:
    violations = _violations(usage_out)
    assert violations, "the consumer function is expected to have findings; did the packs run?"
    # The snippet's job reads the input bucket the snippet creates: its first deploy would start the job
    # on an empty bucket, which the library says (upload in between, as the README's demo does).
    # Its stack has no env and its solution version ARN names us-east-1: the job works only there, which
    # the library says too (constructs-lib:arnRegion).
    expected = {
        ("Annotation::constructs-lib:inputBucketEmptyOnFirstDeploy", "Recommendations/Weekly"),
        ("Annotation::constructs-lib:arnRegion", "Recommendations/Weekly"),
    }
    assert expected <= set(violations)
    assert [v for v in violations if not v[1].startswith(CONSUMER) and v not in expected] == []


def test_usage_template_passes_cfn_lint(usage_out: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--config-file",
            str(REPO / ".cfnlintrc.yaml"),
            str(usage_out / "Recommendations.template.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_usage_outputs_the_run_and_the_manifest(usage_out: Path) -> None:
    template = json.loads((usage_out / "Recommendations.template.json").read_text())
    (job_id,) = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "Custom::PersonalizeBatchInferenceJob"
    ]
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert outputs["Results"] == {"Fn::GetAtt": [job_id, "OutputS3Uri"]}
    assert outputs["Manifest"] == {"Fn::GetAtt": [job_id, "ManifestUri"]}
    (consumer,) = [
        r
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and logical_id.startswith("Consumer")
    ]
    # On the job and on its WaitCondition: the consumer is deployed only once the job has ended ACTIVE.
    (wait_condition,) = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::CloudFormation::WaitCondition"
    ]
    assert {job_id, wait_condition} <= set(consumer["DependsOn"])
