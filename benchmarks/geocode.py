"""Benchmark: ``matcher geocode`` on 100,000 addresses against a 3-million-row register.

The register is generated (seeded, deterministic) in the format of Kartverket's
Matrikkelen adresse CSV: all 46 columns in the real file's order, ``;``-separated,
UTF-8 with a byte-order mark, ``Nord``/``Øst`` in EPSG:25833, about 1 GB like
the national file. Streets (about 150,000 in 4,000 postnummer) end in the usual
suffixes (``vegen``, ``veien``, ``gata``, ``gate``, `` veg``, ...).

The 100,000 addresses are drawn from the register and written the way case
files write them: 70 % real addresses in another spelling (case, spaces,
``veien`` for ``vegen``, ``gt.``, ``vn.``, letter case), 15 % real streets with a
number that is missing or absent from the register, 15 % made-up streets. The
script checks that every outcome is the expected one (exact / approximate / none).

Timed, in one run:

* ours: :func:`matcher.io.registers.read_address_register` plus :func:`matcher.geocode.geocode`
  (the issue's target: under a minute), and the whole command (``matcher
  geocode``: reading both files, matching, writing the output);
* a naive baseline: ``csv.reader`` row by row, the same normalisation with
  Python ``re`` per row, a dict from (postnummer, street, number, letter) to the
  point, and :mod:`bisect` on each street's sorted numbers for approximate
  matches; pyproj per point. It runs on a subset (the first 10 % of the
  register's streets and their addresses), is checked to give the same answers
  as ours on that subset, and is extrapolated per register row and per address.

Usage: ``python benchmarks/geocode.py [--rows N] [--addresses N] [--keep DIR]``

Figures on the project's 2-core machine (2026-11-27, pyarrow 26, pandas 3.1), 3,000,000
register rows (0.95 GB) and 100,000 addresses:

* ours: read + index the register 9.6 s, match 2.1 s, total 11.6 s (target: < 60 s);
  the whole command with reading the addresses and writing the output 13.1 s;
* naive, measured on 299,470 rows and 10,083 addresses (5.1 s, same answers),
  extrapolated: 51 s; ratio 4.4x.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv as pacsv
from pyproj import Transformer
from typer.testing import CliRunner

from matcher import geocode
from matcher.cli import app
from matcher.io import registers as io_registers

HEADER: tuple[str, ...] = (
    "lokalid", "kommunenummer", "kommunenavn", "adressetype", "adressetilleggsnavn",
    "adressetilleggsnavnKilde", "adressekode", "adressenavn", "nummer", "bokstav", "gardsnummer",
    "bruksnummer", "festenummer", "undernummer", "adresseTekst",
    "adresseTekstUtenAdressetilleggsnavn", "EPSG-kode", "Nord", "Øst", "postnummer", "poststed",
    "grunnkretsnummer", "grunnkretsnavn", "soknenummer", "soknenavn", "organisasjonsnummer",
    "tettstednummer", "tettstednavn", "valgkretsnummer", "valgkretsnavn", "oppdateringsdato",
    "datauttaksdato", "adresseId", "uuidAdresse", "atkomstId", "uuidAtkomst", "atkomstNord",
    "atkomstØst", "sommeratkomstId", "uuidSommeratkomst", "sommeratkomstNord", "sommeratkomstØst",
    "vinteratkomstId", "uuidVinteratkomst", "vinteratkomstNord", "vinteratkomstØst",
)
"""The 46 columns of the real file, in its order."""
SYLLABLES = ("berg", "dal", "sk", "ov", "fjell", "lie", "mo", "vik", "haug", "kirke", "sol",
             "ås", "bekk", "myr", "eng", "holm", "tun", "lund", "stad", "bu", "gran", "bjørk",
             "rog", "stor", "lille", "nord", "sør", "vest", "øst", "ny", "gamle", "elv",
             "bru", "kvern", "sag", "mølle", "prest", "skole", "torg", "hage", "ek")
SUFFIXES = ("vegen", "veien", "gata", "gate", " veg", " vei", " gate", "stien", "bakken",
            "svingen", "tunet", "grenda", "vegen", "vegen", "gata")
LETTERS = np.array(["", "A", "B", "C", "D"], dtype=object)


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def street_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Norwegian-looking street names (they may repeat, as in the real register)."""
    syl = np.array(SYLLABLES, dtype=object)
    a, b, c = (syl[rng.integers(0, len(syl), n)] for _ in range(3))
    three = rng.random(n) < 0.4
    stem = np.where(three, a + b + c, a + b)
    suffix = np.array(SUFFIXES, dtype=object)[rng.integers(0, len(SUFFIXES), n)]
    names = pd.Series(stem + suffix, dtype=object).str.capitalize().to_numpy(dtype=object)
    person = rng.random(n) < 0.08
    firstnames = np.array(["Kong Oscars", "Dronning Mauds", "Hans Nielsen Hauges",
                           "Henrik Ibsens", "Åsmund Sveens", "Kirsten Flagstads"], dtype=object)
    who = firstnames[rng.integers(0, len(firstnames), n)]
    tail = np.array([" gate", " veg", " vei", " plass"], dtype=object)[rng.integers(0, 4, n)]
    return np.where(person, who + tail, names)


