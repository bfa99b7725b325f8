"""The admin's screens: users (create with a temporary first password, deactivate, reset a
password), galleries (create, keep photos or not, enrol a zip or a folder with live
progress, subjects with their photos) and the policy (its explanation, activation). The
policy page is everyone's: every role reads what it works under."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from facedocket.errors import FaceDocketError, InvalidInput
from facedocket.governance.explain import explain, profile_warnings
from facedocket.governance.policy import shipped_profiles
from facedocket.service import WebUser
from facedocket.service.archives import items_from_files, read_archive
from facedocket.vocab import ROLES
from facedocket.web import forms
from facedocket.web.jobs import Jobs
from facedocket.web.pages import blocking, page
from facedocket.web.security import checked_form, current_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]
SUBJECTS_PAGE = 50


def jobs_of(request: Request) -> Jobs:
    jobs: Jobs | None = getattr(request.app.state, "enrolment_jobs", None)
    if not isinstance(jobs, Jobs):
        jobs = request.app.state.enrolment_jobs = Jobs()
    return jobs


# --- users ------------------------------------------------------------------------------------


def _users_page(request: Request, user: WebUser, status: int = 200, **more: Any) -> HTMLResponse:
    users = service_of(request).accounts.list_users(user.actor)
    context = {"title": "Users", "users": users, "roles": ROLES, "error": "", "issued": None, **more}
    return page(request, "users.html", status=status, **context)


@router.get("/admin/users")
def users(request: Request, user: User) -> HTMLResponse:
    return _users_page(request, user)


@router.post("/admin/users")
async def create_user(request: Request, user: User) -> Response:
    form = await checked_form(request)
    service = service_of(request)
    first = forms.text(form, "password") or None
    try:
        if first is not None:
            from facedocket.crypto import check_password_policy

            check_password_policy(first, forms.text(form, "username"))  # refuse before the user exists
        created, activation = await blocking(service.accounts.create_user, user.actor, forms.text(form, "username"),
                                             forms.text(form, "role"))  # fmt: skip
        password = await blocking(service.signin.set_password, user.actor, created.id, first)
    except FaceDocketError as error:
        return await blocking(_users_page, request, user, error.status, error=str(error))
    issued = {"username": created.username, "password": password, "activation": activation.secret, "new": True}
    return await blocking(_users_page, request, user, issued=issued)


@router.post("/admin/users/{user_id}/{action}")
async def user_action(request: Request, user_id: int, action: str, user: User) -> Response:
    form = await checked_form(request)
    service = service_of(request)
    try:
        if action == "deactivate":
            await blocking(service.accounts.set_user_active, user.actor, user_id, False)
        elif action == "activate":
            await blocking(service.accounts.set_user_active, user.actor, user_id, True)
        elif action == "password":
            password = await blocking(service.signin.set_password, user.actor, user_id,
                                      forms.text(form, "password") or None)  # fmt: skip
            name = next((u.username for u in service.accounts.list_users(user.actor) if u.id == user_id), "?")
            return await blocking(_users_page, request, user, issued={"username": name, "password": password})
        else:
            raise InvalidInput(f"no user action {action!r}")
    except FaceDocketError as error:
        return await blocking(_users_page, request, user, error.status, error=str(error))
    return RedirectResponse("/admin/users", status_code=303)


# --- galleries --------------------------------------------------------------------------------


@router.get("/galleries")
def galleries(request: Request, user: User, error: str = "") -> HTMLResponse:
    found = service_of(request).galleries.list_galleries(user.actor)
    return page(request, "galleries.html", title="Galleries", galleries=found, error=error)


@router.post("/galleries")
async def create_gallery(request: Request, user: User) -> Response:
    form = await checked_form(request)
    service = service_of(request)
    try:
        gallery = await blocking(service.galleries.create_gallery, user.actor, forms.text(form, "name"),
                                 forms.text(form, "source"), forms.text(form, "purpose"),
                                 keep_photos=forms.text(form, "keep_photos") == "yes")  # fmt: skip
    except FaceDocketError as error:
        found = await blocking(service.galleries.list_galleries, user.actor)
        return page(request, "galleries.html", status=error.status, title="Galleries", galleries=found,
                    error=str(error))  # fmt: skip
    return RedirectResponse(f"/galleries/{gallery.id}", status_code=303)


@router.get("/galleries/{gallery_id}")
def gallery(request: Request, gallery_id: int, user: User, offset: int = 0, job: str = "",
            error: str = "") -> HTMLResponse:  # fmt: skip
    service = service_of(request)
    info = service.galleries.get_gallery(user.actor, gallery_id)
    subjects = service.galleries.list_subjects(user.actor, gallery_id, max(0, offset), SUBJECTS_PAGE) \
        if info.subjects else []  # fmt: skip
    running = jobs_of(request).get(user.actor, job) if job else None
    return page(request, "gallery.html", title=f"Gallery {info.name}", gallery=info, subjects=subjects,
                offset=max(0, offset), page_size=SUBJECTS_PAGE, job=running, error=error)  # fmt: skip


@router.post("/galleries/{gallery_id}/photos")
async def keep_photos(request: Request, gallery_id: int, user: User) -> Response:
    form = await checked_form(request)
    keep = forms.text(form, "keep") == "yes"
    try:
        await blocking(service_of(request).galleries.set_keep_photos, user.actor, gallery_id, keep)
    except FaceDocketError as error:
        return await blocking(gallery, request, gallery_id, user, 0, "", str(error))
    return RedirectResponse(f"/galleries/{gallery_id}", status_code=303)


@router.post("/galleries/{gallery_id}/enrol")
async def enrol(request: Request, gallery_id: int, user: User) -> Response:
    """Start enrolling an uploaded zip or folder; the gallery page then shows its progress."""
    form = await checked_form(request)
    service = service_of(request)
    limit = service.settings.max_enrolment_upload_bytes
    try:
        archive = await forms.upload(form, "archive", limit, "zip archive", required=False)
        files = await forms.uploads(form, "folder", limit)
        if archive is None and not files:
            raise InvalidInput("choose a zip archive or a folder of photos")
        items = await blocking(read_archive, archive) if archive is not None else items_from_files(files)
        await blocking(service.galleries.get_gallery, user.actor, gallery_id)
    except FaceDocketError as error:
        return await blocking(gallery, request, gallery_id, user, 0, "", str(error))
    job = jobs_of(request).start(service, user.actor, gallery_id, items)
    return RedirectResponse(f"/galleries/{gallery_id}?job={job.id}", status_code=303)


@router.get("/galleries/{gallery_id}/jobs/{job_id}")
def job_progress(request: Request, gallery_id: int, job_id: str, user: User) -> HTMLResponse:
    job = jobs_of(request).get(user.actor, job_id)
    return page(request, "job.html", job=job, gallery_id=gallery_id)


# --- policy -----------------------------------------------------------------------------------


@router.get("/policy")
def policy(request: Request, user: User, error: str = "") -> HTMLResponse:
    active = service_of(request).policy.active(user.actor)
    profile = active.profile if active else None
    return page(request, "policy.html", title="Policy", active=active,
                sentences=explain(profile) if profile else [], warnings=profile_warnings(profile) if profile else [],
                shipped=shipped_profiles(), error=error)  # fmt: skip


@router.post("/policy")
async def activate(request: Request, user: User) -> Response:
    form = await checked_form(request)
    service = service_of(request)
    try:
        text = await forms.upload(form, "profile_file", 200_000, "profile", required=False)
        if text is not None:
            await blocking(service.policy.activate_policy_text, user.actor, text.decode("utf-8", "replace"))
        else:
            name = forms.text(form, "profile")
            if name not in shipped_profiles():  # a name, never a path on the server
                raise InvalidInput(f"choose one of the shipped profiles: {', '.join(shipped_profiles())}")
            await blocking(service.policy.activate_policy, user.actor, name)
    except FaceDocketError as error:
        return await blocking(policy, request, user, str(error))
    return RedirectResponse("/policy", status_code=303)
