"""The root Typer app: global options and the command groups joined together."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from matcher import __version__, i18n
from matcher.cli import (
    continuity_cmds,
    geocode_cmds,
    match_cmds,
    network_cmds,
    nightly_cmds,
    periods_cmds,
    planning_cmds,
    report_cmds,
)
from matcher.cli import help as localized_help
from matcher.cli.common import PANELS, STATE, LogFileHandler, protect_stdout

__all__ = ["app", "main"]

app = typer.Typer(
    name="matcher",
    help="fostermatch: geospatial foster-home matching. The engine recommends; people decide.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each command module exposes COMMANDS: dict[name, function] and may expose GROUPS:
# dict[name, typer.Typer]; one line per module here. They are registered in the order
# of common.PANELS, each in its panel; a name in no panel lands in Typer's own
# "Commands" panel, which Typer shows first (tests/test_cli_help.py fails on it).
_MODULES = [
    continuity_cmds,
    geocode_cmds,
    match_cmds,
    network_cmds,
    nightly_cmds,
    periods_cmds,
    planning_cmds,
    report_cmds,
]


def _register(target: typer.Typer) -> None:
    commands = {name: fn for module in _MODULES for name, fn in module.COMMANDS.items()}
    groups = {name: sub for module in _MODULES
              for name, sub in getattr(module, "GROUPS", {}).items()}
    placed: list[tuple[str, str | None]] = [(name, panel) for panel, names in PANELS
                                             for name in names]
    listed = {name for name, _panel in placed}
    placed += [(name, None) for name in [*commands, *groups] if name not in listed]
    for name, panel in placed:
        if name in groups:
            target.add_typer(groups[name], name=name, rich_help_panel=panel)
        elif name in commands:
            target.command(name, rich_help_panel=panel)(commands[name])


_register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fostermatch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Print nothing but errors.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print a machine-readable JSON summary on stdout (implies --quiet).",
    )] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    lang: Annotated[i18n.Language | None, typer.Option(
        "--lang", help="Language of reports, explanations, tables and messages: nb (bokmål, "
                       "the default), nn (nynorsk) or en. Overrides the setting report.language.",
    )] = None,
    log: Annotated[Path | None, typer.Option(
        "--log", dir_okay=False, writable=True,
        help="Also append the messages for people to this file (created owner-only; each line "
             "with a timestamp and the command; counts and ids, never names or addresses), "
             "with --quiet and --json too.",
    )] = None,
) -> None:
    """fostermatch: geospatial foster-home matching for Norwegian child welfare."""
    STATE.quiet = quiet or json_out
    STATE.json = json_out
    STATE.debug = debug
    STATE.lang = lang
    STATE.log = log
    STATE.command = ctx.invoked_subcommand or ""
    if json_out:
        protect_stdout()
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    if log is not None:
        handler = LogFileHandler(level=logging.DEBUG if debug else logging.WARNING)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into ``SystemExit`` in the CLI's own process, so temporary folders go."""
    if os.getpid() != _MAIN_PID[0]:  # a forked worker: die as SIGTERM asks
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise SystemExit(128 + signum)


_MAIN_PID = [os.getpid()]


def main() -> None:
    """Console-script entry point (also ``python cli.py``); ``--help`` speaks ``--lang``.

    SIGTERM ends the command like an error (exit code 143): every temporary
    file and folder of an unfinished write is removed.
    """
    _MAIN_PID[0] = os.getpid()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        localized_help.run(app)
    except SystemExit as exc:
        sys.exit(exc.code)
