"""``iwp-trainer ask [--json] [--top N] [QUESTION...]``: answer a question from the knowledge base.

For a person it prints the answer, its source and related questions, or says plainly that there
is no confident answer and lists the closest topics. With ``--json`` it writes one JSON object per
question; with no QUESTION it reads questions from stdin, one per line, and answers each in order:

    {"question": str, "answered": bool,
     "answers": [{"id", "title", "body" (the Markdown answer), "source", "score"}, ...]}

``answers`` holds up to ``--top`` matches, best first, also when ``answered`` is false (they are then
the closest topics, not an answer).

Imports are deferred to :func:`run` so ``iwp-trainer --help`` and other commands stay quick.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any, TextIO

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
FALLBACK_ROUTES = ("For anything the knowledge base does not cover, ask your line manager or district "
                   "support (the usual routes named in the IWP trial FAQ, section 7: Training and Support).")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


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
    parser.add_argument("--top", type=_positive, default=3, metavar="N",
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


def print_answer(answer: Any, kb: Any, out: TextIO, width: int = 88) -> None:
    """The human-readable form of an :class:`~iwp_trainer.answer.Answer`."""
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


def answer_json(answer: Any) -> dict[str, Any]:
    """The ``--json`` record of one answer."""
    return {
        "question": answer.question,
        "answered": answer.answered,
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


def _stdin_questions() -> Any:
    """Questions from stdin, one per line; undecodable bytes are replaced, never fatal."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        for line in sys.stdin:
            yield line.rstrip("\r\n")
        return
    for raw in stream:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


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
    if kb.diagnostics:
        sys.stderr.write(f"iwp-trainer ask: warning: {len(kb.diagnostics)} problem(s) in the knowledge "
                         f"base; the affected entries are skipped:\n")
        print_diagnostics(kb.diagnostics, sys.stderr)
    if not kb.entries:
        _error(f"the knowledge base in {args.kb} has no valid entries")
        answerer.close()
        return EXIT_ERROR
    out = sys.stdout
    try:
        questions = [question] if question is not None else _stdin_questions()
        first = True
        for text in questions:
            answer = answerer.ask(text, top=args.top)
            if args.json:
                out.write(json.dumps(answer_json(answer)) + "\n")
            else:
                if not first:
                    out.write("\n" + "-" * 40 + "\n\n")
                print_answer(answer, kb, out)
            out.flush()
            first = False
    finally:
        answerer.close()
    return EXIT_OK
