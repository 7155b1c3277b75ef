"""CLI commands for addresses: geocode."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from matcher.cli.common import emit, errors, say, steps
from matcher.errors import InputError

OUTPUT_SUFFIXES = (".csv", ".parquet")
_SHOWN = 50


def _read_addresses(path: Path) -> tuple[pd.DataFrame, str]:
    """Read the address table (CSV with ``,`` or ``;``, or Parquet) as text columns."""
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path), ","
    try:
        with open(path, encoding="utf-8-sig") as fh:
            header = fh.readline()
        sep = ";" if header.count(";") > header.count(",") else ","
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                            encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name}: not UTF-8 text; save the file as 'CSV UTF-8'") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path.name}: cannot read the table ({exc}); check that it is a "
                         "complete CSV with a header row") from None
    return frame, sep


def _check_suffix(target: Path) -> str:
    suffix = target.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"--out {target.name}: unknown output type '{suffix}'; use one of "
                         f"{', '.join(OUTPUT_SUFFIXES)}")
    return suffix


def _write_atomic(frame: pd.DataFrame, target: Path, sep: str) -> None:
    """Write CSV or Parquet to a temporary file, make it owner-only, rename it into place."""
    suffix = _check_suffix(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    try:
        os.chmod(tmp, 0o600)
        if suffix == ".csv":
            frame.to_csv(tmp, sep=sep, index=False, lineterminator="\n", float_format="%.7f")
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def geocode(
    addresses: Annotated[Path, typer.Option(
        "--addresses", exists=True, dir_okay=False, readable=True,
        help="Table (.csv with ',' or ';', or .parquet) with 'address' (e.g. 'Storgata 12B') "
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
        _check_suffix(out)
        frame, sep = _read_addresses(addresses)
        with steps("geocoding") as step:
            step("reading the address register")
            reg = geocode_mod.read_register(register)
            step(f"matching {len(frame):,} addresses")
            result = geocode_mod.geocode(frame, reg, source=addresses.name)
            step("writing")
            _write_atomic(result.to_frame(frame), out, sep)
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
