"""The IAM policy CloudFormation needs to deploy an app: ``python -m constructs_lib.deploy_policy CDK_OUT``.

A team that bootstraps with ``cdk bootstrap --cloudformation-execution-policies <ARN>`` gives
CloudFormation only what that policy allows. This module reads a cloud assembly's templates and, for
every resource type in them, takes the IAM actions CloudFormation's own resource handlers call to create,
read, update and delete it, as the type's resource provider schema lists them
(``handlers.<create|read|update|delete>.permissions``). cfn-lint ships those schemas offline
(``cfnlint/data/schemas/providers/<region>.json`` maps a type to its schema file), so no AWS call is made.

What the schemas do not cover is added with its reason: custom resources (CloudFormation invokes
their ServiceToken function) and SSM parameter types in a template's Parameters (CloudFormation reads
the parameter). WaitConditions and their handles call no other service; ``AWS::CDK::Metadata`` is
metadata only.

    python -m constructs_lib.deploy_policy cdk.out                 # the policy document(s), JSON
    python -m constructs_lib.deploy_policy cdk.out --explain       # which type needs which actions
    python -m constructs_lib.deploy_policy cdk.out --out policies/ # one file per policy document
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

HANDLERS = ("create", "read", "update", "delete")
# Resource types whose deployment calls no other service (CloudFormation's own, or metadata).
NO_PERMISSIONS = frozenset(
    {
        "AWS::CloudFormation::WaitCondition",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::CDK::Metadata",
    }
)
# A managed policy's document may hold at most 6,144 characters, white space not counted (IAM quotas).
MAX_POLICY_CHARACTERS = 6144
DEFAULT_REGION = "us-east-1"
SSM_PARAMETER_TYPE = re.compile(r"^AWS::SSM::Parameter::(Value|Name)")
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
INSTALL_HINT = "pip install cfn-lint (or cdk-personalize-jobs[deploy-policy])"


class DeployPolicyError(Exception):
    """The assembly cannot be read, or a resource type has no schema to take permissions from."""


@dataclass
class Requirement:
    """The actions one resource type needs, and why."""

    type: str
    actions: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=lambda: {"*"})
    reason: str = ""
    stacks: set[str] = field(default_factory=set)


# ------------------------------------------------------------------------------------------ schemas


def _schemas_root() -> Any:
    try:
        return resources.files("cfnlint.data.schemas")
    except ModuleNotFoundError:
        raise DeployPolicyError(
            f"The resource provider schemas come with cfn-lint, which is not installed: {INSTALL_HINT}"
        ) from None


def handler_permissions(resource_type: str, region: str = DEFAULT_REGION) -> dict[str, list[str]] | None:
    """``{"create": [...], "read": [...], ...}`` from the type's provider schema in ``region``; None for a
    type the region's schemas do not know."""
    root = _schemas_root()
    providers_file = root / "providers" / f"{region}.json"
    if not providers_file.is_file():
        raise DeployPolicyError(f"cfn-lint has no resource schemas for the region {region!r}")
    providers: Mapping[str, str] = json.loads(providers_file.read_text())
    digest = providers.get(resource_type)
    if digest is None:
        return None
    schema = json.loads((root / "resources" / f"{digest}.json").read_text())
    handlers: Mapping[str, Any] = schema.get("handlers", {})
    return {name: sorted(handlers.get(name, {}).get("permissions", [])) for name in HANDLERS}


# ------------------------------------------------------------------------------------------ assembly


@dataclass(frozen=True)
class StackTemplate:
    """One stack of the assembly: its name, its region when the stack has one, its template."""

    name: str
    region: str | None
    template: Mapping[str, Any]


def read_assembly(assembly_dir: Path) -> list[StackTemplate]:
    """The stacks of a cloud assembly (nested assemblies, such as stages, included)."""
    manifest_file = Path(assembly_dir) / "manifest.json"
    if not manifest_file.is_file():
        raise DeployPolicyError(f"{assembly_dir} is not a cloud assembly (no manifest.json): run cdk synth")
    manifest = json.loads(manifest_file.read_text())
    found: list[StackTemplate] = []
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        properties = artifact.get("properties", {})
        if artifact.get("type") == "cdk:cloud-assembly":
            found += read_assembly(Path(assembly_dir) / properties["directoryName"])
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((Path(assembly_dir) / properties["templateFile"]).read_text())
        region = str(artifact.get("environment", "")).rpartition("/")[2]
        found.append(
            StackTemplate(
                properties.get("stackName", artifact_id),
                None if not region or region.startswith("unknown") else region,
                template,
            )
        )
    return found


