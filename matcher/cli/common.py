"""Shared pieces of the CLI: global state, error handling, progress, output.

Exit codes: 0 success, 1 unexpected error, 2 bad input, 3 infeasible or
unsolved, 4 store unavailable, 5 locked. Errors print one clear message;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from matcher import config as config_mod
from matcher import escape as escape_text
from matcher import i18n
from matcher.errors import InputError, MatcherError
from matcher.i18n import gettext as _
from matcher.i18n import ngettext

__all__ = [
    "STATE",
    "ConfigOpt",
    "amount",
    "apply_language",
    "counts_text",
    "emit",
    "err_console",
    "errors",
    "load_config",
    "parse_bands",
    "parse_date",
    "percent",
    "progress",
    "protect_stdout",
    "say",
    "steps",
]

err_console = Console(stderr=True)


@dataclass
class _State:
    quiet: bool = False
    json: bool = False
    json_fd: int | None = None
    debug: bool = False
    lang: i18n.Language | None = None


STATE = _State()


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """Run a command in its language; turn domain errors into one message and an exit code.

    The language is ``--lang`` if given; :func:`load_config` may switch to the
    settings' ``[report] language``. Either is undone when the command ends; the
    error message is printed before, in the command's language.
    """
    with i18n.language(STATE.lang):
        try:
            yield
        except typer.Exit:
            raise
        except MatcherError as exc:
            if STATE.debug:
                raise
            lead = _("error:")
            err_console.print(f"[bold red]{escape(lead)}[/] {escape(str(exc))}",
                              highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print(escape(_("interrupted; nothing was written")), highlight=False)
            raise typer.Exit(code=130) from None
        except Exception as exc:
            if STATE.debug:
                raise
            detail = _("{kind}: {message} (run with --debug for the traceback)").format(
                kind=type(exc).__name__, message=str(exc))
            lead = _("unexpected error:")
            err_console.print(f"[bold red]{escape(lead)}[/] {escape(detail)}", highlight=False)
            raise typer.Exit(code=1) from None


@contextlib.contextmanager
def progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``(done, total)`` callback that drives a rich progress bar on stderr."""
    if STATE.quiet:
        yield lambda _d, _t: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(escape_text.terminal(description), total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextlib.contextmanager
def steps(description: str) -> Iterator[Callable[[str], None]]:
    """Yield a ``(message)`` callback that shows the current step with a spinner."""
    if STATE.quiet:
        yield lambda _m: None
        return
    shown = escape_text.terminal(description)
    with err_console.status(shown) as status:
        yield lambda msg: status.update(f"{shown}: {escape_text.terminal(msg)}")


def say(message: str) -> None:
    """Print a line for people on stderr (plain text: brackets in ids stay as they are)."""
    if not STATE.quiet:
        err_console.print(message, highlight=False, markup=False)


def emit(summary: dict[str, Any]) -> None:
    """Print the machine-readable summary on stdout when ``--json`` is on."""
    if not STATE.json:
        return
    text = json.dumps(summary, sort_keys=True, default=str)
    if STATE.json_fd is not None:
        sys.stdout.flush()
        os.write(STATE.json_fd, (text + "\n").encode())
    else:
        typer.echo(text)


def protect_stdout() -> None:
    """Keep stdout for the JSON summary only.

    Native libraries (the HiGHS banner, GDAL) may print to file descriptor 1;
    with ``--json`` that would corrupt the output a script parses. This sends
    fd 1 to stderr and keeps a private copy of the real stdout for :func:`emit`.
    Does nothing when stdout is not a real file (e.g. under a test runner).
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    if fd != 1 or STATE.json_fd is not None:
        return
    sys.stdout.flush()
    STATE.json_fd = os.dup(1)
    os.dup2(2, 1)


def parse_date(value: str | None, option: str = "--as-of") -> datetime.date:
    """Parse a date option with the engine's one date parser; ``None`` gives today.

    A plain ISO date or an ISO timestamp (with or without a zone, taken in
    Norwegian time) is accepted (:func:`matcher.tables.parse_dates`); anything
    else, such as ``2026``, is refused.
    """
    if value is None:
        return datetime.date.today()
    from matcher.tables import parse_dates

    values, bad = parse_dates([value.strip()])
    if bad[0] or not value.strip():
        raise InputError(_("{option} '{value}': use a date like 2026-11-23")
                         .format(option=option, value=value))
    return values[0].astype("datetime64[D]").item()


def parse_bands(text: str, example: str) -> list[float]:
    """Parse a comma-separated ``--bands`` option into minutes (order checked later)."""
    try:
        return [float(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise InputError(_("--bands '{text}': give numbers in minutes, e.g. {example}")
                         .format(text=text, example=example)) from None


def amount(value: float) -> str:
    """A number as short as ``{:g}`` gives it, in the current language (``2.5`` -> ``2,5``)."""
    text = f"{value:g}"
    digits = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return i18n.format_number(value, digits)


def percent(share: float, digits: int = 0) -> str:
    """Format a share (0.25) as a percentage in the current language: ``25%``, ``25 %``."""
    return _("{number}%").format(number=i18n.format_number(100.0 * share, digits))


def counts_text(counts: dict[str, int]) -> str:
    """``"60 children, 120 homes, ..."`` in the current language, for the input tables' counts."""
    return ", ".join(_count(kind, n) for kind, n in counts.items())


def _count(kind: str, n: int) -> str:
    number = i18n.format_number(n)
    if kind == "children":
        text = ngettext("{n} child", "{n} children", n)
    elif kind == "homes":
        text = ngettext("{n} home", "{n} homes", n)
    elif kind == "contacts":
        text = ngettext("{n} contact", "{n} contacts", n)
    elif kind == "placements":
        text = ngettext("{n} locked placement", "{n} locked placements", n)
    elif kind == "vetoes":
        text = ngettext("{n} veto", "{n} vetoes", n)
    elif kind == "decisions":
        text = ngettext("{n} decision", "{n} decisions", n)
    else:  # a table without a name of its own: its name is an identifier
        return f"{number} {kind}"
    return text.format(n=number)


def load_config(path: Path | None) -> config_mod.Settings:
    """Load the settings; ``--lang`` overrides ``[report] language``, which then takes effect."""
    return apply_language(config_mod.load(path))


SettingsT = TypeVar("SettingsT", bound=config_mod.Settings)


def apply_language(settings: SettingsT) -> SettingsT:
    """Make ``--lang`` (else ``[report] language``) the language of the command and the run."""
    if STATE.lang is not None:
        report = settings.report.model_copy(update={"language": STATE.lang})
        settings = settings.model_copy(update={"report": report})
    if settings.report.language is not None:
        i18n.activate(settings.report.language)
    return settings


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", exists=True, dir_okay=False, readable=True,
    help="TOML settings file (speeds, limits, weights, solver). Defaults apply without it.")]


