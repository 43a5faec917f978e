"""What CloudFormation refuses in a template before it creates or changes anything.

`CreateChangeSet` (and `CreateStack`, `UpdateStack`) answer a template that names a resource it does not
have, or whose resources depend on each other in a loop, with a ``ValidationError``
("Template format error: ..."): the stack is not created, or stays as it was; nothing is rolled back
because nothing started. See docs/rehearsal-fidelity.md for the sources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# ${Name} or ${Name.Attribute} in Fn::Sub; ${!Literal} and ${AWS::Region} are no resource names.
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[^}]*)?\}")


def template_refusal(template: Mapping[str, Any]) -> str:
    """The ``ValidationError`` message CloudFormation answers ``template`` with, or "" when it accepts it.

    Checked: every ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` name and ``DependsOn`` of a resource names a
    resource or parameter of the template ("Unresolved resource dependencies [X] in the Resources block of
    the template"); no resource depends on itself through others ("Circular dependency between resources:
    [A, B]", the resources on a loop in template order).
    """
    resources: Mapping[str, Any] = template.get("Resources") or {}
    parameters = set(template.get("Parameters") or {})
    graph: dict[str, list[str]] = {}
    unresolved: list[str] = []
    for logical_id, resource in resources.items():
        names = _dependencies(resource)
        for name in names:
            if name not in resources and name not in parameters and name not in unresolved:
                unresolved.append(name)
        graph[logical_id] = [name for name in names if name in resources]
    if unresolved:
        return (
            f"Template format error: Unresolved resource dependencies [{', '.join(unresolved)}] in the "
            "Resources block of the template"
        )
    looped = _on_cycles(graph)
    if looped:
        ordered = [logical_id for logical_id in resources if logical_id in looped]
        return f"Template format error: Circular dependency between resources: [{', '.join(ordered)}]"
    return ""


def _dependencies(resource: Any) -> list[str]:
    """The names a resource depends on: DependsOn, and Ref / GetAtt / Sub in its properties."""
    found: list[str] = []
    if not isinstance(resource, Mapping):
        return found
    depends = resource.get("DependsOn", [])
    for name in [depends] if isinstance(depends, str) else depends or []:
        _add(found, str(name))
    _references(resource.get("Properties", {}), found, local=frozenset())
    return found


def _add(found: list[str], name: str) -> None:
    if not name.startswith("AWS::") and name not in found:
        found.append(name)


def _references(value: Any, found: list[str], *, local: frozenset[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, found, local=local)
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            _add(found, item)
        elif key == "Fn::GetAtt":
            if isinstance(item, str):
                _add(found, item.split(".")[0])
            elif isinstance(item, list) and item and isinstance(item[0], str):
                _add(found, item[0])
                _references(item[1:], found, local=local)
        elif key == "Fn::Sub":
            text, variables = (item, {}) if isinstance(item, str) else (item[0], item[1])
            names = frozenset(variables) if isinstance(variables, Mapping) else frozenset()
            if isinstance(text, str):
                for name in _SUB_NAME.findall(text):
                    if name not in names | local:
                        _add(found, name)
            _references(variables, found, local=local)
        else:
            _references(item, found, local=local)


def _on_cycles(graph: Mapping[str, list[str]]) -> set[str]:
    """The nodes on a cycle: members of a strongly connected component of two or more, or with a
    self-loop (Tarjan's algorithm, iterative: a template may chain hundreds of resources)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    looped: set[str] = set()
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, [])
            if position < len(successors):
                work.append((node, position + 1))
                successor = successors[position]
                if successor not in index:
                    work.append((successor, 0))
                elif successor in on_stack:
                    low[node] = min(low[node], index[successor])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, []):
                    looped.update(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return looped
