"""Tests for matcher.scoring: hand-computed scores, filters vs brute force, diagnoses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from matcher import i18n, schema, scoring, vocabulary
from matcher.config import ScoringSettings
from matcher.errors import InputError
from matcher.timetable import TimeTable

SETTINGS = ScoringSettings()
TRAIN = ("teen",)
INF = math.inf


def _table(rows: dict[str, dict[str, float]]) -> TimeTable:
    """TimeTable from ``{home_id: {anchor_id: minutes}}``; missing pairs are unreachable."""
    homes = list(rows)
    anchors = sorted({a for r in rows.values() for a in r})
    minutes = np.array([[rows[h].get(a, INF) for a in anchors] for h in homes], dtype=float)
    return TimeTable(np.array(homes, dtype=object), np.array(anchors, dtype=object), minutes)


# --------------------------------------------------------------------------- tiny instance
#
# a: age 8, school, needs trauma, planned, group G, contacts relative(w1), friend(w3),
#    parent, parent.  b: age 15, no school, needs teen (trainable), acute, group G,
#    one parent contact.  c: age 4, school, limit 20 min, planned, no contacts.

def _tiny_frames() -> dict[str, pd.DataFrame]:
    children = pd.DataFrame({
        "child_id": ["a", "b", "c"], "lon": [10.7, 10.8, 5.3], "lat": [59.9, 59.9, 60.4],
        "school_lon": [10.71, None, 5.31], "school_lat": [59.91, None, 60.41],
        "municipality": ["0301", "0301", "4601"], "age": [8, 15, 4],
        "needs": ["trauma", "teen", ""], "sibling_group": ["G", "G", ""],
        "urgency": ["planned", "acute", "planned"], "max_school_minutes": [None, None, 20.0]})
    homes = pd.DataFrame({
        "home_id": ["h1", "h2", "h3", "h4"], "lon": [10.7, 10.7, 5.3, 5.3],
        "lat": [59.9, 59.9, 60.4, 60.4], "municipality": ["0301", "0301", "4601", "4601"],
        "capacity": [2, 2, 1, 0], "competences": ["TBO-F", "", "trygg-base", "teen;EFST"],
        "min_age": [0, 0, 0, 0], "max_age": [18, 18, 12, 18],
        "kind": ["general", "kinship", "emergency", "specialized"],
        "kin_of": ["", "G", "", ""]})
    contacts = pd.DataFrame({
        "child_id": ["a", "a", "a", "a", "b"],
        "kind": ["relative", "friend", "parent", "parent", "parent"],
        "lon": [10.6] * 5, "lat": [59.8] * 5, "weight": [1.0, 3.0, 1.0, 1.0, 1.0]})
    return {"children": children, "homes": homes, "contacts": contacts}


TINY_TIMES = {
    "h1": {"a:school": 12, "a:contact:1": 20, "a:contact:2": 50, "a:contact:3": 10,
           "a:contact:4": 40, "b:contact:1": 61, "c:school": 25},
    "h2": {"a:school": 30, "a:contact:1": 5, "a:contact:2": 5, "a:contact:3": 14,
           "a:contact:4": 14, "b:contact:1": 14, "c:school": 15},
    "h3": {"a:school": 8, "a:contact:1": 8, "a:contact:2": 8, "a:contact:3": 8,
           "a:contact:4": 8, "b:contact:1": 8, "c:school": 8},
    "h4": {"a:school": 70, "a:contact:1": INF, "a:contact:2": 90, "a:contact:3": 30,
           "a:contact:4": 30, "b:contact:1": 30, "c:school": 10},
}


def _tiny(settings: ScoringSettings = SETTINGS, **extra: pd.DataFrame) -> scoring.Scored:
    frames = _tiny_frames() | extra
    inputs = schema.validate(**frames, settings=settings)
    return scoring.score_pairs(inputs, _table(TINY_TIMES), settings, trainable_needs=TRAIN)


def _pair(scored: scoring.Scored, child: str, home: str) -> dict[str, Any]:
    rows = scored.pairs[(scored.pairs["child_id"] == child) & (scored.pairs["home_id"] == home)]
    assert len(rows) == 1, f"pair {child}-{home} not in pairs"
    return rows.iloc[0].to_dict()


def test_tiny_feasible_pairs_and_columns() -> None:
    scored = _tiny()
    assert list(scored.pairs.columns) == list(scoring.PAIR_COLUMNS)
    got = list(zip(scored.pairs["child_id"], scored.pairs["home_id"], strict=True))
    # a: h2 lacks trauma competence, h3 is emergency (a planned), h4 full.
    # b: h3 age 0-12, h4 full. c: h1 school 25 > 20, h2 kin of G, h3 emergency, h4 full.
    assert got == [("a", "h1"), ("b", "h1"), ("b", "h2")]
    assert scored.pairs["feasible"].all() and not scored.pairs["locked"].any()
    assert scored.unmatched == ["c"]


def test_tiny_hand_computed_band_scores() -> None:
    scored = _tiny()
    a1 = _pair(scored, "a", "h1")
    # school 12 min: band <=15 -> 1. network: relative 20 (15-30 -> .75, w1), friend 50
    # (45-60 -> .25, w3): (.75 + .75)/4 = .375; mean (20 + 150)/4 = 42.5 (30-45).
    # parents: mean (10 + 40)/2 = 25 (15-30) -> .75. municipality 0301 = 0301 -> 1.
    assert a1["school"] == 1.0 and a1["school_minutes"] == 12 and a1["school_band"] == "<=15"
    assert a1["network"] == pytest.approx(0.375)
    assert a1["network_minutes"] == pytest.approx(42.5) and a1["network_band"] == "30-45"
    assert a1["parents"] == 0.75 and a1["parent_minutes"] == 25 and a1["parent_band"] == "15-30"
    assert a1["municipality"] == 1.0 and a1["kinship"] == 0.0
    assert a1["score"] == pytest.approx(0.16 * 1 + 0.10 * 0.375 + 0.08 * 0.75 + 0.08 * 1)
    assert a1["n_training"] == 0 and a1["training_needs"] == ""
    assert a1["explanation"] == (
        "school 12.0 min (<=15) -> 1.00; network mean 42.5 min (30-45) -> 0.38; "
        "parents mean 25.0 min (15-30) -> 0.75; municipality same -> 1.00; "
        "kinship no -> 0.00; score 0.34")

    b1 = _pair(scored, "b", "h1")
    # no school, no network -> neutral .5; parent 61 min (>60) -> 0.
    assert (b1["school"], b1["network"], b1["parents"]) == (0.5, 0.5, 0.0)
    assert np.isnan(b1["school_minutes"]) and b1["school_band"] == "none"
    assert b1["parent_band"] == ">60"
    assert b1["score"] == pytest.approx(0.16 * 0.5 + 0.10 * 0.5 + 0.08 * 1)

    b2 = _pair(scored, "b", "h2")
    # own kinship home (kin_of = group G); teen met by training.
    assert b2["kinship"] == 1.0 and b2["parents"] == 1.0 and b2["municipality"] == 1.0
    assert b2["score"] == pytest.approx(0.16 * 0.5 + 0.10 * 0.5 + 0.08 + 0.08 + 0.58)
    assert b2["n_training"] == 1 and b2["training_needs"] == "teen"
    assert b2["explanation"].startswith("school none -> 0.50 (neutral); network none -> 0.50 "
                                        "(neutral); parents mean 14.0 min (<=15) -> 1.00")
    assert b2["explanation"].endswith("kinship own kinship home -> 1.00; score 0.87; "
                                      "training needed: teenager")


def test_tiny_hand_computed_smooth_scores() -> None:
    settings = ScoringSettings(decay="smooth", half_life_minutes=30.0)
    a1 = _pair(_tiny(settings), "a", "h1")

    def half(minutes: float) -> float:
        return 2.0 ** (-minutes / 30.0)

    assert a1["school"] == pytest.approx(half(12))
    assert a1["network"] == pytest.approx((half(20) + 3 * half(50)) / 4)
    assert a1["parents"] == pytest.approx(half(25))
    want = 0.16 * half(12) + 0.10 * (half(20) + 3 * half(50)) / 4 + 0.08 * half(25) + 0.08
    assert a1["score"] == pytest.approx(want)
    assert a1["school_band"] == "<=15"  # bands still label the minutes


def test_weights_are_normalised() -> None:
    settings = ScoringSettings(weights={"school": 2.0, "municipality": 2.0}, kinship_first=False)
    a1 = _pair(_tiny(settings), "a", "h1")
    assert a1["score"] == pytest.approx((2 * 1.0 + 2 * 1.0) / 4)


def test_decay_band_boundaries_and_smooth() -> None:
    t = np.array([0, 15, 15.01, 30, 45, 60, 60.01, INF, np.nan])
    got = scoring.decay(t, SETTINGS)
    np.testing.assert_array_equal(got[:-1], [1, 1, 0.75, 0.75, 0.5, 0.25, 0, 0])
    assert np.isnan(got[-1])
    smooth = ScoringSettings(decay="smooth", half_life_minutes=20.0)
    np.testing.assert_allclose(scoring.decay(np.array([0, 20, 40, INF]), smooth),
                               [1, 0.5, 0.25, 0])
    assert scoring.band_labels(SETTINGS) == ["<=15", "15-30", "30-45", "45-60", ">60"]


def test_tiny_funnel_and_explanation() -> None:
    scored = _tiny()
    f = scored.funnel.set_index("child_id")
    cols = [f"after_{x}" for x in scoring.FILTERS]
    assert f.loc["c", cols].tolist() == [3, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert f.loc["c", "binding"] == "capacity;kind;school"
    assert f.loc["c", "nearest_school_minutes"] == 25
    text = scored.explain_infeasible("c")
    assert "no suitable home within 20 min of school (nearest such home: 25.0 min)" in text
    assert "the only otherwise suitable home is full (capacity 0)" in text
    assert ("both otherwise suitable homes are reserved: 1 kinship home for other children, "
            "1 emergency home (acute placements only") in text
    assert scored.explain_infeasible("b") == "child b has 2 feasible homes"
    with pytest.raises(InputError, match="unknown child_id 'zz'"):
        scored.explain_infeasible("zz")


def test_locked_pairs_are_kept_and_flagged() -> None:
    # c -> h4 passes every filter but capacity, which a lock overrides.
    scored = _tiny(placements=pd.DataFrame({"child_id": ["c", "a"], "home_id": ["h4", "h3"]}))
    c4 = _pair(scored, "c", "h4")
    assert c4["locked"] and c4["feasible"]
    assert c4["explanation"].endswith("; locked placement")
    # a -> h3 is an emergency home for a planned child: kept, but infeasible.
    a3 = _pair(scored, "a", "h3")
    assert a3["locked"] and not a3["feasible"]
    assert a3["explanation"].endswith("; locked placement; fails: kind of home")
    assert scored.unmatched == []  # c is feasible through its lock
    assert scored.funnel.set_index("child_id").loc["a", "n_locked"] == 1
    assert "h3" not in scoring.shortlist(scored, 5).query("child_id == 'a'")["home_id"].tolist()


def test_kinship_first_with_default_weights() -> None:
    # Child k's kinship home is far on every axis; the stranger home is perfect.
    frames = {
        "children": pd.DataFrame({
            "child_id": ["k"], "lon": [10.7], "lat": [59.9], "school_lon": [10.7],
            "school_lat": [59.9], "municipality": ["0301"], "age": [9], "urgency": ["planned"],
            "max_school_minutes": [80.0]}),
        "homes": pd.DataFrame({
            "home_id": ["kin", "stranger"], "lon": [10.7, 10.7], "lat": [59.9, 59.9],
            "municipality": ["4601", "0301"], "capacity": [1, 1], "min_age": [0, 0],
            "max_age": [18, 18], "kind": ["kinship", "general"], "kin_of": ["k", ""]}),
        "contacts": pd.DataFrame({"child_id": ["k", "k"], "kind": ["relative", "parent"],
                                  "lon": [10.7, 10.7], "lat": [59.9, 59.9]}),
    }
    times = _table({"kin": {"k:school": 75, "k:contact:1": INF, "k:contact:2": INF},
                    "stranger": {"k:school": 1, "k:contact:1": 1, "k:contact:2": 1}})
    inputs = schema.validate(**frames, settings=SETTINGS)
    scored = scoring.score_pairs(inputs, times, SETTINGS, trainable_needs=TRAIN)
    kin, stranger = _pair(scored, "k", "kin"), _pair(scored, "k", "stranger")
    assert kin["score"] == pytest.approx(0.58) and stranger["score"] == pytest.approx(0.42)
    assert kin["score"] > stranger["score"]
    assert scoring.shortlist(scored, 2)["home_id"].tolist() == ["kin", "stranger"]
    assert kin["network_minutes"] == INF and kin["network_band"] == ">60"
    assert "network unreachable (>60) -> 0.00" in kin["explanation"]


# --------------------------------------------------------------------------- one filter at a time
#
# Child d (age 10, needs behaviour, school) and home g (general, TBO-F, 0-18, 20 min to
# school) make a feasible pair. Each case breaks exactly one filter.

def _solo(*, home: dict[str, Any] | None = None, child: dict[str, Any] | None = None,
          school: float = 20.0, vetoes: pd.DataFrame | None = None,
          contact_minutes: tuple[float, float] | None = None,
          settings: ScoringSettings = SETTINGS) -> scoring.Scored:
    """``contact_minutes``: d gets a relative (no limit) and an activity within 20 min."""
    children = pd.DataFrame({
        "child_id": ["d", "e"], "lon": [10.7, 10.7], "lat": [59.9, 59.9],
        "school_lon": [10.7, None], "school_lat": [59.9, None],
        "municipality": ["0301", "0301"], "age": [10, 3], "needs": ["behaviour", ""],
        "urgency": ["planned", "planned"]})
    for key, value in (child or {}).items():
        children.loc[0, key] = value
    homes = pd.DataFrame({
        "home_id": ["g"], "lon": [10.7], "lat": [59.9], "municipality": ["0301"],
        "capacity": [1], "competences": ["TBO-F"], "min_age": [0], "max_age": [18],
        "kind": ["general"], "kin_of": [""]})
    for key, value in (home or {}).items():
        homes.loc[0, key] = value
    contacts = None
    times = {"d:school": school}
    if contact_minutes is not None:
        contacts = pd.DataFrame({"child_id": ["d", "d"], "kind": ["relative", "activity"],
                                 "lon": [10.7, 10.7], "lat": [59.9, 59.9],
                                 "max_minutes": [None, 20.0]})
        times |= {"d:contact:1": contact_minutes[0], "d:contact:2": contact_minutes[1]}
    inputs = schema.validate(children, homes, contacts, vetoes=vetoes, settings=settings)
    return scoring.score_pairs(inputs, _table({"g": times}), settings, trainable_needs=TRAIN)


SOLO_CASES = [
    ("capacity", {"home": {"capacity": 0}}, "the only otherwise suitable home is full"),
    ("kind", {"home": {"kind": "emergency"}},
     "the only otherwise suitable home is reserved: 1 emergency home (acute placements only"),
    ("kind", {"home": {"kind": "kinship", "kin_of": "e"}},
     "reserved: 1 kinship home for other children"),
    ("age", {"home": {"max_age": 8}},
     "no home approved for age 10 (1 home within 45 min of school, but its age range is 0-8)"),
    ("age", {"home": {"min_age": 11}}, "its age range is 11-18"),
    ("competences", {"home": {"competences": "trygg-base"}},
     "the only home within 45 min of school lacks a needed competence (behavioural "
     "difficulties needs EFST or TBO-F, found in 0 of 1)"),
    ("school", {"school": 45.5},
     "no suitable home within 45 min of school (nearest such home: 45.5 min)"),
    ("school", {"school": INF},
     "the only such home is not reachable by road within the travel-time limit"),
    ("school", {"child": {"max_school_minutes": 15.0}},
     "no suitable home within 15 min of school (nearest such home: 20.0 min)"),
    ("veto", {"vetoes": pd.DataFrame({"child_id": ["d"], "home_id": ["g"]})},
     "the only qualifying home is vetoed"),
    ("veto", {"child": {"current_home_id": "g"}},
     "the only qualifying home is g, where the child lives now; it has not said it keeps the "
     "child (current_home_keeps)"),
    ("household", {"home": {"own_children_ages": "9;15"},
                   "settings": ScoringSettings(min_age_gap_own_children=2)},
     "the only otherwise suitable home has an own child closer in age than 2 years to this "
     "child (age 10; closest: 1 year apart; rule min_age_gap_own_children)"),
    ("language", {"child": {"languages": "so;ar", "language_required": "yes"},
                  "home": {"languages": "nb"}},
     "no home speaks Arabic or Somali (language required; 1 home within 45 min of school checked)"),
    ("avoid", {"child": {"avoid_municipalities": "0301"}},
     "the only otherwise suitable home is in a municipality the child does not want to live "
     "in (Oslo)"),
    ("contacts", {"contact_minutes": (5.0, 25.0)},
     "no home within 20 min of activity 1 (nearest otherwise suitable home: "
     "25.0 min)"),
    ("contacts", {"contact_minutes": (5.0, INF)},
     "the only otherwise suitable home is not reachable by road"),
]


def test_solo_base_is_feasible() -> None:
    scored = _solo(school=45.0)  # the limit is inclusive
    assert _pair(scored, "d", "g")["feasible"]
    assert scored.funnel.set_index("child_id").loc["d", "binding"] == ""


@pytest.mark.parametrize(("filter_name", "change", "text"), SOLO_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SOLO_CASES)])
def test_each_filter_alone(filter_name: str, change: dict[str, Any], text: str) -> None:
    scored = _solo(**change)
    assert scored.pairs.query("child_id == 'd'").empty
    funnel = scored.funnel.set_index("child_id").loc["d"]
    assert funnel["binding"] == filter_name
    stage = scoring.FILTERS.index(filter_name)
    assert [funnel[f"after_{f}"] for f in scoring.FILTERS] == (
        [1] * stage + [0] * (len(scoring.FILTERS) - stage))
    assert text in scored.explain_infeasible("d")


def test_contact_kind_in_a_reason_is_in_the_language_of_the_run() -> None:
    with i18n.language("nb"):
        text = _solo(contact_minutes=(5.0, 25.0)).explain_infeasible("d")
    assert "aktivitet 1" in text and "activity" not in text


def test_trainable_need_keeps_pair_feasible() -> None:
    scored = _solo(child={"needs": "teen;behaviour"}, home={"competences": "TBO-F"})
    assert _pair(scored, "d", "g")["n_training"] == 0  # TBO-F meets teen as well
    scored = _solo(child={"needs": "teen;trauma"}, home={"competences": "trygg-base"})
    pair = _pair(scored, "d", "g")
    assert (pair["n_training"], pair["training_needs"]) == (1, "teen")
    scored = _solo(child={"needs": "teen"}, home={"competences": "EFST"})
    no_train = scoring.score_pairs(
        schema.validate(pd.DataFrame({"child_id": ["d"], "lon": [1.0], "lat": [1.0],
                                      "municipality": ["0301"], "age": [10],
                                      "needs": ["teen"], "urgency": ["planned"]}),
                        pd.DataFrame({"home_id": ["g"], "lon": [1.0], "lat": [1.0],
                                      "municipality": ["0301"], "capacity": [1],
                                      "min_age": [0], "max_age": [18], "kind": ["general"]}),
                        settings=SETTINGS),
        _table({"g": {}}), SETTINGS, trainable_needs=())
    assert no_train.pairs.empty
    assert "teenager needs teenagers or TBO-F, found in 0 of 1" in no_train.explain_infeasible("d")


def test_competence_and_school_both_binding_message() -> None:
    children = pd.DataFrame({"child_id": ["d"], "lon": [1.0], "lat": [1.0], "school_lon": [1.0],
                             "school_lat": [1.0], "municipality": ["0301"], "age": [15],
                             "needs": ["behaviour"], "urgency": ["planned"]})
    homes = pd.DataFrame({"home_id": ["far", "near1", "near2"], "lon": [1.0] * 3,
                          "lat": [1.0] * 3, "municipality": ["0301"] * 3, "capacity": [1] * 3,
                          "competences": ["TBO-F", "", "trygg-base"], "min_age": [0, 0, 0],
                          "max_age": [18, 18, 12], "kind": ["general"] * 3})
    times = _table({"far": {"d:school": 62}, "near1": {"d:school": 10},
                    "near2": {"d:school": 30}})
    scored = scoring.score_pairs(schema.validate(children, homes, settings=SETTINGS), times,
                                 SETTINGS, trainable_needs=TRAIN)
    text = scored.explain_infeasible("d")
    assert "no home with competence EFST or TBO-F within 45 min of school (nearest such " \
           "home: 62.0 min)" in text
    assert ("the only home within 45 min of school lacks a needed competence (behavioural "
            "difficulties needs EFST or TBO-F, found in 0 of 1)") in text
    # near2 fails two filters (age and competence), so it is not counted above
    assert scored.funnel.loc[0, "binding"] == "competences;school"


def test_no_single_binding_filter_uses_the_funnel() -> None:
    children = pd.DataFrame({"child_id": ["d"], "lon": [1.0], "lat": [1.0], "school_lon": [1.0],
                             "school_lat": [1.0], "municipality": ["0301"], "age": [15],
                             "urgency": ["planned"]})
    homes = pd.DataFrame({"home_id": ["x", "y", "z"], "lon": [1.0] * 3, "lat": [1.0] * 3,
                          "municipality": ["0301"] * 3, "capacity": [1, 1, 1],
                          "min_age": [0, 0, 0], "max_age": [12, 12, 10],
                          "kind": ["general"] * 3})
    times = _table({"x": {"d:school": 50}, "y": {"d:school": 55}, "z": {"d:school": 70}})
    scored = scoring.score_pairs(
        schema.validate(children, homes, settings=SETTINGS), times, SETTINGS,
        trainable_needs=TRAIN)
    text = scored.explain_infeasible("d")
    assert scored.funnel.loc[0, "binding"] == ""
    assert text.endswith("of 3 homes: 3 with free capacity, 3 open to this child by kind, "
                         "0 approved for age 15; no home approved for age 15 (3 homes left "
                         "after the rules on a free place, kind of home, but their age ranges "
                         "are 0-12 (2 homes), 0-10 (1 home))")


def test_all_qualifying_homes_vetoed() -> None:
    children = pd.DataFrame({"child_id": ["d"], "lon": [1.0], "lat": [1.0],
                             "municipality": ["0301"], "age": [5], "urgency": ["planned"]})
    homes = pd.DataFrame({"home_id": ["p", "q", "r", "s", "t"], "lon": [1.0] * 5,
                          "lat": [1.0] * 5, "municipality": ["0301"] * 5,
                          "capacity": [1, 1, 1, 1, 0], "min_age": [0] * 5, "max_age": [18] * 5,
                          "kind": ["general"] * 5})
    vetoes = pd.DataFrame({"child_id": ["d"] * 4, "home_id": ["p", "q", "r", "s"]})
    scored = scoring.score_pairs(schema.validate(children, homes, vetoes=vetoes,
                                                 settings=SETTINGS),
                                 _table({"p": {}}), SETTINGS, trainable_needs=TRAIN)
    assert "all 4 qualifying homes are vetoed" in scored.explain_infeasible("d")


# --------------------------------------------------------------------------- brute force


def _random_instance(seed: int) -> tuple[schema.Inputs, TimeTable]:
    rng = np.random.default_rng(seed)
    n_c, n_h = 9, 11
    ids = [f"c{i}" for i in range(n_c)]
    groups = rng.choice(["", "", "G1", "G2"], n_c)
    muni = rng.choice(["0301", "4601", "5001"], n_c)
    # siblings may live in different municipalities
    has_school = rng.random(n_c) < 0.7
    children = pd.DataFrame({
        "child_id": ids, "lon": 10.0, "lat": 60.0,
        "school_lon": np.where(has_school, 10.1, np.nan),
        "school_lat": np.where(has_school, 60.1, np.nan),
        "municipality": muni, "age": rng.integers(0, 19, n_c),
        "needs": rng.choice(["", "trauma", "teen", "behaviour;teen", "disability",
                             "attachment;trauma", "specialized"], n_c),
        "sibling_group": groups, "urgency": rng.choice(["acute", "planned"], n_c),
        "max_school_minutes": np.where(rng.random(n_c) < 0.3, 25.0, np.nan),
        "avoid_municipalities": rng.choice(["", "", "", "4601", "0301;5001"], n_c),
        "languages": (langs := rng.choice(["", "", "nb", "so", "nb;ar", "ar"], n_c)),
        "language_required": np.where(langs != "", rng.choice(["yes", "no", ""], n_c), ""),
        "culture": rng.choice(["", "", "muslim", "sami", "christian;sami"], n_c)})
    kind = rng.choice(["general", "kinship", "emergency", "specialized"], n_h)
    kin_pool = np.array([*ids, "G1", "G2"], dtype=object)
    homes = pd.DataFrame({
        "home_id": [f"h{j:02d}" for j in range(n_h)], "lon": 10.0, "lat": 60.0,
        "municipality": rng.choice(["0301", "4601", "5001"], n_h),
        "capacity": rng.choice([0, 1, 2], n_h, p=[0.2, 0.5, 0.3]),
        "competences": rng.choice(["", "TBO-F", "trygg-base", "EFST;disability", "teen",
                                   "PRIDE"], n_h),
        "min_age": rng.integers(0, 8, n_h), "max_age": rng.integers(8, 19, n_h),
        "kind": kind, "kin_of": np.where(kind == "kinship", rng.choice(kin_pool, n_h), ""),
        "languages": rng.choice(["", "nb", "nb;so", "ar", "se"], n_h),
        "culture": rng.choice(["", "sami", "muslim", "christian"], n_h),
        "own_children_ages": rng.choice(["", "", "3", "10;14", "7;7"], n_h)})
    n_k = 14
    contacts = pd.DataFrame({"child_id": rng.choice(ids, n_k),
                             "kind": rng.choice(["relative", "friend", "activity", "parent"],
                                                n_k),
                             "lon": 10.0, "lat": 60.0,
                             "weight": rng.choice([0.5, 1.0, 2.0], n_k),
                             "max_minutes": rng.choice([np.nan, np.nan, 20.0, 45.0, 60.0],
                                                       n_k)})
    pairs = [(c, h) for c in ids for h in homes["home_id"]]
    pick = rng.permutation(len(pairs))[:12]
    locked = {}
    for i in pick[:5]:
        locked.setdefault(pairs[i][0], pairs[i][1])
    placements = pd.DataFrame({"child_id": list(locked), "home_id": list(locked.values())})
    vetoes = pd.DataFrame([pairs[i] for i in pick[5:]], columns=["child_id", "home_id"])
    inputs = schema.validate(children, homes, contacts, placements, vetoes, settings=SETTINGS)
    anchors = schema.anchors(inputs)["anchor_id"].to_numpy(dtype=object)
    minutes = rng.choice([0.0, 5.0, 15.0, 25.0, 30.0, 44.9, 45.0, 60.0, 75.0, INF],
                         (n_h, len(anchors)))
    minutes = minutes + np.where(rng.random(minutes.shape) < 0.3, rng.random(minutes.shape), 0)
    home_ids = inputs.homes["home_id"].to_numpy(dtype=object)[::-1].copy()  # any row order
    return inputs, TimeTable(home_ids, anchors, minutes[::-1].copy())


def _brute(inputs: schema.Inputs, times: TimeTable, settings: ScoringSettings,
           trainable: tuple[str, ...]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per-pair Python reference implementation of filters and components."""
    t = {(o, d): times.minutes[i, j] for i, o in enumerate(times.origin_ids)
         for j, d in enumerate(times.destination_ids)}
    bands = settings.bands_minutes

    def dec(x: float) -> float:
        if settings.decay == "smooth":
            return math.exp(-math.log(2) * x / settings.half_life_minutes)
        for i, b in enumerate(bands):
            if x <= b:
                return 1 - i / len(bands)
        return 0.0

    locked = set(zip(inputs.placements["child_id"], inputs.placements["home_id"], strict=True))
    vetoed = set(zip(inputs.vetoes["child_id"], inputs.vetoes["home_id"], strict=True))
    w = settings.weights
    any_lang = any(len(x) for x in inputs.children["languages"])
    any_culture = any(len(x) for x in inputs.children["culture"])
    out = {}
    for ch in inputs.children.itertuples():
        group = None if pd.isna(ch.sibling_group) else ch.sibling_group
        cts = inputs.contacts[inputs.contacts["child_id"] == ch.child_id]
        for ho in inputs.homes.itertuples():
            key = (ch.child_id, ho.home_id)
            ok = {"capacity": ho.capacity > 0 or key in locked}
            kin_ok = ho.kind != "kinship" or ho.kin_of in (ch.child_id, group)
            ok["kind"] = kin_ok and (ho.kind != "emergency" or ch.urgency == "acute")
            ok["age"] = ho.min_age <= ch.age <= ho.max_age
            ok["household"] = all(abs(a - ch.age) >= settings.min_age_gap_own_children
                                  for a in ho.own_children_ages)
            shared_lang = set(ch.languages) & set(ho.languages)
            ok["language"] = not ch.language_required or bool(shared_lang)
            ok["avoid"] = ho.municipality not in ch.avoid_municipalities
            limited = cts[cts["max_minutes"].notna()]
            ok["contacts"] = all(t.get((ho.home_id, a), INF) <= lim for a, lim in
                                 zip(limited["anchor_id"], limited["max_minutes"], strict=True))
            training = []
            ok["competences"] = True
            for need in ch.needs:
                accepted = set(settings.need_competences.get(need, ()))
                if need in settings.competences:
                    accepted.add(need)
                if accepted & set(ho.competences):
                    continue
                if need in trainable:
                    training.append(need)
                else:
                    ok["competences"] = False
            has_school = not math.isnan(ch.school_lon)
            limit = (settings.default_max_school_minutes if math.isnan(ch.max_school_minutes)
                     else ch.max_school_minutes)
            school_t = t.get((ho.home_id, f"{ch.child_id}:school"), INF)
            ok["school"] = not has_school or school_t <= limit
            ok["veto"] = key not in vetoed
            net = cts[cts["kind"].isin(["relative", "friend", "activity"])]
            par = cts[cts["kind"] == "parent"]
            net_t = [t.get((ho.home_id, a), INF) for a in net["anchor_id"]]
            par_t = [t.get((ho.home_id, a), INF) for a in par["anchor_id"]]
            comp = {
                "school": dec(school_t) if has_school else 0.5,
                "network": (sum(wt * dec(x) for wt, x in zip(net["weight"], net_t, strict=True))
                            / net["weight"].sum()) if len(net) else 0.5,
                "parents": dec(sum(wt * x for wt, x in zip(par["weight"], par_t, strict=True))
                               / par["weight"].sum()) if len(par) else 0.5,
                "municipality": (1.0 if ho.municipality == ch.municipality else
                                 settings.pool_score
                                 if settings.pool_of(ch.municipality) is not None
                                 and settings.pool_of(ch.municipality)
                                 == settings.pool_of(ho.municipality) else 0.0),
                "kinship": float(ho.kind == "kinship" and ho.kin_of in (ch.child_id, group)),
                "language": float(bool(shared_lang)) if ch.languages else 0.5,
                "culture": float(bool(set(ch.culture) & set(ho.culture))) if ch.culture
                else 0.5,
            }
            used = {k: v for k, v in w.items()
                    if not (k == "language" and not any_lang)
                    and not (k == "culture" and not any_culture)}
            score = sum(used.get(k, 0) * v for k, v in comp.items()) / sum(used.values())
            out[key] = {"ok": ok, "feasible": all(ok.values()), "locked": key in locked,
                        "comp": comp, "score": score, "training": ";".join(sorted(training))}
    return out


