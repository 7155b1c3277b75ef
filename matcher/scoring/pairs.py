"""Scoring every pair chunk by chunk: filters, components, the funnel, and the shortlist."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.config import ContinuitySettings, ScoringSettings
from matcher.errors import InputError
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.rules import FILTERS, Reservations, contacts_ok, reservation_blocks, school_ok
from matcher.schema import Inputs
from matcher.scoring.context import (
    _CHUNK_PAIRS,
    COMPONENTS,
    FUNNEL_COLUMNS,
    NEUTRAL,
    _bits,
    _Context,
    decay,
    stability,
)
from matcher.scoring.diagnosis import _diagnose
from matcher.scoring.explain import _assemble_pairs
from matcher.timetable import TimeTable

__all__ = ["Scored", "log", "score_pairs", "shortlist"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Scored:
    """Scores of every feasible (or locked) pair and a per-child diagnosis.

    Attributes
    ----------
    pairs
        One row per feasible pair plus every locked pair (``locked=True``,
        ``feasible`` False when it fails a filter), sorted by ``child_id``,
        ``home_id``. Columns: :data:`PAIR_COLUMNS`.
    funnel
        One row per child, sorted by ``child_id``: ``n_homes``; ``after_<filter>``
        = homes passing that filter and all before it (:data:`FILTERS` order);
        ``n_feasible``; ``n_locked``; ``school_limit_minutes`` (NaN without
        school); ``nearest_school_minutes`` = least school time among homes
        passing every other filter; ``binding`` = ``;``-joined filters that
        alone exclude every remaining home; ``reason`` = plain-language
        diagnosis ('' when the child has a feasible home).
    """

    pairs: pd.DataFrame
    funnel: pd.DataFrame

    def explain_infeasible(self, child_id: str) -> str:
        """Return why a child has no feasible home, in plain language with numbers.

        Returns a short note instead if the child has feasible homes.

        Raises
        ------
        InputError
            If ``child_id`` is not a scored child.
        """
        row = self.funnel.loc[self.funnel["child_id"] == child_id]
        if row.empty:
            raise InputError(_("unknown child_id '{child}'; it is not in the children table")
                             .format(child=child_id))
        rec = row.iloc[0]
        k = int(rec["n_feasible"])
        if k > 0:
            return ngettext("child {child} has {n} feasible home",
                            "child {child} has {n} feasible homes", k).format(child=child_id, n=k)
        return _("child {child}: {reason}").format(child=child_id, reason=rec["reason"])

    @property
    def unmatched(self) -> list[str]:
        """Ids of children without any feasible home."""
        return self.funnel.loc[self.funnel["n_feasible"] == 0, "child_id"].tolist()


def score_pairs(
    inputs: Inputs,
    times: TimeTable,
    settings: ScoringSettings,
    *,
    trainable_needs: tuple[str, ...] | None,
    kinship_training: bool = False,
    chunk_pairs: int = _CHUNK_PAIRS,
    continuity: ContinuitySettings | None = None,
    as_of: datetime.date | None = None,
) -> Scored:
    """Apply the hard filters and score every child x home pair.

    Parameters
    ----------
    inputs
        Validated inputs (:func:`matcher.io.readers.read_inputs`).
    times
        Travel times in minutes, origins ``home_id``, destinations anchor ids.
        Missing homes or anchors count as unreachable.
    settings
        Weights, bands, decay and school limit.
    trainable_needs
        Needs that may be met by a course after move-in instead of
        competence; ``None``: the rule of :func:`matcher.rules.trainable_needs`
        (every need a course meets, except ``hard_needs``).
    kinship_training
        When True, a child's own kinship home may meet *every* need by
        training (listed in ``training_needs``): network placements come first
        and kinship homes get tailored training after placement.
    chunk_pairs
        Pairs per processing chunk (memory bound; results do not depend on it).
    continuity
        The last-move settings (``stability_horizon_age``, ``stability_weight``,
        ``emergency_weeks_norm``; default: their defaults). For a child who
        lives in an emergency home (``children.current_home_id``) the score
        gains the ``stability`` component (:func:`matcher.scoring.context.stability`)
        with weight ``stability_weight``:
        ``(sum_k W_k s_k + W_st stability) / (sum_k W_k + W_st)``. Every other
        child scores exactly as without it. The ``stability`` column appears
        only in runs with such a child (NaN for the others).
    as_of
        Run date for the weeks in the emergency home (default: today).

    Returns
    -------
    Scored
        Feasible and locked pairs with components, minutes, bands and
        explanations, plus the per-child funnel.
    """
    ctx = _Context.build(inputs, times, settings, trainable_needs, kinship_training,
                         continuity=continuity, as_of=as_of)
    n_c, n_h = len(ctx.child_ids), len(ctx.home_ids)
    step = max(1, min(n_c, chunk_pairs // max(n_h, 1)))
    parts: list[dict[str, np.ndarray]] = []
    funnels: list[dict[str, np.ndarray]] = []
    for start in range(0, n_c, step):
        part, funnel = _score_chunk(ctx, start, min(n_c, start + step))
        parts.append(part)
        funnels.append(funnel)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    pairs = _assemble_pairs(ctx, cols)
    funnel = pd.DataFrame({k: np.concatenate([f[k] for f in funnels]) for k in funnels[0]})
    funnel = funnel.astype({"child_id": "str", "binding": "str", "reason": "str"})
    reservations = Reservations.build(
        inputs.children.sort_values("child_id", kind="stable").reset_index(drop=True),
        inputs.homes.sort_values("home_id", kind="stable").reset_index(drop=True),
        settings, as_of or datetime.date.today())
    if reservations.active.any():
        pairs, funnel = _reserve(ctx, reservations, pairs, funnel)
    log.info("scored %d children x %d homes: %d feasible pairs, %d locked, %d children "
             "without a feasible home", n_c, n_h, int(pairs["feasible"].sum()),
             int(pairs["locked"].sum()), int((funnel["n_feasible"] == 0).sum()))
    return Scored(pairs=pairs, funnel=funnel[list(FUNNEL_COLUMNS)])


def _reserve(ctx: _Context, res: Reservations, pairs: pd.DataFrame, funnel: pd.DataFrame
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the reservation rule (:func:`matcher.rules.reservation_blocks`) to the scored
    pairs, and say so in the explanations and the funnel."""
    n_c, n_h = len(ctx.child_ids), len(ctx.home_ids)
    ci = pd.Index(ctx.child_ids).get_indexer(pairs["child_id"].to_numpy(dtype=object))
    hi = pd.Index(ctx.home_ids).get_indexer(pairs["home_id"].to_numpy(dtype=object))
    feasible = np.zeros((n_c, n_h), dtype=bool)
    ok = pairs["feasible"].to_numpy(dtype=bool)
    feasible[ci[ok], hi[ok]] = True
    blocked = reservation_blocks(feasible, res)
    locked = pairs["locked"].to_numpy(dtype=bool)
    drop = blocked[ci, hi] & ~locked
    note = np.full(len(pairs), "", dtype=object)
    for r in np.flatnonzero(res.active[hi] & ~drop):
        group = res.groups[hi[r]]
        note[r] = (_("reserved for {group} first: the child is one of them")
                   if res.own[ci[r], hi[r]] else
                   _("reserved for {group} first, but no child of {group} qualifies, so the "
                     "home is open to others")).format(group=group)
    text = pairs["explanation"].astype(str).to_numpy(dtype=object)
    pairs = pairs.assign(explanation=np.where(note != "", text + "; " + note, text))
    pairs = pairs.loc[~drop].reset_index(drop=True)
    lost = blocked.sum(axis=1)
    before = funnel["n_feasible"].to_numpy()
    after = np.maximum(before - lost, 0)
    emptied = (before > 0) & (after == 0)
    groups = [", ".join(sorted({res.groups[j] for j in np.flatnonzero(blocked[c])}))
              for c in range(n_c)]
    funnel = funnel.assign(
        n_feasible=after,
        binding=np.where(emptied, "reserved", funnel["binding"].to_numpy(dtype=object)),
        reason=[_("every home that qualifies is reserved first for the children of {groups}, "
                  "and a child of theirs qualifies").format(groups=groups[c]) if emptied[c]
                else r for c, r in enumerate(funnel["reason"])])
    return pairs, funnel


