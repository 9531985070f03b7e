"""The sockets connected to this worker: who they are and which projects they watch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from db.pool import Actor
from realtime.hub.limits import TokenBucket


class Identity(Protocol):
    """What the token check returns (server.auth.identity.Identity satisfies it)."""

    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def role(self) -> str: ...
    @property
    def session_id(self) -> uuid.UUID: ...


@dataclass
class Client:
    sid: str
    user_id: str
    org_id: str
    role: str
    session_id: str
    first_name: str = ""
    last_name: str = ""
    projects: set[str] = field(default_factory=set)
    bucket: TokenBucket = field(default_factory=TokenBucket)

    @classmethod
    def of(cls, sid: str, who: Identity) -> Client:
        return cls(sid=sid, user_id=str(who.user_id), org_id=str(who.org_id), role=who.role,
                   session_id=str(who.session_id))

    @property
    def is_staff(self) -> bool:
        return self.role != "client"

    def actor(self) -> Actor:
        return Actor(user_id=uuid.UUID(self.user_id), org_id=uuid.UUID(self.org_id),
                     role=self.role, origin_sid=self.sid)

    def public(self) -> dict[str, Any]:
        """How others see this user in presence and typing."""
        return {"id": self.user_id, "first_name": self.first_name,
                "last_name": self.last_name}


class Clients:
    """sid -> Client, with the lookups eviction and revocation need."""

    def __init__(self) -> None:
        self.by_sid: dict[str, Client] = {}
        self.by_user: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self.by_sid)

    def add(self, client: Client) -> None:
        self.pop(client.sid)
        self.by_sid[client.sid] = client
        self.by_user.setdefault(client.user_id, set()).add(client.sid)

    def pop(self, sid: str) -> Client | None:
        client = self.by_sid.pop(sid, None)
        if client is not None:
            sids = self.by_user.get(client.user_id, set())
            sids.discard(sid)
            if not sids:
                self.by_user.pop(client.user_id, None)
        return client

    def count_of(self, user_id: str) -> int:
        """How many sockets of the user this worker holds."""
        return len(self.by_user.get(user_id, ()))

    def get(self, sid: str) -> Client | None:
        return self.by_sid.get(sid)

    def of_sessions(self, session_ids: set[str]) -> list[Client]:
        return [c for c in self.by_sid.values() if c.session_id in session_ids]