@pytest.mark.parametrize("decay", ["band", "smooth"])
@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force(seed: int, decay: str) -> None:
    settings = ScoringSettings(decay=decay, pools={"p": ("0301", "4601")},
                               min_age_gap_own_children=3.0 if seed % 2 else 0.0)
    inputs, times = _random_instance(seed)
    scored = scoring.score_pairs(inputs, times, settings, trainable_needs=TRAIN)
    ref = _brute(inputs, times, settings, TRAIN)

    want = sorted(k for k, v in ref.items() if v["feasible"] or v["locked"])
    got = list(zip(scored.pairs["child_id"], scored.pairs["home_id"], strict=True))
    assert got == want
    for row in scored.pairs.itertuples():
        r = ref[(row.child_id, row.home_id)]
        assert row.feasible == r["feasible"] and row.locked == r["locked"]
        for k, v in r["comp"].items():
            assert getattr(row, k) == pytest.approx(v), k
        assert row.score == pytest.approx(r["score"])
        assert row.training_needs == r["training"]
        assert row.n_training == len([x for x in r["training"].split(";") if x])
        fails = [f for f in scoring.FILTERS if not r["ok"][f]]
        assert row.explanation.endswith(
            f"; fails: {', '.join(vocabulary.names('rule', fails))}" if fails else "")

    # each filter removes exactly the pairs it should, in funnel order
    for frow in scored.funnel.itertuples():
        alive = [h for (c, h) in ref if c == frow.child_id]
        for f in scoring.FILTERS:
            alive = [h for h in alive if ref[(frow.child_id, h)]["ok"][f]]
            assert getattr(frow, f"after_{f}") == len(alive), (frow.child_id, f)
        assert frow.n_feasible == len(alive)
        assert (frow.reason == "") == (len(alive) > 0)

    # chunking does not change anything
    small = scoring.score_pairs(inputs, times, settings, trainable_needs=TRAIN, chunk_pairs=7)
    pd.testing.assert_frame_equal(small.pairs, scored.pairs)
    pd.testing.assert_frame_equal(small.funnel, scored.funnel)