def make_register(path: Path, rows: int, *, seed: int = 0) -> pd.DataFrame:
    """Write a register of ``rows`` addresses; return its key columns for drawing addresses."""
    rng = np.random.default_rng(seed)
    n_postcodes = 4000
    n_streets = max(rows // 20, 10)
    postcodes = np.sort(rng.choice(np.arange(1, 10000), n_postcodes, replace=False))
    street_pc = np.sort(rng.integers(0, n_postcodes, n_streets))
    names = street_names(rng, n_streets)
    street = np.sort(rng.integers(0, n_streets, rows))  # grouped by street, as in the file
    start = np.searchsorted(street, street)
    rank = np.arange(rows) - start
    step = rng.integers(1, 4, n_streets)  # 1: every number, 2: one side, 3: with gaps
    number = 1 + rank * step[street]
    letter = np.where(rng.random(rows) < 0.1, LETTERS[rng.integers(1, 5, rows)], "")
    pc = np.char.zfill(postcodes[street_pc[street]].astype(str), 4).astype(object)
    name = names[street]
    kommune = (np.char.zfill((street_pc[street] // 12 + 301).astype(str), 4)).astype(object)
    east = np.round(rng.uniform(-70_000, 1_100_000, rows), 2)
    north = np.round(rng.uniform(6_450_000, 7_950_000, rows), 2)
    text = name + " " + number.astype(str).astype(object) + letter
    lokalid = np.arange(100_000_000, 100_000_000 + rows)
    empty = pa.nulls(rows, pa.string())
    columns = {
        "lokalid": lokalid, "kommunenummer": kommune, "kommunenavn": "KOMMUNE " + kommune,
        "adressetype": np.full(rows, "vegadresse", dtype=object),
        "adressetilleggsnavn": empty, "adressetilleggsnavnKilde": empty,
        "adressekode": street % 99_999, "adressenavn": name, "nummer": number,
        "bokstav": letter, "gardsnummer": rng.integers(1, 300, rows),
        "bruksnummer": rng.integers(1, 900, rows), "festenummer": empty,
        "undernummer": empty, "adresseTekst": text,
        "adresseTekstUtenAdressetilleggsnavn": text,
        "EPSG-kode": np.full(rows, 25833), "Nord": north, "Øst": east, "postnummer": pc,
        "poststed": "POSTSTED " + pc, "grunnkretsnummer": kommune + "0104",
        "grunnkretsnavn": np.full(rows, "Grunnkrets", dtype=object),
        "soknenummer": np.full(rows, "03040101", dtype=object),
        "soknenavn": np.full(rows, "Sokn", dtype=object),
        "organisasjonsnummer": np.full(rows, "876988062", dtype=object),
        "tettstednummer": empty, "tettstednavn": empty, "valgkretsnummer": np.full(rows, 5),
        "valgkretsnavn": np.full(rows, "Valgkrets", dtype=object),
        "oppdateringsdato": np.full(rows, "29.03.2023 22:05:36.367", dtype=object),
        "datauttaksdato": np.full(rows, "12.06.2025 09:03:43", dtype=object),
        "adresseId": lokalid,
        "uuidAdresse": pd.Series(lokalid).map(
            lambda i: f"{i:08x}-99fd-52c5-9863-c95118aeb6bf").to_numpy(dtype=object),
    }
    for c in HEADER[len(columns):]:
        columns[c] = empty
    table = pa.table({c: columns[c] for c in HEADER})
    with open(path, "wb") as fh:
        fh.write(("\ufeff" + ";".join(HEADER) + "\n").encode())
        pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(
            delimiter=";", quoting_style="none", include_header=False))
    return pd.DataFrame({"street": street, "name": name, "number": number, "letter": letter,
                         "postnummer": pc, "east": east, "north": north})


def respell(names: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Write street names the way case files do."""
    form = rng.integers(0, 5, len(names))
    out = names.copy()
    swaps = [(r"vegen\b", "veien"), (r"veien\b", "vegen"), (r"gata\b", "gate"),
             (r"gate\b", "gt."), (r" veg\b", " vei")]
    for k in range(5):
        pick = form == k
        pattern, repl = swaps[k]
        out[pick] = out[pick].str.replace(pattern, repl, regex=True)
    case = rng.integers(0, 3, len(names))
    out = out.where(case != 0, out.str.upper()).where(case != 1, out.str.lower())
    return out


def make_addresses(register: pd.DataFrame, n: int, *, seed: int = 1) -> pd.DataFrame:
    """``n`` addresses: 70 % exact, 15 % approximate, 15 % none (column ``expected``)."""
    rng = np.random.default_rng(seed)
    # a register (postnummer, street key) pair may hold several generated streets with the
    # same name; draw from rows whose pair is unique so that "expected" is unambiguous
    key = register["postnummer"] + "|" + pd.Series(geocode.normalise_street(register["name"]))
    pair_streets = register.groupby(key)["street"].nunique()
    clean = key.map(pair_streets).to_numpy() == 1
    rows = rng.choice(np.flatnonzero(clean), n, replace=False)
    src = register.iloc[rows].reset_index(drop=True)
    kind = np.where(rng.random(n) < 0.70, "exact",
                    np.where(rng.random(n) < 0.5, "approximate", "none"))
    names = respell(src["name"], rng)
    number = src["number"].astype(str)
    letter = src["letter"].where(rng.random(n) < 0.5, src["letter"].str.lower())
    gap = rng.random(n) < 0.5
    approx_number = np.where(gap, "", (src["number"] + 100_000).astype(str))
    address = np.where(kind == "exact", names + " " + number + letter,
                       np.where(kind == "approximate", names + " " + approx_number,
                                "Fantasi" + names.str.lower() + " " + number))
    return pd.DataFrame({"id": [f"a{i:06d}" for i in range(n)],
                         "address": pd.Series(address).str.strip(),
                         "postnummer": src["postnummer"], "expected": kind,
                         "east": src["east"], "north": src["north"],
                         "source_street": src["street"]})


# --- the naive baseline -----------------------------------------------------------------------

_SUFFIX_RES = [(re.compile(p), r) for p, r in (
    (r"(?:gaten|gata|gate|gt\.?)(?=\s|$)", "gt"), (r"(?:vegen|veien|vn\.?)(?=\s|$)", "vn"),
    (r"(?:veg|vei|v\.)(?=\s|$)", "v"))]
_ADDRESS_RE = re.compile(r"^\s*(.*?)\s*(?:(\d+)\s*([^\W\d_])?)?\s*$")


def _key(name: str) -> str:
    s = re.sub(r"[\s\-/,]+", " ", name.lower()).strip()
    for pattern, repl in _SUFFIX_RES:
        s = pattern.sub(repl, s)
    return re.sub(r"[\W_]+", "", s)


def naive(register_path: Path, max_rows: int, addresses: pd.DataFrame
          ) -> tuple[list[str], list[float], list[float], float, float]:
    """Row-by-row baseline; returns kinds, lon, lat and seconds for register and addresses."""
    t0 = time.perf_counter()
    exact: dict[tuple[str, str, int, str], tuple[float, float]] = {}
    streets: dict[tuple[str, str], list[tuple[int, str, float, float]]] = {}
    with open(register_path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = next(reader)
        col = {c: i for i, c in enumerate(header)}
        for i, row in enumerate(reader):
            if i >= max_rows:
                break
            pn, key = row[col["postnummer"]].zfill(4), _key(row[col["adressenavn"]])
            num, letter = int(row[col["nummer"]]), row[col["bokstav"]].upper()
            point = (float(row[col["Øst"]]), float(row[col["Nord"]]))
            exact.setdefault((pn, key, num, letter), point)
            streets.setdefault((pn, key), []).append((num, letter, *point))
    for entries in streets.values():
        entries.sort()
    t_register = time.perf_counter() - t0

    t0 = time.perf_counter()
    to_wgs84 = Transformer.from_crs("EPSG:25833", "EPSG:4326", always_xy=True)
    kinds, lons, lats = [], [], []
    for text, pn in zip(addresses["address"], addresses["postnummer"], strict=True):
        m = _ADDRESS_RE.match(text)
        key, number = _key(m.group(1)), int(m.group(2)) if m.group(2) else None
        letter = (m.group(3) or "").upper()
        pn = str(pn).zfill(4)
        point = exact.get((pn, key, number, letter)) if number is not None else None
        kind = "exact"
        if point is None:
            entries = streets.get((pn, key))
            if not entries:
                kinds.append("none")
                lons.append(np.nan)
                lats.append(np.nan)
                continue
            kind = "approximate"
            if number is None:
                point = entries[len(entries) // 2][2:]
            else:
                j = bisect.bisect_left(entries, (number, letter))
                options = [entries[k] for k in (j - 1, j) if 0 <= k < len(entries)]
                point = min(options, key=lambda e: abs(e[0] - number))[2:]
        lon, lat = to_wgs84.transform(*point)
        kinds.append(kind)
        lons.append(lon)
        lats.append(lat)
    return kinds, lons, lats, t_register, time.perf_counter() - t0


def main() -> None:
    """Generate, time, compare, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, default=None,
                        help="Folder to keep the generated files in (default: a temporary one).")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="geocode-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    reg_path, addr_path, out_path = (folder / "register.csv", folder / "addresses.csv",
                                     folder / "geocoded.csv")
    try:
        t0 = time.perf_counter()
        truth = make_register(reg_path, args.rows)
        addresses = make_addresses(truth, args.addresses)
        addresses[["id", "address", "postnummer"]].to_csv(addr_path, index=False)
        print(f"generated {args.rows:,} register rows ({reg_path.stat().st_size / 1e9:.2f} GB, "
              f"46 columns) and {args.addresses:,} addresses in "
              f"{time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        register = io_registers.read_address_register(reg_path)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = geocode.geocode(addresses, register)
        t_match = time.perf_counter() - t0
        ours = t_read + t_match
        print(f"ours: read + index the register {t_read:.1f} s ({len(register):,} addresses, "
              f"{len(register.streets):,} streets, {register.duplicates:,} duplicate keys), "
              f"match {t_match:.2f} s; total {ours:.1f} s; peak memory {peak_rss_mb():,.0f} MiB")

        kinds = pd.Series(result.match)
        assert (kinds == addresses["expected"]).all(), pd.crosstab(addresses["expected"], kinds)
        is_exact = (kinds == "exact").to_numpy()
        east, north = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True).transform(
            result.lon[is_exact], result.lat[is_exact])
        err = np.hypot(east - addresses["east"][is_exact], north - addresses["north"][is_exact])
        assert err.max() < 1.0, err.max()
        print("check: every outcome as expected ("
              + ", ".join(f"{k} {v:,}" for k, v in result.counts().items())
              + f"); exact points within {err.max():.3f} m of the register")

        t0 = time.perf_counter()
        cli = CliRunner().invoke(app, ["--quiet", "geocode", "--addresses", str(addr_path),
                                       "--register", str(reg_path), "--out", str(out_path)])
        t_cli = time.perf_counter() - t0
        assert cli.exit_code == 0, cli.output
        print(f"ours, whole command (read both files, match, write {out_path.name}): "
              f"{t_cli:.1f} s")

        # the baseline on the first 10 % of the streets (the file is grouped by street)
        subset_streets = int(truth["street"].max() * 0.10)
        sub_rows = int(np.searchsorted(truth["street"].to_numpy(), subset_streets))
        sub_addr = addresses[addresses["source_street"] < subset_streets].reset_index(drop=True)
        kinds_n, lon_n, lat_n, t_reg_n, t_addr_n = naive(reg_path, sub_rows, sub_addr)
        sub_register = geocode.build_register(pd.read_csv(
            reg_path, sep=";", nrows=sub_rows, encoding="utf-8-sig",
            usecols=list(geocode.REGISTER_COLUMNS),
            dtype={"postnummer": str, "bokstav": str}))
        sub_ours = geocode.geocode(sub_addr, sub_register)
        assert list(sub_ours.match) == kinds_n
        assert np.allclose(sub_ours.lon, lon_n, equal_nan=True, atol=1e-9)
        assert np.allclose(sub_ours.lat, lat_n, equal_nan=True, atol=1e-9)
        naive_total = t_reg_n * args.rows / sub_rows + t_addr_n * args.addresses / len(sub_addr)
        print(f"naive (csv.reader + dict + bisect, per row), measured on {sub_rows:,} register "
              f"rows and {len(sub_addr):,} addresses ({t_reg_n + t_addr_n:.1f} s, same answers "
              f"as ours), extrapolated: {naive_total:.0f} s")
        print(f"=> {args.addresses:,} addresses x {args.rows:,} register rows: ours "
              f"{ours:.1f} s (target < 60 s), naive {naive_total:.0f} s, ratio "
              f"{naive_total / ours:.1f}x")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
