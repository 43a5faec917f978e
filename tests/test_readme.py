"""Every Python snippet of README.md runs, so the documentation cannot drift from the library.

Each fenced block opened with ```python is written to a file and run by a fresh interpreter of the test
venv, in a temporary directory that is also its ``CDK_OUTDIR`` (``app.synth()`` writes there); the
block must exit with 0. Conventions for README authors:

- ``<!-- not run -->`` on the line right before the fence skips the block (for fragments that cannot
  run alone). Use it sparingly: a skipped block is not checked at all.
- ``<!-- include PATH -->`` on the line right before the fence says the block is the file PATH of this
  repo, verbatim (e.g. ``examples/usage.py``); the test fails when the two differ.
- A name the block uses without defining it (your own function, say ``my_function``) gets a stand-in
  from ``STAND_INS``, defined just before the first top-level statement that uses it; it may refer to
  the block's ``stack``. A name with no stand-in fails the test with the names it lacks.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.apps import REPO

README = REPO / "README.md"
SKIP_MARKER = "<!-- not run -->"
INCLUDE_MARKER = re.compile(r"<!--\s*include\s+(\S+)\s*-->")
FENCE_OPEN = re.compile(r"^(\s*)```python\s*$")

STAND_INS = {
    "my_function": (
        "from aws_cdk import aws_lambda as _stand_in_lambda\n"
        "my_function = _stand_in_lambda.Function(\n"
        '    stack, "StandInFunction", runtime=_stand_in_lambda.Runtime.PYTHON_3_14,\n'
        '    handler="index.handler",\n'
        '    code=_stand_in_lambda.Code.from_inline("def handler(event, context):\\n    return None\\n"),\n'
        ")\n"
    ),
}


@dataclass(frozen=True)
class Snippet:
    line: int  # 1-based line of the opening fence in README.md
    code: str
    marker: str  # the line before the fence, stripped

    @property
    def skipped(self) -> bool:
        return self.marker == SKIP_MARKER

    @property
    def included_file(self) -> str | None:
        found = INCLUDE_MARKER.fullmatch(self.marker)
        return found.group(1) if found else None


def python_snippets(text: str) -> list[Snippet]:
    """The ```python blocks of a Markdown text, with the line before each fence."""
    lines = text.splitlines()
    snippets = []
    index = 0
    while index < len(lines):
        opened = FENCE_OPEN.match(lines[index])
        if not opened:
            index += 1
            continue
        indent = len(opened.group(1))
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"README.md:{index + 1}: the ```python block is never closed")
        body = "\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n"
        marker = lines[index - 1].strip() if index > 0 else ""
        snippets.append(Snippet(line=index + 1, code=body, marker=marker))
        index = end + 1
    return snippets


def undefined_names(code: str) -> set[str]:
    """Names the code reads but never binds (assignments, imports, definitions, loop targets, ...)."""
    tree = ast.parse(code)
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read - bound - set(dir(builtins))


def with_stand_ins(code: str) -> str:
    """``code`` with a stand-in for each undefined name, just before its first top-level use."""
    missing = undefined_names(code)
    unknown = missing - set(STAND_INS)
    if unknown:
        raise AssertionError(f"the snippet uses {sorted(unknown)} without defining them; add stand-ins")
    lines = code.splitlines(keepends=True)
    inserts: dict[int, list[str]] = {}
    for statement in ast.parse(code).body:
        used = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name)} & missing
        for name in sorted(used):
            inserts.setdefault(statement.lineno - 1, []).append(STAND_INS[name])
        missing -= used
    return "".join("".join(inserts.get(i, [])) + line for i, line in enumerate(lines))


SNIPPETS = python_snippets(README.read_text())


def test_readme_parser_finds_blocks_markers_and_stand_in_positions() -> None:
    text = "intro\n<!-- not run -->\n```python\nx = 1\n```\n<!-- include a/b.py -->\n```python\ny = x\n```\n"
    first, second = python_snippets(text)
    assert (first.line, first.code, first.skipped) == (3, "x = 1\n", True)
    assert (second.included_file, second.skipped) == ("a/b.py", False)
    assert undefined_names("import os\nstack = os.sep\nf(my_function)\n") == {"f", "my_function"}
    code = with_stand_ins("stack = 1\nprint(stack)\nprint(my_function)\n")
    assert code.index("my_function = ") > code.index("print(stack)")


@pytest.mark.slow
@pytest.mark.parametrize(
    "snippet", [s for s in SNIPPETS if not s.skipped], ids=lambda s: f"README.md:{s.line}"
)
def test_readme_python_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    if snippet.included_file is not None:
        included = (REPO / snippet.included_file).read_text()
        assert snippet.code == included, f"README.md:{snippet.line} differs from {snippet.included_file}"
    script = tmp_path / "snippet.py"
    script.write_text(with_stand_ins(snippet.code))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env["CDK_OUTDIR"] = str(tmp_path / "cdk.out")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"README.md:{snippet.line}\n{result.stdout}{result.stderr}"
