"""Policy profiles: the shipped ones load and say what their law says, every rule cites a
source, broken files are refused with every problem named, explain() covers every rule, and
the `facedocket policy` commands behave."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from facedocket.cli import cli, main
from facedocket.errors import InvalidInput, NotFound
from facedocket.governance.explain import (
    LEGAL_BASIS_WORDS,
    USE_WORDS,
    calibrated_threshold,
    check_file,
    explain,
    profile_warnings,
)
from facedocket.governance.policy import PROFILES_DIR, PolicyProfile, load_profile, parse_profile, shipped_profiles
from facedocket.governance.rules import floor_score
from facedocket.vision.models import TEMPLATE_MODEL_ID
from facedocket.vocab import (
    FORBIDDEN_USES,
    LEGAL_BASES,
    OFFENCE_CATEGORIES,
    PROBE_SOURCES,
    REPORTING_PERIODS,
    REQUEST_FIELDS,
    RETENTION_RECORDS,
    WATCHLIST_REASONS,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["detroit-307", "eu-ai-act-post-rbi", "massachusetts-2020", "research", "retail-watchlist"]
VIOLENT = {"homicide", "sexual-assault", "robbery", "aggravated-assault", "carjacking", "home-invasion", "kidnapping"}
PETTY = {"theft", "shoplifting"}
METADATA_KEYS = {"name", "title", "summary"}

VALID = """\
name = "test-profile"
title = "A test profile"
summary = "For tests."

[requests]
legal_bases = ["court-order", "emergency"]
document_required_for = ["court-order"]
emergency_bases = ["emergency"]
emergency_deadline_hours = 24

[probe]
min_quality = 0.3

[search]
threshold_floor_fmr = 1e-4
max_candidates = 10

