"""CLI commands for continuity between runs: ``matcher decide``.

``matcher decide`` appends one validated decision to the decisions log, in a
CSV file or in the nightly store, so that analysts need not write SQL.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from matcher.cli.common import emit, errors, parse_date, say
from matcher.errors import InputError


def decide(
    child_id: Annotated[str, typer.Option("--child", help="The child's id.")],
    home_id: Annotated[str, typer.Option("--home", help="The home's id.")],
    decision: Annotated[str, typer.Option(
        "--decision", help="considering, accepted or declined.")],
    by: Annotated[str, typer.Option("--by", help="Who decided: bufetat or kommune.")],
    reason: Annotated[str, typer.Option(
        "--reason", help="For declined: home_declined, child_declined, municipality_declined, "
                         "not_suitable or other (no free text).")] = "",
    decided_on: Annotated[str | None, typer.Option(
        "--date", help="Date of the decision YYYY-MM-DD (default today).")] = None,
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
) -> None:
    """Append one decision on a proposal to the decisions log, validated, atomically.

    Exit code 2 (nothing written) if the decision or the log is invalid.
    """
    with errors():
        if (store_config is None) == (file is None):
            raise InputError("give exactly one of --store CONFIG or --file FILE")
        today = datetime.date.today()
        day = parse_date(decided_on, "--date")
        row = {"child_id": child_id.strip(), "home_id": home_id.strip(),
               "decision": decision.strip(), "decided_on": day.isoformat(), "by": by.strip(),
               "reason": reason.strip()}
        if file is not None:
            from matcher.io import decision_log

            inputs = None
            if (children is None) != (homes is None):
                raise InputError("give both --children and --homes, or neither")
            if children is not None and homes is not None:
                from matcher.io import readers

                inputs = readers.read_inputs(children, homes)
            log = decision_log.append_decision(file, row, inputs=inputs, today=today)
            where = str(file)
        else:
            assert store_config is not None
            log = _append_to_store(store_config, row, today)
            where = "store"
        say(f"decision recorded: {row['child_id']} -> {row['home_id']} {row['decision']} "
            f"({len(log.table)} decisions in the log)")
        emit({"command": "decide", "where": where, "decisions": len(log.table),
              **{k: v for k, v in row.items()}})


def _append_to_store(path: Path, row: dict[str, str], today: datetime.date) -> Any:
    """Validate against the store's tables and append in one transaction."""
    import pandas as pd

    from matcher import decisions as decisions_mod
    from matcher import nightly

    config = nightly.load_config(path)
    store = nightly.open_store(config.store)
    with store:
        inputs, _ = nightly.read_store(store, config.settings, today)
        new = pd.DataFrame([row])
        decisions_mod.validate(new, label="new decision", as_of=today, inputs=inputs,
                               strict_ids=True)
        old = store.read_decisions()
        both = new if old is None else pd.concat([old.astype(object), new], ignore_index=True)
        log = decisions_mod.validate(both, label="decisions", as_of=today, inputs=inputs)
        store.append_decision(row)
    return log


COMMANDS: dict[str, Callable[..., None]] = {"decide": decide}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
