"""The presigned POST against a real S3 server that enforces its policy (SeaweedFS): exactly
the signed key, size and content type, before it expires, and nothing else."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import datetime

import pytest

from storage.keys import object_key
from storage.s3 import S3Storage
from tests.storage.browser import chunks, get, post_form

BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def new_key() -> str:
    return object_key(uuid.uuid4(), uuid.uuid4())


async def test_the_signed_upload_is_stored_with_its_type(s3_storage: S3Storage) -> None:
    key = new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=60)
    assert target.method == "POST" and target.fields["key"] == s3_storage.name(key)
    status, _ = await post_form(target, BODY)
    assert status == 204
    assert await s3_storage.stat(key) == len(BODY)
    head = await s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=s3_storage.name(key))
    assert head["ContentType"] == "image/png"
    assert await s3_storage.read_head(key, 8) == BODY[:8]


@pytest.mark.parametrize("body", [BODY + b"x", BODY[:-1]], ids=["larger", "smaller"])
async def test_a_body_of_another_size_is_refused(s3_storage: S3Storage, body: bytes) -> None:
    key = new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=60)
    status, text = await post_form(target, body)
    assert status == 400 and ("EntityTooLarge" in text or "EntityTooSmall" in text)
    assert await s3_storage.stat(key) is None


@pytest.mark.parametrize("change, drop", [
    ({"Content-Type": "text/html"}, ()),
    ({"Content-Type": "IMAGE/PNG"}, ()),
    ({}, ("Content-Type",)),
], ids=["another-type", "another-case", "no-type"])
async def test_another_content_type_is_refused(s3_storage: S3Storage, change: dict[str, str],
                                               drop: tuple[str, ...]) -> None:
    key = new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=60)
    status, text = await post_form(target, BODY, change=change, drop=drop)
    assert status == 403 and "Policy Condition failed" in text
    assert await s3_storage.stat(key) is None


async def test_an_expired_policy_is_refused(s3_storage: S3Storage) -> None:
    key = new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=1)
    await asyncio.sleep(2.2)
    status, text = await post_form(target, BODY)
    assert status == 403 and "Policy expired" in text
    assert await s3_storage.stat(key) is None


async def test_a_forged_key_is_refused(s3_storage: S3Storage) -> None:
    key, other = new_key(), new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=60)
    status, text = await post_form(target, BODY, change={"key": s3_storage.name(other)})
    assert status == 403 and "Policy Condition failed" in text
    assert await s3_storage.stat(key) is None and await s3_storage.stat(other) is None


async def test_a_rewritten_policy_fails_its_signature(s3_storage: S3Storage) -> None:
    """Widening the size range in the policy itself breaks the signature."""
    key = new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=60)
    policy = json.loads(base64.b64decode(target.fields["policy"]))
    assert ["content-length-range", len(BODY), len(BODY)] in policy["conditions"]
    for condition in policy["conditions"]:
        if isinstance(condition, list) and condition[0] == "content-length-range":
            condition[2] = 10 * len(BODY)
    forged = base64.b64encode(json.dumps(policy).encode()).decode()
    status, text = await post_form(target, BODY + BODY, change={"policy": forged})
    assert status == 403 and "SignatureDoesNotMatch" in text
    assert await s3_storage.stat(key) is None


async def test_an_unsigned_extra_field_is_refused(s3_storage: S3Storage) -> None:
    key = new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=60)
    status, text = await post_form(target, BODY, change={"x-amz-meta-owner": "someone"})
    assert status == 403 and "Extra input fields" in text
    assert await s3_storage.stat(key) is None


async def test_unsigned_standard_headers_never_reach_a_download(s3_storage: S3Storage) -> None:
    """SeaweedFS (like some other S3-compatible services) checks only x-amz-* fields against
    the policy and stores Content-Encoding, Cache-Control, Content-Disposition sent as form
    fields; the download URL overrides each of them."""
    key = new_key()
    target = await s3_storage.upload_target(key, "image/png", len(BODY), expires=60)
    smuggled = {"Content-Encoding": "gzip", "Cache-Control": "public, max-age=31536000",
                "Content-Disposition": "inline"}
    status, _ = await post_form(target, BODY, change=smuggled)
    if status == 403:
        return  # a service that enforces the policy fully (as AWS does)
    assert status == 204
    download = await s3_storage.download_target(key, "photo.png", "image/png")
    assert download is not None
    status, body, headers = await get(download.url)
    assert status == 200 and body == BODY
    assert headers["Content-Encoding"] == "identity"
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["Content-Disposition"].startswith("attachment; ")


async def test_upload_policies_last_at_most_fifteen_minutes(s3_storage: S3Storage) -> None:
    with pytest.raises(ValueError, match="expiry"):
        await s3_storage.upload_target(new_key(), "image/png", 1, expires=15 * 60 + 1)
    target = await s3_storage.upload_target(new_key(), "image/png", 1)
    policy = json.loads(base64.b64decode(target.fields["policy"]))
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert (expiration - target.expires_at).total_seconds() >= 0
    assert (expiration - datetime.now(expiration.tzinfo)).total_seconds() <= 15 * 60


async def test_the_download_url_names_the_file_safely_and_expires(s3_storage: S3Storage) -> None:
    key = new_key()
    await s3_storage.put_stream(key, chunks(BODY), size=len(BODY), content_type="image/png")
    target = await s3_storage.download_target(key, 'plan "A";\r\nX-Evil: 1.png', "image/png",
                                              expires=2)
    assert target is not None
    status, body, headers = await get(target.url)
    assert status == 200 and body == BODY
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"plan _A__X-Evil_ 1.png\"; "
        "filename*=UTF-8''plan%20%22A%22%3BX-Evil%3A%201.png")
    assert "X-Evil" not in {name.title() for name in headers}
    await asyncio.sleep(3.2)
    status, _, _ = await get(target.url)
    assert status == 403
