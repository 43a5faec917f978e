"""Run identities: what decides whether a deploy starts a new run of a job a user already has.

A job runs again when its name, its ``RunId`` or its WaitCondition's logical id changes. The names are
derived at deploy time by the handler (``lambda/names.py``) from the stack's id, the resource's logical
id and the resolved job-defining properties; ``RunId`` and the WaitCondition (and handle) logical ids are
in the template. This module computes all of them for a synthesized app, the way the handler would for a
fixed fake StackId per stack, and records them in ``tests/golden/run_identities.json``.

Values a template knows only at deploy time (a bucket's name, another job's ARN, a stack output) are
given stable placeholders that name what they refer to (``${Ref:StorageInputBucket1234}``): a name here
changes exactly when the value CloudFormation would resolve changes with the template.

    python -m tests.identities            # compare the current tree with the golden file
    python -m tests.identities --write    # regenerate it (a deliberate change: see CHANGELOG.md)
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "run_identities.json"
LAMBDA_DIR = REPO / "lambda"
DEFAULT_ACCOUNT, DEFAULT_REGION = "123456789012", "us-east-1"
WAIT_CONDITION = "AWS::CloudFormation::WaitCondition"
# Recorded to make the file readable, not compared: a construct moved under an overridden logical id
# keeps its job.
IGNORED = frozenset({"path"})

CHANGE_RULE = (
    "A job's name, RunId or WaitCondition logical id changed: every user's next deploy of such a job "
    "starts a new run of it (billed by Personalize). If the change is deliberate, regenerate the golden "
    "file (python -m tests.identities --write) and add a CHANGELOG.md entry under 'Re-runs' saying which "
    "jobs re-run and how a user avoids it."
)


def _handler_modules() -> tuple[Any, Any, Any]:
    """lambda/contract.py, props.py and names.py, imported as the Lambda runtime does (top level)."""
    if str(LAMBDA_DIR) not in sys.path:
        sys.path.insert(0, str(LAMBDA_DIR))
    import contract
    import names
    import props

    return contract, props, names


# ---------------------------------------------------------------------------------------- resolution


def fake_stack_id(stack_name: str, account: str, region: str) -> str:
    """A StackId of the form CloudFormation gives, the same for every run of these tests."""
    unique = uuid.uuid5(uuid.NAMESPACE_URL, f"golden-run-identities:{account}:{region}:{stack_name}")
    return f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{unique}"


class _Placeholder(str):
    """A value known only at deploy time, spelled after the intrinsic that gives it."""


class Resolver:
    """Resolves a template's intrinsics: pseudo parameters to the fake stack's values, references to
    placeholders, the string functions over both."""

    def __init__(self, template: Mapping[str, Any], stack_name: str, account: str, region: str) -> None:
        self.parameters = template.get("Parameters", {})
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": fake_stack_id(stack_name, account, region),
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value if item != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._function(key, argument, value)
        return {k: self.resolve(v) for k, v in value.items() if v != {"Ref": "AWS::NoValue"}}

    def _function(self, key: str, argument: Any, whole: Mapping[str, Any]) -> Any:
        if key == "Ref":
            if argument in self.pseudo:
                return self.pseudo[argument]
            source = "Parameter" if argument in self.parameters else "Ref"
            return _Placeholder(f"${{{source}:{argument}}}")
        if key == "Fn::GetAtt":
            path = argument if isinstance(argument, str) else ".".join(argument)
            return _Placeholder(f"${{GetAtt:{path}}}")
        if key == "Fn::Join":
            separator, parts = argument
            resolved = [self.resolve(part) for part in self.resolve(parts)]
            return separator.join(str(part) for part in resolved)
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            for name, given in variables.items():
                text = text.replace(f"${{{name}}}", str(self.resolve(given)))
            for name, pseudo in self.pseudo.items():
                text = text.replace(f"${{{name}}}", pseudo)
            return text  # ${Resource} and ${Resource.Attr} stay as they are: placeholders already
        if key in ("Fn::Select", "Fn::Split"):
            return self._select_split(key, argument, whole)
        if key in ("Fn::ImportValue", "Fn::GetStackOutput"):
            return _Placeholder(f"${{{key[4:]}:{_canonical(self.resolve(argument))}}}")
        if key == "Fn::ToJsonString":
            return _canonical(self.resolve(argument))
        raise ValueError(f"{key} is not resolved by tests/identities.py: {dict(whole)!r}")

    def _select_split(self, key: str, argument: Any, whole: Mapping[str, Any]) -> Any:
        if key == "Fn::Split":
            separator, source = argument
            text = self.resolve(source)
            if isinstance(text, _Placeholder) or "${" in str(text):
                return _Placeholder(f"${{{_canonical(whole)}}}")
            return str(text).split(separator)
        index, items = argument
        resolved = self.resolve(items)
        if isinstance(resolved, _Placeholder):
            return _Placeholder(f"${{{_canonical(whole)}}}")
        return resolved[int(index)]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def as_cloudformation_passes(value: Any) -> Any:
    """Custom resource properties as CloudFormation delivers them: every scalar a string."""
    if isinstance(value, dict):
        return {k: as_cloudformation_passes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cloudformation_passes(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------- identities


def _stacks(assembly_dir: Path) -> Iterator[tuple[str, str, str, dict[str, Any], dict[str, str]]]:
    """(stack name, account, region, template, construct paths) of every stack of a cloud assembly,
    nested assemblies included."""
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") == "cdk:cloud-assembly":
            yield from _stacks(assembly_dir / artifact["properties"]["directoryName"])
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        template = json.loads((assembly_dir / properties["templateFile"]).read_text())
        _, _, account_region = artifact.get("environment", "aws://unknown-account/unknown-region").partition(
            "aws://"
        )
        account, _, region = account_region.partition("/")
        account = account if account.isdigit() else DEFAULT_ACCOUNT
        region = region if region and not region.startswith("unknown") else DEFAULT_REGION
        paths = _construct_paths(assembly_dir, artifact)
        yield properties.get("stackName", artifact_id), account, region, template, paths


def _construct_paths(assembly_dir: Path, artifact: Mapping[str, Any]) -> dict[str, str]:
    """Logical id -> construct path, from the stack's metadata (inline or in its own file)."""
    metadata = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact:
        metadata.update(json.loads((assembly_dir / artifact["additionalMetadataFile"]).read_text()))
    return {
        entry["data"]: path
        for path, entries in metadata.items()
        for entry in entries
        if entry.get("type") == "aws:cdk:logicalId"
    }


