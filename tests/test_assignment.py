"""Tests for matcher.assignment: optimality, hard rules, determinism, diagnosis.

The brute-force and property tests check the solver against an independent
implementation of the rules written here from the contract, not from the model.
"""

from __future__ import annotations

import datetime
import itertools
import math
import random
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import assignment
from matcher.config import AssignmentSettings
from matcher.errors import InfeasibleError, InputError

POLICIES = ("together", "prefer_together", "independent")
COLUMNS = ["child_id", "home_id", "score", "n_training", "locked", "split"]


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Tables:
    """Raw inputs as plain Python, so the rules can be checked without the module."""

    children: list[tuple[str, str | None, float]]  # child_id, sibling_group, priority
    homes: list[tuple[str, int, bool]]  # home_id, capacity, accepts_sibling_groups
    pairs: list[tuple[str, str, float, int]]  # child_id, home_id, score, n_training
    locked: list[tuple[str, str]]  # child_id, home_id

    def problem(self) -> assignment.AssignmentProblem:
        children = pd.DataFrame(
            {
                "child_id": [c for c, _, _ in self.children],
                "sibling_group": pd.Series([g for _, g, _ in self.children], dtype=object),
                "urgency": ["planned"] * len(self.children),
                "priority": [p for _, _, p in self.children],
            }
        )
        homes = pd.DataFrame(self.homes, columns=["home_id", "capacity", "accepts_sibling_groups"])
        pairs = pd.DataFrame(self.pairs, columns=["child_id", "home_id", "score", "n_training"])
        pairs["distance_km"] = 1.0  # a pass-through column the model must ignore
        locked = pd.DataFrame(self.locked, columns=["child_id", "home_id"], dtype=object)
        return assignment.AssignmentProblem(children, homes, pairs, locked)

    def groups(self) -> dict[str, list[str]]:
        """Sibling groups of two or more children."""
        out: dict[str, list[str]] = {}
        for c, g, _ in self.children:
            if g is not None:
                out.setdefault(g, []).append(c)
        return {g: m for g, m in out.items() if len(m) >= 2}


def violations(t: Tables, home_of: dict[str, str | None], policy: str) -> list[str]:
    """Every hard rule that ``home_of`` (child -> home or None) breaks."""
    found = []
    feasible = {(c, h) for c, h, _, _ in t.pairs}
    locked = dict(t.locked)
    capacity = {h: k for h, k, _ in t.homes}
    accepts = {h: a for h, _, a in t.homes}
    if set(home_of) != {c for c, _, _ in t.children}:
        found.append("not one entry per child")
    for c, h in home_of.items():
        if c in locked and h != locked[c]:
            found.append(f"locked {c} moved")
        if c not in locked and h is not None and (c, h) not in feasible:
            found.append(f"{c} in infeasible {h}")
    for h, k in capacity.items():
        if sum(1 for x in home_of.values() if x == h) > k:
            found.append(f"{h} over capacity")
    for g, members in t.groups().items():
        homes = [home_of[c] for c in members]
        for h in set(homes) - {None}:
            if not accepts[h] and homes.count(h) > 1:
                found.append(f"{h} takes {homes.count(h)} of {g}")
        if policy == "together":
            fixed = {locked[c] for c in members if c in locked}
            if fixed:
                if any(home_of[c] not in fixed | {None} for c in members if c not in locked):
                    found.append(f"{g} joins a home without its locked sibling")
            elif len(set(homes)) > 1:
                found.append(f"{g} not placed together")
    return found


def values(t: Tables, home_of: dict[str, str | None], s: AssignmentSettings) -> tuple[float, float]:
    """Stage-one and stage-two objective of an assignment."""
    prio = {c: p for c, _, p in t.children}
    pair = {(c, h): (sc, n) for c, h, sc, n in t.pairs}
    v1 = sum(prio[c] for c, h in home_of.items() if h is not None)
    v2 = 0.0
    for c, h in home_of.items():
        if h is not None:
            sc, n = pair.get((c, h), (0.0, 0))
            v2 += sc - s.training_penalty * n
    if s.sibling_policy == "prefer_together":
        for members in t.groups().values():
            used = {home_of[c] for c in members} - {None}
            v2 -= s.split_penalty * max(len(used) - 1, 0)
    return v1, v2


