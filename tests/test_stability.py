"""Tests of the three-stage assignment (stability against a previous run's proposals).

Brute force: every rule-abiding assignment of a small instance is enumerated
with the independent rule checker of ``test_assignment``; stage one must stay
optimal, stage two within the tolerance of its optimum, and the number of
kept previous proposals must be the largest possible within both.
"""

from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest
from test_assignment import POLICIES, Tables, home_map, random_tables, values, violations

from matcher import assignment
from matcher.config import AssignmentSettings


def previous_of(t: Tables, seed: int) -> dict[str, str]:
    """A random previous proposal for some children (feasible or not)."""
    rng = random.Random(seed)
    homes = [h for h, _, _ in t.homes]
    return {c: rng.choice(homes) for c, _, _ in t.children if rng.random() < 0.7}


def kept(t: Tables, home_of: dict[str, str | None], previous: dict[str, str]) -> int:
    locked = dict(t.locked)
    return sum(1 for c, h in previous.items() if c not in locked and home_of.get(c) == h)


def brute_force3(t: Tables, s: AssignmentSettings, previous: dict[str, str],
                 tolerance: float) -> tuple[float, float, int]:
    """Stage-one optimum, stage-two optimum, and the most kept proposals within the floors."""
    locked = dict(t.locked)
    free = [c for c, _, _ in t.children if c not in locked]
    options = {c: [None] + [h for cc, h, _, _ in t.pairs if cc == c] for c in free}
    rows = []
    for combo in itertools.product(*(options[c] for c in free)):
        home_of = {**locked, **dict(zip(free, combo, strict=True))}
        if violations(t, home_of, s.sibling_policy):
            continue
        v1, v2 = values(t, home_of, s)
        rows.append((v1, v2, kept(t, home_of, previous)))
    z1 = max(r[0] for r in rows)
    z2 = max(r[1] for r in rows if r[0] >= z1 - 1e-9)
    floor = z2 - tolerance * abs(z2) - 1e-6
    k = max(r[2] for r in rows if r[0] >= z1 - 1e-9 and r[1] >= floor)
    return z1, z2, k


@pytest.mark.parametrize("seed", range(30))
def test_three_stages_match_brute_force(seed: int) -> None:
    t = random_tables(seed)
    previous = previous_of(t, 500 + seed)
    prev_frame = pd.DataFrame(sorted(previous.items()), columns=["child_id", "home_id"],
                              dtype=object)
    base = t.problem()
    problem = assignment.AssignmentProblem(base.children, base.homes, base.pairs, base.locked,
                                           previous=prev_frame)
    rng = random.Random(900 + seed)
    for policy in POLICIES:
        s = AssignmentSettings(sibling_policy=policy, split_penalty=rng.choice([0.25, 0.6]))
        tolerance = rng.choice([0.0, 0.05, 0.3])
        result = assignment.solve(problem, s, stability_tolerance=tolerance)
        home_of = home_map(result)
        assert violations(t, home_of, policy) == []
        z1, z2, k = brute_force3(t, s, previous, tolerance)
        v1, v2 = values(t, home_of, s)
        assert v1 == pytest.approx(z1, abs=1e-6), (policy, v1, z1)
        assert v2 >= z2 - tolerance * abs(z2) - 1e-6, (policy, v2, z2)
        assert kept(t, home_of, previous) == k, (policy, tolerance)
        if previous:
            assert result.kept_previous == k and result.stability_tolerance == tolerance
        else:
            assert result.kept_previous is None
        assert result.objective_stage2 == pytest.approx(v2, abs=1e-9)


def test_without_previous_the_model_is_unchanged() -> None:
    t = random_tables(7)
    s = AssignmentSettings()
    plain = assignment.solve(t.problem(), s)
    assert plain.kept_previous is None and "stage3" not in plain.timings
    assert plain.stability_tolerance is None
    base = t.problem()
    again = assignment.solve(assignment.AssignmentProblem(
        base.children, base.homes, base.pairs, base.locked,
        previous=pd.DataFrame({"child_id": ["nobody"], "home_id": ["H00"]}, dtype=object)), s)
    pd.testing.assert_frame_equal(plain.assignments, again.assignments)


def test_tolerance_buys_stability_and_zero_tolerance_only_breaks_ties() -> None:
    # C1 is slightly better in H2 now; the previous run proposed H1.
    t = Tables(children=[("C1", None, 1.0)], homes=[("H1", 1, False), ("H2", 1, False)],
               pairs=[("C1", "H1", 0.80, 0), ("C1", "H2", 0.81, 0)], locked=[])
    base = t.problem()
    problem = assignment.AssignmentProblem(
        base.children, base.homes, base.pairs, base.locked,
        previous=pd.DataFrame({"child_id": ["C1"], "home_id": ["H1"]}, dtype=object))
    s = AssignmentSettings()
    assert home_map(assignment.solve(problem, s, stability_tolerance=0.05)) == {"C1": "H1"}
    assert home_map(assignment.solve(problem, s, stability_tolerance=0.0)) == {"C1": "H2"}
