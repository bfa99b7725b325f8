"""Helpers shared by the CLI commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np

from facedocket.config import Settings

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def settings_of(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def _pipeline(ctx: click.Context, model: str | None = None, **overrides: Any) -> Any:
    """The face pipeline of the settings, with ``overrides`` and template ``model`` (a model id)."""
    from dataclasses import replace

    from facedocket.vision.pipeline import FacePipeline

    settings = settings_of(ctx).model_copy(update={k: v for k, v in overrides.items() if v is not None})
    options = settings.pipeline_options()
    return FacePipeline(replace(options, model=model) if model else options)


MODEL_HELP = "Template model id (see `facedocket models`); default dlib-resnet-v1, the model of existing galleries."


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return [round(float(x), 6) for x in value.ravel()]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


@contextmanager
def _progress(total: int, label: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on standard error; yields an ``advance(n)`` callable."""
    from rich.console import Console
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
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _face_dict(face: Any, index: int) -> dict[str, object]:
    return {
        "face": index,
        "box": face.box.as_list(),
        "score": round(face.score, 4),
        "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
        "quality": face.quality.as_dict() if face.quality else None,
    }
