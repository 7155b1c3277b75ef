"""Language codes: ISO 639-1 or 639-3, one code per language, names in the user's language."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher import config, i18n, languages, pipeline, schema, tables
from matcher.timetable import TimeTable


@pytest.mark.parametrize(("code", "expected"), [
    ("se", "se"), ("sme", "se"), ("nob", "nb"), ("nno", "nn"), ("som", "so"),
    ("sma", "sma"), ("smj", "smj"), ("smn", "smn"), ("sms", "sms"), ("fkv", "fkv"),
    ("rom", "rom"), ("rmu", "rmu"), ("rmy", "rmy"), ("nsl", "nsl"), ("no", "no"),
    ("xx", None), ("qqq", None), ("SMA", None), ("norsk", None), ("s", None), ("", None),
])
def test_normalise(code: str, expected: str | None) -> None:
    assert languages.normalise(code) == expected


def test_the_reader_accepts_every_language_of_norway_and_merges_se_and_sme() -> None:
    frame = pd.DataFrame({"languages": ["sme;sma;smj;fkv;rom;rmu;nsl", "se;sme", "nob;nb", ""]})
    t = tables.read("homes", frame.assign(
        home_id=["H1", "H2", "H3", "H4"], lon=10.7, lat=59.9, municipality="0301",
        capacity=1, min_age=0, max_age=17, kind="general"))
    assert [p for p in t.problems if p.column == "languages"] == []
    assert list(t.values["languages"]) == [
        ("fkv", "nsl", "rmu", "rom", "se", "sma", "smj"), ("se",), ("nb",), ()]


@pytest.mark.parametrize(("lang", "expected"), [
    ("nb", ["nordsamisk", "sørsamisk", "lulesamisk", "kvensk", "romani (skandoromani)",
            "romanes", "norsk tegnspråk", "somali"]),
    ("nn", ["nordsamisk", "sørsamisk", "lulesamisk", "kvensk", "romani (skandoromani)",
            "romanes", "norsk teiknspråk", "somali"]),
    ("en", ["Northern Sami", "Southern Sami", "Lule Sami", "Kven", "Romani (Scandoromani)",
            "Romanes", "Norwegian Sign Language", "Somali"]),
])
def test_names_follow_the_language(lang: str, expected: list[str]) -> None:
    with i18n.language(lang):
        assert languages.names(["sme", "sma", "smj", "fkv", "rmu", "rom", "nsl", "so"]) == \
            expected


def test_a_required_language_is_shared_whichever_code_was_written() -> None:
    """C1 speaks 'sme' (required): only H2, which wrote 'se', may take it; C2 speaks 'sma'
    (required), which no home speaks: no proposal, and the reason names the language."""
    children = pd.DataFrame({
        "child_id": ["C1", "C2"], "lon": [10.70, 10.71], "lat": [59.91, 59.92],
        "school_lon": [10.70, 10.71], "school_lat": [59.91, 59.92],
        "municipality": ["4601", "4601"], "age": [10, 11], "urgency": ["planned"] * 2,
        "languages": ["sme", "sma"], "language_required": ["yes", "yes"]})
    homes = pd.DataFrame({
        "home_id": ["H1", "H2", "H3"], "lon": [10.75, 10.76, 10.77],
        "lat": [59.95, 59.96, 59.97], "municipality": ["4601"] * 3, "capacity": [1, 1, 1],
        "min_age": [0, 0, 0], "max_age": [17, 17, 17], "kind": ["general"] * 3,
        "languages": ["nb", "se;nb", "sme"]})
    settings = config.Settings()
    inputs = schema.validate(children, homes, settings=settings.scoring)
    # H1 is nearest but speaks no Sami; H2 ('se') and H3 ('sme') both speak Northern Sami.
    times = TimeTable(origin_ids=np.array(["H1", "H2", "H3"], dtype=object),
                      destination_ids=np.array(["C1:school", "C2:school"], dtype=object),
                      minutes=np.array([[5.0, 5.0], [20.0, 20.0], [30.0, 30.0]]))
    with i18n.language("nb"):
        result = pipeline.run(inputs, settings, times=times)
    rows = result.assignments.set_index("child_id")
    assert rows.at["C1", "home_id"] == "H2"  # the nearer of the two homes that speak it
    assert pd.isna(rows.at["C2", "home_id"])
    assert "sørsamisk" in rows.at["C2", "reason"]
    feasible = set(map(tuple, result.scored.pairs[["child_id", "home_id"]].to_numpy()))
    assert ("C1", "H1") not in feasible
    assert {("C1", "H2"), ("C1", "H3")} <= feasible
