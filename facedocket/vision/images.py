"""Safe image input: bytes or a path in, upright 8-bit RGB pixels out.

Everything that can go wrong with an untrusted image ends in one exception,
:class:`~facedocket.errors.InvalidImage`, whose message says what was wrong:
empty input, too many bytes, a format we do not accept, a decompression bomb,
absurd dimensions, a JPEG with too many scans, a truncated or corrupt file.

Decoding is bounded by work, not only by size:

* the pixel count and sides are checked from the header, before any pixel is decoded;
* a JPEG's scans are counted before decoding (a progressive JPEG of thousands of empty
  scans costs a full pass over the image per scan) and more than ``max_scans`` refused;
* an image whose longer side is over ``max_decoded_side`` (4,096 px by default) is
  scaled down to it: a JPEG while it is decoded (libjpeg's DCT scaling, "draft" mode),
  any other format in bands of rows right after decoding. Detection works on at most
  ``detect_max_side`` pixels anyway; templates are cut from these pixels, so a face
  keeps all its detail unless it sat in an image over 4,096 px, where it keeps at
  least 4,096 / longer side of it (a face of 400 px in an 8,000 px photo keeps 200 px,
  more than the 150 px template chip needs);
* modes are converted to 8 bits band by band, never as a float64 copy of the image,
  so one decode of any input under the pixel limit holds about 300 MB at most (the
  decoded image at its own depth, up to 4 bytes a pixel, plus the 8-bit result);
* :func:`decode_slots` bounds how many decodes run at once in a server.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from facedocket.errors import Busy, InvalidImage
from facedocket.types import Image, RGBArray

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "RGBa", "La", "P", "PA")
_BAND_PIXELS = 1 << 21  # source pixels converted at a time (a band of 2 M pixels, 8 MB at 4 bytes a pixel)
_RESAMPLE = PILImage.Resampling.LANCZOS
_LANCZOS_SUPPORT = 3.0


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on what we agree to decode.

    ``max_pixels`` stops decompression bombs before any pixel is decoded,
    ``max_bytes`` stops oversized uploads, ``min_side``/``max_side`` refuse absurd shapes,
    ``max_scans`` refuses JPEGs of more scans than any encoder writes (progressive scan
    bombs), images whose longer side is over ``max_decoded_side`` are scaled down to it
    while decoding, and ``max_decode_bytes`` bounds the memory one decode may need,
    estimated from the header (see :func:`decode_cost`).
    """

    max_pixels: int = 40_000_000
    max_bytes: int = 30 * 1024 * 1024
    max_side: int = 20_000
    min_side: int = 16
    max_decoded_side: int = 4096
    max_scans: int = 100
    max_decode_bytes: int = 300_000_000


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


MEDIA_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG": "image/png",
    b"GIF8": "image/gif",
    b"BM": "image/bmp",
    b"II*\x00": "image/tiff",
    b"MM\x00*": "image/tiff",
}
BROWSER_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
"""Media types every browser shows; others are shown through :func:`encode_jpeg`."""


