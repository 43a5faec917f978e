"""Acknowledging compliance findings on the construct that owns them; public, for users too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

# cdk-nag's compliance packs (besides AwsSolutions) whose rules the constructs acknowledge by name.
COMPLIANCE_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge(owner: IConstruct, rule_id: str, reason: str) -> None:
    """Record one acknowledged finding (a granular cdk-nag id) on ``owner`` with the reason for it."""
    Validations.of(owner).acknowledge(Acknowledgment(id=rule_id, reason=reason))


class Acknowledgements:
    """Collects acknowledgements and records each owner's in one call (each call crosses into jsii).

    An acknowledgement already recorded on an owner, for the same reason, is not recorded again: a stack's
    jobs share the runtime's policies, and many of them ask for the same one.
    """

    def __init__(self) -> None:
        self._by_owner: dict[int, tuple[IConstruct, list[Acknowledgment]]] = {}
        # Per owner (kept alive here, so that its id stays its own): its Validations and what it holds.
        self._recorded: dict[int, tuple[IConstruct, Validations, set[tuple[str, str]]]] = {}

    def add(self, owner: IConstruct, rule_id: str, reason: str) -> None:
        recorded = self._recorded.get(id(owner))
        if recorded is not None and (rule_id, reason) in recorded[2]:
            return
        pending = self._by_owner.setdefault(id(owner), (owner, []))[1]
        if not any(rule.id == rule_id and rule.reason == reason for rule in pending):
            pending.append(Acknowledgment(id=rule_id, reason=reason))

    def add_all(self, owner: IConstruct, rules: Iterable[tuple[str, str]]) -> None:
        for rule_id, reason in rules:
            self.add(owner, rule_id, reason)

    def record(self) -> None:
        for key, (owner, rules) in self._by_owner.items():
            if key not in self._recorded:
                self._recorded[key] = (owner, Validations.of(owner), set())
            _, validations, held = self._recorded[key]
            validations.acknowledge(*rules)
            held.update((rule.id, rule.reason) for rule in rules)
        self._by_owner.clear()


def nag_resource(scope: IConstruct, value: str) -> str:
    """``value`` (an ARN, possibly with tokens) as cdk-nag spells it in a granular finding id.

    cdk-nag writes ``{"Fn::GetAtt": [id, attr]}`` as ``<id.attr>``, ``{"Ref": id}`` as ``<id>`` and
    joins ``Fn::Join`` parts.
    """
    return nag_form(Stack.of(scope), value)


def nag_form(stack: Stack, value: str) -> str:
    """``nag_resource`` for a value of ``stack``, when the stack is at hand."""
    return _nag_form(stack.resolve(value))


def _nag_form(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if fn == "Fn::Join":
            separator, parts = arg
            return str(separator).join(_nag_form(p) for p in parts)
    raise ValueError(f"no cdk-nag form for {node!r}")
