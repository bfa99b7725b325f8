"""The Massachusetts court-order flow through the browser, four people in four browser
contexts: the requester files with a document and a two-face probe (choosing the face on
the photo), the supervisor approves with the policy's checklist, the examiner searches and
reviews side by side and concludes, the requester closes, the auditor checks the record.
Then: a refused search showing each failed rule, keyboard-only review, and an emergency
request whose deadline passes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from facedocket.service import RequestDraft
from facedocket.vision.pipeline import FacePipeline

from .browser import assert_accessible
from .world import Browsing, World, photo, request_id_of, running_world, two_face_probe

Shot = Callable[[Page, str], Path]
COURT_ORDER = b"%PDF-1.4\n% Suffolk Superior Court, order 26-CR-0412 authorising a facial recognition search\n%%EOF\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_pipeline: FacePipeline) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("ma"), fast_pipeline, "massachusetts-2020") as running:
        yield running


def file_in_browser(page: Page, world: World, case: str, shot: Shot | None = None) -> tuple[int, str]:
    """The requester files the court-order request with the two-face probe, clicking the face
    on the right (Amelia Vega) on the photo."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="File a request").click()
    page.get_by_label("New case number").fill(case)
    page.get_by_label("Offence category").select_option("robbery")
    page.get_by_label("Case description").fill("armed robbery of a convenience store")
    page.get_by_label("Legal basis", exact=True).select_option("court-order")
    page.get_by_label("Document file").set_input_files(
        {"name": "court-order.pdf", "mimeType": "application/pdf", "buffer": COURT_ORDER}
    )
    page.get_by_label("Document type").fill("court order")
    page.get_by_label("Document reference").fill("26-CR-0412")
    page.get_by_label("Issued by").fill("Suffolk Superior Court")
    page.get_by_label("Document date").fill("2026-11-20")
    page.get_by_label("Justification").fill("CCTV still of the suspect at the till, store 12")
    page.get_by_label("booking").check()
    page.get_by_label("Probe photo").set_input_files(
        {"name": "cctv.jpg", "mimeType": "image/jpeg", "buffer": two_face_probe()}
    )
    faces = page.locator("rect[data-face]")
    expect(faces).to_have_count(2)
    right = max(range(2), key=lambda i: float(faces.nth(i).get_attribute("x") or 0))
    number = faces.nth(right).get_attribute("data-face")
    faces.nth(right).click()
    expect(page.locator(f"#face-{number}")).to_be_checked()
    expect(faces.nth(right)).to_have_class("face-box chosen")
    if shot:
        assert_accessible(page)
        shot(page, "requester-file-request")
    page.get_by_role("button", name="File and submit the request").click()
    expect(page.get_by_role("status")).to_contain_text("filed and submitted")
    return request_id_of(page), str(number)


def test_court_order_flow_with_four_people(world: World, people: Callable[[World], Browsing], screenshot: Shot) -> None:
    browsing = people(world)
    requester = browsing.as_("requester")
    assert_accessible(requester)
    screenshot(requester, "requester-start")
    request_id, face = file_in_browser(requester, world, "2026-0412", screenshot)
    expect(requester.locator("main")).to_contain_text(f"face {face} of 2")
    assert_accessible(requester)
    screenshot(requester, "requester-request-filed")

    supervisor = browsing.as_("supervisor")
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Approval inbox").click()
    assert_accessible(supervisor)
    screenshot(supervisor, "supervisor-inbox")
    supervisor.get_by_role("link", name=f"Request {request_id}").click()
    checklist = supervisor.locator("table.checklist")
    expect(checklist).to_contain_text("The legal basis's document is recorded")
    expect(checklist.locator("tr.verdict-failed")).to_have_count(0)
    expect(checklist.locator("tr.verdict-passed")).not_to_have_count(0)
    expect(checklist).to_contain_text("probe photo's quality reaches the policy's minimum")
    href = supervisor.get_by_role("link", name="Open the document").get_attribute("href")
    document = supervisor.request.get(f"{world.url}{href}")  # the file as filed, from the encrypted store
    assert document.ok and document.body() == COURT_ORDER and document.headers["content-type"] == "application/pdf"
    assert_accessible(supervisor)
    screenshot(supervisor, "supervisor-checklist")
    supervisor.get_by_label("Reason").fill("order on specific and articulable facts checked")
    supervisor.get_by_role("button", name="Approve").click()
    expect(supervisor.locator("main")).to_contain_text("approved by supervisor")

    examiner = browsing.as_("examiner")
    examiner.get_by_role("navigation", name="Main").get_by_role("link", name="Search and review").click()
    examiner.get_by_role("link", name=f"Request {request_id}").first.click()
    assert_accessible(examiner)
    screenshot(examiner, "examiner-request")
    examiner.get_by_role("button", name="Run the search").click()
    expect(examiner.locator(".lead-label")).to_contain_text("not a positive identification")
    candidates = examiner.locator("nav[aria-label=Candidates] a")
    expect(candidates).to_have_count(2)
    expect(examiner.locator("nav[aria-label=Candidates]")).to_contain_text("Amelia_Vega")  # face 2 was searched
    for image in examiner.locator(".compare img").all():
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("i => i.naturalWidth") > 0
    assert examiner.locator(".compare img").first.get_attribute("loading") == "lazy"
    expect(examiner.locator("table.facts")).to_contain_text("False candidates expected at this score")
    examiner.get_by_label("Show face boxes and landmarks").check()
    expect(examiner.locator(".compare svg.landmarks").first).to_be_visible()
    assert_accessible(examiner)
    screenshot(examiner, "examiner-review")
    for verdict in ("Possible match", "Possible match"):
        examiner.get_by_label(verdict).check()
        examiner.get_by_label("Rationale").fill("same face shape, ear and hairline on side-by-side comparison")
        examiner.get_by_role("button", name="Record the disposition").click()
    examiner.get_by_role("button", name="Conclude the review").click()
    expect(examiner.locator("main")).to_contain_text("lead")

    requester.goto(f"{world.url}/requests/{request_id}")
    expect(requester.locator("#results-title")).to_be_visible()
    expect(requester.locator("main")).to_contain_text("Amelia_Vega")
    requester.get_by_role("button", name="Close the request").click()
    expect(requester.locator("main")).to_contain_text("closed")
    assert_accessible(requester)
    screenshot(requester, "requester-released-and-closed")
    with requester.expect_popup() as popup:
        requester.get_by_role("link", name="Case file (HTML)").click()
    case_file = popup.value
    expect(case_file.locator("body")).to_contain_text("requester")
    expect(case_file.locator("body")).to_contain_text("supervisor")
    assert "(user id)" not in case_file.content()
    screenshot(case_file, "case-file")

    auditor = browsing.as_("auditor")
    auditor.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    auditor.get_by_label("Action").select_option("request.closed")
    auditor.get_by_role("button", name="Filter").click()
    expect(auditor.locator("table.events tbody tr")).to_have_count(1)
    auditor.get_by_role("button", name="Verify the whole chain now").click()
    expect(auditor.locator("#verify-result")).to_contain_text("The chain verifies")
    assert_accessible(auditor)
    screenshot(auditor, "auditor-audit-log")


