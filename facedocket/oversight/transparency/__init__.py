"""Transparency reports a legislature can publish: counts of searches, requests, refusals,
outcomes and possible matches for one period, with the audit chain they can be checked against.

A report counts what happened in a period ``[start, end)`` (UTC): a year (``2026``), a quarter
(``2026Q3``) or a month (``2026-07``), for one agency or for all of them. Each field has a plain
definition and its source in :data:`FIELD_DEFINITIONS`; a *field set* picks the fields one law
asks for (:data:`FIELD_SETS`).

The package is in four parts, each importable alone:

- :mod:`~facedocket.oversight.transparency.periods`: reading a period;
- :mod:`~facedocket.oversight.transparency.fields`: the fields, their definitions and laws;
- :mod:`~facedocket.oversight.transparency.counting`: the report built from rows the service
  reads (:mod:`facedocket.store.queries.transparency`); pure, no SQL;
- :mod:`~facedocket.oversight.transparency.render`: JSON, CSV, HTML, PDF and charts.
"""

from facedocket.oversight.transparency.counting import (
    AGE_GROUPS,
    APPROVAL_ENDINGS,
    COUNTED_ACTIONS,
    NOT_RECORDED,
    OUTCOMES,
    age_group,
    build_report,
    report_digest,
)
from facedocket.oversight.transparency.fields import (
    FIELD_DEFINITIONS,
    FIELD_SETS,
    FieldSet,
    check_request,
    field_set_of,
)
from facedocket.oversight.transparency.periods import Period, parse_period, period_of
from facedocket.oversight.transparency.render import (
    FORMATS,
    MEDIA_TYPES,
    chart_pngs,
    csv_rows,
    render,
    to_csv,
    to_html,
    to_json,
    to_pdf,
)

__all__ = [
    "AGE_GROUPS",
    "APPROVAL_ENDINGS",
    "COUNTED_ACTIONS",
    "FIELD_DEFINITIONS",
    "FIELD_SETS",
    "FORMATS",
    "MEDIA_TYPES",
    "NOT_RECORDED",
    "OUTCOMES",
    "FieldSet",
    "Period",
    "age_group",
    "build_report",
    "chart_pngs",
    "check_request",
    "csv_rows",
    "field_set_of",
    "parse_period",
    "period_of",
    "render",
    "report_digest",
    "to_csv",
    "to_html",
    "to_json",
    "to_pdf",
]
