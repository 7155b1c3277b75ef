"""Two-step floating catchment accessibility (2SFCA): places per child within a catchment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.errors import Problem, raise_if_problems
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.planning.common import _check_minutes

__all__ = ["FCAResult", "two_step_fca"]

# =========================================================================== 2SFCA


@dataclass(frozen=True)
class FCAResult:
    """Two-step floating catchment accessibility.

    Attributes
    ----------
    ratio
        Per supply location: supply / demand inside its catchment (places per
        child); 0 where no demand is inside.
    access
        Per demand location: sum of the ratios of the supply locations whose
        catchment holds it (places per child); 0 where none does.
    catchment_minutes
        The catchment ``T`` in minutes.
    """

    ratio: np.ndarray
    access: np.ndarray
    catchment_minutes: float


def two_step_fca(minutes: np.ndarray, supply: np.ndarray, demand: np.ndarray, *,
                 catchment_minutes: float) -> FCAResult:
    r"""Two-step floating catchment area (2SFCA) accessibility on a dense matrix.

    With travel time :math:`t_{jk}` (minutes) from supply location :math:`j`
    to demand location :math:`k`, supply :math:`S_j` (free places) and demand
    :math:`D_k` (children):

    .. math::

        R_j = \frac{S_j}{\sum_{k : t_{jk} \le T} D_k}, \qquad
        A_k = \sum_{j : t_{jk} \le T} R_j

    (Luo & Wang 2003). :math:`R_j = 0` when no demand lies in the catchment.

    Why not PySAL ``access``: it installs from PyPI (1.1.10) and its
    functional ``access.fca.two_stage_fca`` gives the same numbers, but its
    ``Access`` class calls ``DataFrame.set_index(inplace=True)``, which raises
    ``Pandas4Warning`` under pandas 3.1, and this project runs with warnings as
    errors. It also needs the matrix in long form merged through pandas and
    leaves demand points without supply out of its result (here they get 0).
    On a dense :class:`~matcher.traveltime.TimeTable` 2SFCA is two
    matrix-vector products, so a dependency is not worth it.

    Parameters
    ----------
    minutes
        ``(n_supply, n_demand)`` travel times in minutes; ``inf``/NaN are
        outside every catchment.
    supply, demand
        Non-negative weights per supply and per demand location.
    catchment_minutes
        ``T`` in minutes (inclusive).

    Raises
    ------
    InputError
        On mismatched shapes, negative or non-finite weights, or ``T <= 0``.
    """
    t = np.asarray(minutes, dtype=float)
    s = np.asarray(supply, dtype=float)
    d = np.asarray(demand, dtype=float)
    problems = []
    if t.ndim != 2 or t.shape != (len(s), len(d)):
        problems.append(Problem("2SFCA", _("minutes has shape {shape}; expected ({supply}, "
                                           "{demand}) = (supply, demand)").format(
            shape=t.shape, supply=len(s), demand=len(d))))
    if not (np.isfinite(s).all() and (s >= 0).all()):
        problems.append(Problem("2SFCA", _("supply must be finite and >= 0")))
    if not (np.isfinite(d).all() and (d >= 0).all()):
        problems.append(Problem("2SFCA", _("demand must be finite and >= 0")))
    raise_if_problems(_("cannot compute 2SFCA"), problems)
    _check_minutes(N_("catchment"), catchment_minutes)
    inside = (t <= catchment_minutes).astype(float)
    demand_in = inside @ d
    ratio = np.divide(s, demand_in, out=np.zeros_like(s), where=demand_in > 0)
    access = inside.T @ ratio
    return FCAResult(ratio=ratio, access=access, catchment_minutes=float(catchment_minutes))
