"""Request and response bodies, in families: ``XCreate`` (what a client sends), ``XPublic``
(what the API answers with), ``XsPublic`` (a list of them with its count).

Response models are built from the service's frozen dataclasses (``from_attributes``); the
rules behind each field live in the service, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL
from facedocket.vocab import APPROVALS, OFFENCE_CATEGORIES, PROBE_SOURCES, REQUEST_STATES

LEAD = LEAD_LABEL


def _as_utc(value: datetime) -> datetime:
    """Times are UTC; SQLite hands them back without a zone, so say so."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- errors and health -----------------------------------------------------------------------


class ErrorPublic(BaseModel):
    """The one error shape of the API."""

    ok: Literal[False] = Field(False, description="Always false for an error.")
    error: str = Field(description="One line: what went wrong and what to do next.")
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="Details, e.g. each validation error; may be empty."
    )
    status: int = Field(description="The HTTP status, repeated.")


class HealthPublic(BaseModel):
    ok: bool = Field(True, description="True when the API answers.")
    version: str = Field(description="The FaceDocket version.")


# --- agencies, users, tokens -----------------------------------------------------------------


class AgencyCreate(BaseModel):
    name: str = Field(description="Agency name, 1 to 120 characters, unique.")
    admin_username: str = Field(description="Username of the agency's first admin.")


class AgencyPublic(_Public):
    id: int = Field(description="The agency's id.")
    name: str = Field(description="The agency's name.")
    operator: bool = Field(description="True for the operator agency, whose admins create agencies.")


class AgenciesPublic(BaseModel):
    data: list[AgencyPublic] = Field(description="The agencies you may see.")
    count: int = Field(description="How many are listed.")


class TokenCreate(BaseModel):
    name: str = Field("", max_length=120, description="A label for the token, e.g. the machine that uses it.")
    user_id: int | None = Field(
        None, description="Whose token: only yourself (anyone else's is refused with 403). Leave it out."
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
    username: str = Field(description="Unique username, 1 to 120 characters.")
    role: str = Field(description="One of requester, examiner, supervisor, auditor, admin.")


class UserPublic(_Public):
    id: int = Field(description="The user's id.")
    username: str = Field(description="Unique username.")
    agency_id: int = Field(description="The user's agency.")
    role: str = Field(description="requester, examiner, supervisor, auditor or admin.")
    active: bool = Field(description="False once deactivated: the user's tokens stop working.")


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
    name: str = Field(description="Unique within your agency.")
    source: str = Field(description="Where the photos come from, e.g. 'RMV licence photos 2020-2024'.")
    purpose: str = Field(description="What the gallery may be searched for.")
    index_kind: str = Field("auto", description="auto (default), exact or hnsw.")
    model_id: str | None = Field(
        None,
        description="The template model its templates are made with, for good (GET /models lists them); default "
        "sface-2021dec, the measured best. Changing it later means re-embedding the gallery.",
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


class GalleriesPublic(BaseModel):
    data: list[GalleryPublic] = Field(description="Galleries your agency owns or may search.")
    count: int = Field(description="How many are listed.")


class ShareCreate(BaseModel):
    agency_id: int = Field(description="The agency that may search the gallery.")


class IndexRebuildPublic(BaseModel):
    gallery_id: int = Field(description="The gallery whose index was rebuilt.")
    templates: int = Field(description="Templates in the rebuilt index.")


class SubjectPublic(_Public):
    id: int = Field(description="The subject's id.")
    gallery_id: int = Field(description="The gallery the subject is in.")
    reference: str = Field(description="The external reference of the person record.")
    sex: str | None = Field(description="Recorded sex, for evaluation and reporting only; null when not recorded.")
    birth_year: int | None = Field(description="Recorded birth year, for evaluation only; null when not recorded.")
    attributes: dict[str, Any] = Field(description="Every recorded attribute (for evaluation and reporting only).")
    templates: int = Field(description="The subject's enrolled templates.")


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


# --- policy ------------------------------------------------------------------------------------


class PolicyUpdate(BaseModel):
    """Activate a policy profile: a shipped one by name, or your own as TOML text (exactly one)."""

    profile: str | None = Field(None, description="The name of a shipped profile (GET /policy/profiles lists them).")
    toml: str | None = Field(
        None, max_length=200_000, description="A profile as TOML text, validated against the profile schema."
    )
    agency_id: int | None = Field(
        None, description="The agency whose policy to set; default yours. Only operator admins name another."
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
    number: str = Field(description="The case number, unique within your agency (up to 120 characters).")
    offence_category: str = Field(description=f"One of: {', '.join(OFFENCE_CATEGORIES)}.")
    description: str = Field("", description="What the investigation is about (up to 5,000 characters).")


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


class RequestsPublic(BaseModel):
    data: list[RequestPublic] = Field(description="Requests, newest first.")
    count: int = Field(description="How many are listed.")


class DecisionCreate(BaseModel):
    reason: str = Field(description="Why the request is approved or denied (required, up to 5,000 characters).")


class SearchCreate(BaseModel):
    """What a search asks for; everything defaults to the request and the policy."""

    galleries: list[int] | None = Field(
        None, description="Gallery ids to search; default the request's. The receiving agency's own or shared ones."
    )
    k: int | None = Field(None, description="At most this many candidates (default from settings; the policy caps it).")
    threshold: float | None = Field(
        None,
        description="Minimum score, for galleries of one template model (default: the agency's calibration, else "
        "the model card's; the policy sets a floor).",
    )
    thresholds: dict[str, float] | None = Field(
        None,
        description="Minimum score per template model id, for galleries of several models (scores of two models "
        "are on different scales); a model not named gets its default. Give this or threshold, not both.",
    )
    face: int | None = Field(None, description="Which face of the probe, 1-based, when it has several.")

    @model_validator(mode="after")
    def _one_threshold(self) -> SearchCreate:
        if self.threshold is not None and self.thresholds is not None:
            raise ValueError("give threshold or thresholds, not both")
        return self


class VerificationCreate(BaseModel):
    subject_id: int = Field(description="The subject to compare the request's probe with (its best template decides).")
    threshold: float | None = Field(None, description="Minimum score for a candidate (default: the model's).")
    face: int | None = Field(None, description="Which face of the probe, 1-based, when it has several.")


class ReviewCreate(BaseModel):
    disposition: Literal["possible-match", "not-a-match", "inconclusive"] = Field(
        description="The reviewer's decision on this candidate."
    )
    rationale: str = Field(description="Why (required): the features compared, what differs, the probe's limits.")


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
    release: list[int] | None = Field(
        None,
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


# --- documented error responses ----------------------------------------------------------------

_ERROR_DESCRIPTIONS = {
    400: "Invalid input (e.g. bytes that are not an image, an empty upload).",
    401: "Missing, unknown or revoked token.",
    403: "Your role (or your agency) does not allow this, or the policy refuses it: `errors` names "
    'every failed rule (`{"rule": ..., "msg": ..., "type": "policy"}`).',
    404: "Unknown id, or a record of another agency.",
    409: "Clashes with what exists or with the request's state (a duplicate name, an undecided candidate).",
    413: "Upload over the size limit.",
    422: "Validation failed (a missing or ill-typed field, no usable face in the probe).",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all in the error shape."""
    return {code: {"model": ErrorPublic, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}
