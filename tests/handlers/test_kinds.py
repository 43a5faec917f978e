"""Every job kind goes through the same handler and monitor; what differs is its declaration."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .testkit import (
    DATASET_IMPORT,
    LAMBDA_DIR,
    PUT_EVENTS_OK,
    SEGMENT,
    SOLUTION_ARN,
    SOLUTION_VERSION,
    T0,
    Stubs,
    arn_of,
    at,
    cfn_event,
    describe_response,
    kind_properties,
    monitor_state,
    name_of,
    props_of,
    request_of,
)

import contract  # isort: skip  (on sys.path once testkit is imported)
import handler  # isort: skip
import monitor  # isort: skip

VERSION_ARN = f"{SOLUTION_ARN}/5e6f7a8b"


# --- the declaration is the only place a kind's API lives ------------------------------------------------


def _kind_specific_words() -> set[str]:
    words: set[str] = set()
    for kind in contract.KINDS.values():
        for value in (
            kind.create,
            kind.describe,
            kind.described,
            kind.arn_member,
            kind.list_by_name,
            kind.list_member,
            kind.stop,
            kind.metrics,
        ):
            if value:
                words.update({value, contract.snake_case(value)})
    return words


@pytest.mark.parametrize("module", sorted(p.name for p in LAMBDA_DIR.glob("*.py") if p.name != "contract.py"))
def test_no_handler_module_names_a_kind_specific_api_call(module: str) -> None:
    text = (LAMBDA_DIR / module).read_text()
    found = sorted(word for word in _kind_specific_words() if re.search(rf"\b{re.escape(word)}\b", text))
    assert found == [], f"{module} names {found}: only lambda/contract.py may"


def test_every_kind_declares_its_create_describe_and_resource_type() -> None:
    for kind in contract.KINDS.values():
        assert kind.resource_type.startswith("Custom::Personalize")
        assert kind.create.startswith("Create") and kind.describe.startswith("Describe")
        assert set(kind.defining) >= {contract.RUN_TOKEN, contract.JOB_NAME}


# --- batch segment and dataset import: jobs named like batch inference jobs ------------------------------


@pytest.mark.parametrize("kind", [SEGMENT, DATASET_IMPORT], ids=lambda kind: kind.key)
def test_create_starts_the_kinds_job_with_its_own_call(stubs: Stubs, kind: contract.JobKind) -> None:
    properties = kind_properties(kind)
    name = name_of(properties, kind=kind)
    stubs.personalize.add_response(
        contract.snake_case(kind.create),
        {kind.arn_member: arn_of(name, kind)},
        request_of(properties, kind=kind),
    )
    stubs.expect_first_delivery_of(arn_of(name, kind))
    stubs.expect_start()
    result = handler.handle_event(cfn_event("Create", properties, kind=kind), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name, kind)
    assert result["Data"]["Status"] == "PENDING"
    assert stubs.monitor_input()["resourceType"] == kind.resource_type


def test_a_segment_job_answers_where_its_results_go(stubs: Stubs) -> None:
    properties = kind_properties(SEGMENT)
    name = name_of(properties, kind=SEGMENT)
    stubs.personalize.add_response("create_batch_segment_job", {"batchSegmentJobArn": arn_of(name, SEGMENT)})
    stubs.expect_first_delivery_of(arn_of(name, SEGMENT))
    stubs.expect_start()
    data = handler.handle_event(cfn_event("Create", properties, kind=SEGMENT), stubs.clients, "req-1")["Data"]
    assert data["OutputS3Uri"] == f"s3://out-bucket/batch-segment/RecsStack/Job/{name}/"
    assert data["ManifestUri"] == "s3://out-bucket/batch-segment/RecsStack/Job/latest.json"


def test_a_dataset_import_answers_no_output_attributes(stubs: Stubs) -> None:
    properties = kind_properties(DATASET_IMPORT)
    name = name_of(properties, kind=DATASET_IMPORT)
    stubs.personalize.add_response(
        "create_dataset_import_job", {"datasetImportJobArn": arn_of(name, DATASET_IMPORT)}
    )
    stubs.expect_first_delivery_of(arn_of(name, DATASET_IMPORT))
    stubs.expect_start()
    data = handler.handle_event(cfn_event("Create", properties, kind=DATASET_IMPORT), stubs.clients, "req-1")[
        "Data"
    ]
    assert set(data) == {"JobArn", "JobName", "Status"}


def test_an_incremental_import_into_another_dataset_is_a_new_run(stubs: Stubs) -> None:
    old = kind_properties(DATASET_IMPORT)
    new = kind_properties(DATASET_IMPORT, ImportMode="INCREMENTAL")
    new_name = name_of(new, kind=DATASET_IMPORT)
    stubs.personalize.add_response(
        "create_dataset_import_job", {"datasetImportJobArn": arn_of(new_name, DATASET_IMPORT)}
    )
    stubs.expect_first_delivery()
    stubs.expect_start()
    stubs.expect_list_monitors()  # the old import's monitors
    event = cfn_event(
        "Update",
        new,
        old_properties=old,
        physical_id=arn_of(name_of(old, kind=DATASET_IMPORT), DATASET_IMPORT),
        kind=DATASET_IMPORT,
    )
    assert handler.handle_event(event, stubs.clients, "req-1")["PhysicalResourceId"] == arn_of(
        new_name, DATASET_IMPORT
    )


# --- solution versions: the service chooses the ARN ------------------------------------------------------


def expect_listing(stubs: Stubs, *versions: str) -> None:
    """ListSolutionVersions of the solution: these versions (the lookup before every create)."""
    stubs.personalize.add_response(
        "list_solution_versions",
        {"solutionVersions": [{"solutionVersionArn": arn} for arn in versions]},
        {"solutionArn": SOLUTION_ARN, "maxResults": 100},
    )


def sv_create(stubs: Stubs, properties: dict[str, Any]) -> dict[str, Any]:
    return handler.handle_event(
        cfn_event("Create", properties, kind=SOLUTION_VERSION), stubs.clients, "req-1"
    )


def test_a_solution_version_is_the_resource_under_the_arn_the_service_gave(stubs: Stubs) -> None:
    properties = kind_properties(SOLUTION_VERSION)
    name = name_of(properties, kind=SOLUTION_VERSION)
    expect_listing(stubs)  # looked up first: none of that name yet
    stubs.personalize.add_response(
        "create_solution_version",
        {"solutionVersionArn": VERSION_ARN},
        {"name": name, "solutionArn": SOLUTION_ARN, "trainingMode": "FULL"},
    )
    stubs.expect_first_delivery()  # known only once created: this request's own monitor
    stubs.expect_start()
    result = sv_create(stubs, properties)
    assert result["PhysicalResourceId"] == VERSION_ARN
    assert result["Data"] == {
        "JobArn": VERSION_ARN,
        "JobName": name,
        "Status": "PENDING",
        "SolutionVersionArn": VERSION_ARN,
    }


def test_a_re_sent_create_finds_its_solution_version_by_name(stubs: Stubs) -> None:
    # Looked up before the create: Personalize does not promise to refuse a second version of one name.
    properties = kind_properties(SOLUTION_VERSION)
    request = request_of(properties, kind=SOLUTION_VERSION)
    expect_listing(stubs, f"{SOLUTION_ARN}/0000aaaa", VERSION_ARN)
    other = {**request, "name": "an-older-version"}
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(other, "ACTIVE", kind=SOLUTION_VERSION, arn=f"{SOLUTION_ARN}/0000aaaa"),
    )
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(request, "CREATE IN_PROGRESS", kind=SOLUTION_VERSION, arn=VERSION_ARN),
    )
    stubs.expect_first_delivery()  # known only once created: this request's own monitor
    stubs.expect_start()
    result = sv_create(stubs, properties)
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (VERSION_ARN, "IN PROGRESS")
    assert "CreateSolutionVersion" not in stubs.operations()


def test_a_version_created_by_a_racing_delivery_is_found_after_its_name_is_refused(stubs: Stubs) -> None:
    properties = kind_properties(SOLUTION_VERSION)
    request = request_of(properties, kind=SOLUTION_VERSION)
    expect_listing(stubs)
    stubs.personalize.add_client_error("create_solution_version", "ResourceAlreadyExistsException", "exists")
    expect_listing(stubs, VERSION_ARN)
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(request, "CREATE PENDING", kind=SOLUTION_VERSION, arn=VERSION_ARN),
    )
    stubs.expect_first_delivery()
    stubs.expect_start()
    assert sv_create(stubs, properties)["PhysicalResourceId"] == VERSION_ARN


def test_a_solution_version_waits_a_while_for_a_training_slot_then_fails_naming_the_quota(
    stubs: Stubs,
) -> None:
    slept: list[float] = []
    expect_listing(stubs)
    for _ in range(len(handler.CREATE_RETRY_SECONDS) + 1):
        stubs.personalize.add_client_error(
            "create_solution_version", "LimitExceededException", "20 trainings"
        )
    event = cfn_event("Create", kind_properties(SOLUTION_VERSION), kind=SOLUTION_VERSION)
    with pytest.raises(handler.JobResourceError, match="cannot wait for a free slot") as raised:
        handler.handle_event(event, stubs.clients, "req-1", sleep=slept.append)
    assert "20 trainings" in str(raised.value)
    assert slept == list(handler.CREATE_RETRY_SECONDS)


def test_a_solution_version_gets_a_slot_on_a_later_try(stubs: Stubs) -> None:
    expect_listing(stubs)
    stubs.personalize.add_client_error("create_solution_version", "LimitExceededException", "20 trainings")
    stubs.personalize.add_response("create_solution_version", {"solutionVersionArn": VERSION_ARN})
    stubs.expect_first_delivery()  # known only once created: this request's own monitor
    stubs.expect_start()
    event = cfn_event("Create", kind_properties(SOLUTION_VERSION), kind=SOLUTION_VERSION)
    result = handler.handle_event(event, stubs.clients, "req-1", sleep=lambda _: None)
    assert result["PhysicalResourceId"] == VERSION_ARN


def test_a_late_copy_of_a_create_finds_its_ended_monitor_and_stops_no_other(stubs: Stubs) -> None:
    # The version is adopted by name; its monitor (this request's) has ended: a rollback or a later
    # request may monitor it now, and is left alone.
    properties = kind_properties(SOLUTION_VERSION)
    request = request_of(properties, kind=SOLUTION_VERSION)
    expect_listing(stubs, VERSION_ARN)
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(request, "ACTIVE", kind=SOLUTION_VERSION, arn=VERSION_ARN),
    )
    stubs.expect_own_monitor(VERSION_ARN, "SUCCEEDED", {"jobArn": VERSION_ARN, "status": "ACTIVE"})
    result = sv_create(stubs, properties)
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (VERSION_ARN, "ACTIVE")
    assert "ListExecutions" not in stubs.operations() and "StartExecution" not in stubs.operations()


def test_a_stopped_solution_version_of_the_same_definition_is_refused_naming_run_token(stubs: Stubs) -> None:
    # Training a replaced or deleted resource started was stopped; the same name cannot train again.
    properties = kind_properties(SOLUTION_VERSION)
    request = request_of(properties, kind=SOLUTION_VERSION)
    expect_listing(stubs, VERSION_ARN)
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(request, "CREATE STOPPED", kind=SOLUTION_VERSION, arn=VERSION_ARN),
    )
    with pytest.raises(handler.JobResourceError, match="it was stopped before it finished") as raised:
        sv_create(stubs, properties)
    assert "set run_token to a new value" in str(raised.value)


@pytest.mark.parametrize(("status", "stopped"), [("CREATE IN_PROGRESS", True), ("ACTIVE", False)])
def test_deleting_a_solution_version_stops_its_training_while_it_runs(
    stubs: Stubs, status: str, stopped: bool
) -> None:
    properties = kind_properties(SOLUTION_VERSION)
    request = request_of(properties, kind=SOLUTION_VERSION)
    stubs.expect_list_monitors()
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(request, status, kind=SOLUTION_VERSION, arn=VERSION_ARN),
    )
    if stopped:
        stubs.personalize.add_response(
            "stop_solution_version_creation", {}, {"solutionVersionArn": VERSION_ARN}
        )
        stubs.personalize.add_response(  # waited for: the solution cannot be deleted before
            "describe_solution_version",
            describe_response(request, "CREATE STOPPED", kind=SOLUTION_VERSION, arn=VERSION_ARN),
        )
    event = cfn_event("Delete", properties, physical_id=VERSION_ARN, kind=SOLUTION_VERSION)
    result = handler.handle_event(event, stubs.clients, "req-1", sleep=lambda _: None)
    assert result == {"PhysicalResourceId": VERSION_ARN}
    assert ("StopSolutionVersionCreation" in stubs.operations()) is stopped


def test_a_trained_versions_end_event_carries_its_offline_metrics(stubs: Stubs) -> None:
    properties = kind_properties(SOLUTION_VERSION)
    request = request_of(properties, kind=SOLUTION_VERSION)
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(request, "ACTIVE", kind=SOLUTION_VERSION, arn=VERSION_ARN),
    )
    stubs.personalize.add_response("list_tags_for_resource", {"tags": []})
    stubs.personalize.add_response(
        "get_solution_metrics",
        {"solutionVersionArn": VERSION_ARN, "metrics": {"coverage": 0.27, "precision_at_25": 0.04}},
        {"solutionVersionArn": VERSION_ARN},
    )
    stubs.events.add_response("put_events", PUT_EVENTS_OK)
    stubs.personalize.add_response("tag_resource", {})
    state = monitor_state(properties, kind=SOLUTION_VERSION, job_arn=VERSION_ARN, started_at=T0, checks=1)
    result = monitor.run_check({"state": state, "now": at(5400)}, stubs.clients, "req-1")
    assert result["result"] == "SUCCESS"
    (params,) = stubs.params_of("PutEvents")
    import json

    (entry,) = params["Entries"]
    detail = json.loads(entry["Detail"])
    assert entry["DetailType"] == "Personalize Solution Version State Change"
    assert (detail["kind"], detail["metrics"]) == (
        "solution-version",
        {"coverage": 0.27, "precision_at_25": 0.04},
    )


@pytest.mark.parametrize("kind", contract.KINDS.values(), ids=lambda kind: kind.key)
def test_a_resource_answers_exactly_the_attributes_its_kind_declares(kind: contract.JobKind) -> None:
    # The constructs read these with Fn::GetAtt: one missing would fail a deploy that reads it.
    props = props_of(kind_properties(kind), kind)
    arn = f"{SOLUTION_ARN}/0001" if kind is SOLUTION_VERSION else arn_of("a-job", kind)
    data = handler.response(props, "a-job", arn, contract.PENDING)["Data"]
    assert set(data) == set(kind.attributes)
