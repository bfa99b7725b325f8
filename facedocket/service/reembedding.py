"""Re-embedding a gallery with another template model, from its kept source photos.

``facedocket gallery reembed GALLERY --model ID`` (:meth:`Reembedding.reembed`) makes a new
template with model ID from the photo every template of the gallery was made from, and
swaps them in at once:

1. The re-embedding starts (or the unfinished one for the same model resumes) and is
   recorded (``gallery.reembed_started``). While it runs, the gallery is searched with its
   old templates, and enrolment into it waits (it is refused with a message).
2. The gallery's kept source photos are read from the photo store
   (:meth:`~facedocket.service.photos.Photos.kept_source_photos`, which records the read), a
   batch at a time. Each photo whose template is still in the gallery and
   not staged yet is embedded with the new model (the face whose box overlaps the old
   template's box most), and the batch's new templates go into ``staged_template`` in one
   transaction. An interrupted run loses at most the batch in flight; running it again
   skips what is staged.
3. When every template of the gallery is covered, one transaction deletes the old
   templates, writes the new ones, sets the gallery's model and records
   ``gallery.reembedded``; then the index is rebuilt. A photo in which the new model's
   pipeline finds no usable face loses its template (counted in the report and the
   event). Templates whose photo is not kept stop the swap, unless ``drop_unkept``.

A gallery that keeps no photos at all says so: it has to be enrolled again from the
original photos into a gallery of the new model.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sqlalchemy.exc import IntegrityError

from facedocket.errors import Conflict, InvalidInput
from facedocket.governance.permissions import Actor, require
from facedocket.service.context import Area, Context
from facedocket.service.galleries import owned_gallery
from facedocket.service.indexes import bump
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import reembedding as queries
from facedocket.store.tables import Reembedding as Job
from facedocket.store.tables import StagedTemplate, TemplateRow
from facedocket.types import box_iou
from facedocket.vision.images import sha256_hex
from facedocket.vision.models import WATCHLIST_MODEL_ID
from facedocket.vision.pipeline import FacePipeline, FoundFace, ImageResult
from facedocket.vocab import WATCHLIST_PURPOSE

MIN_OVERLAP = 0.3
"""The least intersection-over-union between a face found again and the old template's
box for it to count as the same face."""


class SourcePhoto(Protocol):
    """One kept enrolment photo: the subject it shows and its bytes (decrypted)."""

    @property
    def subject_id(self) -> int: ...

    @property
    def data(self) -> bytes: ...


class KeptPhotos(Protocol):
    """What re-embedding reads of the photo store (:class:`~facedocket.service.photos.Photos`):
    every source photo a gallery keeps, in a stable order (the read is the store's to permit
    and record)."""

    def kept_source_photos(self, actor: Actor, gallery_id: int) -> Iterator[SourcePhoto]: ...


@dataclass
class ReembedReport:
    """What a re-embedding run did."""

    gallery_id: int
    from_model: str
    model_id: str
    finished: bool = False
    embedded: int = 0
    """Photos embedded by this run."""
    already_staged: int = 0
    """Photos a previous, interrupted run had embedded."""
    failed: Counter[str] = field(default_factory=Counter)
    """Photos the new model's pipeline gave no usable face for, by reason (once swapped: over
    the whole re-embedding; their templates were deleted)."""
    skipped: int = 0
    """Kept photos with no template in the gallery (nothing to re-embed)."""
    dropped_without_photo: int = 0
    templates: int = 0
    """Templates of the gallery after the swap."""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"gallery_id": self.gallery_id, "from_model": self.from_model, "model_id": self.model_id,
                "finished": self.finished, "embedded": self.embedded, "already_staged": self.already_staged,
                "failed": dict(sorted(self.failed.items())), "skipped": self.skipped,
                "dropped_without_photo": self.dropped_without_photo, "templates": self.templates,
                "seconds": round(self.seconds, 3)}  # fmt: skip


class Reembedding(Area):
    """Re-embedding galleries (see the module docstring)."""

    def __init__(self, ctx: Context, photos: KeptPhotos) -> None:
        super().__init__(ctx)
        self.photos = photos

    def reembed(self, actor: Actor, gallery_id: int, model_id: str, progress: Callable[[int], None] | None = None,
                batch_size: int = 32, drop_unkept: bool = False) -> ReembedReport:  # fmt: skip
        """Re-embed a gallery of the actor's agency with ``model_id`` (resuming an unfinished
        run for the same model) and swap the new templates in; see the module docstring."""
        require(actor, "gallery.reembed")
        start = time.perf_counter()
        self.ctx.models.choose(model_id)
        with self.ctx.read() as session:
            gallery = owned_gallery(session, actor, gallery_id)
            if gallery.purpose == WATCHLIST_PURPOSE:
                raise InvalidInput(
                    f"watchlists keep {WATCHLIST_MODEL_ID}: the video path's thresholds were measured with it"
                )
            running = queries.running(session, gallery_id)
            _check_start(gallery.name, gallery.model_id, running, model_id)
        photos = iter(self.photos.kept_source_photos(actor, gallery_id))
        first = next(photos, None)
        if first is None and running is None:
            raise InvalidInput(
                f"gallery {gallery.name!r} keeps no enrolment photos (its subjects were enrolled before photos were "
                "kept, or it keeps none), so it cannot be re-embedded: enrol the original photos into a new gallery "
                f"created with --model {model_id}"
            )
        job = self._start(actor, gallery_id, model_id)
        report = ReembedReport(gallery_id, job.from_model, model_id)
        with self.ctx.read() as session:
            report.already_staged = sum(queries.staged_counts(session, job.id).values())
        pipeline = self.ctx.pipeline.for_model(model_id)
        chain = photos if first is None else _prepend(first, photos)
        for batch in _batches(chain, max(1, batch_size)):
            self._stage(job, batch, pipeline, report)
            if progress:
                progress(len(batch))
        self._swap(actor, job, drop_unkept, report)
        report.seconds = time.perf_counter() - start
        return report

    def abandon(self, actor: Actor, gallery_id: int) -> int:
        """Abandon a gallery's unfinished re-embedding: its staged templates are deleted and
        the gallery keeps its model and templates. Returns how many staged rows went."""
        require(actor, "gallery.reembed")
        with self.ctx.write() as session:
            gallery = owned_gallery(session, actor, gallery_id)
            job = queries.running(session, gallery_id, lock=True)
            if job is None:
                raise InvalidInput(f"gallery {gallery.name!r} has no unfinished re-embedding")
            staged = sum(queries.staged_counts(session, job.id).values())
            queries.delete_staged(session, job.id)
            job.state, job.finished = "abandoned", self.clock()
            self.ctx.audit(session, actor, "gallery.reembed_abandoned", "gallery", gallery_id,
                           {"model_id": job.model_id, "staged_deleted": staged})  # fmt: skip
            return staged

    def _start(self, actor: Actor, gallery_id: int, model_id: str) -> Job:
        """Begin the re-embedding, or resume the unfinished one (recorded either way)."""
        with self.ctx.write() as session:
            gallery = gallery_queries.lock_gallery(session, gallery_id)
            assert gallery is not None
            running = queries.running(session, gallery_id, lock=True)
            _check_start(gallery.name, gallery.model_id, running, model_id)
            job = running or Job(gallery_id=gallery_id, from_model=gallery.model_id, model_id=model_id, counts={},
                                 state="running", started_by=actor.user_id, started=self.clock())  # fmt: skip
            session.add(job)
            session.flush()
            staged = sum(queries.staged_counts(session, job.id).values()) if running else 0
            self.ctx.audit(session, actor, "gallery.reembed_started", "gallery", gallery_id,
                           {"reembedding_id": job.id, "from_model": job.from_model, "model_id": model_id,
                            "resumed": running is not None, "staged": staged})  # fmt: skip
            return job

    def _stage(self, job: Job, batch: list[SourcePhoto], pipeline: FacePipeline, report: ReembedReport) -> None:
        """Embed the batch's photos that still need it and stage their templates."""
        shas = [sha256_hex(photo.data) for photo in batch]
        for attempt in range(3):
            with self.ctx.read() as session:
                owners = queries.templates_by_photo(session, job.gallery_id, shas)
                done = queries.staged_photos(session, job.id, shas)
            todo: dict[str, SourcePhoto] = {}
            for photo, sha in zip(batch, shas, strict=True):
                if sha not in owners:
                    report.skipped += 1
                elif sha not in done:
                    todo.setdefault(sha, photo)
            if not todo:
                return
            sources = [(f"template {owners[sha][0]}", photo.data) for sha, photo in todo.items()]
            results = list(pipeline.run_many(sources, batch_size=max(1, len(sources))))
            rows = [self._staged_row(job, sha, owners[sha], result) for sha, result in zip(todo, results, strict=True)]
            try:
                with self.ctx.write() as session:
                    current = queries.job(session, job.id, lock=True)
                    if current is None or current.state != "running":
                        raise Conflict("the re-embedding was finished or abandoned meanwhile; nothing more to do")
                    session.add_all(rows)
            except IntegrityError:  # another run staged some of these photos meanwhile
                if attempt == 2:
                    raise
                continue
            report.embedded += len(rows)
            report.failed += Counter(r.outcome for r in rows if r.vector is None)
            return

    def _staged_row(self, job: Job, sha: str, owner: tuple[int, int, list[Any]], result: ImageResult) -> StagedTemplate:
        _template_id, subject_id, box = owner
        face, outcome, detail = self._choose(result, box)
        row = StagedTemplate(reembedding_id=job.id, subject_id=subject_id, source_sha256=sha, outcome=outcome,
                             detail=detail[:500], box=[], created=self.clock())  # fmt: skip
        if face is not None:
            row.vector = np.asarray(face.template.vector, dtype=np.float32).tobytes()
            row.quality = float(face.template.quality)
            row.box = face.face.box.as_list()
        return row

    def _choose(self, result: ImageResult, box: list[float]) -> tuple[FoundFace | None, str, str]:
        """The face of the photo that the old template was made from, if the new model's
        pipeline finds it usable: (face, "enrolled", "") or (None, outcome, why)."""
        if result.invalid:
            return None, "invalid-image", result.error
        if not result.faces:
            return None, "no-face", "no face found"
        face = max(result.faces, key=lambda f: box_iou(f.face.box.as_list(), box)) if box else result.best
        assert face is not None
        if box and box_iou(face.face.box.as_list(), box) < MIN_OVERLAP:
            return None, "no-face", "the enrolled face was not found again"
        floor = self.ctx.settings.enrol_min_quality
        if face.template.quality < floor:
            return None, "below-quality", f"quality {face.template.quality:.2f} < {floor}"
        return face, "enrolled", ""

    def _swap(self, actor: Actor, job: Job, drop_unkept: bool, report: ReembedReport) -> None:
        """The one transaction that replaces the gallery's templates with the staged ones."""
        with self.ctx.write() as session:
            gallery = gallery_queries.lock_gallery(session, job.gallery_id)
            current_job = queries.job(session, job.id, lock=True)
            assert gallery is not None
            if current_job is None or current_job.state != "running":
                raise Conflict("the re-embedding was finished or abandoned meanwhile")
            templates = queries.gallery_templates(session, gallery.id)
            staged = queries.staged(session, job.id)
            unkept = [t for t in templates if t[1] not in staged]
            if unkept and not drop_unkept:
                raise Conflict(
                    f"{len(unkept)} of {len(templates)} templates of gallery {gallery.name!r} have no kept photo, so "
                    "they cannot be re-embedded; the re-embedding stays open: enrol those subjects' photos again and "
                    "run it again, or pass --drop-unkept to delete those templates in the swap"
                )
            keep = [staged[sha] for _id, sha, _s in templates if sha in staged and staged[sha].vector is not None]
            lost = Counter(staged[sha].outcome for _id, sha, _s in templates if sha in staged
                           and staged[sha].vector is None)  # fmt: skip
            queries.delete_gallery_templates(session, gallery.id)
            rows = [TemplateRow(gallery_id=gallery.id, subject_id=s.subject_id, vector=s.vector, model_id=job.model_id,
                                quality=s.quality, source_sha256=s.source_sha256, box=s.box, created=self.clock())
                    for s in keep]  # fmt: skip
            session.add_all(rows)
            gallery.model_id = job.model_id
            session.flush()
            bump(session, gallery.id)
            queries.delete_staged(session, job.id)
            counts = {"templates": len(rows), "lost": dict(sorted(lost.items())), "dropped_without_photo": len(unkept)}
            current_job.state, current_job.finished, current_job.counts = "finished", self.clock(), counts
            self.ctx.audit(session, actor, "gallery.reembedded", "gallery", gallery.id,
                           {"reembedding_id": job.id, "from_model": job.from_model, "model_id": job.model_id,
                            "old_templates": len(templates), **counts})  # fmt: skip
        self.ctx.indexes.rebuild(job.gallery_id)  # the new model's templates (of its own size)
        report.finished, report.templates, report.dropped_without_photo = True, len(rows), len(unkept)
        report.failed = lost  # over the whole re-embedding, resumed runs included


def _check_start(name: str, model_of_gallery: str, running: Job | None, model_id: str) -> None:
    if running is not None and running.model_id != model_id:
        raise Conflict(
            f"gallery {name!r} is being re-embedded with {running.model_id}; finish that with --model "
            f"{running.model_id}, or abandon it (--abandon) first"
        )
    if running is None and model_of_gallery == model_id:
        raise InvalidInput(f"gallery {name!r} already uses {model_id}")


def _prepend(first: SourcePhoto, rest: Iterator[SourcePhoto]) -> Iterator[SourcePhoto]:
    yield first
    yield from rest


def _batches(items: Iterable[SourcePhoto], size: int) -> Iterator[list[SourcePhoto]]:
    batch: list[SourcePhoto] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
