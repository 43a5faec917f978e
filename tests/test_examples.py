"""Every example app synthesizes with the compliance packs attached and passes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apps import EXAMPLES, SynthesizedApp, synthesize


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def synthesized(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesize(request.param, tmp_path_factory.mktemp(request.param))


def test_example_passes_cdk_nag_and_writes_its_templates(synthesized: SynthesizedApp) -> None:
    # Validation plugins raise from app.synth() on any unacknowledged error; reaching here means none.
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