def brute_force(t: Tables, s: AssignmentSettings) -> tuple[float, float]:
    """Lexicographic optimum (stage one, then stage two) by full enumeration."""
    locked = dict(t.locked)
    free = [c for c, _, _ in t.children if c not in locked]
    options = {c: [None] + [h for cc, h, _, _ in t.pairs if cc == c] for c in free}
    best: tuple[float, float] | None = None
    for combo in itertools.product(*(options[c] for c in free)):
        home_of = {**locked, **dict(zip(free, combo, strict=True))}
        if violations(t, home_of, s.sibling_policy):
            continue
        v1, v2 = values(t, home_of, s)
        if best is None or v1 > best[0] + 1e-9 or (abs(v1 - best[0]) <= 1e-9 and v2 > best[1]):
            best = (v1, v2)
    assert best is not None  # leaving everyone unmatched is always allowed
    return best


def random_tables(seed: int, max_children: int = 6, max_homes: int = 5) -> Tables:
    """A small random instance with groups, locked placements and training needs."""
    rng = random.Random(seed)
    n_c, n_h = rng.randint(1, max_children), rng.randint(1, max_homes)
    kids = [f"C{i:02d}" for i in range(n_c)]
    homes = [(f"H{j:02d}", rng.choice([0, 1, 2, 2]), rng.random() < 0.6) for j in range(n_h)]
    children = [(c, rng.choice([None, "G1", "G1", "G2"]), rng.choice([1.0, 1.5, 2.0, 2.5]))
                for c in kids]
    pairs = [
        (c, h, rng.randint(0, 20) / 20, rng.choice([0, 0, 0, 1, 2]))
        for c in kids
        for h, _, _ in homes
        if rng.random() < 0.7
    ]
    Tables(children, homes, pairs, [])
    locked: list[tuple[str, str]] = []
    for c, _, _ in children:
        if rng.random() < 0.25:
            h = rng.choice(homes)[0]
            trial = Tables(children, homes, pairs, [*locked, (c, h)])
            home_of = {cc: hh for cc, hh in trial.locked}
            home_of.update({cc: None for cc, _, _ in children if cc not in home_of})
            if not violations(trial, home_of, "independent"):
                locked.append((c, h))
    return Tables(children, homes, pairs, locked)


def home_map(result: assignment.AssignmentResult) -> dict[str, str | None]:
    frame = result.assignments
    return {c: (h if isinstance(h, str) else None)
            for c, h in zip(frame["child_id"], frame["home_id"], strict=True)}


def check_output(t: Tables, result: assignment.AssignmentResult, s: AssignmentSettings) -> None:
    """Everything the contract promises about one result, from the raw inputs."""
    frame = result.assignments
    assert list(frame.columns) == COLUMNS
    assert list(frame["child_id"]) == sorted(c for c, _, _ in t.children)
    home_of = home_map(result)
    assert violations(t, home_of, s.sibling_policy) == []
    pair = {(c, h): (sc, n) for c, h, sc, n in t.pairs}
    locked = dict(t.locked)
    groups = t.groups()
    for row in frame.itertuples(index=False):
        assert row.locked == (row.child_id in locked)
        if row.home_id is None:
            assert math.isnan(row.score) and row.n_training is pd.NA
        else:
            sc, n = pair.get((row.child_id, row.home_id), (0.0, 0))
            assert row.score == sc and row.n_training == n
        g = next((g for g, m in groups.items() if row.child_id in m), None)
        used = {home_of[c] for c in groups.get(g, [])} - {None}
        assert row.split == (len(used) > 1)
    v1, v2 = values(t, home_of, s)
    assert result.objective_stage1 == pytest.approx(v1, abs=1e-9)
    assert result.objective_stage2 == pytest.approx(v2, abs=1e-9)
    assert result.status == "optimal" and result.mip_gap == 0.0
    assert set(result.timings) >= {"build", "stage1", "stage2", "total"}


