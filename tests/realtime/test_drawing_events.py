"""The drawing register live: a publish reaches the project room as `drawing_revision.updated`
(client users: published revisions only), `transmittal.created` reaches the project's staff,
and the transmittal's `notification` reaches its recipients and nobody else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from tests.conftest import World
from tests.realtime.conftest import InProcess, Sock


async def test_transmittal_notifications_reach_only_recipients(
        one_worker: InProcess, pool: asyncpg.Pool, world: World,
        socks: Callable[[], Sock]) -> None:
    app, http, url = one_worker.app, one_worker.http, one_worker.url
    org = await world.org()
    pm = await world.user(org, "project_manager")
    recipient = await world.user(org, "craftsman")
    bystander = await world.user(org, "craftsman")
    client_id = await world.client_record(org, "Client Co")
    customer = await world.user(org, "client", client_id=client_id)
    project = await world.project(org, client_id=client_id, members=[pm, recipient, bystander])
    headers = await world.headers(app, pm)

    sockets: dict[str, Sock] = {}
    for name, user in (("pm", pm), ("recipient", recipient), ("bystander", bystander),
                       ("customer", customer)):
        sock = socks()
        await sock.connect(url, await world.token(app, user))
        assert (await sock.call("subscribe", {"project_id": str(project)}))["ok"], name
        sockets[name] = sock

    response = await http.post(f"/api/v1/projects/{project}/drawings",
                               json={"number": "A-101", "title": "Plan"}, headers=headers)
    drawing = await response.json()
    response = await http.post(f"/api/v1/drawings/{drawing['id']}/revisions",
                               json={"revision": "P01"}, headers=headers)
    revision = await response.json()
    await sockets["pm"].wait_for(lambda: bool(sockets["pm"].named("drawing_revision.created")))
    response = await http.post(f"/api/v1/drawing-revisions/{revision['id']}/publish",
                               headers=headers)
    assert response.status == 200, await response.text()
    for name in ("pm", "customer"):
        sock = sockets[name]
        await sock.wait_for(lambda s=sock: any(  # type: ignore[misc]
            e["data"].get("is_current") for e in s.named("drawing_revision.updated")))
    # The unpublished drawing and revision never reached the client user; the publish did.
    assert sockets["customer"].named("drawing_revision.created") == []
    assert sockets["customer"].named("drawing.created") == []
    await sockets["customer"].wait_for(lambda: any(
        e["data"]["current_revision_id"] == revision["id"]
        for e in sockets["customer"].named("drawing.updated")))

    response = await http.post("/api/v1/transmittals", headers=headers, json={
        "project_id": str(project), "revision_ids": [revision["id"]],
        "recipient_user_ids": [str(recipient["id"])], "purpose": "for_construction"})
    assert response.status == 201, await response.text()
    sent = await response.json()
    got = sockets["recipient"]
    await got.wait_for(lambda: bool(got.named("notification")))
    note = got.named("notification")[0]
    assert note["type"] == "transmittal" and note["data"]["entity_id"] == sent["id"]
    await sockets["pm"].wait_for(lambda: bool(sockets["pm"].named("transmittal.created")))
    await asyncio.sleep(0.5)  # anything misrouted would have arrived by now
    for name in ("pm", "bystander", "customer"):
        assert sockets[name].named("notification") == [], name
    assert sockets["customer"].named("transmittal.created") == []


def test_client_copies_of_the_register() -> None:
    """Pure: what a client user's socket gets of each drawing-register change."""
    from realtime.feed.audience import SAME, client_copy

    def copy(table: str, new: dict[str, object] | None,
             old: dict[str, object] | None = None) -> object:
        action = "insert" if old is None else ("delete" if new is None else "update")
        return client_copy(table, action, old, new, f"{table}.x", {})

    assert copy("drawings", {"current_revision_id": None}) is None
    assert copy("drawings", {"current_revision_id": "r"}, {"current_revision_id": None}) == SAME
    assert copy("drawing_revisions", {"published_at": None}) is None
    assert copy("drawing_revisions", {"published_at": "t"}, {"published_at": None}) == SAME
    assert copy("drawing_revisions", None, {"published_at": "t"}) == SAME
    assert copy("transmittals", {"purpose": "for_review"}) is None
    assert copy("transmittal_recipients", {"user_id": "u"}) is None
    assert copy("attachments", {"entity_type": "drawing_revision"}) is None
    assert copy("attachments", {"entity_type": "review_task"}) is None  # another reviewer's?
    assert copy("attachments", {"entity_type": "task"}) == SAME
