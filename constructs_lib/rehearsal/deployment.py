"""A `BucketDeployment` (`Custom::CDKBucketDeployment`) as its handler behaves: the files of its assets,
written into the destination bucket.

CDK's `aws_s3_deployment` handler downloads each source object (`SourceBucketNames[i]`,
`SourceObjectKeys[i]`: the zip of a file asset), unzips it (unless `Extract` is false), replaces its
`SourceMarkers` (tokens in `Source.data` / `Source.jsonData`), applies `Exclude` / `Include`, and
`aws s3 sync`s the result to `s3://DestinationBucketName/DestinationBucketKeyPrefix`, deleting what the
sources do not hold only when `Prune` is true. The rehearsal reads the same files from the cloud
assembly (the staged asset directory, or the zip, that `cdk deploy` would upload) instead of running
the handler Lambda.
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEPLOYMENT_TYPE = "Custom::CDKBucketDeployment"


class DeploymentError(Exception):
    """The deployment's sources cannot be read from the assembly."""


@dataclass(frozen=True)
class Copy:
    """What one deployment writes: the destination bucket, and every object key with its body."""

    bucket: str
    prefix: str
    objects: dict[str, bytes]
    prune: bool


def plan(properties: Mapping[str, Any], asset_path: Any) -> Copy:
    """The objects a deployment with these (resolved) properties writes.

    :param asset_path: ``Assembly.asset_path``: an asset's object key -> its staged source, or None.
    :raises DeploymentError: a source the assembly does not hold.
    """
    bucket = str(properties.get("DestinationBucketName", ""))
    if not bucket:
        raise DeploymentError("the BucketDeployment has no DestinationBucketName")
    prefix = str(properties.get("DestinationBucketKeyPrefix") or "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # the handler syncs to s3://bucket/prefix/ either way
    extract = _flag(properties.get("Extract"), default=True)
    markers = list(properties.get("SourceMarkers") or [])
    excludes = [str(pattern) for pattern in properties.get("Exclude") or []]
    includes = [str(pattern) for pattern in properties.get("Include") or []]
    files: dict[str, bytes] = {}
    for index, object_key in enumerate(properties.get("SourceObjectKeys") or []):
        source = asset_path(str(object_key))
        if source is None or not Path(source).exists():
            raise DeploymentError(
                f"the BucketDeployment's source {object_key} is not in the cloud assembly "
                "(run `cdk synth` again)"
            )
        found = _files(Path(source), str(object_key), extract)
        replacements = markers[index] if index < len(markers) and isinstance(markers[index], dict) else {}
        for name, body in found.items():
            for marker, value in replacements.items():
                body = body.replace(str(marker).encode(), str(value).encode())
            files[name] = body
    selected = {name: body for name, body in files.items() if _selected(name, excludes, includes)}
    return Copy(
        bucket,
        prefix,
        {prefix + name: body for name, body in sorted(selected.items())},
        _flag(properties.get("Prune"), default=True),
    )


def _flag(value: Any, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _files(source: Path, object_key: str, extract: bool) -> dict[str, bytes]:
    """The files of one asset: a staged directory, or a zip, unpacked; or the archive itself."""
    if not extract:
        name = object_key.split("/")[-1]
        if source.is_dir():
            return {name: _zip(source)}
        return {name: source.read_bytes()}
    if source.is_dir():
        return {
            path.relative_to(source).as_posix(): path.read_bytes()
            for path in sorted(source.rglob("*"))
            if path.is_file()
        }
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    # A single file asset: the handler unzips what it downloads, so it must be a zip.
    raise DeploymentError(f"the BucketDeployment's source {object_key} ({source}) is not a zip archive")


def _zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def _selected(name: str, excludes: list[str], includes: list[str]) -> bool:
    """`aws s3 sync --exclude ... --include ...`: every file, less the excluded, plus the re-included."""
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in excludes):
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in includes)
    return True
