"""/user/*: create, read, change, delete and list internal users, for every role, with every bad input."""

from __future__ import annotations

from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, TeamMembership, VirtualKey
from tests.gateway.manage.principals import add_rows, caller, fetch, key_for


def test_user_new_stores_the_user_with_exact_budget_and_reset(manage_client: TestClient) -> None:
    answer = manage_client.post("/user/new", json={"user_id": "u1", "user_email": "Ada@example.com",
                                                   "max_budget": 10.1, "budget_duration": "30d",
                                                   "models": ["gpt-4o"], "metadata": {"dept": "r&d"}})
    assert answer.status_code == 200, answer.text
    user = answer.json()
    assert user["user_id"] == "u1"
    assert user["user_role"] == "internal_user"
    assert user["key"] is None
    assert user["max_budget"] == 10.1
    assert user["budget_duration"] == "30d"
    assert user["budget_reset_at"]
    assert user["metadata"] == {"dept": "r&d"}
    assert user["spend"] == 0
    assert user["teams"] == []
    stored = fetch(manage_client, AuditLog, table_name="users", object_id="u1")
    assert [entry.action for entry in stored] == ["created"]
    assert stored[0].changed_by == "default_user_id"


def test_user_new_generates_an_id_and_joins_teams(manage_client: TestClient) -> None:
    team = manage_client.post("/team/new", json={"team_alias": "core"}).json()
    answer = manage_client.post("/user/new", json={"teams": [{"team_id": team["team_id"], "user_role": "admin",
                                                              "max_budget_in_team": 5}]})
    assert answer.status_code == 200, answer.text
    user_id = answer.json()["user_id"]
    assert answer.json()["teams"] == [team["team_id"]]
    info = manage_client.get("/team/info", params={"team_id": team["team_id"]}).json()
    assert info["team_info"]["members_with_roles"] == [{"user_id": user_id, "user_email": None, "role": "admin"}]
    assert info["team_memberships"][0]["litellm_budget_table"]["max_budget"] == 5


def test_user_new_refuses_bad_input(manage_client: TestClient) -> None:
    manage_client.post("/user/new", json={"user_id": "u1", "user_email": "a@example.com"})
    cases = [
        ({"user_id": "u1"}, 400, "already exists"),
        ({"user_email": "A@example.com"}, 400, "already exists"),
        ({"max_budget": -1}, 422, "max_budget"),
        ({"max_budget": "lots"}, 422, "max_budget"),
        ({"budget_duration": "thirty days"}, 422, "budget_duration"),
        ({"rpm_limit": -5}, 422, "rpm_limit"),
        ({"user_role": "emperor"}, 422, "user_role"),
        ({"teams": ["no-such-team"]}, 404, "no-such-team"),
        ({"organizations": ["no-such-org"]}, 404, "no-such-org"),
    ]
    for body, status, words in cases:
        answer = manage_client.post("/user/new", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]["message"], (body, answer.text)


def test_only_a_proxy_admin_creates_changes_and_deletes_users(manage_client: TestClient) -> None:
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    user = caller(manage_client, "someone")
    for headers in (viewer, user):
        assert manage_client.post("/user/new", json={}, headers=headers).status_code == 403
        assert manage_client.post("/user/update", json={"user_id": "someone", "max_budget": 100},
                                  headers=headers).status_code == 403
        assert manage_client.post("/user/delete", json={"user_ids": ["viewer"]}, headers=headers).status_code == 403


