"""Solver choice, warm starts and solver status for every PuLP model of the engine.

The assignment (:mod:`matcher.assignment`) and the planning models
(:mod:`matcher.planning.recruitment`, :mod:`matcher.planning.support`) solve
through :func:`solve`, so that one setting (``assignment.solver``) picks
the solver for all of them and one place turns solver status into results
or :class:`~matcher.errors.InfeasibleError`.

Solvers
-------
``highs``
    HiGHS in-process through ``highspy`` (default); the ``HiGHS`` executable
    (``highs_cmd``) when ``highspy`` is missing. MIP starts are passed to
    HiGHS before it runs.
``cbc``
    CBC as bundled with PuLP, else ``cbc`` on the PATH. MIP starts use
    CBC's warm start.
"""

from __future__ import annotations

import functools
import math
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pulp

from matcher.errors import InfeasibleError, InputError
from matcher.i18n import format_number
from matcher.i18n import gettext as _

__all__ = ["Outcome", "Status", "cbc_gap", "lp_duals", "solve", "solver_name"]

Status = Literal["optimal", "time_limit_feasible"]
"""``optimal`` (within the allowed gap) or ``time_limit_feasible`` (stopped at a limit
with a feasible solution)."""


@dataclass(frozen=True)
class Outcome:
    """How one solve ended.

    Attributes
    ----------
    status
        See :data:`Status`.
    gap
        Relative MIP gap at the end (NaN when the solver did not report one).
    seconds
        Wall-clock solve time in seconds.
    """

    status: Status
    gap: float
    seconds: float


def solver_name(solver: Literal["highs", "cbc"]) -> str:
    """Return ``cbc``, ``highs`` (in-process API) or ``highs_cmd`` (HiGHS executable).

    Raises
    ------
    InputError
        If the chosen solver is not installed.
    """
    if solver == "cbc":
        return "cbc"
    if pulp.HiGHS().available():
        return "highs"
    if pulp.HiGHS_CMD(msg=False).available():
        return "highs_cmd"
    raise InputError(_("HiGHS is not available; install highspy (pip install highspy) or set "
                       "solver = 'cbc'"))


class _HiGHSWarm(pulp.HiGHS):
    """``pulp.HiGHS`` that is silent from the start and passes a MIP start before running.

    With ``msg=False`` HiGHS's own ``output_flag`` and ``log_to_console``
    options are off before it can print anything: ``highspy.Highs()`` prints
    its banner on stdout when it first registers its callbacks, which
    ``pulp.HiGHS`` does before it turns the output off.
    """

    def __init__(
        self, start: Mapping[pulp.LpVariable, float] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._start = start

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP API)
        lp.solverModel = _quiet_highs() if not self.msg else _highspy().Highs()
        options: dict[str, Any] = {"mip_rel_gap": self.gapRel, "mip_abs_gap": self.gapAbs,
                                   "threads": self.threads,
                                   "time_limit": None if self.timeLimit is None
                                   else float(self.timeLimit), **self.optionsDict}
        for key, value in options.items():
            if value is not None:
                lp.solverModel.setOptionValue(key, value)

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP API)
        if self._start:
            index = np.array([v.index for v in self._start], dtype=np.int32)
            value = np.array(list(self._start.values()), dtype=float)
            lp.solverModel.setSolution(len(index), index, value)
        super().callSolver(lp)


def _highspy() -> Any:
    import highspy

    return highspy


def _quiet_highs() -> Any:
    """A ``highspy.Highs`` whose output is off before its constructor could log."""
    return _quiet_highs_class()()


@functools.cache
def _quiet_highs_class() -> type:
    highspy = _highspy()

    class _Quiet(highspy.Highs):  # type: ignore[name-defined]
        def enableCallbacks(self) -> None:  # noqa: N802 (highspy API)
            # Called by Highs.__init__; registering a callback prints the banner
            # unless the output is already off.
            self.setOptionValue("output_flag", False)
            self.setOptionValue("log_to_console", False)
            super().enableCallbacks()

    return _Quiet


