"""Enrolment: photos in, subjects and templates out, batched, resumable, with an outcome
for every image.

Sources: a folder with one sub-folder per subject (the folder name is the subject's
reference), or a CSV manifest with columns ``subject`` (or ``reference``), ``image`` (or
``path``, relative to the CSV's folder) and optional ``sex``, ``birth_year`` and any other
attribute columns.

Templates are made with the gallery's template model (``gallery.model_id``), never another;
while the gallery is being re-embedded, enrolment into it is refused.

Each image ends with one outcome: ``enrolled``, ``already-enrolled`` (its SHA-256 is in
the gallery: a re-run skips it), ``duplicate`` (the same bytes twice in this run),
``no-face``, ``several-faces`` (when the multi-face policy is ``reject``),
``below-quality`` or ``invalid-image``. Each batch is one transaction: a crash loses at
most the batch in flight, and a re-run picks up where it stopped.

When the gallery keeps photos (its setting, unless the policy profile forbids it), each
enrolled photo is kept with its template, encrypted (:mod:`facedocket.service.files`): the
source photo as given, and the aligned face crop the template was made from (JPEG), with
the face's box and landmarks. The audit event names them by SHA-256 only.
"""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.csvcells import csv_cell
from facedocket.errors import Conflict, InvalidImage, InvalidInput, StorageFull, StorageReadOnly
from facedocket.governance.permissions import Actor, require
from facedocket.governance.retention import photos_kept
from facedocket.oversight.evaluation import list_identities
from facedocket.service.context import Area
from facedocket.service.files import FileStore
from facedocket.service.galleries import owned_gallery
from facedocket.service.indexes import bump
from facedocket.service.inputs import birth_year, text
from facedocket.service.policy import policy_of
from facedocket.store.queries import enrolment as queries
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import oversight as oversight_queries
from facedocket.store.queries import reembedding as reembed_queries
from facedocket.store.tables import Gallery, Subject, TemplateRow
from facedocket.vision.images import ImageLimits, encode_jpeg, read_bytes, sha256_hex
from facedocket.vision.pipeline import FoundFace, ImageResult
from facedocket.vocab import ENROLMENT_OUTCOMES as OUTCOMES

OUTCOME_COLUMNS = ("source", "subject", "outcome", "detail", "template_id", "sha256")


def keep_photos(files: FileStore, session: Session, agency_id: int, row: TemplateRow, found: FoundFace,
                photo: tuple[bytes, tuple[int, int]]) -> int:  # fmt: skip
    """Keep a template's source photo (``photo``: its bytes and decoded size) and aligned
    face crop, encrypted, in the caller's transaction; returns how many files. Used by
    enrolment and by watchlist entries."""
    data, (width, height) = photo
    face = found.face
    meta = {"box": face.box.as_list(), "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
            "width": width, "height": height, "quality": round(row.quality, 4)}  # fmt: skip
    links: dict[str, int | None] = {"gallery_id": row.gallery_id, "subject_id": row.subject_id,
                                    "template_id": row.id}  # fmt: skip
    files.seal(session, agency_id, "enrolment-source", data, meta=meta, **links)  # type: ignore[arg-type]
    if found.chip is None:
        return 1
    crop = encode_jpeg(found.chip)
    size = {"width": int(found.chip.shape[1]), "height": int(found.chip.shape[0])}
    files.seal(session, agency_id, "enrolment-crop", crop, media_type="image/jpeg", meta=size, **links)
    return 2


@dataclass(frozen=True)
class EnrolItem:
    """One photo to enrol for one subject; ``data`` for uploads, else read from ``source``."""

    reference: str
    source: str
    data: bytes | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    source: str
    subject: str
    outcome: str
    detail: str = ""
    template_id: int | None = None
    sha256: str = ""
    subject_id: int | None = None
    index_error: str = ""  # an upload's: the index file could not be written after the commit


