"""The scoring rules, once: one dimension's share of the best, and an attempt's overall score.

The engine scores attempts with these (and re-exports them); the progress store, the reports and
the xAPI export read recorded attempts with the same functions, so a learner, a trainer and an
LRS always see the same number. The store must not depend on the engine (it records whatever
the engine decided), so the rules live here, with no dependencies at all.
"""

from __future__ import annotations

from typing import Iterable


def dimension_fraction(earned: int, best: int) -> float:
    """One dimension's share of the best achievable: never below 0; with nothing to earn, full
    marks unless points were lost."""
    if best > 0:
        return max(0.0, earned / best)
    return 1.0 if earned >= best else 0.0


def reaches(earned: int, best: int, pass_mark: float) -> bool:
    """The pass rule for one dimension: earned >= pass_mark x best (with nothing to earn, no loss)."""
    return earned >= pass_mark * best - 1e-9 if best > 0 else earned >= best


def attempt_score(fractions: Iterable[float]) -> float:
    """An attempt's overall score: its weakest dimension's share of the best, in [0, 1] (0 when
    nothing is scored).

    It is the number the pass mark is measured against: an attempt passes when it reaches an
    ending, takes no critical choice, and this score is at least the pass mark. The result screen,
    the Practise list, Progress, ``report`` and the xAPI ``result.score.scaled`` all show it.
    """
    values = list(fractions)
    return min(1.0, max(0.0, min(values))) if values else 0.0
