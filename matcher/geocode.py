"""Street addresses to coordinates, offline, against Kartverket's address register.

The reference is Kartverket's *Matrikkelen adresse* CSV (the national file or one
municipality's): ``;``-separated, UTF-8 with a byte-order mark, one row per
address with ``adressenavn``, ``nummer``, ``bokstav``, ``postnummer`` and the
address point as ``Nord``/``Øst`` in EPSG:25833 (UTM zone 33N, metres).

Matching works on normalised keys, so the usual ways of writing a street match
the register's spelling (see :func:`normalise_street`):

* case and spaces: ``STORGATA 12 b`` = ``Storgata 12B``; ``Kongens gate`` = ``Kongensgate``;
* ``gate``/``gata``/``gaten``/``gt.`` are one suffix, ``vegen``/``veien``/``vn.`` another,
  ``veg``/``vei``/``v.`` a third;
* house letters in either case.

Each address gets one of three outcomes:

``exact``
    postnummer, street, number and letter are in the register.
``approximate``
    the street is known in that postnummer but the number (or letter) is not, or
    no number was given: the nearest number on the same street is used (the
    street's middle address by number order when no number was given).
``none``
    nothing usable: unknown street in that postnummer, no valid postnummer, or
    no street in the text. Each such row becomes a :class:`~matcher.errors.Problem`.

Everything here is vectorised: streets are matched with a hash index on
``postnummer|key`` and numbers with :func:`numpy.searchsorted` over one sorted
int64 code per address, so 100,000 addresses against a 3-million-row register
take seconds (``benchmarks/geocode.py``).

Entry points: :func:`build_register` (pure, from a frame) and :func:`geocode`;
the file edge is :func:`matcher.io.registers.read_address_register`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Transformer

from matcher.config import ADDRESS_REGISTER_CRS
from matcher.errors import FIRST_DATA_ROW, InputError, Problem, sheet_row
from matcher.i18n import format_number, ngettext
from matcher.i18n import gettext as _

__all__ = [
    "MATCH_KINDS",
    "REGISTER_COLUMNS",
    "REGISTER_CRS",
    "AddressRegister",
    "GeocodeResult",
    "build_register",
    "geocode",
    "normalise_postcodes",
    "normalise_street",
    "parse_addresses",
]

log = logging.getLogger(__name__)

REGISTER_CRS = ADDRESS_REGISTER_CRS
"""CRS of the register's ``Nord``/``Øst`` columns (UTM zone 33N, metres)."""

REGISTER_COLUMNS: tuple[str, ...] = ("adressenavn", "nummer", "bokstav", "postnummer",
                                     "Nord", "Øst")
"""Columns of the Matrikkelen adresse CSV that geocoding reads."""

MATCH_KINDS: tuple[str, ...] = ("exact", "approximate", "none")

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZÆØÅ"
_NUMBER_SHIFT = 6          # 6 bits for the house letter (0 = none, 1..29 = A..Å, 63 = other)
_STREET_SHIFT = 32         # 26 bits for the house number (< 67 million)
_MAX_NUMBER = (1 << (_STREET_SHIFT - _NUMBER_SHIFT)) - 1

_ACCENTS = str.maketrans("éèêëáàâóòôúùûíìîýäöü", "eeeeaaaooouuuiiiyæøu")
_SUFFIXES: tuple[tuple[str, str], ...] = (
    (r"(?:gaten|gata|gate|gt\.?)(?=\s|$)", "gt"),
    (r"(?:vegen|veien|vn\.?)(?=\s|$)", "vn"),
    (r"(?:veg|vei|v\.)(?=\s|$)", "v"),
)
_ADDRESS = re.compile(r"^\s*(?P<street>.*?)\s*(?:(?P<number>\d+)\s*(?P<letter>[^\W\d_])?)?\s*$")
_POSTCODE_TAIL = re.compile(r",\s*\d{4}(?:\s+[^,\d]*)?\s*$")
_UNIT = re.compile(r"\s+[hHuUkKlL]\d{4}\s*$")


# --- normalisation ----------------------------------------------------------------------------

