"""SQLAlchemy 2.0 typed mappings: the database is the record.

Every change to these tables comes with an Alembic migration in ``store/migrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ROLES = ("requester", "examiner", "supervisor", "auditor", "admin")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC datetime (SQLite
    keeps no zone; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Agency(Base):
    """A tenant: users, galleries, requests and searches belong to one agency."""

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship()


class ApiToken(Base):
    """A bearer token; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class Gallery(Base):
    """A named set of enrolled templates with a declared source and purpose."""

    __tablename__ = "gallery"
    __table_args__ = (UniqueConstraint("agency_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    model_id: Mapped[str] = mapped_column(String(80))
    index_kind: Mapped[str] = mapped_column(String(20), default="auto")
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GalleryShare(Base):
    """Another agency allowed to search a gallery."""

    __tablename__ = "gallery_share"

    gallery_id: Mapped[int] = mapped_column(ForeignKey("gallery.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subject(Base):
    """A person record in a gallery. Recorded attributes serve evaluation and reporting only."""

    __tablename__ = "subject"
    __table_args__ = (UniqueConstraint("gallery_id", "reference"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("gallery.id"), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str | None] = mapped_column(String(20), nullable=True)
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TemplateRow(Base):
    """A template: vector bytes (float32), model id, quality, source image SHA-256."""

    __tablename__ = "template"
    __table_args__ = (
        UniqueConstraint("gallery_id", "source_sha256"),
        Index("ix_template_subject", "subject_id"),
        {"sqlite_autoincrement": True},  # a deleted template's id is never handed out again
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("gallery.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    model_id: Mapped[str] = mapped_column(String(80))
    quality: Mapped[float] = mapped_column(Float)
    source_sha256: Mapped[str] = mapped_column(String(64))
    box: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Request(Base):
    """The written request that a search is made under. Minimal now; the accountability
    work adds cases, legal-basis documents, approval states and deadlines."""

    __tablename__ = "request"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    case_number: Mapped[str] = mapped_column(String(120))
    offence: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(60))
    justification: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="searched")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Search(Base):
    """One execution: a 1:N search or a 1:1 verification."""

    __tablename__ = "search"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(10))
    probe_sha256: Mapped[str] = mapped_column(String(64))
    probe_quality: Mapped[float] = mapped_column(Float)
    galleries: Mapped[list[Any]] = mapped_column(JSON)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id", ondelete="SET NULL"), nullable=True)
    model_id: Mapped[str] = mapped_column(String(80))
    threshold: Mapped[float] = mapped_column(Float)
    k: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    gallery_size: Mapped[int] = mapped_column(Integer)
    best_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    candidates: Mapped[list[Candidate]] = relationship(order_by="Candidate.rank", cascade="all, delete-orphan")


class Candidate(Base):
    """A ranked candidate of a search (one per subject, its best-scoring template)."""

    __tablename__ = "candidate"

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("search.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("subject.id", ondelete="SET NULL"), nullable=True, index=True
    )
    template_id: Mapped[int] = mapped_column(Integer)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("gallery.id"))
    score: Mapped[float] = mapped_column(Float)