@pytest.mark.parametrize("seed", range(8))
def test_kinship_home_outranks_strangers(seed: int) -> None:
    inputs, times = _random_instance(seed)
    scored = scoring.score_pairs(inputs, times, SETTINGS, trainable_needs=TRAIN)
    feasible = scored.pairs[scored.pairs["feasible"]]
    for _, rows in feasible.groupby("child_id"):
        kin = rows[rows["kinship"] == 1.0]
        if len(kin) and len(kin) < len(rows):
            assert kin["score"].min() > rows.loc[rows["kinship"] == 0.0, "score"].max()


# --------------------------------------------------------------------------- shortlist


def _scored_from(rows: list[tuple[str, str, float, bool]]) -> scoring.Scored:
    pairs = pd.DataFrame(rows, columns=["child_id", "home_id", "score", "feasible"])
    pairs = pairs.assign(explanation="e", locked=False)
    return scoring.Scored(pairs=pairs, funnel=pd.DataFrame())


def test_shortlist_order_ties_and_k() -> None:
    scored = _scored_from([
        ("x", "h3", 0.5, True), ("x", "h1", 0.5, True), ("x", "h2", 0.9, True),
        ("x", "h0", 0.99, False), ("x", "h4", 0.1, True), ("w", "h9", 0.2, True),
        ("x", "h6", 0.1 + 0.2, True), ("x", "h5", 0.3, True)])
    top = scoring.shortlist(scored, 3)
    assert list(zip(top["child_id"], top["rank"], top["home_id"], strict=True)) == [
        ("w", 1, "h9"), ("x", 1, "h2"), ("x", 2, "h1"), ("x", 3, "h3")]
    assert "feasible" not in top.columns and list(top.columns[:3]) == ["child_id", "rank",
                                                                       "home_id"]
    full = scoring.shortlist(scored, 10)
    # 0.1 + 0.2 and 0.3 tie after rounding; the tie goes to the lower home_id
    assert full.query("child_id == 'x'")["home_id"].tolist() == ["h2", "h1", "h3", "h5",
                                                                 "h6", "h4"]
    with pytest.raises(InputError, match="k=0"):
        scoring.shortlist(scored, 0)