# --------------------------------------------------------------------------- optimality


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force_highs(seed: int) -> None:
    t = random_tables(seed)
    problem = t.problem()
    rng = random.Random(1000 + seed)
    for policy in POLICIES:
        s = AssignmentSettings(sibling_policy=policy, training_penalty=rng.choice([0.1, 0.3]),
                               split_penalty=rng.choice([0.25, 0.6]))
        result = assignment.solve(problem, s)
        check_output(t, result, s)
        best = brute_force(t, s)
        got = (result.objective_stage1, result.objective_stage2)
        assert got == pytest.approx(best, abs=1e-6), (policy, got, best)


@pytest.mark.parametrize("seed", range(100, 112))
def test_matches_brute_force_cbc(seed: int) -> None:
    t = random_tables(seed)
    problem = t.problem()
    for policy in POLICIES:
        s = AssignmentSettings(solver="cbc", sibling_policy=policy)
        result = assignment.solve(problem, s)
        assert result.solver == "cbc"
        check_output(t, result, s)
        got = (result.objective_stage1, result.objective_stage2)
        assert got == pytest.approx(brute_force(t, s), abs=1e-6), policy


@st.composite
def instances(draw: st.DrawFn) -> tuple[Tables, AssignmentSettings]:
    n_c = draw(st.integers(0, 9))
    n_h = draw(st.integers(1, 6))
    kids = [f"K{i}" for i in range(n_c)]
    homes = [(f"F{j}", draw(st.integers(0, 3)), draw(st.booleans())) for j in range(n_h)]
    children = [(c, draw(st.sampled_from([None, "A", "A", "B", "C"])),
                 draw(st.sampled_from([0.5, 1.0, 1.25, 3.0]))) for c in kids]
    pairs = [(c, h, draw(st.floats(0, 1)), draw(st.integers(0, 3)))
             for c in kids for h, _, _ in homes if draw(st.booleans())]
    locked: list[tuple[str, str]] = []
    for c in kids:
        h = draw(st.sampled_from([None, None, None] + [h for h, _, _ in homes]))
        if h is not None:
            trial = Tables(children, homes, pairs, [*locked, (c, h)])
            home_of = {cc: None for cc in kids} | dict(trial.locked)
            if not violations(trial, home_of, "independent"):
                locked.append((c, h))
    s = AssignmentSettings(
        sibling_policy=draw(st.sampled_from(POLICIES)),
        training_penalty=draw(st.sampled_from([0.0, 0.1, 0.7])),
        split_penalty=draw(st.sampled_from([0.0, 0.25, 2.0])),
    )
    return Tables(children, homes, pairs, locked), s


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_output_satisfies_the_hard_rules(case: tuple[Tables, AssignmentSettings]) -> None:
    t, s = case
    check_output(t, assignment.solve(t.problem(), s), s)


# --------------------------------------------------------------------------- golden