def normalise_street(names: Sequence[str] | pd.Series | np.ndarray) -> np.ndarray:
    """Return the matching key of each street name.

    Lower case, accents folded (``é`` -> ``e``; ``æøå`` kept), the suffixes
    ``gate``/``gata``/``gaten``/``gt.`` -> ``gt``, ``vegen``/``veien``/``vn.`` -> ``vn``
    and ``veg``/``vei``/``v.`` -> ``v`` at the end of each word, then every space
    and punctuation mark removed. ``"Kongens gate"``, ``"kongensgata"`` and
    ``"Kongens gt."`` all give ``"kongensgt"``.

    Parameters
    ----------
    names
        Street names (``adressenavn``); missing values give ``""``.

    Returns
    -------
    numpy.ndarray
        Object array of keys, one per name.
    """
    s = pd.Series(np.asarray(names, dtype=object), dtype=object).fillna("").astype(str)
    s = s.str.normalize("NFC").str.lower().str.translate(_ACCENTS)
    s = s.str.replace(r"['’`´]", "", regex=True)
    s = s.str.replace(r"[\s\-‐–—/,]+", " ", regex=True).str.strip()
    for pattern, repl in _SUFFIXES:
        s = s.str.replace(pattern, repl, regex=True)
    s = s.str.replace(r"[\W_]+", "", regex=True)
    return s.to_numpy(dtype=object)


def parse_addresses(addresses: Sequence[str] | pd.Series | np.ndarray) -> pd.DataFrame:
    """Split address texts into street, house number and house letter.

    ``"Storgata 12B"``, ``"storgata 12 b"`` and ``"Storgata12B"`` give
    ``("Storgata", 12, "B")``. A trailing ``", 0155 Oslo"`` and a dwelling number
    (``H0101``) are ignored; in ``"Moen, Bygdevegen 33"`` the part with the number
    is taken.

    Parameters
    ----------
    addresses
        Address texts; missing values are treated as empty.

    Returns
    -------
    pandas.DataFrame
        Columns ``street`` (str, ``""`` when none), ``number`` (int64, ``-1`` when
        none) and ``letter`` (upper-case str, ``""`` when none), one row per input.
    """
    s = pd.Series(np.asarray(addresses, dtype=object), dtype=object).fillna("").astype(str)
    s = s.str.replace(_POSTCODE_TAIL, "", regex=True).str.replace(_UNIT, "", regex=True)
    has_comma = s.str.contains(",", regex=False)
    if has_comma.any():
        parts = s[has_comma].str.split(",")
        with_digit = parts.map(lambda ps: next((p for p in ps if any(c.isdigit() for c in p)),
                                               ps[-1]))
        s = s.where(~has_comma, with_digit)
    parts = s.str.extract(_ADDRESS)
    number = pd.to_numeric(parts["number"], errors="coerce")
    number = number.where(number <= _MAX_NUMBER)
    return pd.DataFrame({
        "street": parts["street"].fillna("").str.strip().to_numpy(dtype=object),
        "number": number.fillna(-1).astype(np.int64).to_numpy(),
        "letter": parts["letter"].fillna("").str.upper().to_numpy(dtype=object),
    })


def normalise_postcodes(values: Sequence[object] | pd.Series | np.ndarray) -> np.ndarray:
    """Return 4-digit postnummer strings; ``""`` where a value is not one.

    Spreadsheets drop leading zeros (``155`` for ``0155``) and may add ``.0``;
    both are repaired.

    Parameters
    ----------
    values
        Postnummer as text or numbers.

    Returns
    -------
    numpy.ndarray
        Object array of ``"NNNN"`` or ``""``.
    """
    s = pd.Series(np.asarray(values, dtype=object), dtype=object).fillna("").astype(str)
    s = s.str.strip().str.replace(r"\.0$", "", regex=True)
    ok = s.str.fullmatch(r"\d{1,4}")
    return s.str.zfill(4).where(ok, "").to_numpy(dtype=object)


def _letter_codes(letters: np.ndarray) -> np.ndarray:
    """Letter -> 0 (none), 1..29 (A..Å), 63 (anything else)."""
    table = {"": 0, **{c: i + 1 for i, c in enumerate(_LETTERS)}}
    s = pd.Series(letters, dtype=object).fillna("").astype(str).str.strip().str.upper()
    return s.map(table).fillna(63).astype(np.int64).to_numpy()


