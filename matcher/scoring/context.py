"""Per-run arrays shared by every chunk of pairs, the score constants, decay and labels."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa

from matcher import i18n, vocabulary
from matcher.config import ContinuitySettings, ScoringSettings
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.rules import (
    FILTERS,
    Eligibility,
    current_home_vetoes,
    emergency_children,
    tag_matrix,
    tags_of,
)
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = [
    "COMPONENTS",
    "FUNNEL_COLUMNS",
    "NETWORK_KINDS",
    "NEUTRAL",
    "PAIR_COLUMNS",
    "RELATIONS",
    "STABILITY",
    "band_labels",
    "decay",
    "emergency_weeks",
    "stability",
]

log = logging.getLogger(__name__)

COMPONENTS: tuple[str, ...] = ("school", "network", "parents", "municipality", "kinship",
                               "language", "culture")
"""Score components, each in [0, 1]."""

NEUTRAL = 0.5
"""Component value when a child has no anchor of that kind."""

NETWORK_KINDS: tuple[str, ...] = ("relative", "friend", "activity")
"""Contact kinds that make up the child's network (parents are scored apart)."""
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


STABILITY = "stability"
"""The last-move component: only for children who live in an emergency home now."""


def emergency_weeks(children: pd.DataFrame, as_of: datetime.date) -> np.ndarray:
    """Weeks from ``placed_since`` to ``as_of`` per child (NaN without a date; >= 0)."""
    if "placed_since" not in children.columns:
        return np.full(len(children), np.nan)
    since = pd.to_datetime(children["placed_since"])
    days = (pd.Timestamp(as_of) - since).dt.days.to_numpy(dtype=float)
    return np.maximum(days, 0.0) / 7.0


def stability(age: np.ndarray, max_age: np.ndarray, n_training: np.ndarray,
              horizon_age: int) -> np.ndarray:
    r"""Return the last-move component in [0, 1] for children in an emergency home.

    .. math::

       \text{stability}_{ch} = \tfrac12 \,\text{cover}_{ch}
       + \tfrac12 \,[n^\text{train}_{ch} = 0], \qquad
       \text{cover}_{ch} = \operatorname{clip}\Bigl(
       \frac{\min(a^\max_h, A) - a_c}{A - a_c}, 0, 1\Bigr)

    with :math:`a_c` the child's age, :math:`a^\max_h` the home's ``max_age``
    and :math:`A` = ``stability_horizon_age`` (years); cover is 1 for a child
    aged :math:`A` or older. The second half is 1 when the home already has
    every needed competence (no need met by training).

    Parameters
    ----------
    age, max_age, n_training
        Broadcastable arrays: child age (years), home ``max_age`` (years) and
        needs met by training per pair.
    horizon_age
        ``continuity.stability_horizon_age`` (years).
    """
    age = np.asarray(age, dtype=float)
    span = horizon_age - age
    with np.errstate(invalid="ignore", divide="ignore"):
        cover = np.clip((np.minimum(np.asarray(max_age, dtype=float), horizon_age) - age)
                        / np.where(span > 0, span, 1.0), 0.0, 1.0)
    cover = np.where(span > 0, cover, 1.0)
    return 0.5 * cover + 0.5 * (np.asarray(n_training) < 0.5)


def band_labels(settings: ScoringSettings) -> list[str]:
    """Return the band labels ``['<=15', '15-30', ..., '>60']`` of the settings."""
    b = [f"{x:g}" for x in settings.bands_minutes]
    return [f"<={b[0]}"] + [f"{lo}-{hi}" for lo, hi in pairwise(b)] + [f">{b[-1]}"]


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
    lim_label: tuple[str, ...]  # "activity 2" or the contact's label
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
    vetoed: tuple[np.ndarray, np.ndarray]  # caseworkers' vetoes and current homes not keeping
    # the last move: children who live in an emergency home now
    in_emergency: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, dtype=bool))
    emergency_weeks: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0))
    continuity: ContinuitySettings = dataclass_field(default_factory=ContinuitySettings)
    # per child: position of the home it lives in now when that home does not keep it, or -1
    not_kept: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, dtype=np.int64))

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
              trainable_needs: tuple[str, ...] | None, kinship_training: bool = False,
              continuity: ContinuitySettings | None = None,
              as_of: datetime.date | None = None) -> _Context:
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
        muni_codes, _uniques = pd.factorize(pd.concat([ch["municipality"], ho["municipality"]],
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
        contact_names = vocabulary.contacts(inputs.contacts)
        lim_label = tuple(contact_names.get(str(a), str(a)) for a in lim_anchor)

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

        current = current_home_vetoes(ch, ho)
        not_kept = np.full(len(child_ids), -1, dtype=np.int64)
        ci = pd.Index(child_ids).get_indexer(current["child_id"])
        not_kept[ci[ci >= 0]] = pd.Index(home_ids).get_indexer(current["home_id"])[ci >= 0]
        return cls(
            settings=settings, child_ids=child_ids, home_ids=home_ids, rules=rules,
            capacity=ho["capacity"].to_numpy(dtype=np.int64),
            child_muni=muni_codes[:n_c], school_col=school_col, school_limit=school_limit,
            need_text=tuple(_or(vocabulary.names("competence", acc))
                            for acc in rules.accepted),
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
            locked=pair_positions(inputs.placements),
            vetoed=pair_positions(pd.concat([inputs.vetoes[["child_id", "home_id"]],
                                             current], ignore_index=True)),
            in_emergency=emergency_children(ch, ho),
            emergency_weeks=emergency_weeks(ch, as_of or datetime.date.today()),
            continuity=continuity or ContinuitySettings(),
            not_kept=not_kept,
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
    """Competences that meet a need: ``'TBO-F'``, ``'a, b or c'``."""
    items = list(items)
    if not items:
        return _("(no competence defined)")
    return _or_list(items)


def _or_list(items: Sequence[str]) -> str:
    """``'a'``, ``'a or b'``, ``'a, b or c'`` in the current language."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return _("{items} or {last}").format(items=", ".join(items[:-1]), last=items[-1])


def _and(items: Sequence[str]) -> str:
    """``'a'``, ``'a and b'``, ``'a, b and c'`` in the current language."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


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
    """``'1 year'``, ``'2.5 years'`` in the current language."""
    whole = float(value) == int(value)
    return ngettext("{n} year", "{n} years", 1 if value == 1 else 2).format(
        n=i18n.format_number(value, 0 if whole else 1))
