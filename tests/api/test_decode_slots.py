"""Upload decodes in the server share one set of decode slots per app (issue 11, item 2):
``max_concurrent_decodes`` uploads are decoded (and searched for faces) at once; another
waits ``decode_wait_s`` for a slot and is then answered 503 Busy with ``Retry-After``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import Api, assert_error


@pytest.fixture(scope="module")
def api(make_api: Callable[..., Api]) -> Api:
    return make_api(max_concurrent_decodes=1, decode_wait_s=0.2)


def test_the_app_has_one_set_of_slots_from_the_settings(api: Api) -> None:
    assert api.app.state.decodes.n == api.settings.max_concurrent_decodes == 1


def test_an_upload_while_every_slot_is_taken_is_answered_503_with_retry_after(
    api: Api, photo: Callable[[str, int], Path]
) -> None:
    """Was: every upload decoded at once (six concurrent uploads took the server to 6.7 GB)."""
    gallery = api.gallery(api.operator, "busy booking photos")
    staff = api.staff(api.operator, "busy", "requester")
    with api.app.state.decodes.hold():  # another upload is being decoded
        enrol = api.enrol(api.operator, gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", 1))
        filed = api.file(staff["requester"], photo("Aaron_Peirsol", 2), [gallery])
    for response in (enrol, filed):
        assert_error(response, 503, "try again")
        assert int(response.headers["Retry-After"]) > 0
    assert "Aaron_Peirsol" not in api.subjects(api.operator, gallery)
    # once the slot is free the same upload goes through
    assert api.enrol(api.operator, gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", 1)).status_code == 201


def test_an_upload_waits_for_a_slot_that_frees_in_time(
    make_api: Callable[..., Api], photo: Callable[[str, int], Path]
) -> None:
    api = make_api(max_concurrent_decodes=1, decode_wait_s=30)
    gallery = api.gallery(api.operator, "waiting booking photos")
    held = threading.Event()

    def hold_a_moment() -> None:
        with api.app.state.decodes.hold():
            held.set()
            threading.Event().wait(0.5)

    holder = threading.Thread(target=hold_a_moment)
    holder.start()
    held.wait(5)
    response = api.enrol(api.operator, gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", 1))
    holder.join()
    assert response.status_code == 201, response.text
