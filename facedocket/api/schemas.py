"""Request and response bodies, in families: ``XCreate`` (what a client sends), ``XPublic``
(what the API answers with), ``XsPublic`` (a list of them with its count).

Response models are built from the service's frozen dataclasses (``from_attributes``); the
rules behind each field live in the service, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from facedocket.api.responses import AUTHENTICATED, WITH_BODY, WITH_ID, ErrorPublic, error_responses
from facedocket.service.inputs import MAX_ID
from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL
from facedocket.vocab import APPROVALS, OFFENCE_CATEGORIES, PROBE_SOURCES, REQUEST_STATES, TEXT_LIMITS

LEAD = LEAD_LABEL


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


# --- cases -------------------------------------------------------------------------------------


class CaseCreate(BaseModel):
    number: str = text_field("case number", "The case number, unique within your agency.")
    offence_category: str = text_field("choice", f"One of: {', '.join(OFFENCE_CATEGORIES)}.")
    description: str = text_field("description", "What the investigation is about.", "")


class CasePublic(_Public):
    id: int = Field(description="The case's id (requests name it).")
    agency_id: int = Field(description="The agency the case belongs to.")
    number: str = Field(description="The case number, unique within the agency.")
    offence_category: str = Field(description="The offence category policies and reports count by.")
    description: str = Field(description="What the investigation is about.")
    created: UtcDatetime = Field(description="When the case was opened (UTC).")


class CasesPublic(BaseModel):
    data: list[CasePublic] = Field(description="Your agency's cases, oldest first.")
    count: int = Field(description="How many are listed.")


# --- requests ----------------------------------------------------------------------------------


class DocumentPublic(BaseModel):
    """The document the legal basis rests on (a court order, a warrant); empty strings when none."""

    type: str = Field(description="e.g. 'court order', 'search warrant'.")
    reference: str = Field(description="The document's number or docket reference.")
    issuer: str = Field(description="Who issued it, e.g. the court.")
    date: str = Field(description="When it was issued, YYYY-MM-DD.")
    sha256: str = Field(description="SHA-256 of the document file, when recorded.")


class RequestPublic(_Public):
    """A written request to search, as your agency may see it."""

    id: int = Field(description="The request's id.")
    agency_id: int = Field(description="The agency that filed the request.")
    target_agency_id: int = Field(description="The agency whose face-search unit approves and searches it.")
    case_id: int = Field(description="The case it is filed under (the filing agency's).")
    case_number: str = Field(description="The case's number.")
    offence_category: str = Field(description="The case's offence category.")
    requester_id: int = Field(description="The user who filed it.")
    legal_basis: str = Field(description="The legal basis cited.")
    document: DocumentPublic = Field(description="The document the legal basis rests on.")
    justification: str = Field(description="Why the search is needed, as filed.")
    galleries: list[int] = Field(description="Galleries named for the search (shown to the receiving agency only).")
    probe_source: str = Field(description=f"Where the probe comes from: {', '.join(PROBE_SOURCES)}.")
    probe_sha256: str = Field(description="SHA-256 of the probe photo as filed (kept after a purge).")
    status: str = Field(description=f"One of: {', '.join(REQUEST_STATES)}.")
    approval: str = Field(description=f"One of: {', '.join(APPROVALS)}.")
    emergency: bool = Field(description="Filed on an emergency basis: searchable before approval, until a deadline.")
    deadline: UtcDatetime | None = Field(
        description="An emergency request's approval deadline; unmet, the request expires and is purged."
    )
    decided_by: int | None = Field(description="The supervisor who approved or denied it.")
    decided: UtcDatetime | None = Field(description="When it was approved or denied (UTC).")
    decision_reason: str = Field(description="The supervisor's reason for the decision.")
    outcome: str | None = Field(description="After review: 'lead' or 'no-lead'.")
    policy_name: str = Field(description="The receiving agency's profile when the request was submitted.")
    submitted: UtcDatetime | None = Field(description="When it was submitted (UTC).")
    searched: UtcDatetime | None = Field(description="When it was first searched (UTC).")
    closed: UtcDatetime | None = Field(description="When it was closed (UTC).")
    purged: UtcDatetime | None = Field(description="When the probe and candidates were purged (denial or expiry).")
    created: UtcDatetime = Field(description="When it was filed (UTC).")
    searches: list[int] = Field(description="Searches made under it (shown to the receiving agency only).")
    can_see_results: bool = Field(
        description="True for the receiving agency; the requesting agency sees released candidates only."
    )
    requester: str = Field(description="The username of the requester.")
    decided_by_name: str = Field(description="The username of the supervisor who decided it; empty before.")
    agency_name: str = Field(description="The filing agency's name.")
    target_agency_name: str = Field(description="The receiving agency's name.")
    probe_face: int | None = Field(description="The face of the probe chosen at filing (1-based), which searches use.")
    probe_quality: float | None = Field(description="The chosen face's quality, measured at filing.")
    document_file_id: int | None = Field(
        description="The legal basis's document as filed (GET /files/{id}); null when none."
    )


class RequestsPublic(BaseModel):
    data: list[RequestPublic] = Field(description="Requests, newest first.")
    count: int = Field(description="How many are listed.")


class DecisionCreate(BaseModel):
    reason: str = text_field("reason", "Why the request is approved or denied (required).")


class SearchCreate(BaseModel):
    """What a search asks for; everything defaults to the request and the policy."""

    galleries: list[Id] | None = Field(
        None,
        max_length=1000,
        description="Gallery ids to search; default the request's. The receiving agency's own or shared ones.",
    )
    k: int | None = Field(
        None, ge=1, le=1000, description="At most this many candidates (default from settings; the policy caps it)."
    )
    threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description="Minimum score, -1 to 1, for galleries of one template model (default: the agency's "
        "calibration, else the model card's; the policy sets a floor).",
    )
    thresholds: dict[Annotated[str, StringConstraints(max_length=TEXT_LIMITS["model id"])], FiniteScore] | None = Field(
        None,
        max_length=20,
        description="Minimum score per template model id, for galleries of several models (scores of two "
        "models are on different scales); a model not named gets its default. Give this or threshold, not both.",
    )
    face: int | None = Field(None, ge=1, le=1000, description="Which face of the probe, 1-based, when it has several.")

    @model_validator(mode="after")
    def _one_threshold(self) -> SearchCreate:
        if self.threshold is not None and self.thresholds is not None:
            raise ValueError("give threshold or thresholds, not both")
        return self


class VerificationCreate(BaseModel):
    subject_id: int = id_field("The subject to compare the request's probe with (its best template decides).")
    threshold: float | None = Field(
        None, ge=-1.0, le=1.0, allow_inf_nan=False, description="Minimum score, -1 to 1 (default: the model's)."
    )
    face: int | None = Field(None, ge=1, le=1000, description="Which face of the probe, 1-based, when it has several.")


class ReviewCreate(BaseModel):
    disposition: Literal["possible-match", "not-a-match", "inconclusive"] = Field(
        description="The reviewer's decision on this candidate."
    )
    rationale: str = text_field("rationale", "Why (required): the features compared, what differs, the probe's limits.")


class ReviewPublic(_Public):
    id: int = Field(description="The review's id.")
    candidate_id: int = Field(description="The candidate decided.")
    reviewer_id: int = Field(description="The reviewer's user id.")
    reviewer: str = Field(description="The reviewer's username.")
    stage: Literal["first", "second", "resolution"] = Field(
        description="'first', 'second' (two-person rule) or 'resolution' (a supervisor settles a disagreement)."
    )
    disposition: str = Field(description="possible-match, not-a-match or inconclusive.")
    rationale: str = Field(description="The reviewer's reasons.")
    created: UtcDatetime = Field(description="When the review was recorded (UTC).")


class ReviewsPublic(BaseModel):
    data: list[ReviewPublic] = Field(
        description="Under a two-person rule a reviewer sees others' decisions on a candidate only once both are in."
    )
    count: int = Field(description="How many are shown.")


class ConcludeCreate(BaseModel):
    release: list[Id] | None = Field(
        None,
        max_length=10_000,
        description="Candidate ids released to the requesting agency; default the candidates decided "
        "'possible-match'. [] releases none.",
    )


# --- searches ----------------------------------------------------------------------------------


class CandidatePublic(_Public):
    id: int = Field(description="Reviews and releases name the candidate by this id.")
    rank: int = Field(description="1 for the best score.")
    subject_id: int | None = Field(
        description="Null once the subject has been deleted, and for the requesting agency of a cross-agency request."
    )
    subject_reference: str | None = Field(
        description="The subject's external reference; null once the subject is deleted."
    )
    gallery_id: int | None = Field(description="Null for the requesting agency of a cross-agency request.")
    template_id: int | None = Field(description="Null for the requesting agency of a cross-agency request.")
    score: float = Field(
        description="Cosine similarity of the probe and the subject's best template (higher is closer)."
    )
    expected_false: float | None = Field(
        description="False candidates a gallery of this size is expected to yield at this score or above "
        "(gallery size x false-match rate); null when the model card has no calibration table."
    )
    released: bool = Field(description="Released to the requesting agency after review.")
    model_id: str = Field("", description="The template model whose score this is (the gallery's model).")
    label: str = Field(LEAD, description="What a candidate is, and is not.")


class SearchModelPublic(_Public):
    model_id: str = Field(description="A template model searched.")
    threshold: float = Field(description="Its candidates scored at least this (scores are on each model's scale).")
    galleries: list[int] = Field(description="Its galleries searched (shown to the receiving agency only).")
    gallery_size: int = Field(description="Its templates compared.")
    probe_quality: float = Field(description="The probe face's quality as this model rates it, 0 to 1.")


class SearchPublic(_Public):
    id: int = Field(description="The search's id.")
    request_id: int = Field(description="The request it was made under.")
    kind: Literal["search", "verify"] = Field(description="'search' (1:N) or 'verify' (1:1 with one subject).")
    agency_id: int = Field(description="The agency that ran it (the request's receiving agency).")
    case_number: str = Field(description="The request's case number.")
    legal_basis: str = Field(description="The request's legal basis.")
    probe_sha256: str = Field(description="SHA-256 of the probe photo searched.")
    probe_quality: float = Field(description="Quality score of the probe's face, 0 to 1.")
    galleries: list[int] = Field(description="Galleries searched (shown to the receiving agency only).")
    gallery_size: int = Field(description="Templates searched.")
    model_id: str = Field(description="The template model of the first gallery searched (models: each one).")
    threshold: float = Field(description="Candidates of that model scored at least this.")
    k: int = Field(description="At most this many candidates.")
    duration_ms: float = Field(description="How long the comparison took, in milliseconds.")
    created: UtcDatetime = Field(description="When it ran (UTC).")
    candidates: list[CandidatePublic] = Field(
        description="Ranked, best first; empty means no candidate reached the threshold. The requesting "
        "agency of a cross-agency request sees only the candidates released to it."
    )
    summary: str = Field(description=f"'{EMPTY_LABEL}' for an empty list, else how many candidates and what they are.")
    subject_id: int | None = Field(None, description="The compared subject (verifications only).")
    best_score: float | None = Field(None, description="A verification's best score, above the threshold or not.")
    purged: bool = Field(False, description="The request was purged: its candidates are gone.")
    models: list[SearchModelPublic] = Field(
        default_factory=list,
        description="Each template model searched: the probe is embedded once per model and compared only with "
        "templates of that model, at that model's threshold. Candidates of several models are ranked by the "
        "false-match rate each model's calibration gives their score.",
    )
    label: str = Field(LEAD, description="What a candidate list is, and is not.")


class SearchesPublic(BaseModel):
    data: list[SearchPublic] = Field(description="Searches, in the order stated.")
    count: int = Field(description="How many are listed.")


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
