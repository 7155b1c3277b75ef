"""Eligibility: which child may be placed in which home. The one home of the hard rules.

Matching (:mod:`matcher.scoring`, and through it the assignment and its
diagnosis) and planning (:mod:`matcher.planning`) both ask this module, so
they cannot disagree about a pair.

Filters, in the "funnel" order used in diagnoses (:data:`FILTERS`):

1. ``capacity``: the home has a free place (``places > 0``), or the pair is
   a locked placement. Matching counts ``capacity``; planning counts free
   places (capacity minus locked placements).
2. ``kind``: a kinship home only for its own child or sibling group
   (``kin_of`` equals ``child_id`` or the child's ``sibling_group``); an
   emergency home only for ``acute`` children. General and specialized homes
   have no kind rule.
3. ``age``: ``min_age <= age <= max_age`` (years).
4. ``household``: with ``min_age_gap_own_children`` = *g* > 0 years, no own
   child of the home (``own_children_ages``) is closer in age to the child
   than *g*: ``|own - age| >= g`` for every own child. Off when *g* = 0.
5. ``competences``: every need is met by a tag of the home in
   :func:`accepted_competences` (a target group the home is prepared for, or
   a course it has taken), or the need is *trainable*
   (:func:`trainable_needs`: a course meets it and it is not one of
   ``scoring.hard_needs``) and is met by that course after move-in: the pair
   stays eligible and the need is counted (the assignment's training
   penalty), and the course to offer is :meth:`ScoringSettings.course_for`.
   With ``kinship_training`` a child's own kinship home may meet every need
   by training. Planning asks the same rule (without ``kinship_training``)
   and counts the course places it needs.
6. ``language``: a child with ``language_required`` shares at least one of
   its ``languages`` (ISO 639-1) with the home.
7. ``avoid``: the home is not in one of the child's ``avoid_municipalities``.
8. ``school``: school travel ``<= max_school_minutes`` (the child's own, else
   the default limit); unreachable (``inf``) fails; a child without a school
   anchor passes (:func:`school_ok`).
9. ``contacts``: for every contact with ``max_minutes``, home -> contact
   travel ``<= max_minutes``; unreachable (``inf``) fails; a child without
   such contacts passes (:func:`contacts_ok`).
10. ``veto``: the pair is not vetoed by a caseworker, and the home is not the
    child's current home (``current_home_id``) unless that home keeps the
    child (``current_home_keeps``, a kinship or general home only: see
    :func:`current_home_vetoes`). A child is never "proposed" the home it
    already lives in unless the home has said it will keep the child.

Planning asks the rules that need no travel time (all but ``school`` and
``contacts``).

After the filters, one rule looks across children (:func:`reservation_blocks`):
a home ``reserved_for`` municipalities or a pool of ``scoring.pools`` (until
``reserved_until``, inclusive) is feasible for a child outside that group only
when no child of the group is feasible for it (every filter above passed).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher.config import ScoringSettings

__all__ = ["FILTERS", "KEEPING_KINDS", "Eligibility", "NeedCounts", "Reservations",
           "accepted_competences", "contacts_ok", "courses_for", "current_home_vetoes",
           "emergency_children", "recruiters", "reservation_blocks", "school_ok", "tag_matrix",
           "tags_of", "trainable_needs"]

FILTERS: tuple[str, ...] = ("capacity", "kind", "age", "household", "competences", "language",
                            "avoid", "school", "contacts", "veto")
"""The hard filters, in funnel order."""


KEEPING_KINDS: tuple[str, ...] = ("kinship", "general")
"""Kinds of home that may keep the child who lives there (``current_home_keeps``)."""


def current_home_vetoes(children: pd.DataFrame, homes: pd.DataFrame) -> pd.DataFrame:
    """Return the pairs (child, current home) that may not be proposed.

    A child's current home (``children.current_home_id``) is proposed again
    only when ``current_home_keeps`` is true and the home is a kinship or
    general home (:data:`KEEPING_KINDS`): the home is willing to keep the
    child. Every other current home is excluded like a veto.

    Returns
    -------
    pandas.DataFrame
        ``child_id, home_id`` (str), empty without ``current_home_id``.
    """
    if "current_home_id" not in children.columns:
        return pd.DataFrame({"child_id": pd.Series([], dtype="str"),
                             "home_id": pd.Series([], dtype="str")})
    kind = homes.set_index("home_id")["kind"]
    home = children["current_home_id"]
    lives = home.notna() & (home.astype(str) != "")
    keeps = (children["current_home_keeps"].fillna(False).astype(bool)
             if "current_home_keeps" in children.columns
             else pd.Series(False, index=children.index))
    keeps &= home.map(kind).isin(KEEPING_KINDS)
    out = children.loc[lives & ~keeps, ["child_id", "current_home_id"]]
    return out.rename(columns={"current_home_id": "home_id"}).astype("str") \
        .reset_index(drop=True)


def emergency_children(children: pd.DataFrame, homes: pd.DataFrame) -> np.ndarray:
    """Per child (row order of ``children``): True when it lives in an emergency home now."""
    if "current_home_id" not in children.columns:
        return np.zeros(len(children), dtype=bool)
    kind = homes.set_index("home_id")["kind"]
    return (children["current_home_id"].map(kind) == "emergency").to_numpy(dtype=bool)


def tags_of(frame: pd.DataFrame, column: str) -> list[tuple[str, ...]]:
    """Tag tuples of a column; ``()`` when the column is absent or a cell is empty."""
    if column not in frame.columns:
        return [()] * len(frame)
    return [tuple(v) if isinstance(v, tuple | list) else () for v in frame[column]]


def tag_matrix(child_tags: Sequence[tuple[str, ...]], home_tags: Sequence[tuple[str, ...]]
               ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Return ``(child x tag, home x tag)`` membership matrices over the children's tags.

    Only tags some child lists are columns (the names, sorted, are the third
    item): a home tag no child lists can never be shared.
    """
    names = tuple(sorted({t for tags in child_tags for t in tags}))
    index = {t: j for j, t in enumerate(names)}
    child = np.zeros((len(child_tags), len(names)), dtype=bool)
    home = np.zeros((len(home_tags), len(names)), dtype=bool)
    for i, tags in enumerate(child_tags):
        child[i, [index[t] for t in tags]] = True
    for i, tags in enumerate(home_tags):
        home[i, [index[t] for t in tags if t in index]] = True
    return child, home, names


