"""The custom resource's properties, converted from CloudFormation's strings to typed values.

CloudFormation passes every scalar as a string; maps may arrive as objects or as their JSON text.
Every error is a ValueError naming the property. Delete never parses properties (see handler.py).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import contract
from contract import Field, JobKind

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class JobProps:
    """One job resource's properties. ``values`` holds the kind's fields and output location, typed;
    a property that is not set is absent (maps and tuples are kept sorted)."""

    kind: JobKind
    values: Mapping[str, Any]
    job_name_prefix: str
    timeout_seconds: int
    job_name: str | None = None
    run_token: str | None = None
    tags: Tags = ()
    wait_handle: str | None = None

    def get(self, prop: str) -> Any:
        return self.values.get(prop)

    def job_defining(self) -> dict[str, Any]:
        """The set properties that define a run, by contract name: what the job name's hash covers."""
        common = {contract.RUN_TOKEN: self.run_token, contract.JOB_NAME: self.job_name}
        found: dict[str, Any] = {}
        for prop in self.kind.defining:
            value = common[prop] if prop in common else self.values.get(prop)
            if value is not None:
                found[prop] = dict(value) if isinstance(value, tuple) else value
        return found


def parse_int(name: str, value: Any) -> int:
    """``"25"`` -> 25; a float string or anything else fails naming the property."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"{name}: {value!r} is not an integer")
    return int(text)


def parse_float(name: str, value: Any) -> float:
    """``"0.5"`` -> 0.5; NaN, infinities and non-numbers fail naming the property."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return number


def parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(f"{name}: {value!r} is neither true nor false")


def parse_map(name: str, value: Any) -> dict[str, Any]:
    """A map given as an object or as its JSON text (``'{"a": "1"}'``)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            raise ValueError(f"{name}: {value!r} is neither a map nor JSON text of a map") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: {value!r} is not a map")
    return {str(key): item for key, item in value.items()}


def parse_tags(value: Any) -> Tags:
    """``[{"Key": "k", "Value": "v"}]`` (or its JSON text) -> (("k", "v"),); a later duplicate key wins."""
    if value is None:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError:
            raise ValueError(f"Tags: {value!r} is not a list of {{Key, Value}}") from None
    if not isinstance(value, list):
        raise ValueError(f"Tags: {value!r} is not a list of {{Key, Value}}")
    tags: dict[str, str] = {}
    for entry in value:
        if not isinstance(entry, Mapping) or "Key" not in entry:
            raise ValueError(f"Tags: {entry!r} has no Key")
        tags[str(entry["Key"])] = str(entry.get("Value", ""))
    return tuple(tags.items())


def _text(properties: Mapping[str, Any], name: str) -> str | None:
    """A string property; absent and ``""`` both mean "not set"."""
    value = properties.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        raise ValueError(f"{name}: {value!r} is not a string")
    return str(value)


def _str_value(name: str, value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueError(f"{name}: {value!r} is not a string")
    return str(value)


_MAP_VALUES: dict[str, Callable[[str, Any], Any]] = {"string_map": _str_value, "number_map": parse_float}


def parse_field(spec: Field, properties: Mapping[str, Any]) -> Any:
    """The typed value of one field, None when it is not set (a choice field gets its default)."""
    name = spec.prop
    if spec.type in _MAP_VALUES:
        raw = properties.get(name)
        if raw is None or raw == "":
            return None
        convert = _MAP_VALUES[spec.type]
        parsed = parse_map(name, raw)
        return tuple((key, convert(f"{name}.{key}", item)) for key, item in sorted(parsed.items())) or None
    text = _text(properties, name)
    if text is None:
        if spec.required:
            raise ValueError(f"{name}: the property is required")
        return spec.omitted if spec.choices else None
    if spec.type == "integer":
        return parse_int(name, text)
    if spec.type == "boolean":
        return parse_bool(name, text)
    if spec.choices and text not in spec.choices:
        raise ValueError(f"{name}: {text!r} is not one of {', '.join(spec.choices)}")
    return text


def parse_timeout(properties: Mapping[str, Any]) -> int:
    raw = properties.get(contract.TIMEOUT_SECONDS)
    if raw in (None, ""):
        return contract.MAX_TIMEOUT_SECONDS
    seconds = parse_int(contract.TIMEOUT_SECONDS, raw)
    if not 1 <= seconds <= contract.MAX_TIMEOUT_SECONDS:
        raise ValueError(
            f"{contract.TIMEOUT_SECONDS}: {seconds} is not within 1..{contract.MAX_TIMEOUT_SECONDS}"
        )
    return seconds


def parse_properties(kind: JobKind, properties: Mapping[str, Any]) -> JobProps:
    """Convert the custom resource's string properties into ``JobProps`` (ValueError names the prop)."""
    values: dict[str, Any] = {}
    for spec in kind.fields:
        value = parse_field(spec, properties)
        if value is not None:
            values[spec.prop] = value
    if kind.output is not None:
        bucket = _text(properties, kind.output.bucket_prop)
        if bucket is None:
            raise ValueError(f"{kind.output.bucket_prop}: the property is required")
        values[kind.output.bucket_prop] = bucket
        values[kind.output.prefix_prop] = str(properties.get(kind.output.prefix_prop) or "")
    return JobProps(
        kind=kind,
        values=values,
        job_name_prefix=_text(properties, contract.JOB_NAME_PREFIX) or contract.DEFAULT_NAME_PREFIX,
        timeout_seconds=parse_timeout(properties),
        job_name=_text(properties, contract.JOB_NAME),
        run_token=_text(properties, contract.RUN_TOKEN),
        tags=parse_tags(properties.get(contract.TAGS)),
        wait_handle=_text(properties, contract.WAIT_HANDLE),
    )
