"""Per-group (demographic) figures on real photos, checked against straightforward loops.

The templates come from the first 60 identities of ../shared/faces/dev (about 210 photos,
one pipeline run without flip or jitter, for speed); the labels are the shared LFW label table.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facedocket.errors import InvalidInput
from facedocket.oversight import demographics as dm
from facedocket.oversight import evaluation as ev
from facedocket.oversight import report

IDENTITIES = 60
COLUMNS = ("sex", "race")


@pytest.fixture(scope="module")
def labels_csv(faces_dir: Path) -> Path:
    return faces_dir / "labels" / "identity_labels.csv"


@pytest.fixture(scope="module")
def extracted(dev_dir: Path) -> ev.Extracted:
    from facedocket.vision.pipeline import FacePipeline, PipelineOptions

    pipeline = FacePipeline(PipelineOptions(flip=False, jitter=False))
    return ev.extract(pipeline, ev.list_identities(dev_dir, IDENTITIES))


@pytest.fixture(scope="module")
def analysed(extracted: ev.Extracted, labels_csv: Path) -> dm.Differentials:
    return dm.analyse(extracted, dm.read_groups(labels_csv, COLUMNS), bootstrap=300)


def _label_table(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return {row["identity"]: row for row in csv.DictReader(f)}


def _score(ex: ev.Extracted, i: int, j: int) -> float:
    if not (ex.found[i] and ex.found[j]):
        return -math.inf
    return float(np.dot(ex.templates[i].astype(np.float64), ex.templates[j].astype(np.float64)))


def test_threshold_is_set_on_all_impostor_pairs(extracted: ev.Extracted, analysed: dm.Differentials) -> None:
    n = len(extracted.labels)
    impostor = [
        _score(extracted, i, j) for i in range(n) for j in range(i + 1, n) if extracted.labels[i] != extracted.labels[j]
    ]
    assert len(impostor) < 100_000  # so the protocol uses every impostor pair, no sample
    allowed = math.floor(0.001 * len(impostor))
    kth = sorted(impostor, reverse=True)[allowed]
    t = analysed.threshold
    assert kth < t <= kth + 1.01e-6
    assert sum(s >= t for s in impostor) <= allowed
    protocol = analysed.result["group_protocol"]
    assert isinstance(protocol, dict)
    assert protocol["threshold"] == t and protocol["overall"]["pairs"]["impostor"] == len(impostor)


def test_group_rates_match_straightforward_loops(
    extracted: ev.Extracted, analysed: dm.Differentials, labels_csv: Path
) -> None:
    table = _label_table(labels_csv)
    labels, t, n = extracted.labels, analysed.threshold, len(extracted.labels)
    groups = analysed.result["groups"]
    assert isinstance(groups, dict) and set(groups) == set(COLUMNS)
    for column in COLUMNS:
        value_of = {name: table[name][column] for name in set(labels) if name in table and table[name][column]}
        assert set(groups[column]) == set(value_of.values())
        for value, got in groups[column].items():
            mine = [i for i in range(n) if value_of.get(labels[i]) == value]
            gen = [_score(extracted, i, j) for a, i in enumerate(mine) for j in mine[a + 1 :] if labels[i] == labels[j]]
            imp = [_score(extracted, i, j) for a, i in enumerate(mine) for j in mine[a + 1 :] if labels[i] != labels[j]]
            assert got["pairs"] == {"genuine": len(gen), "impostor": len(imp)}, (column, value)
            assert got["identities"] == len({labels[i] for i in mine}) and got["images"] == len(mine)
            if gen:
                assert got["fnmr"] == pytest.approx(sum(s < t for s in gen) / len(gen), abs=1e-6)
                assert got["errors"]["false_non_matches"] == sum(s < t for s in gen)
            else:
                assert got["fnmr"] is None and got["fnmr_ci"] is None
            if imp:
                assert got["fmr"] == pytest.approx(sum(s >= t for s in imp) / len(imp), abs=1e-6)
            else:
                assert got["fmr"] is None and got["fmr_ci"] is None


def test_identification_per_group_matches_loops(
    extracted: ev.Extracted, analysed: dm.Differentials, labels_csv: Path
) -> None:
    table = _label_table(labels_csv)
    labels, t = extracted.labels, analysed.threshold
    enrolled, _ = ev.split_identities(sorted(set(labels)), seed=0)
    first = {name: labels.index(name) for name in set(labels)}
    gallery = [first[name] for name in enrolled if extracted.found[first[name]]]
    groups = analysed.result["groups"]
    assert isinstance(groups, dict)
    for value, got in groups["sex"].items():
        hits = misses = false_alarms = nonmated = 0
        for i, name in enumerate(labels):
            if table.get(name, {}).get("sex") != value or (name in enrolled and i == first[name]):
                continue
            scores = {labels[g]: _score(extracted, i, g) for g in gallery}
            if name in enrolled:
                mate = scores.get(name, -math.inf)
                rank = 1 + sum(s > mate for s in scores.values())
                ok = extracted.found[i] and name in scores and rank <= 50 and mate >= t
                hits, misses = hits + bool(ok), misses + (not ok)
            else:
                nonmated += 1
                false_alarms += max(scores.values()) >= t
        assert got["searches"] == {"mated": hits + misses, "nonmated": nonmated}
        assert got["fnir"] == pytest.approx(misses / (hits + misses), abs=1e-6)
        assert got["fpir"] == pytest.approx(false_alarms / nonmated, abs=1e-6)


def test_intervals_ratios_and_summary(analysed: dm.Differentials) -> None:
    groups, summary = analysed.result["groups"], analysed.result["group_summary"]
    assert isinstance(groups, dict) and isinstance(summary, dict)
    for column, values in groups.items():
        for g in values.values():
            for kind in ("fnmr", "fmr"):
                for key in (kind, f"{kind}_ci", f"{kind}_ratio", f"{kind}_ratio_ci"):
                    assert key in g
                if g[f"{kind}_ci"] is not None:
                    low, high = g[f"{kind}_ci"]
                    assert low <= g[kind] <= high
                    assert low >= 0 and high <= 1
        s = summary[column]
        for key in ("max_min_fnmr_ratio", "max_min_fmr_ratio", "worst_fnmr_group", "worst_fmr_group"):
            assert key in s
    sex, s = groups["sex"], summary["sex"]
    # Both sexes are measured on these identities; ratios are to the lower rate.
    for kind in ("fnmr", "fmr"):
        best, worst = s[f"best_{kind}_group"], s[f"worst_{kind}_group"]
        assert sex[best][kind] <= sex[worst][kind]
        if sex[best][kind] > 0:
            assert sex[best][f"{kind}_ratio"] == 1.0
            assert sex[worst][f"{kind}_ratio"] == pytest.approx(sex[worst][kind] / sex[best][kind], rel=1e-3)
            assert s[f"max_min_{kind}_ratio"] == pytest.approx(sex[worst][f"{kind}_ratio"], rel=1e-3)
        else:
            assert s[f"max_min_{kind}_ratio"] is None and s[f"{kind}_note"]


def test_bootstrap_is_deterministic(extracted: ev.Extracted, labels_csv: Path, analysed: dm.Differentials) -> None:
    again = dm.analyse(extracted, dm.read_groups(labels_csv, COLUMNS), bootstrap=300)
    assert json.dumps(again.result, sort_keys=True) == json.dumps(analysed.result, sort_keys=True)


def test_findings_name_the_worse_group(analysed: dm.Differentials) -> None:
    findings = analysed.result["findings"]
    summary = analysed.result["group_summary"]
    assert isinstance(findings, list) and isinstance(summary, dict)
    assert findings[0].startswith(f"All figures are at one threshold, {analysed.threshold:.6f}")
    worst, best = summary["sex"]["worst_fmr_group"], summary["sex"]["best_fmr_group"]
    if summary["sex"]["max_min_fmr_ratio"] is not None:
        assert any(f.startswith(f"FMR for sex={worst} is ") and f"that of sex={best}" in f for f in findings)
    for f in findings:
        if "race=" in f and "race=caucasian" not in f.split(" is ")[0]:
            assert "Not reliable" in f or "no ratio" in f or "cannot be compared" in f


def test_report_is_self_contained(extracted: ev.Extracted, analysed: dm.Differentials, tmp_path: Path) -> None:
    result: dict[str, Any] = ev.evaluate(extracted)
    result.update(analysed.result)
    result["data_dir"] = "dev <subset>"
    path = report.write_report(tmp_path / "r.html", result, analysed.overall, analysed)
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "dev &lt;subset&gt;" in text
    summary = analysed.result["group_summary"]
    assert isinstance(summary, dict)
    assert f"sex={summary['sex']['worst_fmr_group']}" in text.split("<h2>Threshold</h2>")[0]
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 1 + len(COLUMNS)
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as img:
            img.load()
            assert img.format == "PNG" and img.width > 300


def test_report_escapes_label_text(extracted: ev.Extracted, tmp_path: Path) -> None:
    names = sorted(set(extracted.labels))
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text(
        "identity,team\n" + "".join(f"{n},{'<script>x</script>' if i % 2 else 'a&b'}\n" for i, n in enumerate(names))
    )
    diff = dm.analyse(extracted, dm.read_groups(csv_path), bootstrap=50)
    result: dict[str, Any] = {"verification": {}, "identification": {}, **diff.result}
    text = report.render_html(result)
    assert "<script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text and "a&amp;b" in text


def test_det_png_decodes() -> None:
    rng = np.random.default_rng(1)
    scores = dm.GroupScores(rng.normal(0.9, 0.05, 300), rng.normal(0.5, 0.1, 5000))
    png = report.det_png({"g": scores}, 0.8, "test")
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        assert img.format == "PNG"
    fmr, fnmr = report.det_points(scores.genuine, scores.impostor)
    assert fmr.min() == pytest.approx(1 / 5000) and np.all(np.diff(fmr) >= 0) and np.all(np.diff(fnmr) <= 0)


def test_cli_groups_json_and_table(
    dev_dir: Path, labels_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from facedocket.cli import cli
    from facedocket.cli.pipeline import _print_evaluation
    from facedocket.config import Settings

    settings = Settings(home=tmp_path / "home", flip=False, jitter=False)
    out = tmp_path / "report.html"
    args = ["evaluate", str(dev_dir), "--max-identities", "10", "--groups", str(labels_csv), "--bootstrap", "100"]
    result = CliRunner().invoke(cli, [*args, "--json", "--report", str(out)], obj=settings)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"]["target_fmr"] == 0.001 and data["settings"]["groups"] == str(labels_csv)
    assert data["settings"]["flip"] is False and data["settings"]["max_identities"] == 10
    assert len(data["fingerprint"]["sha256"]) == 64 and data["fingerprint"]["files"] == data["images"]
    assert data["group_protocol"]["labels"]["skipped_columns"].keys() == {"n_img_male", "n_img_female"}
    assert data["groups"]["sex"]
    for value in data["groups"]["sex"].values():
        for key in ("fnmr", "fmr", "fnmr_ci", "fmr_ci", "pairs", "fnmr_ratio", "fmr_ratio", "fnir", "fpir"):
            assert key in value
        assert set(value["pairs"]) == {"genuine", "impostor"} and value["identities"] > 0
    assert {"max_min_fnmr_ratio", "max_min_fmr_ratio", "worst_fmr_group"} <= set(data["group_summary"]["sex"])
    assert data["findings"] and out.is_file()
    rows = data["verification"]["fmr_table"]
    assert rows and all(r["fmr"] * data["verification"]["impostor_pairs"] >= 1 for r in rows)
    capsys.readouterr()
    _print_evaluation(data)
    table = capsys.readouterr().out
    assert "per-group figures at threshold" in table and "sex=M:" in table and "findings:" in table


def test_cli_bad_groups_file_is_one_line_error(dev_dir: Path, tmp_path: Path) -> None:
    from facedocket.cli import cli

    result = CliRunner().invoke(cli, ["evaluate", str(dev_dir), "--groups", str(tmp_path / "none.csv")])
    assert result.exit_code != 0 and isinstance(result.exception, InvalidInput)
    assert "not found" in str(result.exception)


def test_fingerprint(tmp_path: Path) -> None:
    for name, body in (("a/1.jpg", b"one"), ("b/2.jpg", b"two")):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(body)
    paths = [tmp_path / "b/2.jpg", tmp_path / "a/1.jpg"]
    lines = "".join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in (("a/1.jpg", b"one"), ("b/2.jpg", b"two")))
    fp = ev.fingerprint(tmp_path, paths)
    assert fp["sha256"] == hashlib.sha256(lines.encode()).hexdigest() and fp["files"] == 2
    (tmp_path / "a/1.jpg").write_bytes(b"changed")
    assert ev.fingerprint(tmp_path, paths)["sha256"] != fp["sha256"]


def test_fmr_table_skips_unmeasurable_rates() -> None:
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(0.9, 0.05, 200), rng.normal(0.5, 0.1, 5000)
    rows = ev.fmr_table(genuine, impostor)
    assert [r["fmr"] for r in rows] == [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003]  # 1e-4 * 5000 < 1
    thresholds = [r["threshold"] for r in rows]
    assert thresholds == sorted(thresholds)
    for r in rows:
        assert np.mean(impostor >= r["threshold"]) <= r["fmr"]


# --- the groups CSV reader -------------------------------------------------------------


def test_read_groups_identity_column_unknowns_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("\ufeffsex,identity,age,count\nF,a,30-39,3\n,b,,4\nM,c,40-49,\n")
    groups = dm.read_groups(path)
    assert groups.identity_column == "identity" and groups.columns == ["sex", "age"]
    assert "count" in groups.skipped
    assert groups.value("a", "sex") == "F" and groups.value("b", "sex") is None and groups.value("zz", "sex") is None
    assert dm.read_groups(path, ["count"]).columns == ["count"]
    first = tmp_path / "first.csv"
    first.write_text("name,sex\na,F\n")
    assert dm.read_groups(first).identity_column == "name"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "not found"),
        ("", "is empty"),
        ("identity\na\n", "no group columns"),
        (",sex\na,F\n", "no identity column"),
        ("identity,sex\n", "no rows"),
        ("identity,sex\na,F\na,M\n", "appears twice"),
        ("identity,sex\n,F\n", "identity cell is empty"),
    ],
)
def test_read_groups_errors(tmp_path: Path, body: str | None, message: str) -> None:
    path = tmp_path / "g.csv"
    if body is not None:
        path.write_text(body)
    with pytest.raises(InvalidInput, match=message) as info:
        dm.read_groups(path)
    assert "\n" not in str(info.value)


def test_read_groups_unknown_column(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("identity,sex\na,F\n")
    with pytest.raises(InvalidInput, match="'race' is not in"):
        dm.read_groups(path, ["race"])


# --- fmr_at_score -------------------------------------------------------------------------


def _with_table(monkeypatch: pytest.MonkeyPatch, table: list[dict[str, float]]) -> None:
    from dataclasses import replace

    from facedocket.vision import models

    card = models.model_card("dlib-resnet-v1")
    assert card.calibration is not None
    patched = replace(card, calibration=replace(card.calibration, fmr_table=table))
    monkeypatch.setattr(models, "model_card", lambda model_id: patched)


def test_fmr_at_score_interpolates_log_fmr(monkeypatch: pytest.MonkeyPatch) -> None:
    from facedocket.vision.models import fmr_at_score

    _with_table(
        monkeypatch,
        [{"fmr": 0.1, "threshold": 0.5}, {"fmr": 0.001, "threshold": 0.7}, {"fmr": 0.0001, "threshold": 0.8}],
    )
    assert fmr_at_score("dlib-resnet-v1", 0.5) == pytest.approx(0.1)
    assert fmr_at_score("dlib-resnet-v1", 0.6) == pytest.approx(0.01)  # halfway in log10
    assert fmr_at_score("dlib-resnet-v1", 0.75) == pytest.approx(10**-3.5)
    assert fmr_at_score("dlib-resnet-v1", 0.95) == pytest.approx(0.0001)  # clamped above the last point
    assert fmr_at_score("dlib-resnet-v1", 0.1) == pytest.approx(0.1)  # clamped below the first
    _with_table(monkeypatch, [])
    assert fmr_at_score("dlib-resnet-v1", 0.6) is None


def test_fmr_at_score_on_the_shipped_card() -> None:
    from facedocket.vision.models import default_threshold, fmr_at_score, model_card

    assert fmr_at_score("retinaface-mnet025", 0.9) is None  # no calibration at all
    card = model_card("dlib-resnet-v1")
    assert card.calibration is not None and card.calibration.fmr_table
    at_default = fmr_at_score("dlib-resnet-v1", default_threshold())
    assert at_default == pytest.approx(card.calibration.target_fmr, rel=1e-6)
    scores = np.linspace(0.85, 0.97, 25)
    rates = [fmr_at_score("dlib-resnet-v1", float(s)) for s in scores]
    assert all(r is not None for r in rates)
    assert all(a >= b for a, b in itertools.pairwise(rates))  # type: ignore[operator]
