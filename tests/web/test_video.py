"""The video side in a real browser, under ``retail-watchlist``: an examiner puts a person on a
watchlist with a photo and a second person (a supervisor) approves the entry; an entry whose
expiry passed and a removed one are shown as gone. A supervisor describes a deployment over a
composed video (a threshold below the floor is refused rule by rule), another supervisor
authorises and starts it; the alerts arrive in the examiner's open queue without a reload,
the camera's face beside the entry's photo, a repeat merged into its alert; one is confirmed
with the keyboard alone and one dismissed, each with a reason; the deployment's report counts
them. Every new screen is checked by axe-core and photographed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from video import scenes

from facedocket.service import EntryDraft
from facedocket.vision.pipeline import FacePipeline

from .browser import assert_accessible
from .world import Browsing, World, running_world

Shot = Callable[[Page, str], Path]
CAST_SEED = 14  # the video tests' cast: two people on the list, one not
ALERT_WAIT_MS = 120_000


@pytest.fixture(scope="module")
def cast(dev_dir: Path) -> scenes.Cast:
    return scenes.pick_cast(dev_dir, 3, listed_share=2 / 3, seed=CAST_SEED)


@pytest.fixture(scope="module")
def walk_video(cast: scenes.Cast, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """960x540, 25 fps, 9 s: the first listed person crosses (0.4-5.4 s) and comes back
    (6.2-9 s: a repeat, merged into the first alert); an unlisted person crosses, blurred; the
    second listed person walks in, smaller and blurred (4-9 s)."""
    first, second = sorted(cast.listed)
    other = next(p for p in cast.video_photo if p not in cast.listed)
    seen = cast.video_photo
    walks = (
        scenes.Appearance(first, seen[first], 0.4, 5.4, (-80, 150), (1040, 170), 180),
        scenes.Appearance(other, seen[other], 1.0, 6.5, (1040, 390), (-80, 380), 170, blur=1.5),
        scenes.Appearance(second, seen[second], 4.0, 9.01, (-70, 300), (700, 280), 140, blur=1.0),
        scenes.Appearance(first, seen[first], 6.2, 9.01, (-80, 110), (620, 120), 170),
    )
    scene = scenes.Scene(960, 540, 25, 9.0, walks, seed=3, name="walk-twice")
    return scenes.render(scene, tmp_path_factory.mktemp("video") / "walk.mp4")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline) -> Iterator[World]:
    """A shop: one person per role and a second supervisor (``manager``), no gallery; the
    session's pipeline (flip and jitter, as the model card's thresholds were calibrated)."""
    with running_world(tmp_path_factory.mktemp("shop"), pipeline, "retail-watchlist",
                       extra={"manager": "supervisor"}, enrol=False) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def watchlist(world: World) -> int:
    return world.service.watchlists.create_watchlist(world.actor("supervisor"), "main st", "incident reports").id


def _menu(page: Page, item: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=item, exact=True).click()


def _loaded(images: Locator) -> None:
    """Every image shown, decoded (each one fetched through the permission table)."""
    for image in images.all():
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("i => i.naturalWidth") > 0, image.get_attribute("src")


def _on_the_list(world: World, watchlist: int, person: str, photo: Path) -> None:
    """``person`` on the list (added by the examiner, approved by the supervisor) unless already."""
    service = world.service
    entries = service.watchlists.list_entries(world.actor("examiner"), watchlist)
    entry = next((e for e in entries if e.reference == person and e.standing in ("pending", "active")), None)
    if entry is None:
        draft = EntryDraft(person, "repeated-theft", "INC-2026-120", "Store manager A. Jones")
        entry = service.watchlists.add_entry(world.actor("examiner"), watchlist, draft, photo.read_bytes())
    if entry.standing == "pending":
        service.watchlists.approve_entry(world.actor("supervisor"), entry.id)


def test_an_entry_is_added_approved_and_entries_that_ended_are_shown_as_gone(
    world: World, watchlist: int, people: Callable[[World], Browsing], screenshot: Shot, cast: scenes.Cast,
    dev_dir: Path,
) -> None:  # fmt: skip
    first = sorted(cast.listed)[0]
    browsing = people(world)
    examiner = browsing.as_("examiner")
    _menu(examiner, "Watchlists")
    examiner.get_by_role("link", name="main st").click()
    examiner.get_by_label("Person's reference").fill(first)
    examiner.get_by_label("Photo of the person").set_input_files(cast.enrol_photo[first])
    examiner.get_by_label("Reason code").select_option("theft-with-violence")
    examiner.get_by_label("Incident reference").fill("INC-2026-113")
    examiner.get_by_label("Authorised by").fill("Store manager A. Jones")
    examiner.get_by_label("Evidence notes").fill("CCTV of the incident at till 3, 14 November")
    examiner.get_by_role("button", name="Add to the watchlist").click()
    expect(examiner.get_by_role("status")).to_contain_text("waits for a second person's approval")
    row = examiner.locator("#on-the-list tr", has_text=first)
    expect(row).to_contain_text("waiting for approval")
    expect(row).to_contain_text("INC-2026-113")
    expect(row.get_by_role("button")).to_have_count(0)  # examiners neither approve nor remove

    # two more entries through the service: one expires in two minutes, one to be removed
    service, examiner_actor = world.service, world.actor("examiner")
    expiring, unwanted = [p for p in scenes.people_with_photos(dev_dir, 1) if p not in cast.video_photo][:2]
    soon = service.clock() + timedelta(minutes=2)
    for person, expires in ((expiring, soon), (unwanted, None)):
        draft = EntryDraft(person, "ban-order", "BAN-2026-7", "Area manager B. Osei", "ban letter", expires=expires)
        entry = service.watchlists.add_entry(
            examiner_actor, watchlist, draft, (dev_dir / person / "1.jpg").read_bytes()
        )
        if expires is not None:
            service.watchlists.approve_entry(world.actor("supervisor"), entry.id)

    supervisor = browsing.as_("supervisor")
    supervisor.goto(f"{world.url}/watchlists/{watchlist}")
    supervisor.locator("#on-the-list tr", has_text=first).get_by_role("button", name="Approve").click()
    expect(supervisor.get_by_role("status")).to_contain_text("approved: it is on the list")
    row = supervisor.locator("#on-the-list tr", has_text=first)
    expect(row).to_contain_text("approved by supervisor")
    _loaded(row.locator("img"))

    world.clock.advance(minutes=3)  # the first ban's expiry passes: it leaves the list at once
    removing = supervisor.locator("#on-the-list tr", has_text=unwanted)
    removing.get_by_text("Remove…").click()
    removing.get_by_label(f"Why remove {unwanted}").fill("added to the wrong store's list")
    removing.get_by_role("button", name="Remove from the list").click()
    expect(supervisor.get_by_role("status")).to_contain_text("removed")
    gone = supervisor.locator("#gone tbody tr")
    expect(gone).to_have_count(2)
    expect(gone.filter(has_text="expired")).to_contain_text("its expiry passed")
    expect(gone.filter(has_text="removed")).to_contain_text("added to the wrong store's list")
    expect(supervisor.locator("#on-the-list")).not_to_contain_text(expiring)
    assert_accessible(supervisor)
    screenshot(supervisor, "supervisor-watchlist")


def test_a_deployment_raises_alerts_live_that_a_person_confirms_or_dismisses(
    world: World, watchlist: int, people: Callable[[World], Browsing], screenshot: Shot, cast: scenes.Cast,
    walk_video: Path,
) -> None:  # fmt: skip
    for person in sorted(cast.listed):
        _on_the_list(world, watchlist, person, cast.enrol_photo[person])
    first, second = sorted(cast.listed)
    browsing = people(world)
    supervisor = browsing.as_("supervisor")
    _menu(supervisor, "Deployments")
    expect(supervisor.locator("#floor")).to_have_text("0.945818")
    supervisor.get_by_label("Name", exact=True).fill("front door")
    supervisor.get_by_label("Video source").fill(str(walk_video))
    supervisor.get_by_label("Site", exact=True).fill("Main St store")
    supervisor.get_by_label("Place the camera looks at").fill("entrance, inside the doors")
    supervisor.get_by_label("main st").check()
    supervisor.get_by_label("Threshold").fill("0.93")
    supervisor.get_by_label("DPIA reference").fill("DPIA-2026-04")
    supervisor.get_by_label("Signs at the site").check()
    supervisor.get_by_role("button", name="Describe the deployment").click()
    failed = supervisor.locator("ul.failed-rules li")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("The threshold is no looser than the policy's watchlist false-match rate allows")
    expect(failed).to_contain_text("threshold 0.930000 is below the watchlist floor 0.945818")
    assert_accessible(supervisor)
    screenshot(supervisor, "supervisor-threshold-below-floor")
    supervisor.get_by_label("Threshold").fill("")  # the floor
    supervisor.get_by_role("button", name="Describe the deployment").click()
    expect(supervisor.get_by_role("status")).to_contain_text("The deployment is described")
    deployment_url = supervisor.url.split("?")[0]
    checklist = supervisor.locator("table.checklist")
    expect(checklist.locator("tr.verdict-failed")).to_have_count(1)
    expect(checklist.locator("tr.verdict-failed")).to_contain_text("no supervisor has authorised this deployment")
    expect(supervisor.locator("main")).to_contain_text("another supervisor authorises it")

    manager = browsing.as_("manager")
    manager.goto(deployment_url)
    manager.get_by_label("Reference of your decision").fill("AUTH-2026-11")
    manager.get_by_role("button", name="Authorise the deployment").click()
    expect(manager.get_by_role("status")).to_contain_text("You authorised the deployment")
    expect(manager.locator("table.checklist tr.verdict-failed")).to_have_count(0)

    examiner = browsing.as_("examiner")
    _menu(examiner, "Alert queue")
    expect(examiner.locator("#queue-empty")).to_have_text("No alert waits for a decision.")
    examiner.evaluate("window.stillTheSamePage = true")
    manager.get_by_role("button", name="Start").click()
    expect(manager.get_by_role("status")).to_contain_text("The gate let the deployment start")

    cards = examiner.locator("article[data-alert]")
    expect(cards).to_have_count(2, timeout=ALERT_WAIT_MS)  # three people crossed, one twice: two alerts
    assert examiner.evaluate("window.stillTheSamePage") is True, "the alerts came without a reload"
    expect(examiner.locator("#queue-empty")).to_be_hidden()
    expect(manager.locator("#worker-state")).to_have_text("stopped", timeout=ALERT_WAIT_MS)  # the file ended
    one, two = cards.filter(has_text=first), cards.filter(has_text=second)
    expect(one.locator(".repeats")).to_contain_text("Seen again 1 time", timeout=30_000)  # merged, live
    expect(two.locator(".repeats")).to_have_text("")
    for card in (one, two):
        expect(card.locator(".lead-label")).to_contain_text("A person confirms it before anyone acts")
        expect(card.locator("table.facts")).to_contain_text("0.945818")
        expect(card.locator("table.facts")).to_contain_text("Expected false alerts per hour")
        expect(card.locator("img")).to_have_count(3)  # the camera's face, the entry's photo and face crop
        _loaded(card.locator("img"))
    assert_accessible(examiner)
    screenshot(examiner, "examiner-alert-queue")

    # confirm the first with the keyboard alone: n to its card, Tab to the reason, Tab to Confirm
    examiner.locator("h1").click()
    examiner.keyboard.press("n")
    assert examiner.evaluate("document.activeElement.dataset.alert") == one.get_attribute("data-alert")
    examiner.keyboard.press("Tab")
    assert examiner.evaluate("document.activeElement.name") == "reason"
    examiner.keyboard.type("same face as the entry's photo: hairline, nose and ears; staff spoke to him")
    examiner.keyboard.press("Tab")
    assert examiner.evaluate("document.activeElement.textContent").startswith("Confirm alert")
    examiner.keyboard.press("Enter")
    expect(one.locator(".decision")).to_contain_text("Confirmed by examiner")
    two.get_by_label("Your reason").fill("a different person: another chin and brow on comparison")
    two.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(two.locator(".decision")).to_contain_text("Dismissed as a false alert by examiner")
    assert examiner.evaluate("window.stillTheSamePage") is True
    assert_accessible(examiner)
    screenshot(examiner, "examiner-alerts-decided")
    decided = {a.reference: a for a in world.service.alerts.list_alerts(world.actor("auditor"))}
    assert decided[first].status == "confirmed" and decided[first].incident_id is not None
    assert decided[second].status == "dismissed" and decided[second].reason.startswith("a different person")

    manager.reload()
    assert_accessible(manager)
    screenshot(manager, "supervisor-deployment")
    manager.get_by_role("link", name=re.compile("The deployment's report")).click()
    fields = manager.locator("#report-fields")
    for name, value in (("alerts", "2"), ("alerts confirmed", "1"), ("alerts dismissed", "1"), ("faces seen", "4")):
        expect(fields.locator("tr", has=manager.get_by_role("rowheader", name=name, exact=True))).to_contain_text(value)
    assert_accessible(manager)
    screenshot(manager, "supervisor-deployment-report")
