"""Input that broke the server (issue 11, item 1), each pinned through the REST API: integers
of 2**63 and more in path ids, JSON, form fields and ``offset`` (OverflowError), NaN and
infinite thresholds, lone surrogates in JSON, ``groups`` that is not an object, a TOML
nested 5,000 deep, and text with no length limit. Each answers in the error shape with a
4xx, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from facedocket.store.tables import AuditEvent
from facedocket.vocab import TEXT_LIMITS

from .helpers import Api, assert_error

BIG = 2**63
"""One past the largest id a table holds (a signed 64-bit integer)."""
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def w(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    """An agency with every role, a gallery with one subject, and a searched request."""
    api = make_api()
    token = api.staff(api.operator, "hi") | {"admin": api.operator}
    gallery = api.gallery(api.operator, "hostile booking photos")
    assert api.enrol(api.operator, gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", 1)).status_code == 201
    request = api.approved(token["requester"], token["supervisor"], photo("Aaron_Peirsol", 2), [gallery])
    assert api.search(token["examiner"], request).status_code == 201
    subject = api.subjects(api.operator, gallery)["Aaron_Peirsol"]
    return SimpleNamespace(api=api, token=token, gallery=gallery, request=request, subject=subject, photo=photo)


def events(api: Api) -> int:
    with api.service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def refused(response: Any, *fragments: str) -> dict[str, Any]:
    """A 4xx in the error shape (never a 5xx)."""
    assert 400 <= response.status_code < 500, response.text
    return assert_error(response, response.status_code, *fragments)


# --- integers of 2**63 and more --------------------------------------------------------------

PATHS = [
    ("GET", "/galleries/{big}"),
    ("POST", "/galleries/{big}/index/rebuild"),
    ("GET", "/galleries/{big}/subjects"),
    ("GET", "/subjects/{big}"),
    ("DELETE", "/subjects/{big}"),
    ("GET", "/subjects/{big}/export"),
    ("GET", "/cases/{big}"),
    ("GET", "/requests/{big}"),
    ("GET", "/requests/{big}/probe"),
    ("POST", "/users/{big}/activate"),
    ("DELETE", "/tokens/{big}"),
    ("GET", "/searches/{big}"),
    ("POST", "/holds/{big}/release"),
    ("GET", "/evaluations/{big}"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
@pytest.mark.parametrize("big", [BIG, 10**30])
def test_path_ids_of_2_63_and_more_are_refused(w: SimpleNamespace, method: str, path: str, big: int) -> None:
    """Was: OverflowError (500). Now: 422 naming the id's range."""
    refused(w.api.call(method, path.format(big=big), w.token["admin"]), "less than or equal to")


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [
        ("admin", "/galleries/{gallery}/shares", {"agency_id": BIG}),
        ("admin", "/subjects", {"gallery_id": BIG, "reference": "x"}),
        ("admin", "/holds", {"object_type": "subject", "object_id": BIG, "reason": "court order 7"}),
        ("admin", "/tokens", {"user_id": BIG}),
        ("examiner", "/requests/{request}/searches", {"galleries": [BIG]}),
        ("examiner", "/requests/{request}/searches", {"k": BIG}),
        ("examiner", "/requests/{request}/searches", {"face": BIG}),
        ("examiner", "/requests/{request}/verifications", {"subject_id": BIG}),
        ("examiner", "/requests/{request}/conclude", {"release": [BIG]}),
        ("admin", "/evaluations/1/calibrate", {"target_fmr": 0.001, "gallery_id": BIG}),
        ("admin", "/policy", {"profile": "research", "agency_id": BIG}),
    ],
)
def test_json_ids_of_2_63_are_refused(w: SimpleNamespace, role: str, path: str, body: dict[str, Any]) -> None:
    before = events(w.api)
    method = "PUT" if path == "/policy" else "POST"
    refused(w.api.call(method, path.format(**vars(w)), w.token[role], json=body))
    assert events(w.api) - before <= 1  # at most the token's use is recorded, nothing else


@pytest.mark.parametrize("field", ["case_id", "target_agency_id", "galleries"])
def test_form_ids_of_2_63_are_refused(w: SimpleNamespace, field: str) -> None:
    probe = w.photo("Aaron_Peirsol", 3)
    fields = {field: str(BIG)} if field != "galleries" else {}
    response = w.api.file(w.token["requester"], probe, galleries=str(BIG) if field == "galleries" else None, **fields)
    refused(response)


