"""Static assets served from the package at ``/static``, and ``/docs`` (Swagger UI) built on them.

The third-party files under ``static/vendor/`` were fetched once from the npm registry by
``scripts/vendor_assets.py``; ``static/vendor/MANIFEST.json`` records each package's version,
licence and integrity and each file's SHA-256. Nothing is fetched at run time, so ``/docs``
works on a network with no internet.

Example::

    app = FastAPI(docs_url=None, redoc_url=None)
    install_assets(app)  # /static/... and /docs
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
MANIFEST = STATIC_DIR / "vendor" / "MANIFEST.json"
STATIC_URL = "/static"
DOCS_URL = "/docs"

HTMX_URL = f"{STATIC_URL}/vendor/htmx/htmx.min.js"
CSS_URL = f"{STATIC_URL}/facedocket.css"
SWAGGER_JS_URL = f"{STATIC_URL}/vendor/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS_URL = f"{STATIC_URL}/vendor/swagger-ui/swagger-ui.css"
SWAGGER_FAVICON_URL = f"{STATIC_URL}/vendor/swagger-ui/favicon-32x32.png"
SWAGGER_CONTRAST_CSS_URL = f"{STATIC_URL}/swagger-ui-contrast.css"
SWAGGER_INIT_URL = f"{STATIC_URL}/swagger-init.js"


def vendored() -> dict[str, dict[str, object]]:
    """The manifest of vendored packages: name -> version, license, tarball, integrity, files.

    Example::

        >>> vendored()["htmx.org"]["version"]
        '2.0.11'
    """
    data: dict[str, dict[str, object]] = json.loads(MANIFEST.read_text())
    return data


def install_assets(app: FastAPI, title: str = "FaceDocket") -> None:
    """Mount the package's static files at ``/static`` and serve Swagger UI at ``/docs`` from them.

    Create the app with ``docs_url=None, redoc_url=None`` (ReDoc would load from a CDN).
    """
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    page = docs_html(app.openapi_url or "/openapi.json", f"{title} — API")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)


def docs_html(openapi_url: str, title: str) -> str:
    """The Swagger UI page: local files only, ``lang`` set, no inline script.

    FastAPI's ``get_swagger_ui_html`` takes local URLs too, but writes an inline script and no
    ``lang`` (an axe-core violation); this page starts Swagger UI from ``swagger-init.js``.
    """
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{SWAGGER_CSS_URL}">
<link rel="stylesheet" href="{SWAGGER_CONTRAST_CSS_URL}">
<link rel="icon" type="image/png" href="{SWAGGER_FAVICON_URL}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{SWAGGER_JS_URL}"></script>
<script src="{SWAGGER_INIT_URL}"></script>
</body>
</html>
"""
