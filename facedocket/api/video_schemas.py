"""Bodies of the video routes (watchlists, deployments, alerts), in the families of
:mod:`facedocket.api.schemas`: ``XCreate`` in, ``XPublic`` out, built from the service's
frozen dataclasses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from facedocket.api.schemas import GalleryPublic, UtcDatetime, _Public
from facedocket.vocab import ALERT_STATES, DEPLOYMENT_STATES, ENTRY_STATES, SOURCE_KINDS, WATCHLIST_REASONS

# --- watchlists ------------------------------------------------------------------------------


class WatchlistCreate(BaseModel):
    name: str = Field(description="The watchlist's name, unique among your agency's galleries.")
    source: str = Field(description='Where its photos come from, e.g. "incident reports of the Main St store".')


class WatchlistPublic(BaseModel):
    gallery: GalleryPublic = Field(description="The watchlist's gallery (purpose `watchlist`).")
    entries: dict[str, int] = Field(description=f"Entries by state: {', '.join(ENTRY_STATES)}.")


class WatchlistsPublic(BaseModel):
    data: list[WatchlistPublic] = Field(description="Your agency's watchlists.")
    count: int = Field(description="How many are listed.")


class EntryPublic(_Public):
    id: int = Field(description="The entry's id.")
    gallery_id: int = Field(description="The watchlist (gallery) it is on.")
    subject_id: int | None = Field(description="The person record; none once the entry ended (it was deleted).")
    reference: str | None = Field(description="The person's reference in the watchlist; none once the entry ended.")
    reason: str = Field(description=f"The reason code: one of {', '.join(WATCHLIST_REASONS)} the policy allows.")
    incident_reference: str = Field(description="The incident report the entry rests on.")
    evidence_notes: str = Field(description="Notes on the evidence.")
    authorised_by: str = Field(description="Who authorised the entry (name and role).")
    authorised_at: UtcDatetime = Field(description="When they authorised it.")
    added_by: int = Field(description="The user who added it.")
    added: UtcDatetime = Field(description="When it was added.")
    expires: UtcDatetime = Field(description="When it leaves the list (its templates are then deleted).")
    status: str = Field(description=f"One of {', '.join(ENTRY_STATES)}; only active entries are matched.")
    approved_by: int | None = Field(description="The second person who approved it, where the policy asks.")
    approved: UtcDatetime | None = Field(description="When it was approved.")
    ended: UtcDatetime | None = Field(description="When it expired or was removed.")
    end_reason: str = Field(description="Why it ended.")
    templates: int = Field(description="Templates it is matched with (0 once it ended).")


class EntriesPublic(BaseModel):
    data: list[EntryPublic] = Field(description="The watchlist's entries, oldest first.")
    count: int = Field(description="How many are listed.")


class EntryRemove(BaseModel):
    reason: str = Field(description="Why the entry is removed (required).")


# --- deployments -----------------------------------------------------------------------------


class DeploymentCreate(BaseModel):
    name: str = Field(description="The deployment's name, unique in your agency.")
    source: str = Field(
        description=f"What it watches ({', '.join(SOURCE_KINDS)}): a file path on the server, an rtsp://, http:// "
        "or udp:// URL, or /dev/videoN. Shown back without credentials."
    )
    site: str = Field(description="The site, e.g. the store's name and address.")
    place: str = Field(description="What the camera looks at, e.g. the entrance, inside the doors.")
    windows: list[str] = Field(
        description="When it may match: DAYS HH:MM-HH:MM each (daily, mon-fri, sat,sun; an end before the start "
        "runs past midnight), in `timezone`."
    )
    timezone: str = Field("UTC", description="IANA time zone of the windows, e.g. Europe/London.")
    watchlists: list[int] = Field(description="Gallery ids of the watchlists it matches (purpose `watchlist`).")
    threshold: float | None = Field(
        None, description="Score a match must reach; default and minimum: the policy's watchlist floor."
    )
    dpia_reference: str = Field("", description="Reference of its data protection impact assessment.")
    signage: bool = Field(False, description="True when signs at the site tell people that cameras match faces.")


class AuthorisationCreate(BaseModel):
    reference: str = Field(description="The reference of the supervisor's authorisation decision.")


class VerdictPublic(_Public):
    rule: str = Field(description="The rule: the profile key that sets it.")
    words: str = Field(description="What it asks, in plain words.")
    state: str = Field(description="passed or failed (now).")
    why: str = Field(description="Why it fails; empty when it passes.")


class WorkerPublic(_Public):
    deployment_id: int = Field(description="The deployment.")
    state: str = Field(description="matching, waiting (for a time window), restarting, starting or stopped.")
    run_id: int | None = Field(description="Its current run.")
    restarts: int = Field(description="Restarts in a row after the worker died.")
    last_error: str = Field(description="Why it died or stopped last.")
    source: str = Field(description="connecting, connected, or dropped (with the error).")
    frames: int = Field(description="Frames read in the last finished run.")
    alerts: int = Field(description="Hits seen by this worker.")


class DeploymentPublic(_Public):
    id: int = Field(description="The deployment's id.")
    name: str = Field(description="Its name.")
    source: str = Field(description="Its source, without credentials.")
    source_kind: str = Field(description=f"One of {', '.join(SOURCE_KINDS)} (all but file are live video).")
    site: str = Field(description="The site.")
    place: str = Field(description="What the camera looks at.")
    windows: list[str] = Field(description="Its time windows.")
    timezone: str = Field(description="The windows' time zone.")
    watchlists: list[int] = Field(description="The watchlists it matches.")
    threshold: float = Field(description="The score a match must reach.")
    floor: float | None = Field(description="The policy's watchlist floor (none without a policy).")
    dpia_reference: str = Field(description="Its DPIA reference.")
    signage: bool = Field(description="Signs at the site are confirmed.")
    authorised: UtcDatetime | None = Field(description="When a supervisor authorised it.")
    authorised_by: int | None = Field(description="Who authorised it.")
    authorisation_reference: str = Field(description="The authorisation's reference.")
    status: str = Field(description=f"One of {', '.join(DEPLOYMENT_STATES)} (waiting: for a time window).")
    window_open: bool = Field(description="Whether one of its windows is open now.")
    entries: int = Field(description="Active entries it would match now.")
    run_id: int | None = Field(description="Its open run, if any.")
    checklist: list[VerdictPublic] = Field(description="The policy gate's verdict on it now, rule by rule.")
    worker: WorkerPublic | None = Field(None, description="Its background worker in this server, if any.")


class DeploymentsPublic(BaseModel):
    data: list[DeploymentPublic] = Field(description="Your agency's deployments.")
    count: int = Field(description="How many are listed.")


# --- alerts ----------------------------------------------------------------------------------


class AlertPublic(_Public):
    """An alert as the alert queue shows it: where, who is on the list and why, how strong
    the match is and what the model card expects in false alerts, and the decision."""

    id: int = Field(description="The alert's id (ids only grow: wait for ids above the last you saw).")
    label: str = Field(description="Always: a watchlist match awaiting review, not an identification.")
    status: str = Field(description=f"One of {', '.join(ALERT_STATES)}.")
    deployment_id: int = Field(description="The deployment that raised it.")
    deployment: str = Field(description="The deployment's name.")
    site: str = Field(description="The deployment's site.")
    place: str = Field(description="What the camera looks at.")
    entry_id: int = Field(description="The watchlist entry matched.")
    entry_status: str = Field(description="The entry's state now.")
    reference: str | None = Field(description="The listed person's reference (none once the entry ended).")
    reason_code: str = Field(description="Why the person is on the list.")
    incident_reference: str = Field(description="The incident the entry rests on.")
    entry_expires: UtcDatetime = Field(description="When the entry expires.")
    gallery_id: int = Field(description="The watchlist's gallery id.")
    watchlist: str = Field(description="The watchlist's name.")
    score: float = Field(description="The match's score (a similarity, not a probability).")
    threshold: float = Field(description="The deployment's threshold.")
    model_id: str = Field(description="The template model.")
    entries: int = Field(description="Entries on the watchlists matched when the alert was raised.")
    false_alert_probability: float | None = Field(
        description="The model card's chance that a face not on the list matches one of these entries at this "
        "threshold."
    )
    faces_per_hour: float = Field(description="Faces per hour the run had seen (over at least a minute).")
    expected_false_alerts_per_hour: float | None = Field(
        description="False alerts an hour expected at this threshold, list size and faces per hour."
    )
    matches: list[dict[str, Any]] = Field(description="Every entry matched, best first: entry_id and score.")
    track_id: int = Field(description="The tracked face in the video.")
    video_time: float = Field(description="Seconds into the stream of the match.")
    frame_time: float = Field(description="Seconds into the stream of the frame the crop comes from.")
    latency_s: float = Field(description="Seconds of video from the face's first detection to the match.")
    quality: float = Field(description="Quality score of the matched face (0 unusable, 1 ideal).")
    box: list[float] = Field(description="The face's box in the frame: left, top, right, bottom (pixels).")
    has_crop: bool = Field(description="The face crop is kept (GET /alerts/{id}/crop); false once purged.")
    repeats: int = Field(description="Later matches of the same person merged into this alert.")
    created: UtcDatetime = Field(description="When the alert was raised.")
    last_seen: UtcDatetime = Field(description="When the person was last matched.")
    decided_by: int | None = Field(description="Who confirmed or dismissed it.")
    decided: UtcDatetime | None = Field(description="When.")
    reason: str = Field(description="Their reason.")
    incident_id: int | None = Field(description="The incident record a confirmation made.")


class AlertsPublic(BaseModel):
    data: list[AlertPublic] = Field(description="Alerts, oldest first (ids above `after`).")
    count: int = Field(description="How many are listed.")
    last_id: int = Field(description="The highest id listed (or `after`): pass it as `after` next time.")


class AlertDecision(BaseModel):
    reason: str = Field(description="Why the alert is confirmed or dismissed (required).")


__all__ = [
    "AlertDecision",
    "AlertPublic",
    "AlertsPublic",
    "AuthorisationCreate",
    "DeploymentCreate",
    "DeploymentPublic",
    "DeploymentsPublic",
    "EntriesPublic",
    "EntryPublic",
    "EntryRemove",
    "VerdictPublic",
    "WatchlistCreate",
    "WatchlistPublic",
    "WatchlistsPublic",
    "WorkerPublic",
]
