"""The virtual-key API as a proxy admin uses it: every endpoint, its fields, bad input, and changes taking effect
at once. Who else may do what is in test_keys_access.py. Runs on SQLite and PostgreSQL (`manage_client`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from sluicegate.gateway.auth import Principal
from sluicegate.gateway.db.models import AuditLog, Base, Budget, Team, VirtualKey
from sluicegate.gateway.db.runtime import GatewayDatabase
from sluicegate.gateway.db.tokens import hash_key


def _database(client: TestClient) -> GatewayDatabase:
    database: GatewayDatabase | None = client.app.gateway.db  # type: ignore[attr-defined]  # a HotPathApp
    assert database is not None
    return database


def seed(client: TestClient, *rows: Base) -> None:
    """Insert rows straight into the gateway's database (users, teams … have their own APIs elsewhere)."""

    async def add() -> None:
        opened = await _database(client).opened()
        async with opened.sessions() as session:
            session.add_all(rows)
            await session.commit()
        opened.principals.invalidate()

    client.portal.call(add)  # type: ignore[union-attr]


def stored(client: TestClient, model: type[Any], *where: Any) -> list[Any]:
    async def read() -> list[Any]:
        opened = await _database(client).opened()
        async with opened.sessions() as session:
            return list(await session.scalars(select(model).where(*where)))

    return client.portal.call(read)  # type: ignore[union-attr]


def cached_principal(client: TestClient, key: str) -> Principal | None:
    async def load() -> Principal | None:
        return await _database(client).principal(hash_key(key))

    return client.portal.call(load)  # type: ignore[union-attr]


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def generate(client: TestClient, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    answer = client.post("/key/generate", json=fields, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def chat(client: TestClient, key: str) -> int:
    """The status a chat request with `key` gets (no model is configured: a usable key gets past auth to 4xx)."""
    return client.post("/v1/chat/completions", headers=bearer(key),
                       json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).status_code


def error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()["error"]
    assert body["message"]
    return body


def test_generate_shows_the_key_once_and_stores_only_its_hash(manage_client: TestClient) -> None:
    made = generate(manage_client, key_alias="ci", user_id="alice")
    key = made["key"]
    assert key.startswith("sk-")
    assert len(key) > 30
    assert made["token"] == made["token_id"] == hash_key(key)
    assert made["key_name"] == f"sk-...{key[-4:]}"

    info = manage_client.get("/key/info", params={"key": key})
    listed = manage_client.get("/key/list", params={"return_full_object": "true"})
    assert info.status_code == listed.status_code == 200
    assert info.json()["info"]["token"] == hash_key(key)
    assert key not in info.text
    assert key not in listed.text
    [row] = stored(manage_client, VirtualKey)
    assert row.token == hash_key(key)
    assert key not in repr(row.__dict__)
    audit = stored(manage_client, AuditLog, AuditLog.table_name == "virtual_keys")
    assert [entry.action for entry in audit] == ["created"]
    assert key not in json.dumps([entry.updated_values for entry in audit])


def test_generate_round_trips_every_field(manage_client: TestClient) -> None:
    seed(manage_client, Budget(budget_id="b1", max_budget=Decimal(10)))
    fields: dict[str, Any] = {
        "key_alias": "all-fields", "models": ["gpt-4o-mini"], "max_budget": 0.1, "soft_budget": 0.05,
        "budget_duration": "1d", "tpm_limit": 1000, "rpm_limit": 10, "max_parallel_requests": 2,
        "model_max_budget": {"gpt-4o-mini": {"budget_limit": 0.01, "time_period": "30d"}, "gpt-4o": 2},
        "model_rpm_limit": {"gpt-4o-mini": 5}, "model_tpm_limit": {"gpt-4o-mini": 500}, "duration": "30d",
        "metadata": {"app": "ci"}, "tags": ["ci"], "user_id": "alice", "budget_id": "b1",
        "guardrails": ["pii"], "permissions": {"pii": False}, "aliases": {"fast": "gpt-4o-mini"},
        "allowed_routes": ["llm_api_routes"], "allowed_cache_controls": ["no-cache"], "blocked": False,
        "config": {}, "send_invite_email": False,  # LiteLLM fields left at their defaults are accepted
    }
    before = datetime.now(UTC)
    made = generate(manage_client, **fields)
    info = manage_client.get("/key/info", params={"key": made["token"]}).json()["info"]
    for name in ("key_alias", "models", "max_budget", "soft_budget", "budget_duration", "tpm_limit", "rpm_limit",
                 "max_parallel_requests", "model_rpm_limit", "model_tpm_limit", "metadata", "tags", "user_id",
                 "budget_id", "guardrails", "permissions", "aliases", "allowed_routes", "allowed_cache_controls"):
        assert info[name] == fields[name] == made[name], name
    assert info["model_max_budget"] == {"gpt-4o-mini": {"budget_limit": 0.01, "time_period": "30d"},
                                        "gpt-4o": {"budget_limit": 2.0, "time_period": None}}
    expires = datetime.fromisoformat(info["expires"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)
    assert datetime.fromisoformat(info["budget_reset_at"]) > before
    assert info["spend"] == 0
    assert info["blocked"] is False
    assert info["created_by"] == "default_user_id"
    [row] = stored(manage_client, VirtualKey)
    assert row.max_budget == Decimal("0.1")  # exact: the number's text, not its binary float


def test_generate_with_a_chosen_key(manage_client: TestClient) -> None:
    made = generate(manage_client, key="sk-chosen-by-admin-123")
    assert made["key"] == "sk-chosen-by-admin-123"
    assert made["token"] == hash_key("sk-chosen-by-admin-123")
    assert chat(manage_client, "sk-chosen-by-admin-123") != 401
    error(manage_client.post("/key/generate", json={"key": "sk-chosen-by-admin-123"}), 400)
    assert error(manage_client.post("/key/generate", json={"key": "not-an-sk-key"}), 400)["param"] == "key"


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"max_budget": -1}, 422, "max_budget"),
    ({"soft_budget": -0.01}, 422, "soft_budget"),
    ({"spend": -5}, 422, "spend"),
    ({"max_budget": "lots"}, 422, "max_budget"),
    ({"max_budget": True}, 422, "max_budget"),
    ({"max_budget": 1e30}, 422, "too large"),
    ({"rpm_limit": -1}, 422, "rpm_limit"),
    ({"tpm_limit": 1.5}, 422, "tpm_limit"),
    ({"max_parallel_requests": -2}, 422, "max_parallel_requests"),
    ({"model_rpm_limit": {"gpt-4o": -1}}, 422, "model_rpm_limit"),
    ({"model_max_budget": {"gpt-4o": -1}}, 422, "budget_limit"),
    ({"model_max_budget": {"gpt-4o": {"budget_limit": 1, "time_period": "monthly"}}}, 422, "time_period"),
    ({"model_max_budget": {"gpt-4o": {"limit": 1}}}, 422, "limit"),
    ({"duration": "30 days"}, 422, "duration"),
    ({"duration": "0d"}, 422, "duration"),
    ({"budget_duration": "1y"}, 422, "budget_duration"),
    ({"models": "gpt-4o"}, 422, "models"),
    ({"max_budgt": 5}, 422, "max_budgt"),
    ({"enforced_params": ["user"]}, 422, "enforced_params"),
    ({"key_type": "management"}, 422, "key_type"),
    ({"team_id": "no-such-team"}, 404, "no-such-team"),
    ({"budget_id": "no-such-budget"}, 404, "no-such-budget"),
    ({"organization_id": "no-such-org"}, 404, "no-such-org"),
])
def test_generate_refuses_bad_input(manage_client: TestClient, body: dict[str, Any], status: int,
                                    words: str) -> None:
    found = error(manage_client.post("/key/generate", json=body), status)
    assert words in found["message"]
    assert stored(manage_client, VirtualKey) == []


