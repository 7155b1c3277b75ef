"""Current placements and the last move (issue 10, part 3), and dated locks and vetoes (part 5)."""

from __future__ import annotations

import datetime
import itertools
import math
import random

import numpy as np
import pandas as pd
import pytest

from matcher import assignment, decisions, i18n, schema, scoring
from matcher.config import AssignmentSettings, ContinuitySettings, ScoringSettings
from matcher.errors import InputError
from matcher.report import markdown
from matcher.run import Override
from matcher.timetable import TimeTable

SETTINGS = ScoringSettings()
TRAIN = ("teen",)
AS_OF = datetime.date(2026, 6, 1)


def _frames(*, current: bool = True, keeps: str = "", placed: str = "2026-01-01"
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """x (10, acute, needs teen) lives in emergency home em; y (10, acute) has no home."""
    children = pd.DataFrame({
        "child_id": ["x", "y"], "lon": [10.7, 10.7], "lat": [59.9, 59.9],
        "municipality": ["0301", "0301"], "age": [10, 10], "needs": ["teen", "teen"],
        "urgency": ["acute", "acute"]})
    if current:
        children["current_home_id"] = ["em", ""]
        children["placed_since"] = [placed, ""]
        if keeps:
            children["current_home_keeps"] = [keeps, ""]
    homes = pd.DataFrame({
        "home_id": ["em", "g1", "g2"], "lon": [10.7] * 3, "lat": [59.9] * 3,
        "municipality": ["0301", "0301", "0301"], "capacity": [2, 1, 1],
        "competences": ["teen", "teen", ""], "min_age": [0, 0, 0], "max_age": [18, 18, 14],
        "kind": ["emergency", "general", "general"]})
    return children, homes


def _times() -> TimeTable:
    return TimeTable(np.array(["em", "g1", "g2"], dtype=object), np.array([], dtype=object),
                     np.zeros((3, 0)))


def _score(children: pd.DataFrame, homes: pd.DataFrame,
           continuity: ContinuitySettings | None = None) -> scoring.Scored:
    inputs = schema.validate(children, homes, settings=SETTINGS)
    return scoring.score_pairs(inputs, _times(), SETTINGS, trainable_needs=TRAIN,
                               continuity=continuity, as_of=AS_OF)


def _pairs(scored: scoring.Scored) -> pd.DataFrame:
    return scored.pairs.set_index(["child_id", "home_id"])


# --------------------------------------------------------------------------- scoring


def test_stability_component_hand_computed() -> None:
    with_home = _pairs(_score(*_frames()))
    without = _pairs(_score(*_frames(current=False)))
    # g1: approved to 18 covers 8 of 8 years, has 'teen' -> 0.5 * 1 + 0.5 * 1
    assert with_home.loc[("x", "g1"), "stability"] == pytest.approx(1.0)
    # g2: approved to 14 covers 4 of 8 years, 'teen' by training -> 0.5 * 0.5 + 0
    assert with_home.loc[("x", "g2"), "stability"] == pytest.approx(0.25)
    wsum = sum(v for k, v in SETTINGS.weights.items() if k not in ("language", "culture"))
    w = ContinuitySettings().stability_weight
    for home, stab in (("g1", 1.0), ("g2", 0.25)):
        base = without.loc[("x", home), "score"]
        assert with_home.loc[("x", home), "score"] == pytest.approx(
            (base * wsum + w * stab) / (wsum + w), abs=1e-12)
    # y lives nowhere: its scores are exactly those of a run without current homes
    for home in ("g1", "g2"):
        assert with_home.loc[("y", home), "score"] == without.loc[("y", home), "score"]
        assert math.isnan(with_home.loc[("y", home), "stability"])
    assert "stability" not in without.columns


def test_stability_function_edges() -> None:
    ctx_stability = scoring.context.stability
    assert ctx_stability(np.array([10.0]), np.array([12.0]), np.array([0]), 18)[0] == \
        pytest.approx(0.5 * 2 / 8 + 0.5)
    assert ctx_stability(np.array([18.0]), np.array([18.0]), np.array([1]), 18)[0] == 0.5
    assert ctx_stability(np.array([10.0]), np.array([8.0]), np.array([0]), 18)[0] == 0.5


def test_explanation_names_the_last_move_and_the_weeks() -> None:
    pairs = _pairs(_score(*_frames(placed="2026-01-01")))  # 151 days = 21.6 weeks
    text = pairs.loc[("x", "g2"), "explanation"]
    assert "last move: approved to age 14: covers 4 of 8 years until age 18" in text
    assert "training needed -> stability 0.25" in text
    assert "21.6 weeks in the emergency home, over the norm of 12: priority raised" in text
    pairs = _pairs(_score(*_frames(placed="2026-05-01")))
    assert "4.4 weeks in the emergency home (norm 12)" in pairs.loc[("x", "g1"), "explanation"]
    assert "last move" not in pairs.loc[("y", "g1"), "explanation"]
    with i18n.language("nb"):
        nb = _pairs(_score(*_frames()))
    assert "21,6" in nb.loc[("x", "g2"), "explanation"]


def test_current_emergency_home_is_never_proposed() -> None:
    pairs = _pairs(_score(*_frames()))
    assert ("x", "em") not in pairs.index  # emergency homes never keep
    assert ("y", "em") in pairs.index


def test_willing_current_home_is_proposed() -> None:
    children, homes = _frames()
    children["current_home_id"] = ["g1", ""]
    children["current_home_keeps"] = ["no", ""]
    assert ("x", "g1") not in _pairs(_score(children, homes)).index
    children["current_home_keeps"] = ["yes", ""]
    pairs = _pairs(_score(children, homes))
    assert ("x", "g1") in pairs.index
    assert "stability" not in pairs.columns  # x lives in a general home, not an emergency one


# --------------------------------------------------------------------------- priority


@pytest.mark.parametrize(("days", "raised"), [(83, False), (84, False), (85, True),
                                              (120, True)])
def test_priority_raised_exactly_past_the_norm(days: int, raised: bool) -> None:
    s = AssignmentSettings()
    c = ContinuitySettings()
    since = AS_OF - datetime.timedelta(days=days)
    children = pd.DataFrame({"urgency": ["acute", "acute"],
                             "waiting_since": pd.to_datetime([since, since]),
                             "placed_since": pd.to_datetime([since, since])})
    prio = assignment.priority(children, s, AS_OF, in_emergency=np.array([True, False]),
                               continuity=c)
    extra = c.emergency_weight_per_week * (days / 7 - c.emergency_weeks_norm)
    assert prio.iloc[0] == pytest.approx(prio.iloc[1] + (extra if raised else 0.0))
    assert bool(prio.iloc[0] > prio.iloc[1]) is raised


def test_problem_build_raises_priority_of_emergency_children_only() -> None:
    children = pd.DataFrame({"child_id": ["a", "b"], "sibling_group": [None, None],
                             "urgency": ["planned", "planned"],
                             "waiting_since": pd.to_datetime(["2026-01-01"] * 2),
                             "current_home_id": ["em", "gen"],
                             "placed_since": pd.to_datetime(["2026-01-01"] * 2)})
    homes = pd.DataFrame({"home_id": ["em", "gen"], "capacity": [1, 1],
                          "accepts_sibling_groups": [False, False],
                          "kind": ["emergency", "general"]})
    pairs = pd.DataFrame({"child_id": [], "home_id": [], "score": [], "n_training": []})
    problem = assignment.AssignmentProblem.build(children, homes, pairs, None,
                                                 AssignmentSettings(), AS_OF)
    prio = problem.children.set_index("child_id")["priority"]
    weeks = (AS_OF - datetime.date(2026, 1, 1)).days / 7
    assert prio["a"] - prio["b"] == pytest.approx(0.05 * (weeks - 12))


# --------------------------------------------------------------------------- assignment


def _random(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = random.Random(seed)
    n_c, n_h = rng.randint(2, 5), rng.randint(1, 3)
    homes = pd.DataFrame({"home_id": [f"h{j}" for j in range(n_h)],
                          "capacity": [rng.randint(0, 2) for _ in range(n_h)],
                          "accepts_sibling_groups": [False] * n_h})
    current = [rng.choice([None, *homes["home_id"]]) for _ in range(n_c)]
    children = pd.DataFrame({"child_id": [f"c{i}" for i in range(n_c)],
                             "sibling_group": [None] * n_c, "urgency": ["planned"] * n_c,
                             "priority": [rng.choice([1.0, 2.0, 3.5]) for _ in range(n_c)],
                             "current_home_id": current,
                             "current_home_keeps": [h is not None and rng.random() < 0.5
                                                    for h in current]})
    rows = [(c, h, round(rng.random(), 3), 0) for c in children["child_id"]
            for h in homes["home_id"] if rng.random() < 0.8]
    pairs = pd.DataFrame(rows, columns=["child_id", "home_id", "score", "n_training"])
    return children, homes, pairs


def _brute(children: pd.DataFrame, homes: pd.DataFrame, pairs: pd.DataFrame
           ) -> tuple[float, float]:
    """Best (priority, score) by enumeration, with current homes counted as used."""
    cap = dict(zip(homes["home_id"], homes["capacity"], strict=True))
    living = children["current_home_id"].dropna().value_counts().to_dict()
    free = {h: max(0, cap[h] - living.get(h, 0)) for h in cap}
    options = []
    for c in children.itertuples():
        mine = pairs[pairs["child_id"] == c.child_id]
        allowed = [(h, s) for h, s in zip(mine["home_id"], mine["score"], strict=True)
                   if h != c.current_home_id or c.current_home_keeps]
        options.append([(None, 0.0), *allowed])
    best = (-1.0, -1.0)
    prio = children["priority"].to_numpy()
    for choice in itertools.product(*options):
        used: dict[str, int] = {}
        for c, (h, _s) in zip(children.itertuples(), choice, strict=True):
            if h is not None and h != c.current_home_id:
                used[h] = used.get(h, 0) + 1
        if any(n > free[h] for h, n in used.items()):
            continue
        value = (round(sum(p for p, (h, _s) in zip(prio, choice, strict=True)
                           if h is not None), 9),
                 round(sum(s for _h, s in choice), 9))
        best = max(best, value)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_current_homes_match_brute_force(seed: int) -> None:
    children, homes, pairs = _random(seed)
    problem = assignment.AssignmentProblem(children, homes, pairs)
    result = assignment.solve(problem, AssignmentSettings(sibling_policy="independent"))
    best = _brute(children, homes, pairs)
    assert result.objective_stage1 == pytest.approx(best[0], abs=1e-6)
    assert result.objective_stage2 == pytest.approx(best[1], abs=1e-6)
    got = result.assignments.set_index("child_id")["home_id"]
    for c in children.itertuples():
        if not c.current_home_keeps and c.current_home_id is not None:
            assert got[c.child_id] != c.current_home_id


def test_place_of_a_child_who_lives_there_is_used() -> None:
    children = pd.DataFrame({"child_id": ["a", "b"], "sibling_group": [None, None],
                             "urgency": ["planned"] * 2, "priority": [1.0, 1.0],
                             "current_home_id": ["h", None]})
    homes = pd.DataFrame({"home_id": ["h"], "capacity": [1], "accepts_sibling_groups": [False]})
    pairs = pd.DataFrame({"child_id": ["a", "b"], "home_id": ["h", "h"], "score": [0.9, 0.5],
                          "n_training": [0, 0]})
    result = assignment.solve(assignment.AssignmentProblem(children, homes, pairs),
                              AssignmentSettings())
    assert result.placed_count == 0  # a may not stay, and a's place is taken
    kept = children.assign(current_home_keeps=[True, False])
    result = assignment.solve(assignment.AssignmentProblem(kept, homes, pairs),
                              AssignmentSettings())
    assert result.assignments.set_index("child_id")["home_id"].to_dict() == {"a": "h",
                                                                             "b": None}


def test_child_locked_into_the_home_it_lives_in_takes_one_place() -> None:
    children = pd.DataFrame({"child_id": ["a", "b"], "sibling_group": [None, None],
                             "urgency": ["planned"] * 2, "priority": [1.0, 1.0],
                             "current_home_id": ["h", None], "current_home_keeps": [True, False]})
    homes = pd.DataFrame({"home_id": ["h"], "capacity": [2], "accepts_sibling_groups": [False]})
    pairs = pd.DataFrame({"child_id": ["a", "b"], "home_id": ["h", "h"], "score": [0.9, 0.5],
                          "n_training": [0, 0]})
    locked = pd.DataFrame({"child_id": ["a"], "home_id": ["h"]})
    result = assignment.solve(assignment.AssignmentProblem(children, homes, pairs,
                                                           locked=locked), AssignmentSettings())
    # a stays (locked) in its one place; the second place is free for b
    assert result.assignments.set_index("child_id")["home_id"].to_dict() == {"a": "h",
                                                                             "b": "h"}


def test_unmatched_reason_counts_the_child_who_lives_in_the_full_home() -> None:
    children = pd.DataFrame({"child_id": ["a", "b"], "sibling_group": [None, None],
                             "urgency": ["planned"] * 2, "priority": [1.0, 1.0],
                             "current_home_id": ["h", None]})
    homes = pd.DataFrame({"home_id": ["h"], "capacity": [1], "accepts_sibling_groups": [False]})
    pairs = pd.DataFrame({"child_id": ["b"], "home_id": ["h"], "score": [0.5],
                          "n_training": [0]})
    problem = assignment.AssignmentProblem(children, homes, pairs)
    result = assignment.solve(problem, AssignmentSettings())
    with i18n.language("en"):
        reason = assignment.diagnose(problem, result)["b"]
    # a's place is used: not "places not all taken ... the solve stopped early"
    assert "stopped early" not in reason
    # a is counted, never named: the reason reaches b's brief (issue 21)
    assert reason == "1 home qualifies but all its capacity is taken by 1 placement already made"


# --------------------------------------------------------------------------- validation


def test_bad_current_placement_values_name_row_and_column() -> None:
    children, homes = _frames()
    children["current_home_id"] = ["nowhere", ""]
    children["current_home_keeps"] = ["maybe", "yes"]
    children["placed_since"] = ["2026-02-30", "2026-01-01"]
    with pytest.raises(InputError) as info:
        schema.validate(children, homes, settings=SETTINGS)
    where = {(p.row, p.column) for p in info.value.problems}
    assert where == {(2, "current_home_id"), (2, "current_home_keeps"), (2, "placed_since"),
                     (3, "current_home_keeps"), (3, "placed_since")}  # header = row 1


def test_emergency_home_may_not_keep_and_dates_may_not_lie_ahead() -> None:
    children, homes = _frames(keeps="yes", placed="2999-01-01")
    placements = pd.DataFrame({"child_id": ["y"], "home_id": ["g1"], "decided_on": ["2999-01-01"],
                               "by": ["nav"]})
    with pytest.raises(InputError) as info:
        schema.validate(children, homes, placements=placements, settings=SETTINGS)
    found = {(p.source, p.row, p.column) for p in info.value.problems}
    assert found == {("children", 2, "current_home_keeps"), ("children", 2, "placed_since"),
                     ("placements", 2, "decided_on"), ("placements", 2, "by")}


# --------------------------------------------------------------------------- audit


def test_locks_and_vetoes_since_the_previous_run() -> None:
    children, homes = _frames(current=False)
    placements = pd.DataFrame({"child_id": ["x"], "home_id": ["g1"],
                               "decided_on": ["2026-05-20"], "by": ["bufetat"]})
    vetoes = pd.DataFrame({"child_id": ["y", "y"], "home_id": ["g1", "g2"],
                           "decided_on": ["2026-05-02", "2026-04-01"], "by": ["kommune", ""]})
    inputs = schema.validate(children, homes, placements=placements, vetoes=vetoes,
                             settings=SETTINGS)
    assert list(schema.ROLES) == list(decisions.ROLES)
    rows = decisions.overrides_since(inputs, datetime.date(2026, 5, 1))
    assert rows == [
        {"kind": "veto", "child_id": "y", "home_id": "g1", "decided_on": "2026-05-02",
         "by": "kommune"},
        {"kind": "lock", "child_id": "x", "home_id": "g1", "decided_on": "2026-05-20",
         "by": "bufetat"}]
    assert len(decisions.overrides_since(inputs, None)) == 3
    assert decisions.overrides_since(inputs, datetime.date(2026, 5, 20)) == []
    lines = markdown._overrides([Override(**r) for r in rows])
    assert lines[0] == "Locks and vetoes since the previous run:"
    assert "| 2026-05-20 | bufetat | x | g1 | locked placement |" in lines
    undated = schema.validate(children, homes, settings=SETTINGS)
    assert decisions.overrides_since(undated, None) == []


def test_pipeline_keeps_the_current_home_place_and_lists_overrides() -> None:
    from matcher import pipeline
    from matcher.config import Settings

    children, homes = _frames()
    homes["capacity"] = [2, 1, 0]  # em: x lives there, one place left; g2 full
    placements = pd.DataFrame({"child_id": ["y"], "home_id": ["em"],
                               "decided_on": ["2026-05-20"], "by": ["kommune"]})
    inputs = schema.validate(children, homes, placements=placements, settings=SETTINGS)
    run = pipeline.run(inputs, Settings(), times=_times(), as_of=AS_OF,
                       previous_as_of=datetime.date(2026, 5, 1))
    table = run.assignments.set_index("child_id")
    assert table.at["x", "home_id"] == "g1"  # never em, where x lives now
    assert [o.model_dump() for o in run.summary.overrides_since_previous_run] == [
        {"kind": "lock", "child_id": "y", "home_id": "em", "decided_on": "2026-05-20",
         "by": "kommune"}]
    explanation = run.scored.pairs.set_index(["child_id", "home_id"]).at[("x", "g1"),
                                                                        "explanation"]
    assert "priority raised" in explanation


def test_rule_failures_name_the_current_home() -> None:
    from matcher.config import Settings

    children, homes = _frames()
    children["current_home_id"] = ["g1", ""]
    inputs = schema.validate(children, homes, settings=SETTINGS)
    pairs = pd.DataFrame({"child_id": ["x", "y"], "home_id": ["g1", "g1"]})
    why = decisions.rule_failures(inputs, pairs, _times(), Settings())
    assert why == {"x": "x lives in g1 now, and the home has not said it keeps the child"}


def test_split_group_warning_is_in_the_language_of_the_run(
        caplog: pytest.LogCaptureFixture) -> None:
    children = pd.DataFrame({"child_id": ["a", "b", "c"], "sibling_group": ["g", "g", "g"],
                             "urgency": ["planned"] * 3, "priority": [1.0] * 3})
    homes = pd.DataFrame({"home_id": ["h1", "h2"], "capacity": [2, 2],
                          "accepts_sibling_groups": [True, True]})
    pairs = pd.DataFrame({"child_id": ["c"], "home_id": ["h1"], "score": [0.5],
                          "n_training": [0]})
    locked = pd.DataFrame({"child_id": ["a", "b"], "home_id": ["h1", "h2"]})
    with i18n.language("nb"), caplog.at_level("WARNING", logger="matcher.assignment.model"):
        assignment.solve(assignment.AssignmentProblem(children, homes, pairs, locked=locked),
                         AssignmentSettings(sibling_policy="together"))
    assert "søskenflokken g er allerede delt av låste plasseringer (2 hjem)" in caplog.text
