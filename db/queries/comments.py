"""SQL of comments on project records, and of the mentions inside them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from db.queries.rows import Records

ENTITY_TABLES = {
    "project": "projects", "task": "tasks", "scope_item": "scope_items",
    "shop_drawing": "shop_drawings", "material_spec": "material_specs",
}

COLUMNS = """c.*,
       coalesce((SELECT array_agg(m.user_id ORDER BY m.created_at, m.user_id)
                 FROM mentions m WHERE m.comment_id = c.id), '{}') AS mentions"""

# Every user of the project's organisation that a mention names, with what decides whether
# they are notified; a handle that names nobody comes back once with a NULL user. Read
# through the actor's own RLS (the actor sees this project, its members and the org's users,
# never another organisation's). `can_see` mirrors app_visible_project_ids() for that user.
NAMED = """
SELECT h.handle, u.id AS user_id, u.status, coalesce(u.role = 'client', false) AS is_client,
       coalesce(CASE
         WHEN u.id IS NULL THEN false
         WHEN u.role = 'admin' THEN true
         WHEN u.role = 'client' THEN p.client_id = u.client_id
         ELSE p.project_manager_id = u.id OR p.created_by = u.id
           OR EXISTS (SELECT 1 FROM project_members m
                      WHERE m.project_id = p.id AND m.user_id = u.id)
       END, false) AS can_see
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS h(handle, email, first, last)
JOIN projects p ON p.id = $1
LEFT JOIN users u ON u.org_id = p.org_id AND (
    lower(u.email) = h.email
    OR (h.last IS NOT NULL
        AND lower(f_unaccent(h.last)) = lower(f_unaccent(replace(u.last_name, ' ', '')))
        AND lower(f_unaccent(h.first)) IN (
            lower(f_unaccent(replace(u.first_name, ' ', ''))),
            lower(f_unaccent(split_part(u.first_name, ' ', 1))))))
ORDER BY h.handle, u.id
"""


async def entity_owner(conn: asyncpg.Connection, entity_type: str,
                       entity_id: uuid.UUID) -> asyncpg.Record | None:
    """(org_id, project_id) of a record the actor can see, or None."""
    if entity_type == "project":
        return await conn.fetchrow(
            "SELECT org_id, id AS project_id FROM projects WHERE id = $1", entity_id)
    table = ENTITY_TABLES[entity_type]
    return await conn.fetchrow(
        f"SELECT org_id, project_id FROM {table} WHERE id = $1", entity_id)  # noqa: S608


# Row-level security hides internal comments from client users.
COMMENTS = Records("comments c", filters=("entity_type", "entity_id"), columns=COLUMNS,
                   key="c.id")
list_comments = COMMENTS.page
get_comment = COMMENTS.one


async def named_users(conn: asyncpg.Connection, project_id: uuid.UUID,
                      emails: Sequence[str],
                      names: Sequence[tuple[str, str]]) -> list[asyncpg.Record]:
    """(handle, user_id, status, can_see) of everyone the mentions name; user_id is NULL
    for a handle that names no user of the organisation."""
    handles = [f"@{e}" for e in emails] + [f"@{first}.{last}" for first, last in names]
    no_names: list[str | None] = [None] * len(emails)
    no_emails: list[str | None] = [None] * len(names)
    return list(await conn.fetch(
        NAMED, project_id, handles, [*emails, *no_emails],
        [*no_names, *(n[0] for n in names)], [*no_names, *(n[1] for n in names)]))


async def has_shared_replies(conn: asyncpg.Connection, comment_id: uuid.UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM comments WHERE parent_id = $1 AND visibility = 'shared')",
        comment_id)
    return found


async def sync_mentions(conn: asyncpg.Connection, comment: asyncpg.Record,
                        user_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Make the comment's mentions exactly `user_ids`; return those newly mentioned."""
    await conn.execute("DELETE FROM mentions WHERE comment_id = $1 AND user_id <> ALL($2)",
                       comment["id"], list(user_ids))
    added = await conn.fetch(
        """INSERT INTO mentions (org_id, project_id, comment_id, user_id)
           SELECT $1, $2, $3, unnest($4::uuid[])
           ON CONFLICT (comment_id, user_id) DO NOTHING RETURNING user_id""",
        comment["org_id"], comment["project_id"], comment["id"], list(user_ids))
    return [r["user_id"] for r in added]


async def author_name(conn: asyncpg.Connection, user_id: uuid.UUID) -> str:
    row = await conn.fetchrow("SELECT first_name, last_name FROM users WHERE id = $1", user_id)
    return f"{row['first_name']} {row['last_name']}" if row else "Someone"
