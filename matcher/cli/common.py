"""Shared pieces of the CLI: global state, error handling, progress, output, panels.

Exit codes: 0 success, 1 unexpected error, 2 bad input, 3 infeasible or
unsolved, 4 store unavailable, 5 locked. Errors print one clear message;
``--debug`` shows the traceback.

Output: lines for people (progress, summaries, warnings, errors) go to
stderr; stdout holds only the ``--json`` summary. ``--log FILE`` appends the
lines for people to an owner-only file as well (:func:`say`, :func:`show`,
the error message and the ``matcher`` loggers' warnings), each line with a
timestamp and the command; like the terminal lines, they hold counts and ids
only.

Help panels: ``matcher --help`` lists the commands in the panels of
:data:`PANELS`, in that order. A new command is placed by adding its name
(the name in its module's ``COMMANDS`` or ``GROUPS``) to one panel's tuple;
:mod:`matcher.cli.app` registers the commands in this order, and a command
listed in no panel fails ``tests/test_cli_help.py``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from matcher import config as config_mod
from matcher import escape as escape_text
from matcher import i18n
from matcher.errors import InputError, MatcherError
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _

__all__ = [
    "PANELS",
    "PANEL_DATA",
    "PANEL_MATCHING",
    "PANEL_NIGHTLY",
    "PANEL_PLANNING",
    "STATE",
    "ConfigOpt",
    "amount",
    "apply_language",
    "choices",
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
    "show",
    "steps",
    "write_log",
]

err_console = Console(stderr=True)

PANEL_MATCHING = N_("Proposals and decisions")
PANEL_PLANNING = N_("Planning")
PANEL_DATA = N_("Data and road network")
PANEL_NIGHTLY = N_("Nightly run")
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PANEL_MATCHING, ("match", "shortlist", "decide", "report", "demo", "placement")),
    (PANEL_PLANNING, ("gaps", "recruit", "whatif", "coverage", "resource-families",
                      "support", "waiting-stats", "stability")),
    (PANEL_DATA, ("validate", "geocode", "traveltime", "isochrones", "sample", "network")),
    (PANEL_NIGHTLY, ("nightly-load", "nightly")),
)
"""The help panels (English titles, translated by :mod:`matcher.cli.help`) and their
commands, in the order ``matcher --help`` lists them: the everyday work first. Typer
lists a panel's command groups (``network``) after its commands."""


@dataclass
class _State:
    quiet: bool = False
    json: bool = False
    json_fd: int | None = None
    debug: bool = False
    lang: i18n.Language | None = None
    log: Path | None = None
    command: str = ""


STATE = _State()


def choices(values: Iterable[str]) -> str:
    """The metavar of an option that takes one of ``values``: ``<a|b|c>``, as Typer shows enums.

    The command checks the value itself (with a translated message naming the
    allowed values), from the same tuple of values.
    """
    return "<" + "|".join(values) + ">"


def write_log(text: str) -> None:
    """Append ``text`` to the ``--log`` file, one timestamped line per line (no-op without it).

    The file is created owner-only (``0o600``) and opened in append mode for
    every write, so that lines from several commands, or a crash, never
    leave it half-written or readable by others.
    """
    if STATE.log is None:
        return
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    where = f"matcher {STATE.command}".rstrip()
    lines = "".join(f"{stamp} {where}: {line}\n" for line in text.splitlines() or [""])
    fd = os.open(STATE.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o600)
        os.write(fd, lines.encode("utf-8"))
    finally:
        os.close(fd)


class LogFileHandler(logging.Handler):
    """Send the ``matcher`` loggers' records to the ``--log`` file (counts and ids only)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_log(self.format(record))
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


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
            write_log(f"{lead} {exc}")
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print(escape(_("interrupted; nothing was written")), highlight=False)
            write_log(_("interrupted; nothing was written"))
            raise typer.Exit(code=130) from None
        except Exception as exc:
            if STATE.debug:
                raise
            detail = _("{kind}: {message} (run with --debug for the traceback)").format(
                kind=type(exc).__name__, message=str(exc))
            lead = _("unexpected error:")
            err_console.print(f"[bold red]{escape(lead)}[/] {escape(detail)}", highlight=False)
            write_log(f"{lead} {detail}")
            raise typer.Exit(code=1) from None


def progress_columns() -> tuple[ProgressColumn, ...]:
    """The columns of every progress bar: what, bar, ``done/total`` (blank while unknown), time."""
    return (TextColumn("{task.description}"), BarColumn(), _Counts(), TimeElapsedColumn())


class _Counts(ProgressColumn):
    """``done/total``, or nothing while the total is not known yet (never ``0/None``)."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{task.completed:g}/{task.total:g}", style="progress.download")


@contextlib.contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``(done, total)`` callback that drives a rich progress bar on stderr.

    ``total`` (when known before the work starts) is shown from the start;
    else the bar pulses until the first call gives it. Nothing is shown with
    ``--quiet`` or when stderr is not a terminal (the bar is transient).
    """
    if STATE.quiet:
        yield lambda _d, _t: None
        return
    with Progress(*progress_columns(), console=err_console, transient=True) as bar:
        task = bar.add_task(escape_text.terminal(description), total=total)

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
    """Print a line for people on stderr (plain text: brackets in ids stay as they are).

    Also appended to the ``--log`` file, with ``--quiet`` too.
    """
    if not STATE.quiet:
        err_console.print(message, highlight=False, markup=False)
    write_log(message)


def show(renderable: RenderableType) -> None:
    """Print a rich table (or other renderable) for people on stderr, and to the ``--log`` file."""
    if not STATE.quiet:
        err_console.print(renderable)
    if STATE.log is not None:
        buffer = io.StringIO()
        Console(file=buffer, width=100, color_system=None, force_terminal=False).print(renderable)
        write_log(buffer.getvalue().rstrip("\n"))


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


