"""Hand-computed examples for the accuracy metrics, ties and empty inputs included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facedocket.matching import metrics

GENUINE = [0.9, 0.8, 0.7, 0.4, -math.inf]  # the last: a pair with a detection failure
IMPOSTOR = [0.75, 0.5, 0.3, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3]


def test_fmr_and_fnmr_at_threshold_count_ties_as_matches() -> None:
    assert metrics.fmr_at(IMPOSTOR, 0.3) == pytest.approx(4 / 10)  # 0.75, 0.5, 0.3, 0.3
    assert metrics.fnmr_at(GENUINE, 0.7) == pytest.approx(2 / 5)  # 0.4 and the failure
    assert metrics.fnmr_at(GENUINE, 0.9) == pytest.approx(4 / 5)


def test_detection_failure_fails_every_threshold() -> None:
    assert metrics.fnmr_at(GENUINE, -1e9) == pytest.approx(1 / 5)


def test_threshold_for_rate_allows_floor_of_target_times_n() -> None:
    # 10 impostors, FMR 0.1 allows one false match: threshold just above 0.5.
    t = metrics.threshold_for_rate(IMPOSTOR, 0.1)
    assert 0.5 < t < 0.5001
    assert metrics.fmr_at(IMPOSTOR, t) == pytest.approx(0.1)


def test_threshold_rejects_tied_scores_together() -> None:
    # FMR 0.3 allows three; the third and fourth highest tie at 0.3, so both must go,
    # leaving two false matches (0.2), never four (0.4).
    t = metrics.threshold_for_rate(IMPOSTOR, 0.3)
    assert metrics.fmr_at(IMPOSTOR, t) == pytest.approx(0.2)


def test_threshold_for_rate_edge_cases() -> None:
    assert math.isnan(metrics.threshold_for_rate([], 0.1))
    assert metrics.threshold_for_rate([0.1, 0.2], 1.0) == -math.inf
    # FMR 0 on [0.2, 0.1]: above the highest impostor.
    assert metrics.threshold_for_rate([0.2, 0.1], 0.0) == pytest.approx(0.2)
    assert metrics.threshold_for_rate([0.2, 0.1], 0.0) > 0.2


def test_fnmr_at_fmr() -> None:
    result = metrics.fnmr_at_fmr(GENUINE, IMPOSTOR, [0.1, 0.0])
    assert result[0.1] == pytest.approx(2 / 5)  # threshold just above 0.5: 0.4 and failure fail
    assert result[0.0] == pytest.approx(3 / 5)  # just above 0.75: 0.7 fails as well


def test_eer_hand_computed() -> None:
    genuine = [0.9, 0.8, 0.6, 0.3]
    impostor = [0.7, 0.4, 0.2, 0.1]
    # At t = 0.6: FMR = 1/4 (0.7), FNMR = 1/4 (0.3): equal, EER = 0.25.
    assert metrics.eer(genuine, impostor) == pytest.approx(0.25)


def test_eer_perfect_separation_is_zero() -> None:
    assert metrics.eer([0.9, 0.8], [0.1, 0.2]) == 0.0


def test_empty_inputs_give_nan() -> None:
    assert math.isnan(metrics.fmr_at([], 0.5))
    assert math.isnan(metrics.fnmr_at([], 0.5))
    assert math.isnan(metrics.eer([], [0.1]))
    assert metrics.det_curve([], []) == []
    assert math.isnan(metrics.rank_hit_rate([], 1))
    assert math.isnan(metrics.fnir_at([], [], 0.5))


def test_det_curve_points() -> None:
    points = metrics.det_curve([0.9, 0.5], [0.5, 0.1])
    assert [(p.threshold, p.fmr, p.fnmr) for p in points] == [
        (0.9, 0.0, 0.5),
        (0.5, 0.5, 0.0),
        (0.1, 1.0, 0.0),
    ]
    # Just above 0.5 the genuine 0.5 fails and the impostor 0.5 no longer matches.
    assert metrics.fnmr_at([0.9, 0.5], np.nextafter(0.5, 1)) == 0.5
    assert metrics.fmr_at([0.5, 0.1], np.nextafter(0.5, 1)) == 0.0


def test_det_curve_thinning_keeps_ends() -> None:
    rng = np.random.default_rng(1)
    points = metrics.det_curve(rng.random(500), rng.random(500), max_points=20)
    assert len(points) <= 20
    assert points[0].fmr <= points[-1].fmr


def test_rank_hit_rate() -> None:
    ranks = [1, 2, None, 1, 5]
    assert metrics.rank_hit_rate(ranks, 1) == pytest.approx(2 / 5)
    assert metrics.rank_hit_rate(ranks, 5) == pytest.approx(4 / 5)


def test_fnir_at_fpir_hand_computed() -> None:
    ranks = [1, 1, 2, None]
    mate_scores = [0.9, 0.6, 0.8, -math.inf]
    nonmated_top = [0.7, 0.5, 0.4, 0.3]
    # FPIR 0.25 allows one non-mated search over threshold: t just above 0.5.
    # Mates returned (rank <= 1, score >= t): 0.9 and 0.6. FNIR = 2/4.
    assert metrics.fnir_at_fpir(ranks, mate_scores, nonmated_top, [0.25], max_rank=1)[0.25] == pytest.approx(0.5)
    # Without a rank limit the rank-2 mate at 0.8 counts too: FNIR = 1/4.
    assert metrics.fnir_at_fpir(ranks, mate_scores, nonmated_top, [0.25])[0.25] == pytest.approx(0.25)
    assert metrics.fpir_at(nonmated_top, 0.5) == pytest.approx(0.5)  # 0.7 and 0.5 (ties count)
    assert metrics.fpir_at(nonmated_top, 0.6) == pytest.approx(0.25)


def test_fnir_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        metrics.fnir_at([1, 2], [0.5], 0.1)
