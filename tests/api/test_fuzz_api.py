"""The REST API under schemathesis (issue 11): every operation, as every role, with data
made from its OpenAPI description (valid and invalid, boundary values such as 2**63, NaN,
lone surrogates, over-long text), answers with no server error, with a documented status
and a body of the documented shape.

A bounded, seeded pass: ``API_FUZZ_EXAMPLES`` examples per operation (default 20), about a
minute; ``make fuzz`` runs the longer pass of ``benchmarks/fuzz_api.py`` (derandomized
too: more examples reach further).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from facedocket.vision.pipeline import FacePipeline

from .fuzz_world import ROLES, FuzzWorld, openapi_schema

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
SCHEMA = openapi_schema()


@pytest.fixture(scope="module")
def fuzz(
    tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline, photo: Callable[[str, int], Path]
) -> Iterator[FuzzWorld]:
    world = FuzzWorld(tmp_path_factory.mktemp("fuzz"), pipeline, photo("Aaron_Peirsol", 1), photo("Aaron_Peirsol", 2))
    yield world
    if tally := os.environ.get("API_FUZZ_TALLY"):  # benchmarks/fuzz_api.py reads the statuses answered
        Path(tally).write_text(json.dumps(dict(sorted(world.statuses.items())), indent=1))


@SCHEMA.parametrize()
@SCHEMA.given(role=st.sampled_from(ROLES))
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema(case: Any, role: str, fuzz: FuzzWorld) -> None:
    fuzz.check(case, role)