def contacts_ok(contact_minutes: np.ndarray, limit_minutes: np.ndarray, owner: np.ndarray,
                n_children: int) -> tuple[np.ndarray, np.ndarray]:
    """The contacts filter: every limited contact within its limit (minutes).

    Parameters
    ----------
    contact_minutes
        ``(k, n_homes)`` home -> contact minutes of the ``k`` contacts that have
        a ``max_minutes``; ``inf`` (unreachable) and NaN fail.
    limit_minutes
        ``(k,)`` each contact's ``max_minutes``.
    owner
        ``(k,)`` position (``0..n_children-1``) of each contact's child, ascending.
    n_children
        Children in the block.

    Returns
    -------
    tuple
        ``(n_children, n_homes)`` pass mask, and the slack in minutes (least
        ``max_minutes - minutes`` over the child's limited contacts; ``inf``
        for a child without them, ``-inf`` when a contact is unreachable).
    """
    n_h = contact_minutes.shape[1]
    slack = np.full((n_children, n_h), np.inf)
    if len(owner):
        diff = limit_minutes[:, None] - np.where(np.isnan(contact_minutes), np.inf,
                                                 contact_minutes)
        np.minimum.at(slack, owner, diff)
    return slack >= 0, slack


def accepted_competences(need: str, settings: ScoringSettings) -> tuple[str, ...]:
    """Return the tags of a home that meet ``need`` (any one suffices).

    ``need_competences[need]``, plus the need itself when it is a known tag
    (not the ``baseline``, which meets no need).
    """
    accepted = list(settings.need_competences.get(need, ()))
    if (need in settings.competences and need not in settings.baseline
            and need not in accepted):
        accepted.append(need)
    return tuple(accepted)


def trainable_needs(settings: ScoringSettings, needs: Sequence[str] | None = None
                    ) -> tuple[str, ...]:
    """Return the needs a course can meet after move-in: not in ``hard_needs``, and some
    tag in :func:`accepted_competences` is one of ``courses``.

    ``needs`` are the needs to classify (default: the keys of ``need_competences``).
    """
    names = settings.need_competences if needs is None else needs
    return tuple(n for n in names if settings.course_for(n) is not None)


_trainable_by_rule = trainable_needs  # for Eligibility.build, whose argument shadows the name


