"""Request and response bodies, in families: ``XCreate`` (what a client sends), ``XPublic``
(what the API answers with), ``XsPublic`` (a list of them with its count).

Response models are built from the service's frozen dataclasses (``from_attributes``); the
rules behind each field live in the service, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from facedocket.api.responses import AUTHENTICATED, WITH_BODY, WITH_ID, ErrorPublic, error_responses
from facedocket.service.inputs import MAX_ID
from facedocket.vocab import TEXT_LIMITS


def _as_utc(value: datetime) -> datetime:
    """Times are UTC; SQLite hands them back without a zone, so say so."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]

FiniteScore = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
"""A similarity score: a finite number from -1 to 1."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""An id in a request body: 1 to 2**63-1 (a signed 64-bit integer, what every table holds)."""


def text_field(what: str, description: str, default: Any = ..., **kwargs: Any) -> Any:
    """A text field of at most ``TEXT_LIMITS[what]`` characters (the service's limit for
    the field, checked here first), saying so in its description."""
    limit = TEXT_LIMITS[what]
    return Field(default, max_length=limit, description=f"{description} At most {limit:,} characters.", **kwargs)


def id_field(description: str, default: Any = ...) -> Any:
    """An id field (1 to 2**63-1)."""
    return Field(default, ge=1, le=MAX_ID, description=description)


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- errors and health -----------------------------------------------------------------------


class HealthPublic(BaseModel):
    ok: bool = Field(True, description="True when the API answers.")
    version: str = Field(description="The FaceDocket version.")


# --- agencies, users, tokens -----------------------------------------------------------------


class AgencyCreate(BaseModel):
    name: str = text_field("agency name", "Agency name, unique.")
    admin_username: str = text_field("username", "Username of the agency's first admin.")


class AgencyPublic(_Public):
    id: int = Field(description="The agency's id.")
    name: str = Field(description="The agency's name.")
    operator: bool = Field(description="True for the operator agency, whose admins create agencies.")


class AgenciesPublic(BaseModel):
    data: list[AgencyPublic] = Field(description="The agencies you may see.")
    count: int = Field(description="How many are listed.")


class TokenCreate(BaseModel):
    name: str = text_field("token name", "A label for the token, e.g. the machine that uses it.", "")
    user_id: int | None = id_field(
        "Whose token: only yourself (anyone else's is refused with 403). Leave it out.", None
    )


class TokenPublic(_Public):
    id: int = Field(description="The token's id (to revoke it).")
    user_id: int = Field(description="Whose token it is.")
    username: str = Field(description="Whose token it is, by name.")
    secret: str = Field(description="The bearer token. Shown this once; only its hash is stored.")
    kind: str = Field(description="personal (acts as its user), or activation (only makes its user's own token, once).")
    expires: datetime | None = Field(description="When the token stops working (UTC).")


class AgencyCreatedPublic(BaseModel):
    agency: AgencyPublic = Field(description="The new agency.")
    token: TokenPublic = Field(
        description="The first admin's activation token (shown once): it only makes the admin's own token."
    )


class UserCreate(BaseModel):
    username: str = text_field("username", "Unique username.")
    role: str = text_field("choice", "One of requester, examiner, supervisor, auditor, admin.")


class UserPublic(_Public):
    id: int = Field(description="The user's id.")
    username: str = Field(description="Unique username.")
    agency_id: int = Field(description="The user's agency.")
    role: str = Field(description="requester, examiner, supervisor, auditor or admin.")
    active: bool = Field(description="False once deactivated: the user's tokens stop working.")
    password: str = Field(description="Web sign-in: none, temporary (a first password not used yet) or set.")


class PasswordCreate(BaseModel):
    password: str | None = Field(
        None,
        max_length=1024,
        description="The temporary first password (it must pass the password policy); default a random one.",
    )


class PasswordPublic(BaseModel):
    user_id: int = Field(description="The user.")
    password: str = Field(
        description="The temporary password, shown this once: it signs in to the web UI once, within "
        "activation_ttl_hours, to choose the user's own password."
    )


class VerdictPublic(BaseModel):
    rule: str = Field(description="The profile key that sets the rule.")
    words: str = Field(description="What the rule asks, in plain words.")
    state: str = Field(description="passed, failed, or pending (checked when a search runs).")
    why: str = Field(description="Why it failed; empty otherwise.")


class ChecklistPublic(BaseModel):
    data: list[VerdictPublic] = Field(description="Every rule of the receiving agency's policy, in order.")
    count: int = Field(description="How many.")


class UsersPublic(BaseModel):
    data: list[UserPublic] = Field(description="The users of your agency.")
    count: int = Field(description="How many are listed.")


class UserCreatedPublic(BaseModel):
    user: UserPublic = Field(description="The new user.")
    token: TokenPublic = Field(
        description="The new user's activation token (shown once): hand it to them; it only makes their own "
        "token (POST /tokens), once."
    )


