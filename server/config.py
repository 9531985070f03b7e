"""Settings: every knob of the service, read once from the environment into a frozen
pydantic-settings model.

Each field names its environment variable (`validation_alias`) and says how the variable
is read (the `Annotated` validators below: the accepted spellings, what an empty value
means, the bounds). A value the service cannot use is a `ConfigError` whose message names
the variable. The rules that span variables (JWT_SECRET required with DATABASE_URL, the
embedded secret, PUBLIC_URL following PORT) are `load_settings`'s.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from db.dsn import check_database_url
from server.cache.keys import TTL
from storage.settings import StorageConfigError, StorageSettings, load_storage_settings

MIN_SECRET = 32


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and why."""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1/32,::1/128"
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")

# Fields read from a variable that is not their own alias: TRUSTED_PROXIES gives both the
# entries as written and the networks they parse to.
SHARED_VARIABLES = {"trusted_networks": "TRUSTED_PROXIES"}


def variable_of(field_name: str, field: FieldInfo) -> str | None:
    """The environment variable a field is read from (None: set by code only)."""
    if field_name in SHARED_VARIABLES:
        return SHARED_VARIABLES[field_name]
    return field.validation_alias if isinstance(field.validation_alias, str) else None


def _name(info: ValidationInfo) -> str:
    """The variable of the field being validated, for the messages."""
    field_name = info.field_name or ""
    field = Settings.model_fields.get(field_name)
    return (variable_of(field_name, field) if field else None) or field_name


# How each kind of variable is read. A validator leaves a value that is not a string
# alone (`Settings(port=5014)` in code and tests); raising PydanticUseDefault gives the
# field its default (an empty or blank variable, where the README says it is the default).

def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _comma_list(value: Any) -> Any:
    return _split(value) if isinstance(value, str) else value


def _empty_is_none(value: Any) -> Any:
    return value or None


def _months_or_none(value: Any, info: ValidationInfo) -> Any:
    """Unset or empty: None; else a whole number of months, at least one."""
    if value is None or value == "":
        return None
    number = _integer(value, info)
    if number < 1:
        raise ValueError(f"{_name(info)} must be at least 1 month, got {number}")
    return number


def _empty_is_default(value: Any) -> Any:
    if value == "":
        raise PydanticUseDefault()
    return value


