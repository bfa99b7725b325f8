"""The auditor's and the admin's screens in a real browser, each checked by axe-core and
photographed: the evaluations on record with their DET plots, transparency reports and their
downloads, galleries enrolled from a zip and from a folder with live progress and the
subjects' photos, the policy, who am I, and each role's start page."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from facedocket.service.evaluation import EvaluationSpec
from facedocket.vision.pipeline import FacePipeline

from .browser import assert_accessible
from .world import DEV, Browsing, World, running_world

Shot = Callable[[Page, str], Path]
VIDEO = ("Alert queue", "Watchlists", "Deployments")  # the video side's screens (empty here: Massachusetts)
EVALUATED = ["Aaron_Peirsol", "Abdullah", "Abel_Pacheco", "Ahmed_Chalabi", "Ai_Sugiyama", "Adel_Al-Jubeir"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_pipeline: FacePipeline) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("screens"), fast_pipeline, "massachusetts-2020") as running:
        yield running


def _copies(root: Path, people: dict[str, list[int]]) -> Path:
    for person, numbers in people.items():
        (root / person).mkdir(parents=True, exist_ok=True)
        for n in numbers:
            shutil.copyfile(DEV / person / f"{n}.jpg", root / person / f"{n}.jpg")
    return root


def test_auditor_screens(world: World, people: Callable[[World], Browsing], screenshot: Shot,
                         tmp_path: Path, fast_pipeline: FacePipeline) -> None:  # fmt: skip
    data = _copies(tmp_path / "eval", {p: [1, 2, 3] for p in EVALUATED})
    auditor_actor = world.actor("auditor")
    run = world.service.evaluation.evaluate(auditor_actor, EvaluationSpec(data, bootstrap=10), pipeline=fast_pipeline)
    auditor = people(world).as_("auditor")
    assert_accessible(auditor)
    screenshot(auditor, "auditor-start")
    nav = auditor.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Evaluations").click()
    auditor.get_by_role("link", name=f"Evaluation {run.run_id}").click()
    plot = auditor.get_by_role("img", name="DET curve")
    plot.scroll_into_view_if_needed()
    expect(plot).to_have_js_property("complete", True)
    assert plot.evaluate("i => i.naturalWidth") == 750
    assert_accessible(auditor)
    screenshot(auditor, "auditor-evaluation")

    nav.get_by_role("link", name="Transparency reports").click()
    auditor.get_by_role("button", name="Make the report").click()
    frame = auditor.frame_locator("iframe.report")
    expect(frame.locator("h1")).to_be_visible()
    for fmt, media in (("csv", "text/csv"), ("json", "application/json"), ("pdf", "application/pdf")):
        href = auditor.get_by_role("link", name=fmt.upper(), exact=True).get_attribute("href")
        answer = auditor.request.get(f"{world.url}{href}")
        assert answer.ok and answer.headers["content-type"].startswith(media), (fmt, answer.headers)
    assert_accessible(auditor)
    screenshot(auditor, "auditor-transparency-report")
    made = world.service.audit.list_audit(auditor_actor, action="report.generated")
    assert len(made) >= 4  # the page's report and each download are recorded


def test_admin_screens(world: World, people: Callable[[World], Browsing], screenshot: Shot, tmp_path: Path) -> None:
    admin = people(world).as_("admin")
    assert_accessible(admin)
    screenshot(admin, "admin-start")
    nav = admin.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Galleries").click()
    admin.get_by_label("Name").fill("watch")
    admin.get_by_label("Source").fill("county warrants 2024")
    admin.get_by_label("Purpose").fill("criminal investigations")
    admin.get_by_role("button", name="Create the gallery").click()
    expect(admin.locator("#photos-note")).to_contain_text("keeps enrolment photos")

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for person in ("Aaron_Peirsol", "Abel_Pacheco"):
            for n in (1, 2):
                zipped.write(DEV / person / f"{n}.jpg", f"photos/{person}/{n}.jpg")
    admin.get_by_label("A zip archive").set_input_files(
        {"name": "photos.zip", "mimeType": "application/zip", "buffer": archive.getvalue()}
    )
    admin.get_by_role("button", name="Enrol").click()
    expect(admin.locator("#job-done")).to_contain_text("enrolled 4", timeout=60_000)
    admin.get_by_role("link", name="Show the subjects").click()
    folder = _copies(tmp_path / "folder", {"Ahmed_Chalabi": [1, 2]})
    admin.get_by_label("Or a folder").set_input_files(folder)
    admin.get_by_role("button", name="Enrol").click()
    expect(admin.locator("#job-done")).to_contain_text("enrolled 2", timeout=60_000)
    admin.get_by_role("link", name="Show the subjects").click()
    thumbs = admin.locator("td.thumbs img")
    expect(thumbs).to_have_count(6)  # 3 subjects, a face crop of each of their 2 photos
    for thumb in thumbs.all():
        expect(thumb).to_have_js_property("complete", True)
        assert thumb.evaluate("i => i.naturalWidth") == 112  # SFace's aligned chip
    assert_accessible(admin)
    screenshot(admin, "admin-gallery")

    nav.get_by_role("link", name="Policy").click()
    expect(admin.locator(".sentences")).to_contain_text("Enrolment photos")
    assert_accessible(admin)
    screenshot(admin, "admin-policy")
    admin.get_by_role("link", name="Who am I").click()
    expect(admin.locator("main")).to_contain_text("activate a policy profile")
    assert_accessible(admin)
    screenshot(admin, "who-am-i")


def test_each_role_sees_only_its_menu_and_every_screen_passes_axe(
    world: World, people: Callable[[World], Browsing], screenshot: Shot
) -> None:
    """The menu is the permission table's; every screen a menu leads to passes axe-core (and is
    photographed once); what a role may not do is refused, not merely hidden."""
    browsing = people(world)
    expected = {
        "requester": {"Requests", "File a request", "Policy"},
        "supervisor": {
            "Requests",
            "File a request",
            "Approval inbox",
            "Search and review",
            *VIDEO,
            "Evaluations",
            "Galleries",
            "Users",
            "Policy",
        },
        "examiner": {"Requests", "File a request", "Search and review", *VIDEO, "Policy"},
        "auditor": {"Requests", *VIDEO, "Audit log", "Evaluations", "Transparency reports", "Users", "Policy"},
        "admin": {
            "Requests",
            *VIDEO,
            "Audit log",
            "Evaluations",
            "Transparency reports",
            "Users",
            "Galleries",
            "Policy",
        },
    }
    seen: set[str] = set()
    for role, items in expected.items():
        page = browsing.as_(role)
        menu = page.get_by_role("navigation", name="Main").get_by_role("link")
        assert set(menu.all_inner_texts()) - {"Home", "Who am I"} == items, role
        hrefs = [menu.nth(i).get_attribute("href") or "/" for i in range(menu.count())]
        for href in hrefs:
            name = f"{role}-{href.strip('/').replace('/', '-') or 'start'}"
            if (href if href != "/" else name) in seen:  # each role's start page differs; the rest once
                continue
            seen.add(href if href != "/" else name)
            answer = page.goto(world.url + href)
            assert answer is not None and answer.ok, href
            assert_accessible(page)
            screenshot(page, name)
    requester = browsing.as_("requester")
    for forbidden in ("/audit", "/admin/users", "/evaluations", "/reports?period=2026", "/alerts", "/watchlists",
                      "/deployments"):  # fmt: skip
        answer = requester.goto(world.url + forbidden)
        assert answer is not None and answer.status == 403, forbidden
        expect(requester.get_by_role("alert")).to_contain_text("requester is requester")
    assert_accessible(requester)
    screenshot(requester, "refused-page")
