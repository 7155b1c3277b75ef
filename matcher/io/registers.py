"""Readers of Norway's open registers: addresses, schools, municipality polygons, old numbers.

The file edge of :mod:`matcher.geocode` and :mod:`matcher.registers`, which
stay pure (frames in, arrays and problems out). The defaults are the files of
the repository's ``data/`` folder (see ``data/SOURCES.md``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from matcher import geocode, registers, tables
from matcher.config import ADDRESS_REGISTER_CRS, DEFAULT_CRS
from matcher.errors import InputError, raise_if_problems
from matcher.geocode import AddressRegister
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _
from matcher.io import readers
from matcher.lookup import Registers
from matcher.registers import SchoolRegister

__all__ = [
    "DATA_DIR",
    "MAPPING_FILE",
    "MUNICIPALITIES_FILE",
    "SCHOOLS_FILE",
    "default_registers",
    "municipality_numbers",
    "read_address_register",
    "read_mapping",
    "read_municipality_polygons",
    "read_schools",
]

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
"""The repository's ``data/`` folder (present in a checkout or an editable install)."""
MUNICIPALITIES_FILE = DATA_DIR / "kommuner_2024_S.geojson"
"""The 2024 municipality polygons (Kartverket-derived, simplified)."""
MAPPING_FILE = DATA_DIR / "kommunenummer_2020_2024.csv"
"""Old (2020) -> new (2024) municipality numbers, derived from the polygons."""
SCHOOLS_FILE = DATA_DIR / "grunnskoler_norge_geocoded.csv"
"""Norwegian primary and lower-secondary schools with coordinates."""


