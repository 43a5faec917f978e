"""The example apps, synthesized once per test session with the compliance packs attached."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import cdk_nag

import app as demo_app
from examples import (
    bring_your_own,
    data_lifecycle,
    end_to_end,
    shared_storage,
    theme_generation,
    two_stacks,
    weekly,
)

REPO = Path(__file__).resolve().parent.parent
CDK_CONTEXT = json.loads((REPO / "cdk.json").read_text())["context"]

EXAMPLES: dict[str, Callable[[cdk.App], object]] = {
    "demo": demo_app.build_app,
    "shared_storage": shared_storage.build,
    "theme_generation": theme_generation.build,
    "bring_your_own": bring_your_own.build,
    "end_to_end": end_to_end.build,
    "two_stacks": two_stacks.build,
    "weekly": weekly.build,
    "data_lifecycle": data_lifecycle.build,
}


def nag_packs(app: cdk.App) -> list[cdk.IPolicyValidationPlugin]:
    """The compliance packs pipelines gate on; any unacknowledged error or warning fails synth."""
    return [
        cdk_nag.AwsSolutionsChecks(app),
        cdk_nag.HIPAASecurityChecks(app),
        cdk_nag.NIST80053R5Checks(app),
        cdk_nag.PCIDSS321Checks(app),
        cdk_nag.ServerlessChecks(app),
    ]


@dataclass
class SynthesizedApp:
    """A synthesized cloud assembly, read from its directory (any process may have written it)."""

    name: str
    outdir: Path

    @property
    def templates(self) -> dict[str, dict]:
        """Each stack's template by stack name, as the assembly's manifest lists them."""
        manifest = json.loads((self.outdir / "manifest.json").read_text())
        return {
            artifact.get("properties", {}).get("stackName", artifact_id): json.loads(
                (self.outdir / artifact["properties"]["templateFile"]).read_text()
            )
            for artifact_id, artifact in manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        }


def synthesize(name: str, outdir: Path, *, nag: bool = True) -> SynthesizedApp:
    app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
    if nag:
        cdk.Validations.of(app).add_plugins(*nag_packs(app))
    EXAMPLES[name](app)
    app.synth()
    return SynthesizedApp(name, outdir)
