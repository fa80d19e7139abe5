"""/model/*: models stored in the database, served at once by the instance that stored them and after a poll by
the others; credentials encrypted at rest and never answered; admins change, every caller reads what it may call."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, ProxyModel, VirtualKey
from sluicegate.gateway.db.tokens import hash_key
from sluicegate.gateway.secrets_at_rest import SEALED_PREFIX
from tests.gateway.conftest import PROVIDER_KEY, admin_gateway
from tests.gateway.manage.principals import add_rows, caller, fetch
from tests.simulators.openai import OpenAISimulator

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
SALT_KEY = "a-long-random-salt-key-for-tests-8d1c5e0f"


def _config(sim: OpenAISimulator) -> str:
    return f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{sim.base_url}", api_key: {PROVIDER_KEY}, rpm: 10}}
    model_info: {{id: config-mini}}
litellm_settings: {{num_retries: 0}}
"""


def _instance(tmp_path: Path, name: str, database_url: str, sim: OpenAISimulator, general: str = "") -> TestClient:
    return admin_gateway(tmp_path, name, database_url, extra_config=_config(sim), general=general)


@pytest.fixture
def salted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_SALT_KEY", SALT_KEY)


@pytest.fixture
def client(tmp_path: Path, database_url: str, openai_sim: OpenAISimulator) -> Iterator[TestClient]:
    with _instance(tmp_path, "one", database_url, openai_sim) as started:
        yield started


def _sim_model(sim: OpenAISimulator, name: str = "sim-chat", **params: Any) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": sim.base_url,
                                                   "api_key": PROVIDER_KEY, **params}}


def _chat(client: TestClient, model: str, headers: dict[str, str] | None = None) -> Any:
    return client.post("/v1/chat/completions", json={"model": model, **CHAT}, headers=headers)


def _new(client: TestClient, body: dict[str, Any]) -> str:
    answer = client.post("/model/new", json=body)
    assert answer.status_code == 200, answer.text
    model_id: str = answer.json()["model_id"]
    return model_id


def _wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


@pytest.mark.usefixtures("salted")
def test_a_new_model_is_served_at_once_then_changed_then_deleted(client: TestClient,
                                                                openai_sim: OpenAISimulator) -> None:
    created = client.post("/model/new", json=_sim_model(openai_sim, api_key="sk-not-the-simulators"))
    assert created.status_code == 200, created.text
    model_id = created.json()["model_id"]
    assert created.json()["model_name"] == "sim-chat"
    refused = _chat(client, "sim-chat")
    assert refused.status_code == 401, refused.text  # the upstream refused the stored key: it was used
    changed = client.post("/model/update", json={"model_info": {"id": model_id},
                                                 "litellm_params": {"api_key": PROVIDER_KEY}})
    assert changed.status_code == 200, changed.text
    served = _chat(client, "sim-chat")
    assert served.status_code == 200, served.text
    assert served.headers["x-litellm-model-id"] == model_id
    renamed = client.patch(f"/model/{model_id}/update", json={"model_name": "sim-renamed"})
    assert renamed.status_code == 200, renamed.text
    assert _chat(client, "sim-renamed").status_code == 200
    assert _chat(client, "sim-chat").status_code == 400
    deleted = client.post("/model/delete", json={"id": model_id})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"message": f"Model: {model_id} deleted successfully"}
    gone = _chat(client, "sim-renamed")
    assert gone.status_code == 400
    assert "sim-renamed" in gone.json()["error"]["message"]
    again = client.post("/model/delete", json={"id": model_id})
    assert again.status_code == 400
    assert "not found" in again.json()["error"]["message"]
    actions = [entry.action for entry in fetch(client, AuditLog, table_name="proxy_models")]
    assert actions == ["created", "updated", "updated", "deleted"]


@pytest.mark.usefixtures("salted")
def test_update_sets_what_is_sent_and_null_removes_only_with_patch(client: TestClient,
                                                                  openai_sim: OpenAISimulator) -> None:
    model_id = _new(client, _sim_model(openai_sim, rpm=5, tpm=1000))

    def params() -> dict[str, Any]:
        [entry] = client.get("/model/info", params={"litellm_model_id": model_id}).json()["data"]
        return dict(entry["litellm_params"])

    kept = client.post("/model/update", json={"model_info": {"id": model_id}, "litellm_params": {"rpm": None,
                                                                                               "tpm": 2000}})
    assert kept.status_code == 200, kept.text
    assert (params()["rpm"], params()["tpm"]) == (5, 2000)
    removed = client.patch(f"/model/{model_id}/update", json={"litellm_params": {"rpm": None}})
    assert removed.status_code == 200, removed.text
    assert "rpm" not in params()
    assert params()["tpm"] == 2000
    assert _chat(client, "sim-chat").status_code == 200  # the credential outlived every change