def test_key_aliases_are_unique(manage_client: TestClient) -> None:
    generate(manage_client, key_alias="prod")
    other = generate(manage_client, key_alias="staging")
    assert "alias" in error(manage_client.post("/key/generate", json={"key_alias": "prod"}), 400)["message"]
    error(manage_client.post("/key/update", json={"key": other["key"], "key_alias": "prod"}), 400)
    assert manage_client.post("/key/update", json={"key": other["key"], "key_alias": "staging"}).status_code == 200


def test_update_changes_what_is_sent_and_clears_nulls(manage_client: TestClient) -> None:
    made = generate(manage_client, key_alias="k", max_budget=5, rpm_limit=10, duration="1h", metadata={"a": 1})
    answer = manage_client.post("/key/update", json={"key": made["key"], "max_budget": 7.25, "metadata": {"b": 2}})
    assert answer.status_code == 200, answer.text
    updated = answer.json()
    assert updated["key"] == made["token"]
    assert made["key"] not in answer.text
    assert (updated["max_budget"], updated["rpm_limit"], updated["metadata"]) == (7.25, 10, {"b": 2})
    assert updated["expires"] == made["expires"]  # not sent: kept

    cleared = manage_client.post("/key/update", json={"key": made["token"], "max_budget": None, "duration": "-1",
                                                      "rpm_limit": None}).json()
    assert (cleared["max_budget"], cleared["rpm_limit"], cleared["expires"]) == (None, None, None)
    assert cleared["key_alias"] == "k"
    actions = [entry.action for entry in stored(manage_client, AuditLog, AuditLog.object_id == made["token"])]
    assert sorted(actions) == ["created", "updated", "updated"]


