"""Sign-in for people: the first password an admin sets works once and forces the person to
choose their own; failed attempts back off; sessions time out; every form needs its CSRF
token; the session cookie is HttpOnly and SameSite=Strict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from facedocket.vision.pipeline import FacePipeline

from .browser import assert_accessible
from .world import Browsing, World, running_world, sign_in

Shot = Callable[[Page, str], Path]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_pipeline: FacePipeline) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("signin"), fast_pipeline, "massachusetts-2020") as running:
        yield running


def _try(page: Page, world: World, username: str, password: str) -> None:
    page.goto(f"{world.url}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _failures(world: World, username: str) -> list[str]:
    events = world.service.audit.list_audit(world.actor("auditor"), action="auth.sign_in_failed", limit=1000)
    return [e.details["why"] for e in events if e.details.get("username") == username]


def test_failed_sign_ins_back_off(world: World, people: Callable[[World], Browsing], screenshot: Shot) -> None:
    page = people(world).context().new_page()
    free = world.service.settings.sign_in_free_attempts
    for _ in range(free):
        _try(page, world, "requester", "not the password at all")
        expect(page.locator("#signin-error")).to_have_text("wrong username or password")
    _try(page, world, "requester", world.passwords["requester"])  # the right one, during the wait
    expect(page.locator("#signin-error")).to_contain_text("too many failed sign-ins; try again in")
    assert_accessible(page)
    screenshot(page, "signin-backing-off")
    _try(page, world, "nobody-by-this-name", "not the password at all")
    expect(page.locator("#signin-error")).to_have_text("wrong username or password")  # no hint who exists
    world.clock.advance(seconds=world.service.settings.sign_in_backoff_s + 1)
    sign_in(page, world, "requester")
    whys = _failures(world, "requester")
    assert whys.count("wrong password") == free and whys.count("backing off after failed attempts") == 1
    assert _failures(world, "nobody-by-this-name") == ["unknown username"]


def test_the_first_password_works_once_and_must_be_replaced(
    world: World, people: Callable[[World], Browsing], screenshot: Shot
) -> None:
    browsing = people(world)
    admin = browsing.as_("admin")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    admin.get_by_label("Username").fill("officer7")
    admin.get_by_label("Role").select_option("requester")
    admin.get_by_role("button", name="Create the user").click()
    temporary = admin.locator("#temporary-password").inner_text()
    expect(admin.locator("table")).to_contain_text("officer7")
    assert_accessible(admin)
    screenshot(admin, "admin-users")

    officer = browsing.context().new_page()
    _try(officer, world, "officer7", temporary)
    expect(officer).to_have_url(f"{world.url}/password")
    expect(officer.locator(".warn")).to_contain_text("temporary password")
    assert_accessible(officer)
    screenshot(officer, "first-sign-in-choose-password")
    officer.goto(f"{world.url}/requests")
    expect(officer).to_have_url(f"{world.url}/password")  # nothing else until the password is chosen
    officer.get_by_label("New password", exact=True).fill("amber quarry violin 7")
    officer.get_by_label("New password again").fill("amber quarry violin 7")
    officer.get_by_role("button", name="Change password").click()
    expect(officer.locator(".whoami")).to_contain_text("officer7")
    officer.get_by_role("button", name="Sign out").click()
    _try(officer, world, "officer7", temporary)  # used up
    expect(officer.locator("#signin-error")).to_have_text("wrong username or password")
    _try(officer, world, "officer7", "amber quarry violin 7")
    expect(officer.locator(".whoami")).to_contain_text("officer7")
    cookie = next(c for c in officer.context.cookies() if c["name"] == "fd_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain http here


def test_forms_without_their_csrf_token_are_refused(world: World, people: Callable[[World], Browsing]) -> None:
    supervisor = people(world).as_("supervisor")
    supervisor.goto(f"{world.url}/admin/users")  # a page with forms; the supervisor may only read users
    forged = supervisor.evaluate(
        """async (url) => {
            const body = new URLSearchParams({csrf: "forged", reason: "forged", decision: "approve"});
            const answer = await fetch(url + "/requests/1/decide", {method: "POST", body});
            return [answer.status, await answer.text()];
        }""",
        world.url,
    )
    assert forged[0] == 403 and "CSRF" in forged[1]
    supervisor.goto(f"{world.url}/me")
    supervisor.locator("form[action='/signout'] input[name=csrf]").evaluate("input => input.value = 'stale'")
    supervisor.get_by_role("button", name="Sign out").click()
    expect(supervisor.locator("main")).to_contain_text("security token is missing or out of date")
    supervisor.goto(f"{world.url}/")
    expect(supervisor.locator(".whoami")).to_contain_text("supervisor")  # still signed in: nothing happened


def test_a_session_ends_after_idle_time(world: World, people: Callable[[World], Browsing]) -> None:
    auditor = people(world).as_("auditor")
    world.clock.advance(minutes=world.service.settings.session_idle_minutes + 1)
    auditor.goto(f"{world.url}/audit")
    expect(auditor).to_have_url(f"{world.url}/signin?next=%2Faudit")
    sign_in(auditor, world, "auditor")