@pytest.mark.usefixtures("salted")
def test_credentials_are_encrypted_at_rest_and_never_answered(client: TestClient,
                                                              openai_sim: OpenAISimulator) -> None:
    body = _sim_model(openai_sim, extra_headers={"x-upstream-token": "hdr-secret-5a1"})
    model_id = _new(client, body)
    [row] = fetch(client, ProxyModel, model_id=model_id)
    stored = json.dumps(row.litellm_params)
    assert PROVIDER_KEY not in stored
    assert "hdr-secret-5a1" not in stored
    assert row.litellm_params["api_key"].startswith(SEALED_PREFIX)
    assert row.litellm_params["api_base"] == openai_sim.base_url  # not a secret: stored as written
    assert _chat(client, "sim-chat").status_code == 200  # decrypted when loaded
    info = client.get("/model/info", params={"litellm_model_id": model_id})
    assert info.status_code == 200, info.text
    [entry] = info.json()["data"]
    assert "api_key" not in entry["litellm_params"]
    assert entry["litellm_params"]["extra_headers"] == {"x-upstream-token": "***"}
    assert entry["model_info"]["id"] == model_id
    assert entry["model_info"]["db_model"] is True
    for answer in (info, client.get("/model/info"), client.get("/v2/model/info"), client.get("/model_group/info")):
        assert PROVIDER_KEY not in answer.text
        assert "hdr-secret-5a1" not in answer.text
    audit = json.dumps([entry.updated_values for entry in fetch(client, AuditLog, table_name="proxy_models")])
    assert PROVIDER_KEY not in audit
    assert "hdr-secret-5a1" not in audit


