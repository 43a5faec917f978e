"""The integration test app (tests/integ/integ_batch_inference.py): what it deploys and asserts, and its
committed snapshot.

The app runs only in a real account (README, "Testing in your account"). Here it is synthesized once,
with the context integ-runner uses, and compared with the snapshot the way integ-runner compares it:
every template, with asset hashes (which change with any handler code change) and the assertions'
per-synth salt normalised away.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.apps import REPO
from tests.integ import integ_batch_inference as integ_app
from tests.integ import snapshot

SUCCEEDS_CASE = "Succeeds/DefaultTest"
FAILS_CASE = "FailsWithTheJobsReason/FailsWithTheJobsReasonTestCase"
JOB = "Custom::PersonalizeBatchInferenceJob"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("integ")
    snapshot.synthesize(outdir)
    return outdir


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _cases(assembly: Path) -> dict[str, Any]:
    cases: dict[str, Any] = _json(assembly / "integ.json")["testCases"]
    return cases


def _template(assembly: Path, artifact_id: str) -> Template:
    return Template.from_json(_json(assembly / f"{artifact_id}.template.json"))


def _assertion_template(assembly: Path) -> dict[str, Any]:
    template: dict[str, Any] = _json(
        assembly / f"{_cases(assembly)[SUCCEEDS_CASE]['assertionStackName']}.template.json"
    )
    return template


def _parsed(value: str | dict[str, Any]) -> Any:
    """JSON text, or an ``Fn::Join`` of JSON text and tokens, parsed; a token becomes the name it refers to
    (a ``Ref``'s logical id, an ``Fn::ImportValue``'s export name)."""
    if isinstance(value, str):
        return json.loads(value)
    parts = value["Fn::Join"][1]
    return json.loads(
        "".join(p if isinstance(p, str) else str(p.get("Ref") or p["Fn::ImportValue"]) for p in parts)
    )


def _sdk_calls(assembly: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The assertion stack's API calls by (service, api): their parameters, expectation and waiter."""
    return {
        (r["Properties"]["service"], r["Properties"]["api"]): r["Properties"]
        for r in _assertion_template(assembly)["Resources"].values()
        if r["Type"].startswith("Custom::DeployAssert@SdkCall")
    }


def _export(name: str) -> str:
    """The export a test-stack attribute reaches the assertion stack by (matched by its start)."""
    return f"{integ_app.SUCCEEDS_STACK}:ExportsOutput{name}"


def _s3_path(bucket: str, key: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["s3://", {"Ref": bucket}, f"/{key}"]]}


# ------------------------------------------------------------------- the IntegTest structure


def test_the_app_has_two_test_cases_each_deploying_one_stack(synthesized: Path) -> None:
    cases = _cases(synthesized)
    assert sorted(cases) == sorted([SUCCEEDS_CASE, FAILS_CASE])
    assert cases[SUCCEEDS_CASE]["stacks"] == [integ_app.SUCCEEDS_STACK]
    assert cases[FAILS_CASE]["stacks"] == ["FailsWithTheJobsReason"]
    assert cases[FAILS_CASE]["stackName"] == integ_app.FAILS_STACK


def test_the_failing_case_expects_the_deploy_to_fail_with_the_jobs_reason(synthesized: Path) -> None:
    deploy = _cases(synthesized)[FAILS_CASE]["cdkCommandOptions"]["deploy"]
    assert deploy == {"expectError": True, "expectedMessage": integ_app.EXPECTED_FAILURE}
    # integ-runner matches it against the deploy error, which carries the WaitCondition's reason.
    template = _template(synthesized, "FailsWithTheJobsReason")
    (bucket,) = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": {"LogFilePrefix": "InputBucket/"}}}
    )
    template.has_resource_properties(JOB, {"InputPath": _s3_path(bucket, integ_app.MISSING_INPUT_KEY)})
    assert "Custom::AWS" not in json.dumps(template.to_json())  # nothing uploads it


def test_no_case_deploys_a_previous_snapshot_first(synthesized: Path) -> None:
    # The update workflow would run every job twice.
    assert all(case["stackUpdateWorkflow"] is False for case in _cases(synthesized).values())


def test_each_case_empties_its_buckets_before_its_stack_is_destroyed(synthesized: Path) -> None:
    cases = _cases(synthesized)
    for case, stack in ((SUCCEEDS_CASE, integ_app.SUCCEEDS_STACK), (FAILS_CASE, integ_app.FAILS_STACK)):
        assert cases[case]["hooks"] == {
            "preDestroy": [f"python integ_batch_inference.py --empty-buckets {stack}"]
        }


