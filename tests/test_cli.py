"""The CLI on real photos: exit 0 with valid JSON, non-zero with a one-line error on bad input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from facedocket.cli import cli, main


@dataclass(frozen=True)
class Completed:
    """What a command printed and how it exited (``returncode``, ``stdout``, ``stderr``)."""

    returncode: int
    stdout: str
    stderr: str


def run(args: list[str], stdin: str | None = None) -> Completed:
    """The entry point (``main``, which turns every error into one line), in this process
    with an isolated environment and standard streams, as a user runs it. Pipelines built for
    the same options are shared across commands (``shared_pipeline``), so models load once."""
    with CliRunner().isolation(input=stdin) as (out, err, _):
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        return Completed(code, out.getvalue().decode(), err.getvalue().decode())


def assert_one_line_error(proc: Completed, *fragments: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


COMMANDS = ["detect", "compare", "embed", "evaluate", "models", "settings"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


def test_detect_json(faces_dir: Path) -> None:
    photo = faces_dir / "multi" / "CompreFace__embedding-calculator_sample_images_010_2.jpg"
    proc = run(["detect", str(photo), "--json"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    faces = data["images"][0]["faces"]
    assert len(faces) == 2
    for face in faces:
        assert len(face["box"]) == 4 and len(face["landmarks"]) == 5
        assert 0 <= face["quality"]["score"] <= 1


def test_compare_same_and_different(dev_dir: Path) -> None:
    a, b = dev_dir / "Yao_Ming" / "1.jpg", dev_dir / "Yao_Ming" / "2.jpg"
    other = dev_dir / "Venus_Williams" / "1.jpg"
    same = json.loads(run(["compare", str(a), str(b), "--json"]).stdout)
    diff = json.loads(run(["compare", str(a), str(other), "--json"]).stdout)
    assert same["same"] is True and diff["same"] is False
    assert same["similarity"] > same["threshold"] > diff["similarity"]


def test_compare_without_a_face_is_a_clear_error(dev_dir: Path, faces_dir: Path) -> None:
    noface = faces_dir / "noface" / "dlib__dlib_test_ffmpeg_data_eagle.jpg"
    proc = run(["compare", str(dev_dir / "Yao_Ming" / "1.jpg"), str(noface)])
    assert_one_line_error(proc, "no face found", "eagle")


def test_compare_several_faces_needs_face_option(dev_dir: Path, faces_dir: Path) -> None:
    group = faces_dir / "multi" / "CompreFace__embedding-calculator_sample_images_010_2.jpg"
    proc = run(["compare", str(group), str(dev_dir / "Yao_Ming" / "1.jpg")])
    assert_one_line_error(proc, "--face")
    ok = run(["compare", str(group), str(dev_dir / "Yao_Ming" / "1.jpg"), "--face-a", "2", "--json"])
    assert ok.returncode == 0, ok.stderr
    assert -1 <= json.loads(ok.stdout)["similarity"] <= 1


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [("empty", "empty"), ("text", "not an image"), ("truncated", "truncated or corrupt")],
)
def test_bad_images_give_one_line_errors(tmp_path: Path, dev_photo: Path, kind: str, fragment: str) -> None:
    content = {
        "empty": b"",
        "text": b"hello, not an image" * 20,
        "truncated": dev_photo.read_bytes()[:3000],
    }[kind]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    assert_one_line_error(run(["detect", str(bad)]), fragment)


def test_missing_file_and_bad_option() -> None:
    assert_one_line_error(run(["detect", "/no/such/photo.jpg"]), "cannot read")
    proc = run(["detect", "--detector", "nope", "x.jpg"])
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_embed_folder_stdin_and_npz(tmp_path: Path, dev_dir: Path, faces_dir: Path) -> None:
    folder = dev_dir / "Yao_Ming"
    noface = faces_dir / "noface" / "dlib__dlib_test_ffmpeg_data_eagle.jpg"
    out = tmp_path / "t.npz"
    proc = run(["embed", str(folder), "-", "--out", str(out), "--json"], stdin=f"{noface}\n")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["images"]
    n_photos = len(list(folder.glob("*.jpg")))
    assert len(rows) == n_photos + 1
    assert rows[-1]["found"] is False and rows[-1]["reason"]
    saved = np.load(out)
    assert saved["templates"].shape == (n_photos + 1, 128)
    assert saved["templates"].dtype == np.float32
    assert saved["found"].tolist() == [True] * n_photos + [False]
    assert not saved["templates"][-1].any()
    norms = np.linalg.norm(saved["templates"][:-1], axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)
    assert list(saved["paths"])[-1] == str(noface)


def test_evaluate_json_shape(dev_dir: Path) -> None:
    proc = run(["evaluate", str(dev_dir), "--max-identities", "12", "--json"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in (
        "images",
        "identities",
        "detection_failures",
        "model",
        "detector",
        "verification",
        "identification",
        "images_per_second",
    ):
        assert key in data
    assert data["identities"] == 12
    ver = data["verification"]
    assert set(ver["fnmr_at_fmr"]) == {"0.01", "0.001", "0.0001"}
    assert ver["genuine_pairs"] > 0 and ver["impostor_pairs"] > 0
    assert 0 <= ver["eer"] <= 1
    assert set(data["identification"]["fnir_at_fpir"]) == {"0.01"}
    assert 0 <= data["identification"]["rank1"] <= 1


def test_evaluate_refuses_a_file(dev_photo: Path) -> None:
    proc = run(["evaluate", str(dev_photo)])
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_model_option_picks_the_template_model(tmp_path: Path, dev_dir: Path) -> None:
    a, b = dev_dir / "Yao_Ming" / "1.jpg", dev_dir / "Yao_Ming" / "2.jpg"
    proc = run(["compare", str(a), str(b), "--model", "sface-2021dec", "--json"])
    assert proc.returncode == 0, proc.stderr
    same = json.loads(proc.stdout)
    from facedocket.vision.models import default_threshold

    assert same["model"] == "sface-2021dec" and same["threshold"] == default_threshold("sface-2021dec", True)
    assert same["same"] is True
    out = tmp_path / "s.npz"
    proc = run(["embed", str(a), "--model", "sface-2021dec", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    saved = np.load(out)
    assert str(saved["model"]) == "sface-2021dec" and saved["templates"].shape == (1, 128)
    detected = json.loads(run(["detect", str(a), "--model", "sface-2021dec", "--json"]).stdout)
    assert detected["model"] == "sface-2021dec"


def test_an_unknown_model_is_a_one_line_error(dev_photo: Path) -> None:
    assert_one_line_error(run(["embed", str(dev_photo), "--model", "no-such-model"]), "unknown model", "sface-2021dec")
    assert_one_line_error(run(["embed", str(dev_photo), "--model", "retinaface-mnet025"]), "not a template model")


def test_models_lists_both_template_cards_with_their_roles() -> None:
    result = CliRunner().invoke(cli, ["models", "--json"])
    assert result.exit_code == 0, result.output
    cards = json.loads(result.output)
    assert cards["sface-2021dec"]["roles"] == ["default for new galleries"]
    assert cards["dlib-resnet-v1"]["roles"] == [
        "model of galleries made before galleries chose their model",
        "model of watchlists",
    ]
    assert cards["sface-2021dec"]["calibration"]["flip"] is True
    assert [c["flip"] for c in cards["sface-2021dec"]["other_calibrations"]] == [False]
    text = CliRunner().invoke(cli, ["models"]).output
    assert "sface-2021dec (template, default for new galleries)" in text and "Apache-2.0" in text
