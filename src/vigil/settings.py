"""One typed settings object, read from ``VIGIL_*`` environment variables and built once."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    """Everything Vigil can be told from the environment."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str = ""
    admin_password: str | None = None
    retention_days: int = Field(default=90, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    geoip_enabled: bool = True
    db_pool_size: int = Field(default=8, ge=1, le=200)
    export_stall_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="An export whose client takes nothing for this long is cut off",
    )
    live_max_per_tenant: int = Field(
        default=200, ge=1, description="Live feed streams one tenant may have open on a node"
    )
    live_max_per_credential: int = Field(
        default=20, ge=1, description="Live feed streams one API key or session may have open"
    )
    live_queue_events: int = Field(
        default=4096,
        ge=100,
        le=1_000_000,
        description="Events a live stream may fall behind before it is reset",
    )
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    lockout_threshold: int = Field(default=10, ge=1)
    lockout_minutes: float = Field(default=30, gt=0)
    login_attempts_per_ip: int = Field(
        default=30, ge=1, description="Failed sign-ins one address may make in 5 minutes"
    )
    slack_webhook_hosts: str = Field(
        default="hooks.slack.com",
        description="Hosts a Slack webhook URL may point to (comma-separated), so a tenant "
        "admin cannot make the server post to internal addresses",
    )
    public_url: str = Field(default="", description="Where people reach Vigil, for links in emails")
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "vigil@localhost"
    smtp_starttls: bool = True
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated CIDRs of proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_scheme(cls, value: str) -> str:
        # Operators paste plain postgresql:// URLs; Vigil speaks psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'vigil.db'}"
        if not self.secret_key:
            if self.env == "production":
                raise ValueError("VIGIL_SECRET_KEY must be set when VIGIL_ENV=production")
            self.secret_key = _load_or_create_secret(self.data_dir / "secret_key")
        if len(self.secret_key) < 32:
            raise ValueError("VIGIL_SECRET_KEY must be at least 32 characters")
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            ipaddress.ip_network(part, strict=False)  # raises ValueError naming the bad one
        return value

    @property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        """The proxies allowed to say who the client is."""
        parts = (p.strip() for p in self.trusted_proxies.split(","))
        return tuple(ipaddress.ip_network(p, strict=False) for p in parts if p)

    @property
    def base_url(self) -> str:
        """The public address of this Vigil, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def email_configured(self) -> bool:
        """Whether Vigil can send email."""
        return bool(self.smtp_host)


def _load_or_create_secret(path: Path) -> str:
    """Read the generated secret key, creating it (owner-only) on first run."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