[retention]
probe_images = 30
candidate_lists = 30
watchlist_entries = 0
"""


def write(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- shipped profiles -----------------------------------------------------------------------


def test_the_five_profiles_ship() -> None:
    assert set(SHIPPED) <= set(shipped_profiles())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_loads_and_is_sound(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.title and len(profile.summary) > 40
    assert profile_warnings(profile) == []
    assert profile.retention.probe_images is not None and profile.retention.candidate_lists is not None


@pytest.mark.parametrize("name", SHIPPED)
def test_operational_floors_are_at_least_the_calibrated_threshold(name: str) -> None:
    profile = load_profile(name)
    calibrated = calibrated_threshold()
    assert calibrated is not None
    assert profile.search.threshold_floor_fmr <= calibrated[1]
    assert floor_score(profile, TEMPLATE_MODEL_ID) >= calibrated[0] - 1e-9
    if profile.operational:
        assert profile.probe.min_quality > 0


def test_no_profile_may_set_a_floor_looser_than_fmr_1e_3() -> None:
    with pytest.raises(InvalidInput, match="threshold_floor_fmr"):
        parse_profile(VALID.replace("threshold_floor_fmr = 1e-4", "threshold_floor_fmr = 0.01"))
    with pytest.raises(InvalidInput, match=r"search.threshold_floor \(a score"):
        parse_profile(VALID.replace("threshold_floor_fmr = 1e-4", "threshold_floor = -1.0"))
    assert floor_score(parse_profile(VALID), TEMPLATE_MODEL_ID) > calibrated_threshold()[0]  # type: ignore[index]


def test_massachusetts() -> None:
    p = load_profile("massachusetts-2020")
    assert set(p.requests.legal_bases) == {"court-order", "emergency", "deceased-identification"}
    assert "court-order" in p.requests.document_required_for
    assert p.requests.emergency_bases == ["emergency"] and p.requests.emergency_deadline_hours == 48
    assert p.requests.cross_agency  # police ask the RMV or the State Police
    assert {"case_number", "legal_basis", "justification"} <= set(p.requests.required_fields)
    assert p.reporting.period == "quarterly" and "Public Safety" in p.reporting.recipient


def test_eu_ai_act() -> None:
    p = load_profile("eu-ai-act-post-rbi")
    assert p.review.two_person  # Art. 14(5)
    assert p.requests.emergency_deadline_hours == 48 and "emergency" in p.requests.emergency_bases  # Art. 26(10)
    assert {"court-order", "warrant"} <= set(p.requests.document_required_for)
    assert not p.allows_any_offence()
    assert "missing-person" in p.requests.offence_categories
    assert not PETTY & set(p.requests.offence_categories)
    assert "live-video" in p.forbidden_uses and "live-video" in p.probe.forbidden_sources
    assert p.retention.audit_events is not None and p.retention.audit_events >= 183  # Art. 26(6): six months
    assert p.reporting.period == "annual"


def test_detroit() -> None:
    p = load_profile("detroit-307")
    assert {"video-frame", "live-video"} <= set(p.probe.forbidden_sources)
    assert {"live-video", "recorded-video"} <= set(p.forbidden_uses)
    assert not p.allows_any_offence()
    assert p.requests.offence_categories and set(p.requests.offence_categories) <= VIOLENT
    assert p.requests.approval_before_search and not p.requests.emergency_bases
    assert p.review.two_person


def test_retail_watchlist() -> None:
    p = load_profile("retail-watchlist")
    assert "incident-report" in p.requests.legal_bases
    assert "incident-report" in p.requests.document_required_for
    assert p.retention.probe_images == 0  # non-matches deleted at once
    assert p.retention.candidate_lists is not None and p.retention.candidate_lists <= 31
    assert p.retention.watchlist_entries == 365
    assert p.retention.last_interaction_days == 1095  # BIPA 14/15(a)
    assert p.search.gallery_purposes == ["watchlist"]
    assert p.watchlists.entry_approval and "missing-person" not in p.watchlists.reasons
    assert p.watchlists.threshold_floor_fmr == 1e-4 and p.watchlists.max_false_alerts_per_face == 0.01
    assert p.deployments.authorisation_required and p.deployments.dpia_required and p.deployments.signage_required
    assert p.retention.unconfirmed_alerts == 30 and p.retention.incident_records == 365


def test_research_is_not_operational() -> None:
    p = load_profile("research")
    assert not p.operational
    assert p.requests.legal_bases == []
    for record in ("probe_images", "candidate_lists", "enrolment_images", "templates"):
        days = getattr(p.retention, record)
        assert days is not None and days <= 90


# --- every rule cites its source ----------------------------------------------------------------

KEY_LINE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*=")


def rules_without_source(text: str) -> list[str]:
    """Key lines (other than name, title, summary) not preceded by a comment block holding a
    ``# source:`` line."""
    lines = text.splitlines()
    missing: list[str] = []
    in_string = False
    for i, line in enumerate(lines):
        if in_string:
            in_string = line.count('"""') % 2 == 0
            continue
        match = KEY_LINE.match(line)
        if not match:
            continue
        in_string = line.count('"""') % 2 == 1
        if match.group(1) in METADATA_KEYS:
            continue
        j, comments = i - 1, []
        while j >= 0 and lines[j].lstrip().startswith("#"):
            comments.append(lines[j].strip())
            j -= 1
        if not any(c.startswith("# source:") for c in comments):
            missing.append(f"line {i + 1}: {match.group(1)}")
    return missing


def test_the_source_check_finds_an_uncited_rule() -> None:
    assert rules_without_source(VALID) == [f"line {n}: {k}" for n, k in [
        (6, "legal_bases"), (7, "document_required_for"), (8, "emergency_bases"), (9, "emergency_deadline_hours"),
        (12, "min_quality"), (15, "threshold_floor_fmr"), (16, "max_candidates"), (19, "probe_images"),
        (20, "candidate_lists"), (21, "watchlist_entries"),
    ]]  # fmt: skip
    assert rules_without_source("# source: x\noperational = false\n") == []


