"""Subcommands of ``iwp-trainer``; each module exposes ``register(subparsers)``."""
