"""Rehearsing an update between two synthesized versions of an app, as CloudFormation runs it: what
happens to each job, how the update and any rollback end, and when a stack would be stuck."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from constructs_lib.rehearsal import Result, rehearse
from constructs_lib.rehearsal.result import EXIT_FAILED, EXIT_OK, EXIT_STUCK
from tests.variants import BASE, Version

pytestmark = pytest.mark.slow

NUM_RESULTS = replace(BASE, num_results=50)
TAGS = replace(BASE, tags="growth")
TIMEOUT = replace(BASE, timeout_hours=2)
NAMED = replace(BASE, job_name="nightly-recs")
NAMED_CHANGED = replace(NAMED, num_results=50)
QUEUED = replace(BASE, wait=False, second_job=True)
QUEUED_TAGS = replace(QUEUED, tags="growth")
VERSIONS = (BASE, NUM_RESULTS, TAGS, TIMEOUT, NAMED, NAMED_CHANGED, QUEUED, QUEUED_TAGS)


@pytest.fixture(scope="module")
def out(lifecycle_assemblies: dict[Version, Path]) -> dict[Version, Path]:
    assert set(VERSIONS) <= set(lifecycle_assemblies), "tests/variants.py must list every version used here"
    return lifecycle_assemblies


def update(out: dict[Version, Path], old: Version, new: Version, **options: object) -> Result:
    return rehearse(out[old], update_to=out[new], **options)  # type: ignore[arg-type]


def test_a_changed_definition_replaces_the_job_and_the_update_completes(out: dict[Version, Path]) -> None:
    result = update(out, BASE, NUM_RESULTS)
    assert result.exit_code == EXIT_OK, result.report
    assert "update: update Lifecycle -> UPDATE_COMPLETE" in result.operations
    assert "Lifecycle/Job: replaced: a new job (NumResults changed)" in result.changes
    created, updated = result.job("Job", "create"), result.job("Job", "update")
    assert created.job_name != updated.job_name and updated.status == "ACTIVE"
    assert f"cleanup: Delete of the replaced {created.job_arn} -> DELETE_COMPLETE" in result.report


def test_a_tags_only_change_retags_the_job_in_place(out: dict[Version, Path]) -> None:
    result = update(out, BASE, TAGS)
    assert result.exit_code == EXIT_OK, result.report
    assert "Lifecycle/Job: retagged in place" in result.changes
    assert len(result.personalize_jobs) == 1
    assert "tags set: [('constructs-lib:end-reported', 'SUCCESS'), ('team', 'growth')]" in result.report


def test_a_new_timeout_keeps_the_ended_job_and_its_new_wait_condition_completes_at_once(
    out: dict[Version, Path],
) -> None:
    result = update(out, BASE, TIMEOUT)
    assert result.exit_code == EXIT_OK, result.report
    assert "Lifecycle/Job: kept, waited for again" in result.changes
    assert len(result.personalize_jobs) == 1
    # One end event for the one job run, though two monitors saw it end.
    assert result.events == 1
    assert result.signals == 2


def test_a_definition_change_under_an_explicit_name_is_refused_and_rolled_back_cleanly(
    out: dict[Version, Path],
) -> None:
    result = update(out, NAMED, NAMED_CHANGED)
    assert result.exit_code == EXIT_FAILED, result.report
    (failed,) = [line for line in result.operations if line.startswith("update:")]
    assert "-> UPDATE_ROLLBACK_COMPLETE" in failed and "already exists with another definition" in failed
    assert result.stuck == ()


def test_a_job_that_fails_during_the_update_rolls_back_to_the_job_the_resource_had(
    out: dict[Version, Path],
) -> None:
    result = update(out, BASE, NUM_RESULTS, fail_update={"Job": "Input data is malformed"})
    assert result.exit_code == EXIT_FAILED, result.report
    assert any("UPDATE_ROLLBACK_COMPLETE" in line for line in result.operations)
    assert result.stuck == ()
    created, updated = result.job("Job", "create"), result.job("Job", "update")
    assert updated.status == "CREATE FAILED" and "Input data is malformed" in str(updated.failure_reason)
    assert "rollback: Update (old and new swapped) -> " + str(created.job_arn) in result.report
    assert f"rollback cleanup: Delete of the new {updated.job_arn} -> DELETE_COMPLETE" in result.report


def test_a_sibling_failing_after_the_jobs_update_rolls_it_back(out: dict[Version, Path]) -> None:
    # The new WaitCondition, which the update creates after the job's Update, fails.
    template = json.loads((out[NUM_RESULTS] / "Lifecycle.template.json").read_text())
    (wait,) = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudFormation::WaitCondition"
    ]
    result = update(out, BASE, NUM_RESULTS, fail_resources=[wait])
    assert result.exit_code == EXIT_FAILED, result.report
    assert any(
        wait in line and "Resource handler returned message: injected failure" in line
        for line in result.operations
    )
    assert any("UPDATE_ROLLBACK_COMPLETE" in line for line in result.operations)
    created = result.job("Job", "create")
    assert f"rollback: Update (old and new swapped) -> {created.job_arn}" in result.report
    assert result.stuck == ()


def test_a_queued_jobs_tags_change_while_it_waits_for_a_slot(out: dict[Version, Path]) -> None:
    result = update(out, QUEUED, QUEUED_TAGS, quota=1)
    assert result.exit_code == EXIT_OK, result.report
    assert any("(job QUEUED)" in line for line in result.report.splitlines())
    assert result.stuck == ()


def test_a_handler_that_cannot_delete_leaves_the_stack_stuck_with_exit_3(
    out: dict[Version, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(out[BASE], broken)
    (handler,) = broken.glob("asset.*/handler.py")
    code = handler.read_text()
    assert "\ndef on_delete(" in code
    # Whatever its signature: the handler's on_delete is replaced by one that always raises.
    code = code.replace("\ndef on_delete(", "\ndef _kept_on_delete(") + (
        "\n\ndef on_delete(*args: Any, **kwargs: Any) -> Any:\n"
        '    raise RuntimeError("planted: this handler cannot delete")\n'
    )
    handler.write_text(code)
    result = rehearse(broken, update=False)
    assert result.exit_code == EXIT_STUCK, result.report
    assert any("DELETE_FAILED" in problem for problem in result.stuck)
    assert "STUCK:" in result.report
