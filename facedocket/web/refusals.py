"""A policy refusal in plain words: each failed rule with what it asks and why it failed.

The words come from the governance rule lists (the request rules, the watchlist entry rules,
the deployment gate's rules); a page shows them, it never decides them. Two deployment rules
read the same profile key (``forbidden_uses``), so a failure is matched to the checklist
verdict that gave the same reason where there is one.

Example::

    except PolicyDenied as refused:
        failed = failures(refused, DEPLOYMENT_WORDS, info.checklist)
        # [{"rule": "forbidden_uses", "words": "Watchlist alerts are not ...", "why": "..."}]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from facedocket.errors import PolicyDenied
from facedocket.governance.rules import NO_POLICY, RULES, Verdict
from facedocket.governance.watchlists import DEPLOYMENT_RULES, ENTRY_RULES


class _Rule(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def words(self) -> str: ...


def _words(rules: Iterable[_Rule]) -> dict[str, str]:
    words: dict[str, str] = {}
    for rule in rules:
        if rule.words not in words.get(rule.name, "").split(" / "):
            words[rule.name] = f"{words[rule.name]} / {rule.words}" if rule.name in words else rule.words
    words[NO_POLICY[0]] = "A policy profile is active."
    return words


REQUEST_WORDS = _words(RULES)
"""Rule name -> what it asks, for requests and searches."""
ENTRY_WORDS = _words(ENTRY_RULES)
"""Rule name -> what it asks, for a watchlist entry."""
DEPLOYMENT_WORDS = _words(DEPLOYMENT_RULES)
"""Rule name -> what it asks, for a deployment (its creation and the gate at its start)."""


def failures(error: PolicyDenied, words: dict[str, str], checklist: Sequence[Verdict] = ()) -> list[dict[str, str]]:
    """Each failed rule of a refusal: its name, what it asks (from the verdict that gave the
    same reason, else from ``words``) and why it failed."""
    said = {(v.rule, v.why): v.words for v in checklist if v.state == "failed"}
    return [{"rule": rule, "words": said.get((rule, why)) or words.get(rule, rule), "why": why}
            for rule, why in error.failures]  # fmt: skip


__all__ = ["DEPLOYMENT_WORDS", "ENTRY_WORDS", "REQUEST_WORDS", "failures"]
