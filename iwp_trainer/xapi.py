"""Recorded attempts as xAPI 1.0.3 statements, for a Learning Record Store (LRS).

Per attempt: ``attempted`` when it started, ``answered`` for each decision (the response is the
chosen choice id; success means it was the best choice), and, once finished, ``completed`` plus
``passed`` or ``failed`` with the score (the engine's one overall score, the same number the app
shows), the duration and the score per dimension. All statements of
one attempt share one ``context.registration``.

Statement ids are UUID version 5, derived from the attempt, the verb and the decision number, so
exporting the same database again gives the same ids and an LRS does not store duplicates.

Only recorded values are used: nothing is recomputed from scenario files.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from iwp_trainer.atomic import atomic_writer
from iwp_trainer.store import Attempt, DecisionRecord

XAPI_VERSION = "1.0.3"
ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
VERBS = ("attempted", "answered", "completed", "passed", "failed")
ACTIVITY_SIMULATION = "http://adlnet.gov/expapi/activities/simulation"
ACTIVITY_INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
LANG = "en-GB"
# Placeholders under the reserved .invalid domain: an organisation sets its own with --home-page
# and --activity-base so statements from different teams are told apart.
DEFAULT_HOME_PAGE = "https://iwp-trainer.invalid"
DEFAULT_ACTIVITY_BASE = "https://iwp-trainer.invalid/xapi"


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration, to the hundredth of a second xAPI keeps: ``PT1H2M3.5S``."""
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6_000)
    secs, hundredths = divmod(rest, 100)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or hundredths or text == "PT":
        text += f"{secs}.{hundredths:02d}".rstrip("0").rstrip(".") + "S"
    return text