def media_type_of(data: bytes) -> str:
    """The media type of image bytes by their signature (``application/octet-stream`` if unknown).

    >>> media_type_of(b"\xff\xd8\xff\xe0...")
    'image/jpeg'
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, media_type in MEDIA_TYPES.items():
        if data.startswith(magic):
            return media_type
    return "application/octet-stream"


def encode_jpeg(pixels: RGBArray, quality: int = 90) -> bytes:
    """8-bit RGB pixels as JPEG bytes (a face crop to keep, an image a browser cannot show)."""
    out = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def scaled(pixels: RGBArray, max_side: int) -> RGBArray:
    """``pixels`` scaled down so the longer side is at most ``max_side`` (unchanged if it is)."""
    height, width = pixels.shape[:2]
    size = fitted_size((width, height), max_side)
    if size == (width, height):
        return pixels
    return np.asarray(PILImage.fromarray(pixels, "RGB").resize(size, _RESAMPLE))


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
    """Decode ``data``; raise :class:`InvalidImage` with a reason if it is not a safe image.

    An image whose longer side is over ``limits.max_decoded_side`` comes back scaled down
    to it; :attr:`Image.scale` says by how much.
    """
    _check_bytes(data, limits, name)
    _check_webp(data, limits, name)
    scans = check_jpeg_scans(data, limits.max_scans, name) if data[:3] == b"\xff\xd8\xff" else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on broken metadata: not ours to print
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        try:
            with PILImage.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as img:
                fmt = str(img.format or "unknown")
                _check_dimensions(img.size, limits, name)
                pixels, scale = _decode_pixels(img, limits, scans, name)
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
    return Image(pixels=pixels, sha256=sha256_hex(data), format=fmt, source=name, scale=scale)


class DecodeSlots:
    """At most ``n`` decodes at a time: a bounded semaphore for a server's upload handlers.

    One decode holds up to about 300 MB and a core, so a server lets ``n`` run at once
    and makes the others wait, at most ``timeout`` seconds, then answers :class:`Busy`.

    Example::

        slots = decode_slots(2)
        with slots.hold(timeout=30):
            image = decode(data)
        image = slots.decode(data, limits, "upload.jpg", timeout=30)  # the same
    """

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"decode slots must be at least 1, got {n}")
        self.n = n
        self._semaphore = threading.BoundedSemaphore(n)

    @contextmanager
    def hold(self, timeout: float | None = None) -> Iterator[None]:
        """Take a slot for the ``with`` block; :class:`Busy` when none frees in ``timeout`` s."""
        if not self._semaphore.acquire(timeout=timeout):
            raise Busy(f"{self.n} images are being decoded already; try again in a few seconds")
        try:
            yield
        finally:
            self._semaphore.release()

    def decode(
        self, data: bytes, limits: ImageLimits = DEFAULT_LIMITS, name: str = "image", timeout: float | None = None
    ) -> Image:
        """:func:`decode` in a slot."""
        with self.hold(timeout):
            return decode(data, limits, name)


def decode_slots(n: int) -> DecodeSlots:
    """A :class:`DecodeSlots` letting ``n`` decodes run at once (setting ``max_concurrent_decodes``)."""
    return DecodeSlots(n)


# --- JPEG scans -------------------------------------------------------------------------

_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # ends entropy-coded data; FF00 and RSTn do not
_STANDALONE = frozenset([0x01, 0xD8])  # TEM and SOI have no length field (RSTn never match)
_MAX_SEGMENTS = 10_000


def check_jpeg_scans(data: bytes, max_scans: int, name: str = "image") -> int:
    """Count the scans (SOS markers) of the first image in a JPEG; returns the count.

    Raises :class:`InvalidImage` over ``max_scans``: each scan of a progressive JPEG is
    a pass over the whole image, so a small file of 20,000 empty scans would hold a core
    for a minute. A baseline JPEG has 1 to 4 scans, encoders' progressive scripts about 10.
    Segments are walked by their lengths (an EXIF thumbnail's scans are not counted), and
    the next marker is found with a regular-expression search, as libjpeg finds it.

    Example::

        >>> check_jpeg_scans(b"\\xff\\xd8\\xff\\xd9", 100)
        0
    """
    scans = segments = 0
    pos = 2 if data[:2] == b"\xff\xd8" else len(data)
    while (match := _NEXT_MARKER.search(data, pos)) is not None:
        pos = match.start()
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI: the end of the first image
            break
        segments += 1
        if segments > _MAX_SEGMENTS:
            raise InvalidImage(f"{name} is a JPEG of over {_MAX_SEGMENTS:,} segments; it is refused")
        if marker in _STANDALONE:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            scans += 1
            if scans > max_scans:
                raise InvalidImage(
                    f"{name} is a JPEG of more than {max_scans} scans (a progressive scan bomb?); "
                    "re-save it as a baseline JPEG"
                )
    return scans


# --- decoding to bounded RGB ------------------------------------------------------------


def fitted_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled down so that its longer side is at most ``max_side`` (unchanged if it is).

    Example::

        >>> fitted_size((6300, 3150), 4096)
        (4096, 2048)
    """
    width, height = size
    longer = max(width, height)
    if longer <= max_side:
        return width, height
    return max(1, round(width * max_side / longer)), max(1, round(height * max_side / longer))


def _decode_pixels(img: PILImage.Image, limits: ImageLimits, scans: int, name: str) -> tuple[RGBArray, float]:
    """Decode frame 0 of ``img`` into upright RGB of at most ``max_decoded_side`` px a side."""
    img.seek(0)
    original = img.size
    target, scale = _plan(img, limits, scans, name)
    if scale > 1:  # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, never below target
        img.draft(None, (max(1, original[0] // scale), max(1, original[1] // scale)))
    img.load()
    orientation = _orientation(img)
    pixels = _to_rgb(img, target, name)
    return _orient(pixels, orientation), target[0] / original[0]


_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_WEBP_BYTES_PER_PIXEL = 16  # libwebp's two canvases, the frame's bytes and Pillow's copy, 4 bytes a pixel each
_JPEG_SCALES = (1, 2, 4, 8)


def decode_cost(img: PILImage.Image, scans: int = 1, scale: int = 1, max_side: int = 4096) -> int:
    """Bytes one decode of ``img`` needs, estimated from its header, when a JPEG is decoded
    at 1/``scale``: the decoded image at its own depth (Pillow holds most modes at 4 bytes
    a pixel), the 8-bit RGB result of at most ``max_side`` px a side, and for a progressive
    or multi-scan JPEG libjpeg's buffer of every DCT coefficient (2 bytes for each of 64
    per 8x8 block per component), which does not shrink with the scale.

    Example::

        >>> decode_cost(PILImage.new("RGB", (6000, 4000)))  # 96 MB decoded + 33.6 MB result
        129558528
    """
    width, height = (-(-side // scale) for side in img.size)
    target = fitted_size((width, height), max_side)
    if img.format == "WEBP":
        return width * height * _WEBP_BYTES_PER_PIXEL + target[0] * target[1] * 3
    cost = width * height * _BYTES_PER_PIXEL.get(img.mode, 4) + target[0] * target[1] * 3
    if img.format in ("JPEG", "MPO") and (scans > 1 or img.info.get("progressive")):
        cost += _jpeg_coefficient_bytes(img)
    return cost


def _jpeg_coefficient_bytes(img: PILImage.Image) -> int:
    layers: list[tuple[int, int, int, int]] = getattr(img, "layer", [])
    if not layers:
        return 0
    h_max = max(1, *(layer[1] for layer in layers))
    v_max = max(1, *(layer[2] for layer in layers))
    width, height = img.size
    blocks = 0
    for _, h, v, _q in layers:
        blocks += (-(-width * max(h, 1) // (8 * h_max)) + 1) * (-(-height * max(v, 1) // (8 * v_max)) + 1)
    return blocks * 64 * 2


def _plan(img: PILImage.Image, limits: ImageLimits, scans: int, name: str) -> tuple[tuple[int, int], int]:
    """The size to decode to and the JPEG scale (1, 2, 4, 8) to decode at: the finest
    scale whose :func:`decode_cost` fits ``max_decode_bytes``. Refuses an image that does
    not fit even at the coarsest scale (or at all, for formats that cannot be scaled)."""
    original = img.size
    target = fitted_size(original, limits.max_decoded_side)
    if img.format not in ("JPEG", "MPO"):
        scales: tuple[int, ...] = (1,)
    else:  # the scale Pillow's draft mode would pick for the target, or coarser
        natural = max(s for s in _JPEG_SCALES if s <= max(1, min(original[0] // target[0], original[1] // target[1])))
        scales = tuple(s for s in _JPEG_SCALES if s >= natural)
    for scale in scales:
        cost = decode_cost(img, scans, scale, limits.max_decoded_side)
        if cost <= limits.max_decode_bytes:
            decoded = tuple(-(-side // scale) for side in original)
            return fitted_size(original, min(limits.max_decoded_side, max(decoded))), scale
    raise InvalidImage(
        f"{name} ({img.format} {original[0]}x{original[1]}, {img.mode}) needs about {cost / 1e6:,.0f} MB to "
        f"decode, over the {limits.max_decode_bytes / 1e6:,.0f} MB limit; resize it, or save it as a baseline JPEG"
    )


def _orientation(img: PILImage.Image) -> int:
    """The EXIF orientation (1 to 8); 1 when there is none or the EXIF cannot be read.
    An unreadable EXIF block is metadata we can do without, not a reason to refuse the photo."""
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # Pillow's EXIF parser raises many kinds on hostile input
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orient(pixels: RGBArray, orientation: int) -> RGBArray:
    """Turn ``pixels`` upright by an EXIF orientation, as Pillow's ``exif_transpose`` does."""
    views = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: a.transpose(1, 0, 2)[::-1],
    }
    return np.ascontiguousarray(views[orientation](pixels))


def _to_rgb(img: PILImage.Image, target: tuple[int, int], name: str) -> RGBArray:
    """Any Pillow mode at any size -> (H, W, 3) uint8 RGB of ``target`` size, in bands of rows.

    Alpha is composited over white; 16- and 32-bit values are scaled to 8 bits by their
    range. Each band is converted, then resampled (Lanczos) with a margin wide enough for
    the filter, so the result equals one resize of the whole image; only one band is ever
    converted at a time, so no full-size copy is made besides the decoded image itself.
    """
    width, height = img.size
    out_w, out_h = target
    top = _depth_top(img, width) if img.mode in HIGH_DEPTH_MODES else 255.0
    out = np.empty((out_h, out_w, 3), dtype=np.uint8)
    scale_y = height / out_h
    margin = math.ceil(_LANCZOS_SUPPORT * scale_y) + 2 if (out_w, out_h) != (width, height) else 0
    rows = max(1, int(_BAND_PIXELS // max(1, width) / scale_y))
    for r0 in range(0, out_h, rows):
        r1 = min(out_h, r0 + rows)
        c0 = max(0, math.floor(r0 * scale_y) - margin)
        c1 = min(height, math.ceil(r1 * scale_y) + margin)
        band = _band_to_rgb(img.crop((0, c0, width, c1)), top, name)
        if margin:
            box = (0.0, r0 * scale_y - c0, float(width), r1 * scale_y - c0)
            band = band.resize((out_w, r1 - r0), _RESAMPLE, box=box)
        out[r0:r1] = np.asarray(band, dtype=np.uint8).reshape(r1 - r0, out_w, -1)
    return out


def _band_to_rgb(band: PILImage.Image, top: float, name: str) -> PILImage.Image:
    """One band of rows as an 8-bit RGB (or, for high-depth grey, L) Pillow image."""
    mode = band.mode
    if mode in HIGH_DEPTH_MODES:
        return PILImage.fromarray(_scale_to_8bit(np.asarray(band), top), "L")
    try:
        if mode in _ALPHA_MODES:
            rgba = band.convert("RGBA")
            white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
            return PILImage.alpha_composite(white, rgba).convert("RGB")
        return band.convert("RGB")
    except ValueError:
        raise InvalidImage(f"{name} has pixels of mode {mode}, which cannot be turned into RGB") from None


def _depth_top(img: PILImage.Image, width: int) -> float:
    """The value that maps to white: 1.0 for float images within [0, 1], 65535 for 16- or
    32-bit values above 255, else 255. Found band by band, with no full-size copy."""
    rows = max(1, _BAND_PIXELS // max(1, width))
    highest = -np.inf
    for y in range(0, img.size[1], rows):
        values = np.asarray(img.crop((0, y, width, min(img.size[1], y + rows))))
        if values.size:
            finite = values[np.isfinite(values)] if img.mode == "F" else values
            if finite.size:
                highest = max(highest, float(finite.max()))
    if img.mode == "F":
        return 1.0 if highest <= 1.0 else 255.0
    return 65535.0 if highest > 255 else 255.0


def _scale_to_8bit(values: np.ndarray, top: float) -> np.ndarray:
    """One band of 16/32-bit or float values -> uint8, ``top`` mapping to 255 (float32 math)."""
    band = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=top, neginf=0.0)
    band *= np.float32(255.0 / top)
    np.clip(band, 0, 255, out=band)
    return np.rint(band).astype(np.uint8)


# --- checks -----------------------------------------------------------------------------


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


def webp_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a WebP header (lossy, lossless or extended), or None.

    Example::

        >>> webp_size(b"RIFF\\0\\0\\0\\0WEBPVP8X" + bytes(8) + (99).to_bytes(3, "little") + (49).to_bytes(3, "little"))
        (100, 50)
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 ":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _check_webp(data: bytes, limits: ImageLimits, name: str) -> None:
    """Check a WebP's size before Pillow opens it: libwebp allocates its canvases on open."""
    size = webp_size(data)
    if size is None:
        return
    _check_dimensions(size, limits, name)
    width, height = size
    target = fitted_size(size, limits.max_decoded_side)
    cost = width * height * _WEBP_BYTES_PER_PIXEL + target[0] * target[1] * 3
    if cost > limits.max_decode_bytes:
        raise InvalidImage(
            f"{name} (WEBP {width}x{height}) needs about {cost / 1e6:,.0f} MB to decode, over the "
            f"{limits.max_decode_bytes / 1e6:,.0f} MB limit; save it as JPEG or PNG, or resize it"
        )


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
