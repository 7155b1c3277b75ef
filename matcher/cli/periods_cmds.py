"""CLI commands on placements after move-in: ``matcher placement end`` and ``matcher stability``.

``matcher placement end`` closes a child's open placement period (in the
nightly store or a CSV file); ``matcher stability`` writes the stability
statistics (:mod:`matcher.stability`) of the periods.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from matcher import i18n
from matcher.cli.common import apply_language, emit, errors, parse_date, say
from matcher.errors import InputError
from matcher.i18n import gettext as _

__all__ = ["COMMANDS", "GROUPS", "STABILITY_MARKER", "placement_app", "record_period",
           "stability_cmd"]

STABILITY_MARKER = ".fostermatch-stability"
"""File in every ``stability --out`` folder: only such a folder may be replaced."""

placement_app = typer.Typer(help="Placements after move-in: end a placement period.",
                            no_args_is_help=True)

_STORE_HELP = "Nightly TOML: the store's placement_periods table."
_PERIODS_HELP = "CSV placement_periods file."


@placement_app.command("end")
def end_cmd(
    child_id: Annotated[str, typer.Option("--child", help="The child's id.")],
    home_id: Annotated[str, typer.Option("--home", help="The home's id.")],
    end: Annotated[str, typer.Option("--end", help="Move-out date YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option(
        "--reason", help="planned_return_home, planned_move, unintended_move, aged_out or "
                         "other.")],
    by: Annotated[str, typer.Option(
        "--by", help="Who ended it: kommune, bufetat, foster_home, birth_parents, child or "
                     "nemnda.")],
    actor: Annotated[str, typer.Option(
        "--actor", help="Pseudonymous id of the person who records it (never a name).")],
    store_config: Annotated[Path | None, typer.Option(
        "--store", exists=True, dir_okay=False, readable=True, help=_STORE_HELP)] = None,
    file: Annotated[Path | None, typer.Option(
        "--periods", dir_okay=False, help=_PERIODS_HELP)] = None,
) -> None:
    """End the open placement period of a child in a home, validated, atomically.

    Exit code 2 (nothing written) when there is no open period, the end is
    before the start, or the reason or role is unknown.
    """
    from matcher import periods as periods_mod

    with errors():
        config = _config(store_config)
        if (store_config is None) == (file is None):
            raise InputError(_("give exactly one of --store CONFIG or --periods FILE"))
        day = parse_date(end, "--end")
        if day > datetime.date.today():
            raise InputError(_("--end {day} is in the future; give the day the child moved "
                               "out").format(day=day.isoformat()))

        def change(periods: Any) -> periods_mod.PeriodChanges:
            return periods_mod.end_period(periods, child_id=child_id.strip(),
                                          home_id=home_id.strip(), end=day,
                                          reason=reason.strip(), by=by.strip(), actor=actor,
                                          label=str(file) if file else periods_mod.LABEL)

        where = _change(config, file, change)
        say(_("placement period ended: {child} in {home} on {day} ({reason})").format(
            child=child_id.strip(), home=home_id.strip(), day=day.isoformat(),
            reason=reason.strip()))
        emit({"command": "placement end", "where": where, "child_id": child_id.strip(),
              "home_id": home_id.strip(), "end": day.isoformat(), "end_reason": reason.strip(),
              "ended_by": by.strip()})


def record_period(config: Any, file: Path | None, *, child_id: str, home_id: str,
                  start: datetime.date, actor: str, inputs: Any = None,
                  assignments: Any = None) -> int:
    """Open the period of an approved pair (``matcher decide``); return periods opened.

    ``config`` (nightly) writes to the store, else ``file``. Idempotent.
    """
    import pandas as pd

    from matcher import periods as periods_mod

    approved = pd.DataFrame([{"child_id": child_id, "home_id": home_id, "decided_on": start,
                              "actor": actor}])
    empty = pd.DataFrame({"child_id": pd.Series([], dtype=str)})

    def change(periods: Any) -> periods_mod.PeriodChanges:
        return periods_mod.from_approvals(
            approved, periods,
            children=inputs.children if inputs is not None else empty,
            homes=inputs.homes if inputs is not None else
            pd.DataFrame({"home_id": pd.Series([], dtype=str)}),
            assignments=assignments)

    opened: list[int] = []

    def counted(periods: Any) -> periods_mod.PeriodChanges:
        result = change(periods)
        opened.append(len(result.opened))
        return result

    _change(config, file, counted)
    return sum(opened)


def _config(store_config: Path | None) -> Any:
    if store_config is None:
        return None
    from matcher import nightly

    return apply_language(nightly.load_config(store_config))


def _change(config: Any, file: Path | None, change: Callable[[Any], Any]) -> str:
    """Apply ``change`` to the store's periods (``config``) or to the CSV ``file``."""
    if config is not None:
        from matcher import nightly

        with nightly.open_store(config.store) as store:
            store.change_periods(change)
        return "store"
    from matcher.io import periods as io_periods

    assert file is not None
    io_periods.change_periods(file, change)
    return str(file)


