"""server/config.py: the settings model reads each variable as the README documents it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError, Settings, load_settings, load_tuning

SECRET = "s" * 40


def _load(**env: str) -> Settings:
    return load_settings({"JWT_SECRET": SECRET, **env})


def test_defaults_and_empty_variables() -> None:
    default = _load()
    assert (default.port, default.host, default.public_url) == (5014, "127.0.0.1",
                                                                "http://127.0.0.1:5014")
    assert (default.database_url, default.redis_url, default.data_dir) == (None, None,
                                                                           Path(".data"))
    assert default.malloc_tuning is default.gc_tuning is default.cache_enabled is True
    empty = _load(PORT=" ", DATABASE_URL="", REDIS_URL="", DATA_DIR="", CACHE_TTL_VIEW="",
                  DB_POOL_TIMEOUT="", CACHE_ENABLED="", FPM_GC_TUNING="")
    assert empty == default
    assert _load(PORT="6000").public_url == "http://127.0.0.1:6000"  # PUBLIC_URL follows PORT
    assert _load(PORT="6000", PUBLIC_URL="https://pm.example").public_url == "https://pm.example"


def test_spellings() -> None:
    for on in ("1", "true", " Yes ", "ON"):
        assert _load(CACHE_ENABLED=on).cache_enabled is True
    for off in ("0", "false", "No", "off"):
        assert _load(CACHE_ENABLED=off).cache_enabled is False
        assert _load(FPM_MALLOC_TUNING=off, FPM_GC_TUNING=off).gc_tuning is False
        assert load_tuning({"FPM_MALLOC_TUNING": off}).malloc_tuning is False
    assert load_tuning({"FPM_GC_TUNING": "maybe"}).gc_tuning is True  # never an error
    loaded = _load(CORS_ORIGINS="a, b,,c ", TRUSTED_PROXIES="10.0.0.1/8, ::1", LOG_LEVEL="debug",
                   REALTIME_MODE="POLL", WORKER_NAME=f"  {'w' * 150} ", CACHE_TTL_SEARCH="7",
                   LEADER_STALL_AFTER="6", SOCKET_CONNECT_TIMEOUT="2", DB_POOL_TIMEOUT="0.5")
    assert loaded.cors_origins == ("a", "b", "c")
    assert loaded.trusted_proxies == ("10.0.0.1/8", "::1")
    assert [str(n) for n in loaded.trusted_networks] == ["10.0.0.0/8", "::1/128"]
    assert (loaded.log_level, loaded.realtime_mode, loaded.worker_name) == ("DEBUG", "poll",
                                                                          "w" * 100)
    assert loaded.cache_ttls["search"] == 7 and loaded.cache_ttls["record"] == 300
    assert (loaded.leader_stall_after, loaded.socket_connect_timeout) == (6.0, 2.0)
    assert loaded.db_pool_timeout == 0.5
    assert _load(TRUSTED_PROXIES="none").trusted_networks == ()


@pytest.mark.parametrize(("env", "message"), [
    ({"PORT": "x"}, "PORT must be an integer, got 'x'"),
    ({"DB_POOL_MIN": "1.5"}, "DB_POOL_MIN must be an integer, got '1.5'"),
    ({"CACHE_ENABLED": "maybe"}, "CACHE_ENABLED must be true or false, got 'maybe'"),
    ({"TRUSTED_PROXIES": "10.0.0.0/8,x"}, "TRUSTED_PROXIES: 'x' does not appear"),
    ({"CACHE_TTL_VISIBILITY": "0"}, "CACHE_TTL_VISIBILITY must be at least 1 second, got 0"),
    ({"SOCKET_MAX_PER_USER": "0"}, "SOCKET_MAX_PER_USER must be at least 1, got 0"),
    ({"DB_POOL_TIMEOUT": "inf"}, "DB_POOL_TIMEOUT must be a positive number of seconds"),
    ({"REALTIME_MODE": "push"}, "REALTIME_MODE must be 'notify' or 'poll', got 'push'"),
    ({"JWT_SECRET": "tiny-key"}, "JWT_SECRET must be at least 32 characters long"),
    ({"JWT_PREVIOUS_SECRETS": f"{SECRET},tiny-key"}, "JWT_PREVIOUS_SECRETS: entry 2 is shorter"),
    ({"DATABASE_URL": "mysql://u:hunter2@h/x"}, "DATABASE_URL must start with postgresql://"),
    ({"DATABASE_URL": "postgresql://127.0.0.1/x", "JWT_SECRET": ""}, "JWT_SECRET is required"),
])
def test_a_bad_value_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"JWT_SECRET": SECRET, **env})
    assert str(error.value).startswith(message)
    assert "hunter2" not in str(error.value) and "tiny-key" not in str(error.value)  # no secrets


def test_the_model_reads_no_environment_by_itself(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    for name, value in {"JWT_SECRET": SECRET, "DATA_DIR": str(tmp_path), "DATABASE_URL": "",
                        "PORT": "6001"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FPM_GC_TUNING", "off")
    built = Settings(jwt_secret=SECRET)
    assert (built.port, built.gc_tuning) == (5014, True)
    assert load_settings().port == 6001 and load_tuning().gc_tuning is False
    copied = built.model_copy(update={"port": 7000})
    assert (copied.port, built.port) == (7000, 5014)
