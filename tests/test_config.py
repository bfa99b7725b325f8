"""Settings' secrets: refused when empty, placeholder or short outside development; the
development secret stands in for an empty one in development; photo keys rotate."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from facedocket import config
from facedocket.config import DEVELOPMENT_SECRET, Settings
from facedocket.crypto import csrf_token
from facedocket.errors import ConfigurationError

GOOD = "p4Vx0m2Qe9rT7yU1iO3pA5sD8fG6hJ0kL"  # 33 characters
OTHER = "Zx8Cv7Bn6Mm5Aa4Ss3Dd2Ff1Gg0HhJjKkLl"


def production(**values: object) -> Settings:
    return Settings(environment="production", **{"secret_key": GOOD, "photo_key": OTHER, **values})  # type: ignore[arg-type]


def test_production_accepts_real_secrets() -> None:
    settings = production()
    assert settings.session_secret() == GOOD.encode()
    assert "p4Vx" not in repr(settings) and "p4Vx" not in str(settings.secret_key)  # never printed


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": ""}, "FACEDOCKET_SECRET_KEY is empty"),
        ({"secret_key": "   "}, "FACEDOCKET_SECRET_KEY is empty"),
        ({"photo_key": "changethis"}, "FACEDOCKET_PHOTO_KEY is a placeholder"),
        ({"photo_key": "CHANGEME"}, "FACEDOCKET_PHOTO_KEY is a placeholder"),
        ({"secret_key": DEVELOPMENT_SECRET}, "FACEDOCKET_SECRET_KEY is a placeholder"),
        ({"secret_key": "short but real 1"}, "FACEDOCKET_SECRET_KEY is shorter than 32 characters"),
        ({"photo_key_id": 2, "photo_old_keys": {1: "secret"}}, "FACEDOCKET_PHOTO_OLD_KEYS[1] is a placeholder"),
    ],
)
def test_production_refuses_weak_secrets(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        production(**values)
    text = str(refused.value)
    assert message in text and "FACEDOCKET_ENVIRONMENT=production" in text and "token_urlsafe" in text
    assert "\n" not in text


def test_production_names_every_weak_secret_at_once() -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY is empty; FACEDOCKET_PHOTO_KEY is empty"):
        Settings(environment="production")


def test_production_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEDOCKET_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="FACEDOCKET_SECRET_KEY is empty"):
        Settings()
    monkeypatch.setenv("FACEDOCKET_SECRET_KEY", GOOD)
    monkeypatch.setenv("FACEDOCKET_PHOTO_KEY", OTHER)
    monkeypatch.setenv("FACEDOCKET_PHOTO_KEY_ID", "2")
    monkeypatch.setenv("FACEDOCKET_PHOTO_OLD_KEYS", '{"1": "' + GOOD[::-1] + '"}')
    settings = Settings()
    assert settings.photo_key_id == 2 and settings.photo_old_keys == {1: SecretStr(GOOD[::-1])}


def test_the_cli_says_so_in_one_line() -> None:
    env = {**os.environ, "FACEDOCKET_ENVIRONMENT": "production", "FACEDOCKET_SECRET_KEY": "changethis"}
    env.pop("FACEDOCKET_PHOTO_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-c", "from facedocket.cli import main; main()", "settings"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "Error: FACEDOCKET_SECRET_KEY is a placeholder; FACEDOCKET_PHOTO_KEY is empty (FACEDOCKET_ENVIRONMENT="
        "production); generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    ]


def test_development_uses_the_public_secret_with_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "_warned", set())
    settings = Settings()
    assert settings.environment == "development"
    with caplog.at_level(logging.WARNING, logger="facedocket.config"):
        assert settings.session_secret() == DEVELOPMENT_SECRET.encode()
        cipher = settings.photo_cipher()
        settings.photo_cipher()
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "FACEDOCKET_SECRET_KEY is empty",
        "FACEDOCKET_PHOTO_KEY is empty",
    ]  # once each
    assert cipher.decrypt(cipher.encrypt(b"photo")) == b"photo"
    assert csrf_token(settings.session_secret(), "s") != csrf_token(GOOD.encode(), "s")
    assert Settings(secret_key="short").session_secret() == b"short"  # development allows anything set


def test_a_key_id_cannot_be_current_and_old() -> None:
    with pytest.raises(ConfigurationError, match="photo_key_id 1 is also in FACEDOCKET_PHOTO_OLD_KEYS"):
        Settings(photo_key=OTHER, photo_old_keys={1: GOOD})  # type: ignore[arg-type]


def test_photo_keys_rotate_through_the_settings() -> None:
    first = production()
    blob = first.photo_cipher().encrypt(b"jpeg", associated="subject-photo:1")

    rotated = production(photo_key=GOOD[::-1], photo_key_id=2, photo_old_keys={1: OTHER})
    cipher = rotated.photo_cipher()
    assert cipher.decrypt(blob, associated="subject-photo:1") == b"jpeg"
    assert cipher.key_id(cipher.rotate(blob, associated="subject-photo:1")) == 2

    forgot = production(photo_key=GOOD[::-1], photo_key_id=2)
    with pytest.raises(ConfigurationError, match=r"key id 1, which is not configured.*FACEDOCKET_PHOTO_OLD_KEYS"):
        forgot.photo_cipher().decrypt(blob, associated="subject-photo:1")
    replaced = production(photo_key=GOOD[::-1])  # a new key under the old id
    with pytest.raises(ConfigurationError, match="photo key with id 1 is not the key"):
        replaced.photo_cipher().decrypt(blob, associated="subject-photo:1")
