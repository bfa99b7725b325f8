"""Who may do what: one table of role × action × whose object it is.

Every service operation asks :func:`require` (or :func:`permits`) before it reads or writes.
``OWN`` is an object of the actor's own agency (a request it filed, a gallery it owns);
``OTHER`` is another agency's, reached through a cross-agency request addressed to the
actor's agency or a gallery shared with it, or, for actions marked ``operator``, any agency
when the actor belongs to the operator agency. ``docs/architecture.md`` prints the table.

Example::

    require(actor, "request.decide", OTHER)   # Forbidden unless a supervisor
"""

from __future__ import annotations

from dataclasses import dataclass, field

from facedocket.errors import Forbidden
from facedocket.vocab import ROLES

OWN = "own"
OTHER = "other"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of an agency, with one role (``operator``: of the operator agency)."""

    user_id: int
    username: str
    agency_id: int
    role: str
    operator: bool = False
    activation: bool = False
    """Acting with an activation token: it only lets the user make their own token."""
    token_id: int | None = field(default=None, compare=False)
    """The token acted with (not part of who the actor is)."""
    must_change: bool = field(default=False, compare=False)
    """Signed in with a temporary first password: nothing is allowed until they choose their own."""

    def side(self, agency_id: int) -> str:
        """OWN when ``agency_id`` is the actor's agency, else OTHER."""
        return OWN if agency_id == self.agency_id else OTHER


@dataclass(frozen=True)
class Permission:
    """The roles that may take an action on their own agency's objects and on another's
    (``operator``: another agency's only for the operator agency's users)."""

    action: str
    words: str
    own: frozenset[str]
    other: frozenset[str] = frozenset()
    operator: bool = False


_ALL = frozenset(ROLES)
_STAFF = frozenset({"requester", "examiner", "supervisor"})
_UNIT = frozenset({"examiner", "supervisor"})
_OVERSIGHT = frozenset({"supervisor", "admin"})
_RECORDS = frozenset({"auditor", "admin"})
_GALLERY_STAFF = frozenset({"admin", "supervisor", "examiner"})


def _p(action: str, words: str, own: frozenset[str] | set[str], other: frozenset[str] | set[str] = frozenset(),
       operator: bool = False) -> Permission:  # fmt: skip
    return Permission(action, words, frozenset(own), frozenset(other), operator)