def test_without_a_salt_key_only_environment_references_are_stored(client: TestClient, openai_sim: OpenAISimulator,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LITELLM_SALT_KEY", raising=False)
    refused = client.post("/model/new", json=_sim_model(openai_sim))
    assert refused.status_code == 400
    assert "LITELLM_SALT_KEY" in refused.json()["error"]["message"]
    assert PROVIDER_KEY not in refused.text
    monkeypatch.setenv("SIM_KEY_FOR_STORED_MODELS", PROVIDER_KEY)
    model_id = _new(client, _sim_model(openai_sim, api_key="os.environ/SIM_KEY_FOR_STORED_MODELS"))
    [row] = fetch(client, ProxyModel, model_id=model_id)
    assert row.litellm_params["api_key"] == "os.environ/SIM_KEY_FOR_STORED_MODELS"
    assert _chat(client, "sim-chat").status_code == 200


@pytest.mark.usefixtures("salted")
def test_a_second_instance_serves_the_model_after_its_poll(tmp_path: Path, database_url: str, client: TestClient,
                                                           openai_sim: OpenAISimulator) -> None:
    with _instance(tmp_path, "two", database_url, openai_sim, general="  model_poll_interval_s: 0.05\n") as other:
        def served() -> set[str]:  # /v1/models: waiting must not write spend records while the other one writes
            return {model["id"] for model in other.get("/v1/models").json()["data"]}

        assert served() == {"gpt-4o-mini"}
        model_id = _new(client, _sim_model(openai_sim))
        assert _wait_for(lambda: "sim-chat" in served())
        answer = _chat(other, "sim-chat")
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-litellm-model-id"] == model_id
        client.patch(f"/model/{model_id}/update", json={"model_name": "sim-moved"})
        assert _wait_for(lambda: served() == {"gpt-4o-mini", "sim-moved"})
        client.post("/model/delete", json={"id": model_id})
        assert _wait_for(lambda: served() == {"gpt-4o-mini"})
        assert _chat(other, "sim-moved").status_code == 400


@pytest.mark.usefixtures("salted")
def test_a_stored_model_named_like_a_config_group_joins_it(client: TestClient, openai_sim: OpenAISimulator) -> None:
    model_id = _new(client, {**_sim_model(openai_sim, name="gpt-4o-mini", rpm=5), "model_info": {"id": "db-mini"}})
    assert model_id == "db-mini"
    ids = {_chat(client, "gpt-4o-mini").headers["x-litellm-model-id"] for _ in range(30)}
    assert ids == {"config-mini", "db-mini"}
    [group] = client.get("/model_group/info", params={"model_group": "gpt-4o-mini"}).json()["data"]
    assert (group["model_group"], group["providers"], group["rpm"], group["mode"]) == (
        "gpt-4o-mini", ["openai"], 15, "chat")
    assert group["max_input_tokens"] > 0
    assert group["input_cost_per_token"] > 0
    listed = client.get("/v1/model/info").json()["data"]
    assert {(e["model_info"]["id"], e["model_info"]["db_model"]) for e in listed} == {
        ("config-mini", False), ("db-mini", True)}
    page = client.get("/v2/model/info", params={"size": 1, "page": 2}).json()
    assert (page["total_count"], page["total_pages"], len(page["data"])) == (2, 2, 1)


@pytest.mark.usefixtures("salted")
def test_bad_model_definitions_are_refused(client: TestClient, openai_sim: OpenAISimulator) -> None:
    model_id = _new(client, _sim_model(openai_sim))
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"litellm_params": {"model": "openai/gpt-4o-mini"}}, 422, "model_name"),
        ({"model_name": "x", "litellm_params": {"model": "no-such-provider/x"}}, 400, "litellm_params.model"),
        ({"model_name": "x", "litellm_params": {"api_base": openai_sim.base_url}}, 400, "litellm_params.model"),
        (_sim_model(openai_sim, rpm=-1), 400, "litellm_params.rpm"),
        (_sim_model(openai_sim, api_key="os.environ/SURELY_UNSET_3f9a"), 400, "SURELY_UNSET_3f9a"),
        ({**_sim_model(openai_sim), "model_info": {"id": model_id}}, 400, "already exists"),
        ({**_sim_model(openai_sim), "model_info": {"id": "config-mini"}}, 400, "already exists"),
        ({**_sim_model(openai_sim), "model_info": {"max_input_tokens": 0}}, 400, "model_info.max_input_tokens"),
    ]
    for body, status, words in cases:
        answer = client.post("/model/new", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], (body, answer.text)
    assert client.patch(f"/model/{model_id}/update", json={"litellm_params": {"rpm": -1}}).status_code == 400
    assert client.patch("/model/unknown-id/update", json={"model_name": "y"}).status_code == 404
    assert client.post("/model/update", json={"model_info": {"id": "unknown-id"}}).status_code == 400
    missing_id = client.post("/model/update", json={"model_name": "y"})
    assert missing_id.status_code == 400
    assert "model_info.id" in missing_id.json()["error"]["message"]
    configured = client.patch("/model/config-mini/update", json={"model_name": "y"})
    assert configured.status_code == 400
    assert "config file" in configured.json()["error"]["message"]
    assert client.post("/model/delete", json={"id": "config-mini"}).status_code == 400
    assert client.get("/model/info", params={"litellm_model_id": "unknown-id"}).status_code == 400
    assert _chat(client, "sim-chat").status_code == 200  # nothing above changed the stored model


@pytest.mark.usefixtures("salted")
def test_only_admins_change_models_and_a_key_sees_only_its_models(client: TestClient,
                                                                  openai_sim: OpenAISimulator) -> None:
    model_id = _new(client, _sim_model(openai_sim))
    user = caller(client, "u-models")
    viewer = caller(client, "u-viewer", "proxy_admin_viewer")
    for headers in (user, viewer):
        assert client.post("/model/new", json=_sim_model(openai_sim, name="x"), headers=headers).status_code == 403
        assert client.patch(f"/model/{model_id}/update", json={"model_name": "x"},
                            headers=headers).status_code == 403
        assert client.post("/model/delete", json={"id": model_id}, headers=headers).status_code == 403
    plain = f"sk-test-{uuid.uuid4().hex}"
    add_rows(client, VirtualKey(token=hash_key(plain), key_name="sk-...only", models=["sim-chat"]))
    only = {"authorization": f"Bearer {plain}"}
    [entry] = client.get("/model/info", headers=only).json()["data"]
    assert entry["model_name"] == "sim-chat"
    assert "api_base" not in entry["litellm_params"]  # where calls go is for admins and viewers
    assert [g["model_group"] for g in client.get("/model_group/info", headers=only).json()["data"]] == ["sim-chat"]
    hidden = client.get("/model/info", params={"litellm_model_id": "config-mini"}, headers=only)
    assert hidden.status_code == 400
    shown = client.get("/model/info", headers=viewer).json()["data"]
    assert {e["model_name"] for e in shown} == {"gpt-4o-mini", "sim-chat"}
    assert all("api_base" in e["litellm_params"] for e in shown)
    assert client.get("/model/info", headers={"authorization": "Bearer sk-never-issued"}).status_code == 401
