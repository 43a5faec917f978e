"""The data lifecycle example rehearsed: an import, a data deletion and a dataset export chained in one
stack deploy green against the local stand-ins, with IAM enforced offline; the deletion erases the
users its list names and the export then holds the dataset's rows without them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from constructs_lib.rehearsal.result import Result
from constructs_lib.rehearsal.run import rehearse

pytestmark = pytest.mark.slow

# examples/data/end_to_end/interactions/interactions.csv: 1,500 rows; examples/data/data_lifecycle/erase/
# users.csv names user-001 and user-002.
ROWS = 1500


def _rows_of(user: str) -> int:
    from examples.data_lifecycle import SAMPLE_DATA

    lines = (SAMPLE_DATA / "interactions" / "interactions.csv").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split(",")[0] == user)


@pytest.fixture(scope="module")
def rehearsed(example_apps: Mapping[str, Any]) -> Result:
    return rehearse(example_apps["data_lifecycle"].outdir, update=False)


def test_the_three_jobs_deploy_green_in_their_chain(rehearsed: Result) -> None:
    assert rehearsed.ok, rehearsed.report
    load, erase, export = (
        rehearsed.job(name) for name in ("ImportInteractions", "EraseRequestedUsers", "ExportInteractions")
    )
    assert [job.status for job in (load, erase, export)] == ["ACTIVE", "ACTIVE", "ACTIVE"]
    assert [job.kind for job in (erase, export)] == ["data-deletion", "dataset-export"]
    assert load.ended_at is not None and erase.created_at is not None and erase.created_at >= load.ended_at
    assert (
        erase.ended_at is not None and export.created_at is not None and export.created_at >= erase.ended_at
    )


def test_the_deletion_erased_the_records_of_the_users_its_list_names(rehearsed: Result) -> None:
    erased = _rows_of("user-001") + _rows_of("user-002")
    assert erased > 0
    erase = rehearsed.job("EraseRequestedUsers")
    notes = [entry.text for entry in rehearsed.timeline if entry.key == erase.job_name]
    assert f"{erased} records deleted" in notes


def test_the_export_holds_the_dataset_without_the_erased_users(rehearsed: Result) -> None:
    export = rehearsed.job("ExportInteractions")
    (written,) = export.outputs
    assert written.uri.endswith(
        f"/dataset-export/PersonalizeDataLifecycle/ExportInteractions/{export.job_name}/part-00000.csv"
    )
    # Lines of the file: the CSV header and the rows left.
    assert written.records == 1 + ROWS - _rows_of("user-001") - _rows_of("user-002")
