"""Helpers shared by the CLI commands.

Everything the CLI prints goes through :func:`echo`, which strips terminal control
characters (escape sequences, carriage returns, bidirectional overrides) first: gallery
names, subject references and audit details are typed by users, and printed as they are
they could clear the screen, rewrite earlier lines or hide text. Files holding secrets
are written by :func:`write_private`: mode 0600 from the start, and whole or not at all.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from facedocket.config import Settings
from facedocket.service.inputs import MAX_ID
from facedocket.types import json_default

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")

# C0 controls except tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the
# Unicode marks that reorder or hide text (bidirectional embeddings, overrides, isolates).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


if TYPE_CHECKING:
    _IntParam = click.ParamType[int]  # generic from click 8.4
else:
    _IntParam = click.ParamType


class IdType(_IntParam):
    """A record's id on the command line: a whole number from 1 to 2**63-1 (what a table holds)."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not an id (a whole number)", param, ctx)
        if not 1 <= number <= MAX_ID:
            self.fail(f"{value} is not an id: ids run from 1 to {MAX_ID}", param, ctx)
        return number


ID = IdType()
"""The click type of every id argument and option."""


def clean(text: object) -> str:
    """``text`` as a string without terminal control characters (tab and newline stay).

    Example::

        >>> clean("booking\x1b[2J\rphotos")
        'booking[2Jphotos'
    """
    return _CONTROL.sub("", str(text))


def echo(message: object = "", err: bool = False, nl: bool = True) -> None:
    """``click.echo`` of :func:`clean` ``message``: how every CLI command prints."""
    click.echo(clean(message), err=err, nl=nl)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600 from creation, whatever
    the umask) and atomically: a temporary file beside it, then a rename."""
    write_private_bytes(path, text.encode("utf-8"))


def write_private_bytes(path: Path, data: bytes) -> None:
    """:func:`write_private` for bytes (a face crop, say)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def settings_of(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


class _Moment(click.ParamType[datetime]):
    """A date (2026-11-01) or an ISO 8601 time; UTC unless it names its zone."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


MOMENT = _Moment()


def _pipeline(ctx: click.Context, model: str | None = None, **overrides: Any) -> Any:
    """The face pipeline of the settings, with ``overrides`` and template ``model`` (a model id)."""
    from dataclasses import replace

    from facedocket.vision.pipeline import pipeline_options, shared_pipeline

    settings = settings_of(ctx).model_copy(update={k: v for k, v in overrides.items() if v is not None})
    options = pipeline_options(settings)
    return shared_pipeline(replace(options, model=model) if model else options)


MODEL_HELP = (
    "Template model id (see `facedocket models`); default dlib-resnet-v1, the model of galleries made before "
    "galleries chose their model (new galleries use sface-2021dec)."
)


def _echo_json(data: object) -> None:
    echo(json.dumps(data, indent=2, default=json_default))  # ASCII: controls come out as \u escapes


@contextmanager
def _progress(total: int, label: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on standard error; yields an ``advance(n)`` callable."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=True,
    ) as progress:
        task = progress.add_task(escape(clean(label)), total=total)
        yield lambda n: progress.advance(task, n)


def _face_dict(face: Any, index: int) -> dict[str, object]:
    return {
        "face": index,
        "box": face.box.as_list(),
        "score": round(face.score, 4),
        "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
        "quality": face.quality.as_dict() if face.quality else None,
    }
