"""Watchlists and deployments through the governance kernel, on SQLite and PostgreSQL:
entries need a reason the policy allows and a second person, expire and leave the list (their
templates deleted), and the policy gate refuses deployments it does not allow, naming every
rule, with each refusal recorded. ``massachusetts-2020`` refuses to start any."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tokens import own_token

from facedocket.errors import Forbidden, InvalidInput, InvalidVideo, PolicyDenied
from facedocket.governance.policy import PROFILES_DIR
from facedocket.service import Actor, DeploymentDraft, EntryDraft, Service

from .conftest import ServiceFactory
from .support import photo

PERSON = "Abdullah_Gul"
WATCH_ALL_DAY = ["daily 00:00-24:00"]


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Shop:
    """An agency under ``profile`` with two supervisors, an examiner and an auditor."""

    def __init__(self, service: Service, profile: str = "retail-watchlist", text: str | None = None) -> None:
        self.service = service
        token = service.accounts.bootstrap("Main St Stores", "admin")
        self.admin = service.accounts.authenticate(token.secret)
        if text is None:
            service.policy.activate_policy(self.admin, profile)
        else:
            service.policy.activate_policy_text(self.admin, text)
        self.supervisor, self.manager = self.user("sup", "supervisor"), self.user("manager", "supervisor")
        self.examiner, self.auditor = self.user("guard", "examiner"), self.user("auditor", "auditor")
        self.requester = self.user("clerk", "requester")
        self.watchlist = service.watchlists.create_watchlist(self.supervisor, "main st", "incident reports").id

    def user(self, name: str, role: str) -> Actor:
        _info, activation = self.service.accounts.create_user(self.admin, name, role)
        return self.service.accounts.authenticate(own_token(self.service, activation).secret)

    def events(self, action: str) -> list[dict[str, object]]:
        return [e.as_dict() for e in reversed(self.service.audit.list_audit(self.auditor, action=action))]

    def draft(self, **changes: object) -> DeploymentDraft:
        values: dict[str, object] = {
            "name": "entrance", "source": "rtsp://camera.local/1", "site": "Main St store", "place": "entrance",
            "windows": WATCH_ALL_DAY, "watchlists": [self.watchlist], "dpia_reference": "DPIA-1", "signage": True,
        }  # fmt: skip
        values.update(changes)
        return DeploymentDraft(**values)  # type: ignore[arg-type]


def _entry(reason: str = "theft-with-violence", **changes: object) -> EntryDraft:
    values: dict[str, object] = {"reference": PERSON, "reason": reason, "incident_reference": "INC-2026-113",
                                 "authorised_by": "Store manager A. Jones", "evidence_notes": "CCTV"}  # fmt: skip
    return EntryDraft(**{**values, **changes})  # type: ignore[arg-type]


def test_an_entry_needs_a_second_person_and_is_audited(service: Service) -> None:
    shop = Shop(service)
    entry = service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(), photo(PERSON, 1).read_bytes())
    assert entry.status == "pending" and entry.templates == 1 and entry.reference == PERSON
    assert entry.expires - entry.added == timedelta(days=365), "default: the policy's longest period"
    with pytest.raises(Forbidden, match="approve"):
        service.watchlists.approve_entry(shop.examiner, entry.id)  # not a supervisor
    alone = service.watchlists.add_entry(shop.supervisor, shop.watchlist, _entry(reference="Adrien_Brody"),
                                         photo("Adrien_Brody", 1).read_bytes())  # fmt: skip
    with pytest.raises(Forbidden, match="second person"):
        service.watchlists.approve_entry(shop.supervisor, alone.id)
    approved = service.watchlists.approve_entry(shop.manager, entry.id)
    assert approved.status == "active" and approved.approved_by == shop.manager.user_id
    added = shop.events("watchlist.entry_added")[0]["details"]
    assert added["reason"] == "theft-with-violence" and added["status"] == "pending"  # type: ignore[index]
    assert added["authorised_by"] == "Store manager A. Jones" and added["incident_reference"] == "INC-2026-113"  # type: ignore[index]
    assert [e["object_id"] for e in shop.events("watchlist.entry_approved")] == [str(entry.id)]
    assert service.deployments.create_deployment(shop.supervisor, shop.draft()).entries == 1


def test_the_policy_refuses_entries_it_does_not_allow(service: Service) -> None:
    shop = Shop(service)
    data = photo(PERSON, 1).read_bytes()
    with pytest.raises(PolicyDenied) as refused:
        service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry("missing-person"), data)
    assert [rule for rule, _ in refused.value.failures] == ["watchlists.reasons"]
    later = datetime.now(UTC) + timedelta(days=400)
    with pytest.raises(PolicyDenied) as refused:
        service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(expires=later), data)
    assert [rule for rule, _ in refused.value.failures] == ["retention.watchlist_entries"]
    assert [e["details"]["failed"] for e in shop.events("watchlist.entry_refused")] == [  # type: ignore[index]
        ["watchlists.reasons"],
        ["retention.watchlist_entries"],
    ]
    with pytest.raises(InvalidInput, match="incident reference is required"):
        service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(incident_reference=" "), data)
    assert service.galleries.get_gallery(shop.admin, shop.watchlist).templates == 0, "a refusal keeps nothing"


def test_expired_entries_leave_the_list_and_retention_deletes_their_templates(
    service_factory: ServiceFactory,
) -> None:
    clock = Clock()
    service = service_factory(clock=clock)
    shop = Shop(service)
    soon = clock() + timedelta(days=2)
    entry = service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(expires=soon),
                                         photo(PERSON, 1).read_bytes())  # fmt: skip
    service.watchlists.approve_entry(shop.manager, entry.id)
    deployment = service.deployments.create_deployment(shop.supervisor, shop.draft())
    assert deployment.entries == 1
    assert service.photos.of_subjects(shop.examiner, [entry.subject_id])  # its photo and face crop, kept
    clock.offset = timedelta(days=3)
    assert service.deployments.get_deployment(shop.examiner, deployment.id).entries == 0, "left the list at once"
    lapsed = service.watchlists.get_entry(shop.examiner, entry.id)
    assert (lapsed.status, lapsed.standing) == ("active", "expired"), "shown as gone before the retention run"
    report = service.oversight.retention_run(None)
    assert report.deleted["watchlist_entries"] == [entry.id]
    ended = service.watchlists.get_entry(shop.examiner, entry.id)
    assert ended.status == "expired" and ended.templates == 0 and ended.subject_id is None and ended.reference is None
    assert service.galleries.get_gallery(shop.admin, shop.watchlist).subjects == 0
    assert service.photos.of_subjects(shop.examiner, [lapsed.subject_id or 0]) == {}, "its photos went with it"
    assert shop.events("watchlist.entry_expired")[0]["details"]["templates"] == 1  # type: ignore[index]


def test_an_entrys_photo_is_kept_for_the_people_who_check_its_alerts(service: Service) -> None:
    """The entry's photo and aligned face crop are kept encrypted (as enrolment keeps them)
    while the watchlist keeps photos; reading them is the permission table's; removing the
    entry deletes them."""
    shop = Shop(service)
    data = photo(PERSON, 1).read_bytes()
    entry = service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(), data)
    assert entry.added_by_name == "guard" and entry.standing == "pending"
    assert shop.events("watchlist.entry_added")[0]["details"]["photos_kept"] == 2  # type: ignore[index]
    assert entry.subject_id is not None
    kept = service.photos.of_subjects(shop.examiner, [entry.subject_id])[entry.subject_id]
    assert sorted(p.kind for p in kept) == ["enrolment-crop", "enrolment-source"]
    source = next(p for p in kept if p.kind == "enrolment-source")
    assert service.photos.open_file(shop.examiner, source.id).data == data and source.meta["width"] > 0
    assert shop.events("photo.viewed")[0]["details"]["file_id"] == source.id  # type: ignore[index]
    with pytest.raises(Forbidden):
        service.photos.of_subjects(shop.requester, [entry.subject_id])
    approved = service.watchlists.approve_entry(shop.manager, entry.id)
    assert approved.approved_by_name == "manager" and approved.standing == "active"
    service.watchlists.remove_entry(shop.supervisor, entry.id, "the ban order was lifted")
    assert service.photos.of_subjects(shop.examiner, [entry.subject_id]) == {}
    service.galleries.set_keep_photos(shop.supervisor, shop.watchlist, False)
    other = service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(reference="Adrien_Brody"),
                                         photo("Adrien_Brody", 1).read_bytes())  # fmt: skip
    assert other.templates == 1 and service.photos.of_subjects(shop.examiner, [other.subject_id or 0]) == {}


def test_removing_an_entry_deletes_its_templates(service: Service) -> None:
    shop = Shop(service)
    entry = service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(), photo(PERSON, 1).read_bytes())
    with pytest.raises(Forbidden):
        service.watchlists.remove_entry(shop.examiner, entry.id, "no longer justified")
    removed = service.watchlists.remove_entry(shop.supervisor, entry.id, "the ban order was lifted")
    assert removed.status == "removed" and removed.templates == 0 and removed.end_reason == "the ban order was lifted"
    assert service.galleries.get_gallery(shop.admin, shop.watchlist).templates == 0
    assert shop.events("watchlist.entry_removed")[0]["details"]["reason"] == "the ban order was lifted"  # type: ignore[index]
    again = service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(), photo(PERSON, 2).read_bytes())
    assert again.status == "pending", "a new entry may follow a removed one"


def test_massachusetts_refuses_to_start_a_deployment(service: Service) -> None:
    shop = Shop(service, "massachusetts-2020")
    with pytest.raises(PolicyDenied) as refused:
        service.watchlists.add_entry(shop.supervisor, shop.watchlist, _entry(), photo(PERSON, 1).read_bytes())
    assert "forbidden_uses" in [rule for rule, _ in refused.value.failures]
    deployment = service.deployments.create_deployment(shop.supervisor, shop.draft())
    assert {v.rule for v in deployment.checklist if v.state == "failed"} == {"forbidden_uses"}
    with pytest.raises(PolicyDenied) as refused:
        service.watching.watch(shop.examiner, deployment.id)
    whys = [why for rule, why in refused.value.failures if rule == "forbidden_uses"]
    assert any("watchlist alerts are forbidden" in w for w in whys) and any("live video" in w for w in whys)
    recorded = shop.events("deployment.refused")[-1]
    assert recorded["details"]["policy"] == "massachusetts-2020" and recorded["details"]["stage"] == "start"  # type: ignore[index]
    info = service.deployments.get_deployment(shop.examiner, deployment.id)
    assert info.status == "stopped" and info.run_id is None and shop.events("deployment.started") == []


def test_the_gate_names_every_missing_safeguard(service: Service) -> None:
    shop = Shop(service)
    bare = service.deployments.create_deployment(shop.supervisor, shop.draft(dpia_reference="", signage=False))
    with pytest.raises(PolicyDenied) as refused:
        service.deployments.start(shop.examiner, bare.id)
    assert [rule for rule, _ in refused.value.failures] == [
        "deployments.dpia_required", "deployments.signage_required", "deployments.authorisation_required"
    ]  # fmt: skip
    with pytest.raises(Forbidden):
        service.deployments.authorise(shop.examiner, bare.id, "AUTH-1")
    ready = service.deployments.create_deployment(shop.supervisor, shop.draft(name="ready"))
    with pytest.raises(Forbidden, match="set up"):  # four eyes: never the supervisor who set it up
        service.deployments.authorise(shop.supervisor, ready.id, "AUTH-2026-11")
    authorised = service.deployments.authorise(shop.manager, ready.id, "AUTH-2026-11")
    assert (authorised.created_by_name, authorised.authorised_by_name) == ("sup", "manager")  # names for the pages
    run = service.deployments.start(shop.examiner, ready.id)
    assert run.source_kind == "rtsp" and run.threshold == pytest.approx(0.945818, abs=1e-6)
    assert service.deployments.get_deployment(shop.examiner, ready.id).status == "running"
    service.deployments.finish(run, "stopped by the test")
    assert shop.events("deployment.authorised")[0]["details"] == {"reference": "AUTH-2026-11"}


def test_the_threshold_is_never_below_the_watchlist_floor(service: Service) -> None:
    shop = Shop(service)
    with pytest.raises(PolicyDenied) as refused:
        service.deployments.create_deployment(shop.supervisor, shop.draft(threshold=0.930103))
    assert [rule for rule, _ in refused.value.failures] == ["watchlists.threshold_floor_fmr"]
    assert shop.events("deployment.refused")[0]["details"]["stage"] == "create"  # type: ignore[index]
    strict = service.deployments.create_deployment(shop.supervisor, shop.draft(threshold=0.95))
    assert strict.threshold == 0.95 and strict.floor == pytest.approx(0.945818, abs=1e-6)
    floor = service.deployments.floor(shop.examiner)  # what the web UI's form shows before any deployment
    assert floor is not None and floor.score == strict.floor and floor.fmr == 1e-4


def test_a_long_list_at_a_low_threshold_is_refused_for_its_false_alerts(service: Service) -> None:
    text = (PROFILES_DIR / "retail-watchlist.toml").read_text(encoding="utf-8")
    text = text.replace('name = "retail-watchlist"', 'name = "retail-strict"')
    text = text.replace("max_false_alerts_per_face = 0.01", "max_false_alerts_per_face = 0.00005")
    shop = Shop(service, text=text)
    entry = service.watchlists.add_entry(shop.examiner, shop.watchlist, _entry(), photo(PERSON, 1).read_bytes())
    service.watchlists.approve_entry(shop.manager, entry.id)
    deployment = service.deployments.create_deployment(shop.supervisor, shop.draft())
    service.deployments.authorise(shop.manager, deployment.id, "AUTH-1")
    with pytest.raises(PolicyDenied) as refused:
        service.deployments.start(shop.examiner, deployment.id)
    ((rule, why),) = refused.value.failures
    assert (
        rule == "watchlists.max_false_alerts_per_face"
        and "1 entry at threshold 0.945818" in why
        and "raise the threshold to 0.9498" in why
    )


def test_deployments_refuse_bad_descriptions_and_roles(service: Service) -> None:
    shop = Shop(service)
    with pytest.raises(InvalidInput, match="DAYS HH:MM-HH:MM"):
        service.deployments.create_deployment(shop.supervisor, shop.draft(windows=["weekdays 9-5"]))
    with pytest.raises(InvalidInput, match="unknown time zone"):
        service.deployments.create_deployment(shop.supervisor, shop.draft(timezone="Mars/Olympus"))
    with pytest.raises(InvalidVideo, match="scheme"):
        service.deployments.create_deployment(shop.supervisor, shop.draft(source="ftp://camera/1"))
    booking = service.galleries.create_gallery(shop.admin, "booking", "photos", "criminal investigations")
    with pytest.raises(InvalidInput, match="not a watchlist"):
        service.deployments.create_deployment(shop.supervisor, shop.draft(watchlists=[booking.id]))
    with pytest.raises(Forbidden):
        service.deployments.create_deployment(shop.examiner, shop.draft())
    with pytest.raises(Forbidden):
        service.deployments.list_deployments(shop.requester)
    with pytest.raises(Forbidden):
        service.alerts.list_alerts(shop.requester)
