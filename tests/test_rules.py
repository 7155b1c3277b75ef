"""Tests of matcher.rules: matching and planning ask the same rules and agree on every pair."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import schema, scoring
from matcher.config import ScoringSettings
from matcher.planning import common as planning_common
from matcher.rules import (
    FILTERS,
    Eligibility,
    accepted_competences,
    contacts_ok,
    courses_for,
    school_ok,
    trainable_needs,
)
from matcher.timetable import TimeTable

SETTINGS = ScoringSettings(min_age_gap_own_children=2.0)
# a region that lists its own course and marks behaviour hard as well
REGION = ScoringSettings(min_age_gap_own_children=2.0, courses=("TBO-F", "trygg-base", "EFST",
                                                                "MST"),
                         need_competences={**SETTINGS.need_competences, "behaviour": ("MST",),
                                           "specialized": ("specialized",)},
                         hard_needs=("disability", "behaviour"))
NEEDS = ["", "trauma", "teen", "behaviour;teen", "disability", "attachment;trauma",
         "substance", "specialized;trauma"]
COMPETENCES = ["", "TBO-F", "trygg-base", "EFST;disability", "teen", "PRIDE", "TBO-F;teen",
               "specialized", "MST;PRIDE"]


def random_inputs(seed: int, *, placements: bool, settings: ScoringSettings = SETTINGS,
                  reserve: bool = False) -> schema.Inputs:
    rng = np.random.default_rng(seed)
    n_c, n_h = int(rng.integers(1, 9)), int(rng.integers(1, 12))
    ids = [f"c{i}" for i in range(n_c)]
    groups = rng.choice(["", "", "G1"], n_c)
    langs = rng.choice(["", "nb", "so;ar", "se"], n_c)
    children = pd.DataFrame({
        "child_id": ids, "lon": 10.0, "lat": 60.0, "school_lon": np.nan, "school_lat": np.nan,
        "municipality": rng.choice(["0301", "3201"], n_c), "age": rng.integers(0, 19, n_c),
        "needs": rng.choice(NEEDS, n_c), "sibling_group": groups,
        "urgency": rng.choice(["acute", "planned"], n_c),
        "avoid_municipalities": rng.choice(["", "", "3201", "0301;3203"], n_c),
        "languages": langs,
        "language_required": np.where(langs != "", rng.choice(["yes", "no"], n_c), "no")})
    kind = rng.choice(["general", "kinship", "emergency", "specialized"], n_h)
    kin_pool = np.array([*ids, *sorted({g for g in groups if g})], dtype=object)
    homes = pd.DataFrame({
        "home_id": [f"h{j:02d}" for j in range(n_h)], "lon": 10.0, "lat": 60.0,
        "capacity": rng.choice([0, 1, 2], n_h),
        "competences": rng.choice([c for c in COMPETENCES
                                   if set(c.split(";")) - {""} <= set(settings.competences)],
                                  n_h),
        "min_age": rng.integers(0, 9, n_h), "max_age": rng.integers(8, 19, n_h),
        "kind": kind, "kin_of": np.where(kind == "kinship", rng.choice(kin_pool, n_h), ""),
        "municipality": rng.choice(["0301", "3201", "3203"], n_h),
        "languages": rng.choice(["", "nb", "nb;ar", "se;nb"], n_h),
        "own_children_ages": rng.choice(["", "", "5", "9;12", "16"], n_h)})
    if reserve:  # issue 21: homes recruited and reserved by a municipality or a pool
        homes["recruited_by"] = rng.choice(["", "bufetat", "0301", "3201"], n_h)
        homes["reserved_for"] = rng.choice(["", "", "0301", "3201;3203", "east"], n_h)
        homes["reserved_until"] = np.where(homes["reserved_for"] != "",
                                           rng.choice(["", "2026-10-31", "2026-11-01"], n_h), "")
    locks = None
    if placements and n_c > 1:
        c = rng.choice(n_c, size=1)[0]
        locks = pd.DataFrame({"child_id": [ids[c]], "home_id": [homes["home_id"][0]]})
    return schema.validate(children, homes, placements=locks, settings=settings)


def accepted_tags(need: str, settings: ScoringSettings) -> set[str]:
    """Tags of a home that meet a need: the table, and the need itself when it is a tag
    other than the baseline (PRIDE meets nothing)."""
    return set(settings.need_competences.get(need, ())) | (
        {need} & (set(settings.competences) - set(settings.baseline)))


def by_course(need: str, settings: ScoringSettings) -> bool:
    """The trainable rule of issue 21: a course meets the need and it is not a hard need."""
    return need not in settings.hard_needs and bool(accepted_tags(need, settings)
                                                    & set(settings.courses))


def brute(inputs: schema.Inputs, children: pd.DataFrame, places: np.ndarray,
          settings: ScoringSettings = SETTINGS, *, courses: bool = True
          ) -> dict[str, np.ndarray]:
    """Each rule written out per pair from the raw tables (the independent expectation).

    With ``courses`` a need a course meets (not a hard one) is met after move-in."""
    out = {f: np.zeros((len(children), len(inputs.homes)), dtype=bool)
           for f in ("capacity", "kind", "age", "household", "competences", "language",
                     "avoid")}
    for i, ch in enumerate(children.itertuples()):
        group = None if pd.isna(ch.sibling_group) else ch.sibling_group
        for j, ho in enumerate(inputs.homes.itertuples()):
            out["capacity"][i, j] = places[j] > 0
            own = ho.kind == "kinship" and ho.kin_of in (ch.child_id, group)
            out["kind"][i, j] = (ho.kind != "kinship" or own) and (
                ho.kind != "emergency" or ch.urgency == "acute")
            out["age"][i, j] = ho.min_age <= ch.age <= ho.max_age
            out["household"][i, j] = not any(abs(a - ch.age) < 2 for a in ho.own_children_ages)
            out["language"][i, j] = (not ch.language_required
                                     or bool(set(ch.languages) & set(ho.languages)))
            out["avoid"][i, j] = ho.municipality not in ch.avoid_municipalities
            out["competences"][i, j] = all(
                bool(accepted_tags(n, settings) & set(ho.competences))
                or (courses and by_course(n, settings)) for n in ch.needs)
    return out


def matching_feasible(inputs: schema.Inputs, settings: ScoringSettings = SETTINGS, *,
                      courses: bool = True) -> np.ndarray:
    """Feasible pairs of scoring, children x homes in table order (``courses``: the
    default trainable rule; else strict)."""
    anchors = schema.anchors(inputs)["anchor_id"].to_numpy(dtype=object)
    times = TimeTable(inputs.homes["home_id"].to_numpy(dtype=object), anchors,
                      np.zeros((len(inputs.homes), len(anchors))))
    scored = scoring.score_pairs(inputs, times, settings,
                                 trainable_needs=None if courses else (),
                                 kinship_training=False)
    pairs = scored.pairs[scored.pairs["feasible"]]
    out = np.zeros((len(inputs.children), len(inputs.homes)), dtype=bool)
    c = pd.Index(inputs.children["child_id"]).get_indexer(pairs["child_id"])
    h = pd.Index(inputs.homes["home_id"]).get_indexer(pairs["home_id"])
    out[c, h] = True
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), region=st.booleans(), courses=st.booleans())
def test_planning_and_matching_agree_on_every_pair(seed: int, region: bool,
                                                   courses: bool) -> None:
    s = REGION if region else SETTINGS
    inputs = random_inputs(seed, placements=False, settings=s)
    expected = brute(inputs, inputs.children, inputs.homes["capacity"].to_numpy(), s,
                     courses=courses)
    want = np.logical_and.reduce(list(expected.values()))
    fit = planning_common._fit(inputs.children, inputs.homes,
                               planning_common.free_places(inputs), s,
                               trainable_needs=None if courses else ())
    np.testing.assert_array_equal(fit.suitable(), want)
    np.testing.assert_array_equal(matching_feasible(inputs, s, courses=courses), want)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), region=st.booleans())
def test_trainable_rule_counts_and_courses_match_the_brute_force(seed: int,
                                                                 region: bool) -> None:
    """Issue 21: per pair, the needs met by a course after move-in (those no tag of the home
    meets, that a course meets, that are not hard) and the courses offered for them."""
    s = REGION if region else SETTINGS
    inputs = random_inputs(seed, placements=False, settings=s)
    elig = Eligibility.build(inputs.children, inputs.homes, s)
    masks, counts = elig.masks(slice(None), places=inputs.homes["capacity"].to_numpy())
    for i, ch in enumerate(inputs.children.itertuples()):
        for j, ho in enumerate(inputs.homes.itertuples()):
            trained = sorted(n for n in ch.needs if by_course(n, s)
                             and not accepted_tags(n, s) & set(ho.competences))
            hard = [n for n in ch.needs if not by_course(n, s)
                    and not accepted_tags(n, s) & set(ho.competences)]
            assert counts.training[i, j] == len(trained)
            assert masks["competences"][i, j] == (not hard)
            got = sorted(n for k, n in enumerate(elig.need_names)
                         if int(counts.training_code[i, j]) >> k & 1)
            assert got == trained
            # the course offered: the first course the need lists, in courses order
            first = {next(t for t in (*s.need_competences.get(n, ()), n) if t in s.courses)
                     for n in trained}
            assert courses_for(trained, s) == tuple(c for c in s.courses if c in first)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_each_rule_matches_the_brute_force(seed: int) -> None:
    inputs = random_inputs(seed, placements=True)
    free = planning_common.free_places(inputs)
    masks, _ = Eligibility.build(inputs.children, inputs.homes, SETTINGS).masks(
        slice(None), places=free)  # the default trainable rule, as the oracle
    for name, expected in brute(inputs, inputs.children, free).items():
        np.testing.assert_array_equal(masks[name], expected, err_msg=name)


def test_training_and_kinship_training_count_needs() -> None:
    children = pd.DataFrame({"child_id": ["a", "b"], "age": [14, 14], "urgency": "planned",
                             "needs": [("teen", "trauma"), ("teen",)],
                             "sibling_group": [None, None]})
    homes = pd.DataFrame({"home_id": ["k", "g"], "kind": ["kinship", "general"],
                          "kin_of": ["a", None], "competences": [(), ("trygg-base",)],
                          "min_age": 0, "max_age": 17, "capacity": 1})
    plain = Eligibility.build(children, homes, SETTINGS, trainable_needs=("teen",))
    masks, counts = plain.masks(slice(None), places=np.ones(2))
    # a: trauma is hard and unmet in k; met by trygg-base in g; teen is trained in both
    assert masks["competences"].tolist() == [[False, True], [True, True]]
    assert counts.training.tolist() == [[1, 1], [1, 1]]
    kin = Eligibility.build(children, homes, SETTINGS, trainable_needs=("teen",),
                            kinship_training=True)
    masks, counts = kin.masks(slice(None), places=np.ones(2))
    assert masks["competences"].tolist() == [[True, True], [True, True]]
    assert counts.training.tolist() == [[2, 1], [1, 1]]  # own kinship home trains every need


def test_accepted_competences_and_school_rule() -> None:
    assert accepted_competences("teen", SETTINGS) == ("teen", "TBO-F")
    assert accepted_competences("specialized", SETTINGS) == ("specialized",)  # a tag as need
    assert accepted_competences("PRIDE", SETTINGS) == ()  # the baseline meets no need
    # the defaults of docs/scoring.md: every course-shaped need is trainable, not disability
    assert trainable_needs(SETTINGS) == ("trauma", "behaviour", "attachment", "teen",
                                         "substance")
    assert trainable_needs(REGION) == ("trauma", "attachment", "teen", "substance")
    assert accepted_competences("unknown", SETTINGS) == ()
    minutes = np.array([[10.0, np.inf], [50.0, np.nan]])
    ok = school_ok(minutes, np.array([45.0, 45.0]), np.array([True, False]))
    assert ok.tolist() == [[True, False], [True, True]]
    assert FILTERS == ("capacity", "kind", "age", "household", "competences", "language",
                       "avoid", "school", "contacts", "veto")


@pytest.mark.parametrize("bad", ["capacity", "kind", "age", "household", "competences",
                                 "language", "avoid", "courses"])
def test_the_brute_force_itself_can_fail(bad: str) -> None:
    """Sanity: flipping one expected rule breaks the agreement (the test is not vacuous);
    ``courses``: an oracle without the trainable rule disagrees with the engine."""
    if bad == "courses":
        for seed in range(200):
            inputs = random_inputs(seed, placements=False)
            strict = brute(inputs, inputs.children, inputs.homes["capacity"].to_numpy(),
                           courses=False)
            if (matching_feasible(inputs) != np.logical_and.reduce(
                    list(strict.values()))).any():
                return
        pytest.fail("no instance distinguishes an oracle without courses")
    for seed in range(200):
        inputs = random_inputs(seed, placements=False)
        expected = brute(inputs, inputs.children, inputs.homes["capacity"].to_numpy())
        if expected[bad].all() or not np.logical_and.reduce(
                [v for k, v in expected.items() if k != bad]).any():
            continue
        expected[bad] = ~expected[bad]
        want = np.logical_and.reduce(list(expected.values()))
        if (matching_feasible(inputs) != want).any():
            return
    pytest.fail(f"no instance distinguishes a wrong '{bad}' rule")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_contacts_rule_matches_the_brute_force(seed: int) -> None:
    """Every limited contact within its max_minutes (inclusive); inf and NaN fail."""
    rng = np.random.default_rng(seed)
    n_c, n_h, k = int(rng.integers(1, 6)), int(rng.integers(1, 7)), int(rng.integers(0, 9))
    owner = np.sort(rng.integers(0, n_c, k))
    limits = rng.choice([10.0, 20.0, 45.0], k)
    minutes = rng.choice([0.0, 10.0, 19.9, 20.0, 30.0, 45.0, np.inf, np.nan], (k, n_h))
    ok, slack = contacts_ok(minutes, limits, owner, n_c)
    for c in range(n_c):
        for h in range(n_h):
            mine = [j for j in range(k) if owner[j] == c]
            assert ok[c, h] == all(minutes[j, h] <= limits[j] for j in mine)
            want = min((limits[j] - (np.inf if np.isnan(minutes[j, h]) else minutes[j, h])
                        for j in mine), default=np.inf)
            assert slack[c, h] == want


POOLED = ScoringSettings(min_age_gap_own_children=2.0, pools={"east": ("0301", "3203")})
AS_OF = datetime.date(2026, 11, 1)


def brute_reserved(inputs: schema.Inputs, feasible: np.ndarray, settings: ScoringSettings,
                   as_of: datetime.date) -> np.ndarray:
    """Issue 21, by loops: a home reserved for municipalities or a pool (until a date,
    inclusive) goes to a child outside the group only when no child of the group is
    feasible for it."""
    out = feasible.copy()
    for j, ho in enumerate(inputs.homes.itertuples()):
        listed = set(ho.reserved_for)
        if not listed or (not pd.isna(ho.reserved_until)
                          and ho.reserved_until.date() < as_of):
            continue
        group = [ch.municipality in listed or settings.pool_of(ch.municipality) in listed
                 for ch in inputs.children.itertuples()]
        if any(feasible[i, j] and group[i] for i in range(len(group))):
            for i in range(len(group)):
                out[i, j] = feasible[i, j] and group[i]
    return out


def scored_feasible(inputs: schema.Inputs, settings: ScoringSettings, as_of: datetime.date
                    ) -> tuple[np.ndarray, scoring.Scored]:
    anchors = schema.anchors(inputs)["anchor_id"].to_numpy(dtype=object)
    times = TimeTable(inputs.homes["home_id"].to_numpy(dtype=object), anchors,
                      np.zeros((len(inputs.homes), len(anchors))))
    scored = scoring.score_pairs(inputs, times, settings, trainable_needs=None, as_of=as_of)
    pairs = scored.pairs[scored.pairs["feasible"]]
    out = np.zeros((len(inputs.children), len(inputs.homes)), dtype=bool)
    c = pd.Index(inputs.children["child_id"]).get_indexer(pairs["child_id"])
    h = pd.Index(inputs.homes["home_id"]).get_indexer(pairs["home_id"])
    out[c, h] = True
    return out, scored


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_reserved_homes_match_the_brute_force(seed: int) -> None:
    inputs = random_inputs(seed, placements=False, settings=POOLED, reserve=True)
    expected = brute(inputs, inputs.children, inputs.homes["capacity"].to_numpy(), POOLED)
    plain = np.logical_and.reduce(list(expected.values()))
    got, scored = scored_feasible(inputs, POOLED, AS_OF)
    np.testing.assert_array_equal(got, brute_reserved(inputs, plain, POOLED, AS_OF))
    # the explanation says when a reserved home is open to others, and why a child lost it
    pairs = scored.pairs[scored.pairs["feasible"]]
    for r in pairs.itertuples():
        home = inputs.homes.set_index("home_id").loc[r.home_id]
        if "is open to others" in r.explanation or "the child is one of them" in r.explanation:
            assert home["reserved_for"], r.home_id
    lost = (plain.sum(axis=1) > 0) & (got.sum(axis=1) == 0)
    funnel = scored.funnel.set_index("child_id")
    for i in np.flatnonzero(lost):
        row = funnel.loc[inputs.children["child_id"][i]]
        assert row["binding"] == "reserved" and "reserved first" in row["reason"]


def test_reserved_home_goes_first_to_its_own_municipality() -> None:
    """By hand: h1 is recruited by 0301 and reserved for it; c1 (0301) qualifies, so c2
    (3201) may not have it; once c1 no longer qualifies (too old), c2 may, and says why."""
    children = pd.DataFrame({"child_id": ["c1", "c2"], "lon": 10.0, "lat": 60.0,
                             "municipality": ["0301", "3201"], "age": [9, 9],
                             "urgency": "planned"})
    homes = pd.DataFrame({"home_id": ["h1"], "lon": 10.0, "lat": 60.0,
                          "municipality": ["0301"], "capacity": [1], "min_age": [0],
                          "max_age": [17], "kind": ["general"], "recruited_by": ["0301"],
                          "reserved_for": ["0301"], "reserved_until": ["2027-06-30"]})
    inputs = schema.validate(children, homes, settings=SETTINGS)
    got, scored = scored_feasible(inputs, SETTINGS, AS_OF)
    assert got.tolist() == [[True], [False]]
    assert "reserved for 0301 first: the child is one of them" in \
        scored.pairs.set_index("child_id").loc["c1", "explanation"]
    assert scored.explain_infeasible("c2") == (
        "child c2: every home that qualifies is reserved first for the children of 0301, and "
        "a child of theirs qualifies")
    older = schema.validate(children.assign(age=[18, 9]), homes, settings=SETTINGS)
    got, scored = scored_feasible(older, SETTINGS, AS_OF)
    assert got.tolist() == [[False], [True]]
    assert ("reserved for 0301 first, but no child of 0301 qualifies, so the home is open to "
            "others") in scored.pairs.set_index("child_id").loc["c2", "explanation"]
    # the reservation ends with reserved_until: the day after, anyone qualifies
    got, _s = scored_feasible(inputs, SETTINGS, datetime.date(2027, 7, 1))
    assert got.tolist() == [[True], [True]]


def test_the_reservation_oracle_can_fail() -> None:
    """Sanity: some instance where the engine and an oracle without reservations disagree."""
    for seed in range(200):
        inputs = random_inputs(seed, placements=False, settings=POOLED, reserve=True)
        expected = brute(inputs, inputs.children, inputs.homes["capacity"].to_numpy(), POOLED)
        plain = np.logical_and.reduce(list(expected.values()))
        got, _s = scored_feasible(inputs, POOLED, AS_OF)
        if (got != plain).any():
            return
    pytest.fail("no instance where a reservation removes a pair")


def test_recruiter_columns_survive_the_store_export() -> None:
    """The nightly store keeps recruited_by, reserved_for and reserved_until: exported
    tables validate again to the same values."""
    from matcher.io import stores

    inputs = random_inputs(3, placements=False, settings=POOLED, reserve=True)
    tables = stores.export_inputs(inputs)
    again = schema.validate(tables["children"], tables["homes"], settings=POOLED)
    for column in ("recruited_by", "reserved_for", "reserved_until"):
        pd.testing.assert_series_equal(again.homes[column], inputs.homes[column])
