"""Settings: one typed object, read from ``FACEDOCKET_*`` environment variables and ``.env``.

Every setting has a description (shown by ``facedocket settings``, documented in
docs/settings.md, and checked by a test). Model facts such as input size or the
calibrated threshold are not settings: they live on the model card.
"""

from __future__ import annotations

import logging
import os
import stat
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facedocket.errors import ConfigurationError, StorageReadOnly

if TYPE_CHECKING:
    from facedocket.crypto import AtRestCipher

log = logging.getLogger("facedocket.config")

DEVELOPMENT_SECRET = "facedocket-development-secret-public-never-use-for-real-data"
"""Stands in for an empty ``secret_key`` or ``photo_key`` in development. It is public: data
encrypted under it is readable by anyone with FaceDocket."""

MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset(
    {"changethis", "changeme", "change-me", "change_me", "secret", "password", "development", "dev", "test",
     "example", "default", "none", "null", "xxx", "todo", DEVELOPMENT_SECRET}
)  # fmt: skip
_warned: set[str] = set()
GENERATE_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Settings(BaseSettings):
    """FaceDocket settings. Environment variables are the upper-case names with the
    ``FACEDOCKET_`` prefix, e.g. ``FACEDOCKET_DETECTOR=hog``."""

    model_config = SettingsConfigDict(env_prefix="FACEDOCKET_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development",
        description="production refuses to start with an empty, placeholder or short secret_key or photo_key; "
        "development (the default) uses a fixed, public development secret for an empty one, with a warning. "
        "Set production for any real data.",
    )
    home: Path = Field(
        Path("facedocket-data"),
        description="Data directory: database, index files, caches. Created readable by its owner only "
        "(0700, its files 0600), whatever the umask.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the database; empty means the SQLite file facedocket.db in home. "
        "PostgreSQL: postgresql+psycopg://user:password@host/dbname.",
    )
    multi_face: Literal["largest", "reject"] = Field(
        "largest", description="Enrolment of a photo with several faces: enrol the largest, or reject it."
    )
    enrol_min_quality: float = Field(
        0.05, ge=0, le=1, description="Photos whose best face has a lower quality score are not enrolled."
    )
    default_k: int = Field(10, ge=1, le=100, description="Candidates a search returns when k is not given.")
    max_k: int = Field(100, ge=1, le=1000, description="Most candidates a search may return.")
    max_upload_bytes: int = Field(
        15 * 1024 * 1024, ge=1024, description="Largest upload the REST API accepts, in bytes."
    )
    max_enrolment_upload_bytes: int = Field(
        500 * 1024 * 1024,
        ge=1024,
        description="Largest upload the web UI's enrolment page accepts (a zip or a folder of photos), in bytes.",
    )
    expiry_interval_s: float = Field(
        60.0,
        ge=0,
        description="Seconds between runs of the deadline job in `facedocket serve`: emergency requests "
        "whose approval deadline has passed are expired and purged. 0 turns the job off.",
    )
    token_ttl_days: int = Field(
        90, ge=1, le=3650, description="Days a personal API token stays valid after it is made."
    )
    activation_ttl_hours: int = Field(
        72,
        ge=1,
        le=720,
        description="Hours an activation token (printed by `user create`) or a temporary first password (set by "
        "an admin) stays valid. Each works once: the token makes its user's own token, the password signs them "
        "in to choose their own, so an admin never holds a credential that stays valid.",
    )
    auth_failure_limit: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Failed sign-ins (unknown, expired, revoked or malformed tokens) one client address may make "
        "within auth_failure_window_s; past it the server answers 429 with Retry-After, without looking at the token.",
    )
    auth_failure_window_s: float = Field(
        60.0, gt=0, le=86_400, description="The window, in seconds, over which auth_failure_limit counts failures."
    )
    retention_interval_s: float = Field(
        3600.0,
        ge=0,
        description="Seconds between runs of the retention job in `facedocket serve`: what has outlived the "
        "policy profile's retention periods is deleted, except what a legal hold keeps. 0 turns the job off.",
    )
    host: str = Field("127.0.0.1", description="Address `facedocket serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `facedocket serve` listens on.")
    detector: str = Field("retinaface", description="Face detector: retinaface (default) or hog (dlib).")
    runtime: str = Field(
        "onnx", description="Runtime of dlib's ResNet: onnx (ONNX Runtime, default) or dlib (dlib's own)."
    )
    flip: bool = Field(True, description="Average each template with that of the mirrored face.")
    jitter: bool = Field(True, description="Also average over four slightly rotated and scaled views (needs flip).")
    threads: int = Field(2, ge=1, le=64, description="CPU threads for detection and templates.")
    detection_score: float = Field(0.9, gt=0, lt=1, description="Minimum detector confidence for a face.")
    min_face_px: float = Field(16.0, ge=4, description="Smallest face side, in pixels, that counts as a face.")
    detect_max_side: int = Field(1280, ge=160, description="Images are scaled down to this longest side for detection.")
    max_image_pixels: int = Field(
        40_000_000, ge=1, description="Refuse images with more pixels than this (decompression bombs)."
    )
    max_image_bytes: int = Field(30 * 1024 * 1024, ge=1, description="Refuse image files larger than this.")
    max_image_side: int = Field(20_000, ge=16, description="Refuse images with a side longer than this.")
    min_image_side: int = Field(16, ge=1, description="Refuse images with a side shorter than this.")
    decode_max_side: int = Field(
        4096,
        ge=256,
        description="Images with a longer side are scaled down to it while decoding (JPEGs by libjpeg's DCT "
        "scaling); faces keep enough detail for templates, and a decode stays within max_decode_bytes.",
    )
    max_decode_bytes: int = Field(
        300_000_000,
        ge=10_000_000,
        description="Memory one image decode may need, estimated from the header before decoding (pixels at "
        "their depth, libjpeg's coefficient buffer, libwebp's canvases); an image that would need more is "
        "refused, or a JPEG decoded at 1/2, 1/4 or 1/8 scale when that fits.",
    )
    max_jpeg_scans: int = Field(
        100,
        ge=1,
        description="Refuse JPEGs of more scans than this: each scan of a progressive JPEG is a pass over the "
        "whole image (encoders write about 10; a scan bomb writes thousands).",
    )
    max_concurrent_decodes: int = Field(
        2,
        ge=1,
        le=64,
        description="Image decodes the server runs at once (each may hold max_decode_bytes and a core); "
        "further uploads wait for a free slot.",
    )
    probe_cache_size: int = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Probe photos whose faces (templates) the server keeps in memory, so that searching a request "
        "again does not decode and analyse its probe again; 0 keeps none. A purge forgets its probe at once.",
    )
    probe_cache_ttl_s: float = Field(
        900.0, ge=0, le=86_400, description="Seconds a probe's faces are kept in memory after they were computed."
    )
    decode_wait_s: float = Field(
        10.0,
        ge=0,
        le=300,
        description="How long an upload waits for a free decode slot before the server answers 503 Busy "
        "with Retry-After.",
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Server secret for session cookies and CSRF tokens (keys are derived from it per purpose), "
        f"at least {MIN_SECRET_LENGTH} characters; changing it signs everyone out. Generate one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
    )
    session_idle_minutes: int = Field(
        30, ge=1, le=1440, description="A web UI session ends after this many minutes without a request."
    )
    session_max_hours: int = Field(
        12, ge=1, le=168, description="A web UI session ends this many hours after sign-in, however busy."
    )
    sign_in_free_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed sign-ins in a row a username may have before sign-in backs off (each further "
        "failure doubles the wait, from sign_in_backoff_s up to 15 minutes; a success resets it).",
    )
    sign_in_backoff_s: int = Field(
        30, ge=1, le=900, description="Seconds sign-in waits after the failure that uses up the free attempts."
    )
    photo_key: SecretStr = Field(
        SecretStr(""),
        description="Secret that encrypts stored photos at rest (AES-256-GCM, key derived by HKDF), at least "
        f"{MIN_SECRET_LENGTH} characters. Losing it loses the photos. To rotate, move the old one to "
        "photo_old_keys under its id and raise photo_key_id. Generate it like secret_key, never the same.",
    )
    photo_key_id: int = Field(
        1, ge=1, le=255, description="Id of photo_key, written into the header of every photo it encrypts."
    )
    photo_old_keys: dict[int, SecretStr] = Field(
        default_factory=dict,
        description='Earlier photo keys by id, as JSON (e.g. {"1": "..."}), kept to read photos encrypted '
        "before a rotation.",
    )

    @model_validator(mode="after")
    def _check_secrets(self) -> Self:
        if self.photo_key_id in self.photo_old_keys:
            raise ConfigurationError(
                f"photo_key_id {self.photo_key_id} is also in FACEDOCKET_PHOTO_OLD_KEYS; give the new key a new id"
            )
        if self.environment == "development":
            return self
        named = {"FACEDOCKET_SECRET_KEY": self.secret_key, "FACEDOCKET_PHOTO_KEY": self.photo_key}
        named |= {f"FACEDOCKET_PHOTO_OLD_KEYS[{i}]": key for i, key in self.photo_old_keys.items()}
        problems = [f"{name} {why}" for name, value in named.items() if (why := _weak_secret(value))]
        if problems:
            raise ConfigurationError(f"{'; '.join(problems)} (FACEDOCKET_ENVIRONMENT=production); {GENERATE_HINT}")
        return self

    evaluation_data_dir: Path | None = Field(
        None,
        description="Folder whose sub-folders are the data sets `POST /evaluations/run` may evaluate (each one a "
        "folder per identity); empty means HOME/evaluation-data. API callers name a data set, never a path.",
    )

    def resolved_evaluation_dir(self) -> Path:
        """The folder of data sets the API may evaluate."""
        return self.evaluation_data_dir or self.home / "evaluation-data"

    def prepare_home(self) -> Path:
        """Create the data directory readable by its owner only (0700), whatever the umask;
        a directory an older version left open is closed, with what is inside it (folders
        0700, files 0600). Returns the directory.

        Example::

            Settings(home=Path("facedocket-data")).prepare_home()  # drwx------ facedocket-data
        """
        home = self.home
        try:
            home.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageReadOnly(f"cannot create the data directory {home}: {exc.strerror or exc}") from None
        if stat.S_IMODE(home.stat().st_mode) != 0o700:
            with suppress(OSError):  # a read-only directory stays as it is (and is only read)
                _close_tree(home)
        return home

    def resolved_database_url(self) -> str:
        """The database URL; the SQLite file in ``home`` unless ``database_url`` is set."""
        return self.database_url or f"sqlite:///{self.home / 'facedocket.db'}"

    def session_secret(self) -> bytes:
        """The secret for sessions and CSRF tokens (the development secret when empty in development)."""
        return self._secret(self.secret_key, "FACEDOCKET_SECRET_KEY")

    def photo_cipher(self) -> AtRestCipher:
        """The cipher for photos at rest: ``photo_key`` encrypts, it and ``photo_old_keys`` decrypt."""
        from facedocket.crypto import AtRestCipher

        keys = {i: key.get_secret_value().encode() for i, key in self.photo_old_keys.items()}
        keys[self.photo_key_id] = self._secret(self.photo_key, "FACEDOCKET_PHOTO_KEY")
        return AtRestCipher("photo", keys, self.photo_key_id, hint="FACEDOCKET_PHOTO_KEY / FACEDOCKET_PHOTO_OLD_KEYS")

    def _secret(self, value: SecretStr, name: str) -> bytes:
        secret = value.get_secret_value()
        if not secret:  # only in development: the validator refuses it elsewhere
            if name not in _warned:
                _warned.add(name)
                log.warning("%s is empty: using the public development secret (set it for any real data)", name)
            secret = DEVELOPMENT_SECRET
        return secret.encode()


def _weak_secret(value: SecretStr) -> str:
    """Why ``value`` is unfit as a production secret ("" when it is fit)."""
    secret = value.get_secret_value()
    if not secret.strip():
        return "is empty"
    if secret.strip().lower() in PLACEHOLDER_SECRETS:
        return "is a placeholder"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return ""


def _close_tree(root: Path) -> None:
    """``root`` and the folders under it 0700, the files 0600 (links are left alone)."""
    root.chmod(0o700)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o700)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o600)
