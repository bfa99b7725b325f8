"""Settings: one typed object, read from ``FACEDOCKET_*`` environment variables and ``.env``.

Every setting has a description (shown by ``facedocket settings``, documented in
docs/settings.md, and checked by a test). Model facts such as input size or the
calibrated threshold are not settings: they live on the model card.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from facedocket.vision.detect import DetectorOptions
from facedocket.vision.images import ImageLimits
from facedocket.vision.pipeline import PipelineOptions


class Settings(BaseSettings):
    """FaceDocket settings. Environment variables are the upper-case names with the
    ``FACEDOCKET_`` prefix, e.g. ``FACEDOCKET_DETECTOR=hog``."""

    model_config = SettingsConfigDict(env_prefix="FACEDOCKET_", env_file=".env", extra="ignore")

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
    expiry_interval_s: float = Field(
        60.0,
        ge=0,
        description="Seconds between runs of the deadline job in `facedocket serve`: emergency requests "
        "whose approval deadline has passed are expired and purged. 0 turns the job off.",
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

    def prepare_home(self) -> Path:
        """Create the data directory readable by its owner only (0700), whatever the umask;
        a directory an older version left open is closed, with what is inside it (folders
        0700, files 0600). Returns the directory.

        Example::

            Settings(home=Path("facedocket-data")).prepare_home()  # drwx------ facedocket-data
        """
        home = self.home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(home.stat().st_mode) != 0o700:
            _close_tree(home)
        return home

    def resolved_database_url(self) -> str:
        """The database URL; the SQLite file in ``home`` unless ``database_url`` is set."""
        return self.database_url or f"sqlite:///{self.home / 'facedocket.db'}"

    def image_limits(self) -> ImageLimits:
        """The decoder's limits from these settings."""
        return ImageLimits(
            max_pixels=self.max_image_pixels,
            max_bytes=self.max_image_bytes,
            max_side=self.max_image_side,
            min_side=self.min_image_side,
            max_decoded_side=self.decode_max_side,
            max_scans=self.max_jpeg_scans,
            max_decode_bytes=self.max_decode_bytes,
        )

    def pipeline_options(self) -> PipelineOptions:
        return PipelineOptions(
            detector=self.detector,
            runtime=self.runtime,
            flip=self.flip,
            jitter=self.jitter,
            threads=self.threads,
            detection=DetectorOptions(
                score_threshold=self.detection_score,
                min_face_px=self.min_face_px,
                max_side=self.detect_max_side,
            ),
            limits=self.image_limits(),
            cache_dir=str(self.home / "cache"),
        )


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