def golden_tables() -> Tables:
    """Hand-built scenario; the expected assignment is derived in the test."""
    children = [
        ("C1", None, 2.0),  # acute
        ("C2", None, 1.0),
        ("C3", "G1", 1.0),
        ("C4", "G1", 1.0),
        ("C5", None, 1.5),  # planned, waited a year
        ("C6", None, 1.0),
        ("C7", None, 1.0),
        ("C9", None, 1.0),  # already placed in H4
    ]
    homes = [
        ("H1", 1, False),
        ("H2", 3, True),
        ("H3", 2, False),
        ("H4", 3, True),
    ]
    pairs = [
        ("C1", "H1", 0.9, 0), ("C1", "H2", 0.6, 0),
        ("C2", "H1", 0.8, 0),
        ("C3", "H2", 0.7, 0), ("C3", "H3", 0.9, 0),
        ("C4", "H2", 0.5, 1), ("C4", "H3", 0.8, 0),
        ("C5", "H2", 0.4, 0), ("C5", "H4", 0.4, 0),
        ("C6", "H4", 0.4, 0),
        ("C7", "H4", 0.4, 0),
    ]
    return Tables(children, homes, pairs, [("C9", "H4")])


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_golden_scenario(solver: str) -> None:
    # Policy "together", training penalty 0.1. C9 is locked in H4 (score 0, the
    # pair is not feasible), leaving 2 of H4's 3 places. G1 = {C3, C4} is one
    # unit of size 2 and priority 2.0; H3 does not take sibling groups, so G1 can
    # only go to H2, together. Places: H1 1, H2 3, H3 none usable (only C3/C4
    # qualify and they must stay together), H4 2: 6 places for 7 waiting children.
    # Stage 1 (priority): C1 2.0, G1 2.0, C5 1.5 and two of C2/C6/C7 (1.0 each)
    # give 7.5 (+1.0 for C9 = 8.5); no choice of six places does better. Two
    # ways reach it:
    #   A: C1->H2, C2->H1, G1->H2, C5->H4, C6|C7->H4
    #      stage 2 = 0.6 + 0.8 + (0.7 + 0.5 - 0.1) + 0.4 + 0.4 = 3.3
    #   B: C1->H1, G1->H2, C5->H2, C6->H4, C7->H4
    #      stage 2 = 0.9 + 1.1 + 0.4 + 0.4 + 0.4 = 3.2
    # A wins. In A, C6 and C7 tie exactly (priority 1.0, score 0.4 in H4), so
    # the lower id, C6, gets the place.
    t = golden_tables()
    s = AssignmentSettings(solver=solver, sibling_policy="together", training_penalty=0.1)
    result = assignment.solve(t.problem(), s)
    assert home_map(result) == {
        "C1": "H2", "C2": "H1", "C3": "H2", "C4": "H2",
        "C5": "H4", "C6": "H4", "C7": None, "C9": "H4",
    }
    assert result.objective_stage1 == pytest.approx(8.5)
    assert result.objective_stage2 == pytest.approx(3.3)
    frame = result.assignments.set_index("child_id")
    assert frame.loc["C9", "locked"] and frame.loc["C9", "score"] == 0.0
    assert frame.loc["C4", "n_training"] == 1
    assert not frame["split"].any()
    assert result.placed_count == 7 and result.unmatched_ids == ["C7"]
    assert assignment.diagnose(t.problem(), result) == {
        "C7": "1 home qualifies but placing this child would displace 1 child of equal "
              "priority; ties are broken by match score, then by id"
    }


def test_prefer_together_splits_with_penalty_and_together_does_not() -> None:
    # G2 = {C1, C2}. H1 has one place (both score 0.9); only C2 also fits H2 (0.5).
    # prefer_together: both placed, split over H1/H2: 0.9 + 0.5 - 0.25 = 1.15.
    # together: no home has two places, so neither is placed.
    t = Tables(
        children=[("C1", "G2", 1.0), ("C2", "G2", 1.0)],
        homes=[("H1", 1, True), ("H2", 1, True)],
        pairs=[("C1", "H1", 0.9, 0), ("C2", "H1", 0.9, 0), ("C2", "H2", 0.5, 0)],
        locked=[],
    )
    split = assignment.solve(t.problem(), AssignmentSettings(sibling_policy="prefer_together"))
    assert home_map(split) == {"C1": "H1", "C2": "H2"}
    assert split.objective_stage2 == pytest.approx(1.15)
    assert split.assignments["split"].tolist() == [True, True]
    assert split.split_count == 2

    together = assignment.solve(t.problem(), AssignmentSettings(sibling_policy="together"))
    assert home_map(together) == {"C1": None, "C2": None}
    reasons = assignment.diagnose(t.problem(), together)
    assert reasons["C1"] == reasons["C2"] == (
        "sibling group G2 (2 children) needs one home with 2 free places that takes sibling "
        "groups; none of its 1 qualifying home does (1 has fewer than 2 free places)"
    )


