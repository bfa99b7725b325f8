"""Users act with their own tokens: an admin hands out an activation token, and the user
makes their own token with it (the only thing an activation token does)."""

from __future__ import annotations

from facedocket.service import IssuedToken, Service


def own_token(service: Service, activation: IssuedToken, name: str = "tests") -> IssuedToken:
    """The user's own token, made with the activation token an admin handed over."""
    return service.accounts.create_token(service.accounts.authenticate(activation.secret), name=name)
