"""SQL of material specifications."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.queries.project_rows import list_rows

SELECT = "SELECT * FROM material_specs"


async def list_specs(conn: asyncpg.Connection, where: str, args: list[Any], order: str,
                     limit: int) -> list[asyncpg.Record]:
    return await list_rows(conn, SELECT, where, args, order, limit)


async def get_spec(conn: asyncpg.Connection, spec_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{SELECT} WHERE id = $1", spec_id)