def _parse_int(raw: str, name: str) -> int | None:
    """An integer variable, spaces around it ignored; None when blank."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _integer(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str):
        return value
    number = _parse_int(value, _name(info))
    if number is None:
        raise PydanticUseDefault()
    return number


def _at_least(least: int, unit: str = "") -> BeforeValidator:
    """An integer variable with a lower bound (`unit` for the message: " seconds")."""
    def check(value: Any, info: ValidationInfo) -> Any:
        number = _integer(value, info)
        if number < least:
            raise ValueError(f"{_name(info)} must be at least {least}{unit}, got {number}")
        return number
    return BeforeValidator(check)


def _positive_seconds(value: Any, info: ValidationInfo) -> Any:
    raw = value.strip() if isinstance(value, str) else value
    if raw == "":
        raise PydanticUseDefault()
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number < float("inf"):
        raise ValueError(f"{_name(info)} must be a positive number of seconds, got {raw!r}")
    return number


def _true_or_false(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str):
        return value
    raw = value.strip().lower()
    if not raw:
        raise PydanticUseDefault()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ValueError(f"{_name(info)} must be true or false, got {raw!r}")


def _tuning_on(value: Any) -> Any:
    """FPM_MALLOC_TUNING, FPM_GC_TUNING: any value but a false one (`off`, `0`, `false`,
    `no`) leaves the tuning on; never an error."""
    return value.strip().lower() not in FALSE if isinstance(value, str) else value


def _parse_networks(raw: str) -> tuple[Network, ...]:
    """A comma-separated list of addresses or networks (`10.0.0.0/8`, `::1`); `none` is no
    address at all. Raises ValueError for an entry that is neither."""
    if raw.strip().lower() == "none":
        return ()
    return tuple(ipaddress.ip_network(part, strict=False) for part in _split(raw))


def _networks(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str):
        return value
    if not value.strip():
        raise PydanticUseDefault()
    try:
        return _parse_networks(value)
    except ValueError as exc:
        raise ValueError(f"{_name(info)}: {exc}") from None


def _database_url(value: str | None) -> str | None:
    if value:
        check_database_url(value)  # BadDatabaseUrl (a ValueError) names DATABASE_URL
    return value


def _secret_length(value: str) -> str:
    if value and len(value) < MIN_SECRET:
        raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET} characters long")
    return value


def _previous_secrets(value: tuple[str, ...]) -> tuple[str, ...]:
    """JWT_PREVIOUS_SECRETS: comma-separated keys still accepted for verification."""
    for number, secret in enumerate(value, start=1):
        if len(secret) < MIN_SECRET:  # never echo the key itself
            raise ValueError(f"JWT_PREVIOUS_SECRETS: entry {number} is shorter than "
                             f"{MIN_SECRET} characters")
    return value


def _realtime_mode(value: Any) -> Any:
    mode = value.lower() if isinstance(value, str) else value
    if mode not in ("notify", "poll"):
        raise ValueError(f"REALTIME_MODE must be 'notify' or 'poll', got {mode!r}")
    return mode


def _event_loop(value: Any) -> Any:
    loop = value.strip().lower() if isinstance(value, str) else value
    if loop not in ("uvloop", "asyncio"):
        raise ValueError(f"EVENT_LOOP must be 'uvloop' or 'asyncio', got {loop!r}")
    return loop


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _worker_name(value: Any) -> Any:
    return value.strip()[:100] if isinstance(value, str) else value


def _cache_ttls(value: Any) -> dict[str, int]:
    """CACHE_TTL_RECORD, CACHE_TTL_VIEW, CACHE_TTL_SEARCH, CACHE_TTL_VISIBILITY: seconds, at
    least 1 (defaults: server/cache/keys.py's TTL). `value` maps kinds to what is set."""
    ttls = {}
    for kind, default in TTL.items():
        name = f"CACHE_TTL_{kind.upper()}"
        given = value.get(kind, default)
        ttl = _parse_int(given, name) if isinstance(given, str) else given
        ttl = default if ttl is None else ttl
        if ttl < 1:
            raise ValueError(f"{name} must be at least 1 second, got {ttl}")
        ttls[kind] = ttl
    return ttls


OptionalText = Annotated[str | None, BeforeValidator(_empty_is_none)]
Integer = Annotated[int, BeforeValidator(_integer)]
Switch = Annotated[bool, BeforeValidator(_true_or_false)]
Tuning = Annotated[bool, BeforeValidator(_tuning_on)]
CommaList = Annotated[tuple[str, ...], BeforeValidator(_comma_list)]
Networks = Annotated[tuple[Network, ...], BeforeValidator(_networks)]


class _Environment(PydanticBaseSettingsSource):
    """The settings source of the environment: `env` (the process environment, or the
    mapping a test hands in), each field read from its variable, exactly as spelled
    (case-sensitive); a field without a variable is not read."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name == "cache_ttls":  # one field, four variables
            given = {kind: self.env[f"CACHE_TTL_{kind.upper()}"] for kind in TTL
                     if f"CACHE_TTL_{kind.upper()}" in self.env}
            return given or None, field_name, True
        variable = variable_of(field_name, field)
        return (None if variable is None else self.env.get(variable)), field_name, False

    def __call__(self) -> dict[str, Any]:
        values = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


class ProcessTuning(BaseSettings):
    """What a worker process sets up for itself before the rest of the settings matter
    (cli/malloc.py, server/collector.py): read alone with `load_tuning`."""

    # A field's validation_alias is the variable `_Environment` reads it from; the model
    # itself takes field names only (`Settings(port=5014)`, and what `_Environment` returns).
    model_config = SettingsConfigDict(
        frozen=True, case_sensitive=True, validate_by_name=True, validate_by_alias=False,
        hide_input_in_errors=True)  # a ValidationError never shows a secret or a password

    # `off` leaves glibc's malloc thresholds to glibc (cli/malloc.py).
    malloc_tuning: Tuning = Field(True, validation_alias="FPM_MALLOC_TUNING")
    # `off` leaves Python's garbage collector as Python sets it (server/collector.py).
    gc_tuning: Tuning = Field(True, validation_alias="FPM_GC_TUNING")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """`Settings(...)` is its arguments and defaults only: the environment is read by
        `load_settings` (through `_Environment`), never behind a constructor's back."""
        return (init_settings,)


class Settings(ProcessTuning):
    """Every knob of the service; the README lists each with its default."""

    database_url: Annotated[str | None, BeforeValidator(_empty_is_none),
                            AfterValidator(_database_url)] = Field(
        None, validation_alias="DATABASE_URL")
    redis_url: OptionalText = Field(None, validation_alias="REDIS_URL")
    jwt_secret: Annotated[str, AfterValidator(_secret_length)] = Field(
        "", validation_alias="JWT_SECRET")
    # Keys that verify access tokens but no longer sign them (rotation without logouts).
    jwt_previous_secrets: Annotated[CommaList, AfterValidator(_previous_secrets)] = Field(
        (), validation_alias="JWT_PREVIOUS_SECRETS", repr=False)
    host: str = Field("127.0.0.1", validation_alias="HOST")
    port: Integer = Field(5014, validation_alias="PORT")
    cors_origins: CommaList = Field((), validation_alias="CORS_ORIGINS")
    trusted_proxies: CommaList = Field((), validation_alias="TRUSTED_PROXIES")
    log_level: Annotated[str, BeforeValidator(_upper)] = Field(
        "INFO", validation_alias="LOG_LEVEL")
    data_dir: Annotated[Path, BeforeValidator(_empty_is_default)] = Field(
        Path(".data"), validation_alias="DATA_DIR")
    env_name: str = Field("dev", validation_alias="FPM_ENV")
    access_token_ttl: Integer = Field(900, validation_alias="ACCESS_TOKEN_TTL")
    refresh_token_ttl: Integer = Field(30 * 24 * 3600, validation_alias="REFRESH_TOKEN_TTL")
    refresh_grace_seconds: int = 10
    pool_min_size: Integer = Field(2, validation_alias="DB_POOL_MIN")
    pool_max_size: Integer = Field(10, validation_alias="DB_POOL_MAX")
    db_command_timeout: float = 10.0
    # Seconds a request waits for a pooled connection before it is answered 503.
    db_pool_timeout: Annotated[float, BeforeValidator(_positive_seconds)] = Field(
        5.0, validation_alias="DB_POOL_TIMEOUT")
    max_body_bytes: Integer = Field(1024 * 1024, validation_alias="MAX_BODY_BYTES")
    smtp_url: OptionalText = Field(None, validation_alias="SMTP_URL")
    mail_from: str = "Formula PM <no-reply@formula-pm.local>"
    # Unset: http://127.0.0.1:<PORT> (load_settings).
    public_url: Annotated[str, BeforeValidator(_empty_is_default)] = Field(
        "http://127.0.0.1:5014", validation_alias="PUBLIC_URL")
    realtime_mode: Annotated[str, BeforeValidator(_realtime_mode)] = Field(
        "notify", validation_alias="REALTIME_MODE")
    # `serve`'s event loop: uvloop (libuv) costs a PATCH about a quarter less worker CPU than
    # asyncio's own loop (bench/write_floor.py); `asyncio` is the fallback.
    event_loop: Annotated[str, BeforeValidator(_event_loop)] = Field(
        "uvloop", validation_alias="EVENT_LOOP")
    cache_enabled: Switch = Field(True, validation_alias="CACHE_ENABLED")
    socket_max_message_bytes: Integer = Field(
        64 * 1024, validation_alias="SOCKET_MAX_MESSAGE_BYTES")
    # Bytes waiting for one socket (transport buffer + Engine.IO queue) before it is dropped.
    socket_max_buffer_bytes: Integer = Field(
        4 * 1024 * 1024, validation_alias="SOCKET_MAX_BUFFER_BYTES")
    # Sockets one user may hold at once (across workers while Redis answers).
    socket_max_per_user: Annotated[int, _at_least(1)] = Field(
        20, validation_alias="SOCKET_MAX_PER_USER")
    # Seconds a new Engine.IO session has to complete the Socket.IO connect (whole seconds
    # in the variable).
    socket_connect_timeout: Annotated[float, _at_least(1)] = Field(
        10.0, validation_alias="SOCKET_CONNECT_TIMEOUT")
    embedded: bool = False
    # Seconds of silence after which a change leader counts as stalled (whole seconds).
    leader_stall_after: Annotated[float, _at_least(5, " seconds")] = Field(
        15.0, validation_alias="LEADER_STALL_AFTER")
    # Seconds between publications of the audit chain's heads (audit log, DATA_DIR/audit-heads).
    audit_head_every: Annotated[float, _at_least(1, " seconds")] = Field(
        3600.0, validation_alias="AUDIT_HEAD_EVERY")
    # Months of audit log kept (whole monthly partitions older than that are exported, when
    # AUDIT_EXPORT_DIR is set, then dropped by the change leader); unset: keep everything.
    audit_retention_months: Annotated[int | None, BeforeValidator(_months_or_none)] = Field(
        None, validation_alias="AUDIT_RETENTION_MONTHS")
    # Where a partition's rows go (OCSF JSON lines, audit-YYYYMM.jsonl) before it is dropped.
    audit_export_dir: Annotated[Path | None, BeforeValidator(_empty_is_none)] = Field(
        None, validation_alias="AUDIT_EXPORT_DIR")
    # Read from TRUSTED_PROXIES (SHARED_VARIABLES).
    trusted_networks: Networks = Field((), repr=False)
    # Who may read /metrics and the detail of /health/ready (operators, not users).
    metrics_allow: Networks = Field(
        _parse_networks(LOOPBACK), validation_alias="METRICS_ALLOW", repr=False)
    # This worker's name on the audit trail (startup, shutdown, server errors): stable
    # across restarts, so a startup can tell that the previous run ended without shutdown.
    worker_name: Annotated[str, BeforeValidator(_worker_name)] = Field(
        "", validation_alias="WORKER_NAME")
    # Seconds a cached entry lives at most (invalidation usually ends it much sooner); read
    # from CACHE_TTL_<KIND>.
    cache_ttls: Annotated[Mapping[str, int], BeforeValidator(_cache_ttls)] = Field(
        default_factory=lambda: dict(TTL))
    # Seconds between two publications of this worker's cache statistics to Redis.
    cache_stats_interval: float = 10.0
    # Where attachments live (STORAGE_URL, S3_*, AWS_*): storage/settings.py reads them.
    storage: StorageSettings = Field(default_factory=StorageSettings)
    # The largest file one attachment may hold (413 before any byte is stored).
    max_upload_bytes: Annotated[int, _at_least(1, " bytes")] = Field(
        200 * 1024 * 1024, validation_alias="MAX_UPLOAD_BYTES")
    # Bytes of attachments (ready and pending) one organisation may keep; 0: no quota
    # (507 before any byte is stored).
    org_storage_quota_bytes: Annotated[int, _at_least(0, " bytes")] = Field(
        0, validation_alias="ORG_STORAGE_QUOTA_BYTES")
    # Thumbnails one worker keeps waiting at most (a full queue refuses; the sweep offers
    # the file again) and renders at once.
    thumbnail_queue_size: int = 64
    thumbnail_concurrency: int = 1
    # Background exports (server/exports/jobs.py): queued + running jobs one user may have,
    # jobs one worker runs at once, seconds of silence after which another worker takes a
    # running job over, seconds a finished file stays downloadable.
    export_jobs_per_user: Annotated[int, _at_least(1)] = Field(
        2, validation_alias="EXPORT_JOBS_PER_USER")
    export_job_concurrency: Annotated[int, _at_least(1)] = Field(
        2, validation_alias="EXPORT_JOB_CONCURRENCY")
    export_job_stale_after: Annotated[int, _at_least(2, " seconds")] = Field(
        30, validation_alias="EXPORT_JOB_STALE_AFTER")
    export_job_ttl: Annotated[int, _at_least(60, " seconds")] = Field(
        24 * 3600, validation_alias="EXPORT_JOB_TTL")
    # Rows a job reads per page (0: the list's largest page) and milliseconds it waits
    # between two pages (a throttle: 0 runs flat out).
    export_job_page_rows: Annotated[int, _at_least(0)] = Field(
        0, validation_alias="EXPORT_JOB_PAGE_ROWS")
    export_job_page_delay_ms: Annotated[int, _at_least(0)] = Field(
        0, validation_alias="EXPORT_JOB_PAGE_DELAY_MS")
    # A synchronous `?format=` export of more rows than this answers 202 with a job instead
    # of the file (0: never; `Prefer: respond-async` asks for a job whatever the size).
    export_sync_max_rows: Annotated[int, _at_least(0)] = Field(
        0, validation_alias="EXPORT_SYNC_MAX_ROWS")
    # Seconds between two looks of a worker for queued jobs (a job posted to this worker
    # starts at once).
    export_job_poll: float = 2.0

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
        return self.model_copy(update={"database_url": url, "embedded": embedded})


def _config_error(error: ValidationError) -> ConfigError:
    """The first problem, as one line naming its variable."""
    first = error.errors(include_url=False, include_input=False)[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):  # ours (and BadDatabaseUrl): the message names it
        return ConfigError(str(cause))
    where = str(first["loc"][0]) if first["loc"] else ""
    field = Settings.model_fields.get(where)
    variable = (variable_of(where, field) if field else None) or where
    return ConfigError(f"{variable}: {first['msg']}")


Model = TypeVar("Model", bound=BaseSettings)


def _read(model: type[Model], env: Mapping[str, str] | None) -> Model:
    try:
        return model(**_Environment(model, os.environ if env is None else env)())
    except ValidationError as exc:
        raise _config_error(exc) from None


def load_tuning(env: Mapping[str, str] | None = None) -> ProcessTuning:
    """FPM_MALLOC_TUNING and FPM_GC_TUNING from `env` (default: the process environment),
    read as `Settings` reads them, without the rest."""
    return _read(ProcessTuning, env)


def load_settings(env: Mapping[str, str] | None = None, *,
                  require_secret: bool = True) -> Settings:
    """Build the settings from `env` (default: the process environment). Commands that
    sign no token (migrate) pass `require_secret=False`."""
    env = os.environ if env is None else env
    settings = _read(Settings, env)
    secret = settings.jwt_secret
    if settings.database_url and not secret and require_secret:
        raise ConfigError(
            "JWT_SECRET is required when DATABASE_URL is set "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if not secret and not settings.database_url and require_secret:
        secret = _embedded_secret(settings.data_dir)
    return settings.model_copy(update={
        "jwt_secret": secret,
        "jwt_previous_secrets": tuple(p for p in settings.jwt_previous_secrets if p != secret),
        "public_url": env.get("PUBLIC_URL") or f"http://127.0.0.1:{settings.port}",
        "storage": _storage(env),
    })


def _storage(env: Mapping[str, str]) -> StorageSettings:
    try:
        return load_storage_settings(env)
    except StorageConfigError as exc:
        raise ConfigError(str(exc)) from None


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