def courses_for(needs: Sequence[str], settings: ScoringSettings) -> tuple[str, ...]:
    """The courses to offer a home for needs met by training (first course of each need,
    in ``courses`` order, without repeats). A need without a course is left out."""
    wanted = {c for n in needs if (c := settings.course_for(n)) is not None}
    return tuple(c for c in settings.courses if c in wanted)


def recruiters(homes: pd.DataFrame) -> np.ndarray:
    """Per home: who recruited it, ``bufetat`` (default, and for an empty cell) or a
    4-digit kommunenummer."""
    if "recruited_by" not in homes.columns:
        return np.full(len(homes), "bufetat", dtype=object)
    by = homes["recruited_by"].fillna("").astype(str).to_numpy(dtype=object)
    return np.where(by == "", "bufetat", by).astype(object)


@dataclass(frozen=True)
class Reservations:
    """Homes reserved first for the children of some municipalities or a pool.

    Attributes
    ----------
    active
        ``(n_homes,)``: the home has a ``reserved_for`` and ``reserved_until``
        is empty or not before the run date.
    own
        ``(n_children, n_homes)``: the child belongs to the home's group (its
        municipality is listed, or lies in a listed pool); True for every child
        of a home without an active reservation.
    groups
        Per home: the group as written (``4626, 4631`` or ``pool oygarden_alver``),
        ``""`` without an active reservation.
    """

    active: np.ndarray
    own: np.ndarray
    groups: tuple[str, ...]

    @classmethod
    def build(cls, children: pd.DataFrame, homes: pd.DataFrame, settings: ScoringSettings,
              as_of: datetime.date) -> Reservations:
        """Read ``reserved_for``/``reserved_until`` of validated homes (children in order)."""
        lists = tags_of(homes, "reserved_for")
        until = (pd.to_datetime(homes["reserved_until"]) if "reserved_until" in homes.columns
                 else pd.Series(pd.NaT, index=homes.index))
        active = np.array([bool(v) for v in lists], dtype=bool) & (
            until.isna() | (until >= pd.Timestamp(as_of))).to_numpy(dtype=bool)
        munis = children["municipality"].astype(str).to_numpy(dtype=object) \
            if "municipality" in children.columns else np.full(len(children), "", dtype=object)
        pools = np.array([settings.pool_of(m) or "" for m in munis], dtype=object)
        own = np.ones((len(children), len(homes)), dtype=bool)
        for j in np.flatnonzero(active):
            listed = set(lists[j])
            own[:, j] = np.isin(munis, list(listed)) | np.isin(pools, list(listed))
        groups = tuple(", ".join(v) if a else "" for v, a in zip(lists, active, strict=True))
        return cls(active=active, own=own, groups=groups)


def reservation_blocks(feasible: np.ndarray, reservations: Reservations) -> np.ndarray:
    """``(n_children, n_homes)``: pairs the reservation rule removes.

    A pair (child, home) is blocked when the home's reservation is active, the
    child is outside its group, and some child of the group is feasible for the
    home (``feasible``: every filter of :data:`FILTERS` passed).
    """
    r = reservations
    own_qualifies = (feasible & r.own).any(axis=0)
    return r.active[None, :] & ~r.own & own_qualifies[None, :]


def school_ok(school_minutes: np.ndarray, limit_minutes: np.ndarray,
              has_school: np.ndarray) -> np.ndarray:
    """The school filter: within the limit (minutes), or no school anchor.

    ``school_minutes`` is ``(m, n_homes)``; ``limit_minutes`` and ``has_school``
    are per child ``(m,)``. Unreachable (``inf``) or unknown (NaN) minutes fail.
    """
    return ~has_school[:, None] | (school_minutes <= limit_minutes[:, None])


@dataclass(frozen=True)
class NeedCounts:
    """Needs of each pair that no competence of the home meets.

    Attributes
    ----------
    hard
        ``(m, n_homes)``: unmet needs that cannot be trained (the pair fails
        ``competences`` when > 0).
    training
        ``(m, n_homes)``: unmet needs that will be met by training.
    training_code
        ``(m, n_homes)`` bit set over :attr:`Eligibility.need_names` of the
        needs met by training.
    """

    hard: np.ndarray
    training: np.ndarray
    training_code: np.ndarray


