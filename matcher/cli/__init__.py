"""Typer command-line interface: ``matcher ...`` (see ``matcher --help``).

Each command group lives in its own module; :mod:`matcher.cli.app` joins them.
"""

from matcher.cli.app import app, main

__all__ = ["app", "main"]
