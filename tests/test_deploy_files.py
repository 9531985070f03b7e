"""The compose file starts things in a safe order: Redis with a password, both stores
healthy, then `formula-pm check`, then the migrations, then the workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_stores_are_healthchecked_and_redis_needs_a_password() -> None:
    services = _compose()["services"]
    assert services["postgres"]["healthcheck"]["test"]
    assert services["redis"]["healthcheck"]["test"]
    assert "--requirepass" in " ".join(services["redis"]["command"])
    assert ":${REDIS_PASSWORD" in services["app1"]["environment"]["REDIS_URL"]


def test_check_then_migrate_then_workers() -> None:
    services = _compose()["services"]
    assert services["check"]["command"] == ["formula-pm", "check"]
    assert services["check"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"}}
    assert services["migrate"]["depends_on"] == {
        "check": {"condition": "service_completed_successfully"}}
    for worker in ("app1", "app2"):
        assert services[worker]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}}


def test_a_nightly_backup_service_on_its_own_volume() -> None:
    compose = _compose()
    backup = compose["services"]["backup"]
    assert backup["profiles"] == ["ops"]
    assert backup["command"] == ["formula-pm", "backup", "--to", "/backups", "--keep", "14"]
    assert "backups:/backups" in backup["volumes"] and "backups" in compose["volumes"]
    assert "postgresql-client-${PG_MAJOR}" in (ROOT / "Dockerfile").read_text()
