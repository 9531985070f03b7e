"""Settings, read once from the environment into a frozen dataclass."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from db.dsn import BadDatabaseUrl, check_database_url
from server.cache.keys import TTL
from storage.settings import StorageConfigError, StorageSettings, load_storage_settings

MIN_SECRET = 32


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and why."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1/32,::1/128"


def _networks(env: Mapping[str, str], name: str, default: str = "") -> tuple[Network, ...]:
    """A comma-separated list of addresses or networks (`10.0.0.0/8`, `::1`); unset or
    empty is `default`, `none` is no address at all."""
    raw = env.get(name, "").strip() or default
    if raw.lower() == "none":
        return ()
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in _split(raw))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; the README lists each with its default."""

    database_url: str | None = None
    redis_url: str | None = None
    jwt_secret: str = ""
    # Keys that verify access tokens but no longer sign them (rotation without logouts).
    jwt_previous_secrets: tuple[str, ...] = field(default=(), repr=False)
    host: str = "127.0.0.1"
    port: int = 5014
    cors_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"
    data_dir: Path = Path(".data")
    env_name: str = "dev"
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    refresh_grace_seconds: int = 10
    pool_min_size: int = 2
    pool_max_size: int = 10
    db_command_timeout: float = 10.0
    # Seconds a request waits for a pooled connection before it is answered 503.
    db_pool_timeout: float = 5.0
    max_body_bytes: int = 1024 * 1024
    smtp_url: str | None = None
    mail_from: str = "Formula PM <no-reply@formula-pm.local>"
    public_url: str = "http://127.0.0.1:5014"
    realtime_mode: str = "notify"
    cache_enabled: bool = True
    socket_max_message_bytes: int = 64 * 1024
    # Bytes waiting for one socket (transport buffer + Engine.IO queue) before it is dropped.
    socket_max_buffer_bytes: int = 4 * 1024 * 1024
    # Sockets one user may hold at once (across workers while Redis answers).
    socket_max_per_user: int = 20
    # Seconds a new Engine.IO session has to complete the Socket.IO connect.
    socket_connect_timeout: float = 10.0
    embedded: bool = False
    leader_stall_after: float = 15.0
    trusted_networks: tuple[Network, ...] = field(default=(), repr=False)
    # Who may read /metrics and the detail of /health/ready (operators, not users).
    metrics_allow: tuple[Network, ...] = field(
        default=_networks({}, "METRICS_ALLOW", LOOPBACK), repr=False)
    # This worker's name on the audit trail (startup, shutdown, server errors): stable
    # across restarts, so a startup can tell that the previous run ended without shutdown.
    worker_name: str = ""
    # Seconds a cached entry lives at most (invalidation usually ends it much sooner).
    cache_ttls: Mapping[str, int] = field(default_factory=lambda: dict(TTL))
    # Seconds between two publications of this worker's cache statistics to Redis.
    cache_stats_interval: float = 10.0
    # Where attachments live (STORAGE_URL, S3_*): storage/settings.py reads them.
    storage: StorageSettings = field(default_factory=StorageSettings)

    @property
    def worker(self) -> str:
        return self.worker_name or f"{socket.gethostname()}:{self.port}"

    @property
    def redis_enabled(self) -> bool:
        return bool(self.redis_url)

    @property
    def key_prefix(self) -> str:
        """Namespace of every Redis key and channel of this deployment."""
        return f"fpm:{self.env_name}:"

    def with_database(self, url: str, *, embedded: bool) -> Settings:
        return replace(self, database_url=url, embedded=embedded)