class StatementBuilder:
    """Turns attempts into statements for one organisation (its account home page and IRIs)."""

    def __init__(self, home_page: str = DEFAULT_HOME_PAGE, activity_base: str = DEFAULT_ACTIVITY_BASE) -> None:
        self.home_page = home_page
        self.base = activity_base.rstrip("/")
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, self.base)
        self._ext = {name: f"{self.base}/extensions/{name}" for name in
                     ("mode", "seed", "scenario-sha256", "points", "critical", "cites", "choice-text",
                      "dimension-scores", "ending")}

    # -- identities -------------------------------------------------------------------------------

    def _attempt_key(self, attempt: Attempt) -> str:
        # The db id alone is not unique across team files; with who, what and when it is.
        return f"{attempt.id}|{attempt.learner}|{attempt.scenario_id}|{attempt.started_at}"

    def statement_id(self, attempt: Attempt, verb: str, seq: int = 0) -> str:
        return str(uuid.uuid5(self.namespace, f"statement|{self._attempt_key(attempt)}|{verb}|{seq}"))

    def registration(self, attempt: Attempt) -> str:
        return str(uuid.uuid5(self.namespace, f"registration|{self._attempt_key(attempt)}"))

    def extension(self, name: str) -> str:
        return self._ext.get(name) or f"{self.base}/extensions/{name}"

    def actor(self, attempt: Attempt) -> dict[str, Any]:
        return {"objectType": "Agent", "account": {"homePage": self.home_page, "name": attempt.learner}}

    def scenario_activity(self, attempt: Attempt) -> dict[str, Any]:
        return {"objectType": "Activity", "id": f"{self.base}/scenarios/{attempt.scenario_id}",
                "definition": {"name": {LANG: attempt.scenario_title}, "type": ACTIVITY_SIMULATION}}

    def decision_activity(self, attempt: Attempt, decision: DecisionRecord) -> dict[str, Any]:
        return {"objectType": "Activity",
                "id": f"{self.base}/scenarios/{attempt.scenario_id}/nodes/{decision.node_id}",
                "definition": {"name": {LANG: f"{attempt.scenario_title}: {decision.node_id}"},
                               "type": ACTIVITY_INTERACTION, "interactionType": "choice"}}

    # -- statements -------------------------------------------------------------------------------

    def _contexts(self, attempt: Attempt) -> tuple[dict[str, Any], dict[str, Any]]:
        """The attempt's context, without and with the scenario as parent activity (built once per
        attempt: the same registration and extensions go on every statement)."""
        context: dict[str, Any] = {
            "registration": self.registration(attempt),
            "platform": "iwp-trainer",
            "language": LANG,
            "extensions": {
                self.extension("mode"): attempt.mode,
                self.extension("seed"): attempt.seed,
                self.extension("scenario-sha256"): attempt.scenario_sha256,
            },
        }
        parent = {**context, "contextActivities": {
            "parent": [{"objectType": "Activity", "id": f"{self.base}/scenarios/{attempt.scenario_id}"}]}}
        return context, parent

    def _statement(self, attempt: Attempt, verb: str, seq: int, obj: dict[str, Any], timestamp: str,
                   context: dict[str, Any], result: dict[str, Any] | None = None) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "id": self.statement_id(attempt, verb, seq),
            "actor": self.actor(attempt),
            "verb": {"id": ADL_VERBS + verb, "display": {LANG: verb}},
            "object": obj,
        }
        if result is not None:
            statement["result"] = result
        statement["context"] = context
        statement["timestamp"] = timestamp
        statement["version"] = XAPI_VERSION
        return statement

    def score(self, attempt: Attempt) -> dict[str, Any] | None:
        """The attempt's one score, as the learner saw it (the engine's rule, the weakest
        dimension): ``scaled`` in [0, 1] and ``raw`` the same as a whole percentage (0 to 100).
        ``None`` when there was nothing to earn in any dimension (no validated scenario is like
        that: SC304): no score is given then, and success and the per-dimension extension still
        say how it went. The points per dimension are in that extension."""
        if not any(s.best > 0 for s in attempt.scores.values()):
            return None
        scaled = attempt.score
        return {"scaled": round(scaled, 4), "raw": round(scaled * 100), "min": 0, "max": 100}

    def dimension_scores(self, attempt: Attempt) -> dict[str, Any]:
        return {dim: {"earned": s.earned, "best": s.best, "fraction": round(s.fraction, 4)}
                for dim, s in sorted(attempt.scores.items())}

    def statements(self, attempt: Attempt) -> Iterator[dict[str, Any]]:
        """Every statement for one attempt, in time order."""
        context, with_parent = self._contexts(attempt)
        activity = self.scenario_activity(attempt)
        yield self._statement(attempt, "attempted", 0, activity, attempt.started_at, context)
        for decision in attempt.decisions:
            result = {
                "response": decision.choice_id,
                "success": bool(decision.is_best),
                "score": {"raw": sum(decision.points.values())},
                "extensions": {
                    self.extension("points"): dict(decision.points),
                    self.extension("critical"): bool(decision.critical),
                    self.extension("cites"): list(decision.cites),
                    self.extension("choice-text"): decision.choice_text,
                },
            }
            yield self._statement(attempt, "answered", decision.seq, self.decision_activity(attempt, decision),
                                  decision.decided_at, with_parent, result)
        if attempt.status not in ("passed", "failed") or attempt.ended_at is None:
            return  # in progress or abandoned: attempted and answered only
        duration = iso_duration((datetime.fromisoformat(attempt.ended_at)
                                 - datetime.fromisoformat(attempt.started_at)).total_seconds())
        yield self._statement(attempt, "completed", 0, activity, attempt.ended_at, context,
                              {"completion": True, "duration": duration})
        passed = attempt.status == "passed"
        score = self.score(attempt)
        result = {
            **({"score": score} if score is not None else {}),
            "success": passed,
            "completion": True,
            "duration": duration,
            "extensions": {self.extension("dimension-scores"): self.dimension_scores(attempt),
                           self.extension("ending"): attempt.ending_node},
        }
        yield self._statement(attempt, "passed" if passed else "failed", 0, activity, attempt.ended_at, context,
                              result)


def statements(attempts: Iterable[Attempt], home_page: str = DEFAULT_HOME_PAGE,
               activity_base: str = DEFAULT_ACTIVITY_BASE) -> Iterator[dict[str, Any]]:
    """Statements for many attempts, attempt by attempt."""
    builder = StatementBuilder(home_page, activity_base)
    for attempt in attempts:
        yield from builder.statements(attempt)


def to_json_lines(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One compact JSON object per line."""
    for item in items:
        yield json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_json_lines_atomic(path: Path | str, lines: Iterable[str]) -> int:
    """Stream lines to a temporary file beside ``path``, then rename it into place: a reader (or an
    LRS import) never sees half a file, and a failed export leaves any earlier file untouched.
    Returns the number of lines written; raises ``OSError`` when the folder is not writable."""
    count = 0
    with atomic_writer(path) as handle:
        for line in lines:
            handle.write(line)
            count += 1
    return count
