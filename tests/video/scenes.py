"""Short videos composed from the development photos, with the ground truth of who appears
where and when. Used by the video tests and by benchmarks/video.py.

A scene is a static background with people (the photos of ../shared/faces/dev) crossing it
on straight paths: they enter and leave the frame, several are in view at once, some are
small or blurred. Every photo is cut the same way (its central 160x160 pixels, where LFW
centres the face, so faces of bystanders at the photo's edges stay out) and pasted with a
feathered oval edge. Nothing is tuned to a photo.

Example::

    scene = Scene(640, 360, 25, 6.0, (Appearance("Tim_Henman", photo, 0.5, 4.0, (-60, 180), (400, 180), 140),))
    path = render(scene, tmp_path / "walk.mp4")
    scene.visible_at(2.0)  # [("Tim_Henman", (left, top, right, bottom))]
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CROP = 160  # side of the central cut of a 250x250 LFW photo
FACE_SHARE = 0.7  # share of the sprite's side the face itself covers (LFW: about 110 of 160 px)


@dataclass(frozen=True)
class Appearance:
    """One person crossing the scene: centre moves linearly from ``start`` to ``end``
    (pixels) between ``enter`` and ``leave`` (seconds); ``size`` is the sprite's side."""

    identity: str
    photo: Path
    enter: float
    leave: float
    start: tuple[float, float]
    end: tuple[float, float]
    size: int
    blur: float = 0.0

    def centre(self, t: float) -> tuple[float, float]:
        share = (t - self.enter) / max(self.leave - self.enter, 1e-9)
        return (
            self.start[0] + share * (self.end[0] - self.start[0]),
            self.start[1] + share * (self.end[1] - self.start[1]),
        )

    def sprite_box(self, t: float) -> tuple[float, float, float, float]:
        x, y = self.centre(t)
        half = self.size / 2
        return (x - half, y - half, x + half, y + half)

    def face_box(self, t: float) -> tuple[float, float, float, float]:
        """Where the face is: the central ``FACE_SHARE`` of the sprite."""
        x, y = self.centre(t)
        half = self.size * FACE_SHARE / 2
        return (x - half, y - half, x + half, y + half)


@dataclass(frozen=True)
class Scene:
    """A composed video: size, frame rate, length and who crosses it."""

    width: int
    height: int
    fps: int
    duration: float
    appearances: tuple[Appearance, ...]
    seed: int = 0
    name: str = "scene"

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    def in_view(self, appearance: Appearance, t: float, min_share: float = 0.8) -> bool:
        """Whether at least ``min_share`` of the face is inside the frame at ``t``."""
        if not appearance.enter <= t < appearance.leave:
            return False
        left, top, right, bottom = appearance.face_box(t)
        inside_w = max(0.0, min(right, self.width) - max(left, 0.0))
        inside_h = max(0.0, min(bottom, self.height) - max(top, 0.0))
        return inside_w * inside_h >= min_share * (right - left) * (bottom - top)

    def visible_at(self, t: float) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(identity, face box) of everyone whose face is (mostly) in view at ``t``."""
        return [(a.identity, a.face_box(t)) for a in self.appearances if self.in_view(a, t)]

    def first_seen(self, appearance: Appearance) -> float | None:
        """The first frame time at which ``appearance``'s face is in view."""
        for i in range(self.frame_count):
            t = i / self.fps
            if self.in_view(appearance, t):
                return t
        return None

    def identities(self) -> set[str]:
        return {a.identity for a in self.appearances}