def load_settings(env: Mapping[str, str] | None = None, *,
                  require_secret: bool = True) -> Settings:
    """Build the settings from `env` (default: the process environment). Commands that
    sign no token (migrate) pass `require_secret=False`."""
    env = os.environ if env is None else env
    database_url = env.get("DATABASE_URL") or None
    if database_url:
        try:
            check_database_url(database_url)
        except BadDatabaseUrl as exc:
            raise ConfigError(str(exc)) from None
    data_dir = Path(env.get("DATA_DIR") or ".data")
    jwt_secret = env.get("JWT_SECRET", "")
    if database_url and not jwt_secret and require_secret:
        raise ConfigError(
            "JWT_SECRET is required when DATABASE_URL is set "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if jwt_secret and len(jwt_secret) < MIN_SECRET:
        raise ConfigError(f"JWT_SECRET must be at least {MIN_SECRET} characters long")
    if not jwt_secret and not database_url and require_secret:
        jwt_secret = _embedded_secret(data_dir)
    previous = _previous_secrets(env)
    mode = env.get("REALTIME_MODE", "notify").lower()
    if mode not in ("notify", "poll"):
        raise ConfigError(f"REALTIME_MODE must be 'notify' or 'poll', got {mode!r}")
    proxies = _split(env.get("TRUSTED_PROXIES", ""))
    networks = _networks(env, "TRUSTED_PROXIES")
    port = _int(env, "PORT", 5014)
    return Settings(
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        jwt_secret=jwt_secret,
        jwt_previous_secrets=tuple(p for p in previous if p != jwt_secret),
        host=env.get("HOST", "127.0.0.1"),
        port=port,
        cors_origins=_split(env.get("CORS_ORIGINS", "")),
        trusted_proxies=proxies,
        trusted_networks=networks,
        metrics_allow=_networks(env, "METRICS_ALLOW", LOOPBACK),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        data_dir=data_dir,
        env_name=env.get("FPM_ENV", "dev"),
        access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", 900),
        refresh_token_ttl=_int(env, "REFRESH_TOKEN_TTL", 30 * 24 * 3600),
        pool_min_size=_int(env, "DB_POOL_MIN", 2),
        pool_max_size=_int(env, "DB_POOL_MAX", 10),
        db_pool_timeout=_positive(env, "DB_POOL_TIMEOUT", 5),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024),
        smtp_url=env.get("SMTP_URL") or None,
        public_url=env.get("PUBLIC_URL") or f"http://127.0.0.1:{port}",
        realtime_mode=mode,
        cache_enabled=_bool(env, "CACHE_ENABLED", True),
        socket_max_message_bytes=_int(env, "SOCKET_MAX_MESSAGE_BYTES", 64 * 1024),
        socket_max_buffer_bytes=_int(env, "SOCKET_MAX_BUFFER_BYTES", 4 * 1024 * 1024),
        socket_max_per_user=_at_least(env, "SOCKET_MAX_PER_USER", 20, 1),
        socket_connect_timeout=float(_at_least(env, "SOCKET_CONNECT_TIMEOUT", 10, 1)),
        leader_stall_after=_stall_after(env),
        worker_name=env.get("WORKER_NAME", "").strip()[:100],
        cache_ttls=_cache_ttls(env),
        storage=_storage(env),
    )


def _storage(env: Mapping[str, str]) -> StorageSettings:
    try:
        return load_storage_settings(env)
    except StorageConfigError as exc:
        raise ConfigError(str(exc)) from None


def _cache_ttls(env: Mapping[str, str]) -> dict[str, int]:
    """CACHE_TTL_RECORD, CACHE_TTL_VIEW, CACHE_TTL_SEARCH, CACHE_TTL_VISIBILITY: seconds, at
    least 1 (defaults: server/cache/keys.py's TTL)."""
    ttls = {}
    for kind, default in TTL.items():
        name = f"CACHE_TTL_{kind.upper()}"
        value = _int(env, name, default)
        if value < 1:
            raise ConfigError(f"{name} must be at least 1 second, got {value}")
        ttls[kind] = value
    return ttls


def _previous_secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    """JWT_PREVIOUS_SECRETS: comma-separated keys still accepted for verification."""
    previous = _split(env.get("JWT_PREVIOUS_SECRETS", ""))
    for number, secret in enumerate(previous, start=1):
        if len(secret) < MIN_SECRET:  # never echo the key itself
            raise ConfigError(f"JWT_PREVIOUS_SECRETS: entry {number} is shorter than "
                              f"{MIN_SECRET} characters")
    return previous


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def _embedded_secret(data_dir: Path) -> str:
    """The embedded mode keeps a generated secret in DATA_DIR so tokens survive restarts."""
    path = data_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def _at_least(env: Mapping[str, str], name: str, default: int, least: int) -> int:
    value = _int(env, name, default)
    if value < least:
        raise ConfigError(f"{name} must be at least {least}, got {value}")
    return value


def _stall_after(env: Mapping[str, str]) -> float:
    """LEADER_STALL_AFTER: seconds of silence after which a change leader counts as stalled."""
    value = _int(env, "LEADER_STALL_AFTER", 15)
    if value < 5:
        raise ConfigError(f"LEADER_STALL_AFTER must be at least 5 seconds, got {value}")
    return float(value)
