"""Trainers' reports over the progress store: per learner, per scenario, and gaps in the knowledge base.

Every figure comes from what was recorded when the attempt was played (scores per dimension,
decision texts, cited entries), never recomputed from scenario files that may have changed since.
The aggregation is done in SQL over indexed columns, in the database (SQLite or PostgreSQL: the
SQL is written once, in what both understand), so only the report's own rows reach Python and a
district database of 100,000 attempts reports in about a second (``bench/bench_pg.py``).

A report is plain data (:class:`Report`: columns and rows of dicts) rendered three ways: an aligned
text table for people, CSV for spreadsheets and JSON for other tools.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from iwp_trainer.safe_text import csv_cell, json_safe, one_line

from iwp_trainer.store import ProgressStore, iso

REPORTS = ("learners", "scenarios", "gaps")
TOP_WRONG = 3  # decisions listed per scenario as "most often got wrong"

# The share of the best achieved in one dimension, by the engine's rule (see DimensionResult.fraction).
# CASE rather than SQLite's MAX(a, b) / PostgreSQL's GREATEST, and DOUBLE PRECISION (REAL in SQLite,
# float8 in PostgreSQL, where REAL is only float4), so both compute exactly what Python does.
FRACTION_SQL = ("CASE WHEN s.best > 0 THEN (CASE WHEN s.earned > 0 THEN CAST(s.earned AS DOUBLE PRECISION) / s.best "
                "ELSE 0.0 END) WHEN s.earned >= s.best THEN 1.0 ELSE 0.0 END")


def _count(condition: str) -> str:
    """How many rows meet ``condition`` (PostgreSQL cannot SUM a boolean)."""
    return f"COUNT(CASE WHEN {condition} THEN 1 END)"


COUNT_FINISHED = _count("a.status IN ('passed', 'failed')")
COUNT_PASSED = _count("a.status = 'passed'")
COUNT_UNFINISHED = _count("a.status IN ('in_progress', 'abandoned')")


@dataclass(frozen=True)
class ReportFilter:
    """Which attempts (or questions) a report covers; ``None`` means no restriction."""

    learner: str | None = None
    scenario: str | None = None
    since: datetime | None = None

    def describe(self) -> str:
        parts = []
        if self.learner:
            parts.append(f"learner {self.learner}")
        if self.scenario:
            parts.append(f"scenario {self.scenario}")
        if self.since:
            parts.append(f"since {self.since.date().isoformat()}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, str | None]:
        return {"learner": self.learner, "scenario": self.scenario,
                "since": self.since.date().isoformat() if self.since else None}


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    kind: str = "text"  # text | int | fraction | time
    shorten: bool = False  # long texts are cut short in the text table (never in CSV or JSON)


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]


@dataclass
class Report:
    """One report: its tables (the first is the main one) and the message to show when it is empty."""

    name: str
    filters: ReportFilter
    tables: list[Table]
    empty_message: str
    dimensions: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.tables[0].rows

    @property
    def empty(self) -> bool:
        return not self.rows


def _attempt_where(f: ReportFilter, alias: str = "a") -> tuple[str, list[Any]]:
    """SQL conditions on attempts (joined to learners as ``l``) for a filter.

    An attempt opened and left before any decision (Next, then Esc) is no attempt at all: it is
    left out, so it never counts as unfinished."""
    where: list[str] = [f"({alias}.status IN ('passed', 'failed') OR EXISTS "
                        f"(SELECT 1 FROM decisions d0 WHERE d0.attempt_id = {alias}.id))"]
    params: list[Any] = []
    if f.learner:
        where.append("l.name = ?")
        params.append(" ".join(f.learner.split()))
    if f.scenario:
        where.append(f"{alias}.scenario_id = ?")
        params.append(f.scenario)
    if f.since:
        where.append(f"{alias}.started_at >= ?")
        params.append(iso(f.since))
    return " AND ".join(where), params


def _no_attempts(f: ReportFilter) -> str:
    return f"No attempts match ({f.describe()})." if f.describe() else "No attempts recorded yet."


def _dimension_columns(dimensions: list[str]) -> list[Column]:
    return [Column(d, d.replace("_", " ").capitalize(), "fraction") for d in dimensions]


def _dimension_averages(store: ProgressStore, group: str, where: str,
                        params: list[Any]) -> tuple[list[str], dict[Any, dict[str, float]]]:
    """Mean share of the best per group and dimension, over finished attempts only."""
    rows = store.query(
        f"SELECT {group} AS g, s.dimension AS dim, AVG({FRACTION_SQL}) AS avg "
        "FROM attempts a JOIN learners l ON l.id = a.learner_id "
        "JOIN attempt_scores s ON s.attempt_id = a.id "
        f"WHERE {where} AND a.status IN ('passed', 'failed') AND s.earned IS NOT NULL "
        "GROUP BY g, dim", params)
    out: dict[Any, dict[str, float]] = {}
    for r in rows:
        out.setdefault(r["g"], {})[r["dim"]] = float(r["avg"])
    dimensions = sorted({r["dim"] for r in rows})
    return dimensions, out


def _mean_scores(store: ProgressStore, group: str, where: str, params: list[Any]) -> dict[Any, float]:
    """Mean overall score per group over finished attempts, each attempt scored by the engine's
    one rule (:func:`~iwp_trainer.scoring.attempt_score`: its weakest dimension's share, at most 1),
    so a report agrees with the app. Computed in the database: one row per group comes back."""
    rows = store.query(
        "SELECT g, AVG(CASE WHEN score > 1.0 THEN 1.0 ELSE score END) AS score FROM ("
        f"SELECT {group} AS g, a.id AS id, MIN({FRACTION_SQL}) AS score "
        "FROM attempts a JOIN learners l ON l.id = a.learner_id "
        "JOIN attempt_scores s ON s.attempt_id = a.id "
        f"WHERE {where} AND a.status IN ('passed', 'failed') AND s.earned IS NOT NULL "
        f"GROUP BY {group}, a.id) per_attempt GROUP BY g", params)
    return {r["g"]: float(r["score"]) for r in rows}


def learners_report(store: ProgressStore, f: ReportFilter = ReportFilter()) -> Report:
    """Per learner: finished attempts, passes, mean share per dimension, unfinished, last activity."""
    where, params = _attempt_where(f)
    rows = store.query(
        "SELECT l.id AS id, l.name AS learner, "
        f"{COUNT_FINISHED} AS attempts, {COUNT_PASSED} AS passed, {COUNT_UNFINISHED} AS unfinished, "
        "MAX(COALESCE(a.ended_at, (SELECT MAX(d.decided_at) FROM decisions d WHERE d.attempt_id = a.id),"
        " a.started_at)) AS last_activity "
        "FROM attempts a JOIN learners l ON l.id = a.learner_id "
        f"WHERE {where} GROUP BY l.id, l.name ORDER BY l.name COLLATE NOCASE", params)
    dimensions, averages = _dimension_averages(store, "l.id", where, params)
    scores = _mean_scores(store, "l.id", where, params)
    out = []
    for r in rows:
        row = {"learner": r["learner"], "attempts": r["attempts"], "passed": r["passed"],
               "pass_rate": r["passed"] / r["attempts"] if r["attempts"] else None,
               "score": scores.get(r["id"])}
        for dim in dimensions:
            row[dim] = averages.get(r["id"], {}).get(dim)
        row["unfinished"] = r["unfinished"]
        row["last_activity"] = r["last_activity"]
        out.append(row)
    columns = [Column("learner", "Learner"), Column("attempts", "Attempts", "int"), Column("passed", "Passed", "int"),
               Column("pass_rate", "Pass rate", "fraction"), Column("score", "Score", "fraction"),
               *_dimension_columns(dimensions),
               Column("unfinished", "Unfinished", "int"), Column("last_activity", "Last activity", "time")]
    return Report("learners", f, [Table("Learners", columns, out)], _no_attempts(f), dimensions)


def scenarios_report(store: ProgressStore, f: ReportFilter = ReportFilter(),
                     citations: Mapping[str, str] | None = None, top: int = TOP_WRONG) -> Report:
    """Per scenario: attempts, pass rate, mean share per dimension; and the choices most often
    picked that were not the best (with how often, whether critical, and the policy they cite)."""
    where, params = _attempt_where(f)
    rows = store.query(
        "SELECT a.scenario_id AS scenario, "
        "(SELECT a3.scenario_title FROM attempts a3 WHERE a3.scenario_id = a.scenario_id "
        " ORDER BY a3.started_at DESC LIMIT 1) AS title, "
        f"{COUNT_FINISHED} AS attempts, {COUNT_PASSED} AS passed, {COUNT_UNFINISHED} AS unfinished "
        "FROM attempts a JOIN learners l ON l.id = a.learner_id "
        f"WHERE {where} GROUP BY a.scenario_id ORDER BY a.scenario_id", params)
    dimensions, averages = _dimension_averages(store, "a.scenario_id", where, params)
    scores = _mean_scores(store, "a.scenario_id", where, params)
    wrong_rows = store.query(
        "SELECT a.scenario_id AS scenario, d.choice_id AS choice_id, d.choice_text AS choice_text, "
        "MAX(d.cites) AS cites, COUNT(*) AS times, SUM(d.critical) AS critical "
        "FROM decisions d JOIN attempts a ON a.id = d.attempt_id JOIN learners l ON l.id = a.learner_id "
        f"WHERE {where} AND d.is_best = 0 "
        "GROUP BY a.scenario_id, d.choice_id, d.choice_text "
        "ORDER BY a.scenario_id, times DESC, critical DESC, d.choice_id, d.choice_text", params)
    wrong: dict[str, list[dict[str, Any]]] = {}
    for r in wrong_rows:
        picked = wrong.setdefault(r["scenario"], [])
        if len(picked) < top:
            cites = json.loads(r["cites"])
            picked.append({"scenario": r["scenario"], "choice_id": r["choice_id"], "choice_text": r["choice_text"],
                           "times": r["times"], "critical": r["critical"], "cites": cites,
                           "policy": "; ".join(_cite_label(c, citations) for c in cites)})
    out = []
    for r in rows:
        row = {"scenario": r["scenario"], "title": r["title"], "attempts": r["attempts"], "passed": r["passed"],
               "pass_rate": r["passed"] / r["attempts"] if r["attempts"] else None,
               "score": scores.get(r["scenario"])}
        for dim in dimensions:
            row[dim] = averages.get(r["scenario"], {}).get(dim)
        row["unfinished"] = r["unfinished"]
        row["most_often_wrong"] = wrong.get(r["scenario"], [])
        out.append(row)
    columns = [Column("scenario", "Scenario"), Column("title", "Title"), Column("attempts", "Attempts", "int"),
               Column("passed", "Passed", "int"), Column("pass_rate", "Pass rate", "fraction"),
               Column("score", "Score", "fraction"), *_dimension_columns(dimensions),
               Column("unfinished", "Unfinished", "int")]
    wrong_columns = [Column("scenario", "Scenario"), Column("choice_id", "Choice id"),
                     Column("choice_text", "Choice", shorten=True),
                     Column("times", "Times picked", "int"), Column("critical", "Critical", "int"),
                     Column("policy", "Policy cited")]
    tables = [Table("Scenarios", columns, out),
              Table("Decisions most often got wrong", wrong_columns,
                    [w for r in out for w in r["most_often_wrong"]])]
    return Report("scenarios", f, tables, _no_attempts(f), dimensions)


def _cite_label(entry_id: str, citations: Mapping[str, str] | None) -> str:
    source = (citations or {}).get(entry_id)
    return f"{entry_id} ({source})" if source else entry_id


def gaps_report(store: ProgressStore, f: ReportFilter = ReportFilter()) -> Report:
    """Ask questions that got no confident answer, or whose answer a coach marked not helpful,
    grouped by their normalised text (case and spacing folded), most frequent first.

    The app records each question once when asked and once more for a "not helpful" verdict, so
    asks are the rows without a verdict."""
    where, params = ["TRUE"], []
    if f.learner:
        where.append("l.name = ?")
        params.append(" ".join(f.learner.split()))
    if f.since:
        where.append("q.asked_at >= ?")
        params.append(iso(f.since))
    clause = " AND ".join(where)
    rows = store.query(
        "SELECT * FROM (SELECT q.normalised AS normalised, "
        "(SELECT q2.question FROM questions q2 WHERE q2.normalised = q.normalised ORDER BY q2.id DESC LIMIT 1)"
        " AS question, "
        f"{_count('q.helpful IS NULL')} AS asked, {_count('q.helpful IS NULL AND q.answered = 0')} AS unanswered, "
        f"{_count('q.helpful = 0')} AS not_helpful, COUNT(DISTINCT q.learner_id) AS learners, "
        "MAX(q.asked_at) AS last_asked "
        "FROM questions q LEFT JOIN learners l ON l.id = q.learner_id "
        f"WHERE {clause} GROUP BY q.normalised) gaps "
        "WHERE unanswered + not_helpful > 0 "
        "ORDER BY unanswered + not_helpful DESC, asked DESC, last_asked DESC, normalised", params)
    out = [{"question": " ".join(r["question"].split()), "unanswered": r["unanswered"], "not_helpful": r["not_helpful"],
            "asked": r["asked"], "learners": r["learners"], "last_asked": r["last_asked"]} for r in rows]
    columns = [Column("question", "Question", shorten=True), Column("unanswered", "Unanswered", "int"),
               Column("not_helpful", "Not helpful", "int"), Column("asked", "Asked", "int"),
               Column("learners", "Learners", "int"), Column("last_asked", "Last asked", "time")]
    scope = f" ({f.describe()})" if f.describe() else ""
    empty = f"No unanswered or unhelpful questions recorded yet{scope}."
    return Report("gaps", f, [Table("Knowledge-base gaps", columns, out)], empty)


def build_report(name: str, store: ProgressStore, f: ReportFilter = ReportFilter(),
                 citations: Mapping[str, str] | None = None) -> Report:
    if name == "learners":
        return learners_report(store, f)
    if name == "scenarios":
        return scenarios_report(store, f, citations)
    if name == "gaps":
        return gaps_report(store, f)
    raise ValueError(f"unknown report {name!r} (expected one of: {', '.join(REPORTS)})")


# --- rendering ------------------------------------------------------------------------------------


def _cell(value: Any, kind: str, width_limit: int | None = None) -> str:
    if value is None:
        return "-"
    if kind == "fraction":
        return f"{value * 100:.0f}%"
    if kind == "time":
        return str(value)[:16].replace("T", " ")  # minutes are enough to read; UTC
    text = one_line(value)  # a learner name or title with a line break or ESC cannot break the table
    if width_limit and len(text) > width_limit:
        text = text[: width_limit - 1] + "…"
    return text


def render_text(report: Report, max_text: int = 60) -> str:
    """Aligned tables for a terminal (numbers right-aligned, long texts shortened, times in UTC)."""
    if report.empty:
        return report.empty_message + "\n"
    parts = []
    for table in report.tables:
        if not table.rows:
            continue
        cells = [[_cell(row.get(c.key), c.kind, max_text if c.shorten else None) for c in table.columns] for row in table.rows]
        widths = [max(len(c.heading), *(len(r[i]) for r in cells)) for i, c in enumerate(table.columns)]

        def line(values: list[str]) -> str:
            out = []
            for value, column, width in zip(values, table.columns, widths):
                out.append(value.ljust(width) if column.kind in ("text", "time") else value.rjust(width))
            return "  ".join(out).rstrip()

        title = table.title + (f" ({report.filters.describe()})" if report.filters.describe() else "")
        block = [title, "", line([c.heading for c in table.columns]), line(["-" * w for w in widths])]
        block += [line(r) for r in cells]
        parts.append("\n".join(block))
    return "\n\n".join(parts) + "\n"


def _csv_value(value: Any, kind: str) -> Any:
    """One CSV cell: numbers as numbers, text through :func:`~iwp_trainer.safe_text.csv_cell` (a
    leading ``=``, ``+``, ``-``, ``@``, tab or CR is prefixed with ``'`` so a spreadsheet never runs it)."""
    if value is None:
        return ""
    if kind == "fraction":
        return f"{value:.4f}"
    return csv_cell(value)


def render_csv(report: Report) -> str:
    """CSV with a header row. A report with a second table (scenarios' most-often-wrong decisions)
    adds it after one blank line, with its own header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for n, table in enumerate(report.tables):
        if n:
            buffer.write("\n")
        writer.writerow([c.key for c in table.columns])
        for row in table.rows:
            writer.writerow([_csv_value(row.get(c.key), c.kind) for c in table.columns])
    return buffer.getvalue()


def render_json(report: Report) -> str:
    """One JSON object: the report name, the filters, the dimensions and the rows."""
    def rounded(value: Any) -> Any:
        return round(value, 4) if isinstance(value, float) else value

    rows = [{k: ([{**w} for w in v] if k == "most_often_wrong" else rounded(v)) for k, v in row.items()}
            for row in report.rows]
    payload = {"report": report.name, "filters": report.filters.to_dict(), "dimensions": report.dimensions,
               "rows": rows}
    return json_safe(json.dumps(payload, ensure_ascii=False, indent=2)) + "\n"
