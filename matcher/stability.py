"""Stability of placements: unintended moves per placement-year and placements still standing.

Pure: a placement_periods frame in (:func:`matcher.periods.validate`), a frozen
:class:`Stability` out, which renders itself as a table, Norwegian text and
figures. Every source on foster care names the same aim: fewer unintended
moves (*utsiktede flyttinger*); this module shows whether matches last.

Method
------
Each period is followed from ``start`` to ``end``, or to ``as_of`` while it
lasts (an ``end`` after ``as_of`` counts as open: the figures are what was
known on that day). Periods that start after ``as_of`` are left out.

* **Placement-years** :math:`T = \\sum_i d_i / 365.25`, :math:`d_i` the days
  followed.
* **Unintended moves per 100 placement-years** :math:`100\\,k/T`, :math:`k` the
  periods that ended with ``unintended_move``. Its 95 % confidence interval is
  the exact (Garwood) Poisson interval
  :math:`\\tfrac{100}{T}\\,[\\chi^2_{0.025}(2k)/2,\\ \\chi^2_{0.975}(2k+2)/2]`
  (:func:`scipy.stats.chi2.ppf`; the lower end is 0 when :math:`k = 0`).
* **Share still standing after 6, 12 and 24 months** (one month is
  365.25/12 days): the Kaplan–Meier estimate :math:`\\hat S(t)`
  (:class:`statsmodels.duration.survfunc.SurvfuncRight`, with Greenwood's
  standard error) and its 95 % log(−log) confidence interval
  :math:`\\hat S^{\\exp(\\pm z\\sqrt{V})}`,
  :math:`V = \\sum d_j/(n_j(n_j-d_j)) / (\\ln \\hat S)^2` (:func:`kaplan_meier`).
  Only ``unintended_move`` is an event; every other end (a planned return home,
  a planned move, aging out, other) and every open period is *censored* at its
  end or at ``as_of``. So :math:`\\hat S(t)` estimates the share of placements
  that would not have broken down by :math:`t` if no planned end came first. A time beyond the
  longest period followed has no estimate (empty).

Breakdowns (:data:`BREAKDOWNS`): overall; the child's municipality; kind of
home; age band at the start (0–5, 6–12, 13–17); sibling group (alone / with
siblings); kinship home or not; the match's own geography: minutes from the
home to school, to the network and to the parents (:data:`MINUTE_BANDS`) and
whether the home is in the child's own municipality. A missing fact is the
group ``unknown``. Every group with fewer than ``min_cell`` placements
(default :data:`MIN_CELL`) is *suppressed*: its figures are empty and
``suppressed`` is true, never 0, so that no small group of children can be
recognised.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from matcher.i18n import N_, format_number
from matcher.i18n import gettext as _

__all__ = [
    "BREAKDOWNS",
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "MINUTE_BANDS",
    "MIN_CELL",
    "MONTHS",
    "TABLE_COLUMNS",
    "Curve",
    "Stability",
    "figure",
    "kaplan_meier",
    "markdown",
    "poisson_interval",
    "stability",
]

MIN_CELL = 5
"""Groups with fewer placements are suppressed."""
MONTHS: tuple[int, ...] = (6, 12, 24)
"""Times (months) at which the share still standing is given."""
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
ALPHA = 0.05
"""1 - the confidence level of every interval (95 %)."""
MINUTE_BANDS: tuple[tuple[float, float, str], ...] = (
    (0.0, 15.0, "<15"), (15.0, 30.0, "15-30"), (30.0, 45.0, "30-45"), (45.0, np.inf, ">45"))
"""Bands of minutes ``[low, high)``: the last is 45 minutes or more."""
_AGE_BANDS = ((0, 5, "0-5"), (6, 12, "6-12"), (13, 17, "13-17"))

BREAKDOWNS: dict[str, str] = {
    "overall": N_("all placements"),
    "municipality": N_("the child's municipality"),
    "home_kind": N_("kind of home"),
    "age_band": N_("age at the start"),
    "siblings": N_("sibling group"),
    "kinship": N_("kinship home"),
    "school_minutes": N_("minutes to school"),
    "network_minutes": N_("minutes to the network"),
    "parent_minutes": N_("minutes to the parents"),
    "own_municipality": N_("home in the child's own municipality"),
}
"""Breakdown code -> words (translated when shown)."""
_GROUP_WORDS: dict[str, str] = {
    "all": N_("all"), "unknown": N_("unknown"), "alone": N_("alone"),
    "with_siblings": N_("with siblings"), "yes": N_("yes"), "no": N_("no"),
    "general": N_("general"), "kinship": N_("kinship"), "emergency": N_("emergency"),
    "specialized": N_("specialized"),
}

TABLE_COLUMNS: tuple[str, ...] = (
    "breakdown", "group", "placements", "placement_years", "unintended_moves",
    "rate_per_100_years", "rate_low", "rate_high",
    *(f"survival_{m}m{s}" for m in MONTHS for s in ("", "_low", "_high")),
    "suppressed")
"""Columns of ``stability.csv`` (English keys; figures empty where suppressed)."""


@dataclass(frozen=True)
class Curve:
    """One Kaplan–Meier curve (a group that is not suppressed).

    Attributes
    ----------
    breakdown, group
        Which group.
    months
        Times of the steps (months from the start; 0 first).
    survival, low, high
        :math:`\\hat S` and its 95 % interval at each time.
    """

    breakdown: str
    group: str
    months: np.ndarray
    survival: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class Stability:
    """Stability statistics of placement periods on one day.

    Attributes
    ----------
    as_of
        The day the periods are followed to.
    min_cell
        Groups with fewer placements are suppressed.
    table
        One row per breakdown and group, :data:`TABLE_COLUMNS`, in
        :data:`BREAKDOWNS` order, groups in a fixed order.
    curves
        The curves of the groups that are not suppressed, in table order.
    periods, placement_years, unintended_moves, open_periods
        Totals: periods followed, years followed, unintended moves, periods
        still open on ``as_of``.
    left_out
        Periods that start after ``as_of``.
    """

    as_of: datetime.date
    min_cell: int
    table: pd.DataFrame
    curves: tuple[Curve, ...]
    periods: int
    placement_years: float
    unintended_moves: int
    open_periods: int
    left_out: int

    def overall(self) -> dict[str, Any]:
        """Return the overall row as a dict (``suppressed`` under ``min_cell`` placements)."""
        return self.table.iloc[0].to_dict()

    def markdown(self, *, heading: str = "#") -> str:
        """Render as Markdown in the current language (:func:`markdown`)."""
        return markdown(self, heading=heading)


def poisson_interval(events: int, years: float, *, alpha: float = ALPHA
                     ) -> tuple[float, float, float]:
    """Return the rate per 100 years and its exact (Garwood) Poisson interval.

    Parameters
    ----------
    events
        Events counted.
    years
        Years at risk (> 0; otherwise every value is NaN).
    alpha
        1 - confidence level.
    """
    if years <= 0:
        return (np.nan, np.nan, np.nan)
    low = 0.0 if events == 0 else float(sps.chi2.ppf(alpha / 2, 2 * events)) / 2
    high = float(sps.chi2.ppf(1 - alpha / 2, 2 * events + 2)) / 2
    scale = 100.0 / years
    return (events * scale, low * scale, high * scale)


def stability(periods: pd.DataFrame, *, as_of: datetime.date,
              min_cell: int = MIN_CELL) -> Stability:
    """Compute the stability statistics of placement periods (see the module docstring).

    Parameters
    ----------
    periods
        Validated placement periods (:func:`matcher.periods.validate`).
    as_of
        Follow the periods to this day; later starts are left out.
    min_cell
        Suppress groups with fewer placements (at least 1).

    Returns
    -------
    Stability
        The table, the curves and the totals.
    """
    spells = _spells(periods, as_of)
    rows: list[dict[str, Any]] = []
    curves: list[Curve] = []
    for breakdown in BREAKDOWNS:
        groups = spells[breakdown]
        for group in sorted(groups.unique(), key=lambda g: _order(breakdown, g)):
            part = spells[groups == group]
            row, curve = _cell(breakdown, group, part, min_cell)
            rows.append(row)
            if curve is not None:
                curves.append(curve)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return Stability(as_of=as_of, min_cell=min_cell, table=table, curves=tuple(curves),
                     periods=len(spells),
                     placement_years=float(spells["days"].sum() / DAYS_PER_YEAR),
                     unintended_moves=int(spells["event"].sum()),
                     open_periods=int(spells["open"].sum()),
                     left_out=int(len(periods) - len(spells)))


def _spells(periods: pd.DataFrame, as_of: datetime.date) -> pd.DataFrame:
    """One row per period started by ``as_of``: days followed, event, groups."""
    day = pd.Timestamp(as_of)
    p = periods[pd.to_datetime(periods["start"]) <= day]
    start = pd.to_datetime(p["start"])
    end = pd.to_datetime(p["end"])
    is_open = end.isna() | (end > day)
    stop = end.where(~is_open, day)
    reason = p["end_reason"].fillna("").astype(str)
    event = ~is_open & (reason == "unintended_move")
    age = pd.to_numeric(p["age_at_start"], errors="coerce")
    size = pd.to_numeric(p["sibling_group_size"], errors="coerce").fillna(1)
    kind = p["home_kind"].fillna("").astype(str)
    muni = p["municipality"].fillna("").astype(str)
    home_muni = p["home_municipality"].fillna("").astype(str)
    out = pd.DataFrame({
        "days": (stop - start).dt.days.astype("float64").to_numpy(),
        "event": event.to_numpy(bool), "open": is_open.to_numpy(bool),
        "overall": "all",
        "municipality": muni.where(muni != "", "unknown").to_numpy(),
        "home_kind": kind.where(kind != "", "unknown").to_numpy(),
        "age_band": [_band(a) for a in age],
        "siblings": np.where(size > 1, "with_siblings", "alone"),
        "kinship": np.where(kind == "", "unknown", np.where(kind == "kinship", "yes", "no")),
        **{c: [_minutes_band(m) for m in pd.to_numeric(p[c], errors="coerce")]
           for c in ("school_minutes", "network_minutes", "parent_minutes")},
        "own_municipality": np.where((muni == "") | (home_muni == ""), "unknown",
                                     np.where(muni == home_muni, "yes", "no")),
    })
    return out


def _band(age: float) -> str:
    if np.isnan(age):
        return "unknown"
    return next((label for low, high, label in _AGE_BANDS if low <= age <= high), "unknown")


def _minutes_band(minutes: float) -> str:
    if np.isnan(minutes):
        return "unknown"
    return next(label for low, high, label in MINUTE_BANDS if low <= minutes < high)


def _order(breakdown: str, group: str) -> tuple[int, str]:
    fixed = {"age_band": [b[2] for b in _AGE_BANDS],
             **{c: [b[2] for b in MINUTE_BANDS]
                for c in ("school_minutes", "network_minutes", "parent_minutes")},
             "siblings": ["alone", "with_siblings"], "kinship": ["yes", "no"],
             "own_municipality": ["yes", "no"]}.get(breakdown, [])
    if group == "unknown":
        return (len(fixed) + 1, group)
    return (fixed.index(group), group) if group in fixed else (len(fixed), group)


def _cell(breakdown: str, group: str, part: pd.DataFrame, min_cell: int
          ) -> tuple[dict[str, Any], Curve | None]:
    n = len(part)
    row: dict[str, Any] = {c: np.nan for c in TABLE_COLUMNS}
    row.update(breakdown=breakdown, group=group, suppressed=n < min_cell)
    if n < min_cell:
        return row, None
    years = float(part["days"].sum() / DAYS_PER_YEAR)
    k = int(part["event"].sum())
    rate, low, high = poisson_interval(k, years)
    row.update(placements=n, placement_years=round(years, 3), unintended_moves=k,
               rate_per_100_years=rate, rate_low=low, rate_high=high)
    timeline, surv, lo, hi = kaplan_meier(part["days"].to_numpy(dtype=float),
                                          part["event"].to_numpy(dtype=bool))
    longest = float(part["days"].max())
    for m in MONTHS:
        t = m * DAYS_PER_MONTH
        if t > longest:
            continue
        i = int(np.searchsorted(timeline, t, side="right") - 1)
        row[f"survival_{m}m"], row[f"survival_{m}m_low"], row[f"survival_{m}m_high"] = \
            surv[i], lo[i], hi[i]
    return row, Curve(breakdown, group, timeline / DAYS_PER_MONTH, surv, lo, hi)


def kaplan_meier(days: np.ndarray, event: np.ndarray, *, alpha: float = ALPHA
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier survival with its log(−log) confidence interval, as a step function.

    Parameters
    ----------
    days
        Days each period was followed (> 0).
    event
        ``True`` where the period ended with the event (an unintended move);
        ``False`` where it was censored.
    alpha
        1 − the confidence level.

    Returns
    -------
    timeline, survival, low, high
        Days (0, each event time, and the longest time followed) and the
        estimate with its interval from each of those days on. Where the
        estimate is 1 or 0 the interval is that value.

    Notes
    -----
    The estimate and Greenwood's standard error come from statsmodels
    (:class:`~statsmodels.duration.survfunc.SurvfuncRight`); the interval is
    the exponential Greenwood (log(−log)) one, as lifelines and R's
    ``survfit(conf.type = "log-log")`` give. statsmodels is used rather than
    lifelines, which requires pandas < 3.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    z = float(sps.norm.ppf(1 - alpha / 2))
    times, surv = np.zeros(1), np.ones(1)
    se = np.zeros(1)
    if event.any():
        fit = SurvfuncRight(days, event.astype(float))
        times = np.concatenate([times, np.asarray(fit.surv_times, dtype=float)])
        surv = np.concatenate([surv, np.asarray(fit.surv_prob, dtype=float)])
        se = np.concatenate([se, np.asarray(fit.surv_prob_se, dtype=float)])
    longest = float(days.max()) if len(days) else 0.0
    if longest > times[-1]:
        times, surv, se = (np.append(times, longest), np.append(surv, surv[-1]),
                           np.append(se, se[-1]))
    inner = (surv > 0) & (surv < 1)
    width = np.zeros_like(surv)
    with np.errstate(divide="ignore", invalid="ignore"):
        width[inner] = z * (se[inner] / surv[inner]) / np.abs(np.log(surv[inner]))
    low, high = surv.copy(), surv.copy()
    low[inner] = surv[inner] ** np.exp(width[inner])
    high[inner] = surv[inner] ** np.exp(-width[inner])
    return times, surv, low, high


# --------------------------------------------------------------------------- rendering


def group_text(breakdown: str, group: str) -> str:
    """The words for a group, in the current language (bands and numbers as they are)."""
    return _(_GROUP_WORDS[group]) if group in _GROUP_WORDS else group


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _num(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return format_number(float(value), digits)  # type: ignore[arg-type]


def _pct(value: float, low: float, high: float) -> str:
    if np.isnan(value):
        return "–"
    return _("{value} % ({low}–{high})").format(value=format_number(100 * value, 1),
                                               low=format_number(100 * low, 1),
                                               high=format_number(100 * high, 1))


def markdown(result: Stability, *, heading: str = "#") -> str:
    """Render the statistics as Markdown in the current language (nb or nn).

    Parameters
    ----------
    result
        From :func:`stability`.
    heading
        The Markdown level of the title (``"##"`` inside the run report).
    """
    o = result.overall()
    lines = [f"{heading} " + _("Stability of placements"), "",
             _("Placement periods followed to {day}: {n} periods, {years} placement-years, "
               "{k} unintended moves; {open} periods still open. Only an unintended move "
               "counts as a breakdown: other ends and open periods are censored. Groups with "
               "fewer than {min_cell} placements are suppressed.").format(
                 day=result.as_of.isoformat(), n=format_number(result.periods),
                 years=format_number(result.placement_years, 1),
                 k=format_number(result.unintended_moves),
                 open=format_number(result.open_periods), min_cell=result.min_cell), ""]
    if result.left_out:
        lines += [_("{n} periods start after {day} and are left out.").format(
            n=format_number(result.left_out), day=result.as_of.isoformat()), ""]
    if o["suppressed"]:
        lines += [_("Too few placements to show figures."), ""]
        return "\n".join(lines)
    lines += [_("Unintended moves per 100 placement-years: {rate} (95 % CI {low}–{high}).")
              .format(rate=_num(o["rate_per_100_years"], 2), low=_num(o["rate_low"], 2),
                      high=_num(o["rate_high"], 2)),
              _("Still standing after 6, 12 and 24 months (95 % CI): {s6}; {s12}; {s24}.")
              .format(**{f"s{m}": _pct(o[f"survival_{m}m"], o[f"survival_{m}m_low"],
                                       o[f"survival_{m}m_high"]) for m in MONTHS}), ""]
    header = [_("group"), _("placements"), _("placement-years"), _("unintended moves"),
              _("per 100 placement-years (95 % CI)"),
              *(_("standing after {m} months").format(m=m) for m in MONTHS)]
    for breakdown, words in BREAKDOWNS.items():
        if breakdown == "overall":
            continue
        part = result.table[result.table["breakdown"] == breakdown]
        lines += [f"{heading}# " + _capital(_(words)), "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        for r in part.to_dict("records"):
            name = group_text(breakdown, r["group"])
            if r["suppressed"]:
                cells = [name, *([_("suppressed")] * (len(header) - 1))]
            else:
                cells = [name, format_number(int(r["placements"])),
                         _num(r["placement_years"]), format_number(int(r["unintended_moves"])),
                         "{} ({}–{})".format(_num(r["rate_per_100_years"]),
                                             _num(r["rate_low"]), _num(r["rate_high"])),
                         *(_pct(r[f"survival_{m}m"], r[f"survival_{m}m_low"],
                                r[f"survival_{m}m_high"]) for m in MONTHS)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def figure(result: Stability, breakdown: str) -> bytes:
    """Return a PNG of the Kaplan–Meier curves of one breakdown, with 95 % bands.

    Suppressed groups are not drawn (the title says how many).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shown = [c for c in result.curves if c.breakdown == breakdown]
    for curve in shown:
        line = ax.step(curve.months, curve.survival, where="post",
                       label=group_text(breakdown, curve.group))[0]
        ax.fill_between(curve.months, curve.low, curve.high, step="post", alpha=0.15,
                        color=line.get_color(), linewidth=0)
    hidden = int(result.table.loc[result.table["breakdown"] == breakdown, "suppressed"].sum())
    title = _capital(_(BREAKDOWNS[breakdown]))
    if hidden:
        title += " " + _("({n} groups suppressed)").format(n=hidden)
    ax.set_title(title)
    ax.set_xlabel(_("months since move-in"))
    ax.set_ylabel(_("share without an unintended move"))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    for m in MONTHS:
        ax.axvline(m, color="grey", linewidth=0.5, linestyle=":")
    if shown:
        ax.legend(fontsize="small", loc="lower left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
