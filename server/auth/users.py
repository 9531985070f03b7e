"""The user object as the API shows it (never with a password or token key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

USER_FIELDS = (
    "id", "org_id", "email", "first_name", "last_name", "role", "position", "department",
    "phone", "status", "client_id", "skills", "last_login_at", "version", "created_at",
    "updated_at",
)


def user_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {field: row[field] for field in USER_FIELDS if field in row}
