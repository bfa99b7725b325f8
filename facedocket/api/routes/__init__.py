"""One router per resource, all mounted under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket.api.routes import (
    agencies,
    alerts,
    audit,
    cases,
    deployments,
    evaluations,
    galleries,
    health,
    models,
    oversight,
    policy,
    reports,
    requests,
    searches,
    subjects,
    tokens,
    users,
    watchlists,
)

ROUTERS: list[APIRouter] = [
    health.router,
    agencies.router,
    users.router,
    tokens.router,
    policy.router,
    galleries.router,
    subjects.router,
    cases.router,
    requests.router,
    searches.router,
    audit.router,
    reports.router,
    oversight.router,
    evaluations.router,
    watchlists.router,
    deployments.router,
    alerts.router,
    models.router,
]

TAGS = [
    {"name": "health", "description": "Is the API up. The only endpoint that needs no token."},
    {"name": "agencies", "description": "Tenants. No agency sees another's data unless a gallery is shared."},
    {"name": "users", "description": "Users of your agency and their roles."},
    {"name": "tokens", "description": "Bearer tokens (shown once) and who you are."},
    {
        "name": "policy",
        "description": "The policy profile (data, not code) every request and search of an agency is checked against.",
    },
    {"name": "galleries", "description": "Named sets of enrolled templates with a declared source and purpose."},
    {"name": "subjects", "description": "Person records in a gallery; enrolment by photo upload."},
    {"name": "cases", "description": "Investigations; written requests are filed under them."},
    {
        "name": "requests",
        "description": "Written requests: file, approve or deny, search and verify under one, review the "
        "candidates, conclude, close, export the case file.",
    },
    {
        "name": "searches",
        "description": "Searches made under requests, read back; candidate lists are investigative leads.",
    },
    {"name": "audit", "description": "The append-only, hash-chained audit log: read, verify, export."},
    {"name": "reports", "description": "Transparency reports: counts per period, anchored to the audit chain."},
    {"name": "oversight", "description": "Legal holds and the retention run (erasure and access export: subjects)."},
    {"name": "evaluations", "description": "Accuracy evaluations kept on record; the threshold calibrated from one."},
    {
        "name": "watchlists",
        "description": "Watchlists (galleries of purpose watchlist) and their entries: reason code, incident, who "
        "authorised it, expiry, a second person's approval.",
    },
    {
        "name": "deployments",
        "description": "Where and when a camera or video is matched against watchlists; the policy gate; background "
        "workers started and stopped here; per-deployment reports.",
    },
    {
        "name": "alerts",
        "description": "Watchlist matches waiting for a person to confirm or dismiss them (never identifications); "
        "new ones by long-poll or server-sent events.",
    },
    {
        "name": "models",
        "description": "Template models: the shipped ones and the operator's own, and calibrating the latter.",
    },
]