def read_address_register(path: str | Path) -> AddressRegister:
    """Read a Matrikkelen adresse CSV and prepare it for :func:`matcher.geocode.geocode`.

    Only the columns in :data:`REGISTER_COLUMNS` (and ``EPSG-kode`` when present)
    are parsed, with pyarrow's multi-threaded CSV reader into dictionary-encoded
    columns: the national file (about 3 million rows) reads in seconds.

    Parameters
    ----------
    path
        ``;``-separated UTF-8 file (a byte-order mark is allowed) with ``Nord``/``Øst``
        in :data:`~matcher.config.ADDRESS_REGISTER_CRS`.

    Returns
    -------
    AddressRegister

    Raises
    ------
    InputError
        If the file is missing, lacks a column, cannot be parsed, or declares
        another EPSG code than :data:`~matcher.config.ADDRESS_REGISTER_CRS`.
    """
    import pyarrow as pa
    from pyarrow import csv as pacsv

    path = Path(path)
    if not path.is_file():
        raise InputError(_("{path}: address register not found; check the path")
                         .format(path=path))
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n").split(";")
    spec = tables.SPECS["address_register"]
    # the national file is large: the spec checks the header here, and pyarrow reads the
    # columns with the types of their kinds (text as dictionaries, numbers as float64)
    missing = [c for c in spec.required if c not in header]
    if missing:
        raise InputError(ngettext(
            "{file}: missing column {missing}; give Kartverket's Matrikkelen adresse CSV "
            "(';'-separated, with adressenavn, nummer, bokstav, postnummer, Nord, Øst)",
            "{file}: missing columns {missing}; give Kartverket's Matrikkelen adresse CSV "
            "(';'-separated, with adressenavn, nummer, bokstav, postnummer, Nord, Øst)",
            len(missing)).format(file=path.name, missing=", ".join(missing)))
    dictionary = pa.dictionary(pa.int32(), pa.string())
    columns = [c.name for c in spec.columns if c.required or c.name in header]
    types = {c.name: pa.float64() if c.kind == "number" else dictionary for c in spec.columns
             if c.name in columns}
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=";"),
            convert_options=pacsv.ConvertOptions(include_columns=columns, column_types=types,
                                                 strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InputError(_("{file}: cannot parse the address register ({error}); check that "
                           "it is a complete ';'-separated UTF-8 file")
                         .format(file=path.name, error=exc)) from None
    frame = table.to_pandas()
    if "EPSG-kode" in frame:
        codes = {str(c) for c in frame["EPSG-kode"].dropna().unique()}
        if codes - {ADDRESS_REGISTER_CRS.removeprefix("EPSG:")}:
            raise InputError(_("{file}: EPSG-kode {codes}; only the {crs} edition of "
                               "Matrikkelen adresse is supported, download that one")
                             .format(file=path.name, codes=", ".join(sorted(codes)),
                                     crs=ADDRESS_REGISTER_CRS))
    return geocode.build_register(frame, source=path.name)


def read_schools(path: str | Path) -> SchoolRegister:
    """Read a ``;``-separated school register (``data/grunnskoler_norge_geocoded.csv``).

    Parameters
    ----------
    path
        CSV with ``EnhetNavn``, ``Kommune``, ``lat``, ``lng`` (WGS84 degrees) and
        optionally ``Organisasjonsnummer``.

    Returns
    -------
    SchoolRegister
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(_("{path}: school register not found; check the path")
                         .format(path=path))
    frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return registers.schools_from_frame(frame, source=path.name)


def read_municipality_polygons(path: str | Path, *, crs: str = DEFAULT_CRS) -> gpd.GeoDataFrame:
    """Read municipality polygons (``data/kommuner_2024_S.geojson``) for lookups.

    Parameters
    ----------
    path
        Any vector file GDAL reads, with ``kommunenummer`` and a name column.
    crs
        The working CRS, projected in metres (``network.crs``).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`matcher.registers.municipalities_from_frame`: ``code``, ``name``, valid polygons
        in ``crs``.
    """
    frame = readers.read_polygons(path, what=N_("municipality polygons"))
    return registers.municipalities_from_frame(frame, source=Path(path).name, crs=crs)


def municipality_numbers(path: str | Path = MUNICIPALITIES_FILE) -> frozenset[str]:
    """Return the 4-digit numbers of the 2024 municipalities (``kommunenummer``), no geometry.

    Raises
    ------
    InputError
        If the file cannot be read or has no ``kommunenummer`` column.
    """
    import pyogrio

    path = Path(path)
    try:
        frame = pyogrio.read_dataframe(path, columns=["kommunenummer"], read_geometry=False)
    except Exception as exc:  # pyogrio's errors carry no common base
        raise InputError(_("{path}: cannot read the municipality numbers ({error}); check the "
                           "file").format(path=path, error=exc)) from None
    if "kommunenummer" not in frame.columns:
        raise InputError(_("{path}: no column 'kommunenummer'; use the 2024 municipality "
                           "polygons").format(path=path))
    return frozenset(registers.as_codes(frame["kommunenummer"]))


def read_mapping(path: str | Path) -> pd.DataFrame:
    """Read ``data/kommunenummer_2020_2024.csv`` (``;``-separated).

    Columns: :data:`matcher.registers.MAPPING_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        The table with 4-digit text codes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(_("{path}: municipality mapping not found; check the path")
                         .format(path=path))
    frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    t = tables.read("municipality_mapping", frame, label=path.name)
    raise_if_problems(_("{file}: not a municipality mapping; regenerate it with "
                        "scripts/make_kommune_mapping.py").format(file=path.name), t.problems)
    return t.frame()


def default_registers(*, address_register: str | Path | None = None,
                      municipalities: str | Path | None = None) -> Registers:
    """The registers a run consults: ``data/``'s schools, polygons and mapping.

    Each register is read on first use, and only once.

    Parameters
    ----------
    address_register
        Kartverket's Matrikkelen adresse CSV, for tables with ``address`` +
        ``postnummer`` (none by default: the national file is large).
    municipalities
        2024 municipality polygons (default: ``data/kommuner_2024_S.geojson``).
    """
    polygons = Path(municipalities) if municipalities is not None else MUNICIPALITIES_FILE

    def when(path: Path, load: Callable[[Path], Any]) -> Callable[[], Any] | None:
        return functools.cache(lambda: load(path)) if path.is_file() else None

    return Registers(
        addresses=(functools.cache(lambda: read_address_register(Path(address_register)))
                   if address_register is not None else None),
        schools=when(SCHOOLS_FILE, read_schools),
        municipalities=when(polygons, read_municipality_polygons),
        mapping=when(MAPPING_FILE, read_mapping),
    )
