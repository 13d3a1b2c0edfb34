"""``iwp-trainer ask [--json] [--top N] [QUESTION...]``: answer a question from the knowledge base.

For a person it prints one of three outcomes: the answer with its source and related questions; a
"Did you mean …?" naming the likely entry (not claimed as the answer); or a plain statement that
the knowledge base does not cover the question, with only the topics that are close and the line
manager / district support route. A question that asks what a glossary term means gets the
definition, marked as such, and the KB entry about the term. With ``--json`` it writes one JSON
object per question; with no QUESTION it reads questions from stdin, one per line:

    {"question": str, "answered": bool, "question_truncated": bool,
     "outcome": "answer" | "definition" | "suggest" | "refusal",
     "did_you_mean": {"id", "title"} | null, "definition": {"term", "meaning", "entry"} | null,
     "answers": [{"id", "title", "body" (the Markdown answer), "source", "score"}, ...]}

``answered`` is true only for an answer (or a definition). ``answers`` holds up to ``--top``
matches, best first: for ``suggest`` the first is the entry offered; after a refusal they are the
closest topics above the relevance floor (possibly none). A question is at most
``MAX_QUESTION_CHARS`` (2,000) characters: a longer one is answered on its start,
``question_truncated`` says so, and the rest of its line is read past without being kept (a 300 MB
line once took 1.2 GB).

Imports are deferred to :func:`run` so ``iwp-trainer --help`` and other commands stay quick.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any, Iterator, TextIO

from iwp_trainer.commands import positive_int

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
MAX_QUESTION_CHARS = 2000  # a question longer than this is answered on its first 2,000 characters
_LINE_BYTES = MAX_QUESTION_CHARS * 4 + 4  # enough UTF-8 for that many characters, whatever they are
FALLBACK_ROUTES = ("For anything the knowledge base does not cover, ask your line manager or district "
                   "support (the usual routes named in the IWP trial FAQ, section 7: Training and Support).")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="answer a question about the IWP trial from the knowledge base",
        description="Answer a question from the knowledge base. With no QUESTION, read questions "
                    "from stdin, one per line.",
    )
    parser.add_argument("question", nargs="*", metavar="QUESTION",
                        help="the question (quote it, or give it as several words)")
    parser.add_argument("--json", action="store_true",
                        help="write one JSON object per question instead of text")
    parser.add_argument("--top", type=positive_int, default=3, metavar="N",
                        help="how many matches to give, best first (default: 3)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the search index first")
    parser.set_defaults(func=run)


def _error(message: str) -> None:
    sys.stderr.write(f"iwp-trainer ask: error: {message}\n")


def _wrap(text: str, width: int) -> str:
    out = []
    for para in text.split("\n\n"):
        lines = para.split("\n")
        wrapped = []
        for line in lines:
            indent = "  " if line.startswith("- ") else ""
            wrapped.append(textwrap.fill(line, width=width, subsequent_indent=indent) if line else "")
        out.append("\n".join(wrapped))
    return "\n\n".join(out)


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


def print_terms(question: str, kb: Any, out: TextIO) -> None:
    """Spell out the glossary terms a question used ("FSF: Flexible Support Fund.")."""
    terms = kb.glossary.find(question)
    if terms:
        out.write("\nTerms in your question:\n")
        for term in terms:
            out.write(f"  - {term.term}: {_first_sentence(term.meaning)}\n")


def print_definition(answer: Any, kb: Any, out: TextIO, width: int = 88) -> None:
    definition = answer.definition
    heading = f"{definition.term} (definition from the glossary)"
    out.write(f"{heading}\n{'=' * min(len(heading), width)}\n\n")
    out.write(textwrap.fill(f"{definition.term}: {definition.meaning}", width=width) + "\n")
    if definition.entry is not None:
        out.write(f"\nIn the knowledge base: {definition.entry.title} ({definition.entry.citation})\n")


def print_answer(answer: Any, kb: Any, out: TextIO, width: int = 88) -> None:
    """The human-readable form of an :class:`~iwp_trainer.answer.Answer`."""
    outcome = getattr(answer, "outcome", "answer" if answer.answered else "refusal")
    if outcome == "definition" and answer.definition is not None:
        print_definition(answer, kb, out, width)
        return
    if outcome == "suggest" and answer.matches:
        entry = answer.matches[0].entry
        out.write(f"Did you mean: {entry.title}\n")
        out.write(textwrap.fill("This is the closest question in the knowledge base, but it may not be what "
                                "you asked. Its answer:", width=width) + "\n\n")
        out.write(_wrap(entry.plain_body, width) + "\n\n")
        out.write(f"Source: {entry.citation}\n")
        others = [m.entry for m in answer.matches[1:]]
        if others:
            out.write("\nOther close questions:\n")
            for other in others:
                out.write(f"  - {other.title}\n")
        print_terms(answer.question, kb, out)
        out.write("\n" + textwrap.fill(FALLBACK_ROUTES, width=width) + "\n")
        return
    if answer.answered and answer.matches:
        entry = answer.matches[0].entry
        out.write(f"{entry.title}\n{'=' * min(len(entry.title), width)}\n\n")
        out.write(_wrap(entry.plain_body, width) + "\n\n")
        out.write(f"Source: {entry.citation}\n")
        related = kb.related(entry)
        if related:
            out.write("\nRelated questions:\n")
            for other in related:
                out.write(f"  - {other.title}\n")
        others = [m.entry for m in answer.matches[1:] if m.entry not in related]
        if others:
            out.write("\nAlso close:\n")
            for other in others:
                out.write(f"  - {other.title}\n")
        print_terms(answer.question, kb, out)
        return
    shown = " ".join(answer.question.split())
    if len(shown) > 80:
        shown = shown[:77] + "..."
    out.write(f'No confident answer to "{shown}" in the knowledge base.\n' if shown
              else "No question was given.\n")
    out.write(textwrap.fill(answer.reason, width=width) + "\n")
    if answer.matches:
        out.write("\nClosest topics:\n")
        for match in answer.matches:
            out.write(f"  - {match.entry.title} ({match.entry.citation})\n")
    print_terms(answer.question, kb, out)
    out.write("\n" + textwrap.fill(FALLBACK_ROUTES, width=width) + "\n")


def answer_json(answer: Any, truncated: bool = False) -> dict[str, Any]:
    """The ``--json`` record of one answer (``truncated``: the question was cut to its start)."""
    suggestion = getattr(answer, "suggestion", None)
    definition = getattr(answer, "definition", None)
    return {
        "question": answer.question,
        "answered": answer.answered,
        "question_truncated": truncated,
        "outcome": getattr(answer, "outcome", "answer" if answer.answered else "refusal"),
        "did_you_mean": {"id": suggestion.id, "title": suggestion.title} if suggestion is not None else None,
        "definition": ({"term": definition.term, "meaning": definition.meaning,
                        "entry": definition.entry.id if definition.entry is not None else None}
                       if definition is not None else None),
        "answers": [
            {
                "id": m.entry.id,
                "title": m.entry.title,
                "body": m.entry.body,
                "source": m.entry.citation,
                "score": round(float(m.score), 4),
            }
            for m in answer.matches
        ],
    }


def cap_question(text: str) -> tuple[str, bool]:
    """The question as answered: at most ``MAX_QUESTION_CHARS`` characters, and whether it was cut."""
    if len(text) > MAX_QUESTION_CHARS:
        return text[:MAX_QUESTION_CHARS], True
    return text, False


def read_questions(stream: Any) -> Iterator[tuple[str, bool]]:
    """Questions from a binary stream, one per line, each capped as :func:`cap_question` does.

    Only the start of a line is ever held: the rest of a very long one is read past in pieces and
    dropped. Undecodable bytes are replaced, never fatal."""
    while True:
        raw = stream.readline(_LINE_BYTES)
        if not raw:
            return
        cut = False
        if not raw.endswith(b"\n") and len(raw) >= _LINE_BYTES:
            cut = True
            while True:  # skip to the end of the line without keeping it
                rest = stream.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
        text, longer = cap_question(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        yield text, cut or longer


def _stdin_questions() -> Iterator[tuple[str, bool]]:
    """Questions from stdin, one per line (see :func:`read_questions`)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        for line in sys.stdin:
            yield cap_question(line.rstrip("\r\n"))
        return
    yield from read_questions(stream)


