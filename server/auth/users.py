"""The user object as the API shows it (never with a password or token key)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import pydantic

from server.fields import RecordOut

USER_FIELDS = (
    "id", "org_id", "email", "first_name", "last_name", "role", "position", "department",
    "phone", "status", "client_id", "skills", "last_login_at", "version", "created_at",
    "updated_at",
)


def user_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {field: row[field] for field in USER_FIELDS if field in row}


class UserOut(RecordOut):
    """The user object of API.md (documentation model)."""

    org_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: str
    position: str | None
    department: str | None
    phone: str | None
    status: str
    client_id: uuid.UUID | None
    skills: list[str]
    last_login_at: dt.datetime | None


class TokensOut(pydantic.BaseModel):
    """A token pair, as login and refresh answer it."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class LoginOut(TokensOut):
    user: UserOut