@pytest.mark.parametrize("name", SHIPPED)
def test_every_rule_cites_its_source(name: str) -> None:
    text = (PROFILES_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert rules_without_source(text) == []
    data = tomllib.loads(text)
    keys = [k for k in data if k not in METADATA_KEYS]
    keys += [f"{t}.{k}" for t, v in data.items() if isinstance(v, dict) for k in v]
    assert len(keys) > 15  # the rules are spelled out, not left to defaults


# --- broken profiles ---------------------------------------------------------------------------

BROKEN = {
    "unknown legal basis": (VALID.replace('"court-order", "emergency"]', '"court-order", "emergency", "magic"]'),
                            ["requests.legal_bases", "'magic'"]),
    "bad TOML": (VALID.replace("max_candidates = 10", "max_candidates = "), ["not valid TOML"]),
    "unknown key": (VALID.replace("[probe]\n", "[probe]\ncolour = 'red'\n"), ["probe.colour", "Extra inputs"]),
    "emergency base not allowed": (VALID.replace('legal_bases = ["court-order", "emergency"]',
                                                 'legal_bases = ["court-order"]'),
                                   ["requests.emergency_bases", "'emergency'"]),
    "missing deadline": (VALID.replace("emergency_deadline_hours = 24\n", ""),
                         ["emergency_deadline_hours is required"]),
    "operational without legal basis": (VALID.replace('legal_bases = ["court-order", "emergency"]', "legal_bases = []")
                                        .replace('emergency_bases = ["emergency"]', "emergency_bases = []"),
                                        ["at least one legal basis"]),
    "bad vocabulary": (VALID.replace("[probe]\n", '[probe]\nforbidden_sources = ["fax"]\n')
                       .replace("[requests]\n", 'forbidden_uses = ["mind-reading"]\n[requests]\n'),
                       ["probe.forbidden_sources", "'fax'", "forbidden_uses.0"]),
}  # fmt: skip


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_profile_is_refused(case: str) -> None:
    text, fragments = BROKEN[case]
    with pytest.raises(InvalidInput) as caught:
        parse_profile(text, "broken.toml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("broken.toml")
    for fragment in fragments:
        assert fragment in message, message


def test_every_problem_is_named_at_once() -> None:
    text = (
        VALID.replace('legal_bases = ["court-order", "emergency"]', 'legal_bases = ["court-order", "magic"]')
        .replace("emergency_deadline_hours = 24\n", "")
        .replace("[search]\n", "[search]\ncolour = 'red'\n")
        .replace('name = "test-profile"', 'name = "Test Profile"')
    )
    with pytest.raises(InvalidInput) as caught:
        parse_profile(text, "broken.toml")
    message = str(caught.value)
    for fragment in ["name:", "search.colour", "'magic'", "requests.emergency_bases", "emergency_deadline_hours"]:
        assert fragment in message, message


def test_the_valid_example_is_valid_and_unknown_names_are_not_found(tmp_path: Path) -> None:
    assert parse_profile(VALID).name == "test-profile"
    assert load_profile(write(tmp_path, VALID)).requests.emergency_deadline_hours == 24
    with pytest.raises(NotFound, match="massachusetts-2020"):
        load_profile("no-such-profile")


def test_schema_defaults_apply() -> None:
    p = parse_profile('name = "ab"\ntitle = "t"\nsummary = "s"\n[requests]\nlegal_bases = ["warrant"]\n')
    assert p.operational and p.requests.approval_before_search and p.allows_any_offence()
    assert p.search.threshold_floor_fmr == 1e-3 and p.search.max_candidates == 100
    assert p.retention.probe_images is None and p.reporting.period is None
    assert PolicyProfile.model_validate(p.model_dump()) == p


# --- explain and warnings ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_explain_covers_every_rule(name: str) -> None:
    p = load_profile(name)
    lines = explain(p)
    text = " ".join(lines)
    assert all(line.endswith(".") and line[0].isupper() for line in lines)
    for basis in p.requests.legal_bases:
        assert LEGAL_BASIS_WORDS[basis] in text, basis
    for record in RETENTION_RECORDS:
        days = getattr(p.retention, record)
        if days:
            assert f"{days} days" in text, record
    if p.retention.last_interaction_days:
        assert f"{p.retention.last_interaction_days} days" in text
    if p.requests.emergency_deadline_hours:
        assert f"within {p.requests.emergency_deadline_hours:g} hours" in text
    for use in p.forbidden_uses:
        assert USE_WORDS[use] in text
    assert f"at most {p.search.max_candidates} candidates" in text
    assert ("two reviewers" in text) == p.review.two_person
    if p.operational and not p.allows_any_offence():
        assert "homicide" in text or "shoplifting" in text
    if p.reporting.period:
        assert p.reporting.recipient in text


def test_explain_in_words() -> None:
    ma = explain(load_profile("massachusetts-2020"))
    assert "A search needs a court order, an emergency, or the identification of a deceased person." in ma
    assert any(
        line.startswith(
            "Emergency searches may run before approval; approval must follow within 48 hours or the probe, "
            "the candidates and the templates they exposed are purged."
        )
        for line in ma
    )
    assert "Each candidate is decided by two reviewers independently." in explain(load_profile("eu-ai-act-post-rbi"))
    retail = explain(load_profile("retail-watchlist"))
    assert "Probe photos are not kept: they are deleted as soon as the search is done." in retail
    assert "Watchlist entries expire after 365 days (1 year)." in retail
    assert explain(load_profile("research"))[0].startswith("This profile is for evaluation only")
    assert "0.930103" in " ".join(ma)


def test_questionable_settings_are_warned_about(tmp_path: Path) -> None:
    text = (
        VALID.replace("max_candidates = 10", "max_candidates = 100")
        .replace("min_quality = 0.3", "min_quality = 0.0")
        .replace("probe_images = 30\n", "")
        .replace("emergency_deadline_hours = 24", "emergency_deadline_hours = 168")
        .replace('document_required_for = ["court-order"]', "document_required_for = []")
        .replace("[requests]\n", "[requests]\napproval_before_search = false\n")
    )
    profile, warnings = check_file(write(tmp_path, text))
    assert profile.name == "test-profile"
    joined = "\n".join(warnings)
    for key in [
        "review.two_person is false and search.max_candidates is 100",
        "probe.min_quality is 0",
        "retention.probe_images is not set",
        "requests.emergency_deadline_hours is 168",
        "a request citing a court-order need not record the document",
        "requests.approval_before_search is false",
    ]:
        assert key in joined, joined
    assert check_file(write(tmp_path, VALID, "good.toml"))[1] == []


def test_a_non_operational_profile_is_not_warned_about_search_settings() -> None:
    p = load_profile("research")
    assert not p.operational and profile_warnings(p) == []


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_list() -> None:
    result = CliRunner().invoke(cli, ["policy", "list"])
    assert result.exit_code == 0, result.output
    for name in SHIPPED:
        assert f"{name} " in result.output and load_profile(name).title in result.output
    listed = json.loads(CliRunner().invoke(cli, ["policy", "list", "--json"]).output)
    assert [p["name"] for p in listed] == shipped_profiles()


def test_cli_show(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["policy", "show", "massachusetts-2020"])
    assert result.exit_code == 0, result.output
    assert "A search needs a court order, an emergency, or the identification of a deceased person." in result.output
    as_json = CliRunner().invoke(cli, ["policy", "show", "detroit-307", "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output) == load_profile("detroit-307").model_dump(mode="json")
    from_file = CliRunner().invoke(cli, ["policy", "show", str(write(tmp_path, VALID))])
    assert from_file.exit_code == 0 and "test-profile: A test profile" in from_file.output


def test_cli_show_unknown_profile_is_one_line() -> None:
    result = CliRunner().invoke(cli, ["policy", "show", "no-such-profile"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no policy profile 'no-such-profile'")


def test_cli_check(tmp_path: Path) -> None:
    good = CliRunner().invoke(cli, ["policy", "check", str(write(tmp_path, VALID))])
    assert good.exit_code == 0, good.output
    assert good.output.startswith("valid: test-profile") and "no warnings" in good.output
    doubtful = write(tmp_path, VALID.replace("min_quality = 0.3", "min_quality = 0.0"), "doubtful.toml")
    warned = CliRunner().invoke(cli, ["policy", "check", str(doubtful)])
    assert warned.exit_code == 0 and "warning: probe.min_quality" in warned.output
    strict = CliRunner().invoke(cli, ["policy", "check", "--strict", str(doubtful)])
    assert strict.exit_code == 1 and "Error: 1 warning(s) and --strict" in strict.stderr
    for name in SHIPPED:
        shipped = CliRunner().invoke(cli, ["policy", "check", "--strict", str(PROFILES_DIR / f"{name}.toml")])
        assert shipped.exit_code == 0, shipped.output


def test_cli_check_invalid_file_is_one_line_naming_every_problem(tmp_path: Path) -> None:
    text, _ = BROKEN["unknown legal basis"]
    bad = write(tmp_path, text.replace("emergency_deadline_hours = 24\n", "").replace("[probe]\n", "[probe]\nx = 1\n"))
    result = CliRunner().invoke(cli, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    for fragment in ["'magic'", "probe.x", "emergency_deadline_hours is required"]:
        assert fragment in lines[0]
    bad_toml = CliRunner().invoke(cli, ["policy", "check", str(write(tmp_path, "name = ", "t.toml"))])
    assert bad_toml.exit_code == 1 and "not valid TOML" in bad_toml.stderr


def test_entry_point_check_invalid_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, BROKEN["missing deadline"][0])
    with pytest.raises(SystemExit) as exited:
        main(["policy", "check", str(bad)])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and "emergency_deadline_hours" in err[0]


@pytest.mark.parametrize("command", ["list", "show", "check"])
def test_cli_help(command: str) -> None:
    result = CliRunner().invoke(cli, ["policy", command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert len(result.output.split("\n\n")[1].strip()) > 20


# --- packaging and docs ---------------------------------------------------------------------------


def test_profiles_ship_in_the_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["facedocket"]
    for name in SHIPPED:
        relative = f"governance/profiles/{name}.toml"
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_docs_describe_every_field_vocabulary_and_profile() -> None:
    doc = (REPO / "docs" / "policy.md").read_text(encoding="utf-8")
    sections = [PolicyProfile, *(PolicyProfile.model_fields[s].annotation for s in
                                 ("requests", "probe", "search", "review", "watchlists", "deployments", "retention",
                                  "reporting"))]  # fmt: skip
    for model in sections:
        assert isinstance(model, type)
        for field in model.model_fields:  # type: ignore[attr-defined]
            assert f"`{field}`" in doc or f"`[{field}]`" in doc, field
    for word in (
        *LEGAL_BASES,
        *OFFENCE_CATEGORIES,
        *PROBE_SOURCES,
        *REQUEST_FIELDS,
        *FORBIDDEN_USES,
        *REPORTING_PERIODS,
        *WATCHLIST_REASONS,
    ):
        assert f"`{word}`" in doc, word
    for name in SHIPPED:
        assert f"`{name}`" in doc, name


def test_the_example_in_the_docs_is_valid_cited_and_warning_free() -> None:
    doc = (REPO / "docs" / "policy.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n")[1].split("```")[0]
    profile = parse_profile(example, "docs/policy.md")
    assert profile_warnings(profile) == []
    assert rules_without_source(example) == []
