"""The face pipeline: image -> faces -> aligned chips -> quality -> templates.

Example::

    pipeline = FacePipeline()
    image = load_image("probe.jpg")
    for found in pipeline.analyse(image):
        found.face.box, found.face.quality.score, found.template.vector
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from facedocket.config import Settings
from facedocket.errors import FaceDocketError, NoFaceFound, SeveralFaces
from facedocket.types import Face, Image, RGBArray, Template
from facedocket.vision import quality as quality_mod
from facedocket.vision.align import Aligner
from facedocket.vision.detect import DetectorOptions, create_detector
from facedocket.vision.images import DEFAULT_LIMITS, ImageLimits, decode, load_image
from facedocket.vision.models import TEMPLATE_MODEL_ID
from facedocket.vision.templates import chip_stack, create_descriptor, embed

Source = str | Path | tuple[str, bytes]


@dataclass(frozen=True)
class PipelineOptions:
    """How the pipeline runs. Model facts (input size, thresholds) live on the model card."""

    detector: str = "retinaface"
    runtime: str = "onnx"
    flip: bool = True
    jitter: bool = True
    threads: int = 2
    detection: DetectorOptions = field(default_factory=DetectorOptions)
    limits: ImageLimits = DEFAULT_LIMITS
    cache_dir: str | None = None


def image_limits(settings: Settings) -> ImageLimits:
    """The image limits of ``settings``."""
    return ImageLimits(
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.max_image_bytes,
        max_side=settings.max_image_side,
        min_side=settings.min_image_side,
        max_decoded_side=settings.decode_max_side,
        max_scans=settings.max_jpeg_scans,
        max_decode_bytes=settings.max_decode_bytes,
    )


def pipeline_options(settings: Settings) -> PipelineOptions:
    """The pipeline options of ``settings``."""
    return PipelineOptions(
        detector=settings.detector,
        runtime=settings.runtime,
        flip=settings.flip,
        jitter=settings.jitter,
        threads=settings.threads,
        detection=DetectorOptions(
            score_threshold=settings.detection_score,
            min_face_px=settings.min_face_px,
            max_side=settings.detect_max_side,
        ),
        limits=image_limits(settings),
        cache_dir=str(settings.home / "cache"),
    )


@dataclass(frozen=True)
class FoundFace:
    """A face with its quality and template."""

    face: Face
    template: Template


@dataclass(frozen=True)
class ImageResult:
    """What the pipeline made of one image: its faces, or the reason there are none."""

    source: str
    sha256: str
    faces: tuple[FoundFace, ...]
    error: str = ""
    invalid: bool = False  # the image itself could not be used (see ``error``)

    @property
    def best(self) -> FoundFace | None:
        """The largest face (the subject of a portrait), if any."""
        if not self.faces:
            return None
        return max(self.faces, key=lambda f: f.face.box.area)


class FacePipeline:
    """Detector, aligner and template model, built once and reused."""

    model_id = TEMPLATE_MODEL_ID

    @classmethod
    def from_settings(cls, settings: Settings) -> FacePipeline:
        """The pipeline the settings describe (detector, runtime, flip, jitter, limits...)."""
        return cls(pipeline_options(settings))

    def __init__(self, options: PipelineOptions | None = None) -> None:
        self.options = options or PipelineOptions()
        det_options = replace(self.options.detection, threads=self.options.threads)
        self.detector = create_detector(self.options.detector, det_options)
        self.aligner = Aligner()
        self.descriptor = create_descriptor(
            self.options.runtime, threads=self.options.threads, cache_dir=self.options.cache_dir
        )

    def load(self, source: bytes | str | Path) -> Image:
        """Decode an image with this pipeline's limits."""
        return load_image(source, self.options.limits)

    def _faces_and_chips(self, pixels: RGBArray) -> tuple[list[Face], list[RGBArray]]:
        if pixels.size == 0 or pixels.min() == pixels.max():  # one colour (a blank page): no face to look for
            return [], []
        faces = self.detector.detect(pixels)
        return faces, [self.aligner.align(pixels, face, self.detector.name) for face in faces]

    def detect(self, image: Image) -> list[Face]:
        """Faces with boxes, landmarks and quality, highest detection score first.
        (Quality includes the template's symmetry, so templates are computed too.)"""
        return [found.face for found in self.analyse(image)]

    def analyse(self, image: Image) -> list[FoundFace]:
        """Every face in ``image`` with its quality and template."""
        faces, chips = self._faces_and_chips(image.pixels)
        vectors, symmetry = embed(self.descriptor, chip_stack(chips), self.options.flip, self.options.jitter)
        return self._found(image.sha256, faces, chips, vectors, symmetry)

    def _found(
        self,
        sha256: str,
        faces: list[Face],
        chips: list[RGBArray],
        vectors: np.ndarray,
        symmetry: np.ndarray,
    ) -> list[FoundFace]:
        found = []
        for face, chip, vector, sym in zip(faces, chips, vectors, symmetry, strict=True):
            rated = replace(face, quality=quality_mod.assess(face, chip, float(sym)))
            template = Template(
                vector=vector,
                model_id=self.model_id,
                quality=rated.quality.score if rated.quality else 0.0,
                source_sha256=sha256,
                face=rated,
            )
            found.append(FoundFace(rated, template))
        return found

    def template(self, image: Image, face_index: int | None = None) -> Template:
        """The template of the one face in ``image`` (or of face ``face_index``, 1-based,
        in detection order). Raises :class:`NoFaceFound` / :class:`SeveralFaces`."""
        return self.pick(self.analyse(image), face_index, image.source or "image")

    @staticmethod
    def pick(found: Sequence[FoundFace], face_index: int | None = None, name: str = "image") -> Template:
        """The template of the one face of ``found`` (what :meth:`analyse` gave), or of face
        ``face_index`` (1-based); :class:`NoFaceFound` / :class:`SeveralFaces` otherwise."""
        if not found:
            raise NoFaceFound(f"no face found in {name}; use a clearer, frontal photo")
        if face_index is not None:
            if not 1 <= face_index <= len(found):
                raise NoFaceFound(f"{name} has {len(found)} face(s); the face number must be 1..{len(found)}")
            return found[face_index - 1].template
        if len(found) > 1:
            raise SeveralFaces(
                f"{name} has {len(found)} faces; choose one with face N (--face N on the command line), "
                f"1..{len(found)}, or crop the photo"
            )
        return found[0].template

    def run_many(
        self,
        sources: Iterable[Source],
        batch_size: int = 16,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[ImageResult]:
        """Results for many images in order, decoding and detecting on a thread pool and
        computing templates in batches. A source is a path, or ``(name, bytes)``."""
        with ThreadPoolExecutor(max_workers=max(1, self.options.threads)) as pool:
            batch: list[tuple[str, str, list[Face], list[RGBArray], str]] = []
            for item in pool.map(self._prepare, sources):
                batch.append(item)
                if len(batch) >= batch_size:
                    yield from self._finish(batch, progress)
                    batch = []
            yield from self._finish(batch, progress)

    def _prepare(self, source: Source) -> tuple[str, str, list[Face], list[RGBArray], str]:
        name = source[0] if isinstance(source, tuple) else str(source)
        try:
            image = decode(source[1], self.options.limits, name) if isinstance(source, tuple) else self.load(source)
            faces, chips = self._faces_and_chips(image.pixels)
            return name, image.sha256, faces, chips, ""
        except FaceDocketError as e:
            return name, "", [], [], str(e)

    def _finish(
        self,
        batch: list[tuple[str, str, list[Face], list[RGBArray], str]],
        progress: Callable[[int], None] | None,
    ) -> Iterator[ImageResult]:
        all_chips = [chip for item in batch for chip in item[3]]
        vectors, symmetry = embed(self.descriptor, chip_stack(all_chips), self.options.flip, self.options.jitter)
        start = 0
        for source, sha, faces, chips, error in batch:
            end = start + len(faces)
            found = self._found(sha, faces, chips, vectors[start:end], symmetry[start:end])
            start = end
            if progress:
                progress(1)
            reason = error or ("" if found else "no face found")
            yield ImageResult(source, sha, tuple(found), reason, invalid=bool(error))
