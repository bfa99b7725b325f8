"""Agencies, users and tokens on the command line: each command calls one method of the
service's accounts area. An admin who creates a user is handed an activation token, which
only makes the user's own token (`facedocket token create --token ACTIVATION`).
"""

from __future__ import annotations

import click

from facedocket.cli import cli
from facedocket.cli.common import ID, echo
from facedocket.cli.service import _actor, _service, _show, json_option, token_option
from facedocket.service import IssuedToken
from facedocket.vocab import ROLES


@cli.group()
def agency() -> None:
    """Agencies (tenants). Only the operator agency's admins create them."""


@agency.command("create")
@click.argument("name")
@click.option("--admin", "admin_username", required=True, help="Username of the new agency's first admin.")
@token_option
@json_option
@click.pass_context
def agency_create(ctx: click.Context, name: str, admin_username: str, token: str | None, as_json: bool) -> None:
    """Create agency NAME with a first admin (operator admins); prints the admin's activation
    token once. Hand it to the admin: it only makes their own token (`facedocket token create`)."""
    info, issued = _service(ctx).accounts.create_agency(_actor(ctx, token), name, admin_username)
    _show(
        {"agency": info, "token": issued},
        as_json,
        f"agency {info.id} {info.name!r}; {_activation_text(issued)}",
    )


def _activation_text(issued: IssuedToken) -> str:
    expires = f"{issued.expires:%Y-%m-%d %H:%M %Z}".strip() if issued.expires else "-"
    return (
        f"activation token for {issued.username} (valid until {expires}; hand it to them: it only makes their "
        f"own token, once, with `facedocket token create --token ...`): {issued.secret}"
    )


@agency.command("list")
@token_option
@json_option
@click.pass_context
def agency_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List the agencies you can see."""
    agencies = _service(ctx).accounts.list_agencies(_actor(ctx, token))
    _show(
        agencies,
        as_json,
        "\n".join(f"{a.id}\t{a.name}{' (operator)' if a.operator else ''}" for a in agencies),
    )


@cli.group()
def user() -> None:
    """Users of your agency and their roles."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The user's role.")
@token_option
@json_option
@click.pass_context
def user_create(ctx: click.Context, username: str, role: str, token: str | None, as_json: bool) -> None:
    """Create USERNAME in your agency (admins only); prints their activation token once.

    Hand the activation token to the user: it does one thing, once, within
    FACEDOCKET_ACTIVATION_TTL_HOURS: make the user's own token (`facedocket token create
    --token ACTIVATION`). So nobody but the user ever holds a token that acts as them.
    """
    info, issued = _service(ctx).accounts.create_user(_actor(ctx, token), username, role)
    _show(
        {"user": info, "token": issued},
        as_json,
        f"user {info.id} {info.username} ({info.role}); {_activation_text(issued)}",
    )


@user.command("activation")
@click.argument("user_id", type=ID)
@token_option
@json_option
@click.pass_context
def user_activation(ctx: click.Context, user_id: int, token: str | None, as_json: bool) -> None:
    """Hand out a new activation token for USER_ID (admins): a lost token, or a user
    reactivated (their old tokens stay revoked). Older activation tokens stop working."""
    issued = _service(ctx).accounts.issue_activation(_actor(ctx, token), user_id)
    _show({"token": issued}, as_json, _activation_text(issued))


@user.command("password")
@click.argument("user_id", type=ID)
@click.option("--password", default=None,
              help="The temporary password (it must pass the password policy); default a random one.")  # fmt: skip
@token_option
@json_option
@click.pass_context
def user_password(ctx: click.Context, user_id: int, password: str | None, token: str | None, as_json: bool) -> None:
    """Set USER_ID's temporary first password for the web UI, or reset a forgotten one
    (admins); prints it once.

    It works once, within FACEDOCKET_ACTIVATION_TTL_HOURS: signing in with it at /signin only
    lets the user choose their own password, so no admin knows one that stays valid. The
    user's web sessions end.
    """
    temporary = _service(ctx).signin.set_password(_actor(ctx, token), user_id, password)
    _show({"user_id": user_id, "password": temporary}, as_json,
          f"temporary password for user {user_id} (works once, at /signin): {temporary}")  # fmt: skip


@user.command("list")
@token_option
@json_option
@click.pass_context
def user_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List your agency's users."""
    users = _service(ctx).accounts.list_users(_actor(ctx, token))
    _show(
        users,
        as_json,
        "\n".join(
            f"{u.id}\t{u.username}\t{u.role}\t{'active' if u.active else 'inactive'}\tweb password {u.password}"
            for u in users
        ),
    )


@user.command("deactivate")
@click.argument("user_id", type=ID)
@token_option
@click.pass_context
def user_deactivate(ctx: click.Context, user_id: int, token: str | None) -> None:
    """Deactivate a user: every token of theirs is revoked and every web session ends."""
    info = _service(ctx).accounts.set_user_active(_actor(ctx, token), user_id, False)
    echo(f"user {info.id} {info.username} deactivated")


@user.command("activate")
@click.argument("user_id", type=ID)
@token_option
@click.pass_context
def user_activate(ctx: click.Context, user_id: int, token: str | None) -> None:
    """Activate a deactivated user again. Their old tokens stay revoked: hand them a new
    activation token (`facedocket user activation USER_ID`)."""
    info = _service(ctx).accounts.set_user_active(_actor(ctx, token), user_id, True)
    echo(f"user {info.id} {info.username} activated; hand them an activation token")


@cli.group("token")
def token_group() -> None:
    """API tokens (only a hash is stored; a secret is shown once)."""


@token_group.command("create")
@click.option("--name", default="", help="A label for the token.")
@token_option
@json_option
@click.pass_context
def token_create(ctx: click.Context, name: str, token: str | None, as_json: bool) -> None:
    """Make yourself a new token (with a live token of yours, or the activation token an admin
    handed you, which this uses up); prints its secret once. Nobody makes a token for
    someone else. It expires after FACEDOCKET_TOKEN_TTL_DAYS days."""
    issued = _service(ctx).accounts.create_token(_actor(ctx, token), None, name)
    expires = f"{issued.expires:%Y-%m-%d}" if issued.expires else "-"
    _show(issued, as_json, f"token {issued.id} for {issued.username} (expires {expires}): {issued.secret}")


@token_group.command("revoke")
@click.argument("token_id", type=ID)
@token_option
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int, token: str | None) -> None:
    """Revoke token TOKEN_ID."""
    _service(ctx).accounts.revoke_token(_actor(ctx, token), token_id)
    echo(f"token {token_id} revoked")