_TABLE = (
    # agencies, users, tokens, policy
    _p("agency.create", "create an agency and its first admin", set(), {"admin"}, operator=True),
    _p("agency.read", "list agencies", _ALL, {"admin"}, operator=True),
    _p("user.create", "create a user of the agency", {"admin"}),
    _p("user.read", "list the agency's users", {"admin", "supervisor", "auditor"}),
    _p("user.set_active", "deactivate or reactivate a user", {"admin"}),
    _p("token.create", "make oneself a token", _ALL),
    _p("token.revoke", "revoke another user's token", {"admin"}),
    _p("user.password", "set a user's temporary first password, or reset it", {"admin"}),
    _p("policy.activate", "activate a policy profile", {"admin"}, {"admin"}, operator=True),
    _p("policy.read", "read the active policy profile", _ALL, {"admin", "auditor"}, operator=True),
    # galleries, subjects, enrolment
    _p("gallery.create", "create a gallery", {"admin", "supervisor"}),
    _p("gallery.read", "list and read galleries", _ALL, _ALL),
    _p(
        "gallery.manage",
        "share a gallery, set its retention, consent rule or whether it keeps photos",
        {"admin", "supervisor"},
    ),
    _p(
        "subject.read",
        "list and read subjects (with their recorded attributes)",
        {"admin", "supervisor", "examiner", "auditor"},
        {"examiner", "supervisor"},
    ),
    _p(
        "photo.read",
        "look at a subject's enrolment photo and face crop (a candidate under review, a gallery's subjects)",
        {"admin", "supervisor", "examiner", "auditor"},
        {"examiner", "supervisor"},
    ),
    _p("subject.create", "create a subject before enrolment", _GALLERY_STAFF),
    _p("subject.delete", "delete a subject", {"admin", "supervisor"}),
    _p("enrolment.run", "enrol photos", _GALLERY_STAFF),
    _p("index.rebuild", "rebuild a gallery's index", _GALLERY_STAFF),
    _p("gallery.reembed", "re-embed a gallery with another template model", {"admin", "supervisor"}),
    _p("consent.record", "record or withdraw a consent", _GALLERY_STAFF),
    # cases and requests
    _p("case.create", "open a case", _STAFF),
    _p("case.read", "read the agency's cases", _ALL),
    _p("request.file", "file and submit a written request", _STAFF),
    _p("request.read", "read a request", _ALL, {"examiner", "supervisor", "auditor", "admin"}),
    _p("request.decide", "approve or deny a request", {"supervisor"}, {"supervisor"}),
    _p(
        "probe.read",
        "download a request's probe photo",
        {"requester", "examiner", "supervisor", "auditor"},
        {"examiner", "supervisor", "auditor"},
    ),
    _p("request.search", "search or verify under a request", _UNIT, _UNIT),
    _p("search.read", "read a request's searches and candidates", _ALL, {"examiner", "supervisor", "auditor"}),
    _p("search.list", "list the agency's searches", {"examiner", "supervisor", "auditor", "admin"}),
    _p("candidate.review", "review candidates and conclude", _UNIT, _UNIT),
    _p("candidate.resolve", "settle reviewers' disagreement", {"supervisor"}, {"supervisor"}),
    _p("review.read", "read reviews", {"examiner", "supervisor", "auditor"}, {"examiner", "supervisor", "auditor"}),
    _p("request.close", "close a reviewed request (or its requester)", {"supervisor"}, {"supervisor"}),
    _p(
        "request.export",
        "export a request's case file",
        {"requester", "examiner", "supervisor", "auditor"},
        {"examiner", "supervisor", "auditor"},
    ),
    # oversight
    _p("hold.manage", "place or release a legal hold", _OVERSIGHT),
    _p("hold.read", "list legal holds", {*_OVERSIGHT, "auditor"}),
    _p("retention.run", "run retention", {"admin"}, {"admin"}, operator=True),
    _p("subject.erase", "erase a subject", _OVERSIGHT),
    _p("subject.export", "export a subject's data (access request)", {*_OVERSIGHT, "auditor"}),
    _p("evaluation.record", "keep and read evaluations on record", {"auditor", "admin", "supervisor"}),
    _p("evaluation.run", "run an accuracy evaluation", {"auditor", "admin", "supervisor"}),
    _p("calibration.set", "store a calibrated threshold", {"admin"}),
    _p("model.read", "list the installation's template models", _ALL),
    _p("model.register", "register or calibrate an operator's own template model", set(), {"admin"}, operator=True),
    # watchlists, video deployments, alerts (one agency's own: never shared)
    _p("watchlist.read", "list watchlists and their entries", {*_GALLERY_STAFF, "auditor"}),
    _p("watchlist.add", "add an entry to a watchlist", _GALLERY_STAFF),
    _p("watchlist.approve", "approve another person's watchlist entry (second person)", {"supervisor"}),
    _p("watchlist.remove", "remove a watchlist entry", _OVERSIGHT),
    _p("deployment.manage", "describe a video deployment", _OVERSIGHT),
    _p("deployment.authorise", "authorise a video deployment", {"supervisor"}),
    _p("deployment.run", "start and stop a video deployment", _GALLERY_STAFF),
    _p("deployment.read", "read deployments, their status and reports", {*_GALLERY_STAFF, "auditor"}),
    _p("alert.read", "read alerts and wait for new ones", {*_GALLERY_STAFF, "auditor"}),
    _p("alert.decide", "confirm or dismiss an alert", _UNIT),
    _p("alert.crop", "look at an alert's face crop", _UNIT),
    _p("audit.read", "read, verify and export the audit log", _RECORDS, _RECORDS, operator=True),
    _p("report.generate", "make a transparency report", _RECORDS, _RECORDS, operator=True),
)

PERMISSIONS: dict[str, Permission] = {p.action: p for p in _TABLE}
"""The table, by action."""


def roles_for(action: str, side: str = OWN) -> frozenset[str]:
    """The roles that may take ``action`` on ``side``'s objects."""
    permission = PERMISSIONS[action]
    return permission.own if side == OWN else permission.other


ACTIVATION_ACTIONS = frozenset({"token.create", "agency.read"})
"""All an activation token allows: its user makes their own token (and sees who they are)."""


def permits(actor: Actor, action: str, side: str = OWN) -> bool:
    """Whether ``actor`` may take ``action`` on an object of ``side`` (OWN or OTHER)."""
    permission = PERMISSIONS[action]
    if actor.must_change or (actor.activation and action not in ACTIVATION_ACTIONS):
        return False
    if side == OTHER and permission.operator and not actor.operator:
        return False
    return actor.role in roles_for(action, side)


def require(actor: Actor, action: str, side: str = OWN) -> None:
    """Raise :class:`Forbidden` unless :func:`permits`; the message names who may."""
    if permits(actor, action, side):
        return
    permission = PERMISSIONS[action]
    if actor.must_change:
        raise Forbidden("you signed in with a temporary password: choose your own password first")
    if actor.activation and action not in ACTIVATION_ACTIONS:
        raise Forbidden(
            "this is an activation token: it only makes your own token; run `facedocket token create` "
            "(POST /tokens) with it, then act with the token that prints"
        )
    roles = roles_for(action, side)
    whose = "" if side == OWN else (" of the operator agency" if permission.operator else " of the other agency")
    if not roles:
        raise Forbidden(f"nobody may {permission.words} here")
    raise Forbidden(
        f"{actor.username} is {actor.role}; to {permission.words} needs one of: {', '.join(sorted(roles))}{whose}"
    )


def table_markdown() -> str:
    """The permission table as Markdown (for docs/architecture.md)."""
    head = "| action | what | own agency | other agency |\n| --- | --- | --- | --- |"
    rows = [
        f"| `{p.action}` | {p.words} | {', '.join(sorted(p.own)) or '—'} | "
        f"{', '.join(sorted(p.other)) or '—'}{' (operator agency)' if p.operator and p.other else ''} |"
        for p in _TABLE
    ]
    return "\n".join([head, *rows])
