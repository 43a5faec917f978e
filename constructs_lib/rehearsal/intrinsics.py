"""Intrinsic functions of a template, resolved as CloudFormation would, with stable fake physical ids.

Every resource gets the kind of physical id CloudFormation would give it (a bucket name, a role name, a
state machine ARN, ...) derived from a hash of the stack and logical id, so two runs print the same ids.
Values the rehearsal learns while it runs (a WaitConditionHandle's URL, a custom resource's Data) are
set with `set_ref` / `set_attributes`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

# Properties that give a resource an explicit physical name.
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": "PolicyName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Events::Rule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Personalize::DatasetGroup": "Name",
    "AWS::Personalize::Schema": "Name",
    "AWS::Personalize::Dataset": "Name",
    "AWS::Personalize::Solution": "Name",
}
# How Personalize names a resource in its ARN (Ref and the ...Arn attribute both give the ARN).
PERSONALIZE_ARN_TYPES = {
    "AWS::Personalize::DatasetGroup": "dataset-group",
    "AWS::Personalize::Schema": "schema",
    "AWS::Personalize::Solution": "solution",
}
_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class UnresolvableError(Exception):
    """An intrinsic the rehearsal cannot resolve (a cross-stack import, an attribute not known yet)."""


class Resolver:
    """Resolves values of one stack's template."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        stack_name: str,
        account: str,
        region: str,
        partition: str = "aws",
        imports: Callable[[str], Any] | None = None,
        stack_outputs: Callable[[str, str], Any] | None = None,
        instance: int = 0,
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.stack_name = stack_name
        self.account = account
        self.region = region
        self.partition = partition
        self.instance = instance
        # Each create of a stack gets its own StackId; the first is what earlier rehearsals used.
        seed = f"rehearsal:{account}:{region}:{stack_name}" + (f":{instance}" if instance else "")
        self.stack_id = (
            f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/"
            f"{uuid.uuid5(uuid.NAMESPACE_URL, seed)}"
        )
        self._imports = imports
        self._stack_outputs = stack_outputs
        self._refs: dict[str, Any] = {}
        self._attributes: dict[str, dict[str, Any]] = {}
        self._conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------ values learned while running

    def set_ref(self, logical_id: str, value: Any) -> None:
        self._refs[logical_id] = value

    def set_attributes(self, logical_id: str, attributes: Mapping[str, Any]) -> None:
        self._attributes[logical_id] = dict(attributes)

    # ------------------------------------------------------------------ resolution

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic replaced; `AWS::NoValue` entries are dropped."""
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def resolve_str(self, value: Any) -> str:
        resolved = self.resolve(value)
        if not isinstance(resolved, str):
            raise UnresolvableError(f"Expected a string, got {resolved!r} from {value!r}")
        return resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self._resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
            if key.startswith("Fn::"):
                raise UnresolvableError(f"{key} is not supported by the rehearsal")
        resolved = {k: self._resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    # ------------------------------------------------------------------ Ref and GetAtt

    def ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self._refs:
            return self._refs[name]
        if name in self.template.get("Parameters", {}):
            parameter = self.template["Parameters"][name]
            if "Default" not in parameter:
                raise UnresolvableError(f"Parameter {name} has no default value")
            return parameter["Default"]
        resource = self._resource(name)
        return self._physical_ref(name, resource)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id in self._attributes and attribute in self._attributes[logical_id]:
            return self._attributes[logical_id][attribute]
        resource = self._resource(logical_id)
        kind = resource.get("Type", "")
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            raise UnresolvableError(f"{logical_id}.{attribute} is only known once {logical_id} is created")
        return self._fake_attribute(logical_id, resource, attribute)

    def _pseudo(self, name: str) -> Any:
        pseudo: dict[str, Any] = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }
        return pseudo.get(name)

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        if logical_id not in self.resources:
            raise UnresolvableError(
                f"{logical_id} is neither a resource nor a parameter of {self.stack_name}"
            )
        resource: Mapping[str, Any] = self.resources[logical_id]
        return resource

    # ------------------------------------------------------------------ fake physical ids

    def suffix(self, logical_id: str) -> str:
        """What CloudFormation appends to a generated name: new with each stack instance, as a stack
        deleted and created again gets new roles, buckets and keys."""
        instance = f"/{self.instance}" if self.instance else ""
        return hashlib.sha256(f"{self.stack_name}/{logical_id}{instance}".encode()).hexdigest()[:12].upper()

    def generated_name(self, logical_id: str, max_length: int = 64, *, lower: bool = False) -> str:
        """`<stack>-<logicalId>-<SUFFIX>` cut to fit, as CloudFormation names unnamed resources."""
        suffix = self.suffix(logical_id)
        room = max_length - len(suffix) - 2
        stack_part = self.stack_name[: room // 2]
        logical_part = logical_id[: room - len(stack_part)]
        name = f"{stack_part}-{logical_part}-{suffix}"
        return re.sub(r"[^a-z0-9.-]", "-", name.lower()) if lower else name

    def physical_name(self, logical_id: str, resource: Mapping[str, Any]) -> str:
        kind = resource.get("Type", "")
        explicit = resource.get("Properties", {}).get(NAME_PROPERTIES.get(kind, ""))
        if explicit is not None:
            return str(self.resolve(explicit))
        if kind == "AWS::S3::Bucket":
            return self.generated_name(logical_id, 63, lower=True)
        return self.generated_name(logical_id)

    def _physical_ref(self, logical_id: str, resource: Mapping[str, Any]) -> Any:
        kind = resource.get("Type", "")
        if kind == "AWS::KMS::Key":
            return self._key_id(logical_id)
        if kind in ("AWS::StepFunctions::StateMachine", "AWS::IAM::ManagedPolicy", "AWS::SNS::Topic"):
            return self._fake_attribute(logical_id, resource, "Arn")
        if kind == "AWS::SQS::Queue":
            return self._fake_attribute(logical_id, resource, "QueueUrl")
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            raise UnresolvableError(f"The physical id of {logical_id} is only known once it is created")
        if kind.startswith("AWS::Personalize::"):
            return self._personalize_arn(logical_id, resource)
        return self.physical_name(logical_id, resource)

    def _personalize_arn(self, logical_id: str, resource: Mapping[str, Any]) -> str:
        kind, name = resource.get("Type", ""), self.physical_name(logical_id, resource)
        if kind == "AWS::Personalize::Dataset":
            # dataset/<dataset group name>/<DATASET TYPE>
            group = str(self.resolve(resource.get("Properties", {}).get("DatasetGroupArn", ""))).rsplit(
                "/", 1
            )[-1]
            dataset_type = str(resource.get("Properties", {}).get("DatasetType", "")).upper()
            return self.arn("personalize", f"dataset/{group}/{dataset_type}")
        path = (
            PERSONALIZE_ARN_TYPES.get(kind) or re.sub(r"(?<!^)(?=[A-Z])", "-", kind.split("::")[-1]).lower()
        )
        return self.arn("personalize", f"{path}/{name}")

    def _key_id(self, logical_id: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rehearsal-key:{self.stack_id}/{logical_id}"))

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )

    def _fake_attribute(self, logical_id: str, resource: Mapping[str, Any], attribute: str) -> Any:
        kind = resource.get("Type", "")
        name = self.physical_name(logical_id, resource)
        arns = {
            "AWS::S3::Bucket": self.arn("s3", name, region=False, account=False),
            "AWS::KMS::Key": self.arn("kms", f"key/{self._key_id(logical_id)}"),
            "AWS::IAM::Role": self.arn("iam", f"role/{name}", region=False),
            "AWS::IAM::ManagedPolicy": self.arn("iam", f"policy/{name}", region=False),
            "AWS::Lambda::Function": self.arn("lambda", f"function:{name}"),
            "AWS::StepFunctions::StateMachine": self.arn("states", f"stateMachine:{name}"),
            "AWS::Logs::LogGroup": self.arn("logs", f"log-group:{name}:*"),
            "AWS::Events::Rule": self.arn("events", f"rule/{name}"),
            "AWS::Events::EventBus": self.arn("events", f"event-bus/{name}"),
            "AWS::SQS::Queue": self.arn("sqs", name),
            "AWS::SNS::Topic": self.arn("sns", name),
        }
        if kind.startswith("AWS::Personalize::") and attribute.endswith("Arn"):
            return self._personalize_arn(logical_id, resource)
        if attribute in ("Arn", "TopicArn"):
            if kind in arns:
                return arns[kind]
            service = kind.split("::")[1].lower() if kind.count("::") == 2 else "cloudformation"
            return self.arn(service, f"{kind.split('::')[-1].lower()}/{name}")
        specific: dict[str, Any] = {
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{self.region}.amazonaws.com",
            "KeyId": self._key_id(logical_id),
            "RoleId": f"AROA{self.suffix(logical_id)}",
            "QueueName": name,
            "QueueUrl": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}",
            "TopicName": name,
            "Name": name,
            "Data": "{}",
        }
        return specific.get(attribute, f"{name}.{attribute}")

    def stack_output(self, stack_name: str, output_name: str) -> Any:
        """An output of another stack (Fn::GetStackOutput: a weak reference, no export needed)."""
        if self._stack_outputs is None:
            raise UnresolvableError(
                f"Fn::GetStackOutput {stack_name}.{output_name}: no stack outputs to read"
            )
        return self._stack_outputs(stack_name, output_name)

    def import_value(self, name: str) -> Any:
        """An export of another stack (Fn::ImportValue)."""
        if self._imports is None:
            raise UnresolvableError(f"Fn::ImportValue {name}: the rehearsal has no exports to import from")
        return self._imports(name)

    # ------------------------------------------------------------------ conditions

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definition = self.template.get("Conditions", {}).get(name)
            if definition is None:
                raise UnresolvableError(f"Condition {name} is not defined")
            self._conditions[name] = bool(self.resolve(definition))
        return self._conditions[name]


# ---------------------------------------------------------------------- intrinsic functions


def _fn_ref(resolver: Resolver, argument: Any) -> Any:
    return resolver.ref(str(argument))


def _fn_get_att(resolver: Resolver, argument: Any) -> Any:
    if isinstance(argument, str):
        logical_id, _, attribute = argument.partition(".")
    else:
        logical_id, attribute = argument[0], resolver.resolve(argument[1])
    return resolver.get_att(logical_id, str(attribute))


def _fn_join(resolver: Resolver, argument: Any) -> str:
    delimiter, values = argument
    items = resolver.resolve(values)
    return str(delimiter).join(_text(item) for item in items)


def _fn_sub(resolver: Resolver, argument: Any) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
    values = {key: resolver.resolve(value) for key, value in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in values:
            return _text(values[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, _, attribute = name.partition(".")
            return _text(resolver.get_att(logical_id, attribute))
        return _text(resolver.ref(name))

    return _SUB_VARIABLE.sub(replace, str(text))


def _fn_select(resolver: Resolver, argument: Any) -> Any:
    index, values = argument
    return resolver.resolve(values)[int(resolver.resolve(index))]


def _fn_split(resolver: Resolver, argument: Any) -> list[str]:
    delimiter, value = argument
    return resolver.resolve_str(value).split(str(delimiter))


def _fn_if(resolver: Resolver, argument: Any) -> Any:
    name, when_true, when_false = argument
    return resolver._resolve(when_true if resolver.condition(name) else when_false)


def _fn_equals(resolver: Resolver, argument: Any) -> bool:
    left, right = (resolver.resolve(item) for item in argument)
    return bool(left == right)


def _fn_and(resolver: Resolver, argument: Any) -> bool:
    return all(resolver.resolve(item) for item in argument)


def _fn_or(resolver: Resolver, argument: Any) -> bool:
    return any(resolver.resolve(item) for item in argument)


def _fn_not(resolver: Resolver, argument: Any) -> bool:
    return not resolver.resolve(argument[0])


def _condition(resolver: Resolver, argument: Any) -> bool:
    return resolver.condition(str(argument))


def _fn_find_in_map(resolver: Resolver, argument: Any) -> Any:
    map_name, top, second = (resolver.resolve(item) for item in argument[:3])
    return resolver.template["Mappings"][map_name][top][second]


def _fn_base64(resolver: Resolver, argument: Any) -> str:
    return base64.b64encode(resolver.resolve_str(argument).encode()).decode()


def _fn_get_azs(resolver: Resolver, argument: Any) -> list[str]:
    return [f"{resolver.region}{zone}" for zone in "abc"]


def _fn_import_value(resolver: Resolver, argument: Any) -> Any:
    return resolver.import_value(resolver.resolve_str(argument))


def _fn_get_stack_output(resolver: Resolver, argument: Any) -> Any:
    if not isinstance(argument, dict) or "StackName" not in argument or "OutputName" not in argument:
        raise UnresolvableError(f"Fn::GetStackOutput needs StackName and OutputName: {argument!r}")
    if "RoleArn" in argument or argument.get("Region") not in (None, resolver.region):
        raise UnresolvableError("Fn::GetStackOutput of another account or region is not rehearsed")
    return resolver.stack_output(
        resolver.resolve_str(argument["StackName"]), resolver.resolve_str(argument["OutputName"])
    )


def _fn_to_json_string(resolver: Resolver, argument: Any) -> str:
    return json.dumps(resolver.resolve(argument), separators=(",", ":"))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


_FUNCTIONS = {
    "Ref": _fn_ref,
    "Fn::GetAtt": _fn_get_att,
    "Fn::Join": _fn_join,
    "Fn::Sub": _fn_sub,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::If": _fn_if,
    "Fn::Equals": _fn_equals,
    "Fn::And": _fn_and,
    "Fn::Or": _fn_or,
    "Fn::Not": _fn_not,
    "Condition": _condition,
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Base64": _fn_base64,
    "Fn::GetAZs": _fn_get_azs,
    "Fn::ToJsonString": _fn_to_json_string,
    "Fn::ImportValue": _fn_import_value,
    "Fn::GetStackOutput": _fn_get_stack_output,
}