def test_the_assertions_are_three_api_calls(synthesized: Path) -> None:
    assert sorted(_sdk_calls(synthesized)) == [
        ("Personalize", "describeBatchInferenceJob"),
        ("S3", "listObjectsV2"),
        ("SQS", "receiveMessage"),
    ]


def test_describe_batch_inference_job_expects_the_job_active(synthesized: Path) -> None:
    call = _sdk_calls(synthesized)["Personalize", "describeBatchInferenceJob"]
    job_arn = _parsed(call["parameters"]["batchInferenceJobArn"])
    assert job_arn.startswith(_export("FnGetAttJob"))
    assert _parsed(call["expected"]) == {
        "$ObjectLike": {"batchInferenceJob": {"batchInferenceJobArn": job_arn, "status": "ACTIVE"}}
    }


def test_list_objects_expects_the_results_file_under_the_jobs_output_prefix(synthesized: Path) -> None:
    call = _sdk_calls(synthesized)["S3", "listObjectsV2"]
    assert _parsed(call["parameters"]["Bucket"]).startswith(_export("RefStorageOutputBucket"))
    assert _parsed(call["parameters"]["Prefix"]) == integ_app.OUTPUT_PREFIX
    (entry,) = _parsed(call["expected"])["$ObjectLike"]["Contents"]["$ArrayWith"]
    prefix, job_name, file_name = entry["$ObjectLike"]["Key"].split("/")
    assert f"{prefix}/" == integ_app.OUTPUT_PREFIX
    assert job_name.startswith(_export("FnGetAttJob"))  # this run's own directory
    assert file_name == "users.json.out"


def test_receive_message_expects_the_jobs_end_event(synthesized: Path) -> None:
    call = _sdk_calls(synthesized)["SQS", "receiveMessage"]
    assert _parsed(call["parameters"]["QueueUrl"]).startswith(_export("RefEndEvents"))
    (message,) = _parsed(call["expected"])["$ObjectLike"]["Messages"]["$ArrayWith"]
    event = message["$ObjectLike"]["Body"]["$SerializedJson"]["$ObjectLike"]
    assert event["source"] == integ_app.EVENT_SOURCE
    assert event["detail-type"] == integ_app.EVENT_DETAIL_TYPE
    assert {k: v for k, v in event["detail"].items() if k != "jobArn"} == {
        "status": "ACTIVE",
        "result": "SUCCESS",
    }


def test_receive_message_is_retried_until_the_event_arrives(synthesized: Path) -> None:
    # wait_for_assertions: a Step Functions waiter repeats the call until it matches or times out.
    assert "stateMachineArn" in _sdk_calls(synthesized)["SQS", "receiveMessage"]


def test_the_assertion_provider_may_list_the_output_bucket(synthesized: Path) -> None:
    # integ-tests grants "s3:ListObjectsV2", which is no IAM action; listing is s3:ListBucket.
    statements = [
        statement
        for resource in _assertion_template(synthesized)["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        for policy in resource["Properties"].get("Policies") or []
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    resources = [s["Resource"] for s in statements if s["Action"] == ["s3:ListBucket"]]
    assert len(resources) == 1
    (bucket_arn,) = resources[0]
    assert bucket_arn["Fn::ImportValue"].startswith(_export("FnGetAttStorageOutputBucket"))


def test_the_job_runs_on_the_input_uploaded_before_it(synthesized: Path) -> None:
    template = _template(synthesized, integ_app.SUCCEEDS_STACK)
    uploads = template.find_resources("Custom::AWS")
    assert len(uploads) == 1
    (upload,) = uploads
    (bucket,) = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": {"LogFilePrefix": "InputBucket/"}}}
    )
    create = _parsed(uploads[upload]["Properties"]["Create"])
    assert (create["service"], create["action"]) == ("S3", "putObject")
    assert (create["parameters"]["Bucket"], create["parameters"]["Key"]) == (bucket, integ_app.INPUT_KEY)
    template.has_resource(
        JOB,
        {
            "Properties": Match.object_like({"InputPath": _s3_path(bucket, integ_app.INPUT_KEY)}),
            "DependsOn": Match.array_with([upload]),
        },
    )


def test_the_jobs_solution_version_is_read_from_ssm_at_deploy_time(synthesized: Path) -> None:
    for stack in (integ_app.SUCCEEDS_STACK, "FailsWithTheJobsReason"):
        template = _template(synthesized, stack)
        parameters = template.find_parameters(
            "*",
            {"Default": integ_app.SOLUTION_VERSION_PARAMETER, "Type": "AWS::SSM::Parameter::Value<String>"},
        )
        assert len(parameters) == 1
        template.has_resource_properties(JOB, {"SolutionVersionArn": {"Ref": next(iter(parameters))}})


def test_the_end_event_rule_targets_the_queue(synthesized: Path) -> None:
    template = _template(synthesized, integ_app.SUCCEEDS_STACK)
    (queue,) = template.find_resources("AWS::SQS::Queue")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like({"detail-type": [integ_app.EVENT_DETAIL_TYPE]}),
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [queue, "Arn"]}})],
        },
    )


