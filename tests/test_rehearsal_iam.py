"""IAM as a real account enforces it: the rehearsal checks every call against the synthesized policies,
so a permission planted out of a template fails the rehearsal, naming the action, resource and role."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.rehearsal import Result, rehearse
from tests.variants import BASE, Version

pytestmark = pytest.mark.slow

Template = dict[str, Any]


@pytest.fixture(scope="module")
def base_out(lifecycle_assemblies: dict[Version, Path]) -> Path:
    return lifecycle_assemblies[BASE]


def planted(base_out: Path, tmp_path: Path, edit: Callable[[Template], None]) -> Result:
    copy = tmp_path / "planted"
    shutil.copytree(base_out, copy)
    (template_path,) = copy.glob("*.template.json")
    template: Template = json.loads(template_path.read_text())
    edit(template)
    template_path.write_text(json.dumps(template))
    return rehearse(copy, update=False)


def without(template: Template, fragment: str, drop: Callable[[dict[str, Any]], bool]) -> None:
    """Drop the statements ``drop`` picks from the policies whose logical id contains ``fragment``."""
    found = False
    for logical_id, resource in template["Resources"].items():
        if fragment not in logical_id:
            continue
        properties = resource.get("Properties", {})
        document = properties.get("PolicyDocument") or properties.get("KeyPolicy")
        if document is None:
            continue
        kept = [statement for statement in document["Statement"] if not drop(statement)]
        found = found or len(kept) < len(document["Statement"])
        document["Statement"] = kept
    assert found, f"nothing to plant in {fragment}"


def sid(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda statement: statement.get("Sid") == name


def denial(result: Result, action: str) -> str:
    found = [failure for failure in result.failures if f"may not {action} on " in failure]
    assert found, result.report
    return found[0]


def test_the_unchanged_app_makes_no_call_its_policies_deny(base_out: Path) -> None:
    result = rehearse(base_out, update=False)
    assert result.exit_code == 0, result.report
    assert not [failure for failure in result.failures if failure.startswith("IAM:")]


def test_a_job_create_the_policies_do_not_allow_fails_naming_action_job_and_role(
    base_out: Path, tmp_path: Path
) -> None:
    def edit(template: Template) -> None:
        for fragment in ("OnEventFunctionPolicy", "CheckFunctionPolicy"):
            without(template, fragment, sid("JobsBatchInference"))

    result = planted(base_out, tmp_path, edit)
    assert result.exit_code != 0
    found = denial(result, "personalize:CreateBatchInferenceJob")
    assert "OnEventFunctionRole" in found and ":batch-inference-job/Lifecycle-Job-" in found


def test_a_role_passed_without_pass_role_fails_naming_the_role_passed(base_out: Path, tmp_path: Path) -> None:
    def edit(template: Template) -> None:
        # Wherever the runtime places the statement (its functions' policies, or one kept for the storage).
        without(template, "", sid("PassJobRoles"))

    result = planted(base_out, tmp_path, edit)
    found = denial(result, "iam:PassRole")
    assert ":role/Lifecycle-StorageRole" in found


def test_an_end_event_the_check_may_not_put_fails_naming_the_bus(base_out: Path, tmp_path: Path) -> None:
    result = planted(
        base_out, tmp_path, lambda template: without(template, "CheckFunctionPolicy", sid("PutEndEvents"))
    )
    found = denial(result, "events:PutEvents")
    assert "CheckFunctionRole" in found and ":event-bus/default" in found


def test_a_key_the_personalize_role_may_not_use_fails_the_job_and_the_rehearsal(
    base_out: Path, tmp_path: Path
) -> None:
    def edit(template: Template) -> None:
        without(template, "StorageRolePolicy", sid("UseKeys"))
        without(template, "StorageInputKey", sid("PersonalizeRole"))

    result = planted(base_out, tmp_path, edit)
    found = denial(result, "kms:Decrypt")
    assert "StorageRole" in found and ":key/" in found
    assert result.job("Job").status == "CREATE FAILED"
    assert "Insufficient privileges" in str(result.job("Job").failure_reason)
