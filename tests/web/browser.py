"""Browser-test helpers: the app on a real uvicorn server in a thread, a guard that keeps the
browser off every host but 127.0.0.1, the axe-core check and screenshots.

The fixtures in conftest.py put these together; screen tests use ``page``, ``live_server``,
``assert_accessible`` and ``screenshot``::

    def test_home(page, live_server, screenshot):
        page.goto(live_server.url + "/")
        assert_accessible(page)
        screenshot(page, "home")
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INSTALL_HINT = "run `make test` (it installs Debian's chromium) or `apt-get install chromium`"
LOCAL_HOSTS = {"127.0.0.1"}
FAILING_IMPACTS = {"serious", "critical"}


@dataclass
class LiveServer:
    """A running server: ``url`` is ``http://127.0.0.1:<port>``; ``app`` is what it serves."""

    url: str
    app: Any
    server: uvicorn.Server


@contextmanager
def serve(app: Any) -> Iterator[LiveServer]:
    """Run ``app`` on uvicorn on a free 127.0.0.1 port in a daemon thread until the block ends.

    The socket is bound here (port 0), so there is no race for the port. The app's lifespan
    runs (startup and shutdown), as under ``facedocket serve``.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    try:
        for _ in range(200):  # 20 s
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.1)
        if not server.started:
            raise RuntimeError("the live server did not start (see the log above)")
        yield LiveServer(f"http://127.0.0.1:{port}", app, server)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@dataclass
class OfflineGuard:
    """Aborts every request to a host other than 127.0.0.1 and records it in ``blocked``,
    so a test can prove the page needs nothing from the internet."""

    blocked: list[str] = field(default_factory=list)

    def __call__(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")


_axe = Axe()


def assert_accessible(page: Page, allow: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; fail on any serious or critical violation.

    Args:
        page: the page, loaded.
        allow: rule id -> why it is accepted (a third-party widget's fault, say); those rules
            are reported in the returned list but do not fail the check.

    Returns:
        Every violation axe found (any impact), for a test that wants to say more.
    """
    allow = allow or {}
    page.wait_for_load_state("load")  # a click that navigates may still be loading the next page
    try:
        violations: list[dict[str, Any]] = _axe.run(page).response["violations"]
    except PlaywrightError as exc:  # the document went away under axe: a navigation had not started yet
        if "documentElement" not in str(exc):
            raise
        page.wait_for_load_state("load")
        violations = _axe.run(page).response["violations"]
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS and v["id"] not in allow]
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s), e.g. {v['nodes'][0]['target']}"
        for v in failing
    ]
    assert not failing, f"axe-core found serious violations on {page.url}:\n" + "\n".join(lines)
    return violations
