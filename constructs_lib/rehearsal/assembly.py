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
    path = directory / "manifest.json"
    manifest = _load_json(path)
    artifacts = _mapping(manifest.get("artifacts", {}), path, "artifacts")
    for artifact_id, artifact in artifacts.items():
        artifact = _mapping(artifact, path, f"artifacts.{artifact_id}")
        kind = artifact.get("type")
        properties = _mapping(artifact.get("properties", {}), path, f"artifacts.{artifact_id}.properties")
        if kind == STACK_ARTIFACT:
            stacks.append(_stack(directory, artifact_id, artifact))
        elif kind == ASSET_MANIFEST_ARTIFACT:
            assets.update(_file_assets(directory, directory / _member(properties, "file", path, artifact_id)))
        elif kind == NESTED_ASSEMBLY_ARTIFACT:
            _read(directory / _member(properties, "directoryName", path, artifact_id), stacks, assets)
    # Asset manifests not listed as artifacts (older assemblies) are still found by name.
    for path in sorted(directory.glob("*.assets.json")):
        for key, source in _file_assets(directory, path).items():
            assets.setdefault(key, source)


def _stack(directory: Path, artifact_id: str, artifact: dict[str, Any]) -> StackArtifact:
    properties = artifact.get("properties", {})
    template_path = directory / _member(properties, "templateFile", directory / "manifest.json", artifact_id)
    account, region = _environment(str(artifact.get("environment", "")))
    template = _load_json(template_path)
    resources = _mapping(template.get("Resources", {}), template_path, "Resources")
    for logical_id, resource in resources.items():
        resource = _mapping(resource, template_path, f"Resources.{logical_id}")
        if not isinstance(resource.get("Type"), str):
            raise AssemblyError(f"{template_path}: Resources.{logical_id} has no Type")
    return StackArtifact(
        artifact_id=artifact_id,
        stack_name=str(properties.get("stackName") or artifact_id),
        display_name=str(artifact.get("displayName") or artifact_id),
        template=template,
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
    files = _mapping(_load_json(manifest_path).get("files", {}), manifest_path, "files")
    for asset_hash, asset in files.items():
        asset = _mapping(asset, manifest_path, f"files.{asset_hash}")
        source_path = _mapping(asset.get("source", {}), manifest_path, f"files.{asset_hash}.source").get(
            "path"
        )
        source = directory / str(source_path or "")
        found[asset_hash] = source
        destinations = _mapping(
            asset.get("destinations", {}), manifest_path, f"files.{asset_hash}.destinations"
        )
        for destination in destinations.values():
            if isinstance(destination, dict) and "objectKey" in destination:
                found[str(destination["objectKey"])] = source
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
        loaded: Any = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AssemblyError(f"Cannot read {path}: {error}") from error
    return _mapping(loaded, path, "the document")


def _mapping(value: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AssemblyError(f"{path}: {where} is not a JSON object")
    return value


def _member(properties: dict[str, Any], name: str, path: Path, artifact_id: str) -> str:
    value = properties.get(name)
    if not isinstance(value, str) or not value:
        raise AssemblyError(f"{path}: artifact {artifact_id} has no properties.{name}")
    return value
