"""Tests of matcher.optimize: one place for solver choice, warm starts and solver status."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pulp
import pytest

from matcher import i18n, optimize, planning
from matcher.errors import InfeasibleError, InputError

VALUES = [10.0, 13.0, 7.0, 8.0, 4.0, 9.0]
WEIGHTS = [5.0, 7.0, 3.0, 4.0, 2.0, 5.0]
CAPACITY = 12.0


def knapsack() -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    prob = pulp.LpProblem("knapsack", pulp.LpMaximize)
    x = [prob.add_variable(f"x{i}", 0, 1, pulp.LpBinary) for i in range(len(VALUES))]
    prob += pulp.lpSum(v * xi for v, xi in zip(VALUES, x, strict=True))
    prob += pulp.lpSum(w * xi for w, xi in zip(WEIGHTS, x, strict=True)) <= CAPACITY
    return prob, x


def brute_force() -> float:
    best = 0.0
    for pick in itertools.product((0, 1), repeat=len(VALUES)):
        if sum(w * p for w, p in zip(WEIGHTS, pick, strict=True)) <= CAPACITY:
            best = max(best, sum(v * p for v, p in zip(VALUES, pick, strict=True)))
    return best


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_both_solvers_reach_the_brute_force_optimum(solver: str) -> None:
    prob, x = knapsack()
    start = {xi: 0.0 for xi in x}  # a feasible (poor) warm start must not hurt
    outcome = optimize.solve(prob, solver=optimize.solver_name(solver),  # type: ignore[arg-type]
                             time_limit_seconds=10, mip_gap=0.0, what="the knapsack",
                             start=start)
    assert outcome.status == "optimal" and outcome.gap == 0.0
    assert pulp.value(prob.objective) == pytest.approx(brute_force())


def _stop_highs_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make HiGHS stop before it finds any solution (time limit 0, no presolve)."""
    original = optimize._HiGHSWarm.callSolver

    def stop_at_once(self: optimize._HiGHSWarm, lp: pulp.LpProblem) -> None:
        lp.solverModel.setOptionValue("time_limit", 0.0)
        lp.solverModel.setOptionValue("presolve", "off")
        self._start = None
        original(self, lp)

    monkeypatch.setattr(optimize._HiGHSWarm, "callSolver", stop_at_once)


def test_highs_stopped_before_any_solution_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    _stop_highs_at_once(monkeypatch)
    prob, _ = knapsack()
    with pytest.raises(InfeasibleError, match="HiGHS found no usable solution of the knapsack"):
        optimize.solve(prob, solver="highs", time_limit_seconds=5, mip_gap=0.0,
                       what="the knapsack")


def test_solver_messages_are_in_the_language_of_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    _stop_highs_at_once(monkeypatch)
    prob, _ = knapsack()
    with i18n.language("nb"), pytest.raises(
            InfeasibleError, match="HiGHS fant ingen brukbar løsning av sekken etter .* s "
                                   r"\(status .*, tidsgrense 5 s\); øk time_limit_seconds"):
        optimize.solve(prob, solver="highs", time_limit_seconds=5, mip_gap=0.0, what="sekken")
    monkeypatch.setattr(pulp.HiGHS, "available", lambda self: False)
    monkeypatch.setattr(pulp.HiGHS_CMD, "available", lambda self: False)
    with i18n.language("nn"), pytest.raises(InputError, match="HiGHS er ikkje tilgjengeleg"):
        optimize.solver_name("highs")


def test_cbc_gap_is_read_from_its_log() -> None:
    log = "Result - Stopped on time limit\n\nObjective value:                10.0\n" \
          "Upper bound:                    12.5\nGap:                            0.25\n"
    assert optimize.cbc_gap(log) == pytest.approx(0.25)
    assert math.isnan(optimize.cbc_gap("nothing"))


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_planning_models_use_the_configured_solver(solver: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[str] = []
    real = optimize.solve

    def spy(prob: pulp.LpProblem, **kwargs: object) -> optimize.Outcome:
        used.append(str(kwargs["solver"]))
        return real(prob, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(optimize, "solve", spy)
    minutes = np.array([[5.0, 50.0, 10.0], [40.0, 8.0, 9.0], [60.0, 60.0, 60.0]])
    sol = planning.mclp(minutes, 1, catchment_minutes=20.0, solver=solver)  # type: ignore[arg-type]
    assert used == [solver]
    assert sol.chosen.tolist() == [0] or sol.chosen.tolist() == [1]
    assert int(sol.covered.sum()) == 2
