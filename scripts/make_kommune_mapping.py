"""Derive ``data/kommunenummer_2020_2024.csv`` from the 2020 and 2024 municipality polygons.

Method (also in ``data/SOURCES.md``): both polygon sets are repaired with
``make_valid`` and projected to EPSG:25833; every 2020 municipality is
intersected with the 2024 ones and classified by the share of its area in each
(:func:`matcher.registers.derive_mapping`: ``one_to_one`` / ``merged`` /
``split``).

Usage: ``python scripts/make_kommune_mapping.py [--old FILE] [--new FILE] [--out FILE]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from matcher import registers
from matcher.io import registers as io_registers

DATA = Path(__file__).resolve().parents[1] / "data"


def main() -> None:
    """Write the mapping table and print a summary by kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, default=DATA / "kommuner_2020_small.geojson")
    parser.add_argument("--new", type=Path, default=DATA / "kommuner_2024_S.geojson")
    parser.add_argument("--out", type=Path, default=DATA / "kommunenummer_2020_2024.csv")
    args = parser.parse_args()

    old = io_registers.read_municipality_polygons(args.old)
    new = io_registers.read_municipality_polygons(args.new)
    table = registers.derive_mapping(old, new)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=f".{args.out.name}.")
    os.close(fd)
    table.to_csv(tmp, sep=";", index=False, lineterminator="\n")
    os.chmod(tmp, 0o644)  # a data file of the repository, readable by all
    os.replace(tmp, args.out)

    per_old = table.groupby("old")["kind"].first().value_counts()
    renumbered = table[(table["kind"] != "split") & (table["old"] != table["new"])]
    print(f"{args.out}: {len(table)} rows for {table['old'].nunique()} old numbers; "
          + ", ".join(f"{k} {v}" for k, v in per_old.items())
          + f"; {renumbered['old'].nunique()} renumbered")
    for old_code, rows in table[table["kind"] == "split"].groupby("old"):
        print(f"  split {old_code} {rows['old_name'].iloc[0]} -> "
              + ", ".join(f"{r.new} {r.name} {r.share_of_old} %" for r in rows.itertuples()))


if __name__ == "__main__":
    main()
