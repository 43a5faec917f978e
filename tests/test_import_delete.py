"""An import meets a delete (issue 20, F2): Personalize refuses to delete a dataset while an import into
it runs, and an import cannot be stopped. The import's Delete waits for its end as long as the on-event
function may run (about 13 minutes); an import that does not wait for its end and writes into a
``CfnDataset`` of its stack warns at synth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_personalize as personalize
from aws_cdk.assertions import Annotations, Match

import constructs_lib._job as job_module
from constructs_lib import BatchInferenceStorage, DatasetImportJob
from constructs_lib._contract import contract
from constructs_lib.dataset_import import IMPORT_BEFORE_NATIVE_DELETE_WARNING
from constructs_lib.rehearsal import rehearse
from constructs_lib.rehearsal.result import EXIT_OK
from tests.apps import SynthesizedApp, synthesize

DATASET_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/INTERACTIONS"


def _import_warnings(*, wait: bool, native: bool) -> list[str]:
    app = cdk.App()
    stack = cdk.Stack(app, "Imports", env=cdk.Environment(account="123456789012", region="us-east-1"))
    dataset_arn = DATASET_ARN
    if native:
        dataset_arn = personalize.CfnDataset(
            stack,
            "Interactions",
            dataset_group_arn="arn:aws:personalize:us-east-1:123456789012:dataset-group/shop",
            dataset_type="Interactions",
            name="interactions",
            schema_arn="arn:aws:personalize:us-east-1:123456789012:schema/interactions",
        ).attr_dataset_arn
    DatasetImportJob(
        stack,
        "Import",
        dataset_arn=dataset_arn,
        data_path="interactions/",
        storage=BatchInferenceStorage(stack, "Storage"),
        wait=wait,
    )
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp(".*"))
    return [str(entry.entry.data) for entry in found]


def test_an_unwaited_import_into_a_dataset_of_its_stack_warns_what_a_delete_meets() -> None:
    (warning,) = [w for w in _import_warnings(wait=False, native=True) if "does not wait" in w]
    assert IMPORT_BEFORE_NATIVE_DELETE_WARNING in warning
    assert "13 minutes" in warning and "DELETE_FAILED" in warning and "wait=True" in warning


@pytest.mark.parametrize(("wait", "native"), [(True, True), (False, False)], ids=["waited", "literal-arn"])
def test_a_waited_import_or_a_dataset_outside_the_stack_does_not_warn(wait: bool, native: bool) -> None:
    warnings = _import_warnings(wait=wait, native=native)
    assert not [warning for warning in warnings if IMPORT_BEFORE_NATIVE_DELETE_WARNING in warning]


@pytest.mark.slow
def test_upgrading_to_the_longer_timeouts_runs_no_job_again(
    tmp_path: Path, example_apps: Mapping[str, SynthesizedApp]
) -> None:
    # The first deploy after the upgrade changes each job resource's ServiceTimeout (600 -> 900) and the
    # on-event function's timeout (300 -> 840): CloudFormation sends every job resource an Update, and
    # each keeps its job.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(job_module, "SERVICE_TIMEOUT", cdk.Duration.seconds(600))
        patch.setattr(contract, "ON_EVENT_TIMEOUT_SECONDS", 300)
        before = synthesize("end_to_end", tmp_path / "before", nag=False).outdir
    after = example_apps["end_to_end"].outdir  # the app as the library makes it now (the session's synth)
    template = json.loads((before / "PersonalizeEndToEnd.template.json").read_text())
    assert {"600"} == {
        resource["Properties"]["ServiceTimeout"]
        for resource in template["Resources"].values()
        if "ServiceTimeout" in resource.get("Properties", {})
    }
    result = rehearse(before, update_to=after)
    assert result.exit_code == EXIT_OK, result.report
    assert [job.phase for job in result.jobs] == ["create"] * len(result.jobs)
    assert len(result.personalize_jobs) == len(result.jobs)
    # Each job resource received the Update (its ServiceTimeout changed) and kept its job.
    assert sorted(result.changes) == sorted(f"{job.stack}/{job.construct_id}: kept" for job in result.jobs)
