"""Two-person review under the EU AI Act profile, two examiners in two browser contexts: the
second examiner sees nothing of the first decision anywhere they can look (the comparison
view, the request, the case file, the audit log) until both decisions are in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from facedocket.service import RequestDraft
from facedocket.vision.pipeline import FacePipeline

from .browser import assert_accessible
from .world import Browsing, World, photo, running_world

Shot = Callable[[Page, str], Path]
FIRST = "first-examiner rationale: matching scar above the left eyebrow"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_pipeline: FacePipeline) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("eu"), fast_pipeline, "eu-ai-act-post-rbi",
                       extra={"examiner2": "examiner"}) as running:  # fmt: skip
        yield running


def _searched(world: World) -> int:
    requester, supervisor = world.actor("requester"), world.actor("supervisor")
    case = world.service.requests.create_case(requester, "EU-2026-17", "robbery", "armed robbery, Rotterdam")
    draft = RequestDraft(case.id, "court-order", "CCTV still of the robber", "court order", "ROT-26-117",
                         "Rechtbank Rotterdam", "2026-11-20", galleries=[world.gallery_id])  # fmt: skip
    request = world.service.requests.file_request(requester, draft, photo("Amelia_Vega", 7).read_bytes(), True)
    world.service.requests.decide_request(supervisor, request.id, True, "authorised by the investigating judge")
    world.service.searches.search(world.actor("examiner"), request.id)
    return request.id


def _blind(page: Page, world: World, request_id: int) -> None:
    """Nothing of the first examiner's decision on any page the second one can reach."""
    for path in (f"/requests/{request_id}/review", f"/requests/{request_id}", f"/requests/{request_id}/case-file"):
        page.goto(world.url + path)
        assert FIRST not in page.content(), path
        states = page.locator(".state").all_inner_texts()
        assert not {"possible-match", "awaiting-second", "disagreement"} & set(states), (path, states)
        assert "Reviews of this candidate" not in page.inner_text("body"), path
    assert page.goto(f"{world.url}/audit").status == 403  # the audit log is the auditors'


def test_the_second_examiner_sees_nothing_of_the_first_decision(
    world: World, people: Callable[[World], Browsing], screenshot: Shot
) -> None:
    request_id = _searched(world)
    browsing = people(world)
    first, second = browsing.as_("examiner"), browsing.as_("examiner2")

    first.goto(f"{world.url}/requests/{request_id}/review")
    expect(first.locator(".warn")).to_contain_text("Two-person review")
    first.get_by_label("Possible match").check()
    first.get_by_label("Rationale").fill(FIRST)
    first.get_by_role("button", name="Record the disposition").click()
    first.goto(f"{world.url}/requests/{request_id}/review?c={_candidate(first, 0)}")
    expect(first.locator("main")).to_contain_text("waiting for the second examiner")

    _blind(second, world, request_id)
    second.goto(f"{world.url}/requests/{request_id}/review")
    expect(second.locator("nav[aria-label=Candidates] a").first).to_contain_text("pending")
    expect(second.locator("#disposition-form")).to_be_visible()  # decides as if nobody had
    assert_accessible(second)
    screenshot(second, "examiner-two-person-blind")

    second.get_by_label("Not a match").check()
    second.get_by_label("Rationale").fill("second examiner: the chin and the nose differ")
    second.get_by_role("button", name="Record the disposition").click()
    second.goto(f"{world.url}/requests/{request_id}/review?c={_candidate(second, 0)}")
    reviews = second.locator("table", has_text="Reviews of this candidate")
    expect(reviews).to_contain_text(FIRST)  # both are in: the decisions are unsealed
    expect(second.locator("table.facts")).to_contain_text("disagreement")

    supervisor = browsing.as_("supervisor")
    supervisor.goto(f"{world.url}/requests/{request_id}/review?c={_candidate(second, 0)}")
    expect(supervisor.locator("#disposition-form legend")).to_contain_text("resolving the reviewers' disagreement")
    assert_accessible(supervisor)
    screenshot(supervisor, "supervisor-resolves-disagreement")


def _candidate(page: Page, index: int) -> str:
    link = page.locator("nav[aria-label=Candidates] a").nth(index)
    value = link.get_attribute("data-candidate")
    assert value
    return value
