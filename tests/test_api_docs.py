"""The API reference: every public class, prop, method and attribute of constructs_lib is documented, and
`make docs` (scripts/api_docs.py, pdoc) renders it."""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import runpy
import textwrap
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import constructs_lib
from constructs_lib import (
    BatchInferenceJob,
    BatchInferenceStorage,
    BatchSegmentJob,
    DatasetImportJob,
    PersonalizeJobRuntime,
    SolutionVersion,
)
from tests.apps import REPO

PUBLIC = [getattr(constructs_lib, name) for name in constructs_lib.__all__]
CLASSES = [obj for obj in PUBLIC if isinstance(obj, type)]


def _documented_attributes(cls: type) -> dict[str, bool]:
    """Names assigned or annotated in the class body -> whether a docstring follows them."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
    found: dict[str, bool] = {}
    for index, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        elif (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            name = node.targets[0].id
        else:
            continue
        following = body[index + 1] if index + 1 < len(body) else None
        found[name] = (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        )
    return found


def _member_doc(cls: type, name: str) -> str | None:
    """The docstring of a method, property or cached property ``name`` defined on ``cls`` or its bases
    within constructs_lib; None when it is not a documentable member there."""
    for base in cls.__mro__:
        if not base.__module__.startswith("constructs_lib") or name not in vars(base):
            continue
        member = vars(base)[name]
        if isinstance(member, property | functools.cached_property):
            return member.__doc__ or ""
        if isinstance(member, staticmethod | classmethod):
            return inspect.getdoc(member.__func__) or ""
        if inspect.isfunction(member):
            return inspect.getdoc(member) or ""
    return None


def _attribute_documented(cls: type, name: str) -> bool:
    for base in cls.__mro__:
        if base.__module__.startswith("constructs_lib") and _documented_attributes(base).get(name):
            return True
    return bool(_member_doc(cls, name))


@pytest.mark.parametrize("obj", PUBLIC, ids=[getattr(o, "__name__", str(o)) for o in PUBLIC])
def test_every_public_name_has_a_docstring(obj: Any) -> None:
    assert (inspect.getdoc(obj) or "").strip(), f"{obj} has no docstring"


@pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])
def test_every_prop_method_and_member_of_a_public_class_is_documented(cls: type) -> None:
    missing: list[str] = []
    if issubclass(cls, enum.Enum):
        documented = _documented_attributes(cls)
        missing += [f"{cls.__name__}.{m.name}" for m in cls if not documented.get(m.name)]
    init = vars(cls).get("__init__")
    if init is not None:
        doc = inspect.getdoc(init) or ""
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind is parameter.KEYWORD_ONLY and f":param {parameter.name}:" not in doc:
                missing.append(f"{cls.__name__}({parameter.name}=...): no ':param {parameter.name}:'")
    for name in vars(cls):
        if name.startswith("_"):
            continue
        doc = _member_doc(cls, name)
        if doc is not None and not doc.strip():
            missing.append(f"{cls.__name__}.{name}")
        if name in _documented_attributes(cls) and not _documented_attributes(cls)[name]:
            missing.append(f"{cls.__name__}.{name} (attribute)")
    assert not missing, "undocumented: " + ", ".join(missing)


def test_every_public_attribute_of_the_constructs_is_documented() -> None:
    """What a construct sets on itself (``job.storage``, ``storage.role_policy``, ...) is documented on
    its class, or a documented property."""
    stack = cdk.Stack(cdk.App(), "Docs")
    storage = BatchInferenceStorage(stack, "Storage")
    arn = "arn:aws:personalize:us-east-1:123456789012:solution/s"
    version = SolutionVersion(stack, "Version", solution_arn=arn)
    objects: list[Any] = [
        storage,
        version,
        BatchInferenceJob(stack, "Job", solution_version_arn=f"{arn}/1", input_path="u/", storage=storage),
        BatchSegmentJob(stack, "Segments", solution_version_arn=f"{arn}/1", input_path="i/", storage=storage),
        DatasetImportJob(
            stack,
            "Import",
            dataset_arn="arn:aws:personalize:us-east-1:123456789012:dataset/g/ITEMS",
            data_path="d/",
            storage=storage,
        ),
        PersonalizeJobRuntime.of(stack),
    ]
    missing = [
        f"{type(obj).__name__}.{name}"
        for obj in objects
        for name in vars(obj)
        if not name.startswith("_") and not _attribute_documented(type(obj), name)
    ]
    assert not missing, "public attributes without a docstring: " + ", ".join(sorted(set(missing)))


@pytest.mark.slow
def test_make_docs_renders_a_page_per_public_module_with_every_public_name(tmp_path: Path) -> None:
    script = runpy.run_path(str(REPO / "scripts" / "api_docs.py"))
    pages = script["render"](tmp_path / "api")
    names = {page.relative_to(tmp_path / "api").as_posix() for page in pages}
    assert {
        "index.html",
        "constructs_lib.html",
        "constructs_lib/rehearsal.html",
        "constructs_lib/deploy_policy.html",
    } <= names
    package = (tmp_path / "api" / "constructs_lib.html").read_text()
    for name in constructs_lib.__all__:
        assert f'id="{name}"' in package, name
    assert "run_token" in package and "job_arn" in package
    makefile = (REPO / "Makefile").read_text()
    assert "scripts/api_docs.py" in makefile
    readme = (REPO / "README.md").read_text()
    assert "make docs" in readme and "docs/api/index.html" in readme
