"""Risk of an unintended move, shown as reasons, never as a score (issue 25).

A placement is flagged for the follow-up meeting (one flag per reason; a
placement may have several):

``no_supervisor``
    No supervisor of its pool with free visits within
    ``support.supervisor_max_minutes`` (:mod:`matcher.planning.support_network`).
``no_relief``
    It needs relief (``relief_weekends`` > 0) and no relief home is within
    ``support.relief_max_minutes`` of the home and the school.
``visit_overdue``
    ``last_visit`` is older than a year divided by ``support.visits_per_child``
    (91 days at 4 visits a year) on the run date. A child without a
    ``last_visit`` is not flagged: the engine does not know.
``long_school_trip``
    Home -> school is longer than the child's ``max_school_minutes`` (else
    ``scoring.default_max_school_minutes``).
``long_parent_trip``
    Home -> a parent contact is longer than that contact's ``max_minutes``
    (only contacts with a limit).
``earlier_moves``
    The child has ``support.moves_flag`` (2) or more ended placement periods
    before the current one.
``recent_breakdown``
    The home had an unintended move (``end_reason = unintended_move``) in the
    last ``support.breakdown_months`` (24) months.

Each flag says what it is and, in words, what would remove it. There is no
total, no weight and no ranking: the list is for people, per municipality.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from matcher import i18n
from matcher.config import Settings
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.planning.support_network import MinutesFn, SupportNetwork

__all__ = ["FLAGS", "risk_flags", "risk_markdown"]

FLAGS: tuple[str, ...] = ("no_supervisor", "no_relief", "visit_overdue", "long_school_trip",
                          "long_parent_trip", "earlier_moves", "recent_breakdown")
"""Flag codes (machine-readable, English), in the order they are listed."""

COLUMNS: tuple[str, ...] = ("municipality", "child_id", "home_id", "flag", "detail", "remedy")


def risk_flags(network: SupportNetwork, children: pd.DataFrame, *, as_of: datetime.date,
               minutes: MinutesFn | None = None, contacts: pd.DataFrame | None = None,
               periods: pd.DataFrame | None = None, homes: pd.DataFrame | None = None,
               settings: Settings | None = None) -> pd.DataFrame:
    """Flag placements at risk, with the reason and the remedy in words.

    Parameters
    ----------
    network
        :func:`matcher.planning.support_network.support_network`.
    children
        Validated children (``school_lon, school_lat, max_school_minutes,
        last_visit``, each optional).
    as_of
        The run date.
    minutes
        Travel times (for the school and parent trips; none: those flags are skipped).
    contacts
        Validated contacts (``kind = parent`` with ``max_minutes``).
    periods
        Validated placement periods (earlier moves, recent breakdowns).
    homes
        Validated homes (positions, for the trips).
    settings
        ``[support]`` and ``scoring.default_max_school_minutes``.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, sorted by municipality, child, flag order.
    """
    settings = settings or Settings()
    cfg = settings.support
    p = network.placements
    child = children.set_index("child_id")
    rows: list[dict[str, Any]] = []

    def add(i: int, flag: str, detail: str, remedy: str) -> None:
        rows.append({"municipality": p["municipality"][i], "child_id": p["child_id"][i],
                     "home_id": p["home_id"][i], "flag": flag, "detail": detail,
                     "remedy": remedy})

    day = pd.Timestamp(as_of)
    interval = 365.0 / cfg.visits_per_child
    moves = _earlier_moves(periods)
    broke = _recent_breakdowns(periods, day, cfg.breakdown_months)
    school = _school_minutes(p, child, homes, minutes, settings)
    parents = _parent_trips(p, contacts, homes, minutes)
    for i in range(len(p)):
        c = str(p["child_id"][i])
        h = str(p["home_id"][i])
        if p["supervisor_id"][i] is None or pd.isna(p["supervisor_id"][i]):
            add(i, "no_supervisor", _("no supervisor: {reason}").format(
                reason=p["supervisor_reason"][i]),
                _("recruit a supervisor in {pool} near the home, or give a supervisor within "
                  "reach more visits a year").format(pool=p["pool"][i]))
        if p["relief_weekends"][i] > 0 and (p["relief_id"][i] is None
                                            or pd.isna(p["relief_id"][i])):
            add(i, "no_relief", _("no relief home: {reason}").format(
                reason=p["relief_reason"][i]),
                _("ask the child's kin and network to be a relief home, or recruit a relief "
                  "home within {minutes}").format(
                    minutes=i18n.format_minutes(cfg.relief_max_minutes)))
        last = child["last_visit"].get(c) if "last_visit" in child.columns else None
        if last is not None and not pd.isna(last):
            days = (day - pd.Timestamp(last)).days
            if days > interval:
                add(i, "visit_overdue", ngettext(
                    "last supervisor visit {n} day ago (at most {limit} days between visits)",
                    "last supervisor visit {n} days ago (at most {limit} days between visits)",
                    days).format(n=days, limit=round(interval)),
                    _("book a supervisor visit"))
        if i in school:
            got, limit = school[i]
            add(i, "long_school_trip", _("{minutes} to school, over the limit of {limit}")
                .format(minutes=i18n.format_minutes(got), limit=i18n.format_minutes(limit)),
                _("arrange school transport, or discuss the school in a network meeting "
                  "(nettverksmøte)"))
        for got, limit in parents.get(i, []):
            add(i, "long_parent_trip", _("{minutes} to a parent, over the limit of {limit}")
                .format(minutes=i18n.format_minutes(got), limit=i18n.format_minutes(limit)),
                _("plan transport and time for contact with the parents (samvær)"))
        n_moves = moves.get(c, 0)
        if n_moves >= cfg.moves_flag:
            add(i, "earlier_moves", ngettext("{n} earlier move", "{n} earlier moves", n_moves)
                .format(n=n_moves),
                _("offer a family group conference (familieråd) and follow the home closely"))
        when = broke.get(h)
        if when is not None:
            add(i, "recent_breakdown", _("the home had an unintended move on {date}").format(
                date=i18n.format_date(when.date())),
                _("offer the home guidance and relief, and hold a network meeting "
                  "(nettverksmøte)"))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    order = {f: k for k, f in enumerate(FLAGS)}
    out["_o"] = out["flag"].map(order)
    out = out.sort_values(["municipality", "child_id", "_o"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


def _earlier_moves(periods: pd.DataFrame | None) -> dict[str, int]:
    """Per child, the ended placement periods (each ended period was a move)."""
    if periods is None or not len(periods):
        return {}
    ended = periods[periods["end"].notna()]
    return {str(c): int(n) for c, n in ended.groupby("child_id").size().items()}


def _recent_breakdowns(periods: pd.DataFrame | None, day: pd.Timestamp,
                       months: int) -> dict[str, pd.Timestamp]:
    """Per home, the latest unintended move within ``months`` before ``day``."""
    if periods is None or not len(periods):
        return {}
    since = day - pd.DateOffset(months=months)
    hit = periods[(periods["end_reason"] == "unintended_move") & periods["end"].notna()
                  & (periods["end"] >= since) & (periods["end"] <= day)]
    return {str(h): pd.Timestamp(g["end"].max()) for h, g in hit.groupby("home_id")}


def _home_points(p: pd.DataFrame, rows: Sequence[int], homes: pd.DataFrame) -> pd.DataFrame:
    h = homes.set_index("home_id")
    ids = p["home_id"].to_numpy(dtype=object)[list(rows)]
    return pd.DataFrame({"id": [f"{p['child_id'][i]}@{p['home_id'][i]}" for i in rows],
                         "lon": h["lon"].reindex(ids).to_numpy(dtype=float),
                         "lat": h["lat"].reindex(ids).to_numpy(dtype=float)})


def _school_minutes(p: pd.DataFrame, child: pd.DataFrame, homes: pd.DataFrame | None,
                    minutes: MinutesFn | None, settings: Settings
                    ) -> dict[int, tuple[float, float]]:
    """Placements whose home -> school trip is over the child's limit: ``i -> (minutes, limit)``."""
    if minutes is None or homes is None or "school_lon" not in child.columns:
        return {}
    ids = p["child_id"].astype(str)
    lon = child["school_lon"].reindex(ids).to_numpy(dtype=float)
    lat = child["school_lat"].reindex(ids).to_numpy(dtype=float)
    rows = [i for i in range(len(p)) if np.isfinite(lon[i]) and np.isfinite(lat[i])]
    if not rows:
        return {}
    limit = (child["max_school_minutes"].reindex(ids).to_numpy(dtype=float)
             if "max_school_minutes" in child.columns else np.full(len(p), np.nan))
    limit = np.where(np.isfinite(limit), limit, settings.scoring.default_max_school_minutes)
    schools = pd.DataFrame({"id": [f"{ids[i]}:school" for i in rows], "lon": lon[rows],
                            "lat": lat[rows]})
    t = np.diagonal(minutes(_home_points(p, rows, homes), "id", schools, "id"))
    return {i: (float(m), float(limit[i])) for i, m in zip(rows, t, strict=True)
            if m > limit[i]}


