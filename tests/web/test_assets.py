"""The package's static assets: vendored files are the ones the manifest names (version,
licence, SHA-256), and the project stylesheet is readable and shows keyboard focus."""

from __future__ import annotations

import hashlib

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from facedocket.web.assets import CSS_URL, HTMX_URL, STATIC_DIR, vendored

from .browser import LiveServer, assert_accessible


def test_vendored_files_match_the_manifest() -> None:
    packages = vendored()
    assert packages["htmx.org"]["version"].startswith("2.")  # type: ignore[union-attr]
    listed: set[str] = set()
    for name, package in packages.items():
        assert package["license"] and package["version"] and package["integrity"], name
        files = package["files"]
        assert isinstance(files, dict)
        for relative, sha256 in files.items():
            data = (STATIC_DIR / "vendor" / relative).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha256, f"{relative} differs from the manifest"
            listed.add(relative)
    on_disk = {str(p.relative_to(STATIC_DIR / "vendor")) for p in (STATIC_DIR / "vendor").rglob("*") if p.is_file()}
    assert on_disk - {"MANIFEST.json"} == listed, "every vendored file is in the manifest, and only those"


def test_assets_are_served_with_their_types(live_server: LiveServer) -> None:
    for url, kind in ((HTMX_URL, "javascript"), (CSS_URL, "text/css")):
        response = httpx.get(live_server.url + url)
        assert response.status_code == 200 and kind in response.headers["content-type"], url
    assert httpx.get(f"{live_server.url}/static/../config.py").status_code == 404


SAMPLE = """<!DOCTYPE html><html lang="en"><head><title>Style sample</title>
<link rel="stylesheet" href="{css}"><script src="{htmx}"></script></head><body>
<a class="skip-link" href="#main">Skip to the content</a>
<header><strong>FaceDocket</strong> <span>examiner · State Police</span></header>
<main id="main"><h1>Request 12</h1>
<p class="lead-label">Investigative lead — not a positive identification</p>
<p class="ok">Approved by the supervisor.</p><p class="bad">Refused: no court order.</p>
<p class="warn">Emergency: 3 h left before the purge.</p>
<form><label for="why">Rationale</label><p class="hint" id="why-hint">Say what you compared.</p>
<textarea id="why" aria-describedby="why-hint"></textarea>
<button type="submit">Save</button> <button type="button" class="secondary">Cancel</button>
<button type="button" class="danger">Deny</button> <button type="button" disabled>Conclude</button></form>
<table><caption>Candidates</caption><thead><tr><th scope="col">rank</th><th scope="col">score</th></tr></thead>
<tbody><tr><td>1</td><td>0.71</td></tr></tbody></table>
<div class="panel"><a href="#main">Case file</a></div></main><footer>FaceDocket 0.1.0</footer></body></html>"""


def test_stylesheet_is_high_contrast_and_shows_focus(page: Page, live_server: LiveServer) -> None:
    page.set_content(SAMPLE.format(css=live_server.url + CSS_URL, htmx=live_server.url + HTMX_URL))
    assert page.evaluate("() => typeof htmx !== 'undefined' && htmx.version.startsWith('2.')")
    assert page.evaluate("() => getComputedStyle(document.body).fontFamily").startswith("system-ui")
    assert_accessible(page)
    enhanced = Axe().run(page, options={"runOnly": ["color-contrast-enhanced"]}).response["violations"]
    assert enhanced == [], enhanced  # WCAG AAA: 7:1 for every text the sheet colours

    page.keyboard.press("Tab")  # the skip link comes first and shows itself
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").bounding_box()["x"] >= 0  # type: ignore[index]
    page.locator("button[type=submit]").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline == ["solid", "3px"]
