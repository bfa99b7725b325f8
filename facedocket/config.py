"""Settings: one typed object, read from ``FACEDOCKET_*`` environment variables and ``.env``.

Every setting has a description (shown by ``facedocket settings``, documented in
docs/settings.md, and checked by a test). Model facts such as input size or the
calibrated threshold are not settings: they live on the model card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """FaceDocket settings. Environment variables are the upper-case names with the
    ``FACEDOCKET_`` prefix, e.g. ``FACEDOCKET_DETECTOR=hog``."""

    model_config = SettingsConfigDict(env_prefix="FACEDOCKET_", env_file=".env", extra="ignore")

    home: Path = Field(Path("facedocket-data"), description="Data directory: database, index files, caches.")
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
        description="Hours an activation token (printed by `user create`) stays valid. It only lets its user "
        "make their own token, once: an admin who creates a user never holds a token that acts as them.",
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

    evaluation_data_dir: Path | None = Field(
        None,
        description="Folder whose sub-folders are the data sets `POST /evaluations/run` may evaluate (each one a "
        "folder per identity); empty means HOME/evaluation-data. API callers name a data set, never a path.",
    )

    def resolved_evaluation_dir(self) -> Path:
        """The folder of data sets the API may evaluate."""
        return self.evaluation_data_dir or self.home / "evaluation-data"

    def resolved_database_url(self) -> str:
        """The database URL; the SQLite file in ``home`` unless ``database_url`` is set."""
        return self.database_url or f"sqlite:///{self.home / 'facedocket.db'}"
