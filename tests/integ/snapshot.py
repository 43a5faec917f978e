"""Write ``integ_batch_inference.py.snapshot/`` offline, the way integ-runner writes it.

    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python tests/integ/snapshot.py

integ-runner cannot do this here: its newest release (@aws-cdk/integ-runner 2.197.10) reads cloud
assemblies up to schema 53, and aws-cdk-lib 2.275 writes schema 55 ("AssemblyVersionMismatch ... You
need at least CLI version 2.1148.0"), for ``--dry-run`` as for a real run. So this script does what
that release does to create a snapshot (runner-base.js ``createSnapshot`` and ``cleanupSnapshot``):

- synthesize the app with integ-runner's context: the aws-cdk-lib feature flags it recommends
  (``integ-runner-recommended-flags.json``, copied from its ``lib/recommended-feature-flags.json``)
  without ``@aws-cdk/core:target-partitions`` (it sets that key to undefined), version reporting
  disabled, no path or asset metadata, bundling for all stacks;
- delete the asset directories of the test stacks whose test case has ``stackUpdateWorkflow: false``
  (here both: the snapshot keeps the templates and manifests, and the assertion stack's handler);
- drop the asset cache.

It synthesizes in-process rather than through ``python integ_batch_inference.py``: the app reads
nothing from its working directory or the CDK_INTEG_* variables integ-runner sets. Once an integ-runner
release reads schema 55, ``npx integ-runner --directory tests/integ --language python --update-on-failed
--dry-run`` writes the same snapshot (after refreshing the flags file from that release).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

HERE = Path(__file__).resolve().parent
if str(HERE.parent.parent) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(HERE.parent.parent))

from tests.integ import integ_batch_inference  # noqa: E402

INTEG_RUNNER_VERSION = "2.197.10"
FLAGS_FILE = HERE / "integ-runner-recommended-flags.json"
SNAPSHOT_DIR = HERE / "integ_batch_inference.py.snapshot"
UPDATE_COMMAND = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python tests/integ/snapshot.py"


def synth_context() -> dict[str, Any]:
    """The context integ-runner synthesizes a test with (runner-base.js ``getContext`` plus the
    toolkit's settings for ``versionReporting``, ``pathMetadata`` and ``assetMetadata`` off)."""
    context: dict[str, Any] = json.loads(FLAGS_FILE.read_text())
    context.pop("@aws-cdk/core:target-partitions", None)
    context["aws:cdk:disable-version-reporting"] = True
    context["aws:cdk:bundling-stacks"] = ["**"]
    return context


def synthesize(outdir: Path) -> cdk.cx_api.CloudAssembly:
    app = cdk.App(context=synth_context(), outdir=str(outdir))
    integ_batch_inference.build(app)
    return app.synth()


def asset_paths_without_update_workflow(assembly_dir: Path) -> list[str]:
    """The asset directories and files integ-runner leaves out of the snapshot: those of the test
    stacks whose test case does not run the update workflow."""
    integ = json.loads((assembly_dir / "integ.json").read_text())
    stacks = [
        stack
        for case in integ["testCases"].values()
        if not case.get("stackUpdateWorkflow", True)
        for stack in case["stacks"]
    ]
    paths: list[str] = []
    for stack in stacks:
        manifest = assembly_dir / f"{stack}.assets.json"
        if not manifest.is_file():
            continue
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            path = asset["source"].get("path", "")
            if path.startswith("asset.") and path not in paths:
                paths.append(path)
        for image in json.loads(manifest.read_text()).get("dockerImages", {}).values():
            directory = image["source"].get("directory", "")
            if directory.startswith("asset.") and directory not in paths:
                paths.append(directory)
    return paths


def write(snapshot_dir: Path = SNAPSHOT_DIR) -> Path:
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    synthesize(snapshot_dir)
    for relative in asset_paths_without_update_workflow(snapshot_dir):
        target = snapshot_dir / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    shutil.rmtree(snapshot_dir / ".cache", ignore_errors=True)
    return snapshot_dir


if __name__ == "__main__":
    print(f"wrote {write()}")
