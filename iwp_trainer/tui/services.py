"""The thin layer between the app and the core modules.

The loaders, the answerer and the store are opened here, and progress is read back through here, so
one place turns an unexpected failure into a ``Diagnostic`` the Problems screen can list (the app must
start with whatever is valid) or into "recording is off", and one place adapts if a core API shifts.
Nothing here imports Textual, so it can be tested on its own.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from iwp_trainer import store as store_module
from iwp_trainer.diagnostics import Diagnostic
from iwp_trainer.scoring import attempt_score
from iwp_trainer.store import ProgressStore
from iwp_trainer.tui.safe import notify


@dataclass
class Library:
    """Everything read from the trainers' files: the KB, the scenarios and every problem found."""

    kb: Any = None
    scenarios: dict[str, Any] = field(default_factory=dict)
    dimensions: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cited_by: dict[str, list[Any]] = field(default_factory=dict)
    not_loaded: list[str] = field(default_factory=list)  # scenario files left out, with errors
    not_loaded_for_kb: list[str] = field(default_factory=list)  # ...only because of cites (SC303)

    def not_loaded_note(self) -> str:
        """"5 scenarios not loaded: see Problems (F6)", or "" when every scenario file loaded."""
        count = len(self.not_loaded)
        if not count:
            return ""
        note = f"{count} scenario{'s' if count != 1 else ''} not loaded: see Problems (F6)"
        kb = len(self.not_loaded_for_kb)
        if kb == 1 == count:
            note += ". It cites a knowledge-base entry that did not load"
        elif kb:
            who = "All of them cite" if kb == count else f"{kb} of them cite"
            note += f". {who} knowledge-base entries that did not load"
        return note + "."

    @property
    def entries(self) -> dict[str, Any]:
        return dict(getattr(self.kb, "entries", {}) or {})

    @property
    def glossary(self) -> Any:
        return getattr(self.kb, "glossary", None)

    def entry(self, entry_id: str) -> Any | None:
        return self.entries.get(entry_id)

    def dimension_name(self, dim_id: str) -> str:
        """A dimension's display name, falling back to its id made readable."""
        dim = self.dimensions.get(dim_id)
        name = getattr(dim, "name", "") if dim is not None else ""
        return name or dim_id.replace("-", " ").replace("_", " ").capitalize()


def _crash(code: str, where: Path, exc: BaseException) -> Diagnostic:
    """A loader that raised instead of reporting: still one clear line, never a traceback."""
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    detail = f" ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
    return Diagnostic.error(code, f"could not be read: {type(exc).__name__}: {exc}{detail}", where)


def load_library(kb_dir: Path, scenarios_dir: Path) -> Library:
    """Read the KB and the scenarios, keeping everything valid and collecting every problem."""
    lib = Library()
    try:
        from iwp_trainer.kb import load_kb

        lib.kb = load_kb(kb_dir)
        lib.diagnostics.extend(getattr(lib.kb, "diagnostics", []) or [])
    except Exception as exc:  # a broken loader must not stop the app from starting
        lib.diagnostics.append(_crash("kb-unreadable", kb_dir, exc))
    try:
        from iwp_trainer.scenario_loader import load_scenarios

        # When no KB entry could be read, do not also reject every scenario for its cites: the one
        # problem to fix is the KB, and the scenarios can still be practised.
        sset = load_scenarios(scenarios_dir, set(lib.entries) if lib.entries else None)
        lib.scenarios = dict(sset.scenarios)
        lib.dimensions = dict(getattr(sset, "dimensions", {}) or {})
        lib.diagnostics.extend(getattr(sset, "diagnostics", []) or [])
    except Exception as exc:
        lib.diagnostics.append(_crash("scenarios-unreadable", scenarios_dir, exc))
    _count_not_loaded(lib, scenarios_dir)
    for scenario in lib.scenarios.values():
        cited: set[str] = set()
        for node in scenario.nodes.values():
            for choice in node.choices:
                cited.update(choice.cites)
        for entry_id in sorted(cited):
            lib.cited_by.setdefault(entry_id, []).append(scenario)
    return lib


def _count_not_loaded(lib: Library, scenarios_dir: Path) -> None:
    """Which scenario files did not load, and which of them only because a cited KB entry is
    missing (often one KB typo that drops several scenarios), so Practise can say so."""
    try:
        from iwp_trainer.scenario_loader import scenario_files

        files = [str(p) for p in scenario_files(scenarios_dir)]
    except Exception:
        return
    loaded = {str(getattr(s, "path", "")) for s in lib.scenarios.values()}
    errors: dict[str, set[str]] = {}
    for diag in lib.diagnostics:
        if diag.severity == "error":
            errors.setdefault(diag.file, set()).add(diag.code)
    lib.not_loaded = [f for f in files if f not in loaded]
    lib.not_loaded_for_kb = [f for f in lib.not_loaded if errors.get(f) == {"SC303"}]