def _parent_trips(p: pd.DataFrame, contacts: pd.DataFrame | None, homes: pd.DataFrame | None,
                  minutes: MinutesFn | None) -> dict[int, list[tuple[float, float]]]:
    """Placements with a parent contact beyond its ``max_minutes``: ``i -> [(minutes, limit)]``."""
    if (minutes is None or homes is None or contacts is None or not len(contacts)
            or "max_minutes" not in contacts.columns):
        return {}
    par = contacts[(contacts["kind"] == "parent") & contacts["max_minutes"].notna()]
    index = {str(c): i for i, c in enumerate(p["child_id"])}
    par = par[par["child_id"].astype(str).isin(index)].reset_index(drop=True)
    if not len(par):
        return {}
    rows = [index[str(c)] for c in par["child_id"]]
    points = pd.DataFrame({"id": [f"{c}:parent:{k}" for k, c in enumerate(par["child_id"])],
                           "lon": par["lon"].to_numpy(dtype=float),
                           "lat": par["lat"].to_numpy(dtype=float)})
    origins = _home_points(p, rows, homes)
    origins["id"] = [f"{o}:{k}" for k, o in enumerate(origins["id"])]
    t = np.diagonal(minutes(origins, "id", points, "id"))
    out: dict[int, list[tuple[float, float]]] = {}
    for k, i in enumerate(rows):
        limit = float(par["max_minutes"][k])
        if t[k] > limit:
            out.setdefault(i, []).append((float(t[k]), limit))
    return out


