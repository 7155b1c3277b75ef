"""CLI commands for continuity between runs: ``matcher decide`` and ``matcher waiting-stats``.

``matcher decide`` appends one validated decision to the decisions log, in a
CSV file or in the nightly store, so that analysts need not write SQL.
``matcher waiting-stats`` writes the statistics on waiting children
(:mod:`matcher.waiting`) from the store's ``match_history`` or run folders.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from matcher import i18n
from matcher.cli.common import apply_language, choices, emit, errors, parse_date, say
from matcher.errors import InputError
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.tables.specs import ROLES

__all__ = ["COMMANDS", "STATS_MARKER", "decide", "waiting_stats"]

STATS_MARKER = ".fostermatch-waiting-stats"
"""File in every ``waiting-stats --out`` folder: only such a folder may be replaced."""


def decide(
    child_id: Annotated[str, typer.Option("--child", help="The child's id.")],
    home_id: Annotated[str, typer.Option("--home", help="The home's id.")],
    decision: Annotated[str, typer.Option(
        "--decision", metavar="<decision>",  # the help lists them by role
        help="Bufetat: proposed, family_consented, family_declined; "
                           "barneverntjenesten (kommune): approved, rejected; either: "
                           "considering.")],
    by: Annotated[str, typer.Option(
        "--by", metavar=choices(ROLES), help="The role: bufetat or kommune (barneverntjenesten).")],
    actor: Annotated[str, typer.Option(
        "--actor", help="Pseudonymous id of the person who decides (never a name).")],
    reason: Annotated[str, typer.Option(
        "--reason", help="For family_declined: no_room, not_right_match, timing or other; "
                         "for rejected: child_declined, not_suitable, closer_to_network or "
                         "other (no free text).")] = "",
    decided_on: Annotated[str | None, typer.Option(
        "--date", help="Date of the decision YYYY-MM-DD, or an ISO timestamp (default "
                       "today).")] = None,
    store_config: Annotated[Path | None, typer.Option(
        "--store", exists=True, dir_okay=False, readable=True,
        help="Nightly TOML: append to the store's decisions table (created when missing); "
             "ids are checked against the store's children and homes.")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", dir_okay=False,
        help="CSV decisions log to append to (created when missing).")] = None,
    children: Annotated[Path | None, typer.Option(
        "--children", exists=True, dir_okay=False, readable=True,
        help="With --file: check the ids against this children table (needs --homes).")]
    = None,
    homes: Annotated[Path | None, typer.Option(
        "--homes", exists=True, dir_okay=False, readable=True,
        help="With --file: check the ids against this homes table.")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="For approved: the move-in day of the placement period YYYY-MM-DD "
                        "(default the decision's date).")] = None,
    periods: Annotated[Path | None, typer.Option(
        "--periods", dir_okay=False,
        help="With --file: CSV placement_periods file where an approval opens a period "
             "(with --store: the store's table).")] = None,
) -> None:
    """Append one decision on a proposal to the decisions log, validated, atomically.

    Bufetat proposes and records the family's answer; barneverntjenesten approves
    (only after the family consented) or rejects. An approval opens a placement
    period (start: --start or the decision's date) in the store, or in --periods.
    Exit code 2 (nothing written) if the decision, the role or the log is invalid.
    """
    with errors():
        config = None
        if store_config is not None:  # first: its language is that of every message
            from matcher import nightly

            config = apply_language(nightly.load_config(store_config))
        if (store_config is None) == (file is None):
            raise InputError(_("give exactly one of --store CONFIG or --file FILE"))
        today = datetime.date.today()
        day = parse_date(decided_on, "--date")
        move_in = parse_date(start, "--start") if start is not None else day
        if start is not None and decision.strip() != "approved":
            raise InputError(_("--start is only for an approved decision; leave it out"))
        if periods is not None and store_config is not None:
            raise InputError(_("--periods is only for --file; with --store the period is "
                               "written to the store"))
        row = {"child_id": child_id.strip(), "home_id": home_id.strip(),
               "decision": decision.strip(),
               "decided_on": decided_on.strip() if decided_on else day.isoformat(),
               "by": by.strip(), "reason": reason.strip(), "actor": actor.strip()}
        if file is not None:
            from matcher.io import decision_log

            inputs = None
            if (children is None) != (homes is None):
                raise InputError(_("give both --children and --homes, or neither"))
            if children is not None and homes is not None:
                from matcher.io import readers

                inputs = readers.read_inputs(children, homes)
            log = decision_log.append_decision(file, row, inputs=inputs, today=today)
            where = str(file)
            assignments = None
        else:
            assert config is not None
            # the store's decided_on is a DATE column: the day, in Norwegian time
            log, inputs, assignments = _append_to_store(
                config, {**row, "decided_on": day.isoformat()}, today)
            where = "store"
        opened = 0
        if row["decision"] == "approved" and (config is not None or periods is not None):
            from matcher.cli.periods_cmds import record_period

            # a second transaction: if it fails, the next nightly run opens the period
            opened = record_period(config, periods, child_id=row["child_id"],
                                   home_id=row["home_id"], start=move_in, actor=row["actor"],
                                   inputs=inputs, assignments=assignments)
        say(ngettext("decision recorded: {child} -> {home} {decision} ({n} decision in the log)",
                     "decision recorded: {child} -> {home} {decision} ({n} decisions in the log)",
                     len(log.table)).format(child=row["child_id"], home=row["home_id"],
                                            decision=row["decision"],
                                            n=i18n.format_number(len(log.table))))
        if opened:
            say(_("placement period opened: {child} in {home} from {day}").format(
                child=row["child_id"], home=row["home_id"], day=move_in.isoformat()))
        emit({"command": "decide", "where": where, "decisions": len(log.table),
              "periods_opened": opened, **{k: v for k, v in row.items()}})


def _append_to_store(config: Any, row: dict[str, str], today: datetime.date
                     ) -> tuple[Any, Any, Any]:
    """Validate against the store's tables (nightly ``config``) and append in one transaction.

    Returns the log, the store's inputs and the latest run's results (for the facts of a
    placement period)."""
    import pandas as pd

    from matcher import decisions as decisions_mod
    from matcher import nightly

    store = nightly.open_store(config.store)
    with store:
        inputs, _unused = nightly.read_store(store, config.settings, today)
        new = pd.DataFrame([row])
        decisions_mod.validate(new, label="new decision", as_of=today, inputs=inputs,
                               strict_ids=True, new=True, consent=False)
        old = store.read_decisions()
        both = new if old is None else pd.concat([old.astype(object), new], ignore_index=True)
        log = decisions_mod.validate(both, label="decisions", as_of=today, inputs=inputs)
        store.append_decision(row)
        results = store.latest_results()
    return log, inputs, results


def waiting_stats(
    out: Annotated[Path, typer.Option("--out", file_okay=False,
                                      help="Folder to write (replaced atomically).")],
    store_config: Annotated[Path | None, typer.Option(
        "--store", exists=True, dir_okay=False, readable=True,
        help="Nightly TOML: read the store's match_history.")] = None,
    runs: Annotated[list[Path] | None, typer.Option(
        "--runs", exists=True, file_okay=False,
        help="Run folders of `matcher match` (each with history.csv); repeat the option.")]
    = None,
    min_cell: Annotated[int, typer.Option(
        "--min-cell", min=5, help="Suppress cells with fewer children (at least 5).")] = 5,
) -> None:
    """Write statistics on waiting children: days waiting, binding reasons, trend.

    Files: waiting.csv (median and 90th percentile days waiting by
    municipality, age band, need, urgency and sibling-group size, latest run),
    binding.csv, trend.csv (one row per run), waiting.md and trend.png. Cells
    with fewer than --min-cell children are suppressed.
    """
    from matcher import waiting
    from matcher.io import files

    with errors():
        if (store_config is None) == (not runs):
            raise InputError(_("give exactly one of --store CONFIG or --runs DIR..."))
        rows = _history_from_store(store_config) if store_config is not None else \
            _history_from_runs(runs or [])
        if rows.empty:
            raise InputError(_("no history rows: run the nightly job or `matcher match` first"))
        latest = rows[rows["run_id"] == rows.sort_values(["as_of", "run_id"])["run_id"].iloc[-1]]
        table = waiting.waiting_table(latest, min_cell=min_cell)
        binding = waiting.binding_counts(latest, min_cell=min_cell)
        trend = waiting.trend(rows, min_cell=min_cell)
        block = waiting.summary_block(latest, min_cell=min_cell)
        # a folder of other files (or a run folder) is never replaced: only an earlier
        # output of waiting-stats, which holds the marker
        with files.atomic_folder(out, marker=STATS_MARKER) as tmp:
            files.write_csv(table, tmp / "waiting.csv", formula_safe=True)
            files.write_csv(binding, tmp / "binding.csv", formula_safe=True)
            files.write_csv(trend, tmp / "trend.csv", formula_safe=True)
            title = _("Children waiting for a foster home")
            files.write_text(tmp / "waiting.md", f"# {title}\n\n" + waiting.markdown(block, trend))
            files.write_bytes(tmp / "trend.png", _trend_png(trend))
        say(ngettext("waiting statistics of {n} run written to {out}",
                     "waiting statistics of {n} runs written to {out}", trend.shape[0]).format(
            n=i18n.format_number(trend.shape[0]), out=out))
        emit({"command": "waiting-stats", "out": str(out), "runs": int(trend.shape[0]),
              "suppressed_cells": block.suppressed_cells})


def _history_from_store(path: Path) -> Any:
    from matcher import nightly

    config = apply_language(nightly.load_config(path))
    with nightly.open_store(config.store) as store:
        store.ensure_schema()
        return store.history()


def _history_from_runs(folders: list[Path]) -> Any:
    import pandas as pd

    from matcher.io.runs import read_run_table
    from matcher.run import RunSummary

    parts = []
    for folder in folders:
        path = folder / "history.csv"
        if not path.is_file() or not (folder / "summary.json").is_file():
            raise InputError(_("{folder}: no history.csv or summary.json; give run folders "
                               "written by `matcher match`").format(folder=folder))
        as_of = RunSummary.read(folder / "summary.json").as_of.isoformat()
        frame = read_run_table(path, "history")
        parts.append(frame.assign(run_id=folder.name, as_of=as_of))
    return pd.concat(parts, ignore_index=True)


def _trend_png(trend: Any) -> bytes:
    """Median and 90th-percentile days waiting per run date (matplotlib, no display)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(trend["as_of"], trend["median_days"], marker="o", label=_("median"))
    ax.plot(trend["as_of"], trend["p90_days"], marker="o", label=_("90th percentile"))
    ax.set_ylabel(_("days waiting"))
    ax.set_title(_("Waiting children (suppressed runs left out)"))
    ax.legend()
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


COMMANDS: dict[str, Callable[..., None]] = {"decide": decide, "waiting-stats": waiting_stats}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
