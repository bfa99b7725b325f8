"""Tables of watchlists on video: watchlist entries, deployments and their runs, faces
counted per hour, alerts and incident records. Imported by :mod:`facedocket.store.tables`
(one metadata); migration 0009 creates them.

Nothing here holds anything of a face that did not match: a face seen is a number in
:class:`FaceCount`, and only an alert (a watchlist match) keeps a face crop, encrypted, in
``stored_image``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from facedocket.store.tables import Base, UTCDateTime, utcnow


class WatchlistEntry(Base):
    """A subject of a watchlist gallery put on the list: why (reason code, incident), who
    authorised it and when, until when. ``status``: pending (a second person's approval),
    active, expired or removed; an ended entry keeps its record, not its templates."""

    __tablename__ = "watchlist_entry"
    __table_args__ = (Index("ix_watchlist_entry_gallery_status", "gallery_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("gallery.id"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(String(40))
    incident_reference: Mapped[str] = mapped_column(String(200))
    evidence_notes: Mapped[str] = mapped_column(Text, default="")
    authorised_by: Mapped[str] = mapped_column(String(200))
    authorised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    added: Mapped[datetime] = mapped_column(UTCDateTime)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    approved: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    policy_name: Mapped[str] = mapped_column(String(80), default="")
    policy_sha256: Mapped[str] = mapped_column(String(64), default="")


class Deployment(Base):
    """Where and when a camera or video is matched against watchlists: the source, the site
    and the place, time windows (in ``timezone``), the watchlists (gallery ids), the
    threshold, the DPIA reference, signage, and a supervisor's authorisation."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("agency_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    source_kind: Mapped[str] = mapped_column(String(20))
    site: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(Text)
    windows: Mapped[list[Any]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    watchlists: Mapped[list[Any]] = mapped_column(JSON)
    threshold: Mapped[float] = mapped_column(Float)
    dpia_reference: Mapped[str] = mapped_column(String(200), default="")
    signage: Mapped[bool] = mapped_column(Boolean, default=False)
    authorised_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    authorised: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    authorisation_reference: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="stopped")
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeploymentRun(Base):
    """One stretch of matching: from a start the gate allowed to its stop (``ended`` None
    while it runs), with the faces seen and alerts raised in it."""

    __tablename__ = "deployment_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    source_kind: Mapped[str] = mapped_column(String(20))
    started_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    started: Mapped[datetime] = mapped_column(UTCDateTime)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    faces: Mapped[int] = mapped_column(Integer, default=0)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    threshold: Mapped[float] = mapped_column(Float)


class FaceCount(Base):
    """Faces seen by a deployment in one clock hour (UTC): the only record of the faces that
    did not match."""

    __tablename__ = "face_count"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    faces: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    """A watchlist match awaiting a person: the entry, the score and threshold, what the
    model card expects in false alerts at that threshold and list size, the best frame's
    face crop (``image_id``, encrypted), and the decision. Repeated matches of the same
    person merge into it (``repeats``)."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_agency_status", "agency_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("deployment_run.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("watchlist_entry.id"), index=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("gallery.id"))
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    model_id: Mapped[str] = mapped_column(String(80))
    entries: Mapped[int] = mapped_column(Integer)
    false_alert_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    faces_per_hour: Mapped[float] = mapped_column(Float)
    expected_false_alerts_per_hour: Mapped[float | None] = mapped_column(Float, nullable=True)
    matches: Mapped[list[Any]] = mapped_column(JSON)
    track_id: Mapped[int] = mapped_column(Integer)
    video_time: Mapped[float] = mapped_column(Float)
    frame_time: Mapped[float] = mapped_column(Float)
    latency_s: Mapped[float] = mapped_column(Float)
    quality: Mapped[float] = mapped_column(Float)
    box: Mapped[list[Any]] = mapped_column(JSON)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("stored_image.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    decided: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class Incident(Base):
    """A confirmed alert: the record an operator acts on, kept for the profile's
    ``retention.incident_records`` days (with the alert and its crop)."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"), unique=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("watchlist_entry.id"))
    confirmed_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = ["Alert", "Deployment", "DeploymentRun", "FaceCount", "Incident", "WatchlistEntry"]
