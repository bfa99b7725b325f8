"""Hostile images made from real photos, as Hypothesis strategies, for fuzzing the decoder.

Every case starts from a real photo in ``../shared/faces`` (portraits, group photos, photos
without a face) and is bent in one of these ways: byte flips, truncations, format mixes
(re-encoded in every accepted format and some refused ones, headers of one format on the
body of another), EXIF abuse, odd modes and bit depths (hand-made PNGs of every bit depth
and colour type, valid or not), huge declared sizes, polyglots, animations, scan bombs and
marker floods, and large images near the pixel limit.

Used by ``tests/vision/test_decoder_fuzz.py`` (a seeded sample of 500 in ``make test``) and
``benchmarks/fuzz_decoder.py`` (``make fuzz``, 10,000 or more).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from PIL import Image

Draw = st.DrawFn


@dataclass(frozen=True)
class Case:
    """One fuzz input: the kind of damage, how exactly it was made, and its bytes."""

    kind: str
    detail: str
    data: bytes

    def __repr__(self) -> str:
        return f"Case({self.kind!r}, {self.detail!r}, {len(self.data):,} bytes starting {self.data[:16]!r})"


def seed_photos(faces: Path, per_folder: int = 12) -> list[Path]:
    """A fixed, spread-out choice of real photos: portraits from ``dev``, group photos from
    ``multi`` and photos without a face from ``noface``."""
    portraits = sorted(faces.glob("dev/*/1.jpg"))
    step = max(1, len(portraits) // per_folder)
    chosen = portraits[::step][:per_folder]
    chosen += sorted(faces.glob("multi/*.jpg"))[: per_folder // 2]
    chosen += sorted(faces.glob("noface/*.jpg"))[: per_folder // 2]
    return chosen


@lru_cache(maxsize=64)
def _photo(path: Path) -> Image.Image:
    with Image.open(path) as img:
        img.load()
        return img.convert("RGB")


def _save(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


# --- hand-made files --------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    """One PNG chunk; ``crc`` overrides the right checksum."""
    value = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", value & 0xFFFFFFFF)


def png(width: int, height: int, depth: int, colour: int, raw: bytes, extra: Sequence[bytes] = ()) -> bytes:
    """A PNG from its header fields and the raw (filtered) rows, valid or not."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    body = b"".join(extra) + png_chunk(b"IDAT", zlib.compress(raw, 1))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + body + png_chunk(b"IEND", b"")


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_rows(width: int, height: int, depth: int, colour: int, fill: int) -> bytes:
    """Raw rows (filter byte 0) of a PNG of the given depth and colour type."""
    row_bytes = -(-width * _CHANNELS.get(colour, 3) * depth // 8)
    row = b"\x00" + bytes((fill + i) % 256 for i in range(row_bytes))
    return row * height


def exif_block(entries: Sequence[tuple[int, int, int, bytes]], next_ifd: int = 0, count: int | None = None) -> bytes:
    """A little-endian EXIF block: ``(tag, type, count, value-or-offset 4 bytes)`` entries."""
    n = len(entries) if count is None else count
    ifd = struct.pack("<H", n) + b"".join(
        struct.pack("<HHI", t, ty, c) + v[:4].ljust(4, b"\0") for t, ty, c, v in entries
    )
    return b"Exif\0\0" + b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", next_ifd)


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """``jpeg`` with an APP1 segment holding ``payload`` right after SOI (length wraps at 64 KB)."""
    length = min(len(payload) + 2, 0xFFFF)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", length) + payload[: length - 2] + jpeg[2:]


def scan_header(components: Sequence[int], ss: int, se: int, ah: int, al: int) -> bytes:
    """An SOS segment header with no entropy-coded data after it (an empty scan)."""
    body = bytes([len(components)]) + b"".join(bytes([c, 0x00]) for c in components) + bytes([ss, se, ah << 4 | al])
    return b"\xff\xda" + struct.pack(">H", len(body) + 2) + body


def scan_bomb(progressive_jpeg: bytes, scans: int, header: bytes) -> bytes:
    """A progressive JPEG with ``scans`` copies of ``header`` (empty scans) before EOI."""
    end = progressive_jpeg.rindex(b"\xff\xd9")
    return progressive_jpeg[:end] + header * scans + progressive_jpeg[end:]


def first_component(jpeg: bytes) -> int:
    sos = jpeg.index(b"\xff\xda")
    return jpeg[sos + 5]


def patch_dimensions(data: bytes, width: int, height: int) -> bytes:
    """``data`` with the width and height its header declares replaced (PNG, JPEG, GIF, BMP,
    WebP, TIFF); other bytes unchanged, so the body no longer matches the header."""
    out = bytearray(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        out[16:24] = struct.pack(">II", width & 0xFFFFFFFF, height & 0xFFFFFFFF)
        out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    elif data[:3] == b"\xff\xd8\xff":
        for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
            at = data.find(marker)
            if at > 0:
                out[at + 5 : at + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
                break
    elif data[:3] == b"GIF":
        out[6:10] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
        at = data.find(b"\x2c", 13)
        if at > 0:
            out[at + 5 : at + 9] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
    elif data[:2] == b"BM":
        out[18:26] = struct.pack("<ii", _signed32(width), _signed32(height))
    elif data[:4] == b"RIFF" and data[12:16] == b"VP8X":
        out[24:30] = ((width - 1) & 0xFFFFFF).to_bytes(3, "little") + ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
    elif data[:4] == b"RIFF" and data[12:16] == b"VP8 ":
        out[26:30] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    elif data[:4] in (b"II*\0", b"MM\0*"):
        _patch_tiff_size(out, width, height)
    return bytes(out)


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _patch_tiff_size(out: bytearray, width: int, height: int) -> None:
    order = "<" if out[:2] == b"II" else ">"
    ifd = struct.unpack_from(order + "I", out, 4)[0]
    if ifd + 2 > len(out):
        return
    for i in range(struct.unpack_from(order + "H", out, ifd)[0]):
        at = ifd + 2 + 12 * i
        if at + 12 > len(out):
            return
        tag, kind = struct.unpack_from(order + "HH", out, at)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into(order + "HHI", out, at + 2, 4, 1, value & 0xFFFFFFFF)
        del kind


# --- strategies -------------------------------------------------------------------------

SIZES = st.sampled_from([0, 1, 15, 16, 17, 255, 4096, 4097, 6324, 8192, 16383, 20_000, 20_001, 65_535, 2**31 - 1])
ENCODINGS: list[tuple[str, dict[str, object]]] = [
    ("JPEG", {}),
    ("JPEG", {"progressive": True}),
    ("JPEG", {"optimize": True, "quality": 30, "subsampling": 0}),
    ("JPEG", {"quality": 95, "subsampling": 1, "restart_marker_blocks": 1}),
    ("PNG", {}),
    ("PNG", {"optimize": True}),
    ("WEBP", {"quality": 60, "method": 0}),
    ("WEBP", {"lossless": True, "method": 0, "quality": 0}),
    ("BMP", {}),
    ("GIF", {}),
    ("TIFF", {}),
    ("TIFF", {"compression": "tiff_lzw"}),
    ("TIFF", {"compression": "tiff_deflate"}),
    ("TIFF", {"compression": "packbits"}),
    ("TIFF", {"compression": "jpeg"}),
    ("PPM", {}),  # not an accepted format: must be refused
    ("ICO", {}),
    ("JPEG2000", {}),
]


@st.composite
def flipped(draw: Draw, photo: bytes) -> Case:
    data = bytearray(photo)
    flips = draw(st.integers(1, 64))
    for _ in range(flips):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(data) - 1))
        data[start : start + draw(st.integers(1, 512))] = bytes([draw(st.integers(0, 255))]) * 512
    return Case("byte flips", f"{flips} bytes changed", bytes(data))


@st.composite
def truncated(draw: Draw, photo: bytes) -> Case:
    at = draw(st.integers(0, len(photo) - 1))
    return Case("truncation", f"cut at {at} of {len(photo)}", photo[:at])


@st.composite
def reencoded(draw: Draw, img: Image.Image) -> Case:
    fmt, options = draw(st.sampled_from(ENCODINGS))
    try:
        data = _save(img, fmt, **options)
    except (OSError, KeyError, ValueError):
        data = _save(img, "PNG")
    if draw(st.booleans()):  # a header of one format on the body of another
        other, other_options = draw(st.sampled_from(ENCODINGS[:11]))
        body = _save(img, other, **other_options)
        cut = draw(st.integers(1, min(len(data), 256)))
        data = data[:cut] + body[cut:]
        return Case("format mix", f"{fmt} header on a {other} body, cut at {cut}", data)
    return Case("format mix", f"{fmt} {options}", data)


MODE_FORMATS = {
    "1": ("PNG", "TIFF", "BMP", "GIF"),
    "L": ("PNG", "JPEG", "TIFF", "BMP", "WEBP"),
    "P": ("PNG", "GIF", "TIFF", "BMP"),
    "LA": ("PNG", "TIFF", "WEBP"),
    "PA": ("PNG",),
    "RGBA": ("PNG", "TIFF", "WEBP", "BMP", "GIF"),
    "CMYK": ("JPEG", "TIFF"),
    "YCbCr": ("JPEG", "TIFF"),
    "LAB": ("TIFF",),
    "HSV": ("TIFF",),
    "I": ("PNG", "TIFF"),
    "F": ("TIFF",),
    "I;16": ("PNG", "TIFF"),
    "I;16B": ("TIFF",),
}


@st.composite
def odd_modes(draw: Draw, img: Image.Image) -> Case:
    if draw(st.booleans()):
        mode = draw(st.sampled_from(sorted(MODE_FORMATS)))
        fmt = draw(st.sampled_from(MODE_FORMATS[mode]))
        try:
            converted = _convert(img, mode, draw(st.integers(0, 255)))
            return Case("odd mode", f"mode {mode} in {fmt}", _save(converted, fmt))
        except (OSError, KeyError, ValueError, TypeError):
            return Case("odd mode", f"mode {mode}", _save(img.convert("L"), "PNG"))
    depth = draw(st.sampled_from([1, 2, 4, 8, 16, 3, 32]))
    colour = draw(st.sampled_from([0, 2, 3, 4, 6, 1, 5, 7]))
    width, height = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    extra = [png_chunk(b"PLTE", bytes(range(256)) * 3)[: draw(st.integers(0, 780))]] if colour == 3 else []
    if draw(st.booleans()):
        extra.append(png_chunk(b"tRNS", bytes(draw(st.integers(0, 300)))))
    raw = png_rows(width, height, depth, colour, draw(st.integers(0, 255)))
    return Case("odd mode", f"png depth {depth} colour {colour}", png(width, height, depth, colour, raw, extra))


def _convert(img: Image.Image, mode: str, fill: int) -> Image.Image:
    if mode in ("I", "F", "I;16", "I;16B"):
        grey = np.asarray(img.convert("L"), dtype=np.float64)
        scaled = {"I": grey * 70000 - 2_000_000 * (fill % 2), "F": grey / (fill + 1), "I;16": grey * 257}.get(
            mode, grey * 257
        )
        dtype = {"I": np.int32, "F": np.float32}.get(mode, np.uint16)
        out = Image.fromarray(scaled.astype(dtype))
        return out if mode != "I;16B" else out.convert("I;16B")
    if mode == "PA":
        return img.convert("P").convert("PA")
    return img.convert(mode)


@st.composite
def exif_abused(draw: Draw, img: Image.Image) -> Case:
    jpeg = _save(img, "JPEG")
    choice = draw(st.sampled_from(["orientation", "count", "loop", "offset", "junk", "twice", "png", "type"]))
    orientation = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 65535]))
    entry = (0x0112, 3, 1, struct.pack("<H", orientation))
    if choice == "orientation":
        payload = exif_block([entry])
    elif choice == "count":  # declares far more entries than there are
        payload = exif_block([entry], count=draw(st.integers(2, 0xFFFF)))
    elif choice == "loop":  # next IFD points back at the first
        payload = exif_block([entry], next_ifd=8)
    elif choice == "offset":  # a value stored at an offset past the end
        payload = exif_block([(0x010F, 2, 4000, struct.pack("<I", draw(st.integers(0, 2**32 - 1)))), entry])
    elif choice == "type":
        payload = exif_block([(0x0112, draw(st.integers(0, 20)), draw(st.integers(0, 2**32 - 1)), b"\xff" * 4)])
    elif choice == "junk":
        payload = b"Exif\0\0" + draw(st.binary(min_size=0, max_size=2000)) * draw(st.integers(1, 60))
    elif choice == "twice":
        return Case(
            "exif", "exif twice", with_app1(with_app1(jpeg, exif_block([entry])), exif_block([entry], next_ifd=8))
        )
    else:
        data = _save(img, "PNG")
        chunk = png_chunk(b"eXIf", exif_block([entry])[6:])
        return Case("exif", "exif in png", data[:33] + chunk + data[33:])
    return Case("exif", f"exif {choice}", with_app1(jpeg, payload))


