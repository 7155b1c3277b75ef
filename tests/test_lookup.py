"""Tests of matcher.lookup: input tables completed from the real registers in data/.

Children with street addresses, schools by name and no (or old) municipality
numbers are read through the same path as `matcher match` and compared with the
register rows they were drawn from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from typer.testing import CliRunner

from matcher.cli import app
from matcher.config import ScoringSettings
from matcher.errors import InputError
from matcher.io import readers
from matcher.io import registers as io_registers

DATA = Path(__file__).resolve().parents[1] / "data"
REGISTER = DATA / "matrikkelen_adresse_3420_elverum.csv"
SETTINGS = ScoringSettings()
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True)


@pytest.fixture(scope="module")
def addresses() -> pd.DataFrame:
    """Five real Elverum addresses (street, number, letter, postnummer, Nord, Øst)."""
    frame = pd.read_csv(REGISTER, sep=";", dtype=str, encoding="utf-8-sig",
                        usecols=["adressenavn", "nummer", "bokstav", "postnummer", "Nord", "Øst",
                                 "adressetype"])
    frame = frame[frame["adressetype"] == "vegadresse"].fillna("")
    return frame.iloc[[0, 100, 2000, 5000, 9000]].reset_index(drop=True)


def write_tables(folder: Path, children: pd.DataFrame) -> tuple[Path, Path]:
    homes = pd.DataFrame({"home_id": ["H1"], "lon": [11.56], "lat": [60.88],
                          "municipality": ["3420"], "capacity": [1], "competences": [""],
                          "min_age": [0], "max_age": [17], "kind": ["general"]})
    children.to_csv(folder / "children.csv", index=False)
    homes.to_csv(folder / "homes.csv", index=False)
    return folder / "children.csv", folder / "homes.csv"


def base_children(n: int) -> pd.DataFrame:
    return pd.DataFrame({"child_id": [f"C{i}" for i in range(n)], "age": 10,
                         "urgency": "planned"})


def test_addresses_schools_and_municipalities_from_the_registers(addresses: pd.DataFrame,
                                                                 tmp_path: Path) -> None:
    children = base_children(len(addresses))
    children["address"] = [f"{r.adressenavn} {r.nummer}{r.bokstav}".upper()
                           for r in addresses.itertuples()]
    children["postnummer"] = addresses["postnummer"]
    children["school_id"] = "Hernes Skole"
    children["municipality"] = ["", "3420", "", "", ""]
    paths = write_tables(tmp_path, children)
    registers = io_registers.default_registers(address_register=REGISTER)
    inputs = readers.read_inputs(*paths, settings=SETTINGS, registers=registers)
    got = inputs.children.set_index("child_id").loc[children["child_id"]]
    x, y = TO_UTM.transform(got["lon"].to_numpy(), got["lat"].to_numpy())
    np.testing.assert_allclose(x, addresses["Øst"].astype(float), atol=1.0)
    np.testing.assert_allclose(y, addresses["Nord"].astype(float), atol=1.0)
    assert (got["municipality"] == "3420").all()  # derived from the Elverum polygon
    assert np.allclose(got["school_lat"], 60.9262174) and np.allclose(got["school_lon"],
                                                                        11.6371196)
    assert "address" not in inputs.children.columns  # only the point is kept


def test_unresolved_rows_are_input_errors_with_row_and_column(addresses: pd.DataFrame,
                                                              tmp_path: Path) -> None:
    children = base_children(3)
    children["address"] = [f"{addresses.adressenavn[0]} {addresses.nummer[0]}",
                           "Finnesikkjevegen 7", ""]
    children["postnummer"] = [addresses.postnummer[0], "2406", ""]
    children["lon"] = ["", "", "11.5"]
    children["lat"] = ["", "", "60.9"]
    children["school_id"] = ["", "Ytre Rendal Skole Nope", ""]
    children["municipality"] = ["3420", "3025", "1507"]
    paths = write_tables(tmp_path, children)
    registers = io_registers.default_registers(address_register=REGISTER)
    with pytest.raises(InputError) as info:
        readers.read_inputs(*paths, settings=SETTINGS, registers=registers)
    where = {(p.row, p.column) for p in info.value.problems}
    assert (3, "address") in where and (3, "school_id") in where  # the 2nd child: row 3
    assert (4, "municipality") in where  # 1507 Ålesund was split: no single successor
    text = str(info.value)
    assert "1508" in text and "1580" in text
    assert "Finnesikkjevegen" not in text  # no address is echoed


def test_old_numbers_are_translated_with_a_warning(tmp_path: Path) -> None:
    children = base_children(1)
    children["lon"], children["lat"] = 10.43, 59.83  # Asker
    children["municipality"] = "3025"
    paths = write_tables(tmp_path, children)
    inputs = readers.read_inputs(*paths, settings=SETTINGS,
                                 registers=io_registers.default_registers())
    assert inputs.children["municipality"].tolist() == ["3203"]
    assert len(inputs.warnings) == 1 and "3025" in inputs.warnings[0].message


def test_an_unknown_number_suggests_the_polygon_of_the_point(tmp_path: Path) -> None:
    children = base_children(1)
    children["lon"], children["lat"] = 11.56, 60.88  # Elverum
    children["municipality"] = "9999"
    paths = write_tables(tmp_path, children)
    with pytest.raises(InputError, match="use 3420"):
        readers.read_inputs(*paths, settings=SETTINGS,
                            registers=io_registers.default_registers())


def test_without_registers_the_columns_are_reported_not_guessed(tmp_path: Path) -> None:
    children = base_children(1)
    children["address"], children["postnummer"] = "Storgata 1", "2406"
    children["municipality"] = "3420"
    paths = write_tables(tmp_path, children)
    with pytest.raises(InputError) as info:
        readers.read_inputs(*paths, settings=SETTINGS)
    messages = " ".join(p.message for p in info.value.problems)
    assert "address register" in messages
    assert "unknown column 'address'" not in messages


def test_cli_validate_with_an_address_register(addresses: pd.DataFrame, tmp_path: Path) -> None:
    children = base_children(2)
    children["address"] = [f"{r.adressenavn} {r.nummer}{r.bokstav}" for r in
                           addresses.iloc[:2].itertuples()]
    children["postnummer"] = addresses["postnummer"].iloc[:2].to_numpy()
    paths = write_tables(tmp_path, children)
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", "--children", str(paths[0]), "--homes", str(paths[1]),
                             "--address-register", str(REGISTER)])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["validate", "--children", str(paths[0]), "--homes",
                              str(paths[1])])
    assert bad.exit_code == 2 and "address register" in bad.output
