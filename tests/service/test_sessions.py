"""Sign-in for people (service): temporary first passwords work once and allow nothing but
choosing one's own; sessions end on sign-out, idle time, deactivation and password changes;
failed attempts back off per username, known or not; everything is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facedocket.errors import Forbidden, InvalidInput, TooManyAttempts, Unauthorized, WeakPassword
from facedocket.service.sessions import backoff_seconds

from .conftest import ServiceFactory
from .support import World, make_world

OWN = "lantern violet harbour 42"


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _with_clock(service_factory: ServiceFactory) -> tuple[World, _Clock]:
    clock = _Clock()
    return make_world(service_factory(clock=clock)), clock


def test_a_temporary_password_signs_in_once_to_choose_ones_own(service_factory: ServiceFactory) -> None:
    world, clock = _with_clock(service_factory)
    signin, requester = world.service.signin, world.operator.requester
    with pytest.raises(WeakPassword):
        signin.set_password(world.admin, requester.user_id, "password2024")
    with pytest.raises(Forbidden):
        signin.set_password(world.operator.supervisor, requester.user_id)
    temporary = signin.set_password(world.admin, requester.user_id)
    first = signin.sign_in(requester.username, temporary)
    assert first.must_change and first.actor.must_change
    with pytest.raises(Forbidden, match="temporary password"):
        world.service.requests.list_requests(first.actor)
    with pytest.raises(Unauthorized):  # used up: nobody signs in with it again, the admin included
        signin.sign_in(requester.username, temporary)
    signin.change_password(first.secret, "", OWN)
    now = signin.current(first.secret)
    assert not now.must_change and world.service.requests.list_requests(now.actor) == []
    again = signin.sign_in(requester.username, OWN)
    with pytest.raises(InvalidInput, match="current password is wrong"):
        signin.change_password(again.secret, "wrong", OWN + " and more")
    signin.change_password(again.secret, OWN, OWN + " and more")
    with pytest.raises(Unauthorized):  # changing the password signed the first session out
        signin.current(first.secret)
    late = signin.set_password(world.admin, requester.user_id)
    clock.now += timedelta(hours=world.service.settings.activation_ttl_hours + 1)
    with pytest.raises(Unauthorized, match="expired"):
        signin.sign_in(requester.username, late)


def test_sessions_end_and_everything_is_recorded(service_factory: ServiceFactory) -> None:
    world, clock = _with_clock(service_factory)
    signin, examiner = world.service.signin, world.operator.examiner
    temporary = signin.set_password(world.admin, examiner.user_id)
    first = signin.sign_in(examiner.username, temporary, client="pytest")
    signin.change_password(first.secret, "", OWN)
    clock.now += timedelta(minutes=world.service.settings.session_idle_minutes - 1)
    assert signin.current(first.secret).actor.user_id == examiner.user_id
    clock.now += timedelta(minutes=world.service.settings.session_idle_minutes + 1)
    with pytest.raises(Unauthorized, match="ended"):
        signin.current(first.secret)
    second = signin.sign_in(examiner.username, OWN)
    world.service.accounts.set_user_active(world.admin, examiner.user_id, False)
    with pytest.raises(Unauthorized):
        signin.current(second.secret)
    with pytest.raises(Unauthorized, match="wrong username or password"):  # deactivated: told nothing more
        signin.sign_in(examiner.username, OWN)
    world.service.accounts.set_user_active(world.admin, examiner.user_id, True)
    third = signin.sign_in(examiner.username, OWN)
    signin.sign_out(third.secret)
    with pytest.raises(Unauthorized):
        signin.current(third.secret)
    actions = [e.action for e in world.service.audit.list_audit(world.admin, limit=1000)]
    for action in ("user.password_set", "auth.signed_in", "user.password_changed", "auth.signed_out",
                   "auth.sign_in_failed"):  # fmt: skip
        assert action in actions, action
    outs = world.service.audit.list_audit(world.admin, action="auth.signed_out")
    assert {e.details["why"] for e in outs} >= {"idle timeout", "signed out"}


def test_what_a_page_asks_by_itself_does_not_keep_a_session_alive(service_factory: ServiceFactory) -> None:
    """A live queue polls the server; its polls (``active=False``) are not the person's
    activity, so an unattended screen still reaches the idle timeout; the person's own
    requests keep the session alive."""
    world, clock = _with_clock(service_factory)
    signin, examiner = world.service.signin, world.operator.examiner
    idle = timedelta(minutes=world.service.settings.session_idle_minutes)
    temporary = signin.set_password(world.admin, examiner.user_id)
    first = signin.sign_in(examiner.username, temporary)
    signin.change_password(first.secret, "", OWN)
    polled, used = first.secret, signin.sign_in(examiner.username, OWN).secret
    for secret, active in ((polled, False), (used, True)):
        assert signin.current(secret, active=active).actor.user_id == examiner.user_id
    clock.now += idle / 2
    for secret, active in ((polled, False), (used, True)):
        assert signin.current(secret, active=active).actor.user_id == examiner.user_id
    clock.now += idle / 2 + timedelta(minutes=1)
    with pytest.raises(Unauthorized, match="ended"):
        signin.current(polled, active=False)
    assert signin.current(used, active=False).actor.user_id == examiner.user_id


def test_failed_sign_ins_back_off_whoever_the_name_is(service_factory: ServiceFactory) -> None:
    world, clock = _with_clock(service_factory)
    signin, settings = world.service.signin, world.service.settings
    temporary = signin.set_password(world.admin, world.operator.auditor.user_id)
    for name, right in ((world.operator.auditor.username, temporary), ("no-such-user", None)):
        for _ in range(settings.sign_in_free_attempts):
            with pytest.raises(Unauthorized):
                signin.sign_in(name, "a wrong password entirely")
        with pytest.raises(TooManyAttempts) as waiting:
            signin.sign_in(name, right or "anything")
        assert waiting.value.retry_after == settings.sign_in_backoff_s and waiting.value.status == 429
    clock.now += timedelta(seconds=settings.sign_in_backoff_s + 1)
    assert signin.sign_in(world.operator.auditor.username, temporary).must_change
    failures = world.service.audit.list_audit(world.admin, action="auth.sign_in_failed", limit=100)
    assert all("a wrong password" not in str(e.details) for e in failures)  # never the password
    assert backoff_seconds(5, 5, 30) == 30 and backoff_seconds(40, 5, 30) == 900
