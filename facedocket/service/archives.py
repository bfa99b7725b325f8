"""Photos to enrol from an upload: a zip archive or the files of a folder, each photo in a
folder named after its subject (``Jane_Doe/1.jpg``; a deeper tree counts its innermost
folder). Files that are not photos by name (no image extension) and hidden or system files
(``.DS_Store``, ``__MACOSX/``) are skipped. The archive is read with limits: at most
``max_files`` photos and ``max_bytes`` uncompressed in all (a zip bomb stops there).

Example::

    items = read_archive(Path("photos.zip").read_bytes())
    service.enrolment.enroll(admin, gallery_id, items)
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from facedocket.errors import InvalidInput, PayloadTooLarge
from facedocket.service.enrolment import EnrolItem

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_FILES = 20_000
MAX_BYTES = 2 * 1024**3


def subject_of(path: str) -> str | None:
    """The subject a photo at ``path`` belongs to (its folder's name), or None when the path
    is not a photo in a folder, or a hidden or system file."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if len(parts) < 2 or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return None
    if PurePosixPath(parts[-1]).suffix.lower() not in PHOTO_SUFFIXES:
        return None
    return parts[-2]


def items_from_files(files: list[tuple[str, bytes]]) -> list[EnrolItem]:
    """Enrolment items from uploaded files named by their path inside the chosen folder."""
    items = [EnrolItem(reference, path, data) for path, data in files if (reference := subject_of(path))]
    if not items:
        raise InvalidInput("no photo in a subject folder was found (expected Subject_Name/photo.jpg)")
    return items


def read_archive(data: bytes, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> list[EnrolItem]:
    """Enrolment items from a zip archive (see the module docstring)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidInput("the upload is not a zip archive") from None
    files: list[tuple[str, bytes]] = []
    total = 0
    with archive:
        for info in archive.infolist():
            if info.is_dir() or subject_of(info.filename) is None:
                continue
            if len(files) >= max_files:
                raise PayloadTooLarge(f"the archive holds more than {max_files:,} photos; split it")
            total += info.file_size
            if total > max_bytes:
                raise PayloadTooLarge(f"the archive unpacks to more than {max_bytes:,} bytes; split it")
            with archive.open(info) as member:
                content = member.read(info.file_size + 1)
            if len(content) > info.file_size:  # the header lied about the size
                raise InvalidInput(f"{info.filename}: the archive's size records are wrong")
            files.append((info.filename, content))
    return items_from_files(files)
