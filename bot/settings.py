"""The one settings class: environment variables (and .env) validated at the edge."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "changethis", "xxx", "secret", "todo", "placeholder", "your-token-here"}


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything configurable; secrets are SecretStr and never printed."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      populate_by_name=True)

    data_dir: Path = Field(default=Path(".revenant"), validation_alias=_env("REVENANT_DATA_DIR"))
    database_url: str | None = Field(default=None, validation_alias=_env("REVENANT_DATABASE_URL"))
    db_app_role: str = Field(default="revenant_app", validation_alias=_env("REVENANT_DB_APP_ROLE"))
    chroma_url: str | None = Field(default=None, validation_alias=_env("REVENANT_CHROMA_URL"))
    chroma_open_collections: int = Field(default=100, ge=8, le=100_000,
                                         validation_alias=_env("REVENANT_CHROMA_OPEN_COLLECTIONS"))
    source_sync_minutes: float = Field(default=15.0, ge=0, le=10_080,
                                       validation_alias=_env("REVENANT_SOURCE_SYNC_MINUTES"))
    lexical_cache_mb: int = Field(default=128, ge=1, le=65_536, validation_alias=_env("REVENANT_LEXICAL_CACHE_MB"))
    ingest_linger_ms: float = Field(default=0.0, ge=0, le=100, validation_alias=_env("REVENANT_INGEST_LINGER_MS"))
    # serve's event loop: "uvloop" (the default; asyncio's when uvloop is not installed) or "asyncio"
    access_log_accepted: bool = Field(default=False, validation_alias=_env("REVENANT_ACCESS_LOG_ACCEPTED"))
    event_loop: str = Field(default="uvloop", pattern="^(uvloop|asyncio)$", validation_alias=_env("REVENANT_EVENT_LOOP"))
    ingest_max_batch: int = Field(default=400, ge=1, le=10_000, validation_alias=_env("REVENANT_INGEST_MAX_BATCH"))
    ack_lease_seconds: float = Field(default=30.0, ge=0.5, le=3600,
                                     validation_alias=_env("REVENANT_ACK_LEASE_SECONDS"))
    db_timeout: float = Field(default=2.0, gt=0, le=60, validation_alias=_env("REVENANT_DB_TIMEOUT"))
    http_read_timeout: float = Field(default=10.0, gt=0, le=600, validation_alias=_env("REVENANT_HTTP_READ_TIMEOUT"))
    db_statement_timeout: float = Field(default=5.0, ge=0, le=3600,
                                        validation_alias=_env("REVENANT_DB_STATEMENT_TIMEOUT"))
    outbox_threads: int = Field(default=4, ge=1, le=64, validation_alias=_env("REVENANT_OUTBOX_THREADS"))
    outbox_lag_alert: float = Field(default=300.0, gt=0, le=86_400,
                                    validation_alias=_env("REVENANT_OUTBOX_LAG_ALERT_SECONDS"))
    # days delivered outbox messages are kept (storage/outbox_retention.py); 0 or "off": kept forever
    outbox_retention_days: float = Field(default=14.0, ge=0, le=3650,
                                         validation_alias=_env("REVENANT_OUTBOX_RETENTION_DAYS"))

    slack_bot_token: SecretStr | None = Field(default=None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(default=None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_client_id: str | None = Field(default=None, validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(default=None, validation_alias=_env("SLACK_CLIENT_SECRET"))
    slack_api_url: str | None = Field(default=None, validation_alias=_env("SLACK_API_URL"))
    slack_timeout: int = Field(default=15, ge=1, le=120, validation_alias=_env("REVENANT_SLACK_TIMEOUT"))
    encryption_key: SecretStr | None = Field(default=None, validation_alias=_env("REVENANT_ENCRYPTION_KEY"))

    microsoft_app_id: str | None = Field(default=None, validation_alias=_env("MICROSOFT_APP_ID"))
    microsoft_app_password: SecretStr | None = Field(default=None, validation_alias=_env("MICROSOFT_APP_PASSWORD"))
    microsoft_app_tenant_id: str | None = Field(default=None, validation_alias=_env("MICROSOFT_APP_TENANT_ID"))
    teams_allow_unauthenticated: bool = Field(default=False,
                                              validation_alias=_env("REVENANT_TEAMS_ALLOW_UNAUTHENTICATED"))

    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    llm_model: str = Field(default="gpt-4o-mini", validation_alias=_env("REVENANT_LLM_MODEL"))
    embeddings: str = Field(default="offline", validation_alias=_env("REVENANT_EMBEDDINGS"))

    github_token: SecretStr | None = Field(default=None, validation_alias=_env("GITHUB_TOKEN"))
    github_api_url: str = Field(default="https://api.github.com", validation_alias=_env("GITHUB_API_URL"))
    jira_url: str | None = Field(default=None, validation_alias=_env("JIRA_URL"))
    jira_user: str | None = Field(default=None, validation_alias=_env("JIRA_USER"))
    jira_token: SecretStr | None = Field(default=None, validation_alias=_env("JIRA_TOKEN"))

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("sqlite:", "postgres://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:/// or postgresql:// (psycopg 3 is used for PostgreSQL)")
        return v

    @field_validator("slack_api_url", "openai_base_url", "github_api_url", "jira_url", "chroma_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/") + "/" if v.endswith("/") else v

    @field_validator("outbox_retention_days", mode="before")
    @classmethod
    def _retention(cls, v: object) -> object:
        if isinstance(v, str) and v.strip().lower() in ("off", ""):
            return 0.0
        if isinstance(v, str | int | float) and 0 < float(v) < 1:
            raise ValueError("must be 0 or 'off' (keep forever), or at least 1 day")
        return v

    @field_validator("embeddings")
    @classmethod
    def _embeddings(cls, v: str) -> str:
        if v in ("offline", "hashing", "openai") or (v.startswith("local:") and len(v) > 6):
            return v
        raise ValueError("must be 'offline', 'hashing', 'openai' or 'local:<model name>'")

    @field_validator("encryption_key")
    @classmethod
    def _fernet_keys(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        from storage.secret_box import SecretBox, SecretBoxError

        try:
            SecretBox(v.get_secret_value())
        except SecretBoxError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_client_secret",
                     "microsoft_app_password", "openai_api_key", "github_token", "jira_token")
    @classmethod
    def _no_placeholder(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or v.get_secret_value() == "":
            return None
        if v.get_secret_value().strip().lower() in PLACEHOLDERS:
            raise ValueError("is a placeholder value; set the real secret or leave it unset")
        return v

    @property
    def effective_database_url(self) -> str:
        """REVENANT_DATABASE_URL, or the embedded SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'revenant.db').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


ALIASES = {name: str(f.validation_alias.choices[0]) for name, f in Settings.model_fields.items()
           if isinstance(f.validation_alias, AliasChoices)}


def explain(error: ValidationError) -> str:
    """One line per bad variable, naming the environment variable."""
    lines = []
    for item in error.errors():
        loc = str(item["loc"][0]) if item["loc"] else "?"
        var = ALIASES.get(loc, loc)
        msg = item["msg"].removeprefix("Value error, ")
        lines.append(f"invalid configuration: {var}: {msg}")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the environment and .env; raise ValidationError naming the variable."""
    return Settings(**overrides)  # type: ignore[arg-type]