@dataclass
class EnrolmentReport:
    """What an enrolment did. ``index_error`` says, with its path, that the gallery's index
    file could not be written after the enrolments were committed (they stand; searches use
    the index in memory, and the next process rebuilds the file from the database);
    ``outcomes_error`` the same of the outcome file."""

    counts: Counter[str] = field(default_factory=Counter)
    outcomes_file: str | None = None
    seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    index_error: str | None = None
    outcomes_error: str | None = None

    @property
    def warnings(self) -> list[str]:
        """What failed after the enrolments were committed."""
        return [w for w in (self.outcomes_error, self.index_error) if w]

    def as_dict(self) -> dict[str, object]:
        return {
            "counts": {k: self.counts.get(k, 0) for k in OUTCOMES},
            "images": sum(self.counts.values()),
            "outcomes_file": self.outcomes_file,
            "seconds": round(self.seconds, 3),
            "index_error": self.index_error,
            "outcomes_error": self.outcomes_error,
        }


def read_source(path: Path) -> list[EnrolItem]:
    """Enrolment items from a folder-per-subject tree or a CSV manifest."""
    if path.is_dir():
        return [
            EnrolItem(reference=name, source=str(photo))
            for name, photos in list_identities(path).items()
            for photo in photos
        ]
    if path.suffix.lower() == ".csv" and path.is_file():
        return _read_manifest(path)
    raise InvalidInput(f"{path} is neither a folder of subject folders nor a .csv manifest")


def _read_manifest(path: Path) -> list[EnrolItem]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        ref_col = columns.get("subject") or columns.get("reference")
        img_col = columns.get("image") or columns.get("path")
        if not ref_col or not img_col:
            raise InvalidInput(f"{path}: the manifest needs columns subject (or reference) and image (or path)")
        items = []
        for line, row in enumerate(reader, start=2):
            reference, image = (row.get(ref_col) or "").strip(), (row.get(img_col) or "").strip()
            if not reference or not image:
                raise InvalidInput(f"{path} line {line}: subject and image are both required")
            extra = {k: v for k, v in row.items() if k not in (ref_col, img_col) and v not in (None, "")}
            items.append(EnrolItem(reference, str((path.parent / image).resolve()), attributes=extra))
    return items


def _subject_fields(attributes: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"attributes": {}}
    for key, value in attributes.items():
        if key == "sex":
            fields["sex"] = text(str(value), "sex")
        elif key == "birth_year":
            fields["birth_year"] = birth_year(value)
        else:
            fields["attributes"][key] = value
    return fields


