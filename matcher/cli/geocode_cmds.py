"""CLI commands for addresses: geocode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from matcher.cli.common import emit, errors, say, steps
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
        help="Kartverket Matrikkelen adresse CSV (';', UTF-8, Nord/Øst in EPSG:25833), "
             "national or one municipality's.")],
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
        frame = readers.read_frame(addresses)
        with steps("geocoding") as step:
            step("reading the address register")
            reg = io_registers.read_address_register(register)
            step(f"matching {len(frame):,} addresses")
            result = geocode_mod.geocode(frame, reg, source=addresses.name)
            step("writing")
            write(result.to_frame(frame))
        counts = result.counts()
        rows = result.unresolved_rows
        say(f"geocoded {len(frame):,} addresses against {len(reg):,} register addresses: "
            f"{counts['exact']:,} exact, {counts['approximate']:,} approximate, "
            f"{counts['none']:,} none; wrote {out}")
        ids = frame["id"].astype(str).to_numpy() if "id" in frame.columns else None
        if len(rows):
            say(f"{len(rows):,} unresolved row(s) (match 'none'):")
            for problem in result.problems[:_SHOWN]:
                label = f" (id {ids[problem.row - 1]})" if ids is not None and problem.row else ""
                say(f"  - {problem}{label}")
            if len(rows) > _SHOWN:
                say(f"  ... and {len(rows) - _SHOWN:,} more (all have match 'none' in {out.name})")
        emit({"command": "geocode", "out": str(out), "rows": len(frame), **counts,
              "unresolved_rows": rows.tolist(),
              "unresolved_ids": ids[rows - 1].tolist() if ids is not None else None})


COMMANDS: dict[str, Callable[..., None]] = {
    "geocode": geocode,
}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