def test_form_birth_year_of_2_63_is_refused(w: SimpleNamespace) -> None:
    """Was: OverflowError when the subject was written (500)."""
    photo = w.photo("Aaron_Peirsol", 4).read_bytes()
    files = {"image": ("photo.jpg", photo, "image/jpeg")}
    data = {"reference": "big-birth-year", "birth_year": str(BIG)}
    refused(w.api.call("POST", f"/galleries/{w.gallery}/subjects", w.token["admin"], data=data, files=files))
    assert "big-birth-year" not in w.api.subjects(w.token["admin"], w.gallery)


@pytest.mark.parametrize("offset", [BIG, 10**30])
def test_offset_of_2_63_is_refused(w: SimpleNamespace, offset: int) -> None:
    refused(w.api.call("GET", f"/galleries/{w.gallery}/subjects?offset={offset}", w.token["admin"]))


# --- NaN and infinite numbers ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("route", ["searches", "verifications"])
def test_nan_and_infinite_thresholds_are_refused(w: SimpleNamespace, value: str, route: str) -> None:
    """Was: NaN passed the floor check (``NaN < floor`` is false) and broke the answer. Now: 422."""
    subject = f', "subject_id": {w.subject}' if route == "verifications" else ""
    body = f'{{"threshold": {value}{subject}}}'
    response = w.api.call("POST", f"/requests/{w.request}/{route}", w.token["examiner"], content=body, headers=JSON)
    refused(response, "threshold")


def test_an_evaluation_with_nan_or_infinite_numbers_is_refused(w: SimpleNamespace) -> None:
    """NaN kept in a saved evaluation cannot be answered as JSON (and PostgreSQL refuses it)."""
    body = '{"model": "m", "detector": "d", "verification": {"fnmr_at_fmr": {"0.001": NaN}, "eer": Infinity}}'
    refused(w.api.call("POST", "/evaluations", w.token["auditor"], content=body, headers=JSON), "finite")


# --- lone surrogates, control characters ------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [
        ("requester", "/cases", '{"number": "\\ud800", "offence_category": "robbery"}'),
        ("admin", "/galleries", '{"name": "a\\udfffb", "source": "s", "purpose": "p"}'),
        ("admin", "/tokens", '{"name": "\\ud800"}'),
        ("auditor", "/evaluations", '{"model": "m", "detector": "d", "verification": {"\\ud800": 1}}'),
        ("admin", "/policy", '{"toml": "name = \\"\\ud800\\""}'),
        ("admin", "/holds", '{"object_type": "case", "object_id": 1, "reason": "\\udc00"}'),
    ],
)
def test_lone_surrogates_in_json_are_refused(w: SimpleNamespace, role: str, path: str, body: str) -> None:
    """Was: UnicodeEncodeError when the audit event was hashed (500). Now: 4xx, nothing written."""
    before = events(w.api)
    method = "PUT" if path == "/policy" else "POST"
    refused(w.api.call(method, path, w.token[role], content=body, headers=JSON))
    assert events(w.api) - before <= 1


def test_nul_bytes_are_refused(w: SimpleNamespace) -> None:
    body = {"name": "evil\x00gallery", "source": "s", "purpose": "p"}
    refused(w.api.call("POST", "/galleries", w.token["admin"], json=body), "control character")


# --- shapes: groups, nesting --------------------------------------------------------------


@pytest.mark.parametrize("groups", [[1, 2], "sex", 7, True])
def test_evaluation_groups_must_be_an_object(w: SimpleNamespace, groups: Any) -> None:
    body = {"model": "m", "detector": "d", "verification": {}, "groups": groups}
    refused(w.api.call("POST", "/evaluations", w.token["auditor"], json=body), "groups")


@pytest.mark.parametrize("toml", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b=" * 3000 + "1" + "}" * 3000])
def test_a_deeply_nested_policy_toml_is_refused(w: SimpleNamespace, toml: str) -> None:
    """Was: RecursionError (500). Now: 400 saying it is nested too deeply."""
    refused(w.api.call("PUT", "/policy", w.token["admin"], json={"toml": toml}), "nested")


def test_deeply_nested_json_is_refused(w: SimpleNamespace) -> None:
    body = '{"model": "m", "detector": "d", "verification": ' + "[" * 100_000 + "]" * 100_000 + "}"
    refused(w.api.call("POST", "/evaluations", w.token["auditor"], content=body, headers=JSON))


# --- text without a limit -----------------------------------------------------------------

