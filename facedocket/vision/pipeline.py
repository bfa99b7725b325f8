"""The face pipeline: image -> faces -> aligned chips -> quality -> templates.

The template model is chosen by id (``PipelineOptions.model``, default
:data:`~facedocket.vision.models.TEMPLATE_MODEL_ID`); :meth:`FacePipeline.for_model` gives
a pipeline that shares this one's detector but makes templates with another model (a
probe is embedded with its gallery's model).

Example::

    pipeline = FacePipeline()
    image = load_image("probe.jpg")
    for found in pipeline.analyse(image):
        found.face.box, found.face.quality.score, found.template.vector
    sface = pipeline.for_model("sface-2021dec")
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from facedocket.config import Settings
from facedocket.errors import FaceDocketError, NoFaceFound, SeveralFaces
from facedocket.types import Face, Image, Quality, RGBArray, Template
from facedocket.vision import quality as quality_mod
from facedocket.vision.detect import DetectorOptions, create_detector
from facedocket.vision.images import DEFAULT_LIMITS, ImageLimits, decode, load_image
from facedocket.vision.models import TEMPLATE_MODEL_ID, model_card
from facedocket.vision.template_models import TemplateModel, create_template_model
from facedocket.vision.templates import chip_stack, embed

Source = str | Path | tuple[str, bytes]


@dataclass(frozen=True)
class PipelineOptions:
    """How the pipeline runs. Model facts (input size, thresholds) live on the model card."""

    detector: str = "retinaface"
    model: str = TEMPLATE_MODEL_ID
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
    """A face with its quality, template and the aligned chip the template was made from."""

    face: Face
    template: Template
    chip: RGBArray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ImageResult:
    """What the pipeline made of one image: its faces, or the reason there are none."""

    source: str
    sha256: str
    faces: tuple[FoundFace, ...]
    error: str = ""
    invalid: bool = False  # the image itself could not be used (see ``error``)
    size: tuple[int, int] = (0, 0)  # decoded (width, height): the pixels boxes and landmarks are in

    @property
    def best(self) -> FoundFace | None:
        """The largest face (the subject of a portrait), if any."""
        if not self.faces:
            return None
        return max(self.faces, key=lambda f: f.face.box.area)


class FacePipeline:
    """Detector, aligner and template model, built once and reused."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FacePipeline:
        """The pipeline the settings describe (detector, runtime, flip, jitter, limits...)."""
        return cls(pipeline_options(settings))

    def __init__(self, options: PipelineOptions | None = None) -> None:
        self.options = options or PipelineOptions()
        det_options = replace(self.options.detection, threads=self.options.threads)
        self.detector = create_detector(self.options.detector, det_options)
        self._set_model(self._create_model(self.options.model))
        self._others: dict[str, FacePipeline] = {self.model_id: self}
        self._lock = threading.Lock()

    def _create_model(self, model_id: str) -> TemplateModel:
        o = self.options
        return create_template_model(model_id, runtime=o.runtime, threads=o.threads, cache_dir=o.cache_dir)

    def _set_model(self, model: TemplateModel) -> None:
        self.model = model
        self.model_id = model.card.model_id
        self.aligner = model.aligner
        pre = model.card.preprocessing
        assert pre is not None
        self._chip_size = pre.input_size
        self._symmetry_ramp = pre.symmetry_ramp

    @property
    def jitter(self) -> bool:
        """Whether templates average the jitter views (asked for, with flip, and the card allows it)."""
        pre = self.model.card.preprocessing
        return self.options.flip and self.options.jitter and pre is not None and pre.jitter

    def for_model(self, model_id: str) -> FacePipeline:
        """A pipeline with this one's detector and options that makes ``model_id``'s
        templates (built once, then reused while the card names the same weights file)."""
        card = model_card(model_id)
        with self._lock:
            other = self._others.get(model_id)
            if other is None or (other.model.card.sha256, other.model.card.path) != (card.sha256, card.path):
                other = copy.copy(self)
                other.options = replace(self.options, model=model_id)
                other._set_model(self._create_model(model_id))
                self._others[model_id] = other
            return other

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
        return self._found(image.sha256, faces, chips, *self._embed(chips))

    def _embed(self, chips: list[RGBArray]) -> tuple[np.ndarray, np.ndarray]:
        return self.embed_chips(chips)

    def embed_chips(self, chips: list[RGBArray]) -> tuple[np.ndarray, np.ndarray]:
        """Templates (one row per aligned chip) and each template's symmetry, with this
        pipeline's model, flip and jitter (for callers that align faces themselves: video)."""
        return embed(self.model, chip_stack(chips, self._chip_size), self.options.flip, self.options.jitter)

    def rate(self, face: Face, chip: RGBArray, symmetry: float = 1.0) -> Quality:
        """The quality of ``face`` from its aligned ``chip`` (and its template's symmetry, on
        this model's scale)."""
        return quality_mod.assess(face, chip, symmetry, self._symmetry_ramp)

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
            rated = replace(face, quality=self.rate(face, chip, float(sym)))
            template = Template(
                vector=vector,
                model_id=self.model_id,
                quality=rated.quality.score if rated.quality else 0.0,
                source_sha256=sha256,
                face=rated,
            )
            found.append(FoundFace(rated, template, chip))
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
            batch: list[_Prepared] = []
            for item in pool.map(self._prepare, sources):
                batch.append(item)
                if len(batch) >= batch_size:
                    yield from self._finish(batch, progress)
                    batch = []
            yield from self._finish(batch, progress)

    def _prepare(self, source: Source) -> _Prepared:
        name = source[0] if isinstance(source, tuple) else str(source)
        try:
            image = decode(source[1], self.options.limits, name) if isinstance(source, tuple) else self.load(source)
            faces, chips = self._faces_and_chips(image.pixels)
            return _Prepared(name, image.sha256, faces, chips, "", (image.width, image.height))
        except FaceDocketError as e:
            return _Prepared(name, "", [], [], str(e), (0, 0))

    def _finish(self, batch: list[_Prepared], progress: Callable[[int], None] | None) -> Iterator[ImageResult]:
        all_chips = [chip for item in batch for chip in item.chips]
        vectors, symmetry = self._embed(all_chips)
        start = 0
        for item in batch:
            end = start + len(item.faces)
            found = self._found(item.sha256, item.faces, item.chips, vectors[start:end], symmetry[start:end])
            start = end
            if progress:
                progress(1)
            reason = item.error or ("" if found else "no face found")
            yield ImageResult(item.source, item.sha256, tuple(found), reason, invalid=bool(item.error), size=item.size)


@dataclass
class _Prepared:
    """One image decoded and detected, waiting for its templates."""

    source: str
    sha256: str
    faces: list[Face]
    chips: list[RGBArray]
    error: str
    size: tuple[int, int]


_SHARED: dict[PipelineOptions, FacePipeline] = {}
_SHARED_LOCK = threading.Lock()


def shared_pipeline(options: PipelineOptions) -> FacePipeline:
    """The pipeline of ``options``, built once per process and reused (its models take about
    a second to load): for callers that would otherwise build one per command."""
    with _SHARED_LOCK:
        found = _SHARED.get(options)
        if found is None:
            found = _SHARED[options] = FacePipeline(options)
        return found
