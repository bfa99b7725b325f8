"""A failure to write the index file after a successful commit (issue 11, item 3): it was
reported as a failed enrolment (API 500 for committed enrolments). Now the enrolment is
answered as what it is (201, enrolled), with the failure and the file's path in
``warnings``; searches find the subject (the index in memory is level with the database)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .helpers import Api


def test_an_index_file_that_cannot_be_written_does_not_fail_a_committed_enrolment(
    make_api: Callable[..., Api], photo: Callable[[str, int], Path]
) -> None:
    api = make_api()
    staff = api.staff(api.operator, "ix", "requester", "examiner", "supervisor")
    gallery = api.gallery(api.operator, "index trouble booking photos")
    blocked = api.settings.home / "index" / f"gallery-{gallery}.fdindex"
    (blocked / "not-a-file").mkdir(parents=True)  # the file's path is taken: it cannot be written

    response = api.enrol(api.operator, gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", 1))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == "enrolled" and body["template_id"]
    (warning,) = body["warnings"]
    assert str(blocked) in warning and "could not be written" in warning
    assert api.subjects(api.operator, gallery) == {
        "Aaron_Peirsol": api.subjects(api.operator, gallery)["Aaron_Peirsol"]
    }

    request = api.approved(staff["requester"], staff["supervisor"], photo("Aaron_Peirsol", 2), [gallery])
    searched = api.search(staff["examiner"], request)
    assert searched.status_code == 201, searched.text
    assert [c["subject_reference"] for c in searched.json()["candidates"]] == ["Aaron_Peirsol"]

    rebuilt = api.call("POST", f"/galleries/{gallery}/index/rebuild", api.operator)
    assert rebuilt.status_code == 507 and str(blocked) in rebuilt.json()["error"]
