"""Safe image input: bytes or a path in, upright 8-bit RGB pixels out.

Everything that can go wrong with an untrusted image ends in one exception,
:class:`~facedocket.errors.InvalidImage`, whose message says what was wrong:
empty input, too many bytes, a format we do not accept, a decompression bomb,
absurd dimensions, a truncated or corrupt file.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from facedocket.errors import InvalidImage
from facedocket.types import Image, RGBArray

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on what we agree to decode.

    ``max_pixels`` stops decompression bombs before any pixel is decoded,
    ``max_bytes`` stops oversized uploads, ``min_side``/``max_side`` refuse absurd shapes.
    """

    max_pixels: int = 40_000_000
    max_bytes: int = 30 * 1024 * 1024
    max_side: int = 20_000
    min_side: int = 16


DEFAULT_LIMITS = ImageLimits()


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """Read a file, refusing missing files and files over ``limits.max_bytes``."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise InvalidImage(f"cannot read {p}: {e.strerror or e}; check the path") from None
    if p.is_dir():
        raise InvalidImage(f"{p} is a folder, not an image file")
    if size > limits.max_bytes:
        raise InvalidImage(f"{p} is {size:,} bytes, over the {limits.max_bytes:,}-byte limit; resize it first")
    return p.read_bytes()


def load_image(source: bytes | str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> Image:
    """Decode an image from bytes or a path into an upright RGB :class:`Image`.

    Example::

        image = load_image("probe.jpg")
        image.pixels.shape   # (H, W, 3), uint8
        image.sha256         # hash of the original bytes
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "image"
    else:
        data, name = read_bytes(source, limits), str(source)
    return decode(data, limits, name)


def decode(data: bytes, limits: ImageLimits = DEFAULT_LIMITS, name: str = "image") -> Image:
    """Decode ``data``; raise :class:`InvalidImage` with a reason if it is not a safe image."""
    _check_bytes(data, limits, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        try:
            with PILImage.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as img:
                fmt = str(img.format or "unknown")
                _check_dimensions(img.size, limits, name)
                img.seek(0)
                img.load()
                pixels = _to_rgb(ImageOps.exif_transpose(img) or img)
        except InvalidImage:
            raise
        except UnidentifiedImageError:
            raise InvalidImage(
                f"{name} is not an image in an accepted format ({', '.join(ACCEPTED_FORMATS)})"
            ) from None
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise InvalidImage(
                f"{name} decodes to too many pixels (decompression bomb?); the limit is {limits.max_pixels:,}"
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as e:
            raise InvalidImage(f"{name} is truncated or corrupt ({_short(e)})") from None
    return Image(pixels=pixels, sha256=sha256_hex(data), format=fmt, source=name)


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:120]


def _check_bytes(data: bytes, limits: ImageLimits, name: str) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidImage(f"{name}: expected image bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise InvalidImage(f"{name} is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise InvalidImage(f"{name} is {len(data):,} bytes, over the {limits.max_bytes:,}-byte limit; resize it first")


def _check_dimensions(size: tuple[int, int], limits: ImageLimits, name: str) -> None:
    width, height = size
    if width * height > limits.max_pixels:
        raise InvalidImage(
            f"{name} is {width}x{height} = {width * height:,} pixels, over the "
            f"{limits.max_pixels:,}-pixel limit (decompression bomb?); resize it first"
        )
    if max(width, height) > limits.max_side:
        raise InvalidImage(f"{name} is {width}x{height}; a side over {limits.max_side} px is refused")
    if min(width, height) < limits.min_side:
        raise InvalidImage(f"{name} is {width}x{height}; images under {limits.min_side} px on a side are refused")


def _to_rgb(img: PILImage.Image) -> RGBArray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB; alpha is composited over white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_to_rgb(img)
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = PILImage.alpha_composite(background, rgba)
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def _high_depth_to_rgb(img: PILImage.Image) -> RGBArray:
    """16-bit or 32-bit single-channel images scaled to 8 bits by their value range."""
    values = np.asarray(img).astype(np.float64)
    if img.mode == "F":
        top = 1.0 if values.size and float(np.nanmax(values)) <= 1.0 else 255.0
    else:
        top = 65535.0 if values.size and float(values.max()) > 255 else 255.0
    gray = np.clip(np.nan_to_num(values) / top * 255.0, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
