"""The request state machine: one transition table, and what each step does.

A request moves draft → submitted → approved | denied → searched → reviewed → closed. On the
emergency path (a legal basis the profile lists in ``emergency_bases``) the search runs while
approval is pending and starts the profile's deadline; a denial after a search, or a deadline
that passes without approval (``expired``), purges the probe and the candidates.

:data:`TRANSITIONS` says, for each step, the states it starts from, the permission it needs,
on which side (the agency that filed the request or the one it is addressed to) and its
effect. :func:`step` applies one to a :class:`RequestState` and returns the new state and
what the service must do (purge, start a deadline), or raises :class:`Conflict`. Pure: the
service reads the row under a lock, asks :func:`step`, and writes the result in the same
transaction.

Example::

    after = step(RequestState("submitted", "pending", emergency=False), "approve", now)
    after.status, after.approval   # ("approved", "approved")
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from facedocket.errors import Conflict

FILING = "filing"
"""The agency that filed the request (its requester)."""
RECEIVING = "receiving"
"""The agency the request is addressed to (its face-search unit)."""


@dataclass(frozen=True)
class RequestState:
    """The parts of a request the state machine reads."""

    status: str
    approval: str = "pending"
    emergency: bool = False
    purged: bool = False
    deadline: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """One step: from which states, with which permission, by which side, to what effect."""

    name: str
    from_status: frozenset[str]
    action: str
    side: str
    effect: str
    from_approval: frozenset[str] | None = None
    refusal: str = "request {id} is {status}"


@dataclass(frozen=True)
class After:
    """A step's result: the new state, and whether the probe and candidates must be purged
    (``purge``) or a deadline was started (``deadline_started``)."""

    state: RequestState
    purge: bool = False
    deadline_started: bool = False

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def approval(self) -> str:
        return self.state.approval


def _t(name: str, states: set[str], action: str, side: str, effect: str, refusal: str,
       approvals: set[str] | None = None) -> Transition:  # fmt: skip
    return Transition(name, frozenset(states), action, side, effect,
                      None if approvals is None else frozenset(approvals), refusal)  # fmt: skip


_DECIDABLE = {"submitted", "searched", "reviewed"}

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        _t("submit", {"draft"}, "request.file", FILING, "→ submitted; the policy checks it first (its requester only)",
           "request {id} is {status}; only a draft can be submitted"),
        _t("approve", _DECIDABLE, "request.decide", RECEIVING,
           "approval → approved; a submitted request → approved (never by its own requester)",
           "request {id} is {status} (approval {approval}); nothing to decide", {"pending"}),
        _t("deny", _DECIDABLE, "request.decide", RECEIVING,
           "→ denied; purges the probe and candidates if an emergency search ran (never by its own requester)",
           "request {id} is {status} (approval {approval}); nothing to decide", {"pending"}),
        _t("search", {"submitted", "approved", "searched"}, "request.search", RECEIVING,
           "→ searched; an emergency search before approval starts the deadline (the policy gate decides)",
           "the request is {status}; a search needs a submitted or approved request"),
        _t("review", {"searched"}, "candidate.review", RECEIVING, "records a disposition; state unchanged",
           "request {id} is {status}; candidates are reviewed after a search"),
        _t("conclude", {"searched"}, "candidate.review", RECEIVING, "→ reviewed with outcome lead or no-lead",
           "request {id} is {status}; only a searched request is concluded"),
        _t("close", {"reviewed"}, "request.close", FILING, "→ closed (its requester, or a supervisor)",
           "request {id} is {status}; only a reviewed request is closed", {"approved"}),
        _t("expire", _DECIDABLE, "system", RECEIVING,
           "approval deadline passed: → expired; purges the probe and candidates",
           "request {id} is {status} (approval {approval}); nothing to expire", {"pending"}),
    )
}  # fmt: skip
"""Every step of the state machine (docs/architecture.md prints it)."""


def can(state: RequestState, name: str) -> bool:
    """Whether step ``name`` may start from ``state`` (the purge blocks review and conclusion)."""
    t = TRANSITIONS[name]
    if state.status not in t.from_status:
        return False
    if t.from_approval is not None and state.approval not in t.from_approval:
        return False
    return not (name in ("review", "conclude") and state.purged)


def step(state: RequestState, name: str, now: datetime, deadline_hours: float | None = None,
         request_id: int | None = None) -> After:  # fmt: skip
    """Apply step ``name`` to ``state`` at ``now``; :class:`Conflict` when it may not start.

    ``deadline_hours`` is the profile's emergency deadline (for ``search``).
    """
    check(state, name, request_id)
    return _EFFECTS[name](state, now, deadline_hours)


def check(state: RequestState, name: str, request_id: int | None = None) -> None:
    """:class:`Conflict` (saying why) unless step ``name`` may start from ``state``."""
    if can(state, name):
        return
    if name == "close" and state.status == "reviewed":
        raise Conflict(f"request {request_id} awaits approval; it closes once approved")
    t = TRANSITIONS[name]
    raise Conflict(t.refusal.format(id=request_id, status=state.status, approval=state.approval))


def _submit(s: RequestState, now: datetime, hours: float | None) -> After:
    return After(replace(s, status="submitted"))


def _approve(s: RequestState, now: datetime, hours: float | None) -> After:
    return After(replace(s, approval="approved", status="approved" if s.status == "submitted" else s.status))


def _deny(s: RequestState, now: datetime, hours: float | None) -> After:
    return After(replace(s, approval="denied", status="denied"), purge=s.status != "submitted")


def _search(s: RequestState, now: datetime, hours: float | None) -> After:
    if s.status == "searched":
        return After(s)
    starts = s.emergency and s.approval == "pending" and s.deadline is None
    deadline = deadline_after(now, hours) if starts else s.deadline
    return After(replace(s, status="searched", deadline=deadline), deadline_started=starts and deadline is not None)


def _same(s: RequestState, now: datetime, hours: float | None) -> After:
    return After(s)


def _conclude(s: RequestState, now: datetime, hours: float | None) -> After:
    return After(replace(s, status="reviewed"))


def _close(s: RequestState, now: datetime, hours: float | None) -> After:
    return After(replace(s, status="closed"))


def _expire(s: RequestState, now: datetime, hours: float | None) -> After:
    return After(replace(s, approval="expired", status="expired"), purge=True)


_EFFECTS = {"submit": _submit, "approve": _approve, "deny": _deny, "search": _search, "review": _same,
            "conclude": _conclude, "close": _close, "expire": _expire}  # fmt: skip


def overdue(state: RequestState, now: datetime) -> bool:
    """An emergency request whose approval deadline passed while approval was pending."""
    return state.approval == "pending" and state.deadline is not None and state.deadline < now


def deadline_after(moment: datetime, hours: float | None) -> datetime | None:
    """The approval deadline ``hours`` after ``moment`` (None: no deadline)."""
    return None if hours is None else moment + timedelta(hours=hours)


def visible_to(status: str, filing_agency: int, receiving_agency: int, agency_id: int) -> bool:
    """Whether an agency may see a request at all: the agency that filed it always; the
    agency it is addressed to once it is submitted (a draft stays with its own agency)."""
    if agency_id == filing_agency:
        return True
    return agency_id == receiving_agency and status != "draft"


def transitions_markdown() -> str:
    """The transition table as Markdown (for docs/architecture.md)."""
    rows = ["| step | from | approval | permission (side) | effect |", "| --- | --- | --- | --- | --- |"]
    for t in TRANSITIONS.values():
        approvals = ", ".join(sorted(t.from_approval)) if t.from_approval else "any"
        who = "the deadline job (system)" if t.action == "system" else f"`{t.action}` ({t.side})"
        rows.append(f"| `{t.name}` | {', '.join(sorted(t.from_status))} | {approvals} | {who} | {t.effect} |")
    return "\n".join(rows)
