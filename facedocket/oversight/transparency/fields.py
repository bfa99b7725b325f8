"""What a transparency report holds: every field with its plain definition and the law (or
record) that asks for it (:data:`FIELD_DEFINITIONS`), and the *field sets* that pick the fields
one law asks for (:data:`FIELD_SETS`)."""

from __future__ import annotations

from dataclasses import dataclass

from facedocket.errors import InvalidInput
from facedocket.oversight.transparency.periods import Period, period_of

_MA = "M.G.L. c. 6 § 220"
_MD = "Md. Code, Crim. Proc. § 2-510"
_EU = "Regulation (EU) 2024/1689 Art. 26(10)"
_FD = "FaceDocket audit log"
_APP = "College of Policing, Authorised Professional Practice: Live facial recognition (2022)"
_ICO = "ICO Opinion on live facial recognition in public places (2021)"
_FTC = "FTC v. Rite Aid Corp. order (2023), automated biometric security systems"
_EU5 = "Regulation (EU) 2024/1689 Art. 5(4), 5(6)"

FIELD_DEFINITIONS: dict[str, dict[str, str]] = {
    "searches": {
        "definition": "1:N searches (a probe photo against one or more galleries) run in the period by the "
        "agency reported on, under a written request.",
        "source": f"{_MA}; {_MD}; {_EU}",
    },
    "verifications": {
        "definition": "1:1 verifications (a probe photo against one person's record) run in the period by the "
        "agency reported on, under a written request.",
        "source": f"{_MA}; {_MD}; {_EU}",
    },
    "searches_by_agency": {
        "definition": "Searches and verifications run in the period, by the agency that ran them.",
        "source": f"{_MA}; {_MD}; {_EU}",
    },
    "searches_by_legal_basis": {
        "definition": "Searches and verifications run in the period, by the legal basis of the request they ran "
        "under (court order, warrant, emergency, identifying a deceased person, ...). Every legal basis is "
        "listed, with 0 where none was used.",
        "source": f"{_MA}; {_EU}",
    },
    "searches_by_offence": {
        "definition": "Searches and verifications run in the period, by the offence category of the case the "
        "request was filed under. Every offence category is listed, with 0 where none was searched for.",
        "source": f"{_MD}; {_MA}; {_EU}",
    },
    "searches_by_gallery": {
        "definition": "Searches and verifications run in the period, by gallery (the photo collection searched, "
        "e.g. licence photos or booking photos). A search of several galleries counts once for each; two "
        "galleries of the same name are told apart by their agency.",
        "source": _MA,
    },
    "searches_by_requesting_agency": {
        "definition": "Searches and verifications run in the period by the agency reported on, by the agency "
        "that filed the request (itself, or another agency that asked its face-search unit).",
        "source": _MA,
    },
    "searches_requested_of_other_agencies": {
        "definition": "Searches and verifications run in the period by another agency under a request the "
        "agency reported on filed with it, by the agency that ran them.",
        "source": _MA,
    },
    "requests_filed": {
        "definition": "Written requests filed in the period that the agency reported on filed or received.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_submitted": {
        "definition": "Written requests submitted for approval in the period that the agency reported on filed "
        "or received.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_approved": {
        "definition": "Requests approved by a supervisor of the receiving agency in the period (before the "
        "search, or after an emergency search).",
        "source": f"{_MA}; {_EU}",
    },
    "requests_denied": {
        "definition": "Requests denied by a supervisor of the receiving agency in the period; a denial after an "
        "emergency search purged its results.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_expired": {
        "definition": "Emergency requests whose deadline for approval after the search passed in the period "
        "without an approval; their results were purged.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_to_other_agencies": {
        "definition": "Requests the agency reported on filed in the period with another agency's face-search unit.",
        "source": _MA,
    },
    "emergency_searches": {
        "definition": "Searches and verifications run in the period on the emergency path: under an emergency "
        "legal basis, before a supervisor approved the request.",
        "source": f"{_MA}; {_EU}",
    },
    "emergency_approval": {
        "definition": "Emergency requests with a search in the period, by how their approval ended as of the "
        "report: approved, denied, expired (the deadline passed) or still pending.",
        "source": f"{_MA}; {_EU}",
    },
    "searches_refused": {
        "definition": "Search attempts the policy gate refused in the period (no search ran), counted for the "
        "agency that attempted them.",
        "source": _EU,
    },
    "refusals_by_rule": {
        "definition": "Refused search attempts in the period, by each policy rule that refused them (one attempt "
        "that broke two rules counts under both).",
        "source": _EU,
    },
    "outcomes": {
        "definition": "Requests with a search in the period, by outcome as of the report: lead (a candidate was "
        "judged a possible match by trained reviewers), no-lead, open (review not finished) or purged (denied or "
        "expired after an emergency search).",
        "source": f"{_MA}; {_MD}",
    },
    "possible_matches": {
        "definition": "Candidates of searches run in the period that reviewers judged a possible match or that "
        "were released to the requesting agency. A possible match is an investigative lead, not an "
        "identification.",
        "source": _MD,
    },
    "possible_matches_by_sex": {
        "definition": "Possible matches by the sex recorded for the person in the gallery; 'not recorded' where "
        "the gallery holds none.",
        "source": _MD,
    },
    "possible_matches_by_age_group": {
        "definition": "Possible matches by age group: the search year minus the birth year recorded for the "
        "person in the gallery; 'not recorded' where the gallery holds no birth year.",
        "source": _MD,
    },
    "possible_matches_by_race": {
        "definition": "Possible matches by the race recorded for the person in the gallery (the 'race' attribute, "
        "as the gallery records it); 'not recorded' where the gallery holds none.",
        "source": _MD,
    },
    "subjects_erased": {
        "definition": "Person records erased in the period (on request or by order), with their templates and photos.",
        "source": f"{_FD}; {_EU}",
    },
    "requests_purged": {
        "definition": "Requests whose probe photo and candidate lists were purged in the period because approval "
        "was denied or came too late.",
        "source": f"{_EU}; {_MA}",
    },
    "records_purged": {
        "definition": "Records deleted in the period by the retention job because their retention period ended, "
        "by record type.",
        "source": f"{_FD}; {_EU}",
    },
    "legal_holds_placed": {
        "definition": "Legal holds placed in the period (records kept past their retention period for litigation "
        "or an investigation).",
        "source": _FD,
    },
    "legal_holds_released": {
        "definition": "Legal holds released in the period.",
        "source": _FD,
    },
    "video_deployments": {
        "definition": "Video deployments (a camera or a recording matched against watchlists) that matched faces "
        "at some time in the period.",
        "source": f"{_APP}; {_ICO}; {_EU5}",
    },
    "video_hours_active": {
        "definition": "Hours the deployments matched faces in the period (from each start the policy gate allowed "
        "to its stop), summed over deployments.",
        "source": f"{_APP}; {_ICO}",
    },
    "faces_seen": {
        "definition": "Faces that came into view of the deployments in the period (one per tracked face; a person "
        "who walks past twice counts twice). Only this number is kept of the faces that did not match.",
        "source": f"{_APP}; {_ICO}",
    },
    "alerts": {
        "definition": "Alerts raised in the period: watchlist matches put before a person (repeated matches of the "
        "same person merged). An alert is not an identification.",
        "source": f"{_APP}; {_ICO}; {_FTC}; {_EU5}",
    },
    "alerts_confirmed": {
        "definition": "Alerts a person confirmed in the period (an incident record was made).",
        "source": f"{_APP}; {_ICO}; {_FTC}",
    },
    "alerts_dismissed": {
        "definition": "Alerts a person dismissed in the period as false alerts.",
        "source": f"{_APP}; {_ICO}; {_FTC}",
    },
    "false_alert_share": {
        "definition": "Alerts dismissed in the period as a share of the alerts decided in it (confirmed or "
        "dismissed); empty when none was decided.",
        "source": f"{_APP}; {_ICO}; {_FTC}",
    },
    "false_alert_rate": {
        "definition": "Alerts dismissed in the period per face seen in it (the rate at which a passer-by is wrongly "
        "alerted on); empty when no face was seen.",
        "source": f"{_APP}; {_ICO}; {_FTC}",
    },
    "deployments_refused": {
        "definition": "Times the policy gate refused to start a deployment or to let it go on (a forbidden use, a "
        "threshold below the floor, no DPIA, signage or authorisation, no open time window).",
        "source": f"{_APP}; {_ICO}; {_FD}",
    },
    "watchlist_entries_added": {
        "definition": "Watchlist entries added in the period (each with a reason code, an incident, who authorised "
        "it and an expiry).",
        "source": f"{_APP}; {_ICO}",
    },
    "watchlist_entries_expired": {
        "definition": "Watchlist entries whose expiry passed in the period (their templates were deleted).",
        "source": f"{_APP}; {_ICO}; {_FD}",
    },
    "watchlist_entries_removed": {
        "definition": "Watchlist entries a person removed in the period (their templates were deleted).",
        "source": f"{_APP}; {_ICO}; {_FD}",
    },
}
"""Every field a report can hold: a plain definition and the law (or record) it serves."""


@dataclass(frozen=True)
class FieldSet:
    """The fields one law asks for, the period it covers (None: any) and a title."""

    title: str
    law: str
    period: str | None
    fields: tuple[str, ...]


_MA_FIELDS = (
    "searches",
    "verifications",
    "searches_by_agency",
    "searches_by_requesting_agency",
    "searches_requested_of_other_agencies",
    "searches_by_legal_basis",
    "searches_by_offence",
    "searches_by_gallery",
    "emergency_searches",
    "emergency_approval",
    "requests_filed",
    "requests_approved",
    "requests_denied",
    "requests_expired",
    "requests_to_other_agencies",
    "outcomes",
)

FIELD_SETS: dict[str, FieldSet] = {
    "massachusetts-quarterly": FieldSet("Facial recognition searches: quarterly report", _MA, "quarter", _MA_FIELDS),
    "massachusetts-annual": FieldSet("Facial recognition searches: annual report", _MA, "year", _MA_FIELDS),
    "maryland-annual": FieldSet(
        "Facial recognition technology: annual report",
        _MD,
        "year",
        (
            "searches",
            "verifications",
            "searches_by_agency",
            "searches_by_offence",
            "outcomes",
            "possible_matches",
            "possible_matches_by_sex",
            "possible_matches_by_age_group",
            "possible_matches_by_race",
        ),
    ),
    "eu-art-26-10-yearly": FieldSet(
        "Post-remote biometric identification: annual report",
        _EU,
        "year",
        (
            "searches",
            "verifications",
            "searches_by_agency",
            "searches_by_legal_basis",
            "searches_by_offence",
            "requests_filed",
            "requests_approved",
            "requests_denied",
            "requests_expired",
            "emergency_searches",
            "emergency_approval",
            "requests_purged",
            "searches_refused",
            "refusals_by_rule",
            "subjects_erased",
            "records_purged",
        ),
    ),
    "live-facial-recognition": FieldSet(
        "Live facial recognition: deployments and alerts",
        f"{_APP}; {_ICO}",
        None,
        (
            "video_deployments",
            "video_hours_active",
            "faces_seen",
            "alerts",
            "alerts_confirmed",
            "alerts_dismissed",
            "false_alert_share",
            "false_alert_rate",
            "deployments_refused",
            "watchlist_entries_added",
            "watchlist_entries_expired",
            "watchlist_entries_removed",
        ),
    ),
    "full": FieldSet(
        "Transparency report: every field",
        f"{_MA}; {_MD}; {_EU}; {_APP}; {_ICO}; {_FTC}; {_FD}",
        None,
        tuple(FIELD_DEFINITIONS),
    ),
}
"""Field sets by name; each is named after the law it serves."""


def field_set_of(name: str) -> FieldSet:
    """The field set ``name``; InvalidInput names the ones there are."""
    fields = FIELD_SETS.get(name)
    if fields is None:
        raise InvalidInput(f"no field set {name!r}; use one of: {', '.join(FIELD_SETS)}")
    return fields


def check_request(period: str, field_set: str) -> Period:
    """The period, after checking it and the field set go together (InvalidInput otherwise)."""
    chosen = period_of(period)
    fields = field_set_of(field_set)
    if fields.period is not None and fields.period != chosen.kind:
        example = {"quarter": "2026Q3", "year": "2026", "month": "2026-07"}[fields.period]
        raise InvalidInput(
            f"the {field_set} report covers a {fields.period} (e.g. {example}); {chosen.label} is a {chosen.kind}"
        )
    return chosen


__all__ = ["FIELD_DEFINITIONS", "FIELD_SETS", "FieldSet", "check_request", "field_set_of"]