def open_answerer(
    kb_dir: Path, index_dir: Path, progress: Callable[[int, int], None] | None = None
) -> Any:
    """Open (building if needed) the search index behind Ask."""
    from iwp_trainer.answer import open_answerer as _open

    return _open(kb_dir, index_dir, progress=progress)


def glossary_terms(glossary: Any) -> list[tuple[str, str]]:
    """(term, meaning) pairs from whatever shape the glossary object has, sorted by term."""
    if glossary is None:
        return []
    terms = getattr(glossary, "terms", glossary)
    items: Iterable[Any]
    if isinstance(terms, dict):
        items = terms.items()
    else:
        items = ((getattr(t, "term", str(t)), t) for t in terms)
    out: list[tuple[str, str]] = []
    for term, value in items:
        meaning = value.get("meaning", "") if isinstance(value, dict) else getattr(value, "meaning", value)
        out.append((str(getattr(value, "term", term)), str(meaning)))
    return sorted(out, key=lambda pair: pair[0].casefold())


# --- progress recording ------------------------------------------------------------------------


def open_store(db_path: Path | str) -> tuple[ProgressStore, str | None]:
    """The progress store, or an in-memory one plus the sentence saying recording to disk is off."""
    return store_module.open_store(db_path)


# --- reading progress back, whatever store is in use --------------------------------------------


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


@dataclass(frozen=True)
class DecisionView:
    """One recorded decision, as the attempt review shows it."""

    choice_id: str
    choice_text: str
    points: dict[str, int]
    is_best: bool
    critical: bool
    cites: tuple[str, ...]


@dataclass(frozen=True)
class AttemptView:
    """An attempt as the screens need it, read from the real store or the session store."""

    id: Any
    scenario_id: str
    scenario_title: str
    mode: str
    seed: int
    status: str
    passed: bool | None
    started_at: str
    finished_at: str | None
    scores: dict[str, float]  # dimension -> fraction of the best achievable
    choice_ids: tuple[str, ...] = ()
    decisions: tuple[DecisionView, ...] = ()
    ending_node: str | None = None
    scenario_sha256: str = ""

    @property
    def score(self) -> float:
        """The attempt's one overall score, by the engine's rule (the weakest dimension)."""
        return attempt_score(self.scores.values())


def scores_dict(result: Any) -> dict[str, dict[str, float]]:
    """An engine result's scores as plain data for the store."""
    return {dim: {"earned": s.earned, "best": s.best, "fraction": s.fraction} for dim, s in result.scores.items()}