def test_shortlist_of_scored_pairs() -> None:
    scored = _tiny()
    top = scoring.shortlist(scored, 1)
    assert top[["child_id", "home_id", "rank"]].values.tolist() == [["a", "h1", 1],
                                                                    ["b", "h2", 1]]
    assert top.loc[1, "explanation"] == _pair(scored, "b", "h2")["explanation"]


def test_kinship_home_may_meet_every_need_by_training() -> None:
    """Child a needs trauma competence; its group's kinship home h2 has none."""
    frames = _tiny_frames()
    inputs = schema.validate(**frames, settings=SETTINGS)
    times = _table(TINY_TIMES)
    strict = scoring.score_pairs(inputs, times, SETTINGS, trainable_needs=TRAIN)
    assert ("a", "h2") not in set(zip(strict.pairs["child_id"], strict.pairs["home_id"],
                                      strict=True))
    lenient = scoring.score_pairs(inputs, times, SETTINGS, trainable_needs=TRAIN,
                                  kinship_training=True)
    a2 = _pair(lenient, "a", "h2")
    assert a2["n_training"] == 1 and a2["training_needs"] == "trauma"
    assert "training needed: trauma" in a2["explanation"]
    # strangers do not get the same leniency: c still has no home, a still lacks h3/h4
    got = set(zip(lenient.pairs["child_id"], lenient.pairs["home_id"], strict=True))
    assert got == {("a", "h1"), ("a", "h2"), ("b", "h1"), ("b", "h2")}


