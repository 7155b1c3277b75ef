"""``--help`` in the chosen language: translate the built command tree before Click runs it.

Typer renders help texts as Rich markup, which would eat ``[scoring.pools]``
or ``[report] privacy``. :func:`localize` escapes every help text once, after
translating it (``en`` included), so that no text needs escaping by hand.
It also translates the panel titles of :data:`matcher.cli.common.PANELS` and
gives every command the epilog that says where the messages go (stderr,
``--log``).

Typer builds the help of the CLI at import time, from docstrings and ``help=``
texts, in English. :func:`run` (the console script and ``python cli.py``) reads
``--lang`` from the command line, builds the Click command once
(:func:`typer.main.get_command`), replaces every help text by its translation
(:func:`localize`) and runs it. The help follows ``--lang`` only (default
``nb``): the ``[report] language`` setting is read later, by the commands.

The help texts are messages like any other: :func:`help_texts` lists them for
``scripts/i18n.py`` and ``tests/test_i18n.py`` (Babel cannot see ``help=``
keywords or docstrings). Typer's panel titles and markers (``Options``,
``[default: ...]``, ``[required]``) are module constants of
:mod:`typer.rich_utils`, set here too. The ``Usage:`` prefix is hard-coded in
Click's formatter and stays English.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import typer
import typer.main
import typer.rich_utils
from rich.markup import escape
from typer import _click

from matcher import i18n
from matcher.i18n import N_

__all__ = ["EPILOG", "help_texts", "language_from_argv", "localize", "run"]

_CONSTANTS: dict[str, str] = {
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"),
    "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"),
    "ERRORS_PANEL_TITLE": N_("Error"),
    "ABORTED_TEXT": N_("Aborted."),
    # TRANSLATORS: {} is the default value, e.g. [default: exact]
    "DEFAULT_STRING": N_("[default: {}]"),
    "REQUIRED_LONG_STRING": N_("[required]"),
    # TRANSLATORS: Rich markup; keep [blue]...[/] and both {fields}
    "RICH_HELP": N_("Try [blue]'{command_path} {help_option}'[/] for help."),
}
"""Typer's help texts that are module constants of :mod:`typer.rich_utils`, in English."""
_HELP_OPTION = N_("Show this message and exit.")
"""Help of the ``--help`` option Click adds to every command."""
EPILOG = N_("Messages for people (progress, summaries, warnings, errors) go to stderr; "
             "stdout holds only the --json summary. So `matcher demo > log.txt` leaves "
             "log.txt empty: use `matcher --log log.txt demo` (or `2> log.txt`) to keep the "
             "messages in a file.")
"""The epilog of every command's help."""
_ENGLISH = {name: getattr(typer.rich_utils, name) for name in _CONSTANTS}
"""Typer's own values, restored for ``en``."""


def _walk(command: _click.Command, path: str,
          ctx: _click.Context | None = None) -> Iterator[tuple[str, _click.Command,
                                                                 _click.Context]]:
    """Every command of the tree under ``command``, depth first, sub-commands sorted by name."""
    here = _click.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=ctx)
    yield path, command, here
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, f"{path} {name}", here)


def help_texts(command: _click.Command | None = None) -> list[tuple[str, str]]:
    """Every help text of the CLI with where it is: ``[(text, "matcher match --out"), ...]``.

    ``command`` defaults to the built ``matcher`` command. The texts are
    exactly those Click renders (``command.help`` after Typer cleaned the
    docstring, ``short_help``, each parameter's ``help``), so that a
    translation looked up by :func:`localize` matches. The ``--help`` option
    and Typer's panel titles are ordinary ``N_`` messages of this module.
    """
    if command is None:
        from matcher.cli.app import app

        command = typer.main.get_command(app)
    found = []
    for path, cmd, _ctx in _walk(command, "matcher"):
        for text in (cmd.help, cmd.short_help):
            if text:
                found.append((text, path))
        for param in cmd.params:
            text = getattr(param, "help", None)
            if text:
                found.append((text, f"{path} {param.opts[0] if param.opts else param.name}"))
    return found


def localize(command: _click.Command, lang: str) -> _click.Command:
    """Translate the help of ``command`` and its sub-commands into ``lang``, in place.

    Sets ``help``/``short_help``, the panel title and the epilog
    (:data:`EPILOG`) of every command, ``help`` of every parameter and of each
    ``--help`` option, and Typer's panel titles in :mod:`typer.rich_utils`
    (process-wide; ``en`` restores Typer's English). A text without
    translation stays English. Every text is then escaped for Rich
    (:func:`rich.markup.escape`), so that brackets show as written. Call it
    once per built command (escaping twice would show the backslashes).
    Returns ``command``.
    """
    with i18n.language(lang):
        tr = i18n.gettext

        def text(value: str) -> str:
            return escape(tr(value))

        for name, value in _CONSTANTS.items():
            setattr(typer.rich_utils, name, _ENGLISH[name] if lang == "en" else tr(value))
        for _path, cmd, ctx in _walk(command, "matcher"):
            if cmd.help:
                cmd.help = text(cmd.help)
            if cmd.short_help:
                cmd.short_help = text(cmd.short_help)
            if getattr(cmd, "rich_help_panel", None):
                cmd.rich_help_panel = text(cmd.rich_help_panel)  # type: ignore[attr-defined]
            cmd.epilog = text(EPILOG)
            for param in cmd.params:
                if getattr(param, "help", None):
                    param.help = text(param.help)  # type: ignore[attr-defined]
            option = cmd.get_help_option(ctx)
            if option is not None:
                option.help = text(_HELP_OPTION)
    return command


def language_from_argv(argv: Sequence[str]) -> i18n.Language:
    """The ``--lang X`` or ``--lang=X`` given before the sub-command, else the default (nb).

    An unknown value gives the default here; Click then rejects it as usual.
    """
    args = list(argv)
    for i, arg in enumerate(args):
        value = None
        if arg == "--lang" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--lang="):
            value = arg.partition("=")[2]
        elif not arg.startswith("-"):
            break  # the sub-command: its options are its own
        if value is not None:
            return i18n.check(value) if value in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    return i18n.DEFAULT_LANGUAGE


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> None:
    """Run ``app`` as Typer would (standalone mode), with its help in the ``--lang`` language."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = localize(typer.main.get_command(app), language_from_argv(args))
    command(args=args)
