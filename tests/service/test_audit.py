"""The audit log: one valid chain under concurrent appends; append-only in the database;
every kind of tampering found at the first broken link, in the database and in an export."""

from __future__ import annotations

import itertools
import json
import threading

import pytest
from audit_tamper import tamper
from sqlalchemy import text

from facedocket.governance import audit

from .support import World


def _actions(world: World, n: int = 6) -> None:
    for i in range(n):
        world.service.requests.create_case(world.operator.requester, f"A-{i}", "robbery", "audit test")


def test_every_action_extends_one_valid_chain(world: World) -> None:
    _actions(world)
    result = world.service.audit.verify_audit(world.operator.auditor)
    assert result.ok and result.events >= 6 and result.broken_at is None
    events = list(reversed([e.as_dict() for e in world.service.audit.list_audit(world.admin, limit=1000)]))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))


def test_the_database_refuses_update_and_delete(world: World) -> None:
    _actions(world, 1)
    for statement in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(Exception, match="append-only"), world.service.engine.begin() as conn:
            conn.execute(text(statement))
    if world.service.engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="append-only"), world.service.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_event"))
    assert world.service.audit.verify_audit(world.operator.auditor).ok


def test_concurrent_appends_chain_in_one_order(world: World) -> None:
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            for i in range(8):
                world.service.requests.create_case(world.operator.requester, f"T{slot}-{i}", "theft")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert world.service.audit.verify_audit(world.operator.auditor).ok
    assert (
        len([e.as_dict() for e in world.service.audit.list_audit(world.admin, action="case.created", limit=100)]) == 32
    )


@pytest.mark.parametrize(
    ("statements", "reason"),
    [
        (['UPDATE audit_event SET details = \'{{"number":"A-9"}}\' WHERE seq = {s}'], "edited"),
        (["DELETE FROM audit_event WHERE seq = {s}"], "missing"),
        (
            [
                "UPDATE audit_event SET seq = -1 WHERE seq = {s}",
                "UPDATE audit_event SET seq = {s} WHERE seq = {n}",
                "UPDATE audit_event SET seq = {n} WHERE seq = -1",
            ],
            "inserted or reordered",
        ),
    ],
    ids=["edit", "delete", "reorder"],
)
def test_tampering_in_the_database_is_found_at_the_first_broken_link(
    world: World, statements: list[str], reason: str
) -> None:
    _actions(world)
    target = world.service.audit.list_audit(world.admin, action="case.created", limit=100)[-3].seq
    tamper(world.service, *[s.format(s=target, n=target + 1) for s in statements])
    result = world.service.audit.verify_audit(world.operator.auditor)
    assert not result.ok and result.broken_at == target and reason in result.reason


def test_details_that_are_not_json_are_found_at_their_sequence_number(world: World) -> None:
    _actions(world)
    target = world.service.audit.list_audit(world.admin, action="case.created", limit=100)[-2].seq
    tamper(world.service, f"UPDATE audit_event SET details = '{{\"note\": ' WHERE seq = {target}")
    result = world.service.audit.verify_audit(world.operator.auditor)
    assert not result.ok and result.broken_at == target
    assert "details are not valid JSON" in result.reason


def test_a_dropped_tail_is_found_against_the_head(world: World) -> None:
    _actions(world)
    listed = world.service.audit.list_audit(world.admin, limit=1)[0].seq
    last = listed + 1  # the listing is itself recorded: the newest event is its audit.listed
    tamper(world.service, f"DELETE FROM audit_event WHERE seq = {last}")
    result = world.service.audit.verify_audit(world.operator.auditor)
    assert not result.ok and result.broken_at == last and "removed" in result.reason


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_an_export_verifies_offline_and_shows_each_kind_of_tampering(world: World) -> None:
    _actions(world)
    lines = list(world.service.audit.export_audit(world.admin))
    events = [json.loads(line) for line in lines]
    head = (events[-1]["seq"], events[-1]["hash"])
    assert audit.verify_chain(audit.read_jsonl(lines), expect_head=head).ok

    def check(changed: list[dict[str, object]], broken_at: int) -> None:
        result = audit.verify_chain(changed, expect_head=head)
        assert not result.ok and result.broken_at == broken_at, result

    edited = [dict(e) for e in events]
    edited[3]["actor"] = "somebody else"
    check(edited, 4)
    check(events[:3] + events[4:], 4)  # deletion: event 4 is missing
    check([*events[:4], events[5], events[4], *events[6:]], 5)  # reordering: 6 came where 5 belongs
    forged = dict(events[2])
    check([*events[:3], forged, *events[3:]], 4)  # insertion (a copy of 3) where 4 belongs
    check(events[:-1], events[-1]["seq"])  # truncation, caught by the published head
