"""STORAGE_URL and the S3 variables: defaults, every refusal with a message that says which
setting is wrong, secrets kept out of reprs; keys and file names as the storage sees them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from server.config import ConfigError, load_settings
from storage.backend import MultipartUpload
from storage.disposition import content_disposition
from storage.errors import BadKey
from storage.keys import check_key, object_key, thumbnail_key
from storage.local import LocalStorage
from storage.settings import StorageConfigError, load_storage_settings, open_storage


def test_the_default_is_the_data_folder() -> None:
    settings = load_storage_settings({})
    assert (settings.kind, settings.root) == ("file", None)
    assert settings.files_root(Path("/srv/data")) == Path("/srv/data/files")
    assert load_storage_settings({"STORAGE_URL": "file://"}) == settings
    assert load_storage_settings({"STORAGE_URL": "file:///srv/files"}).root == Path("/srv/files")


def test_s3_with_its_variables() -> None:
    settings = load_storage_settings({
        "STORAGE_URL": "s3://fpm-files/prod/attachments/", "S3_ENDPOINT_URL": "https://s3.example.com",
        "S3_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "very-secret-value"})
    assert (settings.kind, settings.bucket, settings.prefix) == ("s3", "fpm-files",
                                                                 "prod/attachments")
    assert (settings.endpoint_url, settings.region) == ("https://s3.example.com", "eu-central-1")
    assert settings.addressing_style == "path"  # a self-hosted endpoint
    assert "very-secret-value" not in repr(settings) and "AKIDEXAMPLE" not in repr(settings)
    aws = load_storage_settings({"STORAGE_URL": "s3://fpm-files"})
    assert (aws.addressing_style, aws.access_key_id, aws.prefix) == ("auto", None, "")


@pytest.mark.parametrize("env, message", [
    ({"STORAGE_URL": "ftp://files"}, "must be file:// or s3://"),
    ({"STORAGE_URL": "file://relative/folder"}, "absolute path"),
    ({"STORAGE_URL": "s3://Bad_Bucket"}, "not a bucket name"),
    ({"STORAGE_URL": "s3://ab"}, "not a bucket name"),
    ({"STORAGE_URL": "s3://fpm-files/a/../b"}, "prefix"),
    ({"STORAGE_URL": "s3://key:secret@fpm-files"}, "no user, password"),
    ({"STORAGE_URL": "s3://fpm-files?region=x"}, "no user, password, query"),
    ({"STORAGE_URL": "s3://fpm-files", "S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL"),
    ({"STORAGE_URL": "s3://fpm-files", "S3_REGION": "EU West"}, "S3_REGION"),
    ({"STORAGE_URL": "s3://fpm-files", "S3_ADDRESSING_STYLE": "dns"}, "S3_ADDRESSING_STYLE"),
    ({"STORAGE_URL": "s3://fpm-files", "AWS_ACCESS_KEY_ID": "AKID"}, "set both or neither"),
])
def test_bad_values_are_refused_with_the_setting_named(env: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(StorageConfigError, match=message):
        load_storage_settings(env)


def test_the_service_settings_carry_storage_and_report_its_errors() -> None:
    assert load_settings({"STORAGE_URL": "s3://fpm-files"}, require_secret=False
                         ).storage.bucket == "fpm-files"
    with pytest.raises(ConfigError, match="STORAGE_URL"):
        load_settings({"STORAGE_URL": "gs://fpm-files"}, require_secret=False)


async def test_open_storage_gives_the_folder_under_the_data_dir(tmp_path: Path) -> None:
    async with open_storage(load_storage_settings({}), tmp_path) as storage:
        assert isinstance(storage, LocalStorage) and storage.root == tmp_path / "files"
        assert storage.kind == "file"


def test_keys_are_ours_and_never_a_file_name() -> None:
    org, project, object_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = object_key(org, project, object_id)
    assert key == f"org/{org}/project/{project}/{object_id}"
    assert check_key(key) == key and check_key(thumbnail_key(key)) == f"{key}.thumb"
    assert object_key(org, project) != object_key(org, project)
    with pytest.raises(BadKey):
        thumbnail_key(thumbnail_key(key))


@pytest.mark.parametrize("name, header", [
    ("plan.pdf", "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"),
    ("Şantiye çizimi.dwg",
     "attachment; filename=\"Santiye cizimi.dwg\"; "
     "filename*=UTF-8''%C5%9Eantiye%20%C3%A7izimi.dwg"),
    ("../../etc/passwd", "attachment; filename=\"_.._etc_passwd\"; "
                         "filename*=UTF-8''_.._etc_passwd"),
    ("a\r\nSet-Cookie: x=1", "attachment; filename=\"aSet-Cookie_ x_1\"; "
                             "filename*=UTF-8''aSet-Cookie%3A%20x%3D1"),
    ("", "attachment; filename=\"file\"; filename*=UTF-8''file"),
    ("中文.png", "attachment; filename=\"file.png\"; filename*=UTF-8''%E4%B8%AD%E6%96%87.png"),
    ("中文", "attachment; filename=\"file\"; filename*=UTF-8''%E4%B8%AD%E6%96%87"),
])
def test_content_disposition_is_safe(name: str, header: str) -> None:
    assert content_disposition(name) == header
    assert content_disposition("a.png", inline=True).startswith("inline; ")


def test_part_sizes() -> None:
    small = MultipartUpload("u", 40 * 1024 * 1024)
    assert (small.part_size, small.part_count, small.part_range(5)) == (
        8 * 1024 * 1024, 5, (32 * 1024 * 1024, 8 * 1024 * 1024))
    huge = MultipartUpload("u", 200 * 1024**3)  # 200 GiB: parts grow to stay within 10 000
    assert huge.part_count <= 10_000 and huge.part_size % (1024 * 1024) == 0
    with pytest.raises(ValueError):
        small.part_range(6)