# --- the register -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class AddressRegister:
    """An address register prepared for vectorised matching.

    Build it with :func:`build_register` or
    :func:`matcher.io.registers.read_address_register`. Addresses are
    sorted by ``code = street_id << 32 | number << 6 | letter``; each street
    (one postnummer and one normalised name) is a contiguous block.

    Attributes
    ----------
    streets
        ``"postnummer|key"`` of each street id (a hash index).
    codes
        Sorted int64 code of each address, unique.
    street_start, street_end
        Position range of each street's addresses in ``codes``.
    east, north
        Address point in :data:`~matcher.config.ADDRESS_REGISTER_CRS`, metres.
    number
        House number.
    letter
        House letter (``""`` when none).
    name_id
        Index into ``names`` of the register's own spelling of the street.
    names
        Street names as written in the register.
    duplicates
        Register rows dropped because another row had the same postnummer,
        normalised street, number and letter (the first is kept).
    """

    streets: pd.Index
    codes: np.ndarray
    street_start: np.ndarray
    street_end: np.ndarray
    east: np.ndarray
    north: np.ndarray
    number: np.ndarray
    letter: np.ndarray
    name_id: np.ndarray
    names: np.ndarray
    duplicates: int

    def __len__(self) -> int:
        return len(self.codes)


def build_register(frame: pd.DataFrame, *, source: str | None = None) -> AddressRegister:
    """Prepare a Matrikkelen adresse table for :func:`geocode`.

    Parameters
    ----------
    frame
        Table with the columns :data:`REGISTER_COLUMNS`: ``adressenavn`` (str),
        ``nummer`` (int), ``bokstav`` (str, empty when none), ``postnummer``
        (str or int), ``Nord`` and ``Øst`` (:data:`REGISTER_CRS`, metres). Categorical
        columns (as :func:`matcher.io.registers.read_address_register` gives) are fastest.
        Rows without a
        street name, number, postnummer or point (e.g. ``matrikkeladresse`` rows)
        are left out.
    source
        Name of the register in error messages (default: "address register", translated).

    Returns
    -------
    AddressRegister

    Raises
    ------
    InputError
        If a column is missing or no row is usable.
    """
    source = source or _("address register")
    missing = [c for c in REGISTER_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(ngettext(
            "{source}: missing column {missing}; give Kartverket's Matrikkelen adresse CSV "
            "(needs {needed})",
            "{source}: missing columns {missing}; give Kartverket's Matrikkelen adresse CSV "
            "(needs {needed})", len(missing)).format(source=source, missing=", ".join(missing),
                                                     needed=", ".join(REGISTER_COLUMNS)))
    name_id, names = pd.factorize(frame["adressenavn"], use_na_sentinel=True)
    pc_id, pcs = pd.factorize(frame["postnummer"], use_na_sentinel=True)
    number = pd.to_numeric(frame["nummer"], errors="coerce").to_numpy(dtype=float)
    east = pd.to_numeric(frame["Øst"], errors="coerce").to_numpy(dtype=float)
    north = pd.to_numeric(frame["Nord"], errors="coerce").to_numpy(dtype=float)

    name_keys = normalise_street(np.asarray(names, dtype=object))
    pc_text = normalise_postcodes(np.asarray(pcs, dtype=object))
    usable = ((name_id >= 0) & (pc_id >= 0) & np.isfinite(number) & (number >= 0)
              & (number <= _MAX_NUMBER) & np.isfinite(east) & np.isfinite(north))
    if usable.any():
        usable[usable] = (name_keys[name_id[usable]] != "") & (pc_text[pc_id[usable]] != "")
    if not usable.any():
        raise InputError(_("{source}: no usable address rows (street name, number, postnummer "
                           "and Nord/Øst); check that this is a Matrikkelen adresse CSV")
                         .format(source=source))
    rows = np.flatnonzero(usable)
    # '155' and '0155' are one postnummer: factorize the normalised texts
    pc_norm_id, pc_text = pd.factorize(pc_text)
    pc_text = np.asarray(pc_text, dtype=object)
    name_id, pc_id = name_id[rows], pc_norm_id[pc_id[rows]]
    # street = (postnummer, normalised name); different spellings may share one street
    key_id, keys = pd.factorize(name_keys[name_id])
    pair = pc_id.astype(np.int64) * len(keys) + key_id
    street_id, pair_uniques = pd.factorize(pair)
    streets = pd.Index(pc_text[pair_uniques // len(keys)] + "|"
                       + np.asarray(keys, dtype=object)[pair_uniques % len(keys)])

    letter_id, letters = pd.factorize(frame["bokstav"], use_na_sentinel=True)
    letters = pd.Series(np.append(np.asarray(letters, dtype=object), ""), dtype=object)
    letters = letters.fillna("").astype(str).str.strip().str.upper().to_numpy(dtype=object)
    letter_id = letter_id[rows]  # -1 (missing) picks the appended ""
    letter_text = letters[letter_id]
    num = number[rows].astype(np.int64)
    code = ((street_id.astype(np.int64) << _STREET_SHIFT) | (num << _NUMBER_SHIFT)
            | _letter_codes(letters)[letter_id])
    order = np.argsort(code, kind="stable")
    code = code[order]
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    duplicates = int((~first).sum())
    if duplicates:
        log.info(ngettext("{source}: {n} duplicate address key; the first row is used",
                          "{source}: {n} duplicate address keys; the first row of each is used",
                          duplicates).format(source=source, n=format_number(duplicates)))
    keep = order[first]
    code = code[first]
    ids = np.arange(len(streets), dtype=np.int64)
    return AddressRegister(
        streets=streets,
        codes=code,
        street_start=np.searchsorted(code, ids << _STREET_SHIFT),
        street_end=np.searchsorted(code, (ids + 1) << _STREET_SHIFT),
        east=east[rows][keep],
        north=north[rows][keep],
        number=num[keep],
        letter=letter_text[keep],
        name_id=name_id[keep],
        names=np.asarray(names, dtype=object),
        duplicates=duplicates,
    )




# --- matching ---------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class GeocodeResult:
    """Outcome of :func:`geocode`, one entry per input row.

    Attributes
    ----------
    lon, lat
        WGS84 (EPSG:4326) degrees; NaN where ``match`` is ``"none"``.
    match
        ``"exact"``, ``"approximate"`` or ``"none"`` (object array).
    matched_address
        The register's address used, e.g. ``"Storgata 12B"``; ``None`` where none.
    problems
        One :class:`~matcher.errors.Problem` per unresolved row (the row as a spreadsheet shows it,
        column and the fix; never the address itself).
    """

    lon: np.ndarray
    lat: np.ndarray
    match: np.ndarray
    matched_address: np.ndarray
    problems: tuple[Problem, ...]

    @property
    def unresolved_rows(self) -> np.ndarray:
        """Rows whose match is ``"none"``, as a spreadsheet shows them (header = row 1)."""
        return np.flatnonzero(self.match == "none") + FIRST_DATA_ROW

    def counts(self) -> dict[str, int]:
        """Number of rows per match kind."""
        return {k: int((self.match == k).sum()) for k in MATCH_KINDS}

    def to_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``frame`` with ``lon``, ``lat``, ``match``, ``matched_address``."""
        out = frame.copy()
        out["lon"] = self.lon
        out["lat"] = self.lat
        out["match"] = self.match
        out["matched_address"] = self.matched_address
        return out


def geocode(frame: pd.DataFrame, register: AddressRegister, *, address_column: str = "address",
            postcode_column: str = "postnummer", source: str | None = None) -> GeocodeResult:
    """Find the register point of each address.

    Parameters
    ----------
    frame
        Table with an address text column (``"Storgata 12B"``) and a postnummer
        column; other columns are ignored.
    register
        From :func:`matcher.io.registers.read_address_register` or :func:`build_register`.
    address_column, postcode_column
        Column names in ``frame``.
    source
        Name of the table in problems (e.g. the file name; default "addresses", translated).

    Returns
    -------
    GeocodeResult
        Coordinates in WGS84, the match kind and the matched address per row;
        rows that could not be matched are listed in ``problems``.

    Raises
    ------
    InputError
        If a column is missing (the only table-level failure; row failures are
        returned as problems so that callers can report all at once).
    """
    source = source or _("addresses")
    missing = [c for c in (address_column, postcode_column) if c not in frame.columns]
    if missing:
        raise InputError(ngettext(
            "{source}: missing column {missing}; give '{address}' (e.g. 'Storgata 12B') and "
            "'{postcode}' (4 digits, e.g. 0155)",
            "{source}: missing columns {missing}; give '{address}' (e.g. 'Storgata 12B') and "
            "'{postcode}' (4 digits, e.g. 0155)", len(missing)).format(
                source=source, missing=", ".join(missing), address=address_column,
                postcode=postcode_column))
    n = len(frame)
    parsed = parse_addresses(frame[address_column].to_numpy(dtype=object))
    postcode = normalise_postcodes(frame[postcode_column].to_numpy(dtype=object))
    key = normalise_street(parsed["street"].to_numpy(dtype=object))
    number = parsed["number"].to_numpy()
    letter = _letter_codes(parsed["letter"].to_numpy(dtype=object))

    street = register.streets.get_indexer(postcode + "|" + key) if n else np.empty(0, np.int64)
    street = np.where((postcode == "") | (key == ""), -1, street).astype(np.int64)
    found = street >= 0
    sid = np.where(found, street, 0)
    start, end = register.street_start[sid], register.street_end[sid]

    query = (sid << _STREET_SHIFT) | (np.maximum(number, 0) << _NUMBER_SHIFT) | letter
    pos = np.searchsorted(register.codes, query)
    at = np.minimum(pos, len(register.codes) - 1)
    exact = found & (number >= 0) & (pos < end) & (register.codes[at] == query)
    # nearest code on the same street: the neighbours below and at the insertion point
    lo = np.clip(pos - 1, start, end - 1)
    hi = np.clip(pos, start, end - 1)
    d_lo = np.abs(register.codes[lo] - query)
    d_hi = np.abs(register.codes[hi] - query)
    nearest = np.where(d_hi < d_lo, hi, lo)
    middle = start + (end - start) // 2
    index = np.where(exact, at, np.where(number >= 0, nearest, middle))
    kind = np.where(exact, "exact", np.where(found, "approximate", "none")).astype(object)

    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    matched = np.full(n, None, dtype=object)
    if found.any():
        idx = index[found]
        to_wgs84 = Transformer.from_crs(REGISTER_CRS, "EPSG:4326", always_xy=True)
        lon[found], lat[found] = to_wgs84.transform(register.east[idx], register.north[idx])
        matched[found] = (register.names[register.name_id[idx]] + " "
                          + register.number[idx].astype(str) + register.letter[idx])

    problems = _problems(source, address_column, postcode_column, postcode, key, found)
    log.info(ngettext("{source}: geocoded {n} row: {counts}",
                      "{source}: geocoded {n} rows: {counts}", n).format(
        source=source, n=format_number(n),
        counts=", ".join(f"{k} {format_number(int((kind == k).sum()))}" for k in MATCH_KINDS)))
    return GeocodeResult(lon=lon, lat=lat, match=kind, matched_address=matched,
                         problems=tuple(problems))


def _problems(source: str, address_column: str, postcode_column: str,
              postcode: np.ndarray, key: np.ndarray, found: np.ndarray) -> list[Problem]:
    """One problem per unmatched row, naming the fix (never the address)."""
    problems = []
    for i in np.flatnonzero(~found):
        row = sheet_row(i)
        if key[i] == "":
            problems.append(Problem(source, _("no street name in the address; write it as "
                                              "'street number letter', e.g. 'Storgata 12B', or "
                                              "give lon/lat"), row, address_column))
        elif postcode[i] == "":
            problems.append(Problem(source, _("postnummer missing or not 4 digits; give the "
                                              "address's postnummer, e.g. 0155"), row,
                                    postcode_column))
        else:
            problems.append(Problem(source, _("street not in the address register for this "
                                              "postnummer; check the street's spelling and the "
                                              "postnummer, or give lon/lat"), row,
                                    address_column))
    return problems
