"""The ONNX port of dlib's face ResNet gives dlib's own descriptors."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import dlib
import numpy as np
import pytest
from PIL import Image

from facedocket.errors import ConfigurationError, InvalidInput
from facedocket.vision.dlib_onnx import (
    Conv,
    OnnxDlibDescriptor,
    Pool,
    _Reader,
    dat_path,
    onnx_bytes,
    parse_dat,
)

N_PHOTOS = 20


def _faces_dir() -> Path:
    shared = os.environ.get("FACEDOCKET_SHARED")
    root = Path(shared) if shared else Path(__file__).parents[2] / ".." / "shared"
    return root / "faces"


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    photos = sorted((_faces_dir() / "dev").glob("*/*.jpg"))
    assert photos, f"no photos under {_faces_dir() / 'dev'}"
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(dat_path("shape_predictor_5_face_landmarks.dat"))
    out = []
    for photo in photos[:: max(1, len(photos) // N_PHOTOS)][:N_PHOTOS]:
        img = np.asarray(Image.open(photo).convert("RGB"))
        if dets := detector(img, 1):
            out.append(dlib.get_face_chip(img, predictor(img, dets[0]), size=150, padding=0.25))
    assert len(out) >= N_PHOTOS // 2
    return np.stack(out)


@pytest.fixture(scope="module")
def descriptor() -> OnnxDlibDescriptor:
    return OnnxDlibDescriptor(threads=2)


def test_descriptors_match_dlib(chips: np.ndarray, descriptor: OnnxDlibDescriptor) -> None:
    rec = dlib.face_recognition_model_v1(dat_path())
    ref = np.array([np.array(rec.compute_face_descriptor(c)) for c in chips], dtype=np.float32)
    ours = descriptor.compute(chips)
    assert ours.shape == (len(chips), 128) and ours.dtype == np.float32
    cosine = np.sum(ref * ours, 1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(ours, axis=1))
    assert cosine.min() >= 0.999
    assert np.linalg.norm(ref - ours, axis=1).max() < 1e-3  # dlib's match threshold is 0.6


def test_batch_equals_one_by_one(chips: np.ndarray, descriptor: OnnxDlibDescriptor) -> None:
    batch = descriptor.compute(chips[:4])
    single = np.concatenate([descriptor.compute(c) for c in chips[:4]])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert descriptor.compute(chips[:0]).shape == (0, 128)


def test_rejects_chips_that_are_not_uint8_150(descriptor: OnnxDlibDescriptor) -> None:
    with pytest.raises(InvalidInput, match="uint8"):
        descriptor.compute(np.zeros((1, 150, 150, 3), dtype=np.float32))
    with pytest.raises(InvalidInput, match="get_face_chip"):
        descriptor.compute(np.zeros((1, 112, 112, 3), dtype=np.uint8))


def test_parse_reads_the_whole_network() -> None:
    net = parse_dat(Path(dat_path()).read_bytes())
    kinds = Counter(type(layer).__name__ for layer in net.layers)
    assert kinds == Counter(Conv=29, Affine=29, Relu=29, Tag=18, AddPrev=14, Pool=6, Skip=4, Dense=1)
    assert (net.input.rows, net.input.cols) == (150, 150)
    np.testing.assert_allclose(net.input.mean, (122.782, 117.001, 104.298), atol=1e-4)
    first = net.layers[0]
    assert isinstance(first, Conv) and first.weights.shape == (32, 3, 7, 7) and first.padding == (0, 0)
    assert isinstance(net.layers[-2], Pool) and net.layers[-2].window == (0, 0)


def test_truncated_file_is_a_configuration_error() -> None:
    data = Path(dat_path()).read_bytes()
    with pytest.raises(ConfigurationError, match="ends early"):
        parse_dat(data[: len(data) // 2])


def test_reader_decodes_dlib_integers_and_floats() -> None:
    # 0 is "01 00"; -28 is "81 1c"; 0.04 is mantissa 0xa3d70a times 2**-28.
    r = _Reader(bytes.fromhex("0100 811c 030ad7a3 811c 01 31 30"))
    assert (r.integer(), r.integer()) == (0, -28)
    assert r.real() == pytest.approx(0.04)
    assert r.integer() == 0x31 and r.flag() is False and r.at_end


def test_onnx_is_cached_by_dat_checksum(tmp_path: Path) -> None:
    built = onnx_bytes(dat_path(), tmp_path)
    (cached,) = tmp_path.glob("dlib_resnet_*.onnx")
    assert cached.read_bytes() == built
    assert onnx_bytes(dat_path(), tmp_path) == built