class Enrolment(Area):
    """Enrolling photos into galleries (see the module docstring)."""

    def enroll(
        self,
        actor: Actor,
        gallery_id: int,
        items: Iterable[EnrolItem],
        outcomes_file: Path | None = None,
        progress: Callable[[int], None] | None = None,
        batch_size: int = 32,
    ) -> EnrolmentReport:
        """Enrol photos into a gallery the actor's agency owns (see module docstring). Photos
        that are not enrolled are recorded per batch (``enrolment.failed``: counts and SHA-256s)."""
        require(actor, "enrolment.run")
        with self.ctx.read() as session:
            gallery = owned_gallery(session, actor, gallery_id)
            _not_reembedding(session, gallery)
            self.ctx.models.card(gallery.model_id, session)
        report = EnrolmentReport(outcomes_file=str(outcomes_file) if outcomes_file else None)
        start = time.perf_counter()
        writer = _OutcomeWriter(outcomes_file)
        try:
            earlier: set[str] = set()
            for batch in _batches(items, batch_size):
                for outcome in self._enrol_batch(actor, gallery_id, batch, earlier):
                    report.counts[outcome.outcome] += 1
                    report.outcomes.append(outcome)
                    writer.write(outcome)
                writer.flush()
                if progress:
                    progress(len(batch))
        except (StorageFull, StorageReadOnly) as exc:
            writer.close()  # never raises: its own trouble never hides the database's
            with suppress(Exception):  # the index is a cache: its trouble never hides the database's
                self._save_index(gallery_id)
            raise type(exc)(
                f"{exc}; {report.counts['enrolled']} photo(s) of this run were enrolled and committed before it "
                "(run it again to go on: what is enrolled is skipped)"
            ) from exc
        except BaseException:
            writer.close()
            with suppress(Exception):
                self._save_index(gallery_id)
            raise
        writer.close()
        report.outcomes_error = writer.error
        report.index_error = self._save_index(gallery_id)
        report.seconds = time.perf_counter() - start
        return report

    def _save_index(self, gallery_id: int) -> str | None:
        """Bring the gallery's index level and write its file when due; the write failure, if any."""
        self.ctx.indexes.get(gallery_id)
        self.ctx.indexes.save_if_due(gallery_id)
        return self.ctx.indexes.take_failure(gallery_id)

    def enroll_image(
        self,
        actor: Actor,
        gallery_id: int,
        reference: str,
        data: bytes,
        attributes: dict[str, Any] | None = None,
    ) -> Outcome:
        """Enrol one uploaded photo; the outcome says what happened."""
        item = EnrolItem(text(reference, "subject reference", required=True), "upload", data, attributes or {})
        report = self.enroll(actor, gallery_id, [item])
        return replace(report.outcomes[0], index_error=report.index_error or "")

    def _enrol_batch(self, actor: Actor, gallery_id: int, batch: list[EnrolItem], earlier: set[str]) -> list[Outcome]:
        """Enrol one batch; ``earlier`` holds the SHA-256 of photos met earlier in this run."""
        loaded = [_load(item, self.ctx.settings.max_image_bytes) for item in batch]
        for attempt in range(3):
            try:
                outcomes = self._enrol_loaded(actor, gallery_id, batch, loaded, earlier)
                earlier |= {sha for _data, sha, _error in loaded if sha}
                self._record_failures(actor, gallery_id, outcomes)
                return outcomes
            except IntegrityError:  # another process enrolled the same photo or subject meanwhile
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _enrol_loaded(
        self,
        actor: Actor,
        gallery_id: int,
        batch: list[EnrolItem],
        loaded: list[tuple[bytes | None, str, str]],
        earlier: set[str],
    ) -> list[Outcome]:
        with self.ctx.read() as session:
            gallery = gallery_queries.gallery(session, gallery_id)
            assert gallery is not None
            model_id = gallery.model_id
            active = policy_of(session, gallery.agency_id)
            keep = photos_kept(active.profile if active else None, gallery.keep_photos)
            consented = (
                oversight_queries.consented_references(session, gallery_id, {i.reference for i in batch}, self.clock())
                if gallery.requires_consent
                else None
            )
            known = queries.known_photos(session, gallery_id, [sha for _data, sha, _err in loaded if sha])
        outcomes: list[Outcome | None] = [None] * len(batch)
        todo: list[int] = []
        seen: set[str] = set()
        for i, (item, (_data, sha, error)) in enumerate(zip(batch, loaded, strict=True)):
            if consented is not None and item.reference not in consented:
                outcomes[i] = Outcome(
                    item.source, item.reference, "no-consent",
                    "this gallery needs a recorded, live consent; create the subject and record it first", sha256=sha,
                )  # fmt: skip
            elif error:
                outcomes[i] = Outcome(item.source, item.reference, "invalid-image", error, sha256=sha)
            elif sha in seen or sha in earlier:
                outcomes[i] = Outcome(
                    item.source, item.reference, "duplicate", "same bytes earlier in this run", sha256=sha
                )
            elif sha in known:
                outcomes[i] = Outcome(item.source, item.reference, "already-enrolled", sha256=sha)
            else:
                seen.add(sha)
                todo.append(i)
        sources = [(batch[i].source, loaded[i][0] or b"") for i in todo]
        pipeline = self.ctx.pipeline.for_model(model_id)  # the gallery's model makes its templates
        results = list(pipeline.run_many(sources, batch_size=max(1, len(sources))))
        chosen: list[tuple[int, FoundFace]] = []
        sizes: dict[int, tuple[int, int]] = {}
        for i, result in zip(todo, results, strict=True):
            outcome, face = self._judge(batch[i], result)
            outcomes[i] = outcome
            if face is not None:
                chosen.append((i, face))
                sizes[i] = result.size
        if chosen:
            photos = {i: (loaded[i][0] or b"", sizes[i]) for i, _ in chosen} if keep else {}
            stored = self._store(actor, gallery_id, batch, chosen, photos)
            for (i, _face), (template_id, subject_id) in zip(chosen, stored, strict=True):
                item = batch[i]
                outcomes[i] = Outcome(
                    item.source, item.reference, "enrolled", template_id=template_id, sha256=loaded[i][1],
                    subject_id=subject_id,
                )  # fmt: skip
        return [o for o in outcomes if o is not None]

    def _judge(self, item: EnrolItem, result: ImageResult) -> tuple[Outcome, FoundFace | None]:
        def outcome(kind: str, detail: str = "") -> Outcome:
            return Outcome(item.source, item.reference, kind, detail, sha256=result.sha256)

        if result.invalid:
            return outcome("invalid-image", result.error), None
        if not result.faces:
            return outcome("no-face", "no face found"), None
        if len(result.faces) > 1 and self.ctx.settings.multi_face == "reject":
            return outcome(
                "several-faces", f"{len(result.faces)} faces; crop the photo or set multi_face=largest"
            ), None
        best = result.best
        assert best is not None
        if best.template.quality < self.ctx.settings.enrol_min_quality:
            floor = self.ctx.settings.enrol_min_quality
            return outcome("below-quality", f"quality {best.template.quality:.2f} < {floor}"), None
        return outcome("enrolled"), best

    def _store(
        self,
        actor: Actor,
        gallery_id: int,
        batch: list[EnrolItem],
        chosen: list[tuple[int, FoundFace]],
        photos: dict[int, tuple[bytes, tuple[int, int]]],
    ) -> list[tuple[int, int]]:
        """Write the chosen faces' subjects and templates (and, per ``photos``, the source photo
        and face crop of each) in one transaction; returns (template id, subject id) per face."""
        with self.ctx.write() as session:
            gallery = gallery_queries.lock_gallery(session, gallery_id)
            assert gallery is not None
            _not_reembedding(session, gallery)
            made_with = {face.template.model_id for _, face in chosen}
            if made_with != {gallery.model_id}:  # re-embedded between reading the gallery and now
                raise Conflict(f"gallery {gallery.name!r} now uses {gallery.model_id}; enrol these photos again")
            subjects = self._subjects_for(session, gallery_id, [batch[i] for i, _ in chosen])
            rows = [
                TemplateRow(
                    gallery_id=gallery_id,
                    subject_id=subjects[batch[i].reference].id,
                    vector=np.asarray(face.template.vector, dtype=np.float32).tobytes(),
                    model_id=face.template.model_id,
                    quality=float(face.template.quality),
                    source_sha256=face.template.source_sha256,
                    box=face.face.box.as_list(),
                    created=self.clock(),
                )
                for i, face in chosen
            ]
            session.add_all(rows)
            session.flush()
            kept = sum(self._keep_photos(session, actor, row, face, photos[i])
                       for (i, face), row in zip(chosen, rows, strict=True) if i in photos)  # fmt: skip
            generation = bump(session, gallery_id)
            ids = np.array([r.id for r in rows], dtype=np.int64)
            vectors = np.stack([face.template.vector for _, face in chosen]).astype(np.float32)
            stored = [(r.id, r.subject_id) for r in rows]
            enrolled = [
                {"template_id": r.id, "subject_id": r.subject_id, "image_sha256": r.source_sha256} for r in rows
            ]
            self.ctx.audit(session, actor, "enrolment.batch", "gallery", gallery_id,
                           {"enrolled": enrolled, "photos_kept": kept})  # fmt: skip
        self.ctx.indexes.applied(gallery_id, generation, added=(ids, vectors))
        return stored

    def _keep_photos(self, session: Session, actor: Actor, row: TemplateRow, found: FoundFace,
                     photo: tuple[bytes, tuple[int, int]]) -> int:  # fmt: skip
        return keep_photos(self.ctx.files, session, actor.agency_id, row, found, photo)

    def _record_failures(self, actor: Actor, gallery_id: int, outcomes: list[Outcome]) -> None:
        failed = [o for o in outcomes if o.outcome not in ("enrolled", "already-enrolled")]
        if failed:
            counts = Counter(o.outcome for o in failed)
            details = {"counts": dict(sorted(counts.items())), "images": [o.sha256 for o in failed if o.sha256]}
            self.ctx.record(actor, "enrolment.failed", "gallery", gallery_id, details)

    def _subjects_for(self, session: Session, gallery_id: int, items: list[EnrolItem]) -> dict[str, Subject]:
        found = queries.subjects_by_reference(session, gallery_id, sorted({item.reference for item in items}))
        for item in items:
            fields = _subject_fields(item.attributes)
            subject = found.get(item.reference)
            if subject is None:
                subject = Subject(gallery_id=gallery_id, reference=item.reference, created=self.clock(),
                                  last_interaction=self.clock(), **fields)  # fmt: skip
                session.add(subject)
                found[item.reference] = subject
                continue
            subject.last_interaction = self.clock()
            # Recorded attributes given again update the subject: the latest record wins.
            for key in ("sex", "birth_year"):
                if key in fields:
                    setattr(subject, key, fields[key])
            if fields["attributes"]:
                subject.attributes = {**(subject.attributes or {}), **fields["attributes"]}
        session.flush()
        return found