def test_every_test_stack_resource_goes_with_its_stack(synthesized: Path) -> None:
    for stack in (integ_app.SUCCEEDS_STACK, "FailsWithTheJobsReason"):
        resources = _json(synthesized / f"{stack}.template.json")["Resources"]
        kept = [k for k, r in resources.items() if r.get("DeletionPolicy", "Delete") != "Delete"]
        assert kept == [], f"{stack} would leave {kept} behind"


# ------------------------------------------------------------------- the snapshot


def _asset_names(assembly: Path) -> dict[str, str]:
    """Asset hash -> a stable placeholder naming the asset, from every asset manifest."""
    names: dict[str, str] = {}
    for manifest in sorted(assembly.glob("*.assets.json")):
        for section in ("files", "dockerImages"):
            for asset_id, asset in _json(manifest).get(section, {}).items():
                names[asset_id] = f"<asset {asset.get('displayName', '')}>".replace(" >", ">")
    return names


def _normalized(template: dict[str, Any], assets: dict[str, str]) -> Any:
    """What integ-runner compares: asset hashes replaced; also without the assertions' salt (a
    timestamp per synth, so that assertions run on every deploy)."""
    text = json.dumps(template)
    for asset_id, name in assets.items():
        text = text.replace(asset_id, name)
    normalized = json.loads(text)
    for resource in normalized.get("Resources", {}).values():
        if resource.get("Type", "").startswith("Custom::DeployAssert@"):
            resource.get("Properties", {}).pop("salt", None)
    return normalized


def _differences(expected: Any, actual: Any, path: str = "") -> Iterator[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                yield f"{where}: only in the snapshot"
            elif key not in expected:
                yield f"{where}: new, {json.dumps(actual[key])[:120]}"
            else:
                yield from _differences(expected[key], actual[key], where)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (old, new) in enumerate(zip(expected, actual, strict=True)):
            yield from _differences(old, new, f"{path}[{index}]")
    elif expected != actual:
        yield f"{path}: snapshot {json.dumps(expected)[:120]}, now {json.dumps(actual)[:120]}"


def _out_of_date(details: list[str]) -> str:
    shown = details[:20] + ([f"... and {len(details) - 20} more"] if len(details) > 20 else [])
    return (
        f"The integ test app no longer synthesizes to its snapshot "
        f"({snapshot.SNAPSHOT_DIR.relative_to(REPO)}):\n  "
        + "\n  ".join(shown)
        + f"\nIf the change is intended, rewrite the snapshot and commit it:\n  {snapshot.UPDATE_COMMAND}"
    )


def _template_differences(committed: Path, actual: Path) -> list[str]:
    names = sorted(p.name for p in actual.glob("*.template.json"))
    committed_names = sorted(p.name for p in committed.glob("*.template.json"))
    details = [f"{n}: only in the snapshot" for n in committed_names if n not in names]
    details += [f"{n}: new" for n in names if n not in committed_names]
    actual_assets, committed_assets = _asset_names(actual), _asset_names(committed)
    for name in sorted(set(names) & set(committed_names)):
        details += [
            f"{name}: {line}"
            for line in _differences(
                _normalized(_json(committed / name), committed_assets),
                _normalized(_json(actual / name), actual_assets),
            )
        ]
    return details


def _copy_of_the_snapshot(to: Path) -> Path:
    """Its manifests and templates (not the asset directories)."""
    for path in snapshot.SNAPSHOT_DIR.glob("*.json"):
        shutil.copy(path, to / path.name)
    return to


def test_the_templates_match_the_committed_snapshot(synthesized: Path) -> None:
    assert snapshot.SNAPSHOT_DIR.is_dir(), _out_of_date(["no snapshot"])
    details = _template_differences(snapshot.SNAPSHOT_DIR, synthesized)
    assert not details, _out_of_date(details)


def test_a_change_of_handler_code_alone_keeps_the_snapshot_valid(tmp_path: Path) -> None:
    changed = _copy_of_the_snapshot(tmp_path)
    manifest = _json(changed / f"{integ_app.SUCCEEDS_STACK}.assets.json")
    (code,) = [k for k, a in manifest["files"].items() if "CheckFunction" in a.get("displayName", "")]
    for path in changed.glob("*.json"):
        path.write_text(path.read_text().replace(code, "f" * 64))
    assert code in (snapshot.SNAPSHOT_DIR / f"{integ_app.SUCCEEDS_STACK}.template.json").read_text()
    assert _template_differences(snapshot.SNAPSHOT_DIR, changed) == []


def test_a_changed_template_is_reported_with_the_command_that_updates_the_snapshot(tmp_path: Path) -> None:
    changed = _copy_of_the_snapshot(tmp_path)
    path = changed / f"{integ_app.SUCCEEDS_STACK}.template.json"
    template = _json(path)
    (job,) = [r for r in template["Resources"].values() if r["Type"] == JOB]
    job["Properties"]["NumResults"] = "99"
    path.write_text(json.dumps(template))
    details = _template_differences(snapshot.SNAPSHOT_DIR, changed)
    assert len(details) == 1 and ".Properties.NumResults: snapshot " in details[0]
    assert snapshot.UPDATE_COMMAND in _out_of_date(details)


def test_the_test_cases_match_the_committed_snapshot(synthesized: Path) -> None:
    # integ.json tells integ-runner what to deploy, what to expect and which hooks to run.
    committed = snapshot.SNAPSHOT_DIR / "integ.json"
    assert committed.is_file(), _out_of_date(["no integ.json in the snapshot"])
    details = [
        f"integ.json: {line}" for line in _differences(_json(committed), _json(synthesized / "integ.json"))
    ]
    assert not details, _out_of_date(details)


def test_the_snapshot_keeps_no_copy_of_the_test_stacks_assets() -> None:
    # integ-runner drops the assets of stacks without the update workflow; the handler code is not in it.
    kept = {p.name for p in snapshot.SNAPSHOT_DIR.glob("asset.*")}
    for stack in (integ_app.SUCCEEDS_STACK, "FailsWithTheJobsReason"):
        for asset in _json(snapshot.SNAPSHOT_DIR / f"{stack}.assets.json")["files"].values():
            assert asset["source"]["path"] not in kept


# ------------------------------------------------------------------- the pre-destroy hook


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """S3 from a moto server, and a CloudFormation whose ListStackResources answers from the stacks
    the test puts in the returned dict (any other stack does not exist)."""
    import logging

    import boto3
    from botocore.stub import Stubber
    from moto.server import ThreadedMotoServer

    stacks: dict[str, list[dict[str, str]]] = {}
    real_client = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(service, *args, **kwargs)
        if service == "cloudformation":
            stubber = Stubber(made)
            for name, resources in stacks.items():
                summaries = [
                    {
                        **r,
                        "LogicalResourceId": r["PhysicalResourceId"],
                        "LastUpdatedTimestamp": "2026-01-01",
                        "ResourceStatus": "CREATE_COMPLETE",
                    }
                    for r in resources
                ]
                stubber.add_response(
                    "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": name}
                )
            stubber.add_client_error(
                "list_stack_resources", "ValidationError", "Stack with id Gone does not exist"
            )
            stubber.activate()
        return made

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
        monkeypatch.setattr(boto3, "client", client)
        yield stacks
    finally:
        server.stop()


