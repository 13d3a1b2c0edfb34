"""The scoring rules, defined once: a dimension's share and an attempt's one score."""

from __future__ import annotations

from iwp_trainer import engine
from iwp_trainer.scoring import attempt_score, dimension_fraction, reaches


def test_a_dimensions_share_never_goes_below_zero() -> None:
    assert dimension_fraction(3, 4) == 0.75
    assert dimension_fraction(-1, 3) == 0.0
    assert dimension_fraction(0, 0) == 1.0 and dimension_fraction(-1, 0) == 0.0


def test_the_score_is_the_weakest_dimension_and_matches_the_pass_rule() -> None:
    assert attempt_score([1 / 3, 1.0, 1.0]) == 1 / 3  # not the mean (78%) nor the share of all points
    assert attempt_score([]) == 0.0
    assert attempt_score([2.0]) == 1.0  # recorded data outside [0, 1] is kept within it
    # every dimension reaches the pass mark exactly when the weakest one does
    for shares in ([0.7, 0.9], [0.69, 1.0], [1.0, 1.0]):
        points = [(round(f * 100), 100) for f in shares]
        assert all(reaches(e, b, 0.7) for e, b in points) == (attempt_score(shares) >= 0.7)


def test_the_engine_uses_these_rules() -> None:
    assert engine.attempt_score is attempt_score and engine.dimension_fraction is dimension_fraction
