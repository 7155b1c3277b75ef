r"""Pair feasibility, scores with explanations, and shortlists.

A pair is a child *c* and a home *h*. Travel times come from a
:class:`~matcher.traveltime.TimeTable` whose origins are ``home_id`` and whose
destinations are anchor ids (see :func:`matcher.schema.anchors`), in minutes.

Hard filters
------------
The filters (capacity, kind, age, household, competences, language, avoid,
school, contacts, veto) are the rules of :mod:`matcher.rules`, in its funnel
order (:data:`matcher.rules.FILTERS`);
scoring counts ``capacity`` (not free places: the assignment subtracts locked
placements) and lets locked pairs pass it.

Score
-----
Each component lies in [0, 1]; with decay :math:`d` (``settings.decay``):

.. math::

   d_\text{band}(t) = 1 - i(t)/B, \quad i(t) = \min\{i : t \le b_i\}
   \text{ (0-based; } i = B \text{ past the last band)}, \qquad
   d_\text{smooth}(t) = \exp(-\ln 2 \cdot t / t_{1/2})

* ``school`` :math:`= d(t_\text{school})`; 0.5 (neutral) without a school anchor.
* ``network`` :math:`= \sum_j w_j d(t_j) / \sum_j w_j` over contacts of kind
  relative, friend or activity; 0.5 (neutral) without such contacts.
* ``parents`` :math:`= d(\sum_j w_j t_j / \sum_j w_j)` over ``parent``
  contacts (decay of the weighted mean time: the travel burden of contact
  visits); 0.5 (neutral) without parent contacts.
* ``municipality`` = 1 if the home is in the child's municipality,
  ``pool_score`` if it is in another municipality of the child's pool
  (``settings.pools``), else 0. Siblings each use their own municipality.
* ``kinship`` = 1 for the child's own kinship home, else 0.
* ``language`` = 1 if the home speaks one of the child's languages, 0 if
  none; 0.5 (neutral) when the child lists none.
* ``culture`` = 1 if the home shares one of the child's culture tags, 0 if
  none; 0.5 (neutral) when the child lists none.

.. math::

   \text{score}_{ch} = \frac{\sum_k W_k \, s_{k,ch}}{\sum_k W_k}

with :math:`W` = ``settings.weights`` (missing components weigh 0). The
``language`` (``culture``) weight counts only when some child of the run
lists a language (a culture tag), so inputs without those columns score
exactly as before. The training penalty is *not* part of the score; the
assignment applies it.
``*_minutes`` columns hold the school time and the weighted mean network and
parent times (NaN without anchors, ``inf`` when any anchor is unreachable);
``*_band`` labels place those minutes in ``settings.bands_minutes``.

The neutral 0.5 keeps a missing anchor from rewarding or punishing any home:
it is the same for all homes of the child, so it never changes the child's
ranking.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from matcher.config import ScoringSettings
from matcher.errors import InputError
from matcher.rules import FILTERS, Eligibility, contacts_ok, school_ok, tag_matrix, tags_of
from matcher.schema import Inputs
from matcher.timetable import TimeTable

log = logging.getLogger(__name__)

COMPONENTS: tuple[str, ...] = ("school", "network", "parents", "municipality", "kinship",
                               "language", "culture")
"""Score components, each in [0, 1]."""

NEUTRAL = 0.5
"""Component value when a child has no anchor of that kind."""

NETWORK_KINDS: tuple[str, ...] = ("relative", "friend", "activity")
PAIR_COLUMNS: tuple[str, ...] = (
    "child_id", "home_id", "score", *COMPONENTS, "school_minutes", "network_minutes",
    "parent_minutes", "school_band", "network_band", "parent_band", "n_training",
    "training_needs", "municipality_relation", "pool", "shared_languages", "language_required",
    "shared_culture", "own_child_gap_years", "contact_slack_minutes", "avoided_municipality",
    "locked", "feasible", "explanation",
)
"""Columns of :attr:`Scored.pairs`. Rule and wish columns: ``municipality_relation``
(``own``, ``pool``, ``other``), ``pool`` (the shared pool, '' otherwise),
``shared_languages`` / ``shared_culture`` (``;``-joined), ``language_required``,
``own_child_gap_years`` (least age gap to the home's own children, NaN without),
``contact_slack_minutes`` (least ``max_minutes - minutes`` over limited contacts,
NaN without), ``avoided_municipality``."""
RELATIONS: tuple[str, ...] = ("other", "own", "pool")
"""``municipality_relation`` values, by code."""
_MAX_TAG_BITS = 62
FUNNEL_COLUMNS: tuple[str, ...] = (
    "child_id", "n_homes", *(f"after_{f}" for f in FILTERS), "n_feasible", "n_locked",
    "school_limit_minutes", "nearest_school_minutes", "binding", "reason",
)
_CHUNK_PAIRS = 500_000


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
            raise InputError(f"unknown child_id '{child_id}'; it is not in the children table")
        rec = row.iloc[0]
        if rec["n_feasible"] > 0:
            return f"child {child_id} has {_n(int(rec['n_feasible']), 'feasible home')}"
        return f"child {child_id}: {rec['reason']}"

    @property
    def unmatched(self) -> list[str]:
        """Ids of children without any feasible home."""
        return self.funnel.loc[self.funnel["n_feasible"] == 0, "child_id"].tolist()


def decay(minutes: np.ndarray, settings: ScoringSettings) -> np.ndarray:
    """Return the travel-time decay in [0, 1] of travel times in minutes.

    ``band``: ``1 - i/len(bands)`` in band *i* (0-based, upper bound inclusive),
    0 past the last band. ``smooth``: ``exp(-ln 2 * minutes / half_life)``.
    ``inf`` (unreachable) gives 0; NaN stays NaN.
    """
    t = np.asarray(minutes, dtype=float)
    if settings.decay == "band":
        bands = np.asarray(settings.bands_minutes, dtype=float)
        out = 1.0 - np.searchsorted(bands, t, side="left") / len(bands)
        return np.where(np.isnan(t), np.nan, out)
    return np.exp(-np.log(2.0) * t / settings.half_life_minutes)


def band_labels(settings: ScoringSettings) -> list[str]:
    """Return the band labels ``['<=15', '15-30', ..., '>60']`` of the settings."""
    b = [f"{x:g}" for x in settings.bands_minutes]
    return [f"<={b[0]}"] + [f"{lo}-{hi}" for lo, hi in pairwise(b)] + [f">{b[-1]}"]


def score_pairs(
    inputs: Inputs,
    times: TimeTable,
    settings: ScoringSettings,
    *,
    trainable_needs: tuple[str, ...],
    kinship_training: bool = False,
    chunk_pairs: int = _CHUNK_PAIRS,
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
        Needs that may be met by training instead of competence.
    kinship_training
        When True, a child's own kinship home may meet *every* need by
        training (listed in ``training_needs``): network placements come first
        and kinship homes get tailored training after placement.
    chunk_pairs
        Pairs per processing chunk (memory bound; results do not depend on it).

    Returns
    -------
    Scored
        Feasible and locked pairs with components, minutes, bands and
        explanations, plus the per-child funnel.
    """
    ctx = _Context.build(inputs, times, settings, trainable_needs, kinship_training)
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
    log.info("scored %d children x %d homes: %d feasible pairs, %d locked, %d children "
             "without a feasible home", n_c, n_h, int(pairs["feasible"].sum()),
             int(pairs["locked"].sum()), int((funnel["n_feasible"] == 0).sum()))
    return Scored(pairs=pairs, funnel=funnel[list(FUNNEL_COLUMNS)])


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
        raise InputError(f"shortlist size k={k} must be >= 1")
    feasible = scored.pairs[scored.pairs["feasible"]]
    ordered = feasible.assign(_key=-feasible["score"].round(12)).sort_values(
        ["child_id", "_key", "home_id"], kind="stable")
    top = ordered.groupby("child_id", sort=False).head(k).drop(columns=["_key", "feasible"])
    top.insert(1, "rank", top.groupby("child_id", sort=False).cumcount().to_numpy() + 1)
    return top.reset_index(drop=True)


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Context:
    """Per-run arrays shared by all chunks (children and homes sorted by id)."""

    settings: ScoringSettings
    child_ids: np.ndarray
    home_ids: np.ndarray
    rules: Eligibility  # the hard rules' data, in this context's (sorted) order
    capacity: np.ndarray
    # children
    child_muni: np.ndarray
    school_col: np.ndarray  # column in times, -1 when absent from times, -2 without school
    school_limit: np.ndarray
    need_text: tuple[str, ...]  # accepted competences per need, for messages
    # homes
    home_muni: np.ndarray
    home_muni_text: np.ndarray  # 4-digit numbers, for messages
    # pools: pool position per child / home municipality, -1 outside every pool
    child_pool: np.ndarray
    home_pool: np.ndarray
    pool_names: tuple[str, ...]
    # culture tags (language data lives in the rules)
    child_cult: np.ndarray
    home_cult: np.ndarray
    cult_names: tuple[str, ...]
    weights: dict[str, float]  # the weights that count in this run
    # contacts with max_minutes: CSR-like per child
    lim_ptr: np.ndarray
    lim_col: np.ndarray
    lim_limit: np.ndarray
    lim_label: tuple[str, ...]  # "contact 2 (activity)"
    # times
    home_rows: np.ndarray  # row in times per home, -1 when absent
    minutes: np.ndarray
    # contacts: CSR-like per child, positions of columns in times
    net_ptr: np.ndarray
    net_col: np.ndarray
    net_w: np.ndarray
    par_ptr: np.ndarray
    par_col: np.ndarray
    par_w: np.ndarray
    # locked and vetoed pairs as (child position, home position), sorted by child
    locked: tuple[np.ndarray, np.ndarray]
    vetoed: tuple[np.ndarray, np.ndarray]

    # rule data used by the diagnosis messages
    age = property(lambda self: self.rules.age)
    is_kin = property(lambda self: self.rules.is_kin)
    is_em = property(lambda self: self.rules.is_em)
    min_age = property(lambda self: self.rules.min_age)
    max_age = property(lambda self: self.rules.max_age)
    hard_needs = property(lambda self: self.rules.hard_needs)
    need_names = property(lambda self: self.rules.need_names)
    need_meets = property(lambda self: self.rules.need_meets)

    @classmethod
    def build(cls, inputs: Inputs, times: TimeTable, settings: ScoringSettings,
              trainable_needs: tuple[str, ...], kinship_training: bool = False) -> _Context:
        ch = inputs.children.sort_values("child_id", kind="stable").reset_index(drop=True)
        ho = inputs.homes.sort_values("home_id", kind="stable").reset_index(drop=True)
        child_ids = ch["child_id"].to_numpy(dtype=object)
        home_ids = ho["home_id"].to_numpy(dtype=object)

        home_rows = pd.Index(times.origin_ids).get_indexer(home_ids)
        dest = pd.Index(times.destination_ids)
        if (home_rows < 0).any():
            log.warning("%d of %d homes are not in the travel-time table; treated as "
                        "unreachable", int((home_rows < 0).sum()), len(home_ids))

        has_school = ch["school_lon"].notna().to_numpy()
        school_col = dest.get_indexer(ch["child_id"] + ":school")
        school_col = np.where(has_school, school_col, -2)
        if (school_col == -1).any():
            log.warning("%d school anchors are not in the travel-time table; treated as "
                        "unreachable", int((school_col == -1).sum()))
        limit = ch["max_school_minutes"].fillna(settings.default_max_school_minutes)
        school_limit = np.where(has_school, limit.to_numpy(dtype=float), np.nan)

        rules = Eligibility.build(ch, ho, settings, trainable_needs=trainable_needs,
                                  kinship_training=kinship_training)
        n_c = len(ch)
        muni_codes, _ = pd.factorize(pd.concat([ch["municipality"], ho["municipality"]],
                                               ignore_index=True))

        def contacts_of(kinds: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            co = inputs.contacts[inputs.contacts["kind"].isin(kinds)]
            pos = pd.Index(child_ids).get_indexer(co["child_id"])
            order = np.argsort(pos, kind="stable")
            pos = pos[order]
            cols = dest.get_indexer(co["anchor_id"].to_numpy(dtype=object)[order])
            if (cols < 0).any():
                log.warning("%d contact anchors are not in the travel-time table; treated "
                            "as unreachable", int((cols < 0).sum()))
            ptr = np.searchsorted(pos, np.arange(n_c + 1), side="left")
            return ptr, cols, co["weight"].to_numpy(dtype=float)[order]

        net_ptr, net_col, net_w = contacts_of(NETWORK_KINDS)
        par_ptr, par_col, par_w = contacts_of(("parent",))
        lim = inputs.contacts[inputs.contacts["max_minutes"].notna()] \
            if "max_minutes" in inputs.contacts.columns else inputs.contacts.iloc[:0]
        lim_pos = pd.Index(child_ids).get_indexer(lim["child_id"])
        lim_order = np.argsort(lim_pos, kind="stable")
        lim_ptr = np.searchsorted(lim_pos[lim_order], np.arange(n_c + 1), side="left")
        lim_col = dest.get_indexer(lim["anchor_id"].to_numpy(dtype=object)[lim_order])
        lim_anchor = lim["anchor_id"].to_numpy(dtype=object)[lim_order]
        lim_kind = lim["kind"].to_numpy(dtype=object)[lim_order]
        lim_label = tuple(f"contact {a.rsplit(':', 1)[-1]} ({k})"
                          for a, k in zip(lim_anchor, lim_kind, strict=True))

        pool_pos = {name: i for i, name in enumerate(settings.pools)}
        muni_pool = {m: pool_pos[p] for p, codes in settings.pools.items() for m in codes}
        child_cult, home_cult, cult_names = tag_matrix(tags_of(ch, "culture"),
                                                       tags_of(ho, "culture"))
        weights = {k: v for k, v in settings.weights.items()
                   if not (k == "language" and not rules.child_lang.any())
                   and not (k == "culture" and not child_cult.any())}

        def pair_positions(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
            c = pd.Index(child_ids).get_indexer(frame["child_id"])
            h = pd.Index(home_ids).get_indexer(frame["home_id"])
            ok = (c >= 0) & (h >= 0)
            order = np.argsort(c[ok], kind="stable")
            return c[ok][order], h[ok][order]

        return cls(
            settings=settings, child_ids=child_ids, home_ids=home_ids, rules=rules,
            capacity=ho["capacity"].to_numpy(dtype=np.int64),
            child_muni=muni_codes[:n_c], school_col=school_col, school_limit=school_limit,
            need_text=tuple(_or(acc) for acc in rules.accepted),
            home_muni=muni_codes[n_c:],
            home_muni_text=ho["municipality"].to_numpy(dtype=object),
            child_pool=np.array([muni_pool.get(m, -1) for m in ch["municipality"]],
                                dtype=np.int64),
            home_pool=np.array([muni_pool.get(m, -1) for m in ho["municipality"]],
                               dtype=np.int64),
            pool_names=tuple(settings.pools), child_cult=child_cult, home_cult=home_cult,
            cult_names=cult_names, weights=weights, lim_ptr=lim_ptr, lim_col=lim_col,
            lim_limit=lim["max_minutes"].to_numpy(dtype=float)[lim_order] if len(lim)
            else np.zeros(0), lim_label=lim_label,
            home_rows=home_rows, minutes=times.minutes,
            net_ptr=net_ptr, net_col=net_col, net_w=net_w,
            par_ptr=par_ptr, par_col=par_col, par_w=par_w,
            locked=pair_positions(inputs.placements), vetoed=pair_positions(inputs.vetoes),
        )

    def gather(self, cols: np.ndarray) -> np.ndarray:
        """Minutes of shape ``(len(cols), n_homes)``; ``inf`` for absent ids."""
        out = np.full((len(cols), len(self.home_ids)), np.inf)
        ok_c, ok_h = cols >= 0, self.home_rows >= 0
        if ok_c.any() and ok_h.any():
            out[np.ix_(ok_c, ok_h)] = self.minutes[np.ix_(self.home_rows[ok_h], cols[ok_c])].T
        return out

    def pair_mask(self, pairs: tuple[np.ndarray, np.ndarray], start: int, stop: int) -> np.ndarray:
        c, h = pairs
        lo, hi = np.searchsorted(c, [start, stop])
        mask = np.zeros((stop - start, len(self.home_ids)), dtype=bool)
        mask[c[lo:hi] - start, h[lo:hi]] = True
        return mask


def _or(items: Sequence[str]) -> str:
    items = list(items)
    if not items:
        return "(no competence defined)"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _bits(members: np.ndarray) -> np.ndarray:
    """Bit code per row of a ``(rows, tags)`` membership matrix (the first 62 tags)."""
    n = min(members.shape[1], _MAX_TAG_BITS)
    weights = (np.int64(1) << np.arange(n, dtype=np.int64))
    return (members[:, :n].astype(np.int64) * weights[None, :]).sum(axis=1).astype(np.int64)


def _labels(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    """``;``-joined tag names of bit codes, as an Arrow string array."""
    uniq, inverse = np.unique(codes, return_inverse=True)
    text = [";".join(t for j, t in enumerate(names[:_MAX_TAG_BITS]) if int(u) >> j & 1)
            for u in uniq]
    return pa.DictionaryArray.from_arrays(pa.array(inverse.astype(np.int32)),
                                          pa.array(text, type=pa.string())).cast(pa.string())


def _years(value: float) -> str:
    """``'1 year'``, ``'2.5 years'``."""
    return f"{value:g} year" + ("" if value == 1 else "s")


def _n(k: int, noun: str) -> str:
    """``'1 home'``, ``'3 homes'``."""
    return f"{k} {noun}" if k == 1 else f"{k} {noun}s"


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
    _, par_min, has_par = _weighted(ctx, ctx.par_ptr, ctx.par_col, ctx.par_w, start, stop)
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


# --------------------------------------------------------------------------- diagnosis


def _diagnose(ctx: _Context, c: int, masks: dict[str, np.ndarray],
              school_min: np.ndarray) -> tuple[str, str]:
    """Return ``(binding filters, reason)`` for a child without feasible homes.

    A filter is *binding* when relaxing it alone would give the child a home.
    Without a binding filter, the reason walks the funnel to the first filter
    that leaves no home.
    """
    loo = {f: np.logical_and.reduce([masks[g] for g in FILTERS if g != f]) for f in FILTERS}
    binding = [f for f in FILTERS if loo[f].any()]
    has_school = not np.isnan(ctx.school_limit[c])
    if binding:
        where = ("", f" within {ctx.school_limit[c]:g} min of school") if has_school \
            else ("otherwise suitable ", "")
        order = sorted(binding, key=lambda f: (f not in ("school", "contacts"),
                                               FILTERS.index(f)))
        msgs = [_why(ctx, c, f, loo[f], school_min, binding=binding, where=where,
                     adjective=None) for f in order]
        return ";".join(binding), "; ".join(msgs)
    steps = {
        "capacity": "with free capacity",
        "kind": "open to this child by kind",
        "age": f"approved for age {ctx.age[c]}",
        "household": "with no own child too close in age",
        "competences": "with the needed competence",
        "language": "speaking a required language",
        "avoid": "outside the municipalities the child avoids",
        "school": (f"within {ctx.school_limit[c]:g} min of school" if has_school
                   else "(no school anchor)"),
        "contacts": "within the child's contact limits",
        "veto": "not vetoed",
    }
    cum = np.ones(len(ctx.home_ids), dtype=bool)
    chain = []
    for f in FILTERS:  # after the loop, f is the filter that emptied the funnel
        before, cum = cum, cum & masks[f]
        chain.append(f"{int(cum.sum())} {steps[f]}")
        if not cum.any():
            break
    text = (f"no single filter explains it; of {_n(len(ctx.home_ids), 'home')}: "
            f"{', '.join(chain)}")
    if before.any():
        done = FILTERS[:FILTERS.index(f)]
        where = ("", " left after the " + "/".join(done) + " filters") if done \
            else ("", " in total")
        text += "; " + _why(ctx, c, f, before, school_min, binding=[f], where=where,
                            adjective="remaining")
    return "", text


def _all(n: int, noun: str, verb: str) -> str:
    """``'the only X is'``, ``'both Xs are'``, ``'all 3 Xs are'``."""
    if n == 1:
        return f"the only {noun} {verb}"
    plural = {"is": "are", "is not": "are not", "has": "have"}.get(verb, verb)
    return f"{'both' if n == 2 else f'all {n}'} {noun}s {plural}"


def _why(ctx: _Context, c: int, f: str, cand: np.ndarray, school_min: np.ndarray, *,
         binding: Sequence[str], where: tuple[str, str], adjective: str | None) -> str:
    """Explain why the candidate homes ``cand`` (which pass the other filters) fail ``f``.

    ``where`` = (prefix, suffix) around "home(s)" describing the candidates in the
    age and competence messages;
    ``adjective`` (e.g. ``"remaining"``) replaces the default wording of the others.
    """
    n = int(cand.sum())
    pre, post = where
    if f == "capacity":
        return _all(n, f"{adjective or 'otherwise suitable'} home", "is") + " full (capacity 0)"
    if f == "kind":
        n_kin = int((cand & ctx.is_kin).sum())
        n_em = int((cand & ctx.is_em).sum())
        parts = []
        if n_kin:
            parts.append(f"{_n(n_kin, 'kinship home')} for other children")
        if n_em:
            parts.append(f"{_n(n_em, 'emergency home')} (acute placements only; this child "
                         "is planned)")
        return (_all(n, f"{adjective or 'otherwise suitable'} home", "is")
                + f" reserved: {', '.join(parts)}")
    if f == "age":
        ranges = pd.Series([f"{lo}-{hi}" for lo, hi in
                            zip(ctx.min_age[cand], ctx.max_age[cand], strict=True)])
        counts = ranges.value_counts(sort=True)
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        if len(counts) == 1:
            text = counts.index[0]
        else:
            shown = [f"{r} ({_n(int(k), 'home')})" for r, k in counts.iloc[:5].items()]
            text = ", ".join(shown) + (f" and {len(counts) - 5} more" if len(counts) > 5 else "")
        verb = "its age range is" if n == 1 else "their age ranges are"
        homes = "home" if n == 1 else "homes"
        return (f"no home approved for age {ctx.age[c]} ({n} {pre}{homes}{post}, but {verb} "
                f"{text})")
    if f == "competences":
        needs = np.flatnonzero(ctx.hard_needs[c])
        detail = "; ".join(
            f"'{ctx.need_names[j]}' needs {ctx.need_text[j]}, found in "
            f"{int((cand & ctx.need_meets[j]).sum())} of {n}" for j in needs)
        head = (f"the only {pre}home{post} lacks a needed competence" if n == 1
                else f"none of the {n} {pre}homes{post} has every needed competence")
        return f"{head} ({detail})"
    if f == "household":
        gap = ctx.rules.own_child_gap(slice(c, c + 1))[0]
        closest = float(np.min(gap[cand], initial=np.inf))
        return (_all(n, f"{adjective or 'otherwise suitable'} home", "has")
                + f" an own child closer in age than {_years(ctx.rules.min_age_gap)} to this "
                f"child (age {ctx.age[c]}; closest: {_years(closest)} apart; rule "
                "min_age_gap_own_children)")
    if f == "language":
        langs = [ctx.rules.lang_names[j] for j in np.flatnonzero(ctx.rules.child_lang[c])]
        return (f"no {adjective + ' ' if adjective else ''}home speaks "
                f"{' or '.join(langs)} (language required; {n} {pre}"
                f"{'home' if n == 1 else 'homes'}{post} checked)")
    if f == "avoid":
        munis = sorted(set(ctx.home_muni_text[cand]))
        return (_all(n, f"{adjective or 'otherwise suitable'} home", "is")
                + f" in a municipality the child does not want to live in "
                f"({', '.join(munis)})")
    if f == "contacts":
        lo, hi = ctx.lim_ptr[c], ctx.lim_ptr[c + 1]
        t = ctx.gather(ctx.lim_col[lo:hi])
        msgs = []
        for j in range(hi - lo):
            limit = ctx.lim_limit[lo + j]
            within = cand & (t[j] <= limit)
            if within.any():
                continue
            nearest = float(np.min(t[j][cand], initial=np.inf))
            such = f"{adjective or 'otherwise suitable'} home"
            near = (f"nearest {such}: {nearest:.1f} min" if np.isfinite(nearest)
                    else _all(n, such, "is not") + " reachable by road within the "
                    "travel-time limit")
            msgs.append(f"no {adjective + ' ' if adjective else ''}home within {limit:g} min "
                        f"of {ctx.lim_label[lo + j]} ({near})")
        if msgs:
            return "; ".join(msgs)
        each = ", ".join(f"{ctx.lim_label[lo + j]} within {ctx.lim_limit[lo + j]:g} min "
                         f"({_n(int((cand & (t[j] <= ctx.lim_limit[lo + j])).sum()), 'home')})"
                         for j in range(hi - lo))
        return (f"no {adjective or 'otherwise suitable'} home is within every contact limit "
                f"at once ({each})")
    if f == "school":
        quals = []
        if "competences" in binding and ctx.hard_needs[c].any():
            needs = np.flatnonzero(ctx.hard_needs[c])
            quals.append("with competence " + " and ".join(ctx.need_text[j] for j in needs))
        if "age" in binding:
            quals.append(f"approved for age {ctx.age[c]}")
        what = ("home " + " ".join(quals) if quals and adjective is None
                else f"{adjective or 'suitable'} home")
        nearest = float(np.min(school_min[cand], initial=np.inf))
        near = (f"nearest such home: {nearest:.1f} min" if np.isfinite(nearest)
                else _all(n, "such home", "is not")
                + " reachable by road within the travel-time limit")
        return f"no {what} within {ctx.school_limit[c]:g} min of school ({near})"
    return _all(n, f"{adjective or 'qualifying'} home", "is") + " vetoed"


# --------------------------------------------------------------------------- assembly


def _assemble_pairs(ctx: _Context, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    s = ctx.settings
    labels = band_labels(s)
    bands = np.asarray(s.bands_minutes, dtype=float)

    def band(minutes: np.ndarray) -> pa.Array:
        idx = np.searchsorted(bands, minutes, side="left")
        idx = np.where(np.isnan(minutes), len(labels), idx).astype(np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(idx), pa.array([*labels, "none"])) \
            .cast(pa.string())

    n = len(cols["child"])
    train_labels = {code: ";".join(ctx.need_names[j] for j in range(len(ctx.need_names))
                                   if code >> j & 1)
                    for code in np.unique(cols["train_code"])}
    codes, inverse = np.unique(cols["train_code"], return_inverse=True)
    training = pa.DictionaryArray.from_arrays(
        pa.array(inverse.astype(np.int32)),
        pa.array([train_labels[int(x)] for x in codes], type=pa.string())).cast(pa.string())
    band_cols = {"school_band": band(cols["school_minutes"]),
                 "network_band": band(cols["network_minutes"]),
                 "parent_band": band(cols["parent_minutes"])}
    relation = pa.DictionaryArray.from_arrays(
        pa.array(cols["relation"].astype(np.int32)), pa.array(list(RELATIONS))).cast(pa.string())
    pool = pa.DictionaryArray.from_arrays(
        pa.array((cols["pool_code"] + 1).astype(np.int32)),
        pa.array(["", *ctx.pool_names], type=pa.string())).cast(pa.string())
    shared_lang = _labels(cols["lang_code"], ctx.rules.lang_names)
    shared_cult = _labels(cols["cult_code"], ctx.cult_names)
    gap = np.where(np.isinf(cols["own_gap"]), np.nan, cols["own_gap"])
    slack = np.where(np.isposinf(cols["slack"]), np.nan, cols["slack"])
    text = {"relation": relation, "pool": pool, "languages": shared_lang,
            "culture": shared_cult}
    listed = {"language": bool(ctx.rules.child_lang.any()), "culture": bool(ctx.child_cult.any())}
    explanation = (_explain(cols, band_cols, training, text, s.min_age_gap_own_children, listed)
                   if n else pa.array([], pa.string()))

    frame = pd.DataFrame({
        "child_id": pd.Series(ctx.child_ids[cols["child"]], dtype="str"),
        "home_id": pd.Series(ctx.home_ids[cols["home"]], dtype="str"),
        "score": cols["score"],
        **{k: cols[k] for k in COMPONENTS},
        "school_minutes": cols["school_minutes"],
        "network_minutes": cols["network_minutes"],
        "parent_minutes": cols["parent_minutes"],
        **{k: v.to_pandas() for k, v in band_cols.items()},
        "n_training": cols["n_training"],
        "training_needs": training.to_pandas(),
        "municipality_relation": relation.to_pandas(),
        "pool": pool.to_pandas(),
        "shared_languages": shared_lang.to_pandas(),
        "language_required": cols["lang_required"].astype(bool),
        "shared_culture": shared_cult.to_pandas(),
        "own_child_gap_years": gap.astype(float),
        "contact_slack_minutes": slack.astype(float),
        "avoided_municipality": cols["avoided"].astype(bool),
        "locked": cols["locked"],
        "feasible": cols["feasible"],
        "explanation": explanation.to_pandas(),
    })
    return frame[list(PAIR_COLUMNS)]


def _fixed(values: np.ndarray, decimals: int) -> pa.Array:
    """Format finite non-negative numbers with a fixed number of decimals."""
    scale = 10**decimals
    r = np.rint(np.where(np.isfinite(values), values, 0.0) * scale).astype(np.int64)
    whole = pc.cast(pa.array(r // scale), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(r % scale), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(whole, ".", frac, "")


def _minutes_text(minutes: np.ndarray, band: pa.Array, prefix: str) -> pa.Array:
    """``'<prefix>12.3 min (<=15)'``, ``'unreachable (>60)'`` or ``'none'``."""
    finite = pc.binary_join_element_wise(prefix, _fixed(minutes, 1), " min (", band, ")", "")
    text = pc.if_else(pa.array(np.isinf(minutes)),
                      pc.binary_join_element_wise("unreachable (", band, ")", ""), finite)
    return pc.if_else(pa.array(np.isnan(minutes)), pa.scalar("none"), text)


def _explain(cols: dict[str, np.ndarray], bands: dict[str, pa.Array], training: pa.Array,
             text: dict[str, pa.Array], min_gap_years: float,
             listed: dict[str, bool]) -> pa.Array:
    """Build one explanation string per pair, vectorised with Arrow compute.

    ``text`` holds the per-pair ``relation``, ``pool``, shared ``languages``
    and shared ``culture`` labels; ``listed`` says whether any child of the
    run lists a language / culture tag (else that part is left out).
    """
    minutes_of = {"school": "school_minutes", "network": "network_minutes",
                  "parents": "parent_minutes"}
    neutral = {k: pa.array(np.isnan(cols[v])) for k, v in minutes_of.items()}

    def comp(name: str) -> pa.Array:
        value = _fixed(cols[name], 2)
        if name in neutral:
            value = pc.if_else(neutral[name], pc.binary_join_element_wise(
                value, " (neutral)", ""), value)
        return value

    same = pc.if_else(pa.array(cols["relation"] == 1), pa.scalar("same"), pc.if_else(
        pa.array(cols["relation"] == 2),
        pc.binary_join_element_wise("cooperation ", text["pool"], ""), pa.scalar("other")))

    def shared(name: str, label: str) -> pa.Array:
        """``'; language shared (nb) -> 1.00'``, ``none shared``, ``none listed (neutral)``."""
        key = name[:4]
        if not listed[label]:
            return pa.scalar("")
        some = pc.binary_join_element_wise(f"; {label} shared (", text[name], ") -> ", "")
        value = pc.if_else(pa.array(cols[label] > 0.75), some,
                           pa.scalar(f"; {label} none shared -> "))
        value = pc.binary_join_element_wise(value, comp(label), "")
        return pc.if_else(pa.array(cols[f"has_{key}"]), value,
                          pa.scalar(f"; {label} none listed -> 0.50 (neutral)"))

    required = pc.if_else(pa.array(cols["lang_required"]), pa.scalar(" (required)"),
                          pa.scalar(""))
    gap = cols["own_gap"]
    whole_years = np.rint(np.where(np.isfinite(gap), gap, 0.0)).astype(np.int64)
    gap_text = pc.binary_join_element_wise("; household: own children at least ",
                                           pc.cast(pa.array(whole_years), pa.string()),
                                           " years apart in age", "")
    if min_gap_years > 0:
        rule_text = pc.if_else(pa.array(gap >= min_gap_years),
                               pa.scalar(f" (rule >= {min_gap_years:g} years met)"),
                               pa.scalar(f" (rule >= {min_gap_years:g} years not met)"))
    else:
        rule_text = pa.scalar(" (no age-gap rule)")
    household = pc.if_else(pa.array(np.isinf(gap)), pa.scalar(""),
                           pc.binary_join_element_wise(gap_text, rule_text, ""))
    slack = cols["slack"]
    contacts = pc.if_else(
        pa.array(np.isposinf(slack)), pa.scalar(""),
        pc.if_else(pa.array(slack >= 0),
                   pc.binary_join_element_wise("; contact limits met (", _fixed(slack, 1),
                                               " min to spare)", ""),
                   pa.scalar("; contact limit exceeded")))
    avoided = pc.if_else(pa.array(cols["avoided"]),
                         pa.scalar("; in a municipality the child avoids"), pa.scalar(""))
    kin = pc.if_else(pa.array(cols["kinship"] > 0.5), pa.scalar("own kinship home"),
                     pa.scalar("no"))
    fail_labels = ["" if code == 0 else "; fails: " + ", ".join(
        f for bit, f in enumerate(FILTERS) if code >> bit & 1) for code in range(1 << len(FILTERS))]
    fails = pa.DictionaryArray.from_arrays(pa.array(cols["fail_code"].astype(np.int32)),
                                           pa.array(fail_labels)).cast(pa.string())
    has_training = pa.array(cols["n_training"] > 0)
    train_text = pc.if_else(has_training, pc.binary_join_element_wise(
        "; training needed: ", training, ""), pa.scalar(""))
    lock_text = pc.if_else(pa.array(cols["locked"]), pa.scalar("; locked placement"),
                           pa.scalar(""))
    return pc.binary_join_element_wise(
        "school ", _minutes_text(cols["school_minutes"], bands["school_band"], ""),
        " -> ", comp("school"),
        "; network ", _minutes_text(cols["network_minutes"], bands["network_band"], "mean "),
        " -> ", comp("network"),
        "; parents ", _minutes_text(cols["parent_minutes"], bands["parent_band"], "mean "),
        " -> ", comp("parents"),
        "; municipality ", same, " -> ", comp("municipality"),
        "; kinship ", kin, " -> ", comp("kinship"),
        shared("languages", "language"), required, shared("culture", "culture"),
        household, contacts, avoided,
        "; score ", _fixed(cols["score"], 2), train_text, lock_text, fails, "")
