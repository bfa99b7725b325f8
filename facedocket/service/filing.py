"""Filing a written request: the draft as filed and checked, the probe's faces and the one
chosen, the document's media type. Pure helpers of :mod:`facedocket.service.requests`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from facedocket.errors import InvalidInput, NoFaceFound, SeveralFaces
from facedocket.service.inputs import identifier, text
from facedocket.vision.images import encode_jpeg, media_type_of
from facedocket.vocab import LEGAL_BASES, PROBE_SOURCES

if TYPE_CHECKING:
    from facedocket.service.probes import AnalysedProbe

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RequestDraft:
    """A written request as filed (see the module docstring)."""

    case_id: int
    legal_basis: str
    justification: str
    document_type: str = ""
    document_reference: str = ""
    document_issuer: str = ""
    document_date: str = ""
    document_sha256: str = ""
    galleries: list[int] = field(default_factory=list)
    probe_source: str = "still-image"
    target_agency_id: int | None = None
    probe_face: int | None = None
    """The face of the probe to search (1-based, detection order); needed when it shows several."""


@dataclass(frozen=True)
class ProbeFace:
    """One face found in a probe photo: its box and landmarks in ``ProbeFaces`` pixels."""

    number: int
    box: list[float]
    landmarks: list[list[float]]
    quality: float


@dataclass(frozen=True)
class ProbeFaces:
    """The faces of a probe photo, for the requester to choose one (``width`` and ``height``
    are the decoded pixels the boxes are in)."""

    width: int
    height: int
    faces: list[ProbeFace]


@dataclass(frozen=True)
class Chosen:
    """The probe's face a request is for: its number and box, an aligned crop of it, and what
    is kept with the probe (its size and every face found)."""

    number: int | None
    box: list[float] | None
    crop: bytes | None
    meta: dict[str, Any]


def document_type_of(data: bytes) -> str:
    """The media type of a document file: PDF, an image, plain text, else octet-stream."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    kind = media_type_of(data)
    if kind != "application/octet-stream":
        return kind
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def with_document(draft: RequestDraft, document: bytes) -> RequestDraft:
    """The draft with the SHA-256 of the filed document (a SHA-256 given too must match it)."""
    if not document:
        raise InvalidInput("the document file is empty")
    digest = hashlib.sha256(document).hexdigest()
    if draft.document_sha256 and draft.document_sha256 != digest:
        raise InvalidInput("the document SHA-256 given does not match the document file; give one or the other")
    return replace(draft, document_sha256=digest)


def choose_face(analysed: AnalysedProbe, number: int | None) -> Chosen:
    """The face of the probe the request is for (see the module docstring)."""
    found = analysed.faces
    faces = [{"box": f.face.box.as_list(), "landmarks": [[round(x, 1), round(y, 1)] for x, y in f.face.landmarks],
              "quality": round(f.template.quality, 4)} for f in found]  # fmt: skip
    meta: dict[str, Any] = {"width": analysed.width, "height": analysed.height, "faces": faces}
    if number is None and len(found) > 1:
        raise SeveralFaces(
            f"the probe shows {len(found)} faces; choose the one to search (probe_face 1..{len(found)}, "
            "--face N on the command line), or crop the photo"
        )
    if number is not None and not 1 <= number <= len(found):
        raise NoFaceFound(f"the probe shows {len(found)} face(s); the face to search must be 1..{len(found)}")
    if not found:
        return Chosen(None, None, None, meta)
    index = (number or 1) - 1
    chip = found[index].chip
    crop = encode_jpeg(chip) if chip is not None else None
    return Chosen(index + 1, found[index].face.box.as_list(), crop, meta | {"chosen": index + 1})


def checked(draft: RequestDraft) -> RequestDraft:
    """The draft with its texts checked and trimmed; InvalidInput for what cannot be filed."""
    identifier(draft.case_id, "case id")
    if draft.target_agency_id is not None:
        identifier(draft.target_agency_id, "target agency id")
    for gallery_id in draft.galleries:
        identifier(gallery_id, "gallery id")
    if draft.legal_basis not in LEGAL_BASES:
        raise InvalidInput(f"legal basis must be one of: {', '.join(LEGAL_BASES)}")
    if draft.probe_source not in PROBE_SOURCES:
        raise InvalidInput(f"probe source must be one of: {', '.join(PROBE_SOURCES)}")
    if draft.document_date:
        try:
            date.fromisoformat(draft.document_date)
        except ValueError:
            raise InvalidInput("document date must be YYYY-MM-DD") from None
    if draft.document_sha256 and not SHA256.match(draft.document_sha256.lower()):
        raise InvalidInput("document SHA-256 must be 64 hex digits")
    justification = text(draft.justification, "justification")
    if not justification:
        raise InvalidInput("a request needs a justification: why this search is needed")
    if draft.probe_face is not None:
        identifier(draft.probe_face, "probe face")
    return RequestDraft(
        draft.case_id, draft.legal_basis, justification, text(draft.document_type, "document type"),
        text(draft.document_reference, "document reference"), text(draft.document_issuer, "document issuer"),
        draft.document_date, draft.document_sha256.lower(), [int(g) for g in draft.galleries], draft.probe_source,
        draft.target_agency_id, draft.probe_face,
    )  # fmt: skip
