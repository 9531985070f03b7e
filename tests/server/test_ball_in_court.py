"""Workflow steps notify whoever now holds the ball: exactly one notification to the right
user (REST list and live `notification` event), nobody else, never the actor."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World
from tests.realtime.conftest import Sock
from tests.server.project_team import Team, make_team, send

EVERYONE = ("admin", "project_manager", "designer", "coordinator", "craftsman", "client",
            "outsider", "stranger")


async def _counts(client: TestClient[Any, Any], team: Team) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for who in EVERYONE:
        status, page = await send(client, "GET", "/api/v1/notifications?limit=200",
                                  team.headers[who])
        assert status == 200
        out[who] = page["data"]
    return out


class Ball:
    """Runs steps and checks that exactly the expected user was told of each."""

    def __init__(self, client: TestClient[Any, Any], team: Team, path: str) -> None:
        self.client, self.team, self.path = client, team, path

    async def step(self, who: str, action: str, told: str | None,
                   comment: str | None = None) -> dict[str, Any] | None:
        before = await _counts(self.client, self.team)
        body = {"action": action, **({"comment": comment} if comment else {})}
        status, record = await send(self.client, "POST", f"{self.path}/transitions",
                                    self.team.headers[who], body)
        assert status == 200, (action, record)
        after = await _counts(self.client, self.team)
        grew = {u for u in EVERYONE if len(after[u]) != len(before[u])}
        assert grew == ({told} if told else set()), (who, action, told, grew)
        if told is None:
            return None
        (note,) = [n for n in after[told] if n["id"] not in {m["id"] for m in before[told]}]
        assert note["type"] == "ball_in_court" and note["read_at"] is None
        assert note["data"]["entity_id"] == self.path.rsplit("/", 1)[1]
        assert note["data"]["action"] == action and note["data"]["by"] == str(
            self.team.users[who]["id"])
        assert note["project_id"] == str(self.team.project)
        return dict(note)


async def test_shop_drawing_steps_notify_the_ball_holder(client: TestClient[Any, Any],
                                                         world: World) -> None:
    team = await make_team(world, client)
    status, drawing = await send(client, "POST", "/api/v1/shop-drawings",
                                 team.headers["designer"], {
                                     "project_id": str(team.project),
                                     "drawing_number": "AK-MM-001", "title": "Reception desk"})
    assert status == 201
    ball = Ball(client, team, f"/api/v1/shop-drawings/{drawing['id']}")
    note = await ball.step("designer", "submit", "project_manager")
    assert note is not None and "AK-MM-001" in note["title"]
    await ball.step("project_manager", "start_review", None)  # the reviewer took it
    note = await ball.step("project_manager", "request_revision", "designer",
                           comment="Add the cable grommets")
    assert note is not None and "Add the cable grommets" in note["message"]
    await ball.step("designer", "new_revision", None)  # the submitter's own move
    await ball.step("designer", "submit", "project_manager")
    await ball.step("project_manager", "start_review", None)
    await ball.step("project_manager", "reject", "designer", comment="Wrong veneer")
    await ball.step("project_manager", "new_revision", "designer")  # reopened for them
    await ball.step("coordinator", "submit", "project_manager")
    await ball.step("admin", "start_review", None)  # the admin is now the reviewer
    await ball.step("admin", "approve", "coordinator")  # the last submitter


async def test_approve_as_noted_and_self_review(client: TestClient[Any, Any],
                                                world: World) -> None:
    team = await make_team(world, client)
    _status, drawing = await send(client, "POST", "/api/v1/shop-drawings",
                                 team.headers["project_manager"], {
                                     "project_id": str(team.project),
                                     "drawing_number": "AK-MM-002", "title": "Shelving"})
    ball = Ball(client, team, f"/api/v1/shop-drawings/{drawing['id']}")
    await ball.step("project_manager", "submit", None)  # submitted to themself
    await ball.step("project_manager", "start_review", None)
    await ball.step("project_manager", "approve_as_noted", None)  # their own drawing


async def test_material_spec_steps_notify_the_ball_holder(client: TestClient[Any, Any],
                                                          world: World) -> None:
    team = await make_team(world, client)
    status, spec = await send(client, "POST", "/api/v1/material-specs",
                              team.headers["designer"], {
                                  "project_id": str(team.project), "code": "SPEC001",
                                  "description": "Walnut veneer panel"})
    assert status == 201
    ball = Ball(client, team, f"/api/v1/material-specs/{spec['id']}")
    note = await ball.step("coordinator", "submit", "project_manager")
    assert note is not None and "SPEC001" in note["title"]
    await ball.step("project_manager", "request_revision", "coordinator", comment="Thicker")
    await ball.step("designer", "submit", "project_manager")
    await ball.step("project_manager", "reject", "designer", comment="Out of stock")
    status, spec = await send(client, "POST", "/api/v1/material-specs",
                              team.headers["designer"], {
                                  "project_id": str(team.project), "description": "Oak"})
    ball = Ball(client, team, f"/api/v1/material-specs/{spec['id']}")
    await ball.step("designer", "submit", "project_manager")
    await ball.step("admin", "approve", "designer")
    for action in ("order", "receive", "deliver", "use"):  # procurement moves no ball
        await ball.step("project_manager", action, None)


async def test_the_holder_hears_it_live_and_nobody_else(client: TestClient[Any, Any],
                                                        world: World) -> None:
    team = await make_team(world, client)
    status, drawing = await send(client, "POST", "/api/v1/shop-drawings",
                                 team.headers["designer"], {
                                     "project_id": str(team.project),
                                     "drawing_number": "AK-MM-003", "title": "Counter"})
    socks = {who: Sock() for who in ("designer", "project_manager", "coordinator")}
    try:
        for who, sock in socks.items():
            token = team.headers[who]["Authorization"].split()[1]
            await sock.connect(f"http://127.0.0.1:{client.server.port}", token)
            assert (await sock.call("subscribe", {"project_id": str(team.project)}))["ok"]
        path = f"/api/v1/shop-drawings/{drawing['id']}/transitions"
        status, _ = await send(client, "POST", path, team.headers["designer"],
                               {"action": "submit"})
        assert status == 200
        pm = socks["project_manager"]
        await pm.wait_for(lambda: bool(pm.named("notification")))
        (note,) = pm.named("notification")
        assert note["type"] == "ball_in_court" and note["data"]["entity_id"] == drawing["id"]
        assert note["user_id"] == str(team.users["project_manager"]["id"])
        # the drawing's own change event reached everyone; the notification only its owner
        for sock in socks.values():
            await sock.wait_for(lambda s=sock: bool(s.named("shop_drawing.updated")))
        assert socks["designer"].named("notification") == []
        assert socks["coordinator"].named("notification") == []
    finally:
        for sock in socks.values():
            await sock.close()
