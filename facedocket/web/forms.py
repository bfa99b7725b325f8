"""Reading form fields: text, integers, ids and uploaded files, each refused with a one-line
:class:`~facedocket.errors.InvalidInput` the page shows next to the form."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile

from facedocket.errors import InvalidInput, PayloadTooLarge


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def number(form: FormData, name: str, what: str) -> int | None:
    """An optional whole number."""
    value = text(form, name).strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput(f"{what} must be a whole number")
    return int(value)


def decimal(form: FormData, name: str, what: str) -> float | None:
    """An optional number."""
    value = text(form, name).strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a number") from None


def ids(form: FormData, name: str) -> list[int]:
    """Every id ticked in a group of checkboxes called ``name``."""
    values = [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]
    if any(not v.strip().isdigit() for v in values):
        raise InvalidInput(f"{name} must be ids")
    return [int(v) for v in values]


async def upload(form: FormData, name: str, limit: int, what: str, required: bool = True) -> bytes | None:
    """The bytes of the file field ``name`` (at most ``limit`` bytes); None when not given."""
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        if required:
            raise InvalidInput(f"choose the {what} file")
        return None
    data = await value.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the {what} is larger than {limit:,} bytes")
    if not data and required:
        raise InvalidInput(f"the {what} file is empty")
    return data or None


async def uploads(form: FormData, name: str, limit: int) -> list[tuple[str, bytes]]:
    """(file name with its folder path, bytes) of every file of a multi-file field, at most
    ``limit`` bytes in all."""
    found: list[tuple[str, bytes]] = []
    total = 0
    for value in form.getlist(name):
        if not isinstance(value, UploadFile) or not value.filename:
            continue
        data = await value.read(limit - total + 1)
        total += len(data)
        if total > limit:
            raise PayloadTooLarge(f"the files are larger than {limit:,} bytes in all")
        found.append((value.filename, data))
    return found