def shortlist(scored: Scored, k: int) -> pd.DataFrame:
    """Return the top-``k`` feasible homes per child.

    Ranked by ``score`` (descending), ties broken by ``home_id`` (ascending).

    Parameters
    ----------
    scored
        Result of :func:`score_pairs`.
    k
        Homes per child (>= 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``child_id, rank`` (1-based), then the pair columns
        (without ``feasible``); sorted by ``child_id, rank``.
    """
    if k < 1:
        raise InputError(_("shortlist size k={k} must be >= 1").format(k=k))
    feasible = scored.pairs[scored.pairs["feasible"]]
    ordered = feasible.assign(_key=-feasible["score"].round(12)).sort_values(
        ["child_id", "_key", "home_id"], kind="stable")
    top = ordered.groupby("child_id", sort=False).head(k).drop(columns=["_key", "feasible"])
    top.insert(1, "rank", top.groupby("child_id", sort=False).cumcount().to_numpy() + 1)
    return top.reset_index(drop=True)


def _weighted(ctx: _Context, ptr: np.ndarray, cols: np.ndarray, weights: np.ndarray,
              start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: weighted mean decay, weighted mean minutes, and whether contacts exist."""
    lo, hi = ptr[start], ptr[stop]
    m, n_h = stop - start, len(ctx.home_ids)
    has = (ptr[start + 1:stop + 1] - ptr[start:stop]) > 0
    if hi == lo:
        return np.zeros((m, n_h)), np.full((m, n_h), np.nan), has
    t = ctx.gather(cols[lo:hi])
    w = weights[lo:hi]
    owner = np.repeat(np.arange(m), np.diff(ptr[start:stop + 1]))
    wmat = sp.csr_array((w, (owner, np.arange(hi - lo))), shape=(m, hi - lo))
    inf = np.isinf(t)
    wsum = np.bincount(owner, weights=w, minlength=m)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_decay = (wmat @ decay(t, ctx.settings)) / wsum
        mean_min = (wmat @ np.where(inf, 0.0, t)) / wsum
    unreachable = (wmat @ inf.astype(float)) > 0
    mean_min = np.where(unreachable, np.inf, mean_min)
    return mean_decay, np.where(has[:, None], mean_min, np.nan), has


def _score_chunk(ctx: _Context, start: int, stop: int) -> tuple[dict[str, np.ndarray],
                                                                 dict[str, np.ndarray]]:
    s = ctx.settings
    sl = slice(start, stop)
    m = stop - start

    locked = ctx.pair_mask(ctx.locked, start, stop)
    masks, needs = ctx.rules.masks(sl, places=ctx.capacity, locked=locked)
    kin_match = ctx.rules.kin_match(sl)

    school_cols = ctx.school_col[sl]
    has_school = school_cols != -2
    school_min = ctx.gather(np.where(has_school, school_cols, -1))
    school_min[~has_school] = np.nan

    masks["school"] = school_ok(school_min, ctx.school_limit[sl], has_school)
    lo, hi = ctx.lim_ptr[start], ctx.lim_ptr[stop]
    owner = np.repeat(np.arange(m), np.diff(ctx.lim_ptr[start:stop + 1]))
    masks["contacts"], slack = contacts_ok(ctx.gather(ctx.lim_col[lo:hi]),
                                           ctx.lim_limit[lo:hi], owner, m)
    masks["veto"] = ~ctx.pair_mask(ctx.vetoed, start, stop)
    feasible = np.logical_and.reduce([masks[f] for f in FILTERS])

    # --- components
    school = np.where(has_school[:, None], decay(school_min, s), NEUTRAL)
    net_decay, net_min, has_net = _weighted(ctx, ctx.net_ptr, ctx.net_col, ctx.net_w,
                                            start, stop)
    network = np.where(has_net[:, None], net_decay, NEUTRAL)
    _decay, par_min, has_par = _weighted(ctx, ctx.par_ptr, ctx.par_col, ctx.par_w, start, stop)
    parents = np.where(has_par[:, None], decay(par_min, s), NEUTRAL)
    own: np.ndarray = ctx.child_muni[sl, None] == ctx.home_muni[None, :]
    pooled: np.ndarray = ~own & (ctx.child_pool[sl, None] >= 0) & (ctx.child_pool[sl, None]
                                                       == ctx.home_pool[None, :])
    municipality: np.ndarray = np.where(own, 1.0, np.where(pooled, s.pool_score, 0.0))
    kinship = kin_match.astype(float)
    lang_shared = ctx.rules.shared_languages(sl)
    has_lang = np.asarray(ctx.rules.child_lang[sl].any(axis=1), dtype=bool)
    language = np.where(has_lang[:, None], lang_shared.astype(float), NEUTRAL)
    cult_shared = (ctx.child_cult[sl].astype(float) @ ctx.home_cult.T.astype(float)) > 0.5
    has_cult = np.asarray(ctx.child_cult[sl].any(axis=1), dtype=bool)
    culture = np.where(has_cult[:, None], cult_shared.astype(float), NEUTRAL)
    comps = {"school": school, "network": network, "parents": parents,
             "municipality": municipality, "kinship": kinship, "language": language,
             "culture": culture}
    wsum = sum(ctx.weights.get(k, 0.0) for k in COMPONENTS)
    score = np.asarray(sum(ctx.weights.get(k, 0.0) * comps[k] for k in COMPONENTS) / wsum,
                       dtype=float)
    own_gap = ctx.rules.own_child_gap(sl)
    em = ctx.in_emergency[sl]
    stab = np.full(score.shape, np.nan)
    if em.any():
        w_st = ctx.continuity.stability_weight
        stab[em] = stability(ctx.age[sl][em, None], ctx.max_age[None, :],
                             needs.training[em], ctx.continuity.stability_horizon_age)
        score[em] = (score[em] * wsum + w_st * stab[em]) / (wsum + w_st)

    ci, hi = np.nonzero(feasible | locked)
    fail_code = np.zeros(len(ci), dtype=np.int64)
    for bit, f in enumerate(FILTERS):
        fail_code |= np.where(masks[f][ci, hi], 0, 1 << bit)
    part = {
        "child": ci + start, "home": hi, "score": score[ci, hi],
        **{k: comps[k][ci, hi] for k in COMPONENTS},
        "school_minutes": school_min[ci, hi], "network_minutes": net_min[ci, hi],
        "parent_minutes": par_min[ci, hi],
        "n_training": np.rint(needs.training[ci, hi]).astype(np.int64),
        "train_code": needs.training_code[ci, hi], "locked": locked[ci, hi],
        "relation": np.where(own, 1, np.where(pooled, 2, 0))[ci, hi],
        "pool_code": np.where(pooled[ci, hi], ctx.child_pool[sl][ci], -1),
        "lang_code": _bits(ctx.rules.child_lang[sl])[ci] & _bits(ctx.rules.home_lang)[hi],
        "has_lang": has_lang[ci],
        "lang_required": ctx.rules.lang_required[sl][ci],
        "cult_code": _bits(ctx.child_cult[sl])[ci] & _bits(ctx.home_cult)[hi],
        "has_cult": has_cult[ci],
        "own_gap": own_gap[ci, hi], "slack": slack[ci, hi],
        "avoided": ~masks["avoid"][ci, hi],
        "feasible": feasible[ci, hi], "fail_code": fail_code,
    }
    if ctx.in_emergency.any():
        part["stability"] = stab[ci, hi]
        part["in_emergency"] = em[ci]
        part["emergency_weeks"] = ctx.emergency_weeks[sl][ci]

    # --- funnel
    cum = np.ones((m, len(ctx.home_ids)), dtype=bool)
    funnel: dict[str, np.ndarray] = {"child_id": ctx.child_ids[sl],
                                     "n_homes": np.full(m, len(ctx.home_ids))}
    for f in FILTERS:
        cum &= masks[f]
        funnel[f"after_{f}"] = cum.sum(axis=1)
    funnel["n_feasible"] = feasible.sum(axis=1)
    funnel["n_locked"] = locked.sum(axis=1)
    others_school = np.logical_and.reduce([masks[f] for f in FILTERS if f != "school"])
    nearest = np.where(others_school, school_min, np.inf).min(axis=1, initial=np.inf)
    nearest = np.where(has_school, nearest, np.nan)
    funnel["school_limit_minutes"] = ctx.school_limit[sl]
    funnel["nearest_school_minutes"] = nearest
    binding = np.full(m, "", dtype=object)
    reason = np.full(m, "", dtype=object)
    for r in np.flatnonzero(funnel["n_feasible"] == 0):
        binding[r], reason[r] = _diagnose(ctx, start + int(r), {f: masks[f][r] for f in FILTERS},
                                          school_min[r])
    funnel["binding"] = binding
    funnel["reason"] = reason
    return part, funnel
