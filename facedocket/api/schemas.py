"""Request and response bodies, in families: ``XCreate`` (what a client sends), ``XPublic``
(what the API answers with), ``XsPublic`` (a list of them with its count).

Response models are built from the service's frozen dataclasses (``from_attributes``); the
rules behind each field live in the service, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

LEAD = "investigative lead — not a positive identification"
COMPARISON = "1:1 comparison result at the stated threshold — not a positive identification"


def _as_utc(value: datetime) -> datetime:
    """Times are UTC; SQLite hands them back without a zone, so say so."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- errors and health -----------------------------------------------------------------------


class ErrorPublic(BaseModel):
    """The one error shape of the API."""

    ok: Literal[False] = False
    error: str = Field(description="One line: what went wrong and what to do next.")
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="Details, e.g. each validation error; may be empty."
    )
    status: int = Field(description="The HTTP status, repeated.")


class HealthPublic(BaseModel):
    ok: bool = True
    version: str


# --- agencies, users, tokens -----------------------------------------------------------------


class AgencyCreate(BaseModel):
    name: str = Field(description="Agency name, 1 to 120 characters, unique.")
    admin_username: str = Field(description="Username of the agency's first admin.")


class AgencyPublic(_Public):
    id: int
    name: str
    operator: bool = Field(description="True for the operator agency, whose admins create agencies.")


class AgenciesPublic(BaseModel):
    data: list[AgencyPublic]
    count: int


class TokenCreate(BaseModel):
    name: str = Field("", description="A label for the token, e.g. the machine that uses it.")
    user_id: int | None = Field(None, description="Whose token; default yourself. Admins may name a user.")


class TokenPublic(_Public):
    id: int
    user_id: int
    username: str
    secret: str = Field(description="The bearer token. Shown this once; only its hash is stored.")


class AgencyCreatedPublic(BaseModel):
    agency: AgencyPublic
    token: TokenPublic = Field(description="The first admin's token (shown once).")


class UserCreate(BaseModel):
    username: str = Field(description="Unique username, 1 to 120 characters.")
    role: str = Field(description="One of requester, examiner, supervisor, auditor, admin.")


class UserPublic(_Public):
    id: int
    username: str
    agency_id: int
    role: str
    active: bool


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int


class UserCreatedPublic(BaseModel):
    user: UserPublic
    token: TokenPublic = Field(description="The new user's first token (shown once).")


class MePublic(BaseModel):
    user_id: int
    username: str
    role: str
    operator: bool = Field(description="Whether your agency is the operator agency.")
    agency: AgencyPublic


# --- galleries and subjects ------------------------------------------------------------------


class GalleryCreate(BaseModel):
    name: str = Field(description="Unique within your agency.")
    source: str = Field(description="Where the photos come from, e.g. 'RMV licence photos 2020-2024'.")
    purpose: str = Field(description="What the gallery may be searched for.")
    index_kind: str = Field("auto", description="auto (default), exact or hnsw.")


class GalleryPublic(_Public):
    id: int
    name: str
    source: str
    purpose: str
    agency_id: int = Field(description="The owning agency.")
    model_id: str = Field(description="The template model every template in this gallery was made with.")
    index_kind: str
    subjects: int
    templates: int
    shared_with: list[int] = Field(description="Agencies that may search it (shown to the owner only).")
    owned: bool = Field(description="False for a gallery another agency shares with yours.")


class GalleriesPublic(BaseModel):
    data: list[GalleryPublic]
    count: int


class ShareCreate(BaseModel):
    agency_id: int = Field(description="The agency that may search the gallery.")


class IndexRebuildPublic(BaseModel):
    gallery_id: int
    templates: int = Field(description="Templates in the rebuilt index.")


class SubjectPublic(_Public):
    id: int
    gallery_id: int
    reference: str = Field(description="The external reference of the person record.")
    sex: str | None
    birth_year: int | None
    attributes: dict[str, Any]
    templates: int


class SubjectsPublic(BaseModel):
    data: list[SubjectPublic]
    count: int = Field(description="Subjects on this page.")
    total: int = Field(description="Subjects in the gallery.")
    offset: int
    limit: int


class SubjectDeletedPublic(BaseModel):
    id: int
    templates_deleted: int


class EnrolmentPublic(BaseModel):
    """What became of one uploaded photo."""

    gallery_id: int
    reference: str
    outcome: Literal["enrolled", "already-enrolled"]
    detail: str = ""
    template_id: int | None = Field(description="The new template (enrolled only).")
    sha256: str = Field(description="SHA-256 of the uploaded bytes.")


# --- searches and verifications --------------------------------------------------------------


class CandidatePublic(_Public):
    rank: int
    subject_id: int | None = Field(description="Null once the subject has been deleted.")
    subject_reference: str | None
    gallery_id: int
    template_id: int
    score: float


class SearchPublic(_Public):
    id: int
    request_id: int
    kind: Literal["search", "verify"]
    agency_id: int
    case_number: str
    legal_basis: str
    probe_sha256: str
    probe_quality: float
    galleries: list[int]
    gallery_size: int = Field(description="Templates searched.")
    model_id: str
    threshold: float = Field(description="Candidates scored at least this.")
    k: int = Field(description="At most this many candidates.")
    duration_ms: float
    created: UtcDatetime
    candidates: list[CandidatePublic] = Field(
        description="Ranked, best first; empty means no candidate reached the threshold."
    )
    subject_id: int | None = Field(None, description="The compared subject (verifications only).")
    label: str = Field(LEAD, description="What a candidate list is, and is not.")


class SearchesPublic(BaseModel):
    data: list[SearchPublic]
    count: int


class VerificationPublic(BaseModel):
    """A 1:1 comparison of a probe with one subject's templates."""

    id: int = Field(description="The recorded search (kind 'verify'); GET /searches/{id} shows it.")
    request_id: int
    subject_id: int
    case_number: str
    legal_basis: str
    probe_sha256: str
    probe_quality: float
    model_id: str
    threshold: float
    score: float | None = Field(
        description="The best score against the subject's templates (null only if the subject has none)."
    )
    template_id: int | None = Field(description="The subject's best-scoring template, when it reached the threshold.")
    decision: Literal["same", "different"] = Field(
        description="'same': the score reached the threshold; 'different': it did not. A comparison "
        "result at this threshold for human review, not an identification."
    )
    label: str = COMPARISON
    duration_ms: float
    created: UtcDatetime


# --- documented error responses ----------------------------------------------------------------

_ERROR_DESCRIPTIONS = {
    400: "Invalid input (e.g. bytes that are not an image, an empty upload).",
    401: "Missing, unknown or revoked token.",
    403: "Your role (or your agency) does not allow this.",
    404: "Unknown id, or a record of another agency.",
    409: "Clashes with what exists (a duplicate name, say).",
    413: "Upload over the size limit.",
    422: "Validation failed (a missing field, no usable face, an incomplete written request).",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all in the error shape."""
    return {code: {"model": ErrorPublic, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}