class MePublic(BaseModel):
    user_id: int = Field(description="Your user id.")
    username: str = Field(description="Your username.")
    role: str = Field(description="Your role.")
    operator: bool = Field(description="Whether your agency is the operator agency.")
    activation: bool = Field(False, description="Whether you act with an activation token (it only makes a token).")
    agency: AgencyPublic = Field(description="Your agency.")


# --- galleries and subjects ------------------------------------------------------------------


class GalleryCreate(BaseModel):
    name: str = text_field("gallery name", "Unique within your agency.")
    source: str = text_field("gallery source", "Where the photos come from, e.g. 'RMV licence photos 2020-2024'.")
    purpose: str = text_field("gallery purpose", "What the gallery may be searched for.")
    index_kind: str = text_field("choice", "auto (default), exact or hnsw.", "auto")
    model_id: str | None = text_field(
        "model id",
        "The template model its templates are made with, for good (GET /models lists them); default "
        "sface-2021dec, the measured best. Changing it later means re-embedding the gallery.",
        None,
    )
    keep_photos: bool | None = Field(
        None,
        description="Keep each subject's enrolment photo and face crop (encrypted) for examiners to compare "
        "candidates with; default: what the policy profile allows (it may forbid it).",
    )


class PhotoSetting(BaseModel):
    keep: bool = Field(
        description="Keep enrolment photos from now on (true), or stop and delete the ones kept (false)."
    )


class GalleryPublic(_Public):
    id: int = Field(description="The gallery's id.")
    name: str = Field(description="Unique within the owning agency.")
    source: str = Field(description="Where the photos come from.")
    purpose: str = Field(description="What the gallery may be searched for.")
    agency_id: int = Field(description="The owning agency.")
    model_id: str = Field(description="The template model every template in this gallery was made with.")
    index_kind: str = Field(description="The vector index: exact or hnsw (auto picks by size).")
    subjects: int = Field(description="Person records in the gallery.")
    templates: int = Field(description="Enrolled templates in the gallery.")
    shared_with: list[int] = Field(description="Agencies that may search it (shown to the owner only).")
    owned: bool = Field(description="False for a gallery another agency shares with yours.")
    keep_photos: bool = Field(description="The gallery's setting: keep enrolment photos.")
    photos_kept: bool = Field(
        description="Whether enrolment keeps photos now (the setting, unless the policy forbids it)."
    )
    photos_note: str = Field(description="What is kept of enrolment photos here, in one sentence.")


class GalleriesPublic(BaseModel):
    data: list[GalleryPublic] = Field(description="Galleries your agency owns or may search.")
    count: int = Field(description="How many are listed.")


class ShareCreate(BaseModel):
    agency_id: int = id_field("The agency that may search the gallery.")


class IndexRebuildPublic(BaseModel):
    gallery_id: int = Field(description="The gallery whose index was rebuilt.")
    templates: int = Field(description="Templates in the rebuilt index.")


class PhotoRef(BaseModel):
    id: int = Field(description="The file's id (GET /files/{id} for its bytes).")
    kind: str = Field(description="enrolment-source (the photo as enrolled) or enrolment-crop (the aligned face).")


class SubjectPublic(_Public):
    id: int = Field(description="The subject's id.")
    gallery_id: int = Field(description="The gallery the subject is in.")
    reference: str = Field(description="The external reference of the person record.")
    sex: str | None = Field(description="Recorded sex, for evaluation and reporting only; null when not recorded.")
    birth_year: int | None = Field(description="Recorded birth year, for evaluation only; null when not recorded.")
    attributes: dict[str, Any] = Field(description="Every recorded attribute (for evaluation and reporting only).")
    templates: int = Field(description="The subject's enrolled templates.")
    photos: list[PhotoRef] = Field(
        description="The enrolment photos kept of the subject (GET /files/{id}); empty for readers who may not "
        "see them, and for subjects enrolled before photos were kept."
    )

    @field_validator("photos", mode="before")
    @classmethod
    def _photo_refs(cls, value: Any) -> Any:
        return [{"id": p[0], "kind": p[1]} if isinstance(p, (tuple, list)) else p for p in value]


class PhotoPublic(_Public):
    id: int = Field(description="The file's id (GET /files/{id} for its bytes).")
    kind: str = Field(description="enrolment-source (the photo as enrolled) or enrolment-crop (the aligned face).")
    sha256: str = Field(description="SHA-256 of the photo's bytes.")
    media_type: str = Field(description="The photo's media type.")
    meta: dict[str, Any] = Field(description="The face's box and landmarks, and the decoded width and height.")
    template_id: int | None = Field(description="The template made from it.")


class PhotosPublic(BaseModel):
    data: list[PhotoPublic] = Field(description="The subject's kept enrolment photos and crops, oldest first.")
    count: int = Field(description="How many.")


class SubjectsPublic(BaseModel):
    data: list[SubjectPublic] = Field(description="Subjects, by id.")
    count: int = Field(description="Subjects on this page.")
    total: int = Field(description="Subjects in the gallery.")
    offset: int = Field(description="Subjects skipped.")
    limit: int = Field(description="Most subjects on a page.")