LONG = [
    ("admin", "POST", "/tokens", "name", "token name", {}),
    ("admin", "POST", "/galleries", "name", "gallery name", {"source": "s", "purpose": "p"}),
    ("admin", "POST", "/galleries", "source", "gallery source", {"name": "long source", "purpose": "p"}),
    ("admin", "POST", "/galleries", "purpose", "gallery purpose", {"name": "long purpose", "source": "s"}),
    ("admin", "POST", "/users", "username", "username", {"role": "auditor"}),
    ("admin", "POST", "/agencies", "name", "agency name", {"admin_username": "long-agency-admin"}),
    ("requester", "POST", "/cases", "number", "case number", {"offence_category": "robbery"}),
    ("requester", "POST", "/cases", "description", "description",
     {"number": "long-desc", "offence_category": "robbery"}),
    ("admin", "POST", "/holds", "reason", "reason", {"object_type": "case", "object_id": 1}),
    ("admin", "POST", "/subjects/{subject}/erase", "reason", "reason", {}),
    ("admin", "POST", "/subjects/{subject}/consents", "given_by", "consent given by", {"purpose": "p"}),
    ("admin", "POST", "/subjects/{subject}/consents", "purpose", "consent purpose", {"given_by": "Ann Lee"}),
    ("admin", "POST", "/subjects", "reference", "subject reference", {"gallery_id": 1}),
    ("supervisor", "POST", "/requests/{request}/approve", "reason", "reason", {}),
    ("examiner", "POST", "/requests/{request}/candidates/1/reviews", "rationale", "rationale",
     {"disposition": "inconclusive"}),
]  # fmt: skip


@pytest.mark.parametrize(("role", "method", "path", "field", "limit", "rest"), LONG)
@pytest.mark.parametrize("extra", [1, 1_000_000])
def test_text_over_its_limit_is_refused_before_it_reaches_the_audit_log(
    w: SimpleNamespace, role: str, method: str, path: str, field: str, limit: str, rest: dict[str, Any], extra: int
) -> None:
    """Was: a 10 MB token name went into the append-only audit log; 1 MB was accepted in
    gallery names, sources, hold, erasure and consent texts, subject references. Now: each
    field has a limit (vocab.TEXT_LIMITS, in the OpenAPI description), refused with 422."""
    before = events(w.api)
    body = {**rest, field: "x" * (TEXT_LIMITS[limit] + extra)}
    refused(w.api.call(method, path.format(**vars(w)), w.token[role], json=body), field)
    assert events(w.api) - before <= 1


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/requests", {"justification": "x" * (TEXT_LIMITS["justification"] + 1)}),
        ("/requests", {"document_reference": "x" * (TEXT_LIMITS["document reference"] + 1)}),
        ("/galleries/{gallery}/subjects", {"reference": "x" * (TEXT_LIMITS["subject reference"] + 1)}),
        ("/galleries/{gallery}/subjects", {"reference": "s", "sex": "x" * (TEXT_LIMITS["sex"] + 1)}),
    ],
)
def test_form_text_over_its_limit_is_refused(w: SimpleNamespace, path: str, form: dict[str, str]) -> None:
    photo = w.photo("Aaron_Peirsol", 3).read_bytes()
    if path == "/requests":
        response = w.api.file(w.token["requester"], photo, submit=False, **form)
    else:
        files = {"image": ("photo.jpg", photo, "image/jpeg")}
        response = w.api.call("POST", path.format(**vars(w)), w.token["admin"], data=form, files=files)
    refused(response, "at most")


@pytest.mark.parametrize("param", ["action", "object_type", "object_id"])
def test_audit_filters_have_a_limit(w: SimpleNamespace, param: str) -> None:
    refused(w.api.call("GET", "/audit/events", w.token["auditor"], params={param: "x" * 10_000}), param)


def test_every_text_field_in_the_openapi_description_has_a_maximum_length(w: SimpleNamespace) -> None:
    """Every string a client sends (JSON bodies, forms, query parameters) declares maxLength."""
    spec = w.api.app.openapi()
    schemas = spec["components"]["schemas"]
    unbounded = []

    def walk(name: str, schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            return
        for option in schema.get("anyOf", []):
            walk(name, option)
        bounded = "maxLength" in schema or "enum" in schema or "contentMediaType" in schema
        if schema.get("type") == "string" and not bounded and schema.get("format") not in ("binary", "date-time"):
            unbounded.append(name)
        for key, prop in schema.get("properties", {}).items():
            walk(f"{name}.{key}", prop)
        if isinstance(schema.get("items"), dict):
            walk(f"{name}[]", schema["items"])

    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            for param in op.get("parameters", []):
                walk(f"{method.upper()} {path} {param['name']}", param["schema"])
            for media in op.get("requestBody", {}).get("content", {}).values():
                ref = media["schema"].get("$ref", "")
                walk(f"{method.upper()} {path} body", schemas[ref.rsplit("/", 1)[-1]] if ref else media["schema"])
    assert not unbounded, unbounded
