"""Error and problem messages follow the language (nb, nn, en), with hand-written expectations.

The test session runs in English (conftest); each test here asks for its
language with ``i18n.language``. Expected texts are written out by hand, not
taken from the catalogs, so a missing or wrong translation fails.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from matcher import config, i18n, nightly, registers
from matcher.errors import InputError, Problem, raise_if_problems
from matcher.io import readers

CHILDREN = """child_id,lon,lat,municipality,age,urgency
c1,5.32,60.39,4601,9,acute
c2,5.33,60.40,4601,12,snart
c3,5.34,60.41,4601,fem,planned
"""
HOMES = """home_id,lon,lat,municipality,capacity,min_age,max_age,kind
h1,5.30,60.38,4601,1,0,18,general
"""


def _bad_inputs(tmp_path: Path) -> InputError:
    (tmp_path / "children.csv").write_text(CHILDREN, encoding="utf-8")
    (tmp_path / "homes.csv").write_text(HOMES, encoding="utf-8")
    with pytest.raises(InputError) as info:
        readers.read_inputs(tmp_path / "children.csv", tmp_path / "homes.csv")
    return info.value


@pytest.mark.parametrize(("lang", "expected"), ids=["nb", "nn", "en"], argvalues=[
    ("nb", ["ugyldige inndata: 2 problemer i children.csv",
            "children.csv, rad 3, kolonne 'urgency': 'snart' er ikke en gyldig verdi i urgency; "
            "bruk en av acute, planned",
            "children.csv, rad 4, kolonne 'age': age 'fem' er ikke et heltall 0..25"]),
    ("nn", ["ugyldige inndata: 2 problem i children.csv",
            "children.csv, rad 3, kolonne 'urgency': 'snart' er ikkje ein gyldig verdi i urgency; "
            "bruk ein av acute, planned",
            "children.csv, rad 4, kolonne 'age': age 'fem' er ikkje eit heiltal 0..25"]),
    ("en", ["invalid inputs: 2 problems in children.csv",
            "children.csv, row 3, column 'urgency': 'snart' is not a valid urgency; use one of "
            "acute, planned",
            "children.csv, row 4, column 'age': age 'fem' is not a whole number 0..25"]),
])
def test_a_bad_children_table_is_reported_in_the_language(tmp_path: Path, lang: str,
                                                          expected: list[str]) -> None:
    with i18n.language(lang):
        error = _bad_inputs(tmp_path)
    lines = str(error).splitlines()
    assert lines[0] == expected[0]
    assert [line.removeprefix("  - ") for line in lines[1:]] == expected[1:]
    # the structured fields stay machine-readable whatever the language
    assert [(p.source, p.row, p.column) for p in error.problems] == [
        ("children.csv", 3, "urgency"), ("children.csv", 4, "age")]  # the file's lines 3 and 4


def test_the_message_keeps_the_language_it_was_made_in(tmp_path: Path) -> None:
    with i18n.language("nn"):
        error = _bad_inputs(tmp_path)
    with i18n.language("en"):
        assert "rad 4" in str(error)  # made in nynorsk, shown later in any context


@pytest.mark.parametrize(("lang", "located", "row_only", "column_only"), ids=["nb", "nn", "en"],
                         argvalues=[
    ("nb", "homes.csv, rad 4, kolonne 'kind': x", "homes.csv, rad 4: x",
     "homes.csv, kolonne 'kind': x"),
    ("nn", "homes.csv, rad 4, kolonne 'kind': x", "homes.csv, rad 4: x",
     "homes.csv, kolonne 'kind': x"),
    ("en", "homes.csv, row 4, column 'kind': x", "homes.csv, row 4: x",
     "homes.csv, column 'kind': x"),
])
def test_problem_locations(lang: str, located: str, row_only: str, column_only: str) -> None:
    with i18n.language(lang):
        assert str(Problem("homes.csv", "x", 4, "kind")) == located
        assert str(Problem("homes.csv", "x", 4)) == row_only
        assert str(Problem("homes.csv", "x", column="kind")) == column_only
        assert str(Problem("homes.csv", "x")) == "homes.csv: x"


@pytest.mark.parametrize(("lang", "one", "three"), ids=["nb", "nn", "en"], argvalues=[
    ("nb", "feil i fila (1 problem)", "feil i fila (3 problemer)"),
    ("nn", "feil i fila (1 problem)", "feil i fila (3 problem)"),
    ("en", "feil i fila (1 problem)", "feil i fila (3 problems)"),
])
def test_problem_counts_use_plural_forms(lang: str, one: str, three: str) -> None:
    with i18n.language(lang):
        for n, lead in ((1, one), (3, three)):
            with pytest.raises(InputError) as info:
                raise_if_problems("feil i fila", [Problem("f", "x")] * n)
            assert info.value.summary == lead


CONFIG = """[travel]
workers = 0
speed = 3
[assignment]
solver = "gurobi"
[scoring.weights]
kinship = 0.1
school = 0.3
network = 0.12
"""


@pytest.mark.parametrize(("lang", "expected"), ids=["nb", "nn", "en"], argvalues=[
    ("nb", ["c.toml: ugyldig konfigurasjon (4 problemer)",
            "c.toml, kolonne 'travel.workers': Verdien må være større enn eller lik 1; rett "
            "eller fjern denne nøkkelen",
            "c.toml, kolonne 'travel.speed': Ukjent nøkkel; rett eller fjern denne nøkkelen",
            "c.toml, kolonne 'scoring': familie og nettverk først: weights.kinship (0,1) må være "
            "større enn summen av de andre vektene (0,42); øk den eller sett kinship_first = "
            "false; rett eller fjern denne nøkkelen",
            "c.toml, kolonne 'assignment.solver': Verdien må være en av 'highs', 'cbc'; rett "
            "eller fjern denne nøkkelen"]),
    ("nn", ["c.toml: ugyldig konfigurasjon (4 problem)",
            "c.toml, kolonne 'travel.workers': Verdien må vere større enn eller lik 1; rett "
            "eller fjern denne nøkkelen",
            "c.toml, kolonne 'travel.speed': Ukjend nøkkel; rett eller fjern denne nøkkelen",
            "c.toml, kolonne 'scoring': familie og nettverk først: weights.kinship (0,1) må vere "
            "større enn summen av dei andre vektene (0,42); auk han eller set kinship_first = "
            "false; rett eller fjern denne nøkkelen",
            "c.toml, kolonne 'assignment.solver': Verdien må vere ein av 'highs', 'cbc'; rett "
            "eller fjern denne nøkkelen"]),
    ("en", ["c.toml: invalid configuration (4 problems)",
            "c.toml, column 'travel.workers': Input should be greater than or equal to 1; fix "
            "or remove this key",
            "c.toml, column 'travel.speed': Extra inputs are not permitted; fix or remove this "
            "key",
            "c.toml, column 'scoring': kinship first: weights.kinship (0.1) must exceed the sum "
            "of the other weights (0.42); raise it or set kinship_first = false; fix or remove "
            "this key",
            "c.toml, column 'assignment.solver': Input should be one of 'highs', 'cbc'; fix or "
            "remove this key"]),
])
def test_configuration_errors_in_the_language(lang: str, expected: list[str]) -> None:
    with i18n.language(lang), pytest.raises(InputError) as info:
        config.settings_from_dict(tomllib.loads(CONFIG), source="c.toml")
    lines = str(info.value).splitlines()
    assert lines[0] == expected[0]
    assert sorted(line.removeprefix("  - ") for line in lines[1:]) == sorted(expected[1:])
    # TOML key names are never translated
    assert {p.column for p in info.value.problems} == {
        "travel.workers", "travel.speed", "scoring", "assignment.solver"}


def test_an_unreadable_configuration_file_in_nynorsk(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with i18n.language("nn"), pytest.raises(InputError) as info:
        config.load(missing)
    assert str(info.value) == f"{missing}: fann ikkje konfigurasjonsfila; kontroller stien"


MAPPING = pd.DataFrame({
    "old": ["3025", "1507", "1507"], "new": ["3203", "1508", "1580"],
    "name": ["Asker", "Ålesund", "Haram"], "kind": ["merged", "split", "split"],
    "old_name": ["Asker", "Ålesund", "Ålesund"], "share_of_old": [99.2, 60.4, 39.6]})


@pytest.mark.parametrize(("lang", "warning", "split", "unknown"), ids=["nb", "nn"], argvalues=[
    ("nb", "3025 (Asker) er et kommunenummer fra før 2024; gjort om til 3203 (Asker). "
           "Oppdater saksmappen",
     "1507 (Ålesund) ble delt i 1508 Ålesund (60 % av arealet), 1580 Haram (40 % av "
     "arealet); oppgi 2024-nummeret",
     "'9999' er ikke et kommunenummer fra 2024; kontroller det, eller la feltet stå tomt, "
     "så hentes det fra lon/lat"),
    ("nn", "3025 (Asker) er eit kommunenummer frå før 2024; gjort om til 3203 (Asker). "
           "Oppdater saksmappa",
     "1507 (Ålesund) vart delt i 1508 Ålesund (60 % av arealet), 1580 Haram (40 % av "
     "arealet); oppgje 2024-nummeret",
     "'9999' er ikkje eit kommunenummer frå 2024; kontroller det, eller la feltet stå tomt, "
     "så blir det henta frå lon/lat"),
])
def test_municipality_numbers_in_the_language(lang: str, warning: str, split: str,
                                              unknown: str) -> None:
    with i18n.language(lang):
        result = registers.translate_municipalities(["3025", "1507", "9999"], MAPPING,
                                                    source="homes.csv")
    assert list(result.codes) == ["3203", "", ""]
    assert [w.message for w in result.warnings] == [warning]
    assert [p.message for p in result.problems] == [split, unknown]


def test_a_failed_nightly_run_names_places_in_the_language() -> None:
    error = InputError("ugyldige inndata", [Problem("decisions", "x", 3, "decision")])
    with i18n.language("nb"):
        shown = nightly._public_error(error, "R1")
    assert str(shown) == ("ugyldige inndata i: decisions, rad 3, kolonne 'decision'. Kjøring R1 "
                          "er registrert som mislykket; match_runs.error har hvert problem og "
                          "hvordan det rettes")
