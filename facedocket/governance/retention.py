"""What retention makes due: given records (id, time, what holds them), periods and legal holds.

Periods come from the owning agency's policy profile (a gallery may set its own template
period) and are bounded by :data:`~facedocket.vocab.MAX_RETENTION_DAYS`. A record is due when
it is older than its period; a due record that a live legal hold covers is kept and counted
as held. The audit log has a minimum period only: nothing purges it. Pure: the service
reads the rows, asks :func:`due`, and deletes what it says in one transaction per agency.

Example::

    split = due([(7, created, case_id)], now, days=30, held={case_id})
    split.deleted, split.held   # ([], [7])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from facedocket.errors import InvalidInput
from facedocket.governance.policy import PolicyProfile
from facedocket.vocab import MAX_RETENTION_DAYS

_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)

PHOTO_RULE = "retention.keep_enrolment_photos"
"""The profile key that allows or forbids keeping enrolment photos."""

PHOTOS_WHAT = "each subject's source photo and its aligned face crop, encrypted"
NOT_KEPT_REST = "only the templates made from them and the photos' SHA-256 are kept"


def photos_allowed(profile: PolicyProfile | None) -> bool:
    """Whether ``profile`` lets galleries keep enrolment photos (no profile: nothing forbids it)."""
    return profile is None or profile.retention.keep_enrolment_photos


def photos_kept(profile: PolicyProfile | None, gallery_keeps: bool) -> bool:
    """Whether enrolment keeps photos in a gallery: its setting, unless the profile forbids it."""
    return gallery_keeps and photos_allowed(profile)


def photo_refusal(profile: PolicyProfile | None) -> str | None:
    """Why a gallery may not be set to keep photos under ``profile`` (None: it may)."""
    if photos_allowed(profile):
        return None
    assert profile is not None
    return f"policy profile {profile.name} forbids keeping enrolment photos ({PHOTO_RULE} is false)"


def photo_days(profile: PolicyProfile | None) -> int | None:
    """Days enrolment photos are kept under ``profile``: 0 when it forbids them (the retention
    run deletes any a gallery still holds), else its ``enrolment_images`` period."""
    if profile is None:
        return None
    return profile.retention.enrolment_images if photos_allowed(profile) else 0


def _period(days: int | None) -> str:
    if days is None:
        return "until someone erases them"
    if days == 0:
        return "only until the next retention run"
    return f"for {days} day{'s' if days != 1 else ''}"


def enrolment_photos_note(profile: PolicyProfile | None, gallery_keeps: bool | None = None,
                          held: int | None = None) -> str:  # fmt: skip
    """What FaceDocket keeps of enrolment photos, in one sentence: the one truth that `policy
    show` (``gallery_keeps`` None: the profile alone), a gallery (``held`` None) and a subject
    access export (the subject's gallery and how many photos it holds of the subject) say.

    Example::

        >>> enrolment_photos_note(None, gallery_keeps=False).split(":")[0]
        'This gallery does not keep enrolment photos'
    """
    if not photos_allowed(profile):
        assert profile is not None
        return f"Enrolment photos are not kept: policy profile {profile.name} forbids it; {NOT_KEPT_REST}."
    days = photo_days(profile)
    if gallery_keeps is None:
        return (
            f"Enrolment photos ({PHOTOS_WHAT}) are kept for examiners to compare candidates with, in galleries that "
            f"keep photos (the default), {_period(days)}; in a gallery that keeps none, {NOT_KEPT_REST}."
        )
    if not gallery_keeps:
        return f"This gallery does not keep enrolment photos: {NOT_KEPT_REST}."
    if held is None:
        return f"This gallery keeps enrolment photos ({PHOTOS_WHAT}) for examiners to compare candidates with, " + (
            f"{_period(days)}."
        )
    if held:
        return (
            f"This gallery keeps enrolment photos ({PHOTOS_WHAT}) for examiners to compare candidates with; "
            f"{held} {'is' if held == 1 else 'are'} kept of this subject, {_period(days)}."
        )
    return (
        f"This gallery keeps enrolment photos ({PHOTOS_WHAT}), but none exists of this subject: it was enrolled "
        "before FaceDocket kept photos, or its photos were deleted by retention."
    )


def check_period(days: int | None, what: str = "a retention period") -> int | None:
    """``days`` if it is a period FaceDocket accepts (0 to MAX_RETENTION_DAYS, or None: until
    erased); else InvalidInput."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"{what} is 0 to {MAX_RETENTION_DAYS} days (or none: kept until erased)")
    return days


def cutoff(now: datetime, days: int | None) -> datetime | None:
    """The time before which records ``days`` old are due; None when nothing can be due
    (no period, or one longer than the calendar goes back)."""
    if days is None:
        return None
    try:
        moment = now - timedelta(days=days)
    except OverflowError:
        return None
    return None if moment < _EARLIEST else moment


@dataclass
class Due:
    """Record ids a period makes due: to delete, and kept by a legal hold."""

    deleted: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)


def due(records: Iterable[tuple[int, datetime, int | None]], now: datetime, days: int | None,
        held: set[int]) -> Due:  # fmt: skip
    """Split ``records`` — (id, time, the id a hold would name or None) — into the due ones to
    delete and the due ones a hold keeps. Records within their period are in neither."""
    split = Due()
    limit = cutoff(now, days)
    if limit is None:
        return split
    for record_id, moment, holder in records:
        if moment <= limit:
            (split.held if holder is not None and holder in held else split.deleted).append(record_id)
    return split


def template_days(gallery_days: int | None, profile_days: int | None) -> int | None:
    """A gallery's own template period wins over its profile's."""
    return gallery_days if gallery_days is not None else profile_days


def consent_live(given: datetime, expires: datetime | None, withdrawn: datetime | None, now: datetime) -> bool:
    """Whether a consent holds at ``now``."""
    return withdrawn is None and given <= now and (expires is None or expires > now)