@pytest.mark.parametrize(("penalty", "expected"), [
    (0.25, {"C1": "H1", "C2": "H1"}),  # split 0.6 + 0.8 - 0.25 = 1.15 < 1.2 together
    (0.1, {"C1": "H1", "C2": "H2"}),  # split 0.6 + 0.8 - 0.10 = 1.30 > 1.2 together
])
def test_prefer_together_weighs_the_split_penalty(penalty: float, expected: dict) -> None:
    t = Tables(
        children=[("C1", "G", 1.0), ("C2", "G", 1.0)],
        homes=[("H1", 2, True), ("H2", 1, True)],
        pairs=[("C1", "H1", 0.6, 0), ("C2", "H1", 0.6, 0), ("C2", "H2", 0.8, 0)],
        locked=[],
    )
    s = AssignmentSettings(sibling_policy="prefer_together", split_penalty=penalty)
    assert home_map(assignment.solve(t.problem(), s)) == expected


def test_together_rest_of_group_only_joins_the_locked_sibling() -> None:
    # C1 is locked in H1 (room for one more). C2 scores higher in H2 but may only
    # join C1; C3 fits H2 only and therefore waits.
    t = Tables(
        children=[("C1", "G", 1.0), ("C2", "G", 1.0), ("C3", "G", 1.0)],
        homes=[("H1", 2, True), ("H2", 5, True)],
        pairs=[("C2", "H1", 0.3, 0), ("C2", "H2", 0.9, 0), ("C3", "H2", 0.9, 0)],
        locked=[("C1", "H1")],
    )
    result = assignment.solve(t.problem(), AssignmentSettings(sibling_policy="together"))
    assert home_map(result) == {"C1": "H1", "C2": "H1", "C3": None}
    assert assignment.diagnose(t.problem(), result) == {
        "C3": "sibling group G (3 children) is kept together and already has a placement in "
              "H1 (made earlier), so this child may only join it; this child qualifies for "
              "1 other home but not H1"
    }


# --------------------------------------------------------------------------- determinism


def tie_heavy_tables(seed: int) -> Tables:
    rng = random.Random(seed)
    kids = [f"C{i:03d}" for i in range(40)]
    homes = [(f"H{j:03d}", rng.randint(0, 2), rng.random() < 0.6) for j in range(25)]
    children = [(c, rng.choice([None] * 6 + [f"G{k}" for k in range(5)]), rng.choice([1.0, 2.0]))
                for c in kids]
    pairs = [(c, h, rng.choice([0.5, 0.75]), rng.choice([0, 0, 1])) for c in kids
             for h, _, _ in homes if rng.random() < 0.3]
    return Tables(children, homes, pairs, [])


def shuffled(problem: assignment.AssignmentProblem, seed: int) -> assignment.AssignmentProblem:
    def mix(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)

    return assignment.AssignmentProblem(
        mix(problem.children), mix(problem.homes), mix(problem.pairs), mix(problem.locked)
    )


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@pytest.mark.parametrize("policy", POLICIES)
def test_same_inputs_give_identical_output(solver: str, policy: str) -> None:
    problem = tie_heavy_tables(7).problem()
    s = AssignmentSettings(solver=solver, sibling_policy=policy)
    first = assignment.solve(problem, s).assignments
    pd.testing.assert_frame_equal(assignment.solve(problem, s).assignments, first)
    for seed in (1, 2):
        pd.testing.assert_frame_equal(assignment.solve(shuffled(problem, seed), s).assignments,
                                      first)


def test_highs_and_cbc_agree_on_both_objectives() -> None:
    for seed in range(3):
        problem = tie_heavy_tables(seed).problem()
        a = assignment.solve(problem, AssignmentSettings(solver="highs"))
        b = assignment.solve(problem, AssignmentSettings(solver="cbc"))
        assert a.objective_stage1 == pytest.approx(b.objective_stage1, abs=1e-9)
        assert a.objective_stage2 == pytest.approx(b.objective_stage2, abs=1e-9)


# --------------------------------------------------------------------------- diagnosis


