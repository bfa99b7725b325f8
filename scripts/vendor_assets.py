"""Vendor the web UI's third-party assets (htmx, Swagger UI) from the npm registry into
facedocket/web/static/vendor/, and write MANIFEST.json next to them.

python scripts/vendor_assets.py   # needs npm and the registry; run once per upgrade, commit the files

Each package is fetched with ``npm pack`` at the pinned version, its tarball checked against
the registry's ``dist.integrity`` (SHA-512), and only the files the web UI serves are kept,
with the package's licence files. The manifest records, per package, the version, licence,
tarball URL and integrity, and each kept file's SHA-256 (checked by tests/web/test_assets.py).
Nothing is fetched at run time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "facedocket" / "web" / "static" / "vendor"

# npm package -> (pinned version, folder under vendor/, {file in the tarball: name under the folder})
PACKAGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "htmx.org": ("2.0.11", "htmx", {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "LICENSE"}),
    "swagger-ui-dist": (
        "5.35.0",
        "swagger-ui",
        {
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css": "swagger-ui.css",
            "favicon-32x32.png": "favicon-32x32.png",
            "LICENSE": "LICENSE",
            "NOTICE": "NOTICE",
        },
    ),
}


def _npm_json(*args: str) -> dict[str, object]:
    out = subprocess.run(["npm", *args, "--json"], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    return data[0] if isinstance(data, list) else data  # type: ignore[no-any-return]


def _vendor(name: str, version: str, folder: str, files: dict[str, str], tmp: Path) -> dict[str, object]:
    meta = _npm_json("view", f"{name}@{version}", "dist", "license")
    dist = meta["dist"]
    assert isinstance(dist, dict)
    packed = _npm_json("pack", f"{name}@{version}", "--pack-destination", str(tmp))
    tarball = tmp / str(packed["filename"])
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != dist["integrity"]:
        raise SystemExit(f"{tarball.name}: integrity {digest} differs from the registry's {dist['integrity']}")
    target = VENDOR / folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    kept: dict[str, str] = {}
    with tarfile.open(tarball) as tar:
        for inner, outer in files.items():
            member = tar.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"{name}@{version} has no file {inner}")
            data = member.read()
            (target / outer).write_bytes(data)
            kept[f"{folder}/{outer}"] = hashlib.sha256(data).hexdigest()
    return {
        "version": version,
        "license": meta["license"],
        "tarball": dist["tarball"],
        "integrity": dist["integrity"],
        "files": kept,
    }


def main() -> None:
    manifest: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, folder, files) in PACKAGES.items():
            manifest[name] = _vendor(name, version, folder, files, Path(tmp))
            print(f"{name}@{version} -> {VENDOR / folder}")
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
