"""Browser fixtures: Debian's Chromium driven by Playwright against the app on a real server.

- ``browser``: one headless Chromium (``/usr/bin/chromium``) for the test session; the tests
  fail, never skip, when it is missing (``make test`` installs it).
- ``live_server``: the app over a real service on a temporary SQLite home, on uvicorn at a
  free 127.0.0.1 port (a fresh one per test).
- ``page``: a fresh browser context (no cookies shared between tests) whose requests to any
  host but 127.0.0.1 are aborted; ``offline.blocked`` lists them, and a test that leaves
  one there errors at teardown: nothing may come from the internet.
- ``screenshot(page, name)``: saves a full-page PNG (256 colours) in
  ``$FACEDOCKET_SCREENSHOTS`` (default a folder under pytest's temporary directory) and
  returns its path (``make screenshots`` writes the ones in docs/screenshots).
- ``assert_accessible(page)`` (browser.py): the axe-core check.
- ``fast_pipeline``: one face pipeline without jitter for the session; ``people(world)``:
  browser contexts signed in as the people of a :class:`~tests.web.world.World`, closed (and
  checked for requests outside 127.0.0.1) at the end of the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Browser, Page, sync_playwright

from facedocket.api import create_app
from facedocket.config import Settings
from facedocket.service import open_service
from facedocket.vision.pipeline import FacePipeline

from .browser import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, LiveServer, OfflineGuard, serve
from .world import Browsing, World


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def live_server(tmp_path: Path, pipeline: FacePipeline) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path / "home")
    service = open_service(settings, pipeline=pipeline)
    try:
        with serve(create_app(settings, service=service)) as server:
            yield server
    finally:
        service.close()


@pytest.fixture
def offline() -> OfflineGuard:
    return OfflineGuard()


@pytest.fixture
def page(browser: Browser, offline: OfflineGuard) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.route("**/*", offline)
    try:
        yield context.new_page()
    finally:
        context.close()
    assert not offline.blocked, f"the page asked for something outside 127.0.0.1: {offline.blocked}"


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], Path]:
    folder = Path(os.environ.get("FACEDOCKET_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        with PILImage.open(path) as shot:  # 256 colours: a third of the size, still readable
            small = shot.convert("RGB").quantize(colors=256, method=PILImage.Quantize.MEDIANCUT)
        small.save(path, optimize=True)
        return path

    return save


@pytest.fixture(scope="session")
def fast_pipeline(tmp_path_factory: pytest.TempPathFactory) -> FacePipeline:
    return FacePipeline.from_settings(Settings(home=tmp_path_factory.mktemp("pipeline"), jitter=False))


@pytest.fixture
def people(browser: Browser) -> Iterator[Callable[[World], Browsing]]:
    opened: list[Browsing] = []

    def open_for(world: World) -> Browsing:
        browsing = Browsing(browser, world)
        opened.append(browsing)
        return browsing

    yield open_for
    for browsing in opened:
        browsing.close()
