"""/organization/*: organisations, their budgets, members and teams — for every role, with every bad input."""

from __future__ import annotations

from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, Organization, Team, User, VirtualKey
from tests.gateway.manage.principals import caller, fetch, key_for


def _org(client: TestClient, organization_id: str, **body: object) -> dict[str, object]:
    answer = client.post("/organization/new", json={"organization_id": organization_id,
                                                    "organization_alias": f"{organization_id}-alias", **body})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_organization_new_keeps_its_limits_in_a_budget_row(manage_client: TestClient) -> None:
    org = _org(manage_client, "org1", models=["gpt-4o"], max_budget=12.5, budget_duration="1d", rpm_limit=9)
    budget = org["litellm_budget_table"]
    assert isinstance(budget, dict)
    assert (budget["max_budget"], budget["budget_duration"], budget["rpm_limit"]) == (12.5, "1d", 9)
    assert budget["budget_reset_at"]
    assert org["budget_id"] == budget["budget_id"]
    assert (org["organization_alias"], org["models"], org["spend"]) == ("org1-alias", ["gpt-4o"], 0)
    manage_client.post("/budget/new", json={"budget_id": "shared", "max_budget": 3})
    shared = _org(manage_client, "org2", budget_id="shared")
    assert shared["budget_id"] == "shared"
    assert [e.action for e in fetch(manage_client, AuditLog, table_name="organizations")] == ["created", "created"]


