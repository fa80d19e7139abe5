"""/team/*: settings, members and roles, blocking, deletion — for every role, with every bad input."""

from __future__ import annotations

from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, Budget, Team, TeamMembership, VirtualKey
from tests.gateway.manage.principals import caller, fetch, key_for


def _team(client: TestClient, **body: object) -> str:
    answer = client.post("/team/new", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["team_id"])


def _org(client: TestClient, organization_id: str, **body: object) -> None:
    answer = client.post("/organization/new", json={"organization_id": organization_id,
                                                    "organization_alias": organization_id, **body})
    assert answer.status_code == 200, answer.text


def test_team_new_with_members_limits_and_models(manage_client: TestClient) -> None:
    manage_client.post("/user/new", json={"user_id": "lead", "user_email": "lead@example.com"})
    answer = manage_client.post("/team/new", json={
        "team_id": "t1", "team_alias": "core", "max_budget": 100.25, "budget_duration": "1mo", "tpm_limit": 1000,
        "rpm_limit": 10, "models": ["gpt-4o"], "model_aliases": {"fast": "gpt-4o-mini"},
        "model_rpm_limit": {"gpt-4o": 5}, "metadata": {"cost_centre": 7},
        "members_with_roles": [{"user_id": "lead", "role": "admin"}, {"user_email": "new@example.com"}]})
    assert answer.status_code == 200, answer.text
    team = answer.json()
    assert (team["team_id"], team["team_alias"], team["max_budget"], team["budget_duration"]) == (
        "t1", "core", 100.25, "1mo")
    assert team["budget_reset_at"]
    assert team["models"] == ["gpt-4o"]
    assert team["model_rpm_limit"] == {"gpt-4o": 5}
    assert team["metadata"] == {"cost_centre": 7}
    assert team["spend"] == 0
    assert team["blocked"] is False
    roles = {(m["user_email"], m["role"]) for m in team["members_with_roles"]}
    assert roles == {("lead@example.com", "admin"), ("new@example.com", "user")}
    assert team["admins"] == ["lead"]
    created = manage_client.get("/user/list", params={"user_email": "new@"}).json()["users"]
    assert created[0]["teams"] == ["t1"]
    assert created[0]["user_role"] == "internal_user"
    assert [e.action for e in fetch(manage_client, AuditLog, table_name="teams", object_id="t1")] == [
        "created", "member_added", "member_added"]


def test_team_new_refuses_bad_input(manage_client: TestClient) -> None:
    _team(manage_client, team_id="t1")
    cases = [
        ({"team_id": "t1"}, 400, "already exists"),
        ({"max_budget": -0.01}, 422, "max_budget"),
        ({"budget_duration": "1 fortnight"}, 422, "budget_duration"),
        ({"tpm_limit": -1}, 422, "tpm_limit"),
        ({"model_rpm_limit": {"gpt-4o": -1}}, 422, "model_rpm_limit"),
        ({"model_max_budget": {"gpt-4o": {"budget_limit": -3}}}, 422, "model_max_budget"),
        ({"members_with_roles": [{"role": "admin"}]}, 422, "user_id or a user_email"),
        ({"members_with_roles": [{"user_id": "x", "role": "owner"}]}, 422, "role"),
        ({"organization_id": "no-such-org"}, 404, "no-such-org"),
    ]
    for body, status, words in cases:
        answer = manage_client.post("/team/new", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], (body, answer.text)