# --------------------------------------------------------------------------- issue 13


def test_wish_rules_pass_at_their_limits_and_explain_themselves() -> None:
    ok = _solo(contact_minutes=(70.0, 20.0),  # the limit is inclusive; relatives unlimited
               home={"own_children_ages": "8", "languages": "nb;so"},
               child={"languages": "so", "language_required": "yes", "culture": "muslim",
                      "avoid_municipalities": "4601"},
               settings=ScoringSettings(min_age_gap_own_children=2))
    pair = _pair(ok, "d", "g")
    assert pair["feasible"] and pair["language"] == 1.0 and pair["culture"] == 0.0
    assert pair["shared_languages"] == "so" and pair["language_required"]
    assert pair["own_child_gap_years"] == 2 and pair["contact_slack_minutes"] == 0
    assert not pair["avoided_municipality"] and pair["municipality_relation"] == "own"
    text = pair["explanation"]
    assert "; language shared (Somali) -> 1.00 (required)" in text
    assert "; culture none shared -> 0.00" in text
    assert "; household: own children at least 2 years apart in age (rule >= 2 years met)" in text
    assert "; contact limits met (0.0 min to spare)" in text


def test_language_and_culture_are_neutral_for_children_who_list_none() -> None:
    scored = _solo(child={"culture": "sami"}, home={"languages": "se", "culture": "sami"})
    d, e = _pair(scored, "d", "g"), _pair(scored, "e", "g")
    assert d["culture"] == 1.0 and e["culture"] == 0.5 and d["language"] == 0.5
    assert "culture shared (Sami) -> 1.00" in d["explanation"]
    assert "culture none listed -> 0.50 (neutral)" in e["explanation"]
    assert "language" not in d["explanation"]  # no child of the run lists a language
    # the culture weight counts (a child lists a tag), the language weight does not
    w = SETTINGS.weights
    expected = (w["school"] * 0.75 + w["network"] * 0.5 + w["parents"] * 0.5
                + w["municipality"] * 1.0 + w["culture"] * 1.0) / (
        sum(w.values()) - w["language"])
    assert d["score"] == pytest.approx(expected)


@pytest.mark.parametrize(("child_muni", "home_muni", "value", "relation", "pool"), [
    ("4626", "4626", 1.0, "own", ""), ("4626", "4631", 0.6, "pool", "oygarden_alver"),
    ("4626", "4601", 0.0, "other", ""), ("4601", "4626", 0.0, "other", "")])
def test_municipality_component_with_pools(child_muni: str, home_muni: str, value: float,
                                           relation: str, pool: str) -> None:
    settings = ScoringSettings(pools={"oygarden_alver": ("4626", "4631")})
    scored = _solo(child={"municipality": child_muni}, home={"municipality": home_muni},
                   settings=settings)
    pair = _pair(scored, "d", "g")
    assert (pair["municipality"], pair["municipality_relation"], pair["pool"]) == (
        value, relation, pool)
    word = {"own": "same", "pool": "cooperation oygarden alver", "other": "other"}[relation]
    assert f"; municipality {word} -> {value:.2f}" in pair["explanation"]
