"""A crash in the middle of an enrolment loses at most the batch in flight; running the
same command again enrols the rest, nothing twice, and leaves the index equal to the
database. The crash is real: the CLI runs as a subprocess and gets SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from tokens import own_token

from facedocket.service import Service
from facedocket.store.tables import TemplateRow
from facedocket.vision.pipeline import FacePipeline

from .conftest import ServiceFactory
from .support import DEV, World, copy_tree, make_world, template_count, template_ids

PHOTOS = 30
PER_PERSON = 3


def people_for_tree() -> dict[str, list[int]]:
    """The first identities (in name order) with at least PER_PERSON photos, PHOTOS photos in all."""
    chosen: dict[str, list[int]] = {}
    for folder in sorted(p for p in DEV.iterdir() if p.is_dir()):
        numbers = sorted(int(f.stem) for f in folder.glob("*.jpg") if f.stem.isdigit())
        if len(numbers) >= PER_PERSON:
            chosen[folder.name] = numbers[:PER_PERSON]
        if sum(map(len, chosen.values())) >= PHOTOS:
            break
    return chosen


def enrollable_shas(pipeline: FacePipeline, tree: Path, min_quality: float) -> set[str]:
    """SHA-256 of every photo in ``tree`` that gives a face good enough to enrol."""
    photos = sorted(tree.glob("*/*.jpg"))
    results = pipeline.run_many([str(p) for p in photos], batch_size=8)
    return {r.sha256 for r in results if r.best is not None and r.best.template.quality >= min_quality}


def cli(home: Path, gallery: str, tree: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", "from facedocket.cli import main; main()", "--home", str(home),
            "enroll", gallery, str(tree), "--batch-size", "2", *extra]  # fmt: skip


def cli_env(secret: str, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEDOCKET_")}
    env.update(FACEDOCKET_TOKEN=secret, FACEDOCKET_JITTER="false")
    if database_url:
        env["FACEDOCKET_DATABASE_URL"] = database_url
    return env


def kill_after_first_commits(service: Service, command: list[str], env: dict[str, str], cwd: Path, total: int) -> int:
    """Start the enrolment, SIGKILL it once some (not all) templates are committed; the count then."""
    log = (cwd / "first-run.log").open("wb")
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if template_count(service) >= 2:
                break
            if proc.poll() is not None:
                pytest.fail(f"the enrolment exited ({proc.returncode}) before committing: "
                            f"{(cwd / 'first-run.log').read_text()[-2000:]}")  # fmt: skip
            time.sleep(0.01)
        else:
            pytest.fail("no template was committed within 120 s")
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert alive, "the enrolment finished before it could be killed; the test proves nothing"
    assert proc.returncode == -signal.SIGKILL
    committed = template_count(service)
    assert 0 < committed < total
    return committed


def test_enrolment_killed_mid_batch_resumes_without_loss_or_duplicates(
    service: Service, service_factory: ServiceFactory, database_url: str, fast_pipeline: FacePipeline, tmp_path: Path
) -> None:
    world: World = make_world(service)
    _info, activation = service.accounts.create_user(world.admin, "night-shift", "examiner")
    token = own_token(service, activation)
    tree = copy_tree(tmp_path / "tree", people_for_tree())
    expected = enrollable_shas(fast_pipeline, tree, service.settings.enrol_min_quality)
    assert len(list(tree.glob("*/*.jpg"))) == PHOTOS and len(expected) >= PHOTOS - 3

    home = service.settings.home
    env = cli_env(token.secret, database_url)
    command = cli(home, world.gallery.name, tree)
    committed = kill_after_first_commits(service, command, env, tmp_path, len(expected))

    done = subprocess.run([*command, "--json"], env=env, cwd=tmp_path, capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    counts = json.loads(done.stdout)["counts"]
    assert counts["already-enrolled"] == committed
    assert counts["enrolled"] + counts["already-enrolled"] == len(expected)
    assert counts["duplicate"] == 0

    with service.sessions() as session:
        shas = session.scalars(
            select(TemplateRow.source_sha256).where(TemplateRow.gallery_id == world.gallery.id)
        ).all()
    assert len(shas) == len(set(shas)) == len(expected)  # each photo exactly once
    assert set(shas) == expected  # nothing lost

    in_db = template_ids(service, world.gallery.id)
    assert service.indexes.get(world.gallery.id).ids().tolist() == in_db
    assert service.indexes.path(world.gallery.id).is_file()
    fresh = service_factory()
    assert fresh.indexes.get(world.gallery.id).ids().tolist() == in_db
