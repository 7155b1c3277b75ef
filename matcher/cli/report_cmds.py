"""CLI commands for run reports: report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from matcher.cli.common import STATE, emit, errors, say
from matcher.i18n import gettext as _

__all__ = ["COMMANDS", "report"]


def report(
    run: Annotated[Path, typer.Option(
        "--run", exists=True, file_okay=False, readable=True,
        help="Run folder written by `matcher match` (with matches.gpkg, summary.json and "
             "assignments.csv).")],
) -> None:
    """Re-render map.html, map.png and report.md of a run folder from its files.

    In the language the run was written in, unless --lang is given.

    Each file is replaced atomically, and only after all three rendered; exit
    code 2 (nothing written) if the folder lacks a file or a layer.
    """
    from matcher import report as report_mod

    with errors():
        report_mod.rerender(run, language=STATE.lang)
        files = [report_mod.MAP_HTML, report_mod.MAP_PNG, report_mod.REPORT_MD]
        say(_("re-rendered {files} in {run}").format(files=", ".join(files), run=run))
        emit({"command": "report", "run": str(run), "files": files})


COMMANDS: dict[str, Callable[..., None]] = {
    "report": report,
}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
