"""Safe image input: every accepted format decodes to upright RGB; every bad input raises
InvalidImage with a reason."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from facedocket.errors import InvalidImage
from facedocket.vision.images import ImageLimits, decode, load_image, sha256_hex


def _encode(img: PILImage.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(width: int = 64, height: int = 48) -> PILImage.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    arr = np.stack(
        [np.tile(x, (height, 1)), np.full((height, width), 100, np.uint8), np.tile(x[::-1], (height, 1))],
        axis=2,
    )
    return PILImage.fromarray(arr, "RGB")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"])
def test_accepted_formats_decode_to_rgb(fmt: str) -> None:
    data = _encode(_gradient(), fmt)
    image = decode(data)
    assert image.pixels.shape == (48, 64, 3)
    assert image.pixels.dtype == np.uint8
    assert image.sha256 == sha256_hex(data)
    assert image.format in (fmt, "MPO")


def test_gif_first_frame_only() -> None:
    frames = [PILImage.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    image = decode(buf.getvalue())
    assert tuple(image.pixels[16, 16]) == pytest.approx((255, 0, 0), abs=8)


def test_exif_orientation_is_applied() -> None:
    img = _gradient(64, 48)
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image = decode(_encode(img, "JPEG", exif=exif.tobytes()))
    assert image.pixels.shape == (64, 48, 3)


@pytest.mark.parametrize(
    ("mode", "fill"),
    [("L", 128), ("P", 3), ("CMYK", (0, 0, 0, 0)), ("RGBA", (10, 20, 30, 0)), ("LA", (50, 255)), ("1", 1)],
)
def test_modes_convert_to_8bit_rgb(mode: str, fill: object) -> None:
    img = PILImage.new(mode, (40, 30), fill)  # type: ignore[arg-type]
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    image = decode(_encode(img, fmt))
    assert image.pixels.shape == (30, 40, 3)
    assert image.pixels.dtype == np.uint8
    if mode == "RGBA":  # fully transparent: composited over white
        assert tuple(image.pixels[0, 0]) == (255, 255, 255)
    if mode == "CMYK":  # no ink: white
        assert tuple(image.pixels[0, 0]) == (255, 255, 255)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    arr = np.full((30, 40), 65535 // 2, dtype=np.uint16)
    img = PILImage.fromarray(arr)
    image = decode(_encode(img, "PNG"))
    assert 120 <= int(image.pixels[0, 0, 0]) <= 135


def test_zero_bytes() -> None:
    with pytest.raises(InvalidImage, match="empty"):
        decode(b"")


def test_not_an_image() -> None:
    with pytest.raises(InvalidImage, match="not an image"):
        decode(b"%PDF-1.4 this is a document, not a photo" * 10)


def test_wrong_type() -> None:
    with pytest.raises(InvalidImage, match="expected image bytes"):
        decode("a string")  # type: ignore[arg-type]


def test_truncated_jpeg(dev_photo: Path) -> None:
    data = dev_photo.read_bytes()
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        decode(data[: len(data) // 2])


def test_corrupt_body() -> None:
    data = bytearray(_encode(_gradient(), "PNG"))
    data[60:120] = b"\x00" * 60
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        decode(bytes(data))


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidImage, match="decompression bomb"):
        decode(_png_header_only(60_000, 60_000))


def test_pixel_limit_is_configurable() -> None:
    data = _encode(_gradient(200, 200), "PNG")
    decode(data)
    with pytest.raises(InvalidImage, match="pixel limit"):
        decode(data, ImageLimits(max_pixels=10_000))


def test_byte_limit() -> None:
    data = _encode(_gradient(), "PNG")
    with pytest.raises(InvalidImage, match="byte limit"):
        decode(data, ImageLimits(max_bytes=100))


@pytest.mark.parametrize("size", [(1, 5000), (5000, 4), (25_000, 20)])
def test_absurd_sizes(size: tuple[int, int]) -> None:
    with pytest.raises(InvalidImage, match="refused"):
        decode(_encode(PILImage.new("RGB", size), "PNG"))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidImage, match="cannot read"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(InvalidImage, match="folder"):
        load_image(tmp_path)


def test_load_from_path_keeps_hash(dev_photo: Path) -> None:
    image = load_image(dev_photo)
    assert image.sha256 == sha256_hex(dev_photo.read_bytes())
    assert image.pixels.shape[2] == 3