def run(args: argparse.Namespace) -> int:
    from iwp_trainer.answer import AskError, open_answerer
    from iwp_trainer.diagnostics import print_diagnostics

    question = " ".join(args.question) if args.question else None
    if question is None and sys.stdin is not None and sys.stdin.isatty() and not args.json:
        _error('give a question, e.g. iwp-trainer ask "can I move a claimant to the control group?"')
        return EXIT_USAGE
    progress = None
    if sys.stderr is not None and sys.stderr.isatty():  # first run on a big KB: show the build
        from iwp_trainer.commands.index import progress_bar

        progress, _ = progress_bar(sys.stderr)
    try:
        answerer = open_answerer(args.kb, args.index, progress=progress, rebuild=args.rebuild)
    except AskError as exc:
        _error(str(exc))
        return EXIT_ERROR
    kb = answerer.kb
    noticed = False
    if answerer.notice:
        sys.stderr.write(f"iwp-trainer ask: warning: {answerer.notice}\n")
        noticed = True
    if kb.diagnostics:
        sys.stderr.write(f"iwp-trainer ask: warning: {len(kb.diagnostics)} problem(s) in the knowledge "
                         f"base; entries with errors are skipped (one whose only problem is a control "
                         f"character is, with a placeholder for it):\n")
        print_diagnostics(kb.diagnostics, sys.stderr)
    if not kb.entries:
        _error(f"the knowledge base in {args.kb} has no valid entries")
        answerer.close()
        return EXIT_ERROR
    out = sys.stdout
    try:
        questions = [cap_question(question)] if question is not None else _stdin_questions()
        first = True
        for text, truncated in questions:
            answer = answerer.ask(text, top=args.top)
            if answerer.notice and not noticed:  # known once the semantic model has loaded (or not)
                sys.stderr.write(f"iwp-trainer ask: warning: {answerer.notice}\n")
                noticed = True
            if args.json:
                out.write(json.dumps(answer_json(answer, truncated)) + "\n")
            else:
                if not first:
                    out.write("\n" + "-" * 40 + "\n\n")
                if truncated:
                    out.write(f"(Your question was cut to its first {MAX_QUESTION_CHARS:,} characters.)\n\n")
                print_answer(answer, kb, out)
            out.flush()
            first = False
    finally:
        answerer.close()
    return EXIT_OK
