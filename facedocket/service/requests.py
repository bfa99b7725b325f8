"""Cases and written requests: filing, submission, approval, the emergency deadline, reading.

A request is filed by a requester of one agency and addressed to a face-search unit: its
own agency or another one (``target_agency_id``). The target agency's supervisor approves
or denies it, its examiner searches its own galleries under it (:mod:`.search`), and its
examiners review the candidates (:mod:`.review`). The requesting agency sees the status, the
outcome and only the released candidates, never the unit's galleries; the unit sees a
request only once it is submitted (a draft stays with its own agency).

The probe photo is kept encrypted (:mod:`facedocket.service.files`). When it shows several
faces, the requester chooses the one to search at filing (``probe_face``, 1-based in
detection order; a probe of several faces without a choice is refused): the request keeps
that face's box and an aligned crop of it, and every search under the request uses that
face. The legal basis's document may be filed with the request; it is kept encrypted too
and its SHA-256 recorded.

Each step is a transition of :mod:`facedocket.governance.requests`, taken in one write
transaction that locks the request row, re-checks permission, state and policy, and writes
the change with its audit event. Submission runs
:func:`~facedocket.governance.rules.check_submission`: a request the policy would refuse at
search for a reason known now is refused here, under the same rule name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyDenied
from facedocket.governance import requests as machine
from facedocket.governance.permissions import Actor, require, roles_for
from facedocket.governance.rules import Facts, Failure, Verdict, check_submission, checklist
from facedocket.service.context import Area, Who
from facedocket.service.filing import (
    Chosen,
    ProbeFace,
    ProbeFaces,
    RequestDraft,
    checked,
    choose_face,
    document_type_of,
    with_document,
)
from facedocket.service.galleries import usable_gallery
from facedocket.service.inputs import identifier, text
from facedocket.service.policy import policy_of
from facedocket.service.request_info import RequestInfo, describe, probe_quality
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import photos as photo_queries
from facedocket.store.queries import requests as queries
from facedocket.store.tables import Case, Request
from facedocket.vision.models import DEFAULT_MODEL_ID
from facedocket.vocab import OFFENCE_CATEGORIES

__all__ = ["CaseInfo", "ProbeFace", "ProbeFaces", "RequestDraft", "RequestInfo", "Requests", "visible_request"]


@dataclass(frozen=True)
class CaseInfo:
    id: int
    agency_id: int
    number: str
    offence_category: str
    description: str
    created: datetime


def _case_info(case: Case) -> CaseInfo:
    return CaseInfo(case.id, case.agency_id, case.number, case.offence_category, case.description, case.created)


def request_fields(row: Request, case: Case) -> dict[str, str]:
    """The request's fields by the names policy profiles use (``requests.required_fields``)."""
    return {
        "case_number": case.number, "offence_category": case.offence_category, "legal_basis": row.legal_basis,
        "justification": row.justification, "document_type": row.document_type,
        "document_reference": row.document_reference, "document_issuer": row.document_issuer,
        "document_date": row.document_date, "document_sha256": row.document_sha256, "probe_source": row.probe_source,
    }  # fmt: skip


def request_facts(row: Request, purposes: dict[str, str], **search: Any) -> Facts:
    """The facts the policy's rules look at; ``search`` adds what a search knows."""
    return Facts(legal_basis=row.legal_basis, offence_category=row.case.offence_category,
                 fields=request_fields(row, row.case), probe_source=row.probe_source,
                 cross_agency=row.agency_id != row.target_agency_id, gallery_purposes=purposes, **search)  # fmt: skip


def state_of(row: Request) -> machine.RequestState:
    return machine.RequestState(row.status, row.approval, row.emergency, row.purged is not None, row.deadline)


def visible_request(session: Session, actor: Actor, request_id: int, lock: bool = False) -> Request:
    """A request the actor's agency filed, or one addressed to it once submitted; NotFound
    otherwise (another agency's request, or an incoming draft, is not there to see)."""
    identifier(request_id, "request id")
    row = queries.lock_request(session, request_id) if lock else queries.request(session, request_id)
    if row is None or not machine.visible_to(row.status, row.agency_id, row.target_agency_id, actor.agency_id):
        raise NotFound(f"no request {request_id} filed by or addressed to your agency")
    return row