def solve(prob: pulp.LpProblem, *, solver: str, time_limit_seconds: float, mip_gap: float,
          what: str, start: Mapping[pulp.LpVariable, float] | None = None,
          fix: str | None = None) -> Outcome:
    """Solve ``prob`` and check its status; raise if there is no usable solution.

    Parameters
    ----------
    prob
        The PuLP problem with its objective set.
    solver
        A name from :func:`solver_name`.
    time_limit_seconds
        Wall-clock limit in seconds.
    mip_gap
        Relative MIP gap accepted as optimal.
    what
        What is solved, for messages (``"stage 1 (1,234 pair variables)"``).
    start
        A MIP start (variable -> value), or ``None``.
    fix
        The advice given when no solution is found (default: raise
        ``time_limit_seconds`` or ``mip_gap``, in the current language).

    Raises
    ------
    InfeasibleError
        If the solver stops without a feasible solution.
    """
    limit = float(time_limit_seconds)
    t0 = time.perf_counter()
    if solver == "highs":
        import highspy

        runner = _HiGHSWarm(start=start, msg=False, timeLimit=limit, gapRel=mip_gap,
                            gapAbs=1e-9)
        prob.solve(runner)
        seconds = time.perf_counter() - t0
        highs = prob.solverModel
        status = highs.getModelStatus()
        info = highs.getInfo()
        has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else math.nan
        if status == highspy.HighsModelStatus.kOptimal and has_solution:
            # Proven optimal: report the remaining gap only if one was allowed.
            return Outcome("optimal", 0.0 if math.isnan(gap) or gap < 1e-9 else gap, seconds)
        limited = {
            highspy.HighsModelStatus.kTimeLimit,
            highspy.HighsModelStatus.kIterationLimit,
            highspy.HighsModelStatus.kInterrupt,
            highspy.HighsModelStatus.kSolutionLimit,
        }
        if status in limited and has_solution:
            return Outcome("time_limit_feasible", gap, seconds)
        raise InfeasibleError(_no_solution("HiGHS", what, seconds,
                                           highs.modelStatusToString(status), limit, fix))

    with tempfile.TemporaryDirectory(prefix="fostermatch-") as tmp:
        log_path = Path(tmp) / "solver.log"
        if solver == "cbc":
            runner = _cbc(limit, mip_gap, warm=start is not None, log_path=log_path)
            if start is not None:
                for var in prob.variables():
                    var.setInitialValue(start.get(var, 0.0))
        else:
            runner = pulp.HiGHS_CMD(msg=False, timeLimit=limit, gapRel=mip_gap)
        prob.solve(runner)
        seconds = time.perf_counter() - t0
        log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    if prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionOptimal:
        if mip_gap == 0:
            return Outcome("optimal", 0.0, seconds)
        gap = cbc_gap(log_text)  # optimal within the allowed gap: at most mip_gap
        return Outcome("optimal", mip_gap if math.isnan(gap) else gap, seconds)
    if prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return Outcome("time_limit_feasible", cbc_gap(log_text), seconds)
    raise InfeasibleError(_no_solution(solver.upper(), what, seconds,
                                       str(pulp.LpStatus[prob.status]), limit, fix))


def _no_solution(solver: str, what: str, seconds: float, status: str, limit: float,
                 fix: str | None) -> str:
    """The message of a solve without a usable solution, in the current language."""
    return _("{solver} found no usable solution of {what} after {seconds} s (status {status}, "
             "time limit {limit} s); {fix}").format(
        solver=solver, what=what, seconds=format_number(seconds, 1), status=status,
        limit=format_number(limit, 0 if float(limit).is_integer() else 1),
        fix=fix or _("raise time_limit_seconds or mip_gap"))


def _cbc(time_limit_seconds: float, mip_gap: float, *, warm: bool, log_path: Path | None,
         mip: bool = True) -> pulp.COIN_CMD:
    """CBC as bundled with PuLP (the ``PULP_CBC_CMD`` binary), else ``cbc`` on PATH.

    ``COIN_CMD`` with the bundled binary's path is what ``PULP_CBC_CMD`` runs,
    without its PuLP 4.0 deprecation warning.
    """
    kwargs = dict(msg=False, timeLimit=float(time_limit_seconds), mip=mip, gapRel=mip_gap,
                  warmStart=warm, logPath=None if log_path is None else str(log_path))
    bundled = pulp.COIN_CMD(path=pulp.PULP_CBC_CMD.pulp_cbc_path, **kwargs)
    if bundled.available():
        return bundled
    system = pulp.COIN_CMD(**kwargs)
    if not system.available():
        raise InputError(_("CBC is not available; install it (pip install pulp[cbc]) or use "
                           "solver = 'highs'"))
    return system


def lp_duals(prob: pulp.LpProblem, row_names: Sequence[str], *, solver: str,
             time_limit_seconds: float) -> np.ndarray | None:
    """Solve the LP relaxation of the current objective; return the rows' duals or ``None``.

    ``None`` when the LP is not solved to optimality or the solver gives no
    duals (``highs_cmd``).
    """
    if not row_names or solver not in ("highs", "cbc"):
        return None
    limit = float(time_limit_seconds)
    if solver == "highs":
        import highspy

        prob.solve(_HiGHSWarm(mip=False, msg=False, timeLimit=limit))
        if prob.solverModel.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
    else:
        prob.solve(_cbc(limit, 0.0, warm=False, log_path=None, mip=False))
        if prob.status != pulp.LpStatusOptimal:
            return None
    duals = []
    for name in row_names:
        row = prob.get_constraint_by_name(name)
        duals.append(row.pi if row is not None and row.pi is not None else 0.0)
    return np.array(duals, dtype=float)


def cbc_gap(log_text: str) -> float:
    """Relative gap of a CBC run stopped at its limit, from its log (nan if absent).

    Computed from the ``Objective value`` and ``Upper/Lower bound`` lines (CBC's
    own ``Gap`` line has only two decimals, used as a fallback).
    """
    number = r"\s+([-+0-9.eE]+)"
    obj = re.search(r"^Objective value:" + number, log_text, flags=re.MULTILINE)
    bound = re.search(r"^(?:Lower|Upper) bound:" + number, log_text, flags=re.MULTILINE)
    if obj and bound:
        o, b = float(obj.group(1)), float(bound.group(1))
        return abs(b - o) / max(abs(o), 1e-9)
    found = re.search(r"^Gap:" + number, log_text, flags=re.MULTILINE)
    return abs(float(found.group(1))) if found else math.nan
