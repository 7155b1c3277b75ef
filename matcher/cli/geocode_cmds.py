"""CLI commands for addresses: geocode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from matcher import i18n
from matcher.cli.common import emit, errors, say, steps
from matcher.config import ADDRESS_REGISTER_CRS
from matcher.errors import data_position
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.io import files, readers
from matcher.io import registers as io_registers

__all__ = ["COMMANDS", "geocode"]

_SHOWN = 50


def geocode(
    addresses: Annotated[Path, typer.Option(
        "--addresses", exists=True, dir_okay=False, readable=True,
        help="Table (.csv with ',' or ';', .geojson or .gpkg) with 'address' (e.g. "
             "'Storgata 12B') "
             "and 'postnummer'; 'id' is used to name unresolved rows.")],
    register: Annotated[Path, typer.Option(
        "--register", exists=True, dir_okay=False, readable=True,
        help=f"Kartverket Matrikkelen adresse CSV (';', UTF-8, Nord/Øst in "
             f"{ADDRESS_REGISTER_CRS}), national or one municipality's.")],
    out: Annotated[Path, typer.Option(
        "--out", dir_okay=False,
        help="Output table (.csv or .parquet): the input plus lon, lat (WGS84), match "
             "(exact/approximate/none) and matched_address. Written atomically, owner-only.")],
) -> None:
    """Add coordinates to street addresses, offline, from Kartverket's address register.

    Unknown addresses get match 'none' and are listed by row; the command still
    succeeds (exit 0). Bad files or options exit with code 2 and write nothing.
    """
    from matcher import geocode as geocode_mod

    with errors():
        write = files.output_writer(out)
        files.check_output_file(out, addresses, register)
        frame = readers.read_frame(addresses)
        n = i18n.format_number
        with steps(_("geocoding")) as step:
            step(_("reading the address register"))
            reg = io_registers.read_address_register(register)
            step(ngettext("matching {n} address", "matching {n} addresses", len(frame))
                 .format(n=n(len(frame))))
            result = geocode_mod.geocode(frame, reg, source=addresses.name)
            step(_("writing"))
            write(result.to_frame(frame))
        counts = result.counts()
        rows = result.unresolved_rows
        say(ngettext("geocoded {n} address against {register} register addresses: {exact} "
                     "exact, {approximate} approximate, {none} none; wrote {out}",
                     "geocoded {n} addresses against {register} register addresses: {exact} "
                     "exact, {approximate} approximate, {none} none; wrote {out}",
                     len(frame)).format(
            n=n(len(frame)), register=n(len(reg)), exact=n(counts["exact"]),
            approximate=n(counts["approximate"]), none=n(counts["none"]), out=out))
        ids = frame["id"].astype(str).to_numpy() if "id" in frame.columns else None
        if len(rows):
            say(ngettext("{n} unresolved row (match 'none'):",
                         "{n} unresolved rows (match 'none'):", len(rows)).format(n=n(len(rows))))
            for problem in result.problems[:_SHOWN]:
                line = (_("{problem} (id {id})").format(
                    problem=problem, id=ids[data_position(problem.row)])
                    if ids is not None and problem.row else str(problem))
                say(f"  - {line}")
            if len(rows) > _SHOWN:
                say("  " + _("... and {n} more (all have match 'none' in {file})").format(
                    n=n(len(rows) - _SHOWN), file=out.name))
        emit({"command": "geocode", "out": str(out), "rows": len(frame), **counts,
              "unresolved_rows": rows.tolist(),
              "unresolved_ids": ids[rows - 1].tolist() if ids is not None else None})


COMMANDS: dict[str, Callable[..., None]] = {
    "geocode": geocode,
}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
