"""The bundled, trimmed Personalize model: in sync with botocore, loaded first, endpoints intact."""

from __future__ import annotations

import json

import aws_clients
import pytest
import trim_personalize_model

NEW_FIELDS = ("batchInferenceJobMode", "themeGenerationConfig")


def bundled_model() -> dict[str, object]:
    model: dict[str, object] = json.loads(trim_personalize_model.BUNDLED_MODEL.read_text())
    return model


def test_bundled_model_agrees_with_the_installed_botocore() -> None:
    """Every shape and member we bundle exists, with the same type, in the installed model.

    Not byte equality: a later botocore may add Personalize fields we do not send, which must not turn
    the suite red. `python scripts/trim_personalize_model.py --check` reports that kind of drift.
    """
    installed = trim_personalize_model.load_installed_model()["shapes"]
    for name, shape in bundled_model()["shapes"].items():  # type: ignore[attr-defined]
        assert name in installed, f"{name} is not in the installed botocore model"
        assert shape["type"] == installed[name]["type"], name
        for member, target in shape.get("members", {}).items():
            assert member in installed[name]["members"], f"{name}.{member} is not in the installed model"
            assert target["shape"] == installed[name]["members"][member]["shape"], f"{name}.{member}"


def test_bundled_model_holds_only_the_handlers_operations() -> None:
    assert sorted(bundled_model()["operations"]) == sorted(trim_personalize_model.OPERATIONS)  # type: ignore[call-overload]


def test_bundled_model_knows_mode_theme_and_ranking_influence() -> None:
    shapes = bundled_model()["shapes"]
    assert set(NEW_FIELDS) <= set(shapes["CreateBatchInferenceJobRequest"]["members"])  # type: ignore[index]
    assert "rankingInfluence" in shapes["BatchInferenceJobConfig"]["members"]  # type: ignore[index]


def test_session_searches_the_bundled_models_first() -> None:
    loader = aws_clients.make_session()._session.get_component("data_loader")
    assert loader.search_paths[0] == str(aws_clients.MODELS_DIR)


def test_personalize_client_is_built_from_the_bundled_model() -> None:
    client = aws_clients.make_clients().personalize
    assert sorted(client.meta.service_model.operation_names) == sorted(trim_personalize_model.OPERATIONS)


def test_endpoint_still_comes_from_the_runtimes_rule_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert (
        aws_clients.make_clients().personalize.meta.endpoint_url
        == "https://personalize.eu-west-1.amazonaws.com"
    )


def test_service_endpoint_override_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_PERSONALIZE", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:4567")
    clients = aws_clients.make_clients()
    assert clients.personalize.meta.endpoint_url == "http://127.0.0.1:4566"
    assert clients.stepfunctions.meta.endpoint_url == "http://127.0.0.1:4567"


def test_clients_use_standard_retries_with_few_attempts() -> None:
    retries = aws_clients.make_clients().personalize.meta.config.retries  # type: ignore[attr-defined]
    assert retries == {"mode": "standard", "total_max_attempts": aws_clients.MAX_ATTEMPTS}
    assert aws_clients.MAX_ATTEMPTS <= 3
