"""Policy commands: list the shipped profiles, explain one in plain sentences, check a file.

These read profiles only; they need no database and no token.
"""

from __future__ import annotations

import click

from facedocket.cli import cli
from facedocket.cli.common import _echo_json, echo
from facedocket.errors import FaceDocketError
from facedocket.governance.explain import check_file, explain
from facedocket.governance.policy import PolicyProfile, load_profile, shipped_profiles


def _load(ref: str) -> PolicyProfile:
    """A shipped profile by name or a profile file; any problem becomes a one-line error."""
    try:
        return load_profile(ref)
    except FaceDocketError as e:
        raise click.ClickException(" ".join(str(e).split())) from None


@cli.group()
def policy() -> None:
    """Policy profiles: the rules searches run under (legal bases, offences, review,
    retention, forbidden uses).

    A profile is a TOML file; FaceDocket ships one per law or policy it implements, with
    every rule citing its source. See docs/policy.md for the schema and how to write one.
    """


@policy.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (name, title, summary of each).")
def policy_list(as_json: bool) -> None:
    """List the shipped policy profiles with their titles."""
    profiles = [load_profile(name) for name in shipped_profiles()]
    if as_json:
        _echo_json([{"name": p.name, "title": p.title, "summary": p.summary} for p in profiles])
        return
    width = max((len(p.name) for p in profiles), default=0)
    for p in profiles:
        echo(f"{p.name.ljust(width)}  {p.title}")


@policy.command("show")
@click.argument("profile", metavar="NAME|FILE")
@click.option("--json", "as_json", is_flag=True, help="Print the validated profile as JSON instead.")
def policy_show(profile: str, as_json: bool) -> None:
    """Explain a policy profile in plain sentences.

    NAME is a shipped profile (see `facedocket policy list`); FILE is a profile's TOML file.
    Prints the title, the summary and one sentence per rule: legal bases, request fields,
    offences, approval and emergency deadline, probe quality and sources, score threshold
    floor, candidates, review, retention, reporting and forbidden uses.
    """
    loaded = _load(profile)
    if as_json:
        _echo_json(loaded.model_dump(mode="json"))
        return
    echo(f"{loaded.name}: {loaded.title}")
    echo()
    echo(click.wrap_text(loaded.summary, width=90))
    echo()
    for sentence in explain(loaded):
        echo(click.wrap_text(sentence, width=90, initial_indent="- ", subsequent_indent="  "))


@policy.command("check")
@click.argument("file", metavar="FILE")
@click.option("--strict", is_flag=True, help="Treat warnings as errors: exit with status 1 when there are any.")
def policy_check(file: str, strict: bool) -> None:
    """Validate a policy profile file and warn about doubtful settings.

    Prints "valid" and any warnings: settings the schema accepts but a reviewer should
    question (a score threshold floor below the model's calibrated threshold, no approval
    before a search, one reviewer for long candidate lists, probe photos kept forever, ...).
    An invalid file gets one line naming every problem, and exit status 1.
    """
    try:
        profile, warnings = check_file(file)
    except FaceDocketError as e:
        raise click.ClickException(" ".join(str(e).split())) from None
    echo(f"valid: {profile.name} ({file})")
    for warning in warnings:
        echo(f"warning: {warning}")
    if not warnings:
        echo("no warnings")
    if strict and warnings:
        raise click.ClickException(f"{len(warnings)} warning(s) and --strict")
