"""What CloudFormation, a WaitCondition and EventBridge receive stays within their limits (sizes)."""

from __future__ import annotations

import json

from .testkit import LAMBDA_DIR  # noqa: F401  (puts lambda/ on sys.path)

import contract  # isort: skip
import sizes  # isort: skip


def test_truncated_text_fits_under_the_byte_limit_and_says_so() -> None:
    text = sizes.truncate_bytes("é" * 5000, 100)
    assert len(text.encode()) < 100
    assert text.endswith(sizes.TRUNCATION_MARK)


def test_truncated_text_keeps_as_much_of_the_start_as_fits() -> None:
    text = sizes.truncate_bytes("a" * 5000, 100)
    assert text == "a" * (99 - len(sizes.TRUNCATION_MARK)) + sizes.TRUNCATION_MARK


def test_short_text_is_not_truncated() -> None:
    assert sizes.truncate_bytes("short", 100) == "short"


def test_text_exactly_at_the_limit_is_truncated() -> None:
    assert sizes.truncate_bytes("a" * 100, 100).endswith(sizes.TRUNCATION_MARK)


def test_fit_text_measures_the_rendering_not_the_text() -> None:
    def render(candidate: str) -> bytes:
        return json.dumps({"Reason": candidate}).encode()

    text = sizes.fit_text('"quoted"' * 100, render, 200)
    assert len(render(text)) < 200
    assert text.startswith('"quoted"') and text.endswith(sizes.TRUNCATION_MARK)


def test_signal_body_stays_under_4096_bytes_with_a_huge_reason() -> None:
    data = {"jobArn": "arn:" + "a" * 250, "outputS3Uri": "s3://" + "b" * 300, "status": "CREATE FAILED"}
    body = sizes.signal_body("FAILURE", 'Bad "input" \n' * 2000 + "ü" * 3000, "j" * 63, data)
    assert len(body) < contract.SIGNAL_LIMIT_BYTES == 4096
    document = json.loads(body)
    assert document["Reason"].startswith('Bad "input"') and document["Reason"].endswith(sizes.TRUNCATION_MARK)


def test_signal_body_has_status_unique_id_and_json_data() -> None:
    data = {"jobArn": "arn:j", "outputS3Uri": "s3://o/j/", "status": "ACTIVE"}
    document = json.loads(sizes.signal_body("SUCCESS", "done", "j", data))
    assert document["Status"] == "SUCCESS" and document["UniqueId"] == "j" and document["Reason"] == "done"
    assert json.loads(document["Data"]) == data


def test_signal_body_keeps_a_short_reason_whole() -> None:
    document = json.loads(sizes.signal_body("FAILURE", "The job failed: bad input", "j", {}))
    assert document["Reason"] == "The job failed: bad input"


def test_error_messages_are_kept_well_under_cloudformations_response_limit() -> None:
    assert sizes.ERROR_MESSAGE_LIMIT_BYTES < contract.RESPONSE_LIMIT_BYTES