def test_user_info_for_self_admin_viewer_and_org_admin_but_not_others(manage_client: TestClient) -> None:
    manage_client.post("/organization/new", json={"organization_id": "org1", "organization_alias": "one"})
    own = caller(manage_client, "alice")
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    org_admin = caller(manage_client, "boss", org_admin_of="org1")
    manage_client.post("/organization/member_add", json={"organization_id": "org1",
                                                         "member": {"user_id": "alice", "role": "internal_user"}})
    caller(manage_client, "bob")
    for headers in (own, viewer, org_admin, {}):
        answer = manage_client.get("/user/info", params={"user_id": "alice"}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["user_info"]["user_id"] == "alice"
        assert [key["user_id"] for key in answer.json()["keys"]] == ["alice"]
        assert "token" not in answer.json()["keys"][0]
    assert manage_client.get("/user/info", headers=own).json()["user_id"] == "alice"  # no user_id: yourself
    hidden = manage_client.get("/user/info", params={"user_id": "bob"}, headers=own)
    missing = manage_client.get("/user/info", params={"user_id": "nobody"}, headers=own)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"] == "User 'bob' not found"
    assert manage_client.get("/user/info", params={"user_id": "bob"}, headers=org_admin).status_code == 404


def test_user_update_by_id_or_email(manage_client: TestClient) -> None:
    manage_client.post("/user/new", json={"user_id": "u1", "user_email": "a@example.com", "max_budget": 1})
    by_id = manage_client.post("/user/update", json={"user_id": "u1", "max_budget": 2.5, "user_role":
                                                     "proxy_admin_viewer", "user_email": "b@example.com"})
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["user_id"] == "u1"
    assert by_id.json()["data"]["max_budget"] == 2.5
    assert by_id.json()["data"]["user_email"] == "b@example.com"
    by_email = manage_client.post("/user/update", json={"user_email": "B@example.com", "budget_duration": "1d"})
    assert by_email.status_code == 200, by_email.text
    assert by_email.json()["data"]["budget_duration"] == "1d"
    assert by_email.json()["data"]["max_budget"] == 2.5
    cleared = manage_client.post("/user/update", json={"user_id": "u1", "max_budget": None})
    assert cleared.json()["data"]["max_budget"] is None
    assert manage_client.post("/user/update", json={"user_id": "nobody"}).status_code == 404
    assert manage_client.post("/user/update", json={"user_email": "nobody@x"}).status_code == 404
    assert manage_client.post("/user/update", json={"max_budget": 1}).status_code == 422
    assert manage_client.post("/user/update", json={"user_id": "u1", "soft_budget": -2}).status_code == 422


def test_a_role_change_takes_effect_at_once(manage_client: TestClient) -> None:
    headers = caller(manage_client, "u1")
    assert manage_client.get("/user/list", headers=headers).status_code == 403
    manage_client.post("/user/update", json={"user_id": "u1", "user_role": "proxy_admin_viewer"})
    assert manage_client.get("/user/list", headers=headers).status_code == 200


def test_user_delete_removes_keys_and_memberships(manage_client: TestClient) -> None:
    team = manage_client.post("/team/new", json={"team_alias": "t"}).json()["team_id"]
    headers = caller(manage_client, "u1", team_id=team)
    manage_client.post("/team/member_add", json={"team_id": team, "member": {"user_id": "u1"}})
    caller(manage_client, "u2")
    assert manage_client.get("/user/info", headers=headers).status_code == 200
    answer = manage_client.post("/user/delete", json={"user_ids": ["u1", "u2", "u1"]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == 2
    assert manage_client.get("/user/info", headers=headers).status_code == 401
    assert fetch(manage_client, VirtualKey, user_id="u1") == []
    assert fetch(manage_client, TeamMembership, user_id="u1") == []
    assert [e.action for e in fetch(manage_client, AuditLog, table_name="users", object_id="u2")][-1] == "deleted"
    missing = manage_client.post("/user/delete", json={"user_ids": ["u3"]})
    assert missing.status_code == 404
    assert "u3" in missing.json()["error"]["message"]
    assert manage_client.post("/user/delete", json={"user_ids": []}).status_code == 422


def test_user_list_pages_and_filters(manage_client: TestClient) -> None:
    team = manage_client.post("/team/new", json={"team_alias": "t"}).json()["team_id"]
    for n in range(5):
        manage_client.post("/user/new", json={"user_id": f"u{n}", "user_email": f"person{n}@example.com",
                                              "user_role": "internal_user_viewer" if n == 4 else "internal_user",
                                              "teams": [team] if n < 2 else []})
    key_for(manage_client, "u0")
    first = manage_client.get("/user/list", params={"page_size": 2}).json()
    assert (first["total"], first["page"], first["page_size"], first["total_pages"]) == (5, 1, 2, 3)
    assert [u["user_id"] for u in first["users"]] == ["u0", "u1"]
    assert first["users"][0]["key_count"] == 1
    assert first["users"][0]["teams"] == [team]
    last = manage_client.get("/user/list", params={"page_size": 2, "page": 3}).json()
    assert [u["user_id"] for u in last["users"]] == ["u4"]

    def ids(**params: str) -> list[str]:
        answer = manage_client.get("/user/list", params=params)
        assert answer.status_code == 200, answer.text
        return [u["user_id"] for u in answer.json()["users"]]

    assert ids(user_ids="u3,u1") == ["u1", "u3"]
    assert ids(role="internal_user_viewer") == ["u4"]
    assert ids(user_email="PERSON2") == ["u2"]
    assert ids(team=team) == ["u0", "u1"]
    assert manage_client.get("/user/list", params={"page_size": 101}).status_code == 422
    assert manage_client.get("/user/list", params={"page": 0}).status_code == 422


def test_user_list_for_viewers_and_org_admins_only(manage_client: TestClient) -> None:
    manage_client.post("/organization/new", json={"organization_id": "org1", "organization_alias": "one"})
    viewer = caller(manage_client, "viewer", "proxy_admin_viewer")
    boss = caller(manage_client, "boss", org_admin_of="org1")
    user = caller(manage_client, "user")
    assert manage_client.get("/user/list", headers=viewer).json()["total"] == 3
    assert manage_client.get("/user/list", headers=user).status_code == 403
    assert manage_client.get("/user/list", headers=boss).status_code == 403
    mine = manage_client.get("/user/list", params={"organization_id": "org1"}, headers=boss)
    assert [u["user_id"] for u in mine.json()["users"]] == ["boss"]
    assert manage_client.get("/user/list", params={"organization_id": "org2"}, headers=boss).status_code == 403
    add_rows(manage_client)  # nothing: the helper accepts no rows
