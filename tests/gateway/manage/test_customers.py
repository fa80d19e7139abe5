"""/customer/* and /end_user/*: end users, their budgets, blocking and deletion."""

from __future__ import annotations

from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, EndUser
from tests.gateway.manage.principals import caller, fetch


def test_customer_new_with_limits_or_a_budget_id(manage_client: TestClient) -> None:
    made = manage_client.post("/customer/new", json={"user_id": "c1", "alias": "Acme", "max_budget": 9.99,
                                                     "budget_duration": "1mo", "allowed_model_region": "eu"})
    assert made.status_code == 200, made.text
    customer = made.json()
    assert (customer["user_id"], customer["alias"], customer["allowed_model_region"]) == ("c1", "Acme", "eu")
    assert customer["litellm_budget_table"]["max_budget"] == 9.99
    assert customer["litellm_budget_table"]["budget_reset_at"]
    manage_client.post("/budget/new", json={"budget_id": "free", "max_budget": 1})
    tiered = manage_client.post("/end_user/new", json={"user_id": "c2", "budget_id": "free"})
    assert tiered.status_code == 200, tiered.text
    assert tiered.json()["budget_id"] == "free"
    bare = manage_client.post("/customer/new", json={"user_id": "c3"})
    assert bare.json()["litellm_budget_table"] is None


def test_customer_new_refuses_bad_input(manage_client: TestClient) -> None:
    manage_client.post("/customer/new", json={"user_id": "c1"})
    cases = [
        ({"user_id": "c1"}, 400, "already exists"),
        ({}, 422, "user_id"),
        ({"user_id": "c2", "max_budget": -1}, 422, "max_budget"),
        ({"user_id": "c2", "budget_duration": "often"}, 422, "budget_duration"),
        ({"user_id": "c2", "budget_id": "nope"}, 404, "nope"),
        ({"user_id": "c2", "budget_id": "nope", "max_budget": 1}, 400, "not both"),
        ({"user_id": "c2", "allowed_model_region": "mars"}, 422, "allowed_model_region"),
    ]
    for body, status, words in cases:
        answer = manage_client.post("/customer/new", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], (body, answer.text)


def test_customer_info_update_list_delete(manage_client: TestClient) -> None:
    manage_client.post("/customer/new", json={"user_id": "c1", "max_budget": 1})
    manage_client.post("/customer/new", json={"user_id": "c2"})
    info = manage_client.get("/customer/info", params={"end_user_id": "c1"})
    assert info.json()["litellm_budget_table"]["max_budget"] == 1
    assert manage_client.get("/end_user/info", params={"end_user_id": "c9"}).status_code == 404
    updated = manage_client.post("/customer/update", json={"user_id": "c1", "max_budget": 3, "alias": "A"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["litellm_budget_table"]["max_budget"] == 3
    assert updated.json()["alias"] == "A"
    given = manage_client.post("/customer/update", json={"user_id": "c2", "rpm_limit": 5})
    assert given.json()["litellm_budget_table"]["rpm_limit"] == 5
    assert manage_client.post("/customer/update", json={"user_id": "c9"}).status_code == 404
    assert manage_client.post("/customer/update", json={"user_id": "c1", "budget_id": "nope"}).status_code == 404
    assert [c["user_id"] for c in manage_client.get("/customer/list").json()] == ["c1", "c2"]
    assert [c["user_id"] for c in manage_client.get("/end_user/list", params={"page": 2, "page_size": 1}).json()] == [
        "c2"]
    missing = manage_client.post("/customer/delete", json={"user_ids": ["c1", "c9"]})
    assert missing.status_code == 404
    assert "c9" in missing.json()["error"]["message"]
    deleted = manage_client.post("/customer/delete", json={"user_ids": ["c1", "c1"]})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted_customers"] == 1
    assert [row.user_id for row in fetch(manage_client, EndUser)] == ["c2"]


def test_block_creates_unknown_customers_and_unblock_needs_known_ones(manage_client: TestClient) -> None:
    manage_client.post("/customer/new", json={"user_id": "c1"})
    blocked = manage_client.post("/customer/block", json={"user_ids": ["c1", "stranger"]})
    assert blocked.status_code == 200, blocked.text
    assert [(c["user_id"], c["blocked"]) for c in blocked.json()["blocked_users"]] == [
        ("c1", True), ("stranger", True)]
    assert manage_client.post("/customer/unblock", json={"user_ids": ["nobody"]}).status_code == 404
    unblocked = manage_client.post("/end_user/unblock", json={"user_ids": ["c1"]})
    assert unblocked.json()["unblocked_users"][0]["blocked"] is False
    assert manage_client.get("/customer/info", params={"end_user_id": "stranger"}).json()["blocked"] is True
    actions = [e.action for e in fetch(manage_client, AuditLog, table_name="end_users", object_id="c1")]
    assert actions == ["created", "blocked", "unblocked"]


def test_who_may_read_and_change_customers(manage_client: TestClient) -> None:
    manage_client.post("/customer/new", json={"user_id": "c1"})
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    user = caller(manage_client, "user")
    assert manage_client.get("/customer/list", headers=viewer).status_code == 200
    assert manage_client.get("/customer/info", params={"end_user_id": "c1"}, headers=viewer).status_code == 200
    for headers in (viewer, user):
        assert manage_client.post("/customer/new", json={"user_id": "c2"}, headers=headers).status_code == 403
        assert manage_client.post("/customer/update", json={"user_id": "c1"}, headers=headers).status_code == 403
        assert manage_client.post("/customer/block", json={"user_ids": ["c1"]}, headers=headers).status_code == 403
        assert manage_client.post("/customer/delete", json={"user_ids": ["c1"]}, headers=headers).status_code == 403
    assert manage_client.get("/customer/list", headers=user).status_code == 403
