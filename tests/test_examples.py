"""Every example app synthesizes under five cdk-nag packs, passes cfn-lint, and synthesizes the same twice."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.apps import EXAMPLES, REPO, SynthesizedApp, synthesize


@pytest.fixture(params=sorted(EXAMPLES))
def synthesized(request: pytest.FixtureRequest, example_apps: Mapping[str, SynthesizedApp]) -> SynthesizedApp:
    return example_apps[request.param]


def test_example_passes_the_five_cdk_nag_packs(synthesized: SynthesizedApp) -> None:
    # Validation plugins make app.synth() raise on any unacknowledged finding; reaching here means none.
    templates = synthesized.templates
    assert templates
    assert all(template["Resources"] for template in templates.values())
    assert any(
        r["Type"].startswith("Custom::Personalize")
        for template in templates.values()
        for r in template["Resources"].values()
    )


def test_example_carries_the_handler_code_as_an_asset(synthesized: SynthesizedApp) -> None:
    handlers = list(Path(synthesized.outdir).glob("asset.*/handler.py"))
    assert len(handlers) == 1
    assert (handlers[0].parent / "monitor.py").is_file()
    assert not list(handlers[0].parent.rglob("__pycache__"))


def test_example_templates_pass_cfn_lint(synthesized: SynthesizedApp) -> None:
    templates = sorted(str(p) for p in Path(synthesized.outdir).glob("*.template.json"))
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--config-file",
            str(REPO / ".cfnlintrc.yaml"),
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_synth_is_deterministic(example_apps: Mapping[str, SynthesizedApp], tmp_path: Path) -> None:
    first = example_apps["demo"].outdir
    second = synthesize("demo", tmp_path, nag=False).outdir
    templates = sorted(p.name for p in first.glob("*.template.json"))
    assert templates == sorted(p.name for p in second.glob("*.template.json"))
    for name in templates:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assets = sorted(p.name for p in first.glob("asset.*"))
    assert assets and assets == sorted(p.name for p in second.glob("asset.*"))


def _imports(node: Any) -> list[str]:
    """Every export name a template imports (Fn::ImportValue of a literal name)."""
    if isinstance(node, dict):
        if set(node) == {"Fn::ImportValue"} and isinstance(node["Fn::ImportValue"], str):
            return [node["Fn::ImportValue"]]
        return [name for value in node.values() for name in _imports(value)]
    if isinstance(node, list):
        return [name for value in node for name in _imports(value)]
    return []


def test_two_stack_consumer_imports_only_the_stable_attributes_of_the_job(
    example_apps: Mapping[str, SynthesizedApp],
) -> None:
    templates = example_apps["two_stacks"].templates
    producer, consumer = templates["Producer"], templates["Consumer"]
    (job_id,) = [
        logical_id
        for logical_id, r in producer["Resources"].items()
        if r["Type"] == "Custom::PersonalizeBatchInferenceJob"
    ]
    exports = {o["Export"]["Name"]: o["Value"] for o in producer["Outputs"].values() if "Export" in o}
    imported = _imports(consumer)
    assert imported and set(imported) <= set(exports)
    job_attributes = {
        exports[name]["Fn::GetAtt"][1]
        for name in imported
        if exports[name].get("Fn::GetAtt", [None])[0] == job_id
    }
    # A run changes OutputS3Uri; CloudFormation refuses to change an export that another stack imports.
    assert job_attributes == {"ResultsPrefixUri", "ManifestUri"}
    assert not [name for name in imported if "OutputS3Uri" in name]
    (reader,) = [r for r in consumer["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    variables = reader["Properties"]["Environment"]["Variables"]
    assert {exports[_imports(value)[0]]["Fn::GetAtt"][1] for value in variables.values()} == job_attributes
