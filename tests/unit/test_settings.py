"""Settings from the environment, and the refusal of unsafe values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.settings import Settings


def test_defaults_put_everything_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'vigil.db'}"
    key_file = tmp_path / "secret_key"
    assert settings.secret_key == key_file.read_text().strip()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).secret_key == settings.secret_key


def test_plain_postgres_urls_use_psycopg(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://u@db/vigil")
    assert settings.database_url == "postgresql+psycopg://u@db/vigil"


def test_environment_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PORT", "9001")
    monkeypatch.setenv("VIGIL_RETENTION_DAYS", "30")
    settings = Settings(data_dir=tmp_path)
    assert (settings.port, settings.retention_days) == (9001, 30)


def test_production_needs_an_explicit_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="VIGIL_SECRET_KEY must be set"):
        Settings(data_dir=tmp_path, env="production")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(data_dir=tmp_path, secret_key="short")
