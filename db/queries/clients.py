"""Clients of the organisation (a `client` user sees only its own: row-level security)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from db.queries.rows import Records, update_row

COLUMNS = ("name", "company_name", "contact_person", "email", "phone", "address", "city",
           "country", "industry", "status", "contract_value", "payment_terms", "notes")


CLIENTS = Records("clients", filters=("status",))
list_clients = CLIENTS.page
get_client = CLIENTS.one


async def create_client(conn: asyncpg.Connection, org_id: uuid.UUID,
                        values: Mapping[str, Any]) -> asyncpg.Record:
    columns = [c for c in COLUMNS if c in values]
    placeholders = ", ".join(f"${i + 2}" for i in range(len(columns)))
    names = ", ".join(columns)  # of COLUMNS
    row = await conn.fetchrow(
        f"INSERT INTO clients (org_id, {names}) VALUES ($1, {placeholders}) "  # noqa: S608
        "RETURNING *", org_id, *(values[c] for c in columns))
    assert row is not None
    return row


async def update_client(conn: asyncpg.Connection, client_id: uuid.UUID,
                        changes: Mapping[str, Any], version: int | None) -> asyncpg.Record | None:
    return await update_row(conn, "clients", client_id, changes, version=version)
