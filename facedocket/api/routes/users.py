"""Users of your agency: create (admins), list, deactivate and activate."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.schemas import (
    PasswordCreate,
    PasswordPublic,
    TokenPublic,
    UserCreate,
    UserCreatedPublic,
    UserPublic,
    UsersPublic,
    error_responses,
)

router = APIRouter(tags=["users"], responses=error_responses(401, 403, 422))


@router.post("/users", status_code=201, responses=error_responses(400, 409))
def create_user(body: UserCreate, actor: ActorDep, service: ServiceDep) -> UserCreatedPublic:
    """Create a user of your agency with a role (admins only). The answer holds the user's
    activation token, shown this once: hand it to them; it only makes their own token."""
    user, token = service.accounts.create_user(actor, body.username, body.role)
    return UserCreatedPublic(user=UserPublic.model_validate(user), token=TokenPublic.model_validate(token))


@router.get("/users")
def list_users(actor: ActorDep, service: ServiceDep) -> UsersPublic:
    """The users of your agency (admins, supervisors and auditors)."""
    users = [UserPublic.model_validate(u) for u in service.accounts.list_users(actor)]
    return UsersPublic(data=users, count=len(users))


@router.post("/users/{user_id}/deactivate", responses=error_responses(404, 409))
def deactivate_user(user_id: IdPath, actor: ActorDep, service: ServiceDep) -> UserPublic:
    """Deactivate a user of your agency (admins only): every token of theirs is revoked. You
    cannot deactivate yourself (409)."""
    return UserPublic.model_validate(service.accounts.set_user_active(actor, user_id, False))


@router.post("/users/{user_id}/activate", responses=error_responses(404))
def activate_user(user_id: IdPath, actor: ActorDep, service: ServiceDep) -> UserPublic:
    """Activate a user of your agency again (admins only). Their old tokens stay revoked: hand
    them a new activation token (POST /users/{user_id}/activation)."""
    return UserPublic.model_validate(service.accounts.set_user_active(actor, user_id, True))


@router.post("/users/{user_id}/activation", status_code=201, responses=error_responses(404, 409))
def issue_activation(user_id: IdPath, actor: ActorDep, service: ServiceDep) -> TokenPublic:
    """A new activation token for a user of your agency (admins): for a lost token or a
    reactivated user. It only makes the user's own token, once; older activation tokens stop."""
    return TokenPublic.model_validate(service.accounts.issue_activation(actor, user_id))


@router.post("/users/{user_id}/password", status_code=201, responses=error_responses(404, 409))
def set_password(user_id: IdPath, body: PasswordCreate, actor: ActorDep, service: ServiceDep) -> PasswordPublic:
    """Set a user's temporary first password for the web UI, or reset a forgotten one (admins).
    It works once, within activation_ttl_hours: signing in with it only lets the user choose
    their own password, so the admin never knows one that stays valid. The user's web sessions
    end. People sign in at ``/signin``; programs keep using tokens."""
    return PasswordPublic(user_id=user_id, password=service.signin.set_password(actor, user_id, body.password))
