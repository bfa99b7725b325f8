"""Bodies of the case, request, search and review routes, in the families of
:mod:`facedocket.api.schemas`: ``XCreate`` in, ``XPublic`` out, built from the service's
frozen dataclasses."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from facedocket.api.schemas import FiniteScore, Id, UtcDatetime, _Public, id_field, text_field
from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL
from facedocket.vocab import APPROVALS, OFFENCE_CATEGORIES, PROBE_SOURCES, REQUEST_STATES, TEXT_LIMITS

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
    label: str = Field(LEAD_LABEL, description="What a candidate is, and is not.")


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
    label: str = Field(LEAD_LABEL, description="What a candidate list is, and is not.")


class SearchesPublic(BaseModel):
    data: list[SearchPublic] = Field(description="Searches, in the order stated.")
    count: int = Field(description="How many are listed.")