def _approved(world: World, number: str, legal_basis: str = "court-order") -> int:
    """A request filed and approved through the service (the flow itself is tested above)."""
    requester, supervisor = world.actor("requester"), world.actor("supervisor")
    case = world.service.requests.create_case(requester, number, "robbery", "bank robbery")
    draft = RequestDraft(case.id, legal_basis, "suspect filmed by the bank's CCTV", "court order", "26-CR-77",
                         "Suffolk Superior Court", "2026-11-20", galleries=[world.gallery_id])  # fmt: skip
    request = world.service.requests.file_request(requester, draft, photo("Amelia_Vega", 7).read_bytes(), True)
    if legal_basis != "emergency":
        world.service.requests.decide_request(supervisor, request.id, True, "order checked")
    return request.id


def test_a_refused_search_shows_each_failed_rule(
    world: World, people: Callable[[World], Browsing], screenshot: Shot
) -> None:
    request_id = _approved(world, "2026-0500")
    examiner = people(world).as_("examiner")
    examiner.goto(f"{world.url}/requests/{request_id}")
    examiner.get_by_label("Candidates at most").fill("50")
    examiner.get_by_label("Threshold").fill("0.05")
    examiner.get_by_role("button", name="Run the search").click()
    failed = examiner.locator("ul.failed-rules li")
    expect(failed).to_have_count(2)
    expect(failed.nth(0)).to_contain_text("The threshold is no looser than the policy's false-match rate allows")
    expect(failed.nth(0)).to_contain_text("search.threshold_floor_fmr")
    expect(failed.nth(1)).to_contain_text("no more candidates than the policy allows")
    expect(failed.nth(1)).to_contain_text("50 candidates asked for; at most 10")
    assert_accessible(examiner)
    screenshot(examiner, "examiner-refused-search")
    assert world.service.searches.request_searches(world.actor("examiner"), request_id) == []


def test_review_by_keyboard_alone(world: World, people: Callable[[World], Browsing]) -> None:
    request_id = _approved(world, "2026-0600")
    world.service.searches.search(world.actor("examiner"), request_id)
    examiner = people(world).as_("examiner")
    examiner.goto(f"{world.url}/requests/{request_id}/review")
    current = examiner.locator("nav[aria-label=Candidates] a[aria-current=true]")
    first = current.inner_text()
    with examiner.expect_navigation():
        examiner.keyboard.press("n")
    expect(current).not_to_have_text(first)
    with examiner.expect_navigation():
        examiner.keyboard.press("ArrowLeft")
    expect(current).to_have_text(first)
    examiner.keyboard.press("l")
    expect(examiner.locator(".compare svg.landmarks").first).to_be_visible()
    for _ in range(2):  # each candidate: a disposition key, then Tab to the rationale and Enter on the button
        examiner.keyboard.press("2")
        expect(examiner.get_by_label("Not a match")).to_be_checked()
        examiner.keyboard.press("Tab")
        examiner.keyboard.type("different nose and chin on side-by-side comparison")
        examiner.keyboard.press("Tab")
        assert examiner.evaluate("document.activeElement.textContent") == "Record the disposition"
        with examiner.expect_navigation():
            examiner.keyboard.press("Enter")
    button = examiner.get_by_role("button", name="Conclude the review")
    for _ in range(40):  # Tab until the conclusion is reached: every control is in the tab order
        examiner.keyboard.press("Tab")
        if button.evaluate("b => b === document.activeElement"):
            break
    examiner.keyboard.press("Enter")
    expect(examiner.locator("main")).to_contain_text("no-lead")


