"""The service commands as a user runs them: init, users, galleries, enrolment, the written
request workflow (case, file, submit, approve, search, review, conclude, close, export),
verify, the audit log, index rebuild, subject delete; one-line errors.

Commands run in-process through :func:`facedocket.cli.main` (the entry point, with its
one-line errors and exit statuses) inside click's ``CliRunner`` isolation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from facedocket.cli import main
from facedocket.vision.models import DEFAULT_MODEL_ID, threshold_at_fmr

PEOPLE = ["Yao_Ming", "Venus_Williams", "Wen_Jiabao"]
OUTSIDER = "Aaron_Peirsol"  # never enrolled here
ROLES = ("requester", "supervisor", "examiner", "auditor")


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def fd(home: Path, *args: str, token: str | None = None) -> Run:
    """``facedocket --home HOME ARGS``, acting as ``token`` (default: the saved admin token)."""
    env = {"FACEDOCKET_TOKEN": token, "FACEDOCKET_JITTER": "false", "FACEDOCKET_HOME": None,
           "FACEDOCKET_DATABASE_URL": None}  # fmt: skip
    with CliRunner().isolation(env=env) as (out, err, _):
        try:
            main(["--home", str(home), *args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        return Run(code, out.getvalue().decode(), err.getvalue().decode())


def ok(run: Run) -> str:
    assert run.exit_code == 0, run.stderr
    return run.stdout


def one_line_error(run: Run, *fragments: str) -> str:
    assert run.exit_code != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error"), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@dataclass
class World:
    home: Path
    tree: Path
    enrol: dict[str, object]
    tokens: dict[str, str]
    order: Path  # a court order's file

    def as_(self, role: str, *args: str) -> Run:
        return fd(self.home, *args, token=self.tokens[role])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dev_dir: Path) -> World:
    """An initialised home under the massachusetts-2020 policy, one user per role, and a
    gallery holding photos 1-2 of three people."""
    home = tmp_path_factory.mktemp("home")
    tree = tmp_path_factory.mktemp("tree")
    for person in PEOPLE:
        (tree / person).mkdir()
        for n in (1, 2):
            shutil.copy(dev_dir / person / f"{n}.jpg", tree / person / f"{n}.jpg")
    out = ok(fd(home, "init", "--agency", "State Police"))
    assert "admin token" in out
    token_file = home / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert "massachusetts-2020" in ok(fd(home, "policy", "activate", "massachusetts-2020"))
    ok(fd(home, "gallery", "create", "booking", "--source", "booking photos", "--purpose", "investigations"))
    enrol = json.loads(ok(fd(home, "enroll", "booking", str(tree), "--json")))
    tokens = {}
    for role in ROLES:  # each user makes their own token with the activation token the admin hands over
        activation = ok(fd(home, "user", "create", f"{role}1", "--role", role)).strip().rsplit(" ", 1)[-1]
        assert activation.startswith("fd_")
        tokens[role] = ok(fd(home, "token", "create", "--name", "desk", token=activation)).strip().rsplit(" ", 1)[-1]
        one_line_error(fd(home, "token", "create", token=activation), "unknown or revoked token")  # used up
    order = tree.parent / "court-order.pdf"
    order.write_bytes(b"%PDF-1.4 order of the Suffolk Superior Court (test)")
    return World(home, tree, enrol, tokens, order)


_numbers = iter(range(1, 10_000))


def new_case(world: World) -> int:
    out = world.as_("requester", "case", "create", f"C-{next(_numbers)}", "--offence-category", "robbery",
                    "--description", "store robbery", "--json")  # fmt: skip
    return int(json.loads(ok(out))["id"])


def file_run(world: World, photo: Path, *extra: str, document: bool = True) -> Run:
    """File and submit a court-order request for ``photo`` as the requester."""
    args = ["request", "file", "--case", str(new_case(world)), "--legal-basis", "court-order",
            "--justification", "CCTV still of the suspect", "--gallery", "booking", "--submit", "--json"]  # fmt: skip
    if document:
        args += ["--document-type", "court order", "--document-reference", "CO-2026-7",
                 "--document-issuer", "Suffolk Superior Court", "--document-date", "2026-11-20",
                 "--document-file", str(world.order)]  # fmt: skip
    return world.as_("requester", *args, *extra, str(photo))


def file_request(world: World, photo: Path, *extra: str, document: bool = True) -> dict[str, object]:
    """File and submit a court-order request for ``photo`` as the requester; its JSON."""
    data: dict[str, object] = json.loads(ok(file_run(world, photo, *extra, document=document)))
    return data


def approved(world: World, photo: Path) -> int:
    request_id = int(str(file_request(world, photo)["id"]))
    ok(world.as_("supervisor", "request", "approve", str(request_id), "--reason", "court order checked"))
    return request_id


def test_init_refuses_a_second_time(world: World) -> None:
    one_line_error(fd(world.home, "init"), "already has agencies")


def test_enroll_reports_outcomes_and_is_resumable(world: World) -> None:
    assert world.enrol["counts"]["enrolled"] == 6  # type: ignore[index]
    again = json.loads(ok(fd(world.home, "enroll", "booking", str(world.tree), "--json")))
    assert again["counts"]["enrolled"] == 0 and again["counts"]["already-enrolled"] == 6
    outcomes = (world.home / "enrolment" / "gallery-1-outcomes.csv").read_text().splitlines()
    assert outcomes[0] == "source,subject,outcome,detail,template_id,sha256"
    assert len(outcomes) == 1 + 12


def test_request_from_filing_to_closed_lead(world: World, dev_dir: Path, tmp_path: Path) -> None:
    filed = file_request(world, dev_dir / "Yao_Ming" / "3.jpg")
    rid = str(filed["id"])
    assert (filed["status"], filed["approval"], filed["legal_basis"]) == ("submitted", "pending", "court-order")
    assert filed["document"]["sha256"] == hashlib.sha256(world.order.read_bytes()).hexdigest()  # type: ignore[index]
    assert "C-" in ok(world.as_("requester", "case", "list"))

    approved_ = ok(world.as_("supervisor", "request", "approve", rid, "--reason", "order on articulable facts"))
    assert f"request {rid} approved: now approved" in approved_

    table = ok(world.as_("examiner", "search", rid))
    assert "investigative lead — not a positive identification" in table
    assert "expected false candidates" in table and "Yao_Ming" in table
    result = json.loads(ok(world.as_("examiner", "search", rid, "--json")))
    top = result["candidates"][0]
    assert top["subject_reference"] == "Yao_Ming" and top["expected_false"] is not None
    assert result["label"].startswith("investigative lead") and result["request_id"] == int(rid)

    # the first search left a candidate list too: every candidate of the request is decided
    shown = json.loads(ok(world.as_("examiner", "request", "show", rid, "--json")))
    assert shown["request"]["status"] == "searched" and len(shown["searches"]) == 2
    for search in shown["searches"]:
        for candidate in search["candidates"]:
            verdict = "possible-match" if candidate["subject_reference"] == "Yao_Ming" else "not-a-match"
            out = world.as_("examiner", "request", "review", rid, str(candidate["id"]), "--disposition", verdict,
                            "--rationale", "side-by-side comparison")  # fmt: skip
            assert verdict in ok(out)
    assert "possible-match" in ok(world.as_("examiner", "request", "reviews", rid))
    concluded = ok(world.as_("examiner", "request", "conclude", rid))
    assert "outcome lead" in concluded and str(top["id"]) in concluded.split("released candidates:")[1]
    assert "closed" in ok(world.as_("requester", "request", "close", rid))

    info = json.loads(ok(world.as_("requester", "request", "show", rid, "--json")))["request"]
    assert (info["status"], info["outcome"], info["approval"]) == ("closed", "lead", "approved")
    assert rid in ok(world.as_("requester", "request", "list", "--status", "closed"))
    probe = tmp_path / "probe.jpg"
    ok(world.as_("examiner", "request", "probe", rid, "--out", str(probe)))
    assert probe.read_bytes() == (dev_dir / "Yao_Ming" / "3.jpg").read_bytes()
    case_file = tmp_path / "case.html"
    assert str(case_file) in ok(world.as_("requester", "request", "export", rid, "--out", str(case_file)))
    assert "not a positive identification" in case_file.read_text(encoding="utf-8")
    assert "nothing expired" in ok(fd(world.home, "request", "expire"))


def test_no_candidate_above_threshold_concludes_no_lead(world: World, dev_dir: Path) -> None:
    rid = str(approved(world, dev_dir / OUTSIDER / "1.jpg"))
    assert "no candidate above threshold" in ok(world.as_("examiner", "search", rid))
    assert "outcome no-lead" in ok(world.as_("examiner", "request", "conclude", rid))


def test_policy_refusal_is_one_line_naming_every_failed_rule(world: World, dev_dir: Path) -> None:
    probe = dev_dir / "Yao_Ming" / "3.jpg"
    pending = str(file_request(world, probe)["id"])
    line = one_line_error(world.as_("examiner", "search", pending), "requests.approval_before_search")
    assert "policy refuses" in line
    rid = str(approved(world, probe))
    loose = str(threshold_at_fmr(DEFAULT_MODEL_ID, 1e-2))  # below the floor of the gallery's model (SFace)
    line = one_line_error(world.as_("examiner", "search", rid, "-k", "50", "--threshold", loose),
                          "search.max_candidates", "search.threshold_floor_fmr")  # fmt: skip
    # a court order without its document is refused when submitted, by the rule the search gate names
    one_line_error(file_run(world, probe, document=False), "requests.document_required_for", "document_reference")
    searches = json.loads(ok(world.as_("examiner", "searches", "list", "--json")))
    assert not {s["request_id"] for s in searches} & {int(pending), int(rid)}


def test_a_request_needs_its_fields(world: World, dev_dir: Path) -> None:
    probe = str(dev_dir / "Yao_Ming" / "3.jpg")
    case = str(new_case(world))
    run = world.as_("requester", "request", "file", "--case", case, "--legal-basis", "court-order", probe)
    one_line_error(run, "--justification")
    run = world.as_("requester", "request", "file", "--case", case, "--legal-basis", "court-order",
                    "--justification", " ", probe)  # fmt: skip
    one_line_error(run, "justification")
    run = world.as_("requester", "request", "file", "--case", case, "--legal-basis", "hunch",
                    "--justification", "x", probe)  # fmt: skip
    one_line_error(run, "--legal-basis")
    one_line_error(world.as_("requester", "case", "create", "C-x", "--offence-category", "jaywalking"), "jaywalking")


def test_verify_one_to_one(world: World, dev_dir: Path) -> None:
    subjects = json.loads(ok(fd(world.home, "subject", "list", "booking", "--json")))
    wen = next(s["id"] for s in subjects if s["reference"] == "Wen_Jiabao")
    rid = str(approved(world, dev_dir / "Wen_Jiabao" / "3.jpg"))
    result = json.loads(ok(world.as_("examiner", "verify", rid, str(wen), "--json")))
    assert result["kind"] == "verify" and result["candidates"][0]["subject_id"] == wen


def test_roles_and_tokens(world: World, dev_dir: Path) -> None:
    rid = str(approved(world, dev_dir / "Yao_Ming" / "3.jpg"))
    one_line_error(fd(world.home, "search", rid), "examiner, supervisor")  # the saved admin token
    one_line_error(fd(world.home, "search", rid, token="fd_nonsense"), "unknown or revoked token")
    one_line_error(world.as_("supervisor", "policy", "activate", "massachusetts-2020"), "admin")
    one_line_error(fd(world.home, "policy", "activate", "no-such-profile"), "no policy profile")
    own = str(file_request(world, dev_dir / "Yao_Ming" / "3.jpg")["id"])
    one_line_error(world.as_("requester", "request", "approve", own, "--reason", "mine"), "supervisor")


def test_audit_verify_export_and_offline_check(world: World, tmp_path: Path) -> None:
    checked = ok(world.as_("auditor", "audit", "verify"))
    assert checked.startswith("ok:") and "head: seq" in checked
    assert json.loads(ok(world.as_("auditor", "audit", "verify", "--json")))["ok"] is True
    export = tmp_path / "audit.jsonl"
    ok(world.as_("auditor", "audit", "export", "--out", str(export)))
    lines = export.read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[-1])
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))

    offline = fd(world.home / "nowhere", "audit", "verify", "--file", str(export), "--head-hash", head["hash"])
    assert offline.stdout.startswith("ok:") and offline.exit_code == 0, offline.stderr
    assert not (world.home / "nowhere").exists()  # no database was touched
    short = fd(world.home, "audit", "verify", "--file", str(export), "--head-hash", "0" * 64)
    assert short.exit_code == 1 and "broken at seq" in short.stdout

    edited = json.loads(lines[4])
    edited["details"] = {**edited["details"], "note": "changed"}
    lines[4] = json.dumps(edited)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken = fd(world.home, "audit", "verify", "--file", str(export))
    assert broken.exit_code == 1
    assert f"broken at seq {edited['seq']}: hash does not match the event" in broken.stdout

    events = json.loads(ok(world.as_("auditor", "audit", "list", "--action", "search.run", "--json")))
    assert events and all(e["action"] == "search.run" for e in events)
    assert "audit.verified" in ok(world.as_("auditor", "audit", "list", "--limit", "5"))


def test_the_readme_procedure_a_published_head_then_a_later_export(world: World, tmp_path: Path) -> None:
    """Issue 11: the head hash `audit verify` printed was followed by the verify's own event,
    so an export taken afterwards failed offline ("events after it were removed"). Now the
    file must hold the published head, and may go on past it."""
    printed = ok(world.as_("auditor", "audit", "verify"))
    head = printed.split("head: seq ", 1)[1].split()
    seq, published = int(head[0]), head[2]
    ok(world.as_("requester", "case", "create", "2026-README", "--offence-category", "robbery"))  # the log moves on
    export = tmp_path / "later.jsonl"
    ok(world.as_("auditor", "audit", "export", "--out", str(export)))
    checked = fd(tmp_path / "nowhere", "audit", "verify", "--file", str(export), "--head-hash", published)
    assert checked.exit_code == 0 and checked.stdout.startswith("ok:"), checked.stdout
    lines = export.read_text(encoding="utf-8").splitlines()
    assert len(lines) > seq  # the export goes on past the published head
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[: seq - 1]) + "\n", encoding="utf-8")  # the tail cut before the head
    short = fd(tmp_path / "nowhere", "audit", "verify", "--file", str(cut), "--head-hash", published)
    assert short.exit_code == 1 and "holds no event with the head hash given" in short.stdout
    # the stand-alone procedure of docs/audit.md, as written
    text = (Path(__file__).resolve().parents[1] / "docs" / "audit.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "def verify(path, head_hash=None)" in code
    scope: dict[str, Any] = {}
    exec(code, scope)
    assert scope["verify"](str(export), published).startswith("ok:")
    assert "removed" in scope["verify"](str(cut), published)


def test_index_rebuild_and_subject_delete(world: World) -> None:
    home = world.home
    assert "rebuilt with 6 templates" in ok(fd(home, "index", "rebuild", "booking"))
    subjects = json.loads(ok(fd(home, "subject", "list", "booking", "--json")))
    venus = next(s for s in subjects if s["reference"] == "Venus_Williams")
    assert "with 2 template(s)" in ok(fd(home, "subject", "delete", str(venus["id"])))
    one_line_error(fd(home, "subject", "delete", str(venus["id"])), "no subject")
    gallery = json.loads(ok(fd(home, "gallery", "show", "booking")))
    assert gallery["templates"] == 4 and gallery["subjects"] == 2