def risk_markdown(flags: pd.DataFrame, *, as_of: datetime.date, synthetic: bool = False) -> str:
    """The list per municipality for the follow-up meeting (Markdown, the language in effect)."""
    title = _("Placements to follow up")
    lines = ["# " + title, ""]
    if synthetic:
        lines += [_("Synthetic data. Do not use for casework."), ""]
    lines += [_("Run date: {date}. Each line is a reason, not a score; the remedy says what "
                "would remove it. Pseudonymous ids only.").format(
        date=i18n.format_date(as_of)), ""]
    if not len(flags):
        lines.append(_("No placement is flagged."))
        return "\n".join(lines) + "\n"
    for muni, g in flags.groupby("municipality", sort=True):
        n = g["child_id"].nunique()
        heading = _("Municipality {municipality}").format(municipality=muni)
        lines += ["## " + heading, "",
                  ngettext("{n} placement flagged.", "{n} placements flagged.", n).format(n=n),
                  ""]
        remedy = _("Remedy")
        for (c, h), rows in g.groupby(["child_id", "home_id"], sort=False):
            lines.append("- " + _("Child {child} in home {home}:").format(child=c, home=h))
            for r in rows.itertuples(index=False):
                lines.append(f"    - {_md(r.detail)}. {remedy}: {_md(r.remedy)}.")
        lines.append("")
    return "\n".join(lines)


def _md(text: object) -> str:
    """Escape Markdown specials in a cell."""
    out = str(text)
    for ch in ("\\", "*", "_", "`", "[", "]", "<", ">", "|"):
        out = out.replace(ch, "\\" + ch)
    return out