def test_the_hook_empties_every_bucket_of_the_stack_and_stops_log_delivery(account: dict[str, Any]) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])  # the moto server
    for bucket in ("logs", "output"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"1", b"2"):
            s3.put_object(Bucket=bucket, Key="integ/results.json.out", Body=body)
        s3.delete_object(Bucket=bucket, Key="integ/results.json.out")  # a delete marker too
    personalize = {
        "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/*",
    }
    logging = {**personalize, "Principal": {"Service": "logging.s3.amazonaws.com"}}
    s3.put_bucket_policy(
        Bucket="logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [personalize, logging]})
    )
    account["Stack"] = [
        {"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "logs"},
        {"ResourceType": "AWS::SQS::Queue", "PhysicalResourceId": "https://queue"},
        {"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "output"},
        {"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "deleted-already"},
    ]

    integ_app.empty_buckets("Stack")

    for bucket in ("logs", "output"):
        listing = s3.list_object_versions(Bucket=bucket)
        assert not listing.get("Versions") and not listing.get("DeleteMarkers"), bucket
    assert json.loads(s3.get_bucket_policy(Bucket="logs")["Policy"])["Statement"] == [personalize]


def test_the_hook_fails_when_a_bucket_cannot_be_emptied(account: dict[str, Any]) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])  # the moto server
    s3.create_bucket(Bucket="locked")
    s3.put_object(Bucket="locked", Key="results.json.out", Body=b"1")
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject*",
        "Resource": "arn:aws:s3:::locked/*",
    }
    s3.put_bucket_policy(Bucket="locked", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    account["Stack"] = [{"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "locked"}]

    with pytest.raises(RuntimeError, match="could not empty locked"):
        integ_app.empty_buckets("Stack")


def test_the_hook_leaves_a_stack_that_does_not_exist_alone(account: dict[str, Any]) -> None:
    integ_app.empty_buckets("Gone")