def stability_cmd(
    out: Annotated[Path, typer.Option("--out", file_okay=False,
                                      help="Folder to write (replaced atomically).")],
    store_config: Annotated[Path | None, typer.Option(
        "--store", exists=True, dir_okay=False, readable=True, help=_STORE_HELP)] = None,
    file: Annotated[Path | None, typer.Option(
        "--periods", exists=True, dir_okay=False, readable=True,
        help="placement_periods table (.csv, .geojson or .gpkg[:layer]).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Follow the periods to this day YYYY-MM-DD (default today).")] = None,
    min_cell: Annotated[int, typer.Option(
        "--min-cell", min=5, help="Suppress groups with fewer placements (at least 5).")] = 5,
) -> None:
    """Write stability statistics of placements: unintended moves and placements standing.

    Files: stability.csv (unintended moves per 100 placement-years with an exact
    Poisson interval, Kaplan-Meier share standing after 6, 12 and 24 months, by
    municipality, kind of home, age band, sibling group, kinship and minutes to
    school, network and parents), stability.md and one PNG per breakdown.
    Groups with fewer than --min-cell placements are suppressed.
    """
    from matcher import periods as periods_mod
    from matcher import stability
    from matcher.io import files

    with errors():
        config = _config(store_config)
        if (store_config is None) == (file is None):
            raise InputError(_("give exactly one of --store CONFIG or --periods FILE"))
        day = parse_date(as_of)
        if config is not None:
            from matcher import nightly

            with nightly.open_store(config.store) as store:
                frame = store.read_periods()
            if frame is None:
                raise InputError(_("the store has no placement_periods table; load one "
                                   "(`matcher nightly-load`) or approve a placement first"))
            periods = periods_mod.validate(frame)
        else:
            from matcher.io import periods as io_periods

            assert file is not None
            _frame, periods = io_periods.read_periods(file)
        result = stability.stability(periods, as_of=day, min_cell=min_cell)
        with files.atomic_folder(out, marker=STABILITY_MARKER) as tmp:
            files.write_csv(result.table, tmp / "stability.csv", formula_safe=True)
            files.write_text(tmp / "stability.md", stability.markdown(result))
            for breakdown in stability.BREAKDOWNS:
                files.write_bytes(tmp / f"stability_{breakdown}.png",
                                  stability.figure(result, breakdown))
        say(_("stability of {n} placement periods written to {out}").format(
            n=i18n.format_number(result.periods), out=out))
        overall = result.overall()
        emit({"command": "stability", "out": str(out), "as_of": day.isoformat(),
              "periods": result.periods, "placement_years": round(result.placement_years, 3),
              "unintended_moves": result.unintended_moves,
              "rate_per_100_years": None if overall["suppressed"]
              else overall["rate_per_100_years"],
              "suppressed_groups": int(result.table["suppressed"].sum())})


COMMANDS: dict[str, Callable[..., None]] = {"stability": stability_cmd}
GROUPS: dict[str, typer.Typer] = {"placement": placement_app}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