def test_diagnosis_of_a_capacity_conflict() -> None:
    # H1 has one place; C1 (acute, 2.0) and C2 (1.0) both qualify; C2 also fits H2,
    # whose only place is taken by a placement already made (C3). Blockers are counted,
    # never named: the reason reaches C2's brief.
    t = Tables(
        children=[("C1", None, 2.0), ("C2", None, 1.0), ("C3", None, 1.0), ("C4", None, 0.5)],
        homes=[("H1", 1, True), ("H2", 1, True), ("H3", 0, True)],
        pairs=[("C1", "H1", 0.5, 0), ("C2", "H1", 0.9, 0), ("C2", "H2", 0.9, 0),
               ("C4", "H1", 0.9, 0), ("C4", "H3", 0.9, 0)],
        locked=[("C3", "H2")],
    )
    result = assignment.solve(t.problem(), AssignmentSettings())
    assert home_map(result) == {"C1": "H1", "C2": None, "C3": "H2", "C4": None}
    assert assignment.diagnose(t.problem(), result) == {
        "C2": "2 homes qualify but 1 is full with 1 child of higher priority; "
              "1 is full with 1 placement already made",
        "C4": "2 homes qualify but 1 is full with 1 child of higher priority; "
              "1 is without free places",
    }


def test_diagnosis_counts_every_blocker_when_one_home_is_full() -> None:
    t = Tables(
        children=[("C1", None, 2.0), ("C2", None, 1.5), ("C3", None, 1.0)],
        homes=[("H1", 2, True)],
        pairs=[("C1", "H1", 0.5, 0), ("C2", "H1", 0.5, 0), ("C3", "H1", 0.9, 0)],
        locked=[],
    )
    result = assignment.solve(t.problem(), AssignmentSettings())
    assert assignment.diagnose(t.problem(), result) == {
        "C3": "1 home qualifies but all its capacity is taken by 2 children of higher priority"
    }


def test_diagnosis_skips_children_without_feasible_homes() -> None:
    t = Tables([("C1", None, 1.0)], [("H1", 1, True)], [], [])
    result = assignment.solve(t.problem(), AssignmentSettings())
    assert result.unmatched_ids == ["C1"]
    assert assignment.diagnose(t.problem(), result) == {}


# --------------------------------------------------------------------------- errors


def test_locked_over_capacity_is_caught_before_solving() -> None:
    t = Tables(
        children=[("C1", None, 1.0), ("C2", None, 1.0)],
        homes=[("H1", 1, True)],
        pairs=[],
        locked=[("C1", "H1"), ("C2", "H1")],
    )
    with pytest.raises(InfeasibleError, match=r"home H1 has 2 placements already made "
                                               r"\(C1, C2\) but capacity 1"):
        assignment.solve(t.problem(), AssignmentSettings())


def test_locked_siblings_in_a_home_without_sibling_groups_are_infeasible() -> None:
    t = Tables(
        children=[("C1", "G", 1.0), ("C2", "G", 1.0)],
        homes=[("H1", 2, False)],
        pairs=[],
        locked=[("C1", "H1"), ("C2", "H1")],
    )
    with pytest.raises(InfeasibleError, match="H1 does not take sibling groups but holds 2"):
        assignment.solve(t.problem(), AssignmentSettings())


def test_invalid_inputs_are_all_reported_at_once() -> None:
    t = Tables(
        children=[("C1", None, 1.0), ("C1", None, -1.0)],
        homes=[("H1", -1, True)],
        pairs=[("C1", "H1", 1.5, 0), ("C9", "H1", 0.5, 0)],
        locked=[("C8", "H7")],
    )
    with pytest.raises(InputError) as info:
        t.problem()
    text = str(info.value)
    for expected in ("duplicate child_id", "priority must be a number > 0",
                     "capacity must be a whole number", "score must be a number in [0, 1]",
                     "child_id is not in the children table",
                     "locked child is not in the children table",
                     "locked home is not in the homes table"):
        assert expected in text
    assert len(info.value.problems) == 7


def test_missing_columns_are_reported() -> None:
    with pytest.raises(InputError, match="required column is missing"):
        assignment.AssignmentProblem(
            pd.DataFrame({"child_id": ["C1"]}),
            pd.DataFrame({"home_id": ["H1"], "capacity": [1], "accepts_sibling_groups": [True]}),
            pd.DataFrame({"child_id": [], "home_id": [], "score": [], "n_training": []}),
        )


