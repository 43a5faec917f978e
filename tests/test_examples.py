"""Every example app synthesizes under five cdk-nag packs, passes cfn-lint, and synthesizes the same twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.apps import EXAMPLES, REPO, SynthesizedApp, synthesize


@pytest.fixture(params=sorted(EXAMPLES))
def synthesized(request: pytest.FixtureRequest, example_apps: dict[str, SynthesizedApp]) -> SynthesizedApp:
    return example_apps[request.param]


def test_example_passes_the_five_cdk_nag_packs(synthesized: SynthesizedApp) -> None:
    # Validation plugins make app.synth() raise on any unacknowledged finding; reaching here means none.
    assert synthesized.templates
    for template in synthesized.templates.values():
        assert any(
            r["Type"] == "Custom::PersonalizeBatchInferenceJob" for r in template["Resources"].values()
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


def test_synth_is_deterministic(example_apps: dict[str, SynthesizedApp], tmp_path: Path) -> None:
    first = example_apps["demo"].outdir
    second = synthesize("demo", tmp_path, nag=False).outdir
    templates = sorted(p.name for p in first.glob("*.template.json"))
    assert templates == sorted(p.name for p in second.glob("*.template.json"))
    for name in templates:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assets = sorted(p.name for p in first.glob("asset.*"))
    assert assets and assets == sorted(p.name for p in second.glob("asset.*"))