@pytest.mark.parametrize(("body", "status"), [
    ({"max_budget": -1}, 422), ({"duration": "soon"}, 422), ({"budget_duration": "1x"}, 422),
    ({"team_id": "no-such-team"}, 404), ({"budget_id": "nope"}, 404), ({"unknown": 1}, 422),
])
def test_update_refuses_bad_input(manage_client: TestClient, body: dict[str, Any], status: int) -> None:
    made = generate(manage_client, max_budget=1)
    error(manage_client.post("/key/update", json={"key": made["key"], **body}), status)
    assert manage_client.get("/key/info", params={"key": made["key"]}).json()["info"]["max_budget"] == 1


def test_update_of_a_missing_key_is_404(manage_client: TestClient) -> None:
    found = error(manage_client.post("/key/update", json={"key": "sk-never-made-1234", "rpm_limit": 1}), 404)
    assert "sk-never-made" not in found["message"]  # a key given in full is named by its last characters only


def test_update_takes_effect_at_once(manage_client: TestClient) -> None:
    made = generate(manage_client, rpm_limit=10)
    assert chat(manage_client, made["key"]) != 401  # warms the principal cache
    manage_client.post("/key/update", json={"key": made["key"], "rpm_limit": 3, "models": ["gpt-4o"]})
    principal = cached_principal(manage_client, made["key"])
    assert principal is not None
    assert principal.access is not None
    assert principal.access.limits[0].rpm_limit == 3
    assert principal.access.model_lists == (("gpt-4o",),)


