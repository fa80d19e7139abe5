"""/access_group/*: groups kept in the `model_info.access_groups` of stored models, changed by proxy admins, read by
admins and viewers, served at once by the instance that changed them and after a poll by the others; config-file
models listed but never changed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, ProxyModel, VirtualKey
from sluicegate.gateway.db.tokens import hash_key
from tests.gateway.conftest import PROVIDER_KEY, admin_gateway
from tests.gateway.manage.principals import add_rows, caller, fetch
from tests.simulators.openai import OpenAISimulator

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
SALT_KEY = "a-long-random-salt-key-for-tests-5e2b7d41"


def _config(sim: OpenAISimulator) -> str:
    return f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{sim.base_url}", api_key: {PROVIDER_KEY}}}
    model_info: {{id: config-mini, access_groups: [config-group]}}
litellm_settings: {{num_retries: 0}}
"""


def _instance(tmp_path: Path, name: str, database_url: str, sim: OpenAISimulator, general: str = "") -> TestClient:
    return admin_gateway(tmp_path, name, database_url, extra_config=_config(sim), general=general)


@pytest.fixture
def client(tmp_path: Path, database_url: str, openai_sim: OpenAISimulator,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("LITELLM_SALT_KEY", SALT_KEY)
    with _instance(tmp_path, "one", database_url, openai_sim) as started:
        yield started


def _store(client: TestClient, sim: OpenAISimulator, name: str, **model_info: Any) -> str:
    body = {"model_name": name, "model_info": model_info,
            "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": sim.base_url, "api_key": PROVIDER_KEY}}
    answer = client.post("/model/new", json=body)
    assert answer.status_code == 200, answer.text
    model_id: str = answer.json()["model_id"]
    return model_id