def test_who_may_create_a_team(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    _org(manage_client, "org2")
    boss = caller(manage_client, "boss", org_admin_of="org1")
    user = caller(manage_client, "user")
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    assert manage_client.post("/team/new", json={"organization_id": "org1"}, headers=boss).status_code == 200
    # an organisation that exists but is not the caller's answers as if it did not exist
    other = manage_client.post("/team/new", json={"organization_id": "org2"}, headers=boss)
    missing = manage_client.post("/team/new", json={"organization_id": "org3"}, headers=boss)
    assert other.status_code == missing.status_code == 404
    assert manage_client.post("/team/new", json={}, headers=boss).status_code == 403
    assert manage_client.post("/team/new", json={}, headers=user).status_code == 403
    assert manage_client.post("/team/new", json={}, headers=viewer).status_code == 403


def test_a_team_stays_inside_its_organisation(manage_client: TestClient) -> None:
    _org(manage_client, "org1", models=["gpt-4o"], max_budget=50)
    outside = manage_client.post("/team/new", json={"organization_id": "org1", "models": ["o1"]})
    assert outside.status_code == 400
    assert "o1" in outside.json()["error"]["message"]
    above = manage_client.post("/team/new", json={"organization_id": "org1", "max_budget": 51})
    assert above.status_code == 400
    assert "max_budget" in above.json()["error"]["message"]
    team = _team(manage_client, organization_id="org1", models=["gpt-4o"], max_budget=50)
    assert manage_client.post("/team/update", json={"team_id": team, "max_budget": 60}).status_code == 400


def test_team_info_for_members_org_admins_and_readers_only(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    team = _team(manage_client, team_id="t1", organization_id="org1")
    _team(manage_client, team_id="t2")
    member = caller(manage_client, "member", team_id=team)
    manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_id": "member"}})
    boss = caller(manage_client, "boss", org_admin_of="org1")
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    outsider = caller(manage_client, "outsider")
    for headers in ({}, member, boss, viewer):
        answer = manage_client.get("/team/info", params={"team_id": "t1"}, headers=headers)
        assert answer.status_code == 200, answer.text
        info = answer.json()
        assert info["team_id"] == "t1"
        assert info["team_info"]["members"] == ["member"]
        assert [k["user_id"] for k in info["keys"]] == ["member"]
        assert "token" not in info["keys"][0]
        assert info["team_memberships"][0]["role"] == "user"
    for headers in (outsider, member, boss):
        hidden = manage_client.get("/team/info", params={"team_id": "t2"}, headers=headers)
        missing = manage_client.get("/team/info", params={"team_id": "t9"}, headers=headers)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["message"] == "Team 't2' not found"
    assert manage_client.get("/team/info").status_code == 422


def test_team_update_splits_settings_from_limits(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    team = _team(manage_client, team_id="t1", organization_id="org1", max_budget=10)
    lead = caller(manage_client, "lead")
    member = caller(manage_client, "member")
    boss = caller(manage_client, "boss", org_admin_of="org1")
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    manage_client.post("/team/member_add", json={"team_id": team, "member": [
        {"user_id": "lead", "role": "admin"}, {"user_id": "member"}]})
    renamed = manage_client.post("/team/update", json={"team_id": team, "team_alias": "renamed",
                                                       "metadata": {"a": 1}}, headers=lead)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"]["team_alias"] == "renamed"
    assert renamed.json()["data"]["max_budget"] == 10
    for field, value in (("max_budget", 1000), ("models", ["o1"]), ("tpm_limit", 5), ("blocked", False),
                         ("guardrails", []), ("model_aliases", {"a": "b"}), ("organization_id", None)):
        refused = manage_client.post("/team/update", json={"team_id": team, field: value}, headers=lead)
        assert refused.status_code == 403, (field, refused.text)
    assert manage_client.post("/team/update", json={"team_id": team, "team_alias": "x"},
                              headers=member).status_code == 403
    assert manage_client.post("/team/update", json={"team_id": team, "team_alias": "x"},
                              headers=viewer).status_code == 403
    raised = manage_client.post("/team/update", json={"team_id": team, "max_budget": 20, "budget_duration": "7d"},
                                headers=boss)
    assert raised.status_code == 200, raised.text
    assert raised.json()["data"]["max_budget"] == 20
    assert raised.json()["data"]["budget_reset_at"]
    moved = manage_client.post("/team/update", json={"team_id": team, "organization_id": None}, headers=boss)
    assert moved.status_code == 403
    assert manage_client.post("/team/update", json={"team_id": "t9", "team_alias": "x"}).status_code == 404
    assert manage_client.post("/team/update", json={"team_id": team, "rpm_limit": -1}).status_code == 422
    entries = fetch(manage_client, AuditLog, table_name="teams", object_id=team, action="updated")
    assert entries[0].before_value["team_alias"] is None
    assert entries[0].updated_values["team_alias"] == "renamed"
    assert entries[0].changed_by == "lead"


def test_member_add_by_id_and_email_with_a_budget(manage_client: TestClient) -> None:
    team = _team(manage_client, team_id="t1")
    lead = caller(manage_client, "lead")
    manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_id": "lead", "role": "admin"}})
    caller(manage_client, "known")
    answer = manage_client.post("/team/member_add", headers=lead, json={
        "team_id": team, "max_budget_in_team": 2.5,
        "member": [{"user_id": "known"}, {"user_email": "Fresh@example.com", "role": "admin"}]})
    assert answer.status_code == 200, answer.text
    added = answer.json()
    assert added["team_id"] == team
    assert len(added["members_with_roles"]) == 3
    assert {u["user_email"] for u in added["updated_users"]} == {"known@example.com", "Fresh@example.com"}
    budgets = [m["litellm_budget_table"]["max_budget"] for m in added["updated_team_memberships"]]
    assert budgets == [2.5, 2.5]
    again = manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_email":
                                                                                     "fresh@example.com"}})
    assert again.status_code == 400
    assert "already" in again.json()["error"]["message"]


