"""Three years of SYNTHETIC placement periods for the samples (issue 25).

Every period is fictional, drawn deterministically from the seed, and labelled
synthetic by its ids: children who left are ``HIST-C<n>``; the sample's own
waiting children appear with earlier periods that ended when they started
waiting. Homes are the sample's homes, so that home-level history exists.

Assumed rates (an ASSUMPTION, not a calibration)
------------------------------------------------
No Norwegian register figure of unintended moves per placement-year was at
hand while writing this, so the rates below are assumptions chosen to lie in
the range of the international literature on foster placement breakdown
(disruption of roughly 20-50 % of placements over several years, higher for
teenagers and lower in kinship care; e.g. Oosterman et al. 2007, *Children
and Youth Services Review* 29(1), 53-76, a meta-analysis of disruption
risks). Treat every figure the samples give as a demonstration of the method,
never as evidence.

Competing hazards per placement-year (exponential times; the first to come
ends the period; a period still running on the reference date stays open):

==================  ====================  ======================================
end                 hazard per year       modifiers
==================  ====================  ======================================
unintended_move     0.07                  kinship x0.6, specialized x1.4,
                                          emergency x2.0; age 0-5 x0.6,
                                          13-17 x2.0; network > 45 min x1.3
planned_return_home 0.08                  emergency homes: planned_move instead
planned_move        0.04 (emergency 3.0:  -
                    a few months' stay)
other               0.01                  -
aged_out            at 18 years           -
==================  ====================  ======================================

Starts are uniform over the three years before the reference date, one new
period per year for every four non-emergency homes and 1.5 per emergency
home. Facts at the start: age 0-17 (the sample's age bands), the child's
municipality the home's in 70 % of periods (else another sample municipality),
sibling groups of 2 (12 %) or 3 (5 %), minutes to school, network and parents
log-normal with medians 12, 20 and 25 minutes. Who ended a period is drawn per
end reason (:data:`_ENDED_BY`). One in five of the sample's waiting children
has an earlier period, which ended on the day it started waiting (60 %
unintended, else planned moves).
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from matcher.periods import COLUMNS

__all__ = ["HAZARDS", "placement_history"]

YEARS = 3
HAZARDS: dict[str, float] = {"unintended_move": 0.07, "planned_return_home": 0.08,
                             "planned_move": 0.04, "other": 0.01}
"""Assumed hazards per placement-year of each end in a general home (see the module)."""
_KIND_FACTOR = {"general": 1.0, "kinship": 0.6, "specialized": 1.4, "emergency": 2.0}
_ENDED_BY: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "unintended_move": (("foster_home", "kommune", "child", "birth_parents"),
                        (0.5, 0.3, 0.15, 0.05)),
    "planned_return_home": (("kommune", "nemnda", "birth_parents"), (0.6, 0.3, 0.1)),
    "planned_move": (("kommune", "bufetat"), (0.8, 0.2)),
    "aged_out": (("kommune",), (1.0,)),
    "other": (("kommune", "foster_home"), (0.5, 0.5)),
}
_AGES = ((0, 5, 0.3), (6, 12, 0.4), (13, 17, 0.3))


def placement_history(children: pd.DataFrame, homes: pd.DataFrame, *, seed: int,
                      as_of: str | datetime.date) -> pd.DataFrame:
    """Draw three years of SYNTHETIC placement periods ending at ``as_of``.

    Parameters
    ----------
    children, homes
        The sample's tables (``child_id, municipality, age, sibling_group,
        waiting_since``; ``home_id, municipality, kind``).
    seed
        The sample's seed; the same seed and tables give the same periods.
    as_of
        The reference date: no period starts or ends after it.

    Returns
    -------
    pandas.DataFrame
        :data:`matcher.periods.COLUMNS` as text (dates ISO, empty cells ``""``),
        ordered by start, child and home.
    """
    rng = np.random.default_rng([seed, 25])
    day = np.datetime64(str(as_of)[:10], "D")
    first = day - np.timedelta64(round(YEARS * 365.25), "D")
    kinds = homes["kind"].astype(str).to_numpy()
    home_ids = homes["home_id"].astype(str).to_numpy()
    home_munis = homes["municipality"].astype(str).to_numpy()
    munis = np.unique(home_munis)
    rate = np.where(kinds == "emergency", 1.5, 0.25)
    n = int(rng.poisson(rate.sum() * YEARS))
    home = rng.choice(len(home_ids), size=n, p=rate / rate.sum())
    start = first + rng.integers(0, int((day - first).astype(int)), size=n).astype(
        "timedelta64[D]")
    band = rng.choice(len(_AGES), size=n, p=[a[2] for a in _AGES])
    age = rng.integers([_AGES[b][0] for b in band], [_AGES[b][1] + 1 for b in band])
    rows = _draw(rng, kind=kinds[home], start=start, age=age, day=day)
    far = rows.pop("_far")
    own = rng.random(n) < 0.7
    other = rng.choice(munis, size=n)
    size = rng.choice([1, 2, 3], size=n, p=[0.83, 0.12, 0.05])
    frame = pd.DataFrame({
        "child_id": [f"HIST-C{i + 1:05d}" for i in range(n)],
        "home_id": home_ids[home], "start": start.astype(str), **rows,
        "municipality": np.where(own, home_munis[home], other),
        "home_municipality": home_munis[home], "home_kind": kinds[home],
        "age_at_start": age.astype(str), "sibling_group_size": size.astype(str),
        **_minutes(rng, n, far), "actor": "synthetic"})
    return pd.concat([frame, _earlier(children, homes, rng, first)], ignore_index=True) \
        .sort_values(["start", "child_id", "home_id"], kind="stable") \
        .reset_index(drop=True)[list(COLUMNS)]


def _draw(rng: np.random.Generator, *, kind: np.ndarray, start: np.ndarray, age: np.ndarray,
          day: np.datetime64) -> dict[str, np.ndarray]:
    """End day, reason and who ended it, from the competing hazards (open past ``day``)."""
    n = len(kind)
    factor = np.array([_KIND_FACTOR.get(k, 1.0) for k in kind]) \
        * np.where(age <= 5, 0.6, np.where(age >= 13, 2.0, 1.0))
    far = rng.random(n) < 0.2  # network more than 45 minutes away
    factor = factor * np.where(far, 1.3, 1.0)
    hazards = {"unintended_move": HAZARDS["unintended_move"] * factor,
               "planned_return_home": np.where(kind == "emergency", 0.0,
                                               HAZARDS["planned_return_home"]),
               "planned_move": np.where(kind == "emergency", 3.0, HAZARDS["planned_move"]),
               "other": np.full(n, HAZARDS["other"])}
    names = list(hazards)
    years = np.column_stack([rng.exponential(1.0 / np.maximum(hazards[k], 1e-9))
                             for k in names])
    to_18 = (18 - age) - rng.random(n)  # years to the 18th birthday
    years = np.column_stack([years, to_18])
    names.append("aged_out")
    which = years.argmin(axis=1)
    days = np.maximum(1, np.round(years[np.arange(n), which] * 365.25)).astype(int)
    end = start + days.astype("timedelta64[D]")
    ended = end <= day
    reason = np.where(ended, np.array(names)[which], "")
    by = np.array([_pick(rng, r) for r in reason], dtype=object)
    return {"end": np.where(ended, end.astype(str), ""), "end_reason": reason,
            "ended_by": by, "_far": far}


def _pick(rng: np.random.Generator, reason: str) -> str:
    if not reason:
        return ""
    values, p = _ENDED_BY[reason]
    return str(values[int(rng.choice(len(values), p=p))])


def _minutes(rng: np.random.Generator, n: int, far: np.ndarray | None = None
             ) -> dict[str, np.ndarray]:
    """Minutes to school, network and parents; ``far`` puts the network beyond 45 minutes."""
    out = {}
    for column, median in (("school_minutes", 12.0), ("network_minutes", 20.0),
                           ("parent_minutes", 25.0)):
        values = rng.lognormal(np.log(median), 0.6, size=n)
        if column == "network_minutes" and far is not None:
            values = np.where(far, 45.5 + rng.exponential(15.0, size=n),
                              np.minimum(values, 44.9))
        out[column] = np.round(values, 1).astype(str)
    return out


def _earlier(children: pd.DataFrame, homes: pd.DataFrame, rng: np.random.Generator,
             first: np.datetime64) -> pd.DataFrame:
    """Earlier periods of one in five waiting children, ended when they started waiting."""
    ids = children["child_id"].astype(str).to_numpy()
    since = pd.to_datetime(children["waiting_since"], errors="coerce")
    chosen = (rng.random(len(ids)) < 0.2) & since.notna().to_numpy()
    n = int(chosen.sum())
    keep = homes["kind"].astype(str).to_numpy() != "emergency"
    pool = np.flatnonzero(keep) if keep.any() else np.arange(len(homes))
    home = pool[rng.integers(0, len(pool), size=n)]
    end = since[chosen].to_numpy().astype("datetime64[D]")
    length = rng.integers(60, 900, size=n).astype("timedelta64[D]")
    start = np.maximum(end - length, first)
    reason = np.where(rng.random(n) < 0.6, "unintended_move", "planned_move")
    age = pd.to_numeric(children["age"], errors="coerce").to_numpy()[chosen]
    years_back = ((end - start).astype(int) / 365.25)
    group = children.get("sibling_group", pd.Series([""] * len(ids))).fillna("").astype(str)
    size = group.map(group[group != ""].value_counts()).fillna(1).astype(int).to_numpy()
    return pd.DataFrame({
        "child_id": ids[chosen], "home_id": homes["home_id"].astype(str).to_numpy()[home],
        "start": start.astype(str), "end": end.astype(str), "end_reason": reason,
        "ended_by": [_pick(rng, r) for r in reason],
        "municipality": children["municipality"].astype(str).to_numpy()[chosen],
        "home_municipality": homes["municipality"].astype(str).to_numpy()[home],
        "home_kind": homes["kind"].astype(str).to_numpy()[home],
        "age_at_start": np.maximum(0, np.floor(age - years_back)).astype(int).astype(str),
        "sibling_group_size": size[chosen].astype(str),
        **_minutes(rng, n), "actor": "synthetic"})
