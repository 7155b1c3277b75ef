"""Assignment of waiting children to foster homes: a lexicographic two- or three-stage MIP.

The formulation (in LaTeX) is in :mod:`matcher.assignment.model`; the inputs
and result in :mod:`~matcher.assignment.problem`; deterministic tie-breaking in
:mod:`~matcher.assignment.canonical`; reasons for unmatched children in
:mod:`~matcher.assignment.diagnosis`.
"""

from matcher.assignment.diagnosis import diagnose
from matcher.assignment.model import (
    add_capacity_constraints,
    add_one_home_constraints,
    add_priority_floor,
    add_reduced_cost_fixing,
    add_sibling_home_constraints,
    add_split_constraints,
    add_stability_floor,
    solve,
)
from matcher.assignment.problem import (
    DAYS_PER_YEAR,
    STAGE1_ABS_TOL,
    STAGE1_REL_TOL,
    TIE_TOL,
    AssignmentProblem,
    AssignmentResult,
    Status,
    priority,
)

__all__ = [
    "DAYS_PER_YEAR",
    "STAGE1_ABS_TOL",
    "STAGE1_REL_TOL",
    "TIE_TOL",
    "AssignmentProblem",
    "AssignmentResult",
    "Status",
    "add_capacity_constraints",
    "add_one_home_constraints",
    "add_priority_floor",
    "add_reduced_cost_fixing",
    "add_sibling_home_constraints",
    "add_split_constraints",
    "add_stability_floor",
    "diagnose",
    "priority",
    "solve",
]