def _info(client: TestClient, group: str, headers: dict[str, str] | None = None) -> Any:
    answer = client.get(f"/access_group/{group}/info", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _groups_of(client: TestClient, model_id: str) -> list[str]:
    [row] = fetch(client, ProxyModel, model_id=model_id)
    return list(row.model_info.get("access_groups", []))


def _key(client: TestClient, models: list[str]) -> dict[str, str]:
    plain = f"sk-test-{uuid.uuid4().hex}"
    add_rows(client, VirtualKey(token=hash_key(plain), key_name=f"sk-...{plain[-4:]}", models=models))
    return {"authorization": f"Bearer {plain}"}


def _chat(client: TestClient, model: str, headers: dict[str, str]) -> Any:
    return client.post("/v1/chat/completions", json={"model": model, **CHAT}, headers=headers)


def _wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_a_group_is_created_listed_replaced_and_deleted(client: TestClient, openai_sim: OpenAISimulator) -> None:
    alpha = _store(client, openai_sim, "sim-alpha", access_groups=["other"])
    beta_one, beta_two = _store(client, openai_sim, "sim-beta"), _store(client, openai_sim, "sim-beta")
    created = client.post("/access_group/new", json={"access_group": "beta-models", "model_names": ["sim-alpha"]})
    assert created.status_code == 200, created.text
    assert created.json() == {"access_group": "beta-models", "model_names": ["sim-alpha"], "model_ids": None,
                              "models_updated": 1}
    assert _groups_of(client, alpha) == ["other", "beta-models"]
    listed = client.get("/access_group/list")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"access_groups": [
        {"access_group": "beta-models", "model_names": ["sim-alpha"], "deployment_count": 1,
         "config_model_names": []},
        {"access_group": "config-group", "model_names": ["gpt-4o-mini"], "deployment_count": 1,
         "config_model_names": ["gpt-4o-mini"]},
        {"access_group": "other", "model_names": ["sim-alpha"], "deployment_count": 1, "config_model_names": []}]}

    replaced = client.put("/access_group/beta-models/update", json={"model_names": ["sim-beta", "sim-beta"]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["models_updated"] == 2
    assert _info(client, "beta-models") == {"access_group": "beta-models", "model_names": ["sim-beta"],
                                            "deployment_count": 2, "config_model_names": []}
    assert _groups_of(client, alpha) == ["other"]
    by_id = client.put("/access_group/beta-models/update", json={"model_ids": [beta_two, alpha],
                                                                 "model_names": ["ignored-when-ids-are-sent"]})
    assert by_id.status_code == 200, by_id.text
    assert (by_id.json()["model_ids"], by_id.json()["models_updated"]) == ([beta_two, alpha], 2)
    assert (_groups_of(client, beta_one), _groups_of(client, beta_two)) == ([], ["beta-models"])
    assert _info(client, "beta-models")["model_names"] == ["sim-alpha", "sim-beta"]

    deleted = client.delete("/access_group/beta-models/delete")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"access_group": "beta-models", "models_updated": 2,
                              "message": "Access group 'beta-models' deleted successfully"}
    assert client.get("/access_group/beta-models/info").status_code == 404
    assert _groups_of(client, alpha) == ["other"]
    [row] = fetch(client, ProxyModel, model_id=beta_two)
    assert "access_groups" not in row.model_info  # the last group gone: the key goes too
    assert row.updated_by is not None


def test_every_rewritten_model_is_in_the_audit_log(client: TestClient, openai_sim: OpenAISimulator) -> None:
    first, second = _store(client, openai_sim, "sim-one"), _store(client, openai_sim, "sim-two")
    client.post("/access_group/new", json={"access_group": "audited", "model_names": ["sim-one"]})
    client.put("/access_group/audited/update", json={"model_names": ["sim-two"]})
    client.put("/access_group/audited/update", json={"model_names": ["sim-two"]})  # no change: no entry
    client.delete("/access_group/audited/delete")
    entries = fetch(client, AuditLog, table_name="proxy_models", action="updated")
    changes = [(e.object_id, e.before_value["model_info"].get("access_groups"),
                e.updated_values["model_info"].get("access_groups")) for e in entries]
    assert sorted(changes, key=repr) == sorted([(first, None, ["audited"]), (first, ["audited"], None),
                                                (second, None, ["audited"]), (second, ["audited"], None)], key=repr)
    assert [change[0] for change in changes][-1] == second  # the delete came last
    assert {e.changed_by for e in entries} == {entries[0].changed_by}


def test_config_file_models_are_listed_but_never_changed(client: TestClient, openai_sim: OpenAISimulator) -> None:
    stored = _store(client, openai_sim, "sim-chat")
    cases: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
        ("POST", "/access_group/new", {"access_group": "fresh", "model_names": ["gpt-4o-mini"]}, 400, "config"),
        ("POST", "/access_group/new", {"access_group": "fresh", "model_ids": ["config-mini"]}, 400, "config"),
        ("POST", "/access_group/new", {"access_group": "config-group", "model_names": ["sim-chat"]}, 409,
         "already exists"),
        ("PUT", "/access_group/config-group/update", {"model_names": ["sim-chat"]}, 400, "gpt-4o-mini"),
        ("DELETE", "/access_group/config-group/delete", None, 400, "config"),
    ]
    for method, path, body, status, words in cases:
        answer = client.request(method, path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert words in answer.json()["error"]["message"], (path, body, answer.text)
    assert _groups_of(client, stored) == []
    assert fetch(client, AuditLog, table_name="proxy_models", action="updated") == []
    joined = client.put("/access_group/config-group/update", json={"model_names": ["gpt-4o-mini", "sim-chat"]})
    assert joined.status_code == 200, joined.text
    assert joined.json()["models_updated"] == 1
    assert _info(client, "config-group") == {"access_group": "config-group", "model_names": ["gpt-4o-mini",
                                                                                             "sim-chat"],
                                             "deployment_count": 2, "config_model_names": ["gpt-4o-mini"]}


def test_bad_requests_change_nothing(client: TestClient, openai_sim: OpenAISimulator) -> None:
    stored = _store(client, openai_sim, "sim-chat")
    assert client.post("/access_group/new", json={"access_group": "kept", "model_names": ["sim-chat"]}
                       ).status_code == 200
    cases: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
        ("GET", "/access_group/no-such-group/info", None, 404, "no-such-group"),
        ("PUT", "/access_group/no-such-group/update", {"model_names": ["sim-chat"]}, 404, "not found"),
        ("DELETE", "/access_group/no-such-group/delete", None, 404, "not found"),
        ("POST", "/access_group/new", {"access_group": "g", "model_names": []}, 400, "non-empty"),
        ("POST", "/access_group/new", {"access_group": "g"}, 400, "non-empty"),
        ("PUT", "/access_group/kept/update", {"model_names": [], "model_ids": []}, 400, "non-empty"),
        ("POST", "/access_group/new", {"access_group": " ", "model_names": ["sim-chat"]}, 400, "empty"),
        ("POST", "/access_group/new", {"access_group": "all-*", "model_names": ["sim-chat"]}, 400, "'*'"),
        ("POST", "/access_group/new", {"model_names": ["sim-chat"]}, 422, "access_group"),
        ("POST", "/access_group/new", {"access_group": "g", "model_names": ["sim-chat", "nope-1", "nope-2"]},
         400, "Model(s) not found: nope-1, nope-2"),
        ("POST", "/access_group/new", {"access_group": "g", "model_ids": ["no-such-id"]}, 400, "no-such-id"),
        ("PUT", "/access_group/kept/update", {"model_names": ["nope-1"]}, 400, "nope-1"),
        ("POST", "/access_group/new", {"access_group": "kept", "model_names": ["sim-chat"]}, 409, "already exists"),
    ]
    for method, path, body, status, words in cases:
        answer = client.request(method, path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert words in answer.json()["error"]["message"], (path, body, answer.text)
    assert _groups_of(client, stored) == ["kept"]
    assert [g["access_group"] for g in client.get("/access_group/list").json()["access_groups"]] == [
        "config-group", "kept"]


def test_a_group_name_with_a_slash_is_addressable(client: TestClient, openai_sim: OpenAISimulator) -> None:
    _store(client, openai_sim, "sim-chat")
    assert client.post("/access_group/new", json={"access_group": "team/prod", "model_names": ["sim-chat"]}
                       ).status_code == 200
    assert _info(client, "team%2Fprod")["model_names"] == ["sim-chat"]
    assert client.delete("/access_group/team/prod/delete").status_code == 200


def test_admins_change_viewers_read_and_internal_users_are_refused(client: TestClient,
                                                                  openai_sim: OpenAISimulator) -> None:
    stored = _store(client, openai_sim, "sim-chat")
    assert client.post("/access_group/new", json={"access_group": "g", "model_names": ["sim-chat"]}
                       ).status_code == 200
    viewer = caller(client, "u-viewer", "proxy_admin_viewer")
    user = caller(client, "u-internal")
    admin = caller(client, "u-admin", "proxy_admin")
    assert _info(client, "g", headers=viewer)["model_names"] == ["sim-chat"]
    assert client.get("/access_group/list", headers=viewer).status_code == 200
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/access_group/new", {"access_group": "h", "model_names": ["sim-chat"]}),
        ("PUT", "/access_group/g/update", {"model_names": ["sim-chat"]}),
        ("DELETE", "/access_group/g/delete", None),
    ]
    for headers in (viewer, user):
        for method, path, body in writes:
            assert client.request(method, path, json=body, headers=headers).status_code == 403, (headers, path)
    assert client.get("/access_group/list", headers=user).status_code == 403
    assert client.get("/access_group/g/info", headers=user).status_code == 403
    assert client.get("/access_group/list", headers={"authorization": "Bearer sk-never-issued"}).status_code == 401
    assert _groups_of(client, stored) == ["g"]
    assert client.delete("/access_group/g/delete", headers=admin).status_code == 200
    [entry] = fetch(client, AuditLog, table_name="proxy_models", action="updated", object_id=stored)[1:]
    assert entry.changed_by == "u-admin"


