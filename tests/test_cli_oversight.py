"""The oversight commands as a user runs them, in process on a temporary home with the real
pipeline and photos: legal holds, erasure and its certificate, the access export, the
retention dry run, a gallery that needs consent, and evaluations kept on record."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from policy_texts import permissive

import facedocket.cli.service as cli_service
from facedocket.cli import cli, main
from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound
from facedocket.service import open_service
from facedocket.vision.pipeline import FacePipeline

# Two photos each of two people (the booking gallery), one of a third (the consent gallery).
BOOKING: dict[str, tuple[int, ...]] = {"Adrien_Brody": (1, 3), "Abdullah_Gul": (1, 2)}
LOYAL = "Abel_Pacheco"

POLICY = permissive(retention={"candidate_lists": 60, "last_interaction_days": 1095})


def _tree(root: Path, people: dict[str, tuple[int, ...]], dev_dir: Path) -> Path:
    for person, numbers in people.items():
        (root / person).mkdir(parents=True)
        for n in numbers:
            shutil.copy(dev_dir / person / f"{n}.jpg", root / person / f"{n}.jpg")
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dev_dir: Path, pipeline: FacePipeline) -> Iterator[Any]:
    """An initialised home (its admin token saved in HOME/token) with the policy above, a
    supervisor, an examiner and an auditor, and the booking gallery enrolled."""
    with pytest.MonkeyPatch.context() as patch:  # every command's service shares the session's pipeline
        patch.setattr(cli_service, "open_service", lambda settings: open_service(settings, pipeline=pipeline))
        home = tmp_path_factory.mktemp("home")
        w = SimpleNamespace(home=home, dev_dir=dev_dir, files=tmp_path_factory.mktemp("files"))
        ok(w, "init", "--agency", "State Police")
        (w.files / "policy.toml").write_text(POLICY)
        ok(w, "policy", "activate", str(w.files / "policy.toml"))
        for role in ("supervisor", "examiner", "auditor"):
            created = json.loads(ok(w, "user", "create", f"sp-{role}", "--role", role, "--json"))
            own = json.loads(ok(w, "token", "create", "--token", created["token"]["secret"], "--json"))
            setattr(w, role, own["secret"])
        ok(w, "gallery", "create", "booking", "--source", "booking photos", "--purpose", "investigations")
        enrolled = json.loads(ok(w, "enroll", "booking", str(_tree(w.files / "booking", BOOKING, dev_dir)), "--json"))
        assert enrolled["counts"]["enrolled"] == 4
        subjects = json.loads(ok(w, "subject", "list", "booking", "--json"))
        w.subjects = {s["reference"]: s["id"] for s in subjects}
        yield w


def fd(world: Any, *args: str, token: str | None = None) -> Result:
    """Run ``facedocket --home HOME ARGS`` in process, as ``token`` (default the saved admin token)."""
    env = {"FACEDOCKET_TOKEN": token, "FACEDOCKET_JITTER": "false"}
    return CliRunner().invoke(cli, ["--home", str(world.home), *args], env=env)


def ok(world: Any, *args: str, token: str | None = None) -> str:
    result = fd(world, *args, token=token)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def refused(result: Result, kind: type[Exception], fragment: str) -> None:
    """The command failed with ``kind`` (``main`` prints it as one line); its message names ``fragment``."""
    assert result.exit_code != 0
    assert isinstance(result.exception, kind), (result.output, result.exception)
    assert fragment in str(result.exception), str(result.exception)


def templates(world: Any, gallery: str = "booking") -> int:
    count: int = json.loads(ok(world, "gallery", "show", gallery))["templates"]
    return count


def test_a_hold_refuses_erasure_until_released_then_erasure_leaves_a_certificate(world: Any) -> None:
    brody = world.subjects["Adrien_Brody"]
    refused(fd(world, "hold", "place", "--subject", str(brody), "--reason", "x", token=world.examiner), Forbidden,
            "admin, supervisor")  # fmt: skip
    hold = json.loads(ok(world, "hold", "place", "--subject", str(brody), "--reason", "appeal 26-CV-881", "--json",
                         token=world.supervisor))  # fmt: skip
    assert (hold["object_type"], hold["object_id"], hold["released"]) == ("subject", brody, None)
    listed = ok(world, "hold", "list")
    assert f"subject {brody}" in listed and "appeal 26-CV-881" in listed

    refused(fd(world, "subject", "erase", str(brody), "--reason", "erasure request of 2026-11-01"), Conflict,
            "legal hold")  # fmt: skip
    assert templates(world) == 4  # nothing went

    released = ok(world, "hold", "release", str(hold["id"]), token=world.supervisor)
    assert f"legal hold {hold['id']} on subject {brody} (released" in released
    refused(fd(world, "hold", "release", str(hold["id"])), Conflict, "released already")
    assert ok(world, "hold", "list").strip() == "no legal holds"
    assert "released" in ok(world, "hold", "list", "--all")

    path = world.files / "certificate.json"
    out = ok(world, "subject", "erase", str(brody), "--reason", "erasure request of 2026-11-01",
             "--certificate", str(path))  # fmt: skip
    certificate = json.loads(path.read_text())
    assert certificate["certificate"] == "erasure" and certificate["subject_reference"] == "Adrien_Brody"
    assert certificate["erased"]["templates"] == 2 and certificate["reason"] == "erasure request of 2026-11-01"
    assert f"subject {brody} 'Adrien_Brody' erased: 2 templates" in out
    assert f"audit event seq {certificate['audit_event']['seq']} hash {certificate['audit_event']['hash']}" in out
    assert str(path) in out
    events = json.loads(ok(world, "audit", "list", "--action", "subject.erased", "--json"))
    assert [(e["seq"], e["hash"]) for e in events] == [(certificate["audit_event"]["seq"],
                                                        certificate["audit_event"]["hash"])]  # fmt: skip
    assert "Adrien_Brody" not in json.dumps(events)
    assert templates(world) == 2
    refused(fd(world, "subject", "export", str(brody), "--out", str(world.files / "x.json")), NotFound, "no subject")
    refused(fd(world, "subject", "erase", str(brody), "--reason", "again"), NotFound, "no subject")


def test_erasure_without_a_file_keeps_the_certificate_in_home(world: Any) -> None:
    subject = json.loads(ok(world, "subject", "create", "booking", "Walk_In", "--json"))
    result = json.loads(ok(world, "subject", "erase", str(subject["id"]), "--reason", "entered by mistake", "--json"))
    saved = Path(result["certificate_file"])
    assert saved == world.home / "erasures" / f"erasure-{result['erasure_id']}.json"
    assert json.loads(saved.read_text())["subject_reference"] == "Walk_In"
    assert result["erased"] == {
        "templates": 0,
        "candidate_entries": 0,
        "verifications_unlinked": 0,
        "consents": 0,
        "photos": 0,
    }


def test_hold_place_needs_exactly_one_target(world: Any) -> None:
    assert "exactly one of --case ID and --subject ID" in fd(world, "hold", "place", "--reason", "r").output
    both = fd(world, "hold", "place", "--case", "1", "--subject", "1", "--reason", "r")
    assert both.exit_code == 2 and "exactly one" in both.output
    refused(fd(world, "hold", "place", "--case", "999", "--reason", "subpoena"), NotFound, "no case 999")


def test_the_access_export_holds_everything_and_is_private(world: Any) -> None:
    gul = world.subjects["Abdullah_Gul"]
    refused(fd(world, "subject", "export", str(gul), "--out", str(world.files / "no.json"), token=world.examiner),
            Forbidden, "examiner")  # fmt: skip
    out = world.files / "access" / "gul.json"
    summary = ok(world, "subject", "export", str(gul), "--out", str(out), token=world.auditor)
    assert summary.strip() == (
        f"subject {gul} 'Abdullah_Gul': 2 template(s), 0 candidate appearance(s), 0 consent(s), 0 legal hold(s); "
        f"written to {out}"
    )
    record = json.loads(out.read_text())
    assert record["subject"]["reference"] == "Abdullah_Gul" and record["subject"]["gallery"] == "booking"
    assert len(record["templates"]) == 2 and all(len(t["vector"]) == 128 for t in record["templates"])
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds biometric templates
    assert not list(out.parent.glob("*.part"))


def test_a_retention_dry_run_lists_what_would_go_and_what_a_hold_keeps(world: Any) -> None:
    gul = world.subjects["Abdullah_Gul"]
    ok(world, "gallery", "retention", "booking", "0")  # every template is due
    hold = json.loads(ok(world, "hold", "place", "--subject", str(gul), "--reason", "inquest", "--json"))
    try:
        before = templates(world)
        refused(fd(world, "retention", "run", "--dry-run", token=world.supervisor), Forbidden, "admin")
        report = json.loads(ok(world, "retention", "run", "--dry-run", "--json"))
        assert report["dry_run"] is True
        ok(world, "subject", "export", str(gul), "--out", str(world.files / "g.json"))
        held = sorted(t["id"] for t in json.loads((world.files / "g.json").read_text())["templates"])
        assert report["held"]["templates"] == held
        assert not set(report["deleted"]["templates"]) & set(held)
        assert report["counts"]["templates"] == before - len(held)
        assert templates(world) == before  # a dry run changes nothing

        text = ok(world, "retention", "run", "--dry-run")
        assert "(dry run: nothing was deleted)" in text
        assert "would delete" in text and "kept by a legal hold" in text
        line = next(x for x in text.splitlines() if x.strip().startswith("templates"))
        assert line.split()[1:3] == [str(before - len(held)), str(len(held))]
    finally:
        ok(world, "hold", "release", str(hold["id"]))
        ok(world, "gallery", "retention", "booking", "--policy")
    report = json.loads(ok(world, "retention", "run", "--json"))  # the policy keeps templates until erased
    assert report["dry_run"] is False and not report["deleted"].get("templates")
    assert templates(world) == before


def test_gallery_retention_takes_days_or_policy(world: Any) -> None:
    assert fd(world, "gallery", "retention", "booking").exit_code == 2
    assert fd(world, "gallery", "retention", "booking", "30", "--policy").exit_code == 2
    assert fd(world, "gallery", "retention", "booking", "-1").exit_code == 2
    assert "keeps its templates 30 day(s)" in ok(world, "gallery", "retention", "booking", "30")
    assert "the policy profile's period" in ok(world, "gallery", "retention", "booking", "--policy")


def test_a_consent_gallery_refuses_enrolment_until_consent_is_recorded(world: Any) -> None:
    ok(world, "gallery", "create", "loyalty", "--source", "members' photos", "--purpose", "store check-in")
    assert "now needs a live consent" in ok(world, "gallery", "require-consent", "loyalty", token=world.supervisor)
    tree = _tree(world.files / "loyalty", {LOYAL: (1,)}, world.dev_dir)
    first = json.loads(ok(world, "enroll", "loyalty", str(tree), "--json"))
    assert first["counts"]["no-consent"] == 1 and first["counts"]["enrolled"] == 0

    created = ok(world, "subject", "create", "loyalty", LOYAL, "--sex", "M", token=world.examiner)
    subject = int(created.split()[1])
    assert created.strip().endswith("created in gallery 2 'loyalty'")
    refused(fd(world, "subject", "create", "loyalty", LOYAL), Conflict, "exists")
    bad = fd(world, "consent", "record", str(subject), "--given-by", "x", "--purpose", "y", "--given", "yesterday")
    assert bad.exit_code == 2 and "not a date" in bad.output
    refused(fd(world, "consent", "record", str(subject), "--given-by", "x", "--purpose", "y",
               "--given", "2026-01-02", "--expires", "2026-01-01"), InvalidInput, "expire after")  # fmt: skip
    recorded = json.loads(ok(world, "consent", "record", str(subject), "--given-by", "Abel Pacheco (form 17)",
                             "--purpose", "store check-in", "--expires", "2099-12-31", "--json"))  # fmt: skip
    assert recorded["subject_id"] == subject and recorded["expires"].startswith("2099-12-31T00:00:00")

    second = json.loads(ok(world, "enroll", "loyalty", str(tree), "--json"))
    assert second["counts"]["enrolled"] == 1
    assert templates(world, "loyalty") == 1

    withdrawn = ok(world, "consent", "withdraw", str(subject))
    assert withdrawn.startswith(f"1 consent(s) of subject {subject} withdrawn; the next retention run erases")
    dry = json.loads(ok(world, "retention", "run", "--dry-run", "--json"))
    assert subject in dry["deleted"]["subjects"]
    ok(world, "retention", "run")
    assert templates(world, "loyalty") == 0
    refused(fd(world, "consent", "withdraw", str(subject)), NotFound, "no subject")
    assert "no longer needs consent" in ok(world, "gallery", "require-consent", "loyalty", "--off")


def test_evaluations_on_record_and_calibration(world: Any) -> None:
    data = world.dev_dir
    run = fd(world, "evaluate", str(data), "--max-identities", "8", "--json", "--save", token=world.auditor)
    assert run.exit_code == 0, (run.output, run.exception)
    result = json.loads(run.stdout)  # still exactly one JSON object
    assert run.stderr.strip().endswith("saved as evaluation run 1")
    (world.files / "run.json").write_text(run.stdout)

    refused(fd(world, "evaluation", "save", str(world.files / "run.json"), token=world.examiner), Forbidden, "examiner")
    (world.files / "bad.json").write_text("[1, 2]")
    bad = fd(world, "evaluation", "save", str(world.files / "bad.json"))
    assert bad.exit_code == 1 and "holds no JSON object" in bad.stderr
    saved = ok(world, "evaluation", "save", str(world.files / "run.json"), token=world.supervisor)
    assert saved.strip() == "evaluation run 2 saved"

    runs = json.loads(ok(world, "evaluation", "list", "--json", token=world.auditor))
    assert [r["id"] for r in runs] == [1, 2]
    assert {r["fingerprint"] for r in runs} == {result["fingerprint"]["sha256"]}  # the hash, not the dict's text
    assert result["fingerprint"]["sha256"] in ok(world, "evaluation", "list", token=world.auditor)

    shown = json.loads(ok(world, "evaluation", "show", "2", "--json", token=world.auditor))
    assert shown["verification"] == result["verification"] and shown["id"] == 2
    text = ok(world, "evaluation", "show", "2", token=world.auditor)
    assert text.startswith("evaluation run 2 of ") and "FNMR at FMR 0.01" in text
    assert f"images {result['images']}, identities 8" in text
    measured = {row["fmr"]: row["threshold"] for row in result["verification"]["fmr_table"]}
    assert 0.01 in measured and 0.0001 not in measured  # ~350 impostor pairs cannot measure 1e-4

    refused(fd(world, "evaluation", "calibrate", "2", "--target-fmr", "0.01", token=world.supervisor), Forbidden,
            "admin")  # fmt: skip
    refused(fd(world, "evaluation", "calibrate", "2", "--target-fmr", "0.0001"), InvalidInput, "pick one it measured")
    refused(fd(world, "evaluation", "show", "99", token=world.auditor), NotFound, "no evaluation run 99")
    calibrated = json.loads(ok(world, "evaluation", "calibrate", "2", "--target-fmr", "0.01", "--gallery", "booking",
                               "--json"))  # fmt: skip
    assert calibrated == {"evaluation_run_id": 2, "target_fmr": 0.01, "gallery_id": 1, "threshold": measured[0.01]}
    line = ok(world, "evaluation", "calibrate", "2", "--target-fmr", "0.01")
    assert line.startswith(f"threshold {measured[0.01]:.4f} for FMR 0.01 set for every gallery")


def test_errors_are_one_line(world: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEDOCKET_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(world.home), "subject", "erase", "999", "--reason", "request"])
    assert exit_.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["Error: no subject 999"]
    with pytest.raises(SystemExit):
        main(["--home", str(world.home), "hold", "place", "--reason", "r"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("Error: give exactly one of --case ID and --subject ID")
