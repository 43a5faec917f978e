"""``Stack.resolve`` for job properties, with each token resolved once per stack instead of once per job.

A job's WaitCondition is named after a hash of its resolved definition. Most of that definition's tokens
are the storage's (bucket names, key and role ARNs), shared by every job of the stack: resolving them
once and joining strings on the Python side spares each further job a round trip into jsii.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

from aws_cdk import Stack

from constructs_lib._validation import STRING_TOKEN

# Encodings of list and number tokens in strings (aws-cdk-lib core/lib/private/encoding).
_OTHER_TOKEN = re.compile(r"#\{Token\[|-1\.\d{10,16}e\+289")
# Numbers at or beyond this magnitude may be number tokens (aws-cdk-lib core/lib/private/resolve).
_NUMBER_TOKEN_MAGNITUDE = 1e287


class _Unsupported(Exception):
    """A value this module does not resolve itself: ``Stack.resolve`` takes the whole value."""


class TokenResolver:
    """Resolves as ``stack.resolve`` does, for JSON-like values whose tokens are string tokens.

    Strings with tokens are split at them and joined as CloudFormation concatenation does in
    aws-cdk-lib (core/lib/private/cloudformation-lang): adjacent literals merged, nested
    ``Fn::Join`` with an empty delimiter spliced in. Anything else (number or list tokens, tokens in
    keys, None, objects) goes to ``stack.resolve`` whole. ``tests/test_resolve.py`` holds the two equal.

    Each token is resolved when a job of the stack first meets it, and that value is kept: a ``Lazy``
    whose value changes while jobs are being added hashes as it was first seen. Results share the
    cached values; they are for reading (hashing), not for changing.
    """

    @classmethod
    def of(cls, stack: Stack) -> TokenResolver:
        resolver = _RESOLVERS.get(stack)
        if resolver is None:
            resolver = _RESOLVERS[stack] = cls(stack)
        return resolver

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._resolved: dict[str, Any] = {}

    def resolve(self, value: Any) -> Any:
        tokens: set[str] = set()
        try:
            _collect_tokens(value, tokens)
            missing = sorted(tokens - self._resolved.keys())
            if missing:
                resolved = self._stack.resolve(missing)
                if not isinstance(resolved, list) or len(resolved) != len(missing):
                    raise _Unsupported
                self._resolved.update(zip(missing, resolved, strict=True))
            return self._substitute(value)
        except _Unsupported:
            return self._stack.resolve(value)

    def _substitute(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, bool):
            return value
        if isinstance(value, float):
            # Numbers cross into JavaScript and back: 1.0 returns as 1.
            return int(value) if value.is_integer() else value
        if isinstance(value, int):
            return value
        if isinstance(value, list | tuple):
            return [self._substitute(item) for item in value]
        if isinstance(value, dict):
            return {key: self._substitute(item) for key, item in value.items()}
        raise _Unsupported

    def _string(self, text: str) -> Any:
        fragments: list[Any] = []
        position = 0
        for match in STRING_TOKEN.finditer(text):
            if match.start() > position:
                fragments.append(text[position : match.start()])
            resolved = self._resolved[match.group()]
            if not isinstance(resolved, str | dict):
                raise _Unsupported
            fragments.append(resolved)
            position = match.end()
        if position < len(text):
            fragments.append(text[position:])
        if not fragments:
            return ""
        joined = fragments[0]
        for fragment in fragments[1:]:
            joined = _concat(joined, fragment)
        return joined


# One resolver per stack, so that a stack's tokens are resolved once.
_RESOLVERS: weakref.WeakKeyDictionary[Stack, TokenResolver] = weakref.WeakKeyDictionary()


def _collect_tokens(value: Any, tokens: set[str]) -> None:
    if isinstance(value, str):
        if _OTHER_TOKEN.search(value):
            raise _Unsupported
        tokens.update(STRING_TOKEN.findall(value))
    elif isinstance(value, float):
        if abs(value) >= _NUMBER_TOKEN_MAGNITUDE:
            raise _Unsupported
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_tokens(item, tokens)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or STRING_TOKEN.search(key) or _OTHER_TOKEN.search(key):
                raise _Unsupported
            _collect_tokens(item, tokens)
    elif not isinstance(value, bool | int):
        raise _Unsupported  # None among them: jsii drops it from lists and maps


def _concat(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    return {"Fn::Join": ["", _minimal_join([left, right])]}


def _minimal_join(values: list[Any]) -> list[Any]:
    index = 0
    while index < len(values):
        value = values[index]
        if _is_empty_delimiter_join(value):
            values[index : index + 1] = value["Fn::Join"][1]
        elif index > 0 and isinstance(values[index - 1], str) and isinstance(value, str):
            values[index - 1] += value
            del values[index]
        else:
            index += 1
    return values


def _is_empty_delimiter_join(value: Any) -> bool:
    if not (isinstance(value, dict) and len(value) == 1 and "Fn::Join" in value):
        return False
    delimiter, parts = value["Fn::Join"]
    return delimiter == "" and isinstance(parts, list)
