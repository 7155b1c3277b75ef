"""CLI commands of the nightly job: ``matcher nightly`` and ``matcher nightly-load``.

``matcher nightly`` logs JSON lines (one event per line: ``ts``, ``level``,
``logger``, ``event``, ``run_id``, ``step``, ``duration_s``, ``counts``...)
to stderr or to ``[job] log_file``; they hold counts, ids and hashes, never
coordinates, names or free text from the inputs.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TextIO

import typer

from matcher import i18n
from matcher.cli.common import STATE, apply_language, counts_text, emit, errors, say
from matcher.i18n import gettext as _

__all__ = [
    "COMMANDS",
    "JsonLinesFormatter",
    "NightlyConfigOpt",
    "json_logging",
    "nightly",
    "nightly_load",
    "sigterm_as_exit",
]

NightlyConfigOpt = Annotated[Path, typer.Option(
    "--config", exists=True, dir_okay=False, readable=True,
    help="Nightly TOML: sections store (url: a .gpkg file or postgresql+psycopg://...), "
         "network (osm, cache_dir), job, and the matcher sections travel, scoring, "
         "assignment (see docs/nightly.md).")]


class JsonLinesFormatter(logging.Formatter):
    """Format log records as one JSON object per line (with the current nightly run id)."""

    def format(self, record: logging.LogRecord) -> str:
        from matcher import nightly

        out: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        run_id = nightly.current_run_id()
        if run_id is not None:
            out["run_id"] = run_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            out["error_type"] = record.exc_info[0].__name__
        return json.dumps(out, default=str)


@contextlib.contextmanager
def json_logging(log_file: Path | None, *, level: int = logging.INFO) -> Iterator[None]:
    """Send the ``matcher`` loggers to JSON lines on stderr or ``log_file`` (owner-only)."""
    stream: TextIO | None = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        stream = os.fdopen(fd, "a", encoding="utf-8")
        handler: logging.Handler = logging.StreamHandler(stream)
    else:
        handler = logging.StreamHandler()  # stderr
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger("matcher")
    saved = (root.level, root.propagate)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if STATE.debug else level)
    root.propagate = False
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        root.propagate = saved[1]
        handler.flush()
        if stream is not None:
            stream.close()


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM (systemd stop, timeout) into SystemExit so the failure is recorded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous: Callable[..., Any] | int | None = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def nightly(
    config: NightlyConfigOpt,
    force: Annotated[bool, typer.Option(
        "--force", help="Match and write even when inputs and configuration are "
                        "unchanged since the last successful run.")] = False,
) -> None:
    """Run the nightly matching job against the configured store.

    Reads children, contacts, homes, placements and vetoes from the store
    (GeoPackage or PostGIS), builds or loads the cached road network, matches
    like `matcher match` and writes match_runs, match_results and
    match_unmatched in one transaction. Exit codes: 0 success or unchanged
    (skipped), 2 bad input, 3 infeasible, 4 store unavailable, 5 another run
    holds the lock.
    """
    from matcher import nightly as nightly_mod

    with errors():
        cfg = apply_language(nightly_mod.load_config(config))
        with json_logging(cfg.job.log_file), sigterm_as_exit():
            outcome = nightly_mod.run_nightly(cfg, force=force)
        emit({"command": "nightly", **outcome.as_dict()})
        counts = outcome.counts
        if outcome.status == "skipped":
            say(_("run {run_id}: {note}").format(run_id=outcome.run_id, note=outcome.note))
        else:
            say(_("run {run_id}: {placed} of {children} children placed, {unmatched} unmatched "
                  "({status}); results written to {store}").format(
                run_id=outcome.run_id, placed=i18n.format_number(counts["placed"]),
                children=i18n.format_number(counts["children"]),
                unmatched=i18n.format_number(counts["unmatched"]),
                status=outcome.solver_status, store=outcome.store))


def nightly_load(
    config: NightlyConfigOpt,
    source: Annotated[Path, typer.Option(
        "--from", exists=True, file_okay=False,
        help="Folder with children.csv, homes.csv and optional contacts.csv, "
             "placements.csv, vetoes.csv (as written by `matcher sample`).")],
) -> None:
    """Validate CSV input tables and store them in the nightly store (replacing them).

    Creates the GeoPackage when missing. Holds the run lock while writing, so
    it never overlaps a nightly run (exit 5 if one is running).
    """
    from matcher import nightly as nightly_mod

    with errors():
        cfg = apply_language(nightly_mod.load_config(config))
        counts = nightly_mod.load_inputs(cfg, source)
        emit({"command": "nightly-load", "counts": counts})
        say(_("stored {counts}").format(counts=counts_text(counts)))


COMMANDS: dict[str, Callable[..., None]] = {
    "nightly": nightly,
    "nightly-load": nightly_load,
}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