@pytest.mark.parametrize("form", ["key", "token"])
def test_delete_by_key_or_hash_takes_effect_at_once(manage_client: TestClient, form: str) -> None:
    made, kept = generate(manage_client), generate(manage_client)
    assert chat(manage_client, made["key"]) != 401
    answer = manage_client.post("/key/delete", json={"keys": [made[form]]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deleted_keys": [made["token"]]}
    assert chat(manage_client, made["key"]) == 401
    assert manage_client.get("/v1/models", headers=bearer(made["key"])).status_code == 401
    error(manage_client.get("/key/info", params={"key": made["key"]}), 404)
    assert chat(manage_client, kept["key"]) != 401


def test_delete_by_alias(manage_client: TestClient) -> None:
    made = generate(manage_client, key_alias="old")
    generate(manage_client, key_alias="new")
    assert manage_client.post("/key/delete", json={"key_aliases": ["old"]}).json() == {
        "deleted_keys": [made["token"]]}
    assert [row.key_alias for row in stored(manage_client, VirtualKey)] == ["new"]


def test_delete_is_all_or_nothing(manage_client: TestClient) -> None:
    made = generate(manage_client, key_alias="a")
    error(manage_client.post("/key/delete", json={"keys": [made["key"], "sk-missing-key-0000"]}), 404)
    error(manage_client.post("/key/delete", json={"key_aliases": ["a", "missing"]}), 404)
    assert len(stored(manage_client, VirtualKey)) == 1


@pytest.mark.parametrize("body", [{}, {"keys": []}, {"keys": ["a"], "key_aliases": ["b"]}, {"key": "a"}])
def test_delete_needs_one_list(manage_client: TestClient, body: dict[str, Any]) -> None:
    error(manage_client.post("/key/delete", json=body), 422)


@pytest.mark.parametrize("where", ["body", "path", "path-hash"])
def test_regenerate_replaces_the_value_and_keeps_the_settings(manage_client: TestClient, where: str) -> None:
    seed(manage_client, Team(team_id="t1"))
    made = generate(manage_client, key_alias="rotating", max_budget=3, team_id="t1", user_id="alice",
                    metadata={"x": 1})
    assert chat(manage_client, made["key"]) != 401  # cached: regenerating must evict it
    if where == "body":
        answer = manage_client.post("/key/regenerate", json={"key": made["key"], "rpm_limit": 9})
    else:
        ident = made["key"] if where == "path" else made["token"]
        answer = manage_client.post(f"/key/{ident}/regenerate", json={"rpm_limit": 9})
    assert answer.status_code == 200, answer.text
    fresh = answer.json()
    assert fresh["key"] != made["key"]
    assert fresh["token"] == fresh["token_id"] == hash_key(fresh["key"])
    for name in ("key_alias", "max_budget", "team_id", "user_id", "metadata", "created_at"):
        assert fresh[name] == made[name], name
    assert fresh["rpm_limit"] == 9
    assert chat(manage_client, made["key"]) == 401
    assert chat(manage_client, fresh["key"]) != 401
    [row] = stored(manage_client, VirtualKey)
    assert row.token == hash_key(fresh["key"])
    [entry] = stored(manage_client, AuditLog, AuditLog.action == "regenerated")
    assert entry.object_id == row.token
    assert entry.before_value["token"] == made["token"]
    assert made["key"] not in json.dumps([entry.before_value, entry.updated_values])


def test_regenerate_without_a_path_body_and_with_a_chosen_value(manage_client: TestClient) -> None:
    made = generate(manage_client)
    fresh = manage_client.post(f"/key/{made['key']}/regenerate").json()
    assert fresh["token"] != made["token"]
    chosen = manage_client.post("/key/regenerate", json={"key": fresh["key"], "new_key": "sk-rotated-by-admin"})
    assert chosen.json()["key"] == "sk-rotated-by-admin"
    error(manage_client.post("/key/regenerate", json={}), 400)
    error(manage_client.post("/key/regenerate", json={"key": "sk-never-made-9999"}), 404)
    error(manage_client.post("/key/sk-a-key-1111/regenerate", json={"key": "sk-other-key-2222"}), 400)


def test_block_and_unblock_take_effect_at_once(manage_client: TestClient) -> None:
    made = generate(manage_client)
    assert chat(manage_client, made["key"]) != 401
    blocked = manage_client.post("/key/block", json={"key": made["key"]})
    assert blocked.status_code == 200
    assert blocked.json()["blocked"] is True
    assert made["key"] not in blocked.text
    assert chat(manage_client, made["key"]) == 401
    assert manage_client.get("/key/info", headers=bearer(made["key"])).status_code == 401
    unblocked = manage_client.post("/key/unblock", json={"key": made["token"]})
    assert unblocked.status_code == 200
    assert unblocked.json()["blocked"] is False
    assert chat(manage_client, made["key"]) != 401
    error(manage_client.post("/key/block", json={"key": "sk-never-made-0000"}), 404)
    actions = [entry.action for entry in stored(manage_client, AuditLog, AuditLog.object_id == made["token"])]
    assert sorted(actions) == ["blocked", "created", "unblocked"]


def test_key_info_without_a_key_describes_the_caller(manage_client: TestClient) -> None:
    made = generate(manage_client, key_alias="me")
    answer = manage_client.get("/key/info", headers=bearer(made["key"]))
    assert answer.status_code == 200
    assert answer.json()["info"]["key_alias"] == "me"
    error(manage_client.get("/key/info"), 400)  # the master key is no virtual key


def test_list_pages_filters_and_shapes(manage_client: TestClient) -> None:
    seed(manage_client, Team(team_id="t1"))
    made = [generate(manage_client, key_alias=f"k{i}", user_id="alice" if i % 2 else "bob",
                     team_id="t1" if i < 2 else None) for i in range(5)]
    first = manage_client.get("/key/list", params={"size": 2}).json()
    assert (first["total_count"], first["current_page"], first["total_pages"]) == (5, 1, 3)
    pages = [manage_client.get("/key/list", params={"size": 2, "page": page}).json()["keys"] for page in (1, 2, 3)]
    assert sorted(token for page in pages for token in page) == sorted(m["token"] for m in made)
    assert pages[0] == [made[4]["token"], made[3]["token"]]  # newest first

    def tokens(**params: Any) -> list[str]:
        answer = manage_client.get("/key/list", params=params)
        assert answer.status_code == 200, answer.text
        return sorted(answer.json()["keys"])

    assert tokens(user_id="alice") == sorted([made[1]["token"], made[3]["token"]])
    assert tokens(team_id="t1") == sorted([made[0]["token"], made[1]["token"]])
    assert tokens(key_alias="k2") == [made[2]["token"]]
    assert tokens(key_hash=made[2]["token"]) == tokens(key_hash=made[2]["key"]) == [made[2]["token"]]
    assert tokens(user_id="nobody") == []
    full = manage_client.get("/key/list", params={"return_full_object": True, "key_alias": "k0"}).json()["keys"]
    assert full[0]["key_alias"] == "k0"
    assert full[0]["token"] == made[0]["token"]
    by_alias = manage_client.get("/key/list", params={"sort_by": "key_alias", "sort_order": "asc"}).json()
    assert by_alias["keys"][0] == made[0]["token"]


@pytest.mark.parametrize(("params", "status"), [
    ({"size": 101}, 422), ({"size": 0}, 422), ({"page": 0}, 422), ({"page": "x"}, 422),
    ({"sort_by": "token; drop table"}, 400), ({"sort_order": "up"}, 400),
])
def test_list_refuses_bad_parameters(manage_client: TestClient, params: dict[str, Any], status: int) -> None:
    error(manage_client.get("/key/list", params=params), status)


def test_management_needs_a_key(manage_client: TestClient) -> None:
    for answer in (manage_client.get("/key/list", headers={"authorization": ""}),
                   manage_client.post("/key/generate", json={}, headers=bearer("sk-wrong-key-0000"))):
        error(answer, 401)
