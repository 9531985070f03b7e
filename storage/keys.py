"""Object keys: `org/{org_id}/project/{project_id}/{uuid}`, never from a user's file name;
a thumbnail lives beside its object as `{key}.thumb`; an export job's file is
`org/{org_id}/exports/{job_id}`."""

from __future__ import annotations

import re
import uuid
from uuid import UUID

from storage.errors import BadKey

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KEY = re.compile(rf"org/{_UUID}/(?:project/{_UUID}/{_UUID}(?:\.thumb)?|exports/{_UUID})")
# What may be listed: everything, one organisation, one project, or its export files.
PREFIX = re.compile(rf"(?:org/{_UUID}/(?:project/{_UUID}/|exports/)?)?")
THUMBNAIL_SUFFIX = ".thumb"


def object_key(org_id: UUID, project_id: UUID, object_id: UUID | None = None) -> str:
    """A new key for a project's file (`object_id`: a fresh random UUID unless given)."""
    return f"{project_prefix(org_id, project_id)}{object_id or uuid.uuid4()}"


def export_key(org_id: UUID, job_id: UUID) -> str:
    """Where the file of an export job is stored."""
    return f"org/{UUID(str(org_id))}/exports/{UUID(str(job_id))}"


def project_prefix(org_id: UUID, project_id: UUID) -> str:
    return f"org/{UUID(str(org_id))}/project/{UUID(str(project_id))}/"


def thumbnail_key(key: str) -> str:
    """Where the thumbnail of the object under `key` is stored."""
    check_key(key)
    if key.endswith(THUMBNAIL_SUFFIX) or "/exports/" in key:
        raise BadKey("a thumbnail has no thumbnail")
    return key + THUMBNAIL_SUFFIX


def check_key(key: str) -> str:
    """`key` itself when it is one of ours; BadKey otherwise (so no path or bucket name
    is ever built from anything else)."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise BadKey(f"not an object key: {key!r:.80}")
    return key


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX.fullmatch(prefix):
        raise BadKey(f"not a key prefix: {prefix!r:.80}")
    return prefix