class SubjectDeletedPublic(BaseModel):
    id: int = Field(description="The deleted subject.")
    templates_deleted: int = Field(description="Templates deleted with it, from the database and the index.")


class EnrolmentPublic(BaseModel):
    """What became of one uploaded photo."""

    gallery_id: int = Field(description="The gallery enrolled into.")
    reference: str = Field(description="The subject's external reference.")
    outcome: Literal["enrolled", "already-enrolled"] = Field(
        description="'enrolled' (a new template) or 'already-enrolled' (the same photo is in the gallery)."
    )
    detail: str = Field("", description="More about the outcome, when there is more to say.")
    template_id: int | None = Field(description="The new template (enrolled only).")
    sha256: str = Field(description="SHA-256 of the uploaded bytes.")
    warnings: list[str] = Field(
        default_factory=list,
        description="What went wrong after the enrolment was committed, e.g. the gallery's index file could not "
        "be written (with its path): the enrolment stands and searches find it; the file is rebuilt from the "
        "database.",
    )


# --- policy ------------------------------------------------------------------------------------


class PolicyUpdate(BaseModel):
    """Activate a policy profile: a shipped one by name, or your own as TOML text (exactly one)."""

    profile: str | None = text_field("choice", "The name of a shipped profile (GET /policy/profiles lists them).", None)
    toml: str | None = text_field("policy text", "A profile as TOML text, validated against the profile schema.", None)
    agency_id: int | None = id_field(
        "The agency whose policy to set; default yours. Only operator admins name another.", None
    )

    @model_validator(mode="after")
    def _one_source(self) -> PolicyUpdate:
        if (self.profile is None) == (self.toml is None):
            raise ValueError("give exactly one of profile (a shipped name) or toml (profile text)")
        return self


class PolicyPublic(BaseModel):
    """The policy profile an agency's searches run under."""

    agency_id: int = Field(description="The agency the policy is for.")
    active: bool = Field(description="False while no profile is active: no request can be submitted or searched.")
    name: str | None = Field(None, description="The active profile's name.")
    profile: dict[str, Any] | None = Field(
        None, description="Every rule of the active profile (the copy stored when it was activated)."
    )
    explanation: list[str] = Field(
        default_factory=list, description="The rules in plain sentences, for supervisors, requesters and the public."
    )
    warnings: list[str] = Field(
        default_factory=list, description="Settings the schema accepts but a reviewer should question."
    )


class PolicyProfileSummary(BaseModel):
    name: str = Field(description="Pass it as `profile` to PUT /policy.")
    title: str = Field(description="One-line title.")
    summary: str = Field(description="What the profile is for and what it rests on.")
    operational: bool = Field(description="False for evaluation-only profiles: no operational search.")


class PolicyProfilesPublic(BaseModel):
    data: list[PolicyProfileSummary] = Field(description="The shipped profiles, by name.")
    count: int = Field(description="How many ship.")


# --- audit -------------------------------------------------------------------------------------


class AuditEventPublic(BaseModel):
    """One hash-chained audit event, exactly as exported and hashed."""

    seq: int = Field(description="Position in the chain, from 1.")
    time: str = Field(description="UTC, microseconds, a trailing Z (the hashed form).")
    actor_id: int | None = Field(description="The acting user; null for the system (scheduled jobs).")
    actor: str = Field(description="The acting user's name, or 'system'.")
    agency_id: int | None = Field(description="The agency whose trail the event belongs to.")
    action: str = Field(description="e.g. request.filed, search.run, search.denied, request.purged.")
    object_type: str = Field(description="What kind of object the event is about, e.g. request.")
    object_id: str = Field(description="The object's id, as text.")
    details: dict[str, Any] = Field(description="Ids, hashes, counts, reasons; never biometric data.")
    prev_hash: str = Field(description="The previous event's hash (64 zeros for the first).")
    hash: str = Field(description="SHA-256 of the canonical JSON of the event's fields and prev_hash.")


class AuditEventsPublic(BaseModel):
    data: list[AuditEventPublic] = Field(description="Newest first.")
    count: int = Field(description="How many are listed.")


class AuditVerificationPublic(BaseModel):
    """The outcome of walking the whole chain and comparing its end with the recorded head."""

    ok: bool = Field(description="True when every event and link checks out and the chain ends at the recorded head.")
    events: int = Field(description="Events walked.")
    head_seq: int = Field(description="The last good sequence number.")
    head_hash: str = Field(description="The last good hash.")
    broken_at: int | None = Field(description="The sequence number where the chain first breaks; null when ok.")
    reason: str = Field(description="How it breaks: edited, missing, inserted or reordered, or a dropped tail.")
    recorded: bool | None = Field(
        None, description="Whether the check itself was recorded (false when the database cannot be written)."
    )


__all__ = ["AUTHENTICATED", "WITH_BODY", "WITH_ID", "ErrorPublic", "error_responses"]  # re-exported for the routes