def _fractions(scores: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for dim, score in (scores or {}).items():
        if isinstance(score, (int, float)):
            out[dim] = float(score)
        else:
            out[dim] = float(_field(score, "fraction", 0.0) or 0.0)
    return out


def view(attempt: Any) -> AttemptView:
    decisions = _field(attempt, "decisions", None) or []
    ordered = sorted(decisions, key=lambda d: _field(d, "seq", 0))
    choice_ids = tuple(str(_field(d, "choice_id")) for d in ordered)
    decision_views = tuple(
        DecisionView(str(_field(d, "choice_id")), str(_field(d, "choice_text", "")), dict(_field(d, "points", {}) or {}),
                     bool(_field(d, "is_best", False)), bool(_field(d, "critical", False)),
                     tuple(_field(d, "cites", ()) or ()))
        for d in ordered)
    status = str(_field(attempt, "status", "") or "")
    finished_at = _field(attempt, "finished_at")
    passed = _field(attempt, "passed")
    if status in ("passed", "failed", "finished"):  # the store records the outcome as the status
        passed = status == "passed" if passed is None else passed
        status = "finished"
    elif not status:
        status = "finished" if passed is not None else "in_progress"
    return AttemptView(
        id=_field(attempt, "id"),
        scenario_id=str(_field(attempt, "scenario_id", "")),
        scenario_title=str(_field(attempt, "scenario_title", "") or _field(attempt, "scenario_id", "")),
        mode=str(_field(attempt, "mode", "practice")),
        seed=int(_field(attempt, "seed", 0) or 0),
        status=status,
        passed=None if passed is None else bool(passed),
        started_at=str(_field(attempt, "started_at", "") or ""),
        finished_at=None if finished_at is None else str(finished_at),
        scores=_fractions(_field(attempt, "scores", {})),
        choice_ids=choice_ids,
        decisions=decision_views,
        ending_node=_field(attempt, "ending_node"),
        scenario_sha256=str(_field(attempt, "scenario_sha256", "") or ""),
    )


def attempts(store: Any, learner: str) -> list[AttemptView]:
    """Every attempt by this learner, oldest first."""
    try:
        rows = store.attempts(learner=learner)
    except Exception:
        return []
    views = [view(a) for a in rows]
    return sorted(views, key=lambda a: (a.started_at, str(a.id)))


def unfinished(store: Any, learner: str) -> list[AttemptView]:
    try:
        rows = store.unfinished_attempts(learner)
    except Exception:
        return []
    return [view(a) for a in rows]


def best_by_scenario(store: Any, learner: str) -> dict[str, AttemptView]:
    """Each scenario's best finished attempt, by the store's one rule (``ProgressStore.best_results``:
    a pass beats a fail, then the higher score, then the more recent)."""
    try:
        best = store.best_results(learner)
    except Exception:
        return {}
    return {scenario_id: view(attempt) for scenario_id, attempt in best.items()}


def save_progress(store: Any, attempt_id: Any, *, start: dict[str, Any] | None = None,
                  decision: dict[str, Any] | None = None, finish: dict[str, Any] | None = None) -> Any:
    """Record what playing needs, in order: the attempt (``start``, when it has no id yet), then one
    decision (given its ``outcome`` when it reaches an ending: one transaction) or the ``finish`` of
    an attempt already at its ending. Returns the attempt id.

    Each step is retried while another program holds the write lock (``store.retrying``), so this
    can take seconds: the app calls it in a thread worker. Raises ``StoreError`` when it still cannot
    be saved, and the caller then stops at that decision."""
    tries = {"attempts": store_module.SAVE_ATTEMPTS, "pause": store_module.SAVE_PAUSE}
    if attempt_id is None and start is not None:
        attempt_id = store_module.retrying(lambda: store.start_attempt(**start), **tries)
    if attempt_id is None:
        raise store_module.StoreError("the attempt could not be recorded")
    if decision is not None:
        store_module.retrying(lambda: store.record_decision(attempt_id, **decision), **tries)
    if finish is not None:
        store_module.retrying(lambda: store.finish_attempt(attempt_id, **finish), **tries)
    return attempt_id


def abandon(store: Any, attempt_ids: list[Any]) -> list[str]:
    """Give up these unfinished attempts, each retried while another program holds the write lock
    (as saves are), so this can take seconds: the app calls it in a thread worker. Returns what
    could not be done, worded for the user (those attempts stay unfinished; nothing is lost)."""
    tries = {"attempts": store_module.SAVE_ATTEMPTS, "pause": store_module.SAVE_PAUSE}
    errors = []
    for attempt_id in attempt_ids:
        try:
            store_module.retrying(lambda: store.abandon_attempt(attempt_id), **tries)
        except Exception as exc:
            errors.append(f"Could not record progress (abandon_attempt): {exc}")
    return errors


def citations(scenario: Any, entry_id: str) -> int:
    """How many of a scenario's choices cite a KB entry: how much it practises that entry."""
    return sum(entry_id in choice.cites for node in scenario.nodes.values() for choice in node.choices)


def rank_citing(scenarios: list[Any], entry_id: str, passed: set[str]) -> list[Any]:
    """Scenarios that cite an entry, best to practise first: not yet passed, then the most citations
    of the entry, then by title."""
    return sorted(scenarios, key=lambda s: (s.id in passed, -citations(s, entry_id), s.title.casefold()))


def acronyms(text: str, glossary: Any) -> list[tuple[str, str]]:
    """Glossary acronyms written as such in ``text`` (e.g. "FSF"), with the first sentence of their
    meaning, in order of first use: new coaches meet them in answers before they learn them."""
    import re

    found: list[tuple[int, str, str]] = []
    for term, meaning in glossary_terms(glossary):
        if term != term.upper() or not any(ch.isalpha() for ch in term):
            continue
        match = re.search(rf"(?<![\w&]){re.escape(term)}(?![\w&])", text)
        if match:
            first = meaning.split(". ", 1)[0].rstrip(".")
            found.append((match.start(), term, first))
    return [(term, meaning) for _pos, term, meaning in sorted(found)]