@dataclass(frozen=True)
class Eligibility:
    """The rule data of children and homes, in the order given.

    Build it with :meth:`build`; ask it per block of children with
    :meth:`masks`. Arrays are indexed by child position (rows) and home
    position (columns).
    """

    age: np.ndarray
    acute: np.ndarray
    child_kin: np.ndarray
    group_kin: np.ndarray
    min_age: np.ndarray
    max_age: np.ndarray
    is_kin: np.ndarray
    is_em: np.ndarray
    kin_code: np.ndarray
    need_names: tuple[str, ...]
    accepted: tuple[tuple[str, ...], ...]
    need_meets: np.ndarray  # (N, n_homes)
    hard_needs: np.ndarray  # (n_children, N)
    train_needs: np.ndarray  # (n_children, N)
    kinship_training: bool
    own_ages: np.ndarray  # (n_homes, K) years, NaN padded
    min_age_gap: float  # years; 0 = off
    child_lang: np.ndarray  # (n_children, L)
    home_lang: np.ndarray  # (n_homes, L)
    lang_names: tuple[str, ...]
    lang_required: np.ndarray  # (n_children,)
    avoid: np.ndarray  # (n_children, M): child avoids municipality m
    home_muni: np.ndarray  # (n_homes,) position in the municipalities of avoid

    @classmethod
    def build(cls, children: pd.DataFrame, homes: pd.DataFrame, settings: ScoringSettings, *,
              trainable_needs: Sequence[str] | None = None, kinship_training: bool = False
              ) -> Eligibility:
        """Collect the rule data of validated children and homes (:mod:`matcher.schema`).

        Parameters
        ----------
        children, homes
            Validated frames, in the order the caller indexes them.
        settings
            ``need_competences`` and ``competences`` define which competence
            meets which need.
        trainable_needs
            Needs that may be met by a course after move-in; ``None``
            (default): the rule of :func:`trainable_needs`; ``()``: none
            (every need is an entry rule).
        kinship_training
            A child's own kinship home may meet every need by training.
        """
        kin_codes, _ = pd.factorize(pd.concat(
            [children["child_id"], children["sibling_group"], homes["kin_of"]],
            ignore_index=True))
        n_c = len(children)
        has_group = children["sibling_group"].notna().to_numpy()
        need_names = tuple(sorted({n for needs in children["needs"] for n in needs}))
        accepted = tuple(accepted_competences(n, settings) for n in need_names)
        home_comps = [set(c) for c in homes["competences"]]
        need_meets = np.array([[bool(set(acc) & comps) for comps in home_comps]
                               for acc in accepted], dtype=bool).reshape(len(need_names),
                                                                          len(homes))
        has_need = np.array([[n in needs for n in need_names] for needs in children["needs"]],
                            dtype=bool).reshape(n_c, len(need_names))
        if trainable_needs is None:
            trainable_needs = _trainable_by_rule(settings, need_names)
        trainable = np.array([n in trainable_needs for n in need_names], dtype=bool)
        own = [tuple(v) if isinstance(v, tuple | list) else ()
               for v in (homes["own_children_ages"] if "own_children_ages" in homes.columns
                         else [()] * len(homes))]
        own_ages = np.full((len(homes), max((len(a) for a in own), default=0)), np.nan)
        for j, ages in enumerate(own):
            own_ages[j, :len(ages)] = ages
        child_lang, home_lang, lang_names = tag_matrix(tags_of(children, "languages"),
                                                       tags_of(homes, "languages"))
        required = (children["language_required"].to_numpy(dtype=bool)
                    if "language_required" in children.columns else np.zeros(n_c, dtype=bool))
        home_muni_text = (homes["municipality"].astype(str).to_numpy(dtype=object)
                          if "municipality" in homes.columns
                          else np.full(len(homes), "", dtype=object))
        munis, home_muni = np.unique(home_muni_text, return_inverse=True)
        avoid_lists = tags_of(children, "avoid_municipalities")
        avoid = np.array([np.isin(munis, list(a)) for a in avoid_lists],
                         dtype=bool).reshape(n_c, len(munis))
        return cls(
            age=children["age"].to_numpy(dtype=np.int64),
            acute=(children["urgency"] == "acute").to_numpy(),
            child_kin=kin_codes[:n_c],
            group_kin=np.where(has_group, kin_codes[n_c:2 * n_c], -2),
            min_age=homes["min_age"].to_numpy(dtype=np.int64),
            max_age=homes["max_age"].to_numpy(dtype=np.int64),
            is_kin=(homes["kind"] == "kinship").to_numpy(),
            is_em=(homes["kind"] == "emergency").to_numpy(),
            kin_code=kin_codes[2 * n_c:],
            need_names=need_names, accepted=accepted, need_meets=need_meets,
            hard_needs=has_need & ~trainable[None, :],
            train_needs=has_need & trainable[None, :],
            kinship_training=kinship_training,
            own_ages=own_ages, min_age_gap=float(settings.min_age_gap_own_children),
            child_lang=child_lang, home_lang=home_lang, lang_names=lang_names,
            lang_required=required, avoid=avoid, home_muni=home_muni.astype(np.int64),
        )

    def kin_match(self, rows: slice) -> np.ndarray:
        """``(m, n_homes)``: the home is the child's own kinship home (or its group's)."""
        return self.is_kin[None, :] & (
            (self.kin_code[None, :] == self.child_kin[rows, None])
            | (self.kin_code[None, :] == self.group_kin[rows, None]))

    def needs(self, rows: slice, kin_match: np.ndarray | None = None) -> NeedCounts:
        """Count the unmet needs of each pair (see :class:`NeedCounts`)."""
        unmet = (~self.need_meets).astype(float)
        bits = 2.0 ** np.arange(len(self.need_names))
        hard = self.hard_needs[rows].astype(float) @ unmet
        training = self.train_needs[rows].astype(float) @ unmet
        code = np.rint(np.where(self.train_needs[rows], bits, 0.0) @ unmet).astype(np.int64)
        if self.kinship_training:
            kin = self.kin_match(rows) if kin_match is None else kin_match
            every = self.hard_needs[rows] | self.train_needs[rows]
            hard = np.where(kin, 0.0, hard)
            training = np.where(kin, every.astype(float) @ unmet, training)
            code = np.where(kin, np.rint(np.where(every, bits, 0.0) @ unmet).astype(np.int64),
                            code)
        return NeedCounts(hard=hard, training=training, training_code=code)

    def own_child_gap(self, rows: slice) -> np.ndarray:
        """``(m, n_homes)``: least age difference in years to the home's own children.

        ``inf`` for a home without own children.
        """
        if self.own_ages.shape[1] == 0:
            return np.full((len(self.age[rows]), len(self.own_ages)), np.inf)
        diff = np.abs(self.own_ages[None, :, :] - self.age[rows, None, None].astype(float))
        return np.nanmin(np.where(np.isnan(diff), np.inf, diff), axis=2)

    def shared_languages(self, rows: slice) -> np.ndarray:
        """``(m, n_homes)``: the home speaks at least one of the child's languages."""
        return (self.child_lang[rows].astype(float) @ self.home_lang.T.astype(float)) > 0.5

    def avoided(self, rows: slice) -> np.ndarray:
        """``(m, n_homes)``: the home lies in a municipality the child avoids."""
        return self.avoid[rows][:, self.home_muni]

    def masks(self, rows: slice, *, places: np.ndarray,
              locked: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], NeedCounts]:
        """Evaluate the rules without travel time for a block of children.

        ``capacity``, ``kind``, ``age``, ``household``, ``competences``,
        ``language`` and ``avoid`` (``school`` and ``contacts`` need travel
        times: :func:`school_ok`, :func:`contacts_ok`).

        Parameters
        ----------
        rows
            The block of children (a slice of positions).
        places
            Places per home that the capacity rule counts (capacity, or free places).
        locked
            ``(m, n_homes)`` locked pairs, which pass ``capacity`` (``None``: none).

        Returns
        -------
        tuple
            Filter name -> ``(m, n_homes)`` bool mask, and the need counts.
        """
        kin = self.kin_match(rows)
        counts = self.needs(rows, kin)
        capacity = np.broadcast_to((np.asarray(places) > 0)[None, :], kin.shape)
        if locked is not None:
            capacity = capacity | locked
        masks = {
            "capacity": np.array(capacity, dtype=bool),
            "kind": np.where(self.is_kin[None, :], kin, True)
            & (~self.is_em[None, :] | self.acute[rows, None]),
            "age": (self.min_age[None, :] <= self.age[rows, None])
            & (self.age[rows, None] <= self.max_age[None, :]),
            "household": self.own_child_gap(rows) >= self.min_age_gap,
            "competences": counts.hard < 0.5,
            "language": ~self.lang_required[rows, None] | self.shared_languages(rows),
            "avoid": ~self.avoided(rows),
        }
        return masks, counts