@st.composite
def huge_declared(draw: Draw, img: Image.Image) -> Case:
    fmt, options = draw(st.sampled_from(ENCODINGS[:11]))
    data = _save(img, fmt, **options)
    return Case("declared size", f"declared size in {fmt}", patch_dimensions(data, draw(SIZES), draw(SIZES)))


POLYGLOT_TAILS = [
    b"PK\x03\x04" + b"\0" * 26 + b"payload.txt" + b"hello" * 40,
    b"<html><script>alert(1)</script></html>",
    b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    b"#!/bin/sh\necho hi\n",
]


@st.composite
def polyglot(draw: Draw, img: Image.Image) -> Case:
    fmt, options = draw(st.sampled_from(ENCODINGS[:11]))
    data = _save(img, fmt, **options)
    tail = draw(st.sampled_from(POLYGLOT_TAILS))
    how = draw(st.sampled_from(["append", "prepend", "inside", "two images"]))
    if how == "append":
        return Case("polyglot", "polyglot appended", data + tail)
    if how == "prepend":
        return Case("polyglot", "polyglot prepended", tail + data)
    if how == "inside" and data[:3] == b"\xff\xd8\xff":
        comment = b"\xff\xfe" + struct.pack(">H", len(tail) + 2) + tail
        return Case("polyglot", "polyglot in a JPEG comment", data[:2] + comment + data[2:])
    if how == "inside" and data[:4] == b"\x89PNG":
        return Case("polyglot", "polyglot in a PNG chunk", data[:33] + png_chunk(b"tEXt", b"x\0" + tail) + data[33:])
    other = _save(img, draw(st.sampled_from(["JPEG", "PNG", "GIF", "WEBP"])))
    return Case("polyglot", "two images in one file", data + other)