def test_member_add_refusals(manage_client: TestClient) -> None:
    team = _team(manage_client, team_id="t1")
    _team(manage_client, team_id="t2")
    member = caller(manage_client, "member")
    manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_id": "member"}})
    outsider = caller(manage_client, "outsider")
    body = {"team_id": team, "member": {"user_id": "someone"}}
    assert manage_client.post("/team/member_add", json=body, headers=member).status_code == 403
    assert manage_client.post("/team/member_add", json=body, headers=outsider).status_code == 404
    unknown = manage_client.post("/team/member_add", json={"team_id": "t9", "member": {"user_id": "x"}})
    assert unknown.status_code == 404
    assert "t9" in unknown.json()["error"]["message"]
    assert manage_client.post("/team/member_add", json={"team_id": team, "member": {}}).status_code == 422
    twice = manage_client.post("/team/member_add", json={"team_id": team, "member": [
        {"user_id": "a"}, {"user_id": "a", "role": "admin"}]})
    assert twice.status_code in (200, 400)
    negative = manage_client.post("/team/member_add", json={**body, "max_budget_in_team": -1})
    assert negative.status_code == 422


def test_member_delete_removes_the_members_team_keys(manage_client: TestClient) -> None:
    team = _team(manage_client, team_id="t1")
    headers = caller(manage_client, "member", team_id=team)
    own_key = key_for(manage_client, "member")
    manage_client.post("/team/member_add", json={"team_id": team, "max_budget_in_team": 3,
                                                 "member": {"user_id": "member"}})
    answer = manage_client.post("/team/member_delete", json={"team_id": team, "user_email": "MEMBER@example.com"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["members_with_roles"] == []
    assert manage_client.get("/user/info", headers=headers).status_code == 401  # the team key is gone
    assert manage_client.get("/user/info", headers=own_key).status_code == 200  # the user's own key is not
    assert fetch(manage_client, Budget) == []
    again = manage_client.post("/team/member_delete", json={"team_id": team, "user_id": "member"})
    assert again.status_code == 400
    assert "not a member" in again.json()["error"]["message"]
    assert manage_client.post("/team/member_delete", json={"team_id": "t9", "user_id": "x"}).status_code == 404
    assert manage_client.post("/team/member_delete", json={"team_id": team}).status_code == 422


def test_member_update_changes_role_and_budget(manage_client: TestClient) -> None:
    team = _team(manage_client, team_id="t1")
    member = caller(manage_client, "member")
    manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_id": "member"}})
    assert manage_client.post("/team/member_add", headers=member, json={
        "team_id": team, "member": {"user_id": "x"}}).status_code == 403
    answer = manage_client.post("/team/member_update", json={"team_id": team, "user_id": "member", "role": "admin",
                                                             "max_budget_in_team": 7})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"team_id": team, "user_id": "member", "user_email": "member@example.com",
                             "role": "admin", "max_budget_in_team": 7}
    assert manage_client.post("/team/member_add", headers=member, json={
        "team_id": team, "member": {"user_id": "x"}}).status_code == 200
    assert manage_client.post("/team/member_update", json={"team_id": team, "user_id": "nobody",
                                                           "role": "admin"}).status_code == 400


def test_block_and_unblock(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    team = _team(manage_client, team_id="t1", organization_id="org1")
    lead = caller(manage_client, "lead")
    manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_id": "lead", "role": "admin"}})
    boss = caller(manage_client, "boss", org_admin_of="org1")
    assert manage_client.post("/team/block", json={"team_id": team}, headers=lead).status_code == 403
    blocked = manage_client.post("/team/block", json={"team_id": team}, headers=boss)
    assert blocked.status_code == 200
    assert blocked.json()["blocked"] is True
    assert manage_client.post("/team/unblock", json={"team_id": team}, headers=lead).status_code == 403
    assert manage_client.post("/team/unblock", json={"team_id": team}).json()["blocked"] is False
    assert manage_client.post("/team/block", json={"team_id": "t9"}).status_code == 404
    assert [e.action for e in fetch(manage_client, AuditLog, object_id=team)][-2:] == ["blocked", "unblocked"]


def test_team_delete_removes_keys_and_memberships(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    team = _team(manage_client, team_id="t1", organization_id="org1")
    other = _team(manage_client, team_id="t2")
    lead = caller(manage_client, "lead", team_id=team)
    manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_id": "lead", "role": "admin"}})
    boss = caller(manage_client, "boss", org_admin_of="org1")
    assert manage_client.post("/team/delete", json={"team_ids": [team]}, headers=lead).status_code == 403
    assert manage_client.post("/team/delete", json={"team_ids": [other]}, headers=boss).status_code == 404
    assert manage_client.post("/team/delete", json={"team_ids": [team, "t9"]}).status_code == 404
    assert manage_client.post("/team/delete", json={"team_ids": []}).status_code == 422
    answer = manage_client.post("/team/delete", json={"team_ids": [team, team]}, headers=boss)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deleted_teams": [team]}
    assert fetch(manage_client, Team, team_id=team) == []
    assert fetch(manage_client, VirtualKey, team_id=team) == []
    assert fetch(manage_client, TeamMembership, team_id=team) == []
    assert manage_client.get("/user/info", headers=lead).status_code == 401
    assert manage_client.post("/team/delete", json={"team_ids": [other]}).status_code == 200


def test_team_list_shows_each_caller_its_own_teams(manage_client: TestClient) -> None:
    _org(manage_client, "org1")
    first = _team(manage_client, team_id="t1", organization_id="org1")
    _team(manage_client, team_id="t2")
    _team(manage_client, team_id="t3")
    member = caller(manage_client, "member")
    manage_client.post("/team/member_add", json={"team_id": "t3", "member": {"user_id": "member"}})
    boss = caller(manage_client, "boss", org_admin_of="org1")

    def ids(headers: dict[str, str] | None = None, **params: str) -> list[str]:
        answer = manage_client.get("/team/list", params=params, headers=headers or {})
        assert answer.status_code == 200, answer.text
        return [team["team_id"] for team in answer.json()]

    assert ids() == ["t1", "t2", "t3"]
    assert ids(organization_id="org1") == [first]
    assert ids(organization_id="default_organization") == ["t2", "t3"]
    assert ids(user_id="member") == ["t3"]
    assert ids(member) == ["t3"]
    assert ids(boss) == ["t1"]
    assert ids(page_size="2", page="2") == ["t3"]
    assert manage_client.get("/team/list", params={"user_id": "boss"}, headers=member).status_code == 403
    listed = manage_client.get("/team/list", params={"user_id": "member"}).json()[0]
    assert listed["team_memberships"][0]["user_id"] == "member"
    assert listed["keys"] == []
