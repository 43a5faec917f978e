"""Reading a cloud assembly (a `cdk synth` output directory): its stack templates and file assets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class AssemblyError(Exception):
    """The directory is not a cloud assembly, or it lacks what the rehearsal needs."""


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the assembly: its template, where it deploys, and the stacks it depends on."""

    artifact_id: str
    stack_name: str
    display_name: str
    template: dict[str, Any]
    account: str
    region: str
    directory: Path
    dependencies: tuple[str, ...]


@dataclass(frozen=True)
class Assembly:
    directory: Path
    stacks: tuple[StackArtifact, ...]
    # S3 object key of a file asset (`<hash>.zip`) -> its staged directory or file in the assembly.
    assets: dict[str, Path]

    def asset_path(self, object_key: str) -> Path | None:
        """The staged source of the asset uploaded as `object_key` (falls back on the hash in the name)."""
        if object_key in self.assets:
            return self.assets[object_key]
        stem = object_key.split("/")[-1].split(".")[0]
        return self.assets.get(stem)


def read_assembly(directory: str | Path) -> Assembly:
    """All stacks (nested assemblies included) in deployment order, and every file asset."""
    root = Path(directory)
    if not (root / "manifest.json").is_file():
        raise AssemblyError(
            f"{root} is not a cloud assembly (no manifest.json). Run `cdk synth -o {root}` first."
        )
    stacks: list[StackArtifact] = []
    assets: dict[str, Path] = {}
    _read(root, stacks, assets)
    return Assembly(root, tuple(_deployment_order(stacks)), assets)


def _read(directory: Path, stacks: list[StackArtifact], assets: dict[str, Path]) -> None:
    manifest = _load_json(directory / "manifest.json")
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        kind = artifact.get("type")
        properties = artifact.get("properties", {})
        if kind == STACK_ARTIFACT:
            stacks.append(_stack(directory, artifact_id, artifact))
        elif kind == ASSET_MANIFEST_ARTIFACT:
            assets.update(_file_assets(directory, directory / properties["file"]))
        elif kind == NESTED_ASSEMBLY_ARTIFACT:
            _read(directory / properties["directoryName"], stacks, assets)
    # Asset manifests not listed as artifacts (older assemblies) are still found by name.
    for path in sorted(directory.glob("*.assets.json")):
        for key, source in _file_assets(directory, path).items():
            assets.setdefault(key, source)


def _stack(directory: Path, artifact_id: str, artifact: dict[str, Any]) -> StackArtifact:
    properties = artifact.get("properties", {})
    template_path = directory / properties["templateFile"]
    account, region = _environment(artifact.get("environment", ""))
    return StackArtifact(
        artifact_id=artifact_id,
        stack_name=properties.get("stackName") or artifact_id,
        display_name=artifact.get("displayName") or artifact_id,
        template=_load_json(template_path),
        account=account,
        region=region,
        directory=directory,
        dependencies=tuple(artifact.get("dependencies", ())),
    )


def _environment(environment: str) -> tuple[str, str]:
    """`aws://123456789012/eu-west-1` -> (account, region); unknown parts get the rehearsal's defaults."""
    parts = environment.removeprefix("aws://").split("/")
    account = parts[0] if parts and parts[0] and not parts[0].startswith("unknown") else DEFAULT_ACCOUNT
    region = (
        parts[1] if len(parts) > 1 and parts[1] and not parts[1].startswith("unknown") else DEFAULT_REGION
    )
    return account, region


def _file_assets(directory: Path, manifest_path: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for asset_hash, asset in _load_json(manifest_path).get("files", {}).items():
        source = directory / asset.get("source", {}).get("path", "")
        found[asset_hash] = source
        for destination in asset.get("destinations", {}).values():
            if "objectKey" in destination:
                found[destination["objectKey"]] = source
    return found


def _deployment_order(stacks: list[StackArtifact]) -> list[StackArtifact]:
    """Stacks after the stacks they depend on (as `cdk deploy --all`); otherwise in manifest order."""
    by_id = {stack.artifact_id: stack for stack in stacks}
    ordered: list[StackArtifact] = []
    visiting: set[str] = set()

    def visit(stack: StackArtifact) -> None:
        if stack in ordered or stack.artifact_id in visiting:
            return
        visiting.add(stack.artifact_id)
        for dependency in stack.dependencies:
            if dependency in by_id:
                visit(by_id[dependency])
        ordered.append(stack)

    for stack in stacks:
        visit(stack)
    return ordered


def _load_json(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise AssemblyError(f"Cannot read {path}: {error}") from error
    return loaded