def test_organization_new_refuses_bad_input(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    cases = [
        ({"organization_id": "org1", "organization_alias": "x"}, 400, "already exists"),
        ({}, 422, "organization_alias"),
        ({"organization_alias": "x", "max_budget": -5}, 422, "max_budget"),
        ({"organization_alias": "x", "budget_duration": "soon"}, 422, "budget_duration"),
        ({"organization_alias": "x", "budget_id": "nope"}, 404, "nope"),
        ({"organization_alias": "x", "budget_id": "nope", "max_budget": 1}, 400, "not both"),
    ]
    for body, status, words in cases:
        answer = manage_client.post("/organization/new", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], (body, answer.text)
    boss = caller(manage_client, "boss", org_admin_of="org1")
    assert manage_client.post("/organization/new", json={"organization_alias": "x"}, headers=boss).status_code == 403


def test_organization_info_for_members_and_readers_only(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    _org(manage_client, "org2")
    manage_client.post("/team/new", json={"team_id": "t1", "organization_id": "org1"})
    boss = caller(manage_client, "boss", org_admin_of="org1")
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    for headers in ({}, boss, viewer):
        answer = manage_client.get("/organization/info", params={"organization_id": "org1"}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert [m["user_id"] for m in answer.json()["members"]] == ["boss"]
        assert answer.json()["members"][0]["user_email"] == "boss@example.com"
        assert [t["team_id"] for t in answer.json()["teams"]] == ["t1"]
    hidden = manage_client.get("/organization/info", params={"organization_id": "org2"}, headers=boss)
    missing = manage_client.get("/organization/info", params={"organization_id": "org9"}, headers=boss)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"] == "Organization 'org2' not found"
    several = manage_client.post("/organization/info", json={"organizations": ["org2", "org1"]})
    assert [o["organization_id"] for o in several.json()] == ["org2", "org1"]
    assert manage_client.post("/organization/info", json={"organizations": ["org1", "x"]}).status_code == 404


def test_organization_update_limits_for_admins_names_for_org_admins(manage_client: TestClient) -> None:
    _org(manage_client, "org1", max_budget=10)
    _org(manage_client, "org2")
    boss = caller(manage_client, "boss", org_admin_of="org1")
    member = caller(manage_client, "member")
    manage_client.post("/organization/member_add", json={"organization_id": "org1", "member": {"user_id": "member"}})
    renamed = manage_client.patch("/organization/update", headers=boss,
                                  json={"organization_id": "org1", "organization_alias": "renamed"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["organization_alias"] == "renamed"
    refused = manage_client.patch("/organization/update", json={"organization_id": "org1", "max_budget": 99},
                                  headers=boss)
    assert refused.status_code == 403
    assert manage_client.patch("/organization/update", json={"organization_id": "org1", "models": ["a"]},
                               headers=boss).status_code == 403
    assert manage_client.patch("/organization/update", json={"organization_id": "org1", "metadata": {}},
                               headers=member).status_code == 403
    assert manage_client.patch("/organization/update", json={"organization_id": "org2", "metadata": {}},
                               headers=boss).status_code == 404
    raised = manage_client.post("/organization/update", json={"organization_id": "org1", "max_budget": 20,
                                                              "tpm_limit": 100})
    assert raised.status_code == 200, raised.text
    assert raised.json()["litellm_budget_table"]["max_budget"] == 20
    assert raised.json()["litellm_budget_table"]["tpm_limit"] == 100
    assert manage_client.patch("/organization/update", json={"organization_id": "org9"}).status_code == 404
    assert manage_client.patch("/organization/update", json={"organization_id": "org1",
                                                             "max_budget": -1}).status_code == 422


def test_organization_members(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    boss = caller(manage_client, "boss", org_admin_of="org1")
    member = caller(manage_client, "member")
    added = manage_client.post("/organization/member_add", headers=boss, json={
        "organization_id": "org1", "max_budget_in_organization": 4,
        "member": [{"user_id": "member"}, {"user_email": "new@example.com", "role": "org_admin"}]})
    assert added.status_code == 200, added.text
    memberships = added.json()["updated_organization_memberships"]
    assert [(m["user_role"], m["litellm_budget_table"]["max_budget"]) for m in memberships] == [
        ("internal_user", 4), ("org_admin", 4)]
    assert len(fetch(manage_client, User, user_email="new@example.com")) == 1
    again = manage_client.post("/organization/member_add", json={"organization_id": "org1",
                                                                 "member": {"user_id": "member"}})
    assert again.status_code == 400
    assert manage_client.post("/organization/member_add", headers=member, json={
        "organization_id": "org1", "member": {"user_id": "x"}}).status_code == 403
    assert manage_client.post("/organization/member_add", json={
        "organization_id": "org9", "member": {"user_id": "x"}}).status_code == 404
    assert manage_client.post("/organization/member_add", json={
        "organization_id": "org1", "member": {"user_id": "x", "role": "proxy_admin"}}).status_code == 422
    updated = manage_client.patch("/organization/member_update", json={
        "organization_id": "org1", "user_id": "member", "role": "org_admin", "max_budget_in_organization": 6})
    assert updated.status_code == 200, updated.text
    assert updated.json()["user_role"] == "org_admin"
    assert updated.json()["litellm_budget_table"]["max_budget"] == 6
    removed = manage_client.request("DELETE", "/organization/member_delete", headers=boss,
                                    json={"organization_id": "org1", "user_email": "NEW@example.com"})
    assert removed.status_code == 200, removed.text
    assert manage_client.request("DELETE", "/organization/member_delete", json={
        "organization_id": "org1", "user_email": "new@example.com"}).status_code == 400


def test_organization_list_shows_each_caller_its_own(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    _org(manage_client, "org2")
    boss = caller(manage_client, "boss", org_admin_of="org2")
    user = caller(manage_client, "user")

    def ids(headers: dict[str, str] | None = None, **params: str) -> list[str]:
        answer = manage_client.get("/organization/list", params=params, headers=headers or {})
        assert answer.status_code == 200, answer.text
        return [o["organization_id"] for o in answer.json()]

    assert ids() == ["org1", "org2"]
    assert ids(boss) == ["org2"]
    assert ids(user) == []
    assert ids(org_alias="ORG1") == ["org1"]
    assert ids(org_id="org2") == ["org2"]


def test_organization_delete_takes_its_teams_and_keys(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    manage_client.post("/team/new", json={"team_id": "t1", "organization_id": "org1"})
    headers = caller(manage_client, "member", team_id="t1")
    manage_client.post("/user/update", json={"user_id": "member"})
    key_for(manage_client, "member")
    boss = caller(manage_client, "boss", org_admin_of="org1")
    assert manage_client.request("DELETE", "/organization/delete", json={"organization_ids": ["org1"]},
                                 headers=boss).status_code == 403
    assert manage_client.request("DELETE", "/organization/delete",
                                 json={"organization_ids": ["org1", "nope"]}).status_code == 404
    answer = manage_client.request("DELETE", "/organization/delete", json={"organization_ids": ["org1"]})
    assert answer.status_code == 200, answer.text
    assert [o["organization_id"] for o in answer.json()] == ["org1"]
    assert fetch(manage_client, Organization) == []
    assert fetch(manage_client, Team) == []
    assert fetch(manage_client, VirtualKey, team_id="t1") == []
    assert manage_client.get("/user/info", headers=headers).status_code == 401
    assert manage_client.post("/organization/delete", json={"organization_ids": []}).status_code == 422
