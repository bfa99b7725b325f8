"""A face pipeline that remembers what it made of each photo, for the tests.

The tests enrol and search the same few dozen photos again and again (each on SQLite and
PostgreSQL). :class:`RememberingPipeline` is the real pipeline, whose answer for a photo it
has analysed before (the same bytes, the same model and options) is the answer it gave then:
every distinct photo is still decoded, detected, aligned and embedded for real, once per
test session. The pipeline's own tests (tests/vision) use a plain pipeline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from facedocket.types import Image
from facedocket.vision.pipeline import FacePipeline, FoundFace, ImageResult, Source


def _copied(found: tuple[FoundFace, ...]) -> tuple[FoundFace, ...]:
    """The faces with their own copies of the template vectors (a caller may change them)."""
    return tuple(replace(f, template=replace(f.template, vector=f.template.vector.copy())) for f in found)


class RememberingPipeline(FacePipeline):
    """See the module docstring."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._results: dict[tuple[object, ...], ImageResult] = {}
        self._analysed: dict[tuple[object, ...], tuple[FoundFace, ...]] = {}

    def _key(self, sha256: str) -> tuple[object, ...]:
        return (self.model_id, self.options.flip, self.options.jitter, self.options.detector, sha256)

    def analyse(self, image: Image) -> list[FoundFace]:
        key = self._key(image.sha256)
        if key not in self._analysed:
            self._analysed[key] = tuple(super().analyse(image))
        return list(_copied(self._analysed[key]))

    def run_many(
        self, sources: Iterable[Source], batch_size: int = 16, progress: Callable[[int], None] | None = None
    ) -> Iterator[ImageResult]:
        listed = list(sources)
        keys = [self._source_key(s) for s in listed]
        todo = [s for s, k in zip(listed, keys, strict=True) if k is None or k not in self._results]
        fresh = iter(super().run_many(todo, batch_size, progress)) if todo else iter(())
        for source, key in zip(listed, keys, strict=True):
            name = source[0] if isinstance(source, tuple) else str(source)
            if key is not None and key in self._results:
                if progress:
                    progress(1)
                remembered = self._results[key]
                yield replace(remembered, source=name, faces=_copied(remembered.faces))
                continue
            result = next(fresh)
            if key is not None and not result.invalid:
                self._results[key] = result
            yield replace(result, faces=_copied(result.faces))

    def _source_key(self, source: Source) -> tuple[object, ...] | None:
        """The key of a source's bytes, or None when they cannot be read (the pipeline says why)."""
        try:
            data = source[1] if isinstance(source, tuple) else Path(source).read_bytes()
        except OSError:
            return None
        return self._key(hashlib.sha256(data).hexdigest())