@lru_cache(maxsize=64)
def _sprite(photo: Path, size: int, blur: float) -> tuple[Image.Image, Image.Image]:
    with Image.open(photo) as img:
        rgb = img.convert("RGB")
    w, h = rgb.size
    left, top = (w - CROP) // 2, (h - CROP) // 2
    cut = rgb.crop((left, top, left + CROP, top + CROP)).resize((size, size), Image.Resampling.BILINEAR)
    if blur > 0:
        cut = cut.filter(ImageFilter.GaussianBlur(blur))
    mask = Image.new("L", (size, size), 0)
    inset = max(1, size // 40)
    ImageDraw.Draw(mask).ellipse((inset, inset, size - inset, size - inset), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, size // 25)))
    return cut, mask


@lru_cache(maxsize=8)
def background(width: int, height: int, seed: int) -> Image.Image:
    """A shop-like backdrop: a vertical gradient with shelves of coloured boxes."""
    rng = random.Random(seed)
    ramp = np.linspace(70, 170, height, dtype=np.float32)[:, None, None]
    tint = np.array([1.0, 0.95, 0.85], dtype=np.float32)[None, None, :]
    base = np.broadcast_to(ramp * tint, (height, width, 3)).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(base))
    draw = ImageDraw.Draw(img)
    shelf = height // 5
    for row in range(1, 5):
        y = row * shelf
        draw.rectangle((0, y - 4, width, y), fill=(60, 50, 40))
        x = 0
        while x < width:
            w = rng.randint(width // 40, width // 15)
            colour = tuple(rng.randint(40, 220) for _ in range(3))
            draw.rectangle((x, y - rng.randint(shelf // 3, shelf - 8), x + w - 2, y - 5), fill=colour)
            x += w
    return img


def frames(scene: Scene) -> Iterator[np.ndarray]:
    """The scene's frames as RGB arrays (height, width, 3)."""
    back = background(scene.width, scene.height, scene.seed)
    for i in range(scene.frame_count):
        t = i / scene.fps
        frame = back.copy()
        for a in scene.appearances:
            if a.enter <= t < a.leave:
                sprite, mask = _sprite(a.photo, a.size, a.blur)
                left, top, _, _ = a.sprite_box(t)
                frame.paste(sprite, (round(left), round(top)), mask)
        yield np.asarray(frame)


def render(scene: Scene, path: Path, codec: str = "h264", gop: int = 50) -> Path:
    """Encode ``scene`` to ``path`` (container from the suffix: .mp4, .ts, .mkv).

    ``h264`` uses libx264 (GPL, bundled in PyAV's wheel; test data only, see docs/video.md),
    ``mpeg4`` and ``mpeg2video`` FFmpeg's own LGPL encoders."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=scene.fps)
        stream.width, stream.height = scene.width, scene.height
        stream.pix_fmt = "yuv420p"
        stream.gop_size = gop
        if codec == "h264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}
        else:
            stream.bit_rate = 4_000_000
        for pixels in frames(scene):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


# --- scenes used by the tests and the benchmark ---------------------------------------------


def people_with_photos(dev_dir: Path, min_photos: int = 2) -> list[str]:
    """Identities of ``dev_dir`` with at least ``min_photos`` photos, sorted."""
    return sorted(p.name for p in dev_dir.iterdir() if p.is_dir() and sum(1 for _ in p.glob("*.jpg")) >= min_photos)


@dataclass
class Cast:
    """Who is in a set of scenes: each person's video photo (never enrolled) and enrolment
    photo (another photo of the same person), and who is on the watchlist."""

    video_photo: dict[str, Path] = field(default_factory=dict)
    enrol_photo: dict[str, Path] = field(default_factory=dict)
    listed: set[str] = field(default_factory=set)


def pick_cast(dev_dir: Path, count: int, listed_share: float, seed: int) -> Cast:
    """``count`` people with two or more photos; about ``listed_share`` of them on the list.
    The video shows photo 2, the watchlist holds photo 1."""
    rng = random.Random(seed)
    people = rng.sample(people_with_photos(dev_dir), count)
    cast = Cast()
    for i, person in enumerate(people):
        cast.video_photo[person] = dev_dir / person / "2.jpg"
        cast.enrol_photo[person] = dev_dir / person / "1.jpg"
        if i < round(count * listed_share):
            cast.listed.add(person)
    return cast


def street(
    cast: Cast, width: int, height: int, fps: int, duration: float, max_in_view: int, seed: int, name: str = "street"
) -> Scene:
    """People of ``cast`` crossing one after another, up to ``max_in_view`` at once, each in a
    lane of its own (so sprites never overlap); sprite side 55-100 % of the smaller of a
    lane and 0.3 of the frame height, a third of them blurred; a person whose walk would not end before
    ``duration`` is left out."""
    rng = random.Random(seed)
    people = list(cast.video_photo)
    rng.shuffle(people)
    lanes = [0.0] * max_in_view  # time each lane is free again
    lane_height = height / max_in_view
    appearances = []
    for person in people:
        lane = min(range(max_in_view), key=lambda k: lanes[k])
        enter = lanes[lane] + rng.uniform(0.2, 1.5)
        walk = rng.uniform(4.0, 8.0)
        if enter + walk > duration:
            continue
        size = int(rng.uniform(0.55, 1.0) * min(0.3 * height, lane_height)) // 2 * 2
        y = (lane + 0.5) * lane_height
        xs = (-size / 2 + 2, width + size / 2 - 2)
        if rng.random() < 0.5:
            xs = (xs[1], xs[0])
        start, end = (xs[0], y), (xs[1], y + rng.uniform(-0.1, 0.1) * (lane_height - size))
        blur = rng.choice([0.0, 0.0, 1.5])
        appearances.append(Appearance(person, cast.video_photo[person], enter, enter + walk, start, end, size, blur))
        lanes[lane] = enter + walk
    return Scene(width, height, fps, duration, tuple(appearances), seed, name)
