"""/budget/*: reusable budgets — exact amounts, resets, who may change them, and deletion of one in use."""

from __future__ import annotations

from decimal import Decimal

from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, Budget
from tests.gateway.manage.principals import caller, fetch


def test_budget_new_is_exact_and_resets(manage_client: TestClient) -> None:
    answer = manage_client.post("/budget/new", json={"budget_id": "free", "max_budget": 0.1, "soft_budget": 0.05,
                                                     "budget_duration": "30d", "rpm_limit": 3,
                                                     "model_max_budget": {"gpt-4o": {"budget_limit": 1}}})
    assert answer.status_code == 200, answer.text
    budget = answer.json()
    assert (budget["budget_id"], budget["max_budget"], budget["soft_budget"], budget["rpm_limit"]) == (
        "free", 0.1, 0.05, 3)
    assert budget["budget_reset_at"]
    assert budget["created_by"] == "default_user_id"
    [row] = fetch(manage_client, Budget, budget_id="free")
    assert row.max_budget == Decimal("0.1")
    generated = manage_client.post("/budget/new", json={})
    assert generated.status_code == 200
    assert generated.json()["budget_id"]


def test_budget_new_refuses_bad_input(manage_client: TestClient) -> None:
    manage_client.post("/budget/new", json={"budget_id": "free"})
    cases = [
        ({"budget_id": "free"}, 400, "already exists"),
        ({"max_budget": -0.5}, 422, "max_budget"),
        ({"max_budget": "NaN"}, 422, "max_budget"),
        ({"soft_budget": -1}, 422, "soft_budget"),
        ({"budget_duration": "3 weeks"}, 422, "budget_duration"),
        ({"budget_duration": "0d"}, 422, "budget_duration"),
        ({"max_parallel_requests": -1}, 422, "max_parallel_requests"),
    ]
    for body, status, words in cases:
        answer = manage_client.post("/budget/new", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], (body, answer.text)


def test_budget_info_update_list_delete(manage_client: TestClient) -> None:
    manage_client.post("/budget/new", json={"budget_id": "a", "max_budget": 1})
    manage_client.post("/budget/new", json={"budget_id": "b", "max_budget": 2})
    info = manage_client.post("/budget/info", json={"budgets": ["b", "a"]})
    assert [b["budget_id"] for b in info.json()] == ["b", "a"]
    assert manage_client.post("/budget/info", json={"budgets": ["a", "zzz"]}).status_code == 404
    assert manage_client.post("/budget/info", json={"budgets": []}).status_code == 422
    updated = manage_client.post("/budget/update", json={"budget_id": "a", "max_budget": 5, "tpm_limit": 7})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["max_budget"], updated.json()["tpm_limit"]) == (5, 7)
    cleared = manage_client.post("/budget/update", json={"budget_id": "a", "max_budget": None})
    assert cleared.json()["max_budget"] is None
    assert manage_client.post("/budget/update", json={"budget_id": "zzz", "max_budget": 1}).status_code == 404
    assert manage_client.post("/budget/update", json={"max_budget": 1}).status_code == 422
    assert [b["budget_id"] for b in manage_client.get("/budget/list").json()] == ["a", "b"]
    assert [b["budget_id"] for b in manage_client.get("/budget/list", params={"page_size": 1,
                                                                               "page": 2}).json()] == ["b"]
    deleted = manage_client.post("/budget/delete", json={"id": "b"})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["budget_id"] == "b"
    assert manage_client.post("/budget/delete", json={"id": "b"}).status_code == 404
    actions = [e.action for e in fetch(manage_client, AuditLog, table_name="budgets")]
    assert actions == ["created", "created", "updated", "updated", "deleted"]


def test_a_budget_in_use_is_not_deleted(manage_client: TestClient) -> None:
    manage_client.post("/budget/new", json={"budget_id": "tier"})
    manage_client.post("/customer/new", json={"user_id": "c1", "budget_id": "tier"})
    answer = manage_client.post("/budget/delete", json={"id": "tier"})
    assert answer.status_code == 409
    assert "1 end users" in answer.json()["error"]["message"]


def test_who_may_read_and_change_budgets(manage_client: TestClient) -> None:
    manage_client.post("/budget/new", json={"budget_id": "a"})
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    user = caller(manage_client, "user")
    assert manage_client.get("/budget/list", headers=viewer).status_code == 200
    assert manage_client.post("/budget/info", json={"budgets": ["a"]}, headers=viewer).status_code == 200
    for headers in (viewer, user):
        assert manage_client.post("/budget/new", json={}, headers=headers).status_code == 403
        assert manage_client.post("/budget/update", json={"budget_id": "a"}, headers=headers).status_code == 403
        assert manage_client.post("/budget/delete", json={"id": "a"}, headers=headers).status_code == 403
    assert manage_client.get("/budget/list", headers=user).status_code == 403
    assert manage_client.post("/budget/info", json={"budgets": ["a"]}, headers=user).status_code == 403