@st.composite
def animated(draw: Draw, img: Image.Image) -> Case:
    fmt = draw(st.sampled_from(["GIF", "WEBP", "PNG"]))
    n = draw(st.integers(2, 12))
    frames = []
    for i in range(n):
        side = draw(st.integers(16, 160))
        frame = img.resize((side, max(16, side * img.height // img.width)), Image.Resampling.NEAREST)
        frames.append(frame.transpose(Image.Transpose.ROTATE_90) if i % 2 else frame)
    options: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": draw(st.integers(0, 100))}
    if fmt == "WEBP":
        options.update(quality=30, method=0)
    if fmt == "GIF":
        options["disposal"] = draw(st.integers(0, 3))
    try:
        data = _save(frames[0], fmt, **options)
    except (OSError, ValueError, RuntimeError):  # WebP refuses frames of another size
        data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    return Case("animation", f"animation {fmt}", data)


@st.composite
def bombs(draw: Draw, img: Image.Image) -> Case:
    choice = draw(st.sampled_from(["scans", "scans near limit", "jpeg segments", "png chunks", "gif extensions"]))
    if choice.startswith("scans"):
        jpeg = _save(img, "JPEG", progressive=True)
        component = first_component(jpeg)
        headers = [
            scan_header([component], 1, 63, 0, 0),
            scan_header([component], 1, 5, 1, 0),
            scan_header([1, 2, 3], 0, 0, 1, 0),
            scan_header([component], draw(st.integers(0, 255)), draw(st.integers(0, 255)), 0, 0),
        ]
        scans = draw(st.integers(80, 120) if choice.endswith("limit") else st.integers(1, 50_000))
        return Case("bomb", f"{choice}: {scans}", scan_bomb(jpeg, scans, draw(st.sampled_from(headers))))
    n = draw(st.integers(100, 200_000))
    if choice == "jpeg segments":
        jpeg = _save(img, "JPEG")
        return Case("bomb", f"{n} JPEG comment segments", jpeg[:2] + b"\xff\xfe\x00\x02" * n + jpeg[2:])
    if choice == "png chunks":
        data = _save(img, "PNG")
        return Case("bomb", f"{n} PNG chunks", data[:33] + png_chunk(b"zzZz", b"") * n + data[33:])
    data = _save(img, "GIF")
    return Case("bomb", f"{n} GIF extensions", data[:13] + b"\x21\xfe\x01x\x00" * n + data[13:])


@st.composite
def large(draw: Draw, img: Image.Image) -> Case:
    """Images near the pixel limit, cheap to encode (the photo tiled over a flat page)."""
    width = draw(st.integers(16, 20_000))
    height = draw(st.integers(16, min(20_000, 46_000_000 // width)))
    mode = draw(st.sampled_from(["RGB", "L", "RGBA", "I;16", "I", "F", "P", "1"]))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "TIFF", "GIF", "WEBP"]))
    page = Image.new("RGB", (width, height), (200, 180, 160))
    page.paste(img, (0, 0))
    options: dict[str, object] = {"compress_level": 1} if fmt == "PNG" else {}
    if fmt == "TIFF":
        options = {"compression": "tiff_deflate"}
    try:
        converted = page if mode == "RGB" else _convert(page, mode, 1)
        data = _save(converted, fmt, **options)
    except (OSError, KeyError, ValueError, TypeError):
        data = _save(page.convert("L"), "PNG", compress_level=1)
    return Case("large", f"{mode} {fmt} {width}x{height}", data)


KINDS: dict[str, Callable[..., st.SearchStrategy[Case]]] = {
    "byte flips": flipped,
    "truncation": truncated,
    "format mix": reencoded,
    "odd mode": odd_modes,
    "exif": exif_abused,
    "declared size": huge_declared,
    "polyglot": polyglot,
    "animation": animated,
    "bomb": bombs,
    "large": large,
}
_FROM_BYTES = ("byte flips", "truncation")


def hostile_images(photos: Sequence[Path], large_weight: int = 1) -> st.SearchStrategy[Case]:
    """Cases made from ``photos``: each draw picks a photo and one way of bending it.
    ``large`` cases (slow to encode) come once in ``len(KINDS) - 1 + large_weight`` draws
    times ``large_weight``; pass 0 to leave them out."""

    @st.composite
    def one(draw: Draw) -> Case:
        path = draw(st.sampled_from(list(photos)))
        kinds = [k for k in KINDS if k != "large"] + ["large"] * large_weight
        kind = draw(st.sampled_from(kinds))
        source: object = path.read_bytes() if kind in _FROM_BYTES else _photo(path)
        case: Case = draw(KINDS[kind](source))
        return case

    return one()