# ------------------------------------------------------------------------------------------ requirements


def requirements(stacks: Sequence[StackTemplate], region: str | None = None) -> list[Requirement]:
    """What each resource type of the stacks needs, by type (custom resources and parameters apart)."""
    by_type: dict[str, Requirement] = {}
    unknown: dict[str, set[str]] = {}
    for stack in stacks:
        stack_region = region or stack.region or DEFAULT_REGION
        for resource in stack.template.get("Resources", {}).values():
            resource_type = str(resource.get("Type"))
            if resource_type in NO_PERMISSIONS:
                continue
            if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
                _custom_resource(by_type, stack, resource)
                continue
            found = by_type.get(resource_type)
            if found is None:
                permissions = handler_permissions(resource_type, stack_region)
                if permissions is None:
                    unknown.setdefault(resource_type, set()).add(stack.name)
                    continue
                listed = {action for actions in permissions.values() for action in actions}
                malformed = sorted(action for action in listed if not IAM_ACTION.match(action))
                reason = "the resource provider schema's create, read, update and delete handlers"
                if malformed:
                    # Seen in the data: AWS::Logs::LogGroup lists "s3:REST.PUT.OBJECT", which IAM refuses.
                    reason += f" (left out, not IAM actions: {', '.join(malformed)})"
                found = by_type[resource_type] = Requirement(
                    resource_type, listed - set(malformed), reason=reason
                )
            found.stacks.add(stack.name)
        _ssm_parameters(by_type, stack)
    if unknown:
        types = ", ".join(f"{t} (in {', '.join(sorted(s))})" for t, s in sorted(unknown.items()))
        raise DeployPolicyError(
            f"No resource provider schema for {types} in cfn-lint's data; update cfn-lint, or add what "
            "CloudFormation needs for it by hand"
        )
    return [by_type[key] for key in sorted(by_type)]


def _custom_resource(
    by_type: dict[str, Requirement], stack: StackTemplate, resource: Mapping[str, Any]
) -> None:
    """CloudFormation invokes a custom resource's ServiceToken function for each of its requests."""
    found = by_type.setdefault(
        "Custom resources",
        Requirement(
            "Custom resources",
            {"lambda:InvokeFunction"},
            resources=set(),
            reason="CloudFormation invokes each custom resource's ServiceToken function",
        ),
    )
    found.stacks.add(stack.name)
    token = resource.get("Properties", {}).get("ServiceToken")
    found.resources.add(_function_arn_pattern(stack, token))


def partition(region: str | None) -> str:
    """The ARN partition of a region (``aws`` when the stack has none: deployed where the CLI points)."""
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _function_arn_pattern(stack: StackTemplate, token: Any) -> str:
    """The ServiceToken's function: its ARN when literal, else any function of the stack's region (a
    generated name is known only after the deploy, and CloudFormation may shorten the stack's name in
    it; the same policy lets CloudFormation create and update functions anyway)."""
    if isinstance(token, str) and token.startswith("arn:"):
        return token
    return f"arn:{partition(stack.region)}:lambda:{stack.region or '*'}:*:function:*"


def _ssm_parameters(by_type: dict[str, Requirement], stack: StackTemplate) -> None:
    """A template parameter of an SSM type (CDK's BootstrapVersion) is read by CloudFormation."""
    for parameter in stack.template.get("Parameters", {}).values():
        if not SSM_PARAMETER_TYPE.match(str(parameter.get("Type", ""))):
            continue
        found = by_type.setdefault(
            "SSM parameters",
            Requirement(
                "SSM parameters",
                {"ssm:GetParameters"},
                resources=set(),
                reason="CloudFormation resolves the templates' SSM parameter types",
            ),
        )
        found.stacks.add(stack.name)
        name = str(parameter.get("Default", "*")).lstrip("/")
        found.resources.add(f"arn:{partition(stack.region)}:ssm:{stack.region or '*'}:*:parameter/{name}")


# ------------------------------------------------------------------------------------------ documents


def _statement(requirement: Requirement) -> dict[str, Any]:
    sid = re.sub(r"[^A-Za-z0-9]", "", requirement.type.title())
    resources_ = sorted(requirement.resources)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(requirement.actions),
        "Resource": resources_[0] if len(resources_) == 1 else resources_,
    }