def stack_identities(
    stack_name: str,
    account: str,
    region: str,
    template: Mapping[str, Any],
    paths: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Per job resource (by logical id): its construct path, kind, name, RunId, WaitCondition and handle."""
    contract, props, names = _handler_modules()
    resources: Mapping[str, Any] = template.get("Resources", {})
    resolver = Resolver(template, stack_name, account, region)
    stack_id = fake_stack_id(stack_name, account, region)
    conditions = {
        resource["Properties"]["Handle"].get("Ref"): logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == WAIT_CONDITION and isinstance(resource["Properties"].get("Handle"), dict)
    }
    found: dict[str, Any] = {}
    for logical_id, resource in sorted(resources.items()):
        kind = contract.KINDS.get(resource.get("Type"))
        if kind is None:
            continue
        given = resource.get("Properties", {})
        properties = as_cloudformation_passes(resolver.resolve(given))
        parsed = props.parse_properties(kind, properties)
        handle = given.get(contract.WAIT_HANDLE, {})
        handle_id = handle.get("Ref") if isinstance(handle, dict) else None
        found[logical_id] = {
            "path": (paths or {}).get(logical_id),
            "type": resource["Type"],
            "jobName": names.derive_job_name(parsed, stack_id, logical_id),
            "runId": given.get(contract.RUN_ID),
            "waitHandle": handle_id,
            "waitCondition": conditions.get(handle_id) if handle_id else None,
        }
    return found


def assembly_identities(assembly_dir: Path) -> dict[str, Any]:
    """Every stack's job identities in one cloud assembly, by stack name."""
    return {
        name: stack_identities(name, account, region, template, paths)
        for name, account, region, template, paths in _stacks(Path(assembly_dir))
    }


def differences(expected: Mapping[str, Any], actual: Mapping[str, Any], where: str = "") -> list[str]:
    """One line per identity that was added, removed or changed (``app/stack/logicalId/field``)."""
    lines: list[str] = []
    for key in sorted((set(expected) | set(actual)) - IGNORED):
        here = f"{where}/{key}" if where else key
        if key not in actual:
            lines.append(f"{here}: gone (was {_canonical(expected[key])})")
        elif key not in expected:
            lines.append(f"{here}: new ({_canonical(actual[key])})")
        elif isinstance(expected[key], dict) and isinstance(actual[key], dict):
            lines.extend(differences(expected[key], actual[key], here))
        elif expected[key] != actual[key]:
            lines.append(f"{here}: {expected[key]!r} -> {actual[key]!r}")
    return lines


def failure_message(lines: list[str]) -> str:
    return CHANGE_RULE + "\n" + "\n".join(f"  {line}" for line in lines)


def load_golden() -> dict[str, Any]:
    return dict(json.loads(GOLDEN.read_text())["apps"])


# ---------------------------------------------------------------------------------------- the corpus


def _synth(outdir: Path, build: Callable[[Any], object]) -> Path:
    import aws_cdk as cdk

    from tests.apps import CDK_CONTEXT

    app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
    build(app)
    app.synth()
    return outdir


def synth_usage(outdir: Path) -> Path:
    """examples/usage.py run unchanged, its ``cdk.App()`` writing to ``outdir``."""
    import aws_cdk as cdk

    real_app = cdk.App

    def app_here(*args: Any, **kwargs: Any) -> Any:
        return real_app(outdir=str(outdir))

    cdk.App = app_here  # type: ignore[misc]
    try:
        runpy.run_path(str(REPO / "examples" / "usage.py"), run_name="__main__")
    finally:
        cdk.App = real_app  # type: ignore[misc]
    return outdir


def corpus_builders() -> dict[str, Callable[[Path], Path]]:
    """Every app whose identities the golden file records, by its key there, each synthesizing to a dir."""
    from tests import identity_corpus, variants
    from tests.apps import EXAMPLES

    def example(name: str) -> Callable[[Path], Path]:
        return lambda outdir: _synth(outdir, EXAMPLES[name])

    def version(index: int) -> Callable[[Path], Path]:
        return lambda outdir: next(iter(variants.synthesize_all(outdir, [variants.VERSIONS[index]]).values()))

    builders: dict[str, Callable[[Path], Path]] = {f"example:{name}": example(name) for name in EXAMPLES}
    builders["example:usage"] = synth_usage
    builders["corpus"] = lambda outdir: _synth(outdir, identity_corpus.build)
    for index, each in enumerate(variants.VERSIONS):
        builders[f"lifecycle:{each.label()}"] = version(index)
    return builders


def compute_all(directory: Path) -> dict[str, Any]:
    return {
        key: assembly_identities(build(directory / key.replace(":", "-")))
        for key, build in sorted(corpus_builders().items())
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="regenerate tests/golden/run_identities.json")
    parser.add_argument("--output", type=Path, help="write the identities here instead (with --write)")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        computed = compute_all(Path(directory))
    if arguments.write:
        target = arguments.output or GOLDEN
        target.parent.mkdir(parents=True, exist_ok=True)
        document = {"comment": CHANGE_RULE, "apps": computed}
        target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        count = sum(len(stack) for app in computed.values() for stack in app.values())
        print(f"wrote {count} job identities to {target}")
        return 0
    lines = differences(load_golden(), computed)
    if lines:
        print(failure_message(lines))
        return 1
    print("run identities unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