def test_a_key_with_the_group_calls_its_models_only_while_they_are_in_it(client: TestClient,
                                                                         openai_sim: OpenAISimulator) -> None:
    _store(client, openai_sim, "sim-alpha")
    _store(client, openai_sim, "sim-beta")
    key = _key(client, ["beta-models"])
    refused = _chat(client, "sim-alpha", key)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["type"] == "key_model_access_denied"
    client.post("/access_group/new", json={"access_group": "beta-models", "model_names": ["sim-alpha"]})
    served = _chat(client, "sim-alpha", key)
    assert served.status_code == 200, served.text
    assert _chat(client, "sim-beta", key).status_code == 401
    client.put("/access_group/beta-models/update", json={"model_names": ["sim-beta"]})
    assert _chat(client, "sim-alpha", key).status_code == 401
    assert _chat(client, "sim-beta", key).status_code == 200
    client.delete("/access_group/beta-models/delete")
    assert _chat(client, "sim-beta", key).status_code == 401


def test_another_instance_follows_a_group_change_after_its_poll(tmp_path: Path, database_url: str,
                                                                 client: TestClient,
                                                                 openai_sim: OpenAISimulator) -> None:
    _store(client, openai_sim, "sim-alpha")
    key = _key(client, ["beta-models"])
    with _instance(tmp_path, "two", database_url, openai_sim, general="  model_poll_interval_s: 0.05\n") as other:
        def visible() -> set[str]:  # /v1/models: waiting must not write spend records while the other one writes
            return {model["id"] for model in other.get("/v1/models", headers=key).json()["data"]}

        assert _wait_for(lambda: "sim-alpha" in {m["id"] for m in other.get("/v1/models").json()["data"]})
        assert visible() == set()
        client.post("/access_group/new", json={"access_group": "beta-models", "model_names": ["sim-alpha"]})
        assert _wait_for(lambda: visible() == {"sim-alpha"})
        assert _chat(other, "sim-alpha", key).status_code == 200
        client.delete("/access_group/beta-models/delete")
        assert _wait_for(lambda: visible() == set())
        assert _chat(other, "sim-alpha", key).status_code == 401