class Requests(Area):
    """Cases and the life of a written request (see the module docstring)."""

    # --- shared with the other areas ------------------------------------------------------

    def audit_both(self, session: Session, actor: Actor | Who | None, action: str, row: Request,
                   details: dict[str, Any]) -> None:  # fmt: skip
        """One event in each agency's trail when a request crosses agencies, else one."""
        agencies = dict.fromkeys((row.agency_id, row.target_agency_id))
        for agency_id in agencies:
            extra = {"counterpart_agency_id": row.target_agency_id if agency_id == row.agency_id else row.agency_id}
            self.ctx.audit(session, actor, action, "request", row.id,
                           {**details, **(extra if len(agencies) > 1 else {})}, agency_id=agency_id)  # fmt: skip

    def purge(self, session: Session, actor: Actor | None, row: Request, why: str) -> None:
        """Delete the probe and the candidates of a request (see queries.requests.purge)."""
        searches, removed = queries.purge(session, row)
        row.purged = self.clock()
        self.ctx.probes.forget(row.probe_sha256)  # its faces go from memory too
        self.audit_both(session, actor, "request.purged", row,
                        {"reason": why, "searches": searches, "candidates_removed": removed})  # fmt: skip

    def expire_if_overdue(self, session: Session, row: Request) -> bool:
        """Inside a write transaction on a locked row: expire and purge it when its deadline
        passed. True when it did."""
        if not machine.overdue(state_of(row), self.clock()):
            return False
        after = machine.step(state_of(row), "expire", self.clock(), request_id=row.id)
        row.approval, row.status = after.approval, after.status
        self.audit_both(session, None, "request.expired", row,
                        {"deadline": row.deadline.isoformat() if row.deadline else None})  # fmt: skip
        self.purge(session, None, row, "the approval deadline passed")
        return True

    # --- cases ------------------------------------------------------------------------------

    def create_case(self, actor: Actor, number: str, offence_category: str, description: str = "") -> CaseInfo:
        require(actor, "case.create")
        number = text(number, "case number")
        if not number:
            raise InvalidInput("a case needs a number")
        if offence_category not in OFFENCE_CATEGORIES:
            raise InvalidInput(f"offence category must be one of: {', '.join(OFFENCE_CATEGORIES)}")
        with self.ctx.write() as session:
            case = Case(agency_id=actor.agency_id, number=number, offence_category=offence_category,
                        description=text(description, "description"), created_by=actor.user_id,
                        created=self.clock())  # fmt: skip
            session.add(case)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"case {number!r} exists in your agency") from None
            self.ctx.audit(session, actor, "case.created", "case", case.id,
                           {"number": number, "offence_category": offence_category})  # fmt: skip
            return _case_info(case)

    def list_cases(self, actor: Actor) -> list[CaseInfo]:
        require(actor, "case.read")
        with self.ctx.read() as session:
            return [_case_info(c) for c in queries.cases(session, actor.agency_id)]

    def get_case(self, actor: Actor, case_id: int) -> CaseInfo:
        require(actor, "case.read")
        with self.ctx.read() as session:
            case = queries.case(session, identifier(case_id, "case id"))
            if case is None or case.agency_id != actor.agency_id:
                raise NotFound(f"no case {case_id} in your agency")
            return _case_info(case)

    # --- filing and submission ----------------------------------------------------------------

    def probe_faces(self, actor: Actor, probe: bytes) -> ProbeFaces:
        """The faces of a probe photo, so the requester can choose one before filing (nothing
        is kept)."""
        require(actor, "request.file")
        analysed = self.ctx.probe_faces(probe, DEFAULT_MODEL_ID)  # kept a while: filing it next finds them
        faces = [ProbeFace(i, f.face.box.as_list(), [[round(x, 1), round(y, 1)] for x, y in f.face.landmarks],
                           round(f.template.quality, 4)) for i, f in enumerate(analysed.faces, start=1)]  # fmt: skip
        return ProbeFaces(analysed.width, analysed.height, faces)

    def file_request(self, actor: Actor, draft: RequestDraft, probe: bytes, submit: bool = False,
                     document: bytes | None = None) -> RequestInfo:  # fmt: skip
        """File a written request with its probe photo, and optionally the legal basis's
        document file (both kept encrypted). ``submit`` also submits it. The probe must be an
        image this system can read; when it shows several faces, ``draft.probe_face`` says
        which one is to be searched."""
        require(actor, "request.file")
        draft = checked(draft)
        if document is not None:
            draft = with_document(draft, document)
        # refuses what is not a safe, decodable image; its faces are kept for the search
        chosen = choose_face(self.ctx.probe_faces(probe, DEFAULT_MODEL_ID), draft.probe_face)
        digest = hashlib.sha256(probe).hexdigest()
        try:
            with self.ctx.write() as session:
                row = self._file(session, actor, draft, probe, digest, chosen, document)
                refused = self._submit(session, actor, row) if submit else []
                if refused:
                    raise _Refused(refused)  # rolls the filing back
                return describe(session, actor, [row])[0]
        except _Refused as refusal:  # nothing was filed: record the refusal on the case
            self.ctx.record(actor, "request.refused", "case", draft.case_id,
                            {"failed": [r for r, _ in refusal.failures]})  # fmt: skip
            raise PolicyDenied(refusal.failures) from None

    def _file(self, session: Session, actor: Actor, draft: RequestDraft, probe: bytes, digest: str,
              chosen: Chosen, document: bytes | None) -> Request:  # fmt: skip
        case = queries.case(session, draft.case_id)
        if case is None or case.agency_id != actor.agency_id:
            raise NotFound(f"no case {draft.case_id} in your agency; create the case first")
        target = actor.agency_id if draft.target_agency_id is None else draft.target_agency_id
        if account_queries.agency(session, target) is None:
            raise NotFound(f"no agency {target}")
        galleries = list(dict.fromkeys(draft.galleries))
        if target == actor.agency_id:
            for gallery_id in galleries:
                usable_gallery(session, actor, gallery_id)
        elif galleries:
            raise InvalidInput("a request to another agency names no galleries: its examiner chooses them")
        row = Request(
            agency_id=actor.agency_id, target_agency_id=target, case_id=case.id, requester_id=actor.user_id,
            legal_basis=draft.legal_basis, document_type=draft.document_type,
            document_reference=draft.document_reference, document_issuer=draft.document_issuer,
            document_date=draft.document_date, document_sha256=draft.document_sha256,
            justification=draft.justification, galleries=galleries, probe_source=draft.probe_source,
            probe_sha256=digest, probe_face=chosen.number, probe_box=chosen.box, status="draft", approval="pending",
            created=self.clock(),
        )  # fmt: skip
        session.add(row)
        session.flush()
        files = self.ctx.files
        row.probe_image_id = files.seal(
            session, actor.agency_id, "probe", probe, request_id=row.id, meta=chosen.meta
        ).id
        if chosen.crop is not None:
            crop = files.seal(session, actor.agency_id, "probe-crop", chosen.crop, request_id=row.id,
                              media_type="image/jpeg", meta={"face": chosen.number})  # fmt: skip
            row.probe_crop_id = crop.id
        if document is not None:
            row.document_file_id = files.seal(session, actor.agency_id, "document", document, request_id=row.id,
                                              media_type=document_type_of(document)).id  # fmt: skip
        details = {"case": case.number, "legal_basis": row.legal_basis, "target_agency_id": target,
                   "probe_sha256": digest, "probe_face": chosen.number,
                   "document_sha256": row.document_sha256 if document is not None else None}  # fmt: skip
        self.audit_both(session, actor, "request.filed", row, details)
        return row

    def submit_request(self, actor: Actor, request_id: int) -> RequestInfo:
        """Submit a draft to the target agency for approval (and, on an emergency basis, search).
        A request the receiving agency's policy refuses stays a draft; the refusal is recorded."""
        require(actor, "request.file")
        with self.ctx.write() as session:
            row = visible_request(session, actor, request_id, lock=True)
            if row.requester_id != actor.user_id:
                raise Forbidden("only the requester submits a request")
            refused = self._submit(session, actor, row)
            if refused:
                self.audit_both(session, actor, "request.refused", row, {"failed": [r for r, _ in refused]})
            else:
                return describe(session, actor, [row])[0]
        raise PolicyDenied(refused)

    def _submit(self, session: Session, actor: Actor, row: Request) -> list[Failure]:
        """Move a draft to submitted; the failed rules when the policy refuses (nothing changes)."""
        machine.step(state_of(row), "submit", self.clock(), request_id=row.id)
        active = policy_of(session, row.target_agency_id)
        purposes = self._purposes(session, actor, row)
        refused = check_submission(active.profile if active else None, request_facts(row, purposes))
        if refused:
            return refused
        assert active is not None
        row.status = "submitted"
        row.submitted = self.clock()
        row.policy_name, row.policy_sha256 = active.profile.name, active.sha256
        row.emergency = row.legal_basis in active.profile.requests.emergency_bases
        self.audit_both(session, actor, "request.submitted", row,
                        {"emergency": row.emergency, "policy": row.policy_name,
                         "policy_sha256": row.policy_sha256})  # fmt: skip
        return []

    @staticmethod
    def _purposes(session: Session, actor: Actor, row: Request) -> dict[str, str]:
        """Name -> purpose of the galleries a request names (its own agency's requests only)."""
        if row.target_agency_id != actor.agency_id:
            return {}
        galleries = [usable_gallery(session, actor, int(g)) for g in row.galleries or []]
        return {g.name: g.purpose for g in galleries}

    # --- approval and the deadline ----------------------------------------------------------

    def decide_request(self, actor: Actor, request_id: int, approve: bool, reason: str) -> RequestInfo:
        """A supervisor of the receiving agency approves or denies; never their own request.
        A denial after an emergency search purges its results."""
        require(actor, "request.decide")
        reason = text(reason, "reason")
        if not reason:
            raise InvalidInput("a decision needs a reason")
        with self.ctx.write() as session:
            row = visible_request(session, actor, request_id, lock=True)
            if row.target_agency_id != actor.agency_id:
                raise Forbidden("only the receiving agency's supervisors decide this request")
            require(actor, "request.decide", actor.side(row.agency_id))
            if row.requester_id == actor.user_id:
                raise Forbidden("nobody approves or denies their own request")
            expired = self.expire_if_overdue(session, row)
            if not expired:
                after = machine.step(state_of(row), "approve" if approve else "deny", self.clock(), request_id=row.id)
                row.approval, row.status = after.approval, after.status
                row.decided_by, row.decided, row.decision_reason = actor.user_id, self.clock(), reason
                if after.purge:
                    self.purge(session, actor, row, "denied after an emergency search")
                self.audit_both(session, actor, "request.approved" if approve else "request.denied", row,
                                {"reason": reason})  # fmt: skip
                return describe(session, actor, [row])[0]
        raise Conflict(f"request {request_id} expired: its approval deadline passed, and it was purged")

    def expire_overdue(self) -> list[int]:
        """Emergency requests whose approval deadline has passed: mark them expired and purge
        them. Runs on `facedocket request expire`, on a schedule in `facedocket serve`, and on
        each row an operation locks."""
        with self.ctx.read() as session:
            due = queries.overdue_ids(session, self.clock())
        if not due:
            return []
        expired: list[int] = []
        with self.ctx.write() as session:
            for request_id in due:
                row = queries.lock_request(session, request_id)
                if row is not None and self.expire_if_overdue(session, row):
                    expired.append(row.id)
        return expired

    # --- reading ------------------------------------------------------------------------------

    def get_request(self, actor: Actor, request_id: int) -> RequestInfo:
        self.expire_overdue()
        with self.ctx.read() as session:
            row = visible_request(session, actor, request_id)
            require(actor, "request.read", actor.side(row.agency_id))
            return describe(session, actor, [row])[0]

    def list_requests(self, actor: Actor, status: str | None = None, limit: int = 100) -> list[RequestInfo]:
        """Requests the actor's agency filed or received (once submitted), newest first."""
        require(actor, "request.read")
        self.expire_overdue()
        with self.ctx.read() as session:
            rows = queries.requests_of(session, actor.agency_id, status, max(1, min(limit, 1000)))
            return describe(session, actor, [r for r in rows if actor.role in _readers(actor, r)])

    def checklist(self, actor: Actor, request_id: int) -> list[Verdict]:
        """Every rule of the receiving agency's policy on this request, in plain words, passed
        or failed with why (the supervisor's checklist): what the request says now, and the
        chosen face's quality; the rules that need a search (threshold, candidates) are
        pending."""
        with self.ctx.read() as session:
            row = visible_request(session, actor, request_id)
            require(actor, "request.read", actor.side(row.agency_id))
            active = policy_of(session, row.target_agency_id)
            purposes = self._purposes(session, actor, row) if row.target_agency_id == actor.agency_id else {}
            quality = probe_quality(photo_queries.meta_of(session, row.probe_image_id))
            facts = request_facts(row, purposes, purged=row.purged is not None, probe_quality=quality)
            return checklist(active.profile if active else None, facts)

    def probe_image(self, actor: Actor, request_id: int) -> bytes:
        """The probe photo of a request; every view is recorded."""
        self.expire_overdue()
        with self.ctx.write() as session:
            row = visible_request(session, actor, request_id)
            require(actor, "probe.read", actor.side(row.agency_id))
            image = queries.image(session, row.probe_image_id)
            if image is None:
                raise NotFound(f"request {request_id} holds no probe (it was purged)")
            self.audit_both(session, actor, "probe.viewed", row, {"probe_sha256": image.sha256})
            return self.ctx.files.open(image)

    def close_request(self, actor: Actor, request_id: int) -> RequestInfo:
        """Close a reviewed, approved request (its requester or a supervisor)."""
        with self.ctx.write() as session:
            row = visible_request(session, actor, request_id, lock=True)
            if actor.user_id != row.requester_id:
                require(actor, "request.close", actor.side(row.agency_id))
            after = machine.step(state_of(row), "close", self.clock(), request_id=row.id)
            row.status = after.status
            row.closed = self.clock()
            self.audit_both(session, actor, "request.closed", row, {"outcome": row.outcome})
            return describe(session, actor, [row])[0]


class _Refused(Exception):
    """A filing the policy refuses at submission (rolls the filing back; becomes PolicyDenied)."""

    def __init__(self, failures: list[Failure]) -> None:
        super().__init__("refused")
        self.failures = failures


def _readers(actor: Actor, row: Request) -> frozenset[str]:
    return roles_for("request.read", actor.side(row.agency_id))