# --------------------------------------------------------------------------- priority


def test_priority_counts_urgency_and_years_waited() -> None:
    children = pd.DataFrame(
        {
            "child_id": ["C1", "C2", "C3"],
            "sibling_group": [None, None, None],
            "urgency": ["acute", "planned", "planned"],
            "waiting_since": pd.to_datetime(["2024-01-01", None, "2023-01-01"]),
        }
    )
    s = AssignmentSettings(urgency_weight={"acute": 2.0, "planned": 1.0},
                           waiting_weight_per_year=0.5)
    as_of = datetime.date(2025, 1, 1)
    got = assignment.priority(children, s, as_of)
    assert got.name == "priority"
    np.testing.assert_allclose(got, [2.0 + 0.5 * 366 / 365.25, 1.0, 1.0 + 0.5 * 731 / 365.25])
    homes = pd.DataFrame({"home_id": ["H1"], "capacity": [1], "accepts_sibling_groups": [True]})
    pairs = pd.DataFrame({"child_id": ["C3"], "home_id": ["H1"], "score": [0.5],
                          "n_training": [0]})
    problem = assignment.AssignmentProblem.build(children, homes, pairs, None, s, as_of)
    np.testing.assert_allclose(problem.children["priority"], got)


def test_priority_rejects_future_dates_and_unvalidated_children() -> None:
    children = pd.DataFrame(
        {"urgency": ["acute", "planned"], "waiting_since": ["2024-01-01", "2030-01-01"]}
    )
    with pytest.raises(InputError) as info:
        assignment.priority(children, AssignmentSettings(), datetime.date(2025, 1, 1))
    assert [(p.row, p.column) for p in info.value.problems] == [(3, "waiting_since")]  # 2nd child
    assert "after the run date" in str(info.value)
    # the urgency is the schema's to check; an unvalidated table is a programming error
    with pytest.raises(ValueError, match="validated"):
        assignment.priority(children.assign(urgency=["urgent", "planned"]),
                            AssignmentSettings(), datetime.date(2025, 1, 1))


def test_diagnosis_of_sibling_rules() -> None:
    # Together: G = {C1, C2} (combined 2.0) fits H1 only as a pair, and C3 (2.5)
    # holds one of its two places. H2 does not take sibling groups.
    t = Tables(
        children=[("C1", "G", 1.0), ("C2", "G", 1.0), ("C3", None, 2.5), ("C4", None, 1.0)],
        homes=[("H1", 2, True), ("H2", 1, False)],
        pairs=[("C1", "H1", 0.5, 0), ("C2", "H1", 0.5, 0), ("C3", "H1", 0.5, 0),
               ("C1", "H2", 0.5, 0), ("C2", "H2", 0.5, 0), ("C4", "H2", 0.5, 0)],
        locked=[],
    )
    result = assignment.solve(t.problem(), AssignmentSettings(sibling_policy="together"))
    assert home_map(result) == {"C1": None, "C2": None, "C3": "H1", "C4": "H2"}
    reason = (
        "sibling group G (2 children, combined priority 2.00) qualifies for 1 home with room "
        "for the whole group, but its places are held by 1 child whose priority exceeds the "
        "group's combined 2.00"
    )
    assert assignment.diagnose(t.problem(), result) == {"C1": reason, "C2": reason}

    # Independent: the home rule still holds, so C2 cannot join C1 in H2.
    t = Tables(
        children=[("C1", "G", 2.0), ("C2", "G", 1.0)],
        homes=[("H2", 2, False)],
        pairs=[("C1", "H2", 0.5, 0), ("C2", "H2", 0.5, 0)],
        locked=[],
    )
    result = assignment.solve(t.problem(), AssignmentSettings(sibling_policy="independent"))
    assert home_map(result) == {"C1": "H2", "C2": None}
    assert assignment.diagnose(t.problem(), result) == {
        "C2": "1 home qualifies but H2 does not take sibling groups and already has 1 of the "
              "siblings"
    }