def _not_reembedding(session: Session, gallery: Gallery) -> None:
    """Conflict while the gallery is being re-embedded (its new templates are made from the
    photos it held when the re-embedding began)."""
    running = reembed_queries.running(session, gallery.id)
    if running is not None:
        raise Conflict(
            f"gallery {gallery.name!r} is being re-embedded with {running.model_id}; enrol once that is finished "
            f"(`facedocket gallery reembed {gallery.name} --model {running.model_id}`) or abandoned"
        )


def _load(item: EnrolItem, max_bytes: int) -> tuple[bytes | None, str, str]:
    """(bytes, sha256, error) for an item."""
    if item.data is not None:
        data = item.data
    else:
        try:
            data = read_bytes(item.source, ImageLimits(max_bytes=max_bytes))
        except InvalidImage as e:
            return None, "", str(e)
    return data, sha256_hex(data), ""


def _batches(items: Iterable[EnrolItem], size: int) -> Iterator[list[EnrolItem]]:
    batch: list[EnrolItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _OutcomeWriter:
    """Appends outcomes to a CSV file as each batch completes. The file names subjects and
    photos, so it is created readable by its owner only (0600, whatever the umask), and every
    cell goes through :func:`facedocket.csvcells.csv_cell` (a reference typed as a formula is
    shown, never run, by a spreadsheet)."""

    def __init__(self, path: Path | None) -> None:
        self._file: TextIO | None = None
        self._writer: Any = None
        self.path = path
        self.error: str | None = None  # the file could not be written (a full disk): enrolment goes on
        if path is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with suppress(PermissionError):  # another user's file: theirs to keep private
                os.fchmod(fd, 0o600)
            new = os.fstat(fd).st_size == 0
            self._file = os.fdopen(fd, "a", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            if new:
                self._writer.writerow(OUTCOME_COLUMNS)

    def write(self, o: Outcome) -> None:
        if self._writer is not None:
            row = [o.source, o.subject, o.outcome, o.detail, o.template_id or "", o.sha256]
            self._guarded(lambda: self._writer.writerow([csv_cell(cell) for cell in row]))

    def flush(self) -> None:
        if self._file is not None:
            self._guarded(self._file.flush)

    def close(self) -> None:
        """Close the file; never raises (a failure is kept in ``error``)."""
        if self._file is not None:
            file, self._file, self._writer = self._file, None, None
            try:
                file.close()
            except OSError as exc:
                self._failed(exc)

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except OSError as exc:
            self._failed(exc)
            with suppress(OSError):
                if self._file is not None:
                    self._file.close()
            self._file, self._writer = None, None

    def _failed(self, exc: OSError) -> None:
        if self.error is None:
            self.error = f"the outcome file {self.path} could not be written ({exc.strerror or exc})"
