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
    policy_name: Mapped[str] = mapped_column(String(80), default="")
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    policy_sha256: Mapped[str] = mapped_column(String(64), default="")
    policy_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A person with one role in one agency. ``password_hash`` (argon2id) lets them sign in to
    the web UI; a ``password_temporary`` one (set by an admin) only signs in once, to choose
    their own, and expires at ``password_expires``."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    password_expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    password_changed: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    agency: Mapped[Agency] = relationship()


class ApiToken(Base):
    """A bearer token; only the SHA-256 of the secret is stored. ``kind`` is ``personal`` (made
    by its user) or ``activation`` (handed out by an admin: it only lets its user make a
    personal token, once, before ``expires``)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="personal")

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser: only the SHA-256 of the cookie's secret is stored. It ends at
    sign-out, after ``idle`` without use, at ``expires``, or when the user is deactivated or
    their password is reset. ``must_change``: signed in with a temporary password, it may
    only choose a new one."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_why: Mapped[str] = mapped_column(String(40), default="")
    must_change: Mapped[bool] = mapped_column(Boolean, default=False)
    client: Mapped[str] = mapped_column(String(200), default="")


class SignInAttempts(Base):
    """Failed sign-ins in a row under one username, known or not (its SHA-256, lower case), so
    the back-off treats a name nobody has like any other and says nothing about who exists."""

    __tablename__ = "sign_in_attempts"

    name_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last: Mapped[datetime] = mapped_column(UTCDateTime)


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
    epoch: Mapped[str] = mapped_column(String(32), default="")
    requires_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_photos: Mapped[bool] = mapped_column(Boolean, default=True)
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
    last_interaction: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
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


class RegisteredModel(Base):
    """An operator's own template model registered in this installation: its card as
    registered (the files are in ``HOME/models/<model_id>/``), and the calibration run on the
    operator's data, if any. ``revision`` goes up with every calibration."""

    __tablename__ = "registered_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(String(80), unique=True)
    card: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    registered_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    registered: Mapped[datetime] = mapped_column(UTCDateTime)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    calibrated: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    calibrated_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    evaluation_run_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_run.id"), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Reembedding(Base):
    """Re-embedding a gallery with another template model: ``running`` until its staged
    templates are swapped in (``finished``) or it is ``abandoned``."""

    __tablename__ = "reembedding"

    id: Mapped[int] = mapped_column(primary_key=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("gallery.id"), index=True)
    from_model: Mapped[str] = mapped_column(String(80))
    model_id: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))
    started_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    started: Mapped[datetime] = mapped_column(UTCDateTime)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StagedTemplate(Base):
    """A template made by a running re-embedding, not yet searched: ``vector`` is None when
    the new model's pipeline found no usable face (``outcome`` says why). Deleting the subject
    deletes it."""

    __tablename__ = "staged_template"
    __table_args__ = (UniqueConstraint("reembedding_id", "source_sha256"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    reembedding_id: Mapped[int] = mapped_column(ForeignKey("reembedding.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id", ondelete="CASCADE"), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    box: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class Case(Base):
    """An investigation: number, offence category, description. Holds written requests."""

    __tablename__ = "case_record"
    __table_args__ = (UniqueConstraint("agency_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    number: Mapped[str] = mapped_column(String(120))
    offence_category: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredImage(Base):
    """A file kept in the database (probe photos and their face crops, request documents,
    enrolment photos and their aligned crops), so that writes stay transactional and a purge,
    a retention run or an erasure reaches it. ``data`` is AES-256-GCM ciphertext when
    ``encrypted`` (every file written since migration 0008; older probe rows are plain).
    ``sha256`` is of the plain bytes. What it belongs to: ``request_id`` (probe, crop,
    document) or ``gallery_id``/``subject_id``/``template_id`` (enrolment photos); ``meta``
    holds the face's box and landmarks in decoded pixels and the decoded size."""

    __tablename__ = "stored_image"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    media_type: Mapped[str] = mapped_column(String(100), default="image/jpeg")
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    gallery_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    template_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Request(Base):
    """A written request to search, under a case. ``agency_id`` files it; ``target_agency_id``
    (the same agency, or another agency's face-search unit) approves and searches it.

    States: draft → submitted → approved | denied → searched → reviewed → closed. On the
    emergency path the search runs while ``approval`` is still pending, until ``deadline``;
    a denial or a missed deadline purges the probe and the candidates (``purged``)."""

    __tablename__ = "request"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    target_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    legal_basis: Mapped[str] = mapped_column(String(60))
    document_type: Mapped[str] = mapped_column(String(120), default="")
    document_reference: Mapped[str] = mapped_column(String(200), default="")
    document_issuer: Mapped[str] = mapped_column(String(200), default="")
    document_date: Mapped[str] = mapped_column(String(10), default="")
    document_sha256: Mapped[str] = mapped_column(String(64), default="")
    justification: Mapped[str] = mapped_column(Text)
    galleries: Mapped[list[Any]] = mapped_column(JSON, default=list)
    probe_source: Mapped[str] = mapped_column(String(20), default="still-image")
    probe_sha256: Mapped[str] = mapped_column(String(64), default="")
    probe_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_image.id", ondelete="SET NULL"), nullable=True
    )
    probe_face: Mapped[int | None] = mapped_column(Integer, nullable=True)
    probe_box: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    probe_crop_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    document_file_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    approval: Mapped[str] = mapped_column(String(20), default="pending")
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    decided: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    policy_name: Mapped[str] = mapped_column(String(80), default="")
    policy_sha256: Mapped[str] = mapped_column(String(64), default="")
    submitted: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    searched: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    purged: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()


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
    policy_name: Mapped[str] = mapped_column(String(80), default="")
    policy_sha256: Mapped[str] = mapped_column(String(64), default="")
    models: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """One entry per template model searched: model id, threshold, galleries, templates
    compared, probe quality (None for searches made before galleries chose their model:
    ``model_id`` and ``threshold`` say it all)."""
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
    released: Mapped[bool] = mapped_column(Boolean, default=False)


class Review(Base):
    """One reviewer's disposition of one candidate, with a rationale (who decided what, when)."""

    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("candidate_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    stage: Mapped[str] = mapped_column(String(20))
    disposition: Mapped[str] = mapped_column(String(20))
    rationale: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """An append-only, hash-chained audit event. ``details`` is canonical JSON text and never
    holds biometric data. The table refuses UPDATE and DELETE (triggers, both databases)."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(120))
    agency_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the sequence number and hash of the newest audit event. Appends lock it, so
    the chain has one order; ``audit verify`` checks the chain ends here (a dropped tail shows)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class LegalHold(Base):
    """A legal hold on a case or a subject: retention purges and erasure skip what it holds
    until it is released."""

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    placed: Mapped[datetime] = mapped_column(UTCDateTime)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    released: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Consent(Base):
    """A subject's consent to enrolment in a gallery that requires it: who, when, for what
    purpose, until when."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id", ondelete="CASCADE"), index=True)
    given_by: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    given: Mapped[datetime] = mapped_column(UTCDateTime)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Erasure(Base):
    """That a subject was erased, and what went: no biometric data, and the subject's
    reference only as a keyed hash, ``hmac-sha256:<hex>`` (``sha256:<hex>`` in rows made
    before migration 0011); the certificate handed out carries it in clear."""

    __tablename__ = "erasure"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    gallery_id: Mapped[int] = mapped_column(Integer)
    subject_id: Mapped[int] = mapped_column(Integer)
    reference_hash: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class EvaluationRun(Base):
    """An accuracy evaluation kept on record: data set fingerprint, model, detector,
    settings and every result (including per-group figures)."""

    __tablename__ = "evaluation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[str] = mapped_column(String(80))
    detector: Mapped[str] = mapped_column(String(40))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class Calibration(Base):
    """A threshold recommended by an evaluation run for a target FMR, for a model and
    optionally one gallery. The newest row applies; searches default to it."""

    __tablename__ = "calibration"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    model_id: Mapped[str] = mapped_column(String(80))
    gallery_id: Mapped[int | None] = mapped_column(ForeignKey("gallery.id", ondelete="CASCADE"), nullable=True)
    target_fmr: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    evaluation_run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_run.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created: Mapped[datetime] = mapped_column(UTCDateTime)


# The video tables share this metadata (one schema, one migration chain); re-exported here.
from facedocket.store.video_tables import Alert as Alert  # noqa: E402
from facedocket.store.video_tables import Deployment as Deployment  # noqa: E402
from facedocket.store.video_tables import DeploymentRun as DeploymentRun  # noqa: E402
from facedocket.store.video_tables import FaceCount as FaceCount  # noqa: E402
from facedocket.store.video_tables import Incident as Incident  # noqa: E402
from facedocket.store.video_tables import WatchlistEntry as WatchlistEntry  # noqa: E402
