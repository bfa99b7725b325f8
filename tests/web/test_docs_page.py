"""/docs: Swagger UI from the package, in a real Chromium with the internet out of reach."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from .browser import LiveServer, OfflineGuard, assert_accessible


def _watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _samples(spec: dict[str, Any]) -> list[str]:
    """Swagger UI's element ids of one operation with a JSON body, one with a file upload and
    one with a path parameter: the three kinds of "Try it out" form."""
    wanted: dict[str, str] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            element = f"operations-{op['tags'][0]}-{op['operationId']}"
            body = op.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                wanted.setdefault("json", element)
            if "multipart/form-data" in body:
                wanted.setdefault("upload", element)
            if "{" in path and method == "get":
                wanted.setdefault("path", element)
    assert set(wanted) == {"json", "upload", "path"}, wanted
    return list(wanted.values())


def test_docs_work_offline_and_pass_axe(
    page: Page, live_server: LiveServer, offline: OfflineGuard, screenshot: Callable[[Page, str], Path]
) -> None:
    spec = httpx.get(f"{live_server.url}/openapi.json").json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    errors = _watch_errors(page)
    loaded: list[str] = []
    page.on("requestfinished", lambda r: loaded.append(r.url))

    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".opblock")).to_have_count(operations, timeout=20_000)
    expect(page.locator(".info .title")).to_contain_text("FaceDocket")
    assert offline.blocked == [] and errors == []
    assert f"{live_server.url}/static/vendor/swagger-ui/swagger-ui-bundle.js" in loaded
    assert f"{live_server.url}/openapi.json" in loaded
    assert_accessible(page)
    screenshot(page, "api-docs")

    for element in _samples(spec):  # open by keyboard, then "Try it out": axe again
        page.locator(f"#{element} .opblock-summary-control").focus()
        page.keyboard.press("Enter")
        page.locator(f"#{element} .try-out__btn").click()
        expect(page.locator(f"#{element} .execute")).to_be_visible()
    assert_accessible(page)
    assert offline.blocked == [] and errors == []


def test_docs_page_names_only_local_assets(live_server: LiveServer) -> None:
    html = httpx.get(f"{live_server.url}/docs").text
    assert '<html lang="en">' in html
    assert "http" not in html and "<script>" not in html, html  # no CDN, no inline script
    assert httpx.get(f"{live_server.url}/redoc").status_code == 404  # ReDoc would need a CDN
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert httpx.get(f"{live_server.url}/static/vendor/swagger-ui/{asset}").status_code == 200


def test_the_guard_aborts_and_records_an_outside_request(
    page: Page, live_server: LiveServer, offline: OfflineGuard
) -> None:
    page.goto(f"{live_server.url}/static/facedocket.css")
    loaded = page.evaluate(
        "() => new Promise(ok => { const s = document.createElement('script');"
        " s.src = 'https://cdn.example.org/x.js'; s.onload = () => ok(true); s.onerror = () => ok(false);"
        " document.head.appendChild(s); })"
    )
    assert loaded is False
    assert offline.blocked == ["https://cdn.example.org/x.js"]
    offline.blocked.clear()  # seen; the page fixture fails a test that leaves one behind