def _characters(document: Mapping[str, Any]) -> int:
    return len(re.sub(r"\s", "", json.dumps(document)))


def policy_documents(found: Iterable[Requirement]) -> list[dict[str, Any]]:
    """The statements packed into as few managed policy documents as fit IAM's 6,144 characters each
    (``--cloudformation-execution-policies`` takes several ARNs)."""
    documents: list[dict[str, Any]] = []
    for requirement in found:
        for statement in _split(_statement(requirement)):
            for document in documents:
                candidate = {**document, "Statement": [*document["Statement"], statement]}
                if _characters(candidate) <= MAX_POLICY_CHARACTERS:
                    document["Statement"].append(statement)
                    break
            else:
                documents.append({"Version": "2012-10-17", "Statement": [statement]})
    return documents


def _split(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One statement, or its actions in parts when it alone would not fit a document."""
    if _characters({"Version": "2012-10-17", "Statement": [statement]}) <= MAX_POLICY_CHARACTERS:
        yield statement
        return
    actions: list[str] = statement["Action"]
    half = len(actions) // 2
    for index, part in enumerate((actions[:half], actions[half:]), start=1):
        yield from _split({**statement, "Sid": f"{statement['Sid']}{index}", "Action": part})


def explain(found: Iterable[Requirement]) -> str:
    """Per resource type (or custom resources, SSM parameters): the stacks, the reason, the actions."""
    lines = []
    for requirement in found:
        lines.append(f"{requirement.type} ({', '.join(sorted(requirement.stacks))}): {requirement.reason}")
        lines.append(f"  {', '.join(sorted(requirement.actions))}")
        if requirement.resources != {"*"}:
            lines.append(f"  on {', '.join(sorted(requirement.resources))}")
    return "\n".join(lines)


def deploy_policy(
    assembly_dir: Path, *, region: str | None = None, stack: str | None = None
) -> list[dict[str, Any]]:
    """The policy documents CloudFormation needs for the assembly (or one stack of it)."""
    stacks = read_assembly(assembly_dir)
    if stack is not None:
        stacks = [s for s in stacks if s.name == stack]
        if not stacks:
            raise DeployPolicyError(f"No stack named {stack!r} in {assembly_dir}")
    return policy_documents(requirements(stacks, region))


def main(argv: Sequence[str] | None = None) -> int:
    """The command: 0 with the policy printed (or written), 2 when the assembly cannot be read."""
    parser = argparse.ArgumentParser(
        prog="python -m constructs_lib.deploy_policy",
        description="The IAM policy CloudFormation needs to create, update and delete a synthesized app's "
        "resources (for cdk bootstrap --cloudformation-execution-policies).",
    )
    parser.add_argument("cdk_out", type=Path, help="the cloud assembly directory (cdk synth's output)")
    parser.add_argument("--stack", help="only this stack")
    parser.add_argument(
        "--region", help="the region whose schemas to read (default: each stack's, or us-east-1)"
    )
    parser.add_argument("--explain", action="store_true", help="list which resource type needs which actions")
    parser.add_argument("--out", type=Path, help="write deploy-policy-<n>.json files to this directory")
    arguments = parser.parse_args(argv)
    try:
        stacks = read_assembly(arguments.cdk_out)
        if arguments.stack:
            stacks = [s for s in stacks if s.name == arguments.stack]
            if not stacks:
                raise DeployPolicyError(f"No stack named {arguments.stack!r} in {arguments.cdk_out}")
        found = requirements(stacks, arguments.region)
    except DeployPolicyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if arguments.explain:
        print(explain(found))
        return 0
    documents = policy_documents(found)
    if arguments.out:
        arguments.out.mkdir(parents=True, exist_ok=True)
        for index, document in enumerate(documents, start=1):
            target = arguments.out / f"deploy-policy-{index}.json"
            target.write_text(json.dumps(document, indent=2) + "\n")
            print(target)
    else:
        print(json.dumps(documents[0] if len(documents) == 1 else documents, indent=2))
    if len(documents) > 1:
        print(
            f"{len(documents)} policy documents: each managed policy holds at most "
            f"{MAX_POLICY_CHARACTERS:,} characters; give all their ARNs to "
            "--cloudformation-execution-policies",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
