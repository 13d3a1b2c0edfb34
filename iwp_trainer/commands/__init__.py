"""Subcommands of ``iwp-trainer``; each module exposes ``register(subparsers)``."""

import argparse


def positive_int(text: str) -> int:
    """argparse type for counts (--top, --seeds): a whole number of 1 or more, said plainly if not."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
