"""Cases, written requests, approvals, the policy gate, review and the emergency purge.

A request is filed by a requester of one agency and addressed to a face-search unit: its
own agency or another one (``target_agency_id``). The target agency's supervisor approves
or denies it, its examiner searches its own galleries under it, and its examiners review
the candidates. The requesting agency sees the status, the outcome and only the candidates
the target agency releases — never its galleries.

States: draft → submitted → approved | denied → searched → reviewed → closed. On the
emergency path (a legal basis the policy lists in ``emergency_bases``) the search runs while
approval is pending and starts the policy's deadline; a denial, or a deadline that passes
without approval (state ``expired``), purges the probe, the candidates and the templates
they exposed from the request, and records the purge.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyDenied
from facedocket.policy.schema import (
    LEGAL_BASES,
    OFFENCE_CATEGORIES,
    PROBE_SOURCES,
    PolicyProfile,
    load_profile,
    parse_profile,
    profile_from_dict,
)
from facedocket.service.audit import AuditMixin
from facedocket.service.base import Actor
from facedocket.store.tables import (
    DISPOSITIONS,
    Agency,
    Candidate,
    Case,
    Request,
    Review,
    Search,
    StoredImage,
    User,
)

FILERS = ("requester", "examiner", "supervisor")
SEARCHERS = ("examiner", "supervisor")
REVIEWERS = ("examiner", "supervisor")
DECIDERS = ("supervisor",)
READERS = ("requester", "examiner", "supervisor", "auditor", "admin")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CaseInfo:
    id: int
    agency_id: int
    number: str
    offence_category: str
    description: str
    created: datetime


@dataclass(frozen=True)
class RequestDraft:
    """A written request as filed (see the module docstring)."""

    case_id: int
    legal_basis: str
    justification: str
    document_type: str = ""
    document_reference: str = ""
    document_issuer: str = ""
    document_date: str = ""
    document_sha256: str = ""
    galleries: list[int] = field(default_factory=list)
    probe_source: str = "still-image"
    target_agency_id: int | None = None


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    candidate_id: int
    reviewer_id: int
    reviewer: str
    stage: str
    disposition: str
    rationale: str
    created: datetime


@dataclass(frozen=True)
class RequestInfo:
    id: int
    agency_id: int
    target_agency_id: int
    case_id: int
    case_number: str
    offence_category: str
    requester_id: int
    legal_basis: str
    document: dict[str, str]
    justification: str
    galleries: list[int]
    probe_source: str
    probe_sha256: str
    status: str
    approval: str
    emergency: bool
    deadline: datetime | None
    decided_by: int | None
    decided: datetime | None
    decision_reason: str
    outcome: str | None
    policy_name: str
    submitted: datetime | None
    searched: datetime | None
    closed: datetime | None
    purged: datetime | None
    created: datetime
    searches: list[int]
    can_see_results: bool


def _text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    return value


def _case_info(case: Case) -> CaseInfo:
    return CaseInfo(case.id, case.agency_id, case.number, case.offence_category, case.description, case.created)


class RequestsMixin(AuditMixin):
    # --- policy -------------------------------------------------------------------------

    def activate_policy(self, actor: Actor, name_or_path: str, agency_id: int | None = None) -> PolicyProfile:
        """Make a profile (shipped name or file) the one active for an agency: the admin's own,
        or (operator admins) any agency. The profile is copied into the database, so later
        edits to the file change nothing until it is activated again."""
        actor.require("admin")
        profile = load_profile(name_or_path)
        return self._set_policy(actor, profile, agency_id)

    def activate_policy_text(self, actor: Actor, text: str, agency_id: int | None = None) -> PolicyProfile:
        """Like :meth:`activate_policy`, from TOML text (an upload)."""
        actor.require("admin")
        return self._set_policy(actor, parse_profile(text, "the uploaded profile"), agency_id)

    def _set_policy(self, actor: Actor, profile: PolicyProfile, agency_id: int | None) -> PolicyProfile:
        target = actor.agency_id if agency_id is None else agency_id
        if target != actor.agency_id and not actor.operator:
            raise Forbidden("only admins of the operator agency set another agency's policy")
        with self.transaction() as session:
            agency = self._agency(session, target)
            previous = agency.policy_name
            agency.policy_name = profile.name
            agency.policy = profile.model_dump(mode="json")
            self._audit(session, actor, "policy.activated", "agency", agency.id,
                        {"profile": profile.name, "previous": previous}, agency_id=agency.id)  # fmt: skip
        return profile

    def active_policy(self, actor: Actor, agency_id: int | None = None) -> PolicyProfile | None:
        """The profile active for the actor's agency (or, for operator admins, another)."""
        target = actor.agency_id if agency_id is None else agency_id
        if target != actor.agency_id and not (actor.operator and actor.role in ("admin", "auditor")):
            raise NotFound(f"no agency {target}")
        with self.sessions() as session:
            return self._policy_of(session, target)

    @staticmethod
    def _policy_of(session: Session, agency_id: int) -> PolicyProfile | None:
        agency = session.get(Agency, agency_id)
        if agency is None or not agency.policy:
            return None
        return profile_from_dict(agency.policy)

    # --- cases --------------------------------------------------------------------------

    def create_case(self, actor: Actor, number: str, offence_category: str, description: str = "") -> CaseInfo:
        actor.require(*FILERS)
        number = _text(number, "case number", 120)
        if not number:
            raise InvalidInput("a case needs a number")
        if offence_category not in OFFENCE_CATEGORIES:
            raise InvalidInput(f"offence category must be one of: {', '.join(OFFENCE_CATEGORIES)}")
        with self.transaction() as session:
            case = Case(agency_id=actor.agency_id, number=number, offence_category=offence_category,
                        description=_text(description, "description", 5000), created_by=actor.user_id,
                        created=self.clock())  # fmt: skip
            session.add(case)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"case {number!r} exists in your agency") from None
            self._audit(session, actor, "case.created", "case", case.id,
                        {"number": number, "offence_category": offence_category})  # fmt: skip
            return _case_info(case)

    def list_cases(self, actor: Actor) -> list[CaseInfo]:
        actor.require(*READERS)
        with self.sessions() as session:
            rows = session.scalars(select(Case).where(Case.agency_id == actor.agency_id).order_by(Case.id))
            return [_case_info(c) for c in rows]

    def get_case(self, actor: Actor, case_id: int) -> CaseInfo:
        actor.require(*READERS)
        with self.sessions() as session:
            case = session.get(Case, case_id)
            if case is None or case.agency_id != actor.agency_id:
                raise NotFound(f"no case {case_id} in your agency")
            return _case_info(case)

    # --- filing -------------------------------------------------------------------------

    def file_request(self, actor: Actor, draft: RequestDraft, probe: bytes, submit: bool = False) -> RequestInfo:
        """File a written request with its probe photo (stored in the database). ``submit``
        also submits it. The probe must be an image this system can read."""
        actor.require(*FILERS)
        if draft.legal_basis not in LEGAL_BASES:
            raise InvalidInput(f"legal basis must be one of: {', '.join(LEGAL_BASES)}")
        if draft.probe_source not in PROBE_SOURCES:
            raise InvalidInput(f"probe source must be one of: {', '.join(PROBE_SOURCES)}")
        if draft.document_date:
            try:
                date.fromisoformat(draft.document_date)
            except ValueError:
                raise InvalidInput("document date must be YYYY-MM-DD") from None
        if draft.document_sha256 and not SHA256.match(draft.document_sha256.lower()):
            raise InvalidInput("document SHA-256 must be 64 hex digits")
        if not _text(draft.justification, "justification", 10_000):
            raise InvalidInput("a request needs a justification: why this search is needed")
        self.pipeline.load(probe)  # refuses what is not a safe, decodable image
        digest = hashlib.sha256(probe).hexdigest()
        try:
            return self._file(actor, draft, probe, digest, submit)
        except _Refused as refused:  # nothing was filed: record the refusal on the case
            with self.transaction() as session:
                self._audit(session, actor, "request.refused", "case", draft.case_id,
                            {"failed": [rule for rule, _ in refused.failures]})  # fmt: skip
            raise PolicyDenied(refused.failures) from None

    def _file(self, actor: Actor, draft: RequestDraft, probe: bytes, digest: str, submit: bool) -> RequestInfo:
        with self.transaction() as session:
            case = session.get(Case, draft.case_id)
            if case is None or case.agency_id != actor.agency_id:
                raise NotFound(f"no case {draft.case_id} in your agency; create the case first")
            target = actor.agency_id if draft.target_agency_id is None else int(draft.target_agency_id)
            self._agency(session, target)
            galleries = [int(g) for g in dict.fromkeys(draft.galleries)]
            if target == actor.agency_id:
                for gallery_id in galleries:
                    self._usable_gallery(session, actor, gallery_id)
            elif galleries:
                raise InvalidInput("a request to another agency names no galleries: its examiner chooses them")
            image = StoredImage(agency_id=actor.agency_id, kind="probe", sha256=digest, data=probe,
                                created=self.clock())  # fmt: skip
            session.add(image)
            session.flush()
            row = Request(
                agency_id=actor.agency_id, target_agency_id=target, case_id=case.id, requester_id=actor.user_id,
                legal_basis=draft.legal_basis, document_type=_text(draft.document_type, "document type", 120),
                document_reference=_text(draft.document_reference, "document reference", 200),
                document_issuer=_text(draft.document_issuer, "document issuer", 200),
                document_date=draft.document_date, document_sha256=draft.document_sha256.lower(),
                justification=draft.justification.strip(), galleries=galleries, probe_source=draft.probe_source,
                probe_sha256=digest, probe_image_id=image.id, status="draft", approval="pending",
                created=self.clock(),
            )  # fmt: skip
            session.add(row)
            session.flush()
            details = {"case": case.number, "legal_basis": row.legal_basis, "target_agency_id": target,
                       "probe_sha256": digest}  # fmt: skip
            self._audit_both(session, actor, "request.filed", row, details)
            if submit:
                self._submit(session, actor, row)
            return self._request_info(session, actor, row)

    def submit_request(self, actor: Actor, request_id: int) -> RequestInfo:
        """Submit a draft to the target agency for approval (and, on an emergency basis, search).
        A request the receiving agency's policy refuses stays a draft; the refusal is recorded."""
        try:
            with self.transaction() as session:
                row = self._request_for(session, actor, request_id, write=True)
                if row.requester_id != actor.user_id:
                    raise Forbidden("only the requester submits a request")
                self._submit(session, actor, row)
                return self._request_info(session, actor, row)
        except _Refused as refused:
            with self.transaction() as session:
                row = self._request_for(session, actor, request_id)
                self._audit_both(session, actor, "request.refused", row,
                                 {"failed": [rule for rule, _ in refused.failures]})  # fmt: skip
            raise PolicyDenied(refused.failures) from None

    def _submit(self, session: Session, actor: Actor, row: Request) -> None:
        """Move a draft to submitted, or raise :class:`_Refused` (the caller's transaction
        then rolls back and the caller records the refusal)."""
        if row.status != "draft":
            raise Conflict(f"request {row.id} is {row.status}; only a draft can be submitted")
        profile = self._policy_of(session, row.target_agency_id)
        if profile is None:
            raise _Refused([("policy", "the receiving agency has no active policy profile")])
        case = row.case
        failures: list[tuple[str, str]] = []
        if row.legal_basis not in profile.requests.legal_bases:
            failures.append(("requests.legal_bases", f"legal basis {row.legal_basis!r} is not allowed"))
        missing = [n for n in profile.requests.required_fields if not (_fields(row, case).get(n) or "").strip()]
        if missing:
            failures.append(("requests.required_fields", f"missing: {', '.join(missing)}"))
        if row.target_agency_id != row.agency_id and not profile.requests.cross_agency:
            failures.append(("requests.cross_agency", "the receiving agency takes no requests from other agencies"))
        if failures:
            raise _Refused(failures)
        row.status = "submitted"
        row.submitted = self.clock()
        row.policy_name = profile.name
        row.emergency = row.legal_basis in profile.requests.emergency_bases
        self._audit_both(session, actor, "request.submitted", row, {"emergency": row.emergency,
                                                                     "policy": profile.name})  # fmt: skip

    # --- approval -----------------------------------------------------------------------

    def decide_request(self, actor: Actor, request_id: int, approve: bool, reason: str) -> RequestInfo:
        """A supervisor of the receiving agency approves or denies; never their own request.
        A denial after an emergency search purges its results."""
        actor.require(*DECIDERS)
        reason = _text(reason, "reason", 5000)
        if not reason:
            raise InvalidInput("a decision needs a reason")
        self.expire_overdue()
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id, write=True)
            if row.target_agency_id != actor.agency_id:
                raise Forbidden("only the receiving agency's supervisors decide this request")
            if row.requester_id == actor.user_id:
                raise Forbidden("nobody approves or denies their own request")
            if row.approval != "pending" or row.status not in ("submitted", "searched", "reviewed"):
                raise Conflict(f"request {row.id} is {row.status} (approval {row.approval}); nothing to decide")
            row.approval = "approved" if approve else "denied"
            row.decided_by, row.decided, row.decision_reason = actor.user_id, self.clock(), reason
            if approve:
                if row.status == "submitted":
                    row.status = "approved"
            else:
                searched = row.status != "submitted"
                row.status = "denied"
                if searched:
                    self._purge(session, actor, row, "denied after an emergency search")
            self._audit_both(session, actor, "request.approved" if approve else "request.denied", row,
                             {"reason": reason})  # fmt: skip
            return self._request_info(session, actor, row)

    def expire_overdue(self) -> list[int]:
        """Emergency requests whose approval deadline has passed: mark them expired and purge
        them. Runs before every decision and search, on `facedocket requests expire`, and on a
        schedule in `facedocket serve`."""
        now = self.clock()
        with self.transaction() as session:
            rows = list(
                session.scalars(
                    select(Request).where(
                        Request.approval == "pending", Request.deadline.is_not(None), Request.deadline < now
                    )
                )
            )
            for row in rows:
                row.approval = "expired"
                row.status = "expired"
                self._audit_both(session, None, "request.expired", row,
                                 {"deadline": row.deadline.isoformat() if row.deadline else None})  # fmt: skip
                self._purge(session, None, row, "the approval deadline passed")
            return [r.id for r in rows]

    def _purge(self, session: Session, actor: Actor | None, row: Request, why: str) -> None:
        """Delete the probe, the candidates (and with them their reviews) and the subject the
        request's verifications named; the search rows keep only what holds no biometric data."""
        searches = list(session.scalars(select(Search).where(Search.request_id == row.id)))
        ids = [s.id for s in searches]
        exposed = 0
        if ids:
            exposed = len(session.scalars(select(Candidate.id).where(Candidate.search_id.in_(ids))).all())
            session.execute(delete(Candidate).where(Candidate.search_id.in_(ids)))
            session.execute(update(Search).where(Search.id.in_(ids)).values(subject_id=None, best_score=None))
        if row.probe_image_id is not None:
            image_id = row.probe_image_id
            row.probe_image_id = None
            session.flush()
            session.execute(delete(StoredImage).where(StoredImage.id == image_id))
        row.purged = self.clock()
        self._audit_both(session, actor, "request.purged", row,
                         {"reason": why, "searches": len(ids), "candidates_removed": exposed})  # fmt: skip

    # --- reading ------------------------------------------------------------------------

    def get_request(self, actor: Actor, request_id: int) -> RequestInfo:
        actor.require(*READERS)
        self.expire_overdue()
        with self.sessions() as session:
            return self._request_info(session, actor, self._request_for(session, actor, request_id))

    def list_requests(self, actor: Actor, status: str | None = None, limit: int = 100) -> list[RequestInfo]:
        """Requests the actor's agency filed or received, newest first."""
        actor.require(*READERS)
        self.expire_overdue()
        query = select(Request).where(
            (Request.agency_id == actor.agency_id) | (Request.target_agency_id == actor.agency_id)
        )
        if status:
            query = query.where(Request.status == status)
        with self.sessions() as session:
            rows = session.scalars(query.order_by(Request.id.desc()).limit(limit))
            return [self._request_info(session, actor, r) for r in rows]

    def probe_image(self, actor: Actor, request_id: int) -> bytes:
        """The probe photo of a request; every view is recorded."""
        actor.require("requester", "examiner", "supervisor", "auditor")
        self.expire_overdue()
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id)
            image = session.get(StoredImage, row.probe_image_id) if row.probe_image_id else None
            if image is None:
                raise NotFound(f"request {request_id} holds no probe (it was purged)")
            self._audit_both(session, actor, "probe.viewed", row, {"probe_sha256": image.sha256})
            return image.data

    def _request_for(self, session: Session, actor: Actor, request_id: int, write: bool = False) -> Request:
        row = session.get(Request, request_id, with_for_update=write) if write else session.get(Request, request_id)
        if row is None or actor.agency_id not in (row.agency_id, row.target_agency_id):
            raise NotFound(f"no request {request_id} filed by or addressed to your agency")
        return row

    def _request_info(self, session: Session, actor: Actor, row: Request) -> RequestInfo:
        case = row.case
        searches = list(session.scalars(select(Search.id).where(Search.request_id == row.id).order_by(Search.id)))
        receiving = actor.agency_id == row.target_agency_id
        document = {
            "type": row.document_type, "reference": row.document_reference, "issuer": row.document_issuer,
            "date": row.document_date, "sha256": row.document_sha256,
        }  # fmt: skip
        return RequestInfo(
            row.id, row.agency_id, row.target_agency_id, row.case_id, case.number, case.offence_category,
            row.requester_id, row.legal_basis, document, row.justification,
            list(row.galleries or []) if receiving else [], row.probe_source, row.probe_sha256, row.status,
            row.approval, row.emergency, row.deadline, row.decided_by, row.decided, row.decision_reason,
            row.outcome, row.policy_name, row.submitted, row.searched, row.closed, row.purged, row.created,
            searches if receiving else [], receiving,
        )  # fmt: skip

    def _audit_both(
        self, session: Session, actor: Actor | None, action: str, row: Request, details: dict[str, Any]
    ) -> None:
        """One event in each agency's trail when a request crosses agencies, else one."""
        agencies = dict.fromkeys((row.agency_id, row.target_agency_id))
        for agency_id in agencies:
            extra = {"counterpart_agency_id": row.target_agency_id if agency_id == row.agency_id else row.agency_id}
            self._audit(session, actor, action, "request", row.id,
                        {**details, **(extra if len(agencies) > 1 else {})}, agency_id=agency_id)  # fmt: skip

    # --- review -------------------------------------------------------------------------

    def review_candidate(
        self, actor: Actor, request_id: int, candidate_id: int, disposition: str, rationale: str
    ) -> ReviewInfo:
        """Record a disposition with a rationale. Under a two-person rule a second, different
        reviewer decides without seeing the first decision; a disagreement stays
        ``inconclusive`` until a supervisor resolves it (stage ``resolution``)."""
        actor.require(*REVIEWERS)
        if disposition not in DISPOSITIONS:
            raise InvalidInput(f"disposition must be one of: {', '.join(DISPOSITIONS)}")
        rationale = _text(rationale, "rationale", 5000)
        if not rationale:
            raise InvalidInput("a review needs a rationale")
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id, write=True)
            if row.target_agency_id != actor.agency_id:
                raise Forbidden("only the receiving agency's examiners review candidates")
            if row.status != "searched" or row.purged is not None:
                raise Conflict(f"request {row.id} is {row.status}; candidates are reviewed after a search")
            candidate = self._candidate_of(session, row, candidate_id)
            profile = self._policy_of(session, row.target_agency_id)
            two_person = bool(profile and profile.review.two_person)
            earlier = list(session.scalars(select(Review).where(Review.candidate_id == candidate.id)))
            if any(r.reviewer_id == actor.user_id for r in earlier):
                raise Conflict("you have reviewed this candidate already; each reviewer decides once")
            state = candidate_state(earlier, two_person)
            if state in DISPOSITIONS:
                raise Conflict(f"candidate {candidate.id} is decided ({state})")
            if state == "disagreement":
                actor.require("supervisor")
                stage = "resolution"
            else:
                stage = "first" if not earlier else "second"
            review = Review(request_id=row.id, candidate_id=candidate.id, reviewer_id=actor.user_id, stage=stage,
                            disposition=disposition, rationale=rationale, created=self.clock())  # fmt: skip
            session.add(review)
            session.flush()
            self._audit(session, actor, "candidate.reviewed", "candidate", candidate.id,
                        {"request_id": row.id, "stage": stage, "disposition": disposition})  # fmt: skip
            return ReviewInfo(review.id, candidate.id, actor.user_id, actor.username, stage, disposition, rationale,
                              review.created)  # fmt: skip

    def conclude_request(self, actor: Actor, request_id: int, release: list[int] | None = None) -> RequestInfo:
        """Set the outcome once every candidate is decided: ``lead`` when any is a possible
        match, else ``no-lead`` (an empty list is a no-lead). Candidates released to the
        requesting agency: ``release``, or by default the possible matches."""
        actor.require(*REVIEWERS)
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id, write=True)
            if row.target_agency_id != actor.agency_id:
                raise Forbidden("only the receiving agency concludes the review")
            if row.status != "searched" or row.purged is not None:
                raise Conflict(f"request {row.id} is {row.status}; only a searched request is concluded")
            states = self.candidate_states(session, row)
            open_ = [cid for cid, state in states.items() if state not in DISPOSITIONS]
            if open_:
                raise Conflict(f"candidates {', '.join(map(str, open_))} are not decided yet")
            leads = [cid for cid, state in states.items() if state == "possible-match"]
            chosen = leads if release is None else [int(c) for c in release]
            unknown = sorted(set(chosen) - set(states))
            if unknown:
                raise NotFound(f"no candidate {unknown[0]} in request {row.id}")
            if chosen:
                session.execute(update(Candidate).where(Candidate.id.in_(chosen)).values(released=True))
            row.outcome = "lead" if leads else "no-lead"
            row.status = "reviewed"
            self._audit_both(session, actor, "request.reviewed", row,
                             {"outcome": row.outcome, "released": sorted(chosen)})  # fmt: skip
            return self._request_info(session, actor, row)

    def close_request(self, actor: Actor, request_id: int) -> RequestInfo:
        """Close a reviewed, approved request (its requester or a supervisor)."""
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id, write=True)
            if actor.user_id != row.requester_id:
                actor.require("supervisor")
            if row.status != "reviewed":
                raise Conflict(f"request {row.id} is {row.status}; only a reviewed request is closed")
            if row.approval != "approved":
                raise Conflict(f"request {row.id} awaits approval; it closes once approved")
            row.status = "closed"
            row.closed = self.clock()
            self._audit_both(session, actor, "request.closed", row, {"outcome": row.outcome})
            return self._request_info(session, actor, row)

    def list_reviews(self, actor: Actor, request_id: int) -> list[ReviewInfo]:
        """Reviews of the request. A reviewer who has not decided a candidate does not see
        others' decisions on it until both decisions are in (blind second review)."""
        actor.require("examiner", "supervisor", "auditor")
        with self.sessions() as session:
            row = self._request_for(session, actor, request_id)
            if row.target_agency_id != actor.agency_id:
                raise NotFound(f"no reviews of request {request_id} in your agency")
            profile = self._policy_of(session, row.target_agency_id)
            two_person = bool(profile and profile.review.two_person)
            reviews = list(session.scalars(select(Review).where(Review.request_id == row.id).order_by(Review.id)))
            names = dict(session.execute(select(User.id, User.username)).all())
            shown: list[ReviewInfo] = []
            by_candidate: dict[int, list[Review]] = {}
            for r in reviews:
                by_candidate.setdefault(r.candidate_id, []).append(r)
            for candidate_reviews in by_candidate.values():
                complete = not two_person or len(candidate_reviews) >= 2
                for r in candidate_reviews:
                    if not complete and actor.role != "auditor" and r.reviewer_id != actor.user_id:
                        continue  # blind: nobody sees the first decision until both are in
                    shown.append(ReviewInfo(r.id, r.candidate_id, r.reviewer_id, names.get(r.reviewer_id, "?"),
                                            r.stage, r.disposition, r.rationale, r.created))  # fmt: skip
            return sorted(shown, key=lambda r: r.id)

    def candidate_states(self, session: Session, row: Request) -> dict[int, str]:
        """candidate id -> its decision: a disposition, or ``pending`` / ``awaiting-second``
        / ``disagreement``."""
        profile = self._policy_of(session, row.target_agency_id)
        two_person = bool(profile and profile.review.two_person)
        ids = session.scalars(
            select(Candidate.id).join(Search, Search.id == Candidate.search_id).where(Search.request_id == row.id)
        ).all()
        reviews: dict[int, list[Review]] = {cid: [] for cid in ids}
        for r in session.scalars(select(Review).where(Review.request_id == row.id).order_by(Review.id)):
            reviews.setdefault(r.candidate_id, []).append(r)
        return {cid: candidate_state(reviews[cid], two_person) for cid in ids}

    @staticmethod
    def _candidate_of(session: Session, row: Request, candidate_id: int) -> Candidate:
        candidate = session.get(Candidate, candidate_id)
        search = session.get(Search, candidate.search_id) if candidate else None
        if candidate is None or search is None or search.request_id != row.id:
            raise NotFound(f"no candidate {candidate_id} in request {row.id}")
        return candidate


class _Refused(Exception):
    """A submission the policy refuses (internal: becomes PolicyDenied once recorded)."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        super().__init__("refused")
        self.failures = failures


def candidate_state(reviews: list[Review], two_person: bool) -> str:
    """The decision a candidate's reviews add up to (see :meth:`RequestsMixin.candidate_states`)."""
    resolution = [r for r in reviews if r.stage == "resolution"]
    if resolution:
        return resolution[-1].disposition
    if not reviews:
        return "pending"
    if not two_person:
        return reviews[0].disposition
    if len(reviews) < 2:
        return "awaiting-second"
    first, second = reviews[0].disposition, reviews[1].disposition
    return first if first == second else "disagreement"


def _fields(row: Request, case: Case) -> dict[str, str]:
    return {
        "case_number": case.number,
        "offence_category": case.offence_category,
        "legal_basis": row.legal_basis,
        "justification": row.justification,
        "document_type": row.document_type,
        "document_reference": row.document_reference,
        "document_issuer": row.document_issuer,
        "document_date": row.document_date,
        "document_sha256": row.document_sha256,
        "probe_source": row.probe_source,
    }


def deadline_after(moment: datetime, hours: float | None) -> datetime | None:
    return None if hours is None else moment + timedelta(hours=hours)
