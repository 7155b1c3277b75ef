"""Tests of matcher.geocode and `matcher geocode` against the real Elverum register in data/."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from typer.testing import CliRunner

from matcher import geocode
from matcher.cli import app
from matcher.errors import InputError
from matcher.io import registers as io_registers

DATA = Path(__file__).resolve().parents[1] / "data"
REGISTER = DATA / "matrikkelen_adresse_3420_elverum.csv"


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(REGISTER, sep=";", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig")


@pytest.fixture(scope="module")
def register() -> geocode.AddressRegister:
    return io_registers.read_address_register(REGISTER)


def _respell(name: str, form: int) -> str:
    """Another usual spelling of a street name (form 0: gate/veien, 1: gt./vn./v.)."""
    subs = [
        [(r"gata\b", "gate"), (r"gate\b", "gata"), (r"vegen\b", "veien"), (r"veien\b", "vegen"),
         (r"veg\b", "vei"), (r"vei\b", "veg")],
        [(r"gat[ae]\b", "gt."), (r"(?:vegen|veien)\b", "vn."), (r"(?:veg|vei)\b", "v.")],
    ][form]
    for pattern, repl in subs:
        new = re.sub(pattern, repl, name)
        if new != name:
            return new
    return name


def _variants(raw: pd.DataFrame) -> dict[str, pd.Series]:
    name, num, letter = raw["adressenavn"], raw["nummer"], raw["bokstav"]
    return {
        "as written": name + " " + num + letter,
        "upper case, letter apart in lower case": name.str.upper() + " " + num + " "
        + letter.str.lower(),
        "lower case, extra spaces": "  " + name.str.lower().str.replace(" ", "   ") + "   "
        + num + letter.str.lower() + " ",
        "gate/gata, vegen/veien, veg/vei swapped": name.map(lambda s: _respell(s, 0)) + " "
        + num + letter,
        "gt./vn./v. abbreviations": name.map(lambda s: _respell(s, 1)) + " " + num + letter,
        "suffix and number glued on": name.str.replace(r" (?=(?:gat[ae]|ve[gi]|vegen|veien)\b)",
                                                        "", regex=True) + num + letter,
        "with postnummer and poststed": name + " " + num + letter + ", " + raw["postnummer"]
        + " " + raw["poststed"],
    }


@pytest.mark.parametrize("variant", list(_variants(pd.DataFrame(
    columns=["adressenavn", "nummer", "bokstav", "postnummer", "poststed"])).keys()))
def test_every_register_address_in_every_variant_geocodes_to_its_own_point(
        raw: pd.DataFrame, register: geocode.AddressRegister, variant: str) -> None:
    texts = _variants(raw)[variant]
    frame = pd.DataFrame({"id": raw["lokalid"], "address": texts,
                          "postnummer": raw["postnummer"]})
    result = geocode.geocode(frame, register)

    assert len(raw) == 10_871
    assert (result.match == "exact").all(), result.problems[:3]
    assert result.problems == ()
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True).transform(
        result.lon, result.lat)
    error_m = np.hypot(east - raw["Øst"].astype(float), north - raw["Nord"].astype(float))
    assert error_m.max() < 1.0
    expected = (raw["adressenavn"] + " " + raw["nummer"] + raw["bokstav"]).to_numpy()
    assert (result.matched_address == expected).all()


def test_the_variants_really_differ_from_the_register_spelling(raw: pd.DataFrame) -> None:
    written = raw["adressenavn"] + " " + raw["nummer"] + raw["bokstav"]
    for variant, texts in _variants(raw).items():
        if variant == "suffix and number glued on":
            assert (texts.str.contains(" ") < written.str.contains(" ")).sum() > 300
        elif variant != "as written":
            assert (texts != written).mean() > 0.8, variant


def test_made_up_addresses_give_none_with_one_problem_each(
        register: geocode.AddressRegister) -> None:
    frame = pd.DataFrame({
        "address": ["Fantasivegen 12", "Gobakkvegen 438", "", "Gobakkvegen 438",
                    "Qwertygata 1B", "12", "Lilleby gate 12"],
        "postnummer": ["2410", "0155", "2410", "", "2406", "2410", "9999"],
    })
    result = geocode.geocode(frame, register, source="addresses.csv")

    assert list(result.match) == ["none"] * 7
    assert np.isnan(result.lon).all() and np.isnan(result.lat).all()
    assert list(result.unresolved_rows) == [2, 3, 4, 5, 6, 7, 8]  # spreadsheet rows
    assert [(p.row, p.column) for p in result.problems] == [
        (2, "address"), (3, "address"), (4, "address"), (5, "postnummer"), (6, "address"),
        (7, "address"), (8, "address")]
    for problem in result.problems:
        assert problem.source == "addresses.csv"
        assert not re.search(r"Fantasi|Gobakk|Qwerty|Lilleby|2410|2406|9999", problem.message)
        assert "give lon/lat" in problem.message or "postnummer" in problem.message


def test_missing_number_gives_the_nearest_on_the_same_street(
        raw: pd.DataFrame, register: geocode.AddressRegister) -> None:
    street = raw[raw["adressenavn"] == "Gobakkvegen"]
    numbers = sorted({int(n) for n in street["nummer"]})
    gap = next(n for n in range(numbers[0], numbers[-1]) if n not in numbers)
    below = max(n for n in numbers if n < gap)
    above = min(n for n in numbers if n > gap)
    nearest = below if gap - below <= above - gap else above
    postnummer = street["postnummer"].iloc[0]
    frame = pd.DataFrame({
        "address": [f"Gobakkveien {gap}", f"gobakkvn. {numbers[-1] + 500}", "Gobakkvegen",
                    f"Gobakkvegen {numbers[0]}Z"],
        "postnummer": [postnummer] * 4,
    })
    result = geocode.geocode(frame, register)

    assert list(result.match) == ["approximate"] * 4
    assert result.matched_address[0] == f"Gobakkvegen {nearest}"
    assert result.matched_address[1] == f"Gobakkvegen {numbers[-1]}"
    assert result.matched_address[2].startswith("Gobakkvegen ")
    assert result.matched_address[3].startswith(f"Gobakkvegen {numbers[0]}")
    assert np.isfinite(result.lon).all() and result.problems == ()


@pytest.mark.parametrize(("written", "key"), [
    ("Kongens gate", "kongensgt"), ("kongensgata", "kongensgt"), ("Kongens gt.", "kongensgt"),
    ("Kongensgaten", "kongensgt"), ("Gobakkvegen", "gobakkvn"), ("GOBAKKVEIEN", "gobakkvn"),
    ("Gobakkvn.", "gobakkvn"), ("Åsmund Sveens veg", "åsmundsveensv"),
    ("åsmund sveens vei", "åsmundsveensv"), ("Åsmund Sveens v.", "åsmundsveensv"),
    ("Idéveien", "ideveien".replace("veien", "vn")), ("Hans-Nielsen Hauges gate",
                                                      "hansnielsenhaugesgt"),
])
def test_normalise_street(written: str, key: str) -> None:
    assert geocode.normalise_street([written])[0] == key


def test_parse_addresses_and_postcodes() -> None:
    parsed = geocode.parse_addresses(["Storgata 12B", "storgata 12 b", "Storgata12b",
                                      "Moen, Bygdevegen 33", "Storgata 5, 0155 Oslo",
                                      "Storgata", "Storgata 3 H0101", None])
    assert list(parsed["street"]) == ["Storgata", "storgata", "Storgata", "Bygdevegen",
                                      "Storgata", "Storgata", "Storgata", ""]
    assert list(parsed["number"]) == [12, 12, 12, 33, 5, -1, 3, -1]
    assert list(parsed["letter"]) == ["B", "B", "B", "", "", "", "", ""]
    assert list(geocode.normalise_postcodes(["155", 155, "0155", "155.0", "abcd", None,
                                             "12345"])) == ["0155"] * 4 + [""] * 3


def test_build_register_checks_columns_and_counts_duplicates() -> None:
    with pytest.raises(InputError, match=r"missing column.*Nord"):
        geocode.build_register(pd.DataFrame({"adressenavn": ["A"]}))
    frame = pd.DataFrame({"adressenavn": ["Storgata", "Storgate", "Storgata", None],
                          "nummer": [1, 1, 2, 3], "bokstav": ["", "", "a", ""],
                          "postnummer": ["0155", "0155", "155", "0155"],
                          "Nord": [6.6e6, 6.6e6 + 5, 6.6e6 + 10, 6.6e6],
                          "Øst": [2.6e5] * 4})
    register = geocode.build_register(frame)
    assert len(register) == 2 and register.duplicates == 1
    result = geocode.geocode(pd.DataFrame({"address": ["Storgt. 2A", "Storgata 1"],
                                           "postnummer": ["0155", "155"]}), register)
    assert list(result.match) == ["exact", "exact"]
    assert list(result.matched_address) == ["Storgata 2A", "Storgata 1"]


def test_read_register_rejects_other_crs_and_missing_columns(tmp_path: Path) -> None:
    header = REGISTER.read_text(encoding="utf-8-sig").splitlines()[:3]
    utm32 = tmp_path / "utm32.csv"
    utm32.write_text("\n".join([header[0]] + [h.replace(";25833;", ";25832;")
                                              for h in header[1:]]), encoding="utf-8-sig")
    with pytest.raises(InputError, match="EPSG:25833"):
        io_registers.read_address_register(utm32)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column"):
        io_registers.read_address_register(wrong)
    with pytest.raises(InputError, match="not found"):
        io_registers.read_address_register(tmp_path / "absent.csv")


def test_geocode_needs_its_columns(register: geocode.AddressRegister) -> None:
    with pytest.raises(InputError, match="postnummer"):
        geocode.geocode(pd.DataFrame({"address": ["Gobakkvegen 1"]}), register)


def test_cli_writes_owner_only_output_and_lists_unresolved_rows(tmp_path: Path) -> None:
    addresses = tmp_path / "addresses.csv"
    addresses.write_text("id;address;postnummer\nc1;GOBAKKVEIEN 438;2410\nc2;Nowhere 1;2410\n"
                         "c3;Gobakkvegen 437;2410\n", encoding="utf-8")
    out = tmp_path / "out" / "geocoded.csv"
    result = CliRunner().invoke(app, ["geocode", "--addresses", str(addresses),
                                      "--register", str(REGISTER), "--out", str(out)])

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "1 exact, 1 approximate, 1 none" in output
    assert "row 3" in output and "id c2" in output  # c2 is on the file's 3rd line
    assert "Nowhere" not in output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    table = pd.read_csv(out, dtype=str)  # the engine's one CSV format
    assert list(table.columns) == ["id", "address", "postnummer", "lon", "lat", "match",
                                   "matched_address"]
    assert list(table["match"]) == ["exact", "none", "approximate"]
    assert table["matched_address"][0] == "Gobakkvegen 438"
    assert [p.name for p in out.parent.iterdir()] == ["geocoded.csv"]


def test_cli_bad_output_type_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    addresses = tmp_path / "addresses.csv"
    addresses.write_text("id,address,postnummer\nc1,Gobakkvegen 438,2410\n", encoding="utf-8")
    out = tmp_path / "geocoded.txt"
    result = CliRunner().invoke(app, ["geocode", "--addresses", str(addresses),
                                      "--register", str(REGISTER), "--out", str(out)])
    assert result.exit_code == 2
    assert ".csv, .parquet" in " ".join(result.output.split())
    assert not out.exists()


def test_cli_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    # issue 24: 'geocode --out' over the address table replaced the user's file
    addresses = tmp_path / "addresses.csv"
    text = "id,address,postnummer\nc1,Gobakkvegen 438,2410\n"
    addresses.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["geocode", "--addresses", str(addresses),
                                      "--register", str(REGISTER), "--out", str(addresses)])
    assert result.exit_code == 2, result.output
    assert "also an input file" in " ".join(result.output.split())
    assert addresses.read_text(encoding="utf-8") == text
