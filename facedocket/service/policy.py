"""The policy profile active for each agency: activation, and reading it back.

Activation copies the profile and its text into the database, with the SHA-256 of the text;
later edits to a file change nothing until it is activated again. Only the files FaceDocket
ships may carry a shipped profile's name, and no profile may let a search use a threshold
looser than the model card's FMR 1e-3 threshold (``search.threshold_floor_fmr`` at most
1e-3). Every request and search records the name and SHA-256 of the profile it ran under.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session

from facedocket.errors import InvalidInput, NotFound
from facedocket.governance.permissions import Actor, require
from facedocket.governance.policy import PolicyProfile, ProfileSource, profile_from_dict, profile_source, read_profile
from facedocket.service.context import Area
from facedocket.store.queries import accounts as queries
from facedocket.vocab import TEXT_LIMITS

MAX_PROFILE_TEXT = TEXT_LIMITS["policy text"]
"""Longest profile text accepted (characters)."""


@dataclass(frozen=True)
class ActivePolicy:
    """An agency's active profile and the SHA-256 of the text it was activated from."""

    profile: PolicyProfile
    sha256: str


def policy_of(session: Session, agency_id: int) -> ActivePolicy | None:
    """The profile active for an agency (None when none is). Profiles are parsed once per
    text (by its SHA-256; they are immutable): a search reads the policy three times."""
    agency = queries.agency(session, agency_id)
    if agency is None or not agency.policy:
        return None
    sha256 = agency.policy_sha256
    profile = _parsed.get(sha256) if sha256 else None
    if profile is None:
        profile = profile_from_dict(agency.policy)
        if sha256:
            with _parsed_lock:
                if len(_parsed) >= 256:
                    _parsed.clear()
                _parsed[sha256] = profile
    return ActivePolicy(profile, sha256)


_parsed: dict[str, PolicyProfile] = {}
_parsed_lock = threading.Lock()


class Policies(Area):
    """Activating and reading policy profiles (see the module docstring)."""

    def activate_policy(self, actor: Actor, name_or_path: str, agency_id: int | None = None) -> PolicyProfile:
        """Make a profile (shipped name or file) the one active for an agency: the admin's own,
        or (operator admins) any agency."""
        require(actor, "policy.activate")
        return self._set(actor, read_profile(name_or_path), agency_id)

    def activate_policy_text(self, actor: Actor, text: str, agency_id: int | None = None) -> PolicyProfile:
        """Like :meth:`activate_policy`, from TOML text (an upload)."""
        require(actor, "policy.activate")
        if len(text) > MAX_PROFILE_TEXT:
            raise InvalidInput(f"a policy profile is at most {MAX_PROFILE_TEXT} characters")
        return self._set(actor, profile_source(text), agency_id)

    def _set(self, actor: Actor, source: ProfileSource, agency_id: int | None) -> PolicyProfile:
        target = actor.agency_id if agency_id is None else agency_id
        require(actor, "policy.activate", actor.side(target))
        with self.ctx.write() as session:
            agency = queries.lock_agency(session, target)
            if agency is None:
                raise NotFound(f"no agency {target}")
            previous = agency.policy_name
            agency.policy_name = source.profile.name
            agency.policy = source.profile.model_dump(mode="json")
            agency.policy_sha256 = source.sha256
            agency.policy_text = source.text
            self.ctx.audit(session, actor, "policy.activated", "agency", agency.id,
                           {"profile": source.profile.name, "policy_sha256": source.sha256, "shipped": source.shipped,
                            "previous": previous}, agency_id=agency.id)  # fmt: skip
        return source.profile

    def active_policy(self, actor: Actor, agency_id: int | None = None) -> PolicyProfile | None:
        """The profile active for the actor's agency (or, for operator admins and auditors,
        another's)."""
        active = self.active(actor, agency_id)
        return active.profile if active else None

    def active(self, actor: Actor, agency_id: int | None = None) -> ActivePolicy | None:
        """The active profile with the SHA-256 of its text."""
        target = actor.agency_id if agency_id is None else agency_id
        if target != actor.agency_id and not (actor.operator and actor.role in ("admin", "auditor")):
            raise NotFound(f"no agency {target}")
        require(actor, "policy.read", actor.side(target))
        with self.ctx.read() as session:
            return policy_of(session, target)