def test_an_emergency_request_whose_deadline_passes_is_purged(
    world: World, people: Callable[[World], Browsing], screenshot: Shot
) -> None:
    request_id = _approved(world, "2026-0700", legal_basis="emergency")
    browsing = people(world)
    examiner = browsing.as_("examiner")
    examiner.goto(f"{world.url}/requests/{request_id}")
    expect(examiner.locator("main")).to_contain_text("the deadline starts at the search")
    examiner.get_by_role("button", name="Run the search").click()
    expect(examiner.locator("nav[aria-label=Candidates] a")).not_to_have_count(0)
    supervisor = browsing.as_("supervisor")
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Approval inbox").click()
    row = supervisor.locator("tr", has_text=f"Request {request_id}")
    expect(row).to_contain_text("left before the purge")
    expect(row).to_contain_text("47 h")
    screenshot(supervisor, "supervisor-inbox-emergency")

    world.clock.advance(hours=49)
    supervisor.goto(f"{world.url}/requests/{request_id}")
    expect(supervisor.get_by_role("button", name="Sign in")).to_be_visible()  # the session timed out meanwhile
    supervisor.get_by_label("Username").fill("supervisor")
    supervisor.get_by_label("Password").fill(world.passwords["supervisor"])
    supervisor.get_by_role("button", name="Sign in").click()
    main = supervisor.locator("main")
    expect(main).to_contain_text("expired")
    expect(main).to_contain_text("purged")
    expect(main).to_contain_text("The probe was purged")
    expect(supervisor.get_by_role("button", name="Approve")).to_have_count(0)
    assert_accessible(supervisor)
    screenshot(supervisor, "supervisor-emergency-expired")
    actions = [e.action for e in world.service.audit.list_audit(world.actor("auditor"), object_id=str(request_id))]
    assert "request.expired" in actions and "request.purged" in actions


def test_a_deployment_refused_at_its_start_shows_each_failed_rule(
    world: World, people: Callable[[World], Browsing], screenshot: Shot
) -> None:
    """Massachusetts forbids live video and watchlist alerts: a deployment can be described,
    but the gate refuses its start and the page lists every rule that failed, in plain words."""
    browsing = people(world)
    supervisor = browsing.as_("supervisor")
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Watchlists").click()
    supervisor.get_by_label("Name").fill("front door list")
    supervisor.get_by_label("Source").fill("incident reports")
    supervisor.get_by_role("button", name="Create the watchlist").click()
    expect(supervisor.locator("h1")).to_have_text("Watchlist front door list")
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Deployments").click()
    supervisor.get_by_label("Name", exact=True).fill("front door camera")
    supervisor.get_by_label("Video source").fill("rtsp://camera.local/front-door")
    supervisor.get_by_label("Site", exact=True).fill("Headquarters")
    supervisor.get_by_label("Place the camera looks at").fill("front door, outside")
    supervisor.get_by_label("front door list").check()
    supervisor.get_by_role("button", name="Describe the deployment").click()
    expect(supervisor.get_by_role("status")).to_contain_text("The deployment is described")
    deployment_id = int(supervisor.url.split("?")[0].rsplit("/", 1)[1])

    examiner = browsing.as_("examiner")
    examiner.goto(f"{world.url}/deployments/{deployment_id}")
    examiner.get_by_role("button", name="Start").click()
    expect(examiner.get_by_role("alert")).to_contain_text("the policy refuses this")
    gate = world.service.deployments.get_deployment(world.actor("examiner"), deployment_id)
    expected = [v for v in gate.checklist if v.state == "failed"]
    assert {v.why for v in expected} >= {"watchlist alerts are forbidden by this policy: no watchlist is kept or "
                                         "matched", "live video is forbidden by this policy"}  # fmt: skip
    failed = examiner.locator("ul.failed-rules li")
    expect(failed).to_have_count(len(expected))
    for item, verdict in zip(failed.all(), expected, strict=True):
        expect(item).to_contain_text(verdict.words)
        expect(item).to_contain_text(verdict.why)
    expect(examiner.locator("#worker-state")).to_have_text("stopped")
    assert_accessible(examiner)
    screenshot(examiner, "examiner-deployment-refused")
    refused = world.service.audit.list_audit(world.actor("auditor"), action="deployment.refused")
    assert refused and refused[0].details["stage"] == "start"
