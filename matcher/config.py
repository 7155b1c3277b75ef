"""Frozen settings: speeds, ferries, travel-time limits, score weights, solver, planning,
reports, and the nightly job.

All settings are immutable pydantic models in ONE tree, :class:`Settings`,
loaded from TOML by ONE loader, :func:`load`; every section and key is
optional and falls back to the defaults documented here and in the README.
The nightly job's configuration, :class:`NightlyConfig`, extends the tree
with ``[store]``, ``[job]`` and the OSM source (:func:`load_nightly`).

One working CRS, ``network.crs`` (default :data:`DEFAULT_CRS`, EPSG:25833,
UTM 33N in metres), is used for node coordinates, travel-time snapping,
planning areas, grids and candidate sites, register lookups, layers and maps;
every function that works in metres takes it from :class:`Settings` (or from
the network it is given). No other module names a CRS code: the synthetic
fjord sample is laid out in :data:`DEFAULT_CRS` and written in degrees, and
:data:`ADDRESS_REGISTER_CRS` is the CRS of a source file.

Speed defaults (km/h) follow the Norwegian rules in *Forskrift om
kjøresatsar / fartsgrenser* (Vegtrafikkloven § 6 and "Forskrift om
fartsgrenser"): 50 km/h in built-up areas (``NO:urban``), 80 km/h outside
(``NO:rural``), up to 110 km/h on motorways, 30 km/h common on residential
streets and walking pace on *gatetun* (living streets). They apply only where
OSM has no usable ``maxspeed`` tag.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from matcher.errors import InputError, Problem, raise_if_problems
from matcher.i18n import N_, format_number, ngettext
from matcher.i18n import gettext as _

__all__ = [
    "ADDRESS_REGISTER_CRS",
    "DEFAULT_BANDS_MINUTES",
    "DEFAULT_CRS",
    "DEFAULT_HIGHWAY_KMH",
    "DEFAULT_JUNCTION_SECONDS",
    "DEFAULT_NODE_DELAY_SECONDS",
    "DEFAULT_SPEED_FACTOR",
    "DEFAULT_TURN",
    "DEFAULT_ZONE_KMH",
    "TURN_JUNCTION_SECONDS",
    "TURN_NODE_DELAY_SECONDS",
    "AssignmentSettings",
    "ContinuitySettings",
    "JobOptions",
    "NetworkSettings",
    "NightlyConfig",
    "OsmSource",
    "OutputSettings",
    "PlanningSettings",
    "ReportSettings",
    "ScoringSettings",
    "Settings",
    "StoreOptions",
    "SupportSettings",
    "TravelSettings",
    "load",
    "load_nightly",
    "nightly_from_dict",
    "settings_from_dict",
]

DEFAULT_CRS = "EPSG:25833"
"""The working CRS: ETRS89 / UTM zone 33N, metres (Norway's national mapping CRS)."""

ADDRESS_REGISTER_CRS = "EPSG:25833"
"""CRS of ``Nord``/``Øst`` in Kartverket's Matrikkelen adresse, the edition the geocoder
reads: a fact of that source file, not a setting (the working CRS is ``network.crs``)."""

DEFAULT_BANDS_MINUTES: tuple[float, ...] = (15.0, 30.0, 45.0, 60.0)
"""Travel-time bands in minutes: score bands, isochrones and map legends."""

DEFAULT_HIGHWAY_KMH: dict[str, float] = {
    "motorway": 110.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 80.0,
    "primary_link": 50.0,
    "secondary": 60.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 40.0,
    "unclassified": 50.0,
    "residential": 30.0,
    "living_street": 7.0,
    "service": 20.0,
    "road": 40.0,
    "track": 20.0,
}
"""Default speed (km/h) by OSM ``highway`` class when ``maxspeed`` is missing."""

DEFAULT_ZONE_KMH: dict[str, float] = {
    "NO:urban": 50.0,
    "NO:rural": 80.0,
    "NO:motorway": 110.0,
    "NO:living_street": 7.0,
    "walk": 7.0,
}
"""Speed (km/h) for symbolic ``maxspeed`` values such as ``NO:urban``."""

DEFAULT_SPEED_FACTOR = 0.82
"""Share of the limit driven on average (issue 20). OSRM's ``car.lua`` drives
0.8 x a tagged ``maxspeed``; 0.82 with the delays below (and the turn
restrictions) gives a median ratio OSRM / fostermatch within 0.95-1.05 on
``oslo-east-filtered``, ``oslo-center`` and the national sample in
``benchmarks/realism.py``, with or without ``turn_costs``."""

DEFAULT_NODE_DELAY_SECONDS: dict[str, float] = {
    "traffic_signals": 5.0,
    "stop": 2.0,
    "give_way": 1.0,
    "crossing": 0.0,
}
"""Seconds lost passing a node tagged ``highway=<key>`` (see ``NetworkSettings``).

``stop``, ``give_way`` and ``crossing`` are OSRM ``car.lua``'s obstacle
durations (2, 1 and 0 s). ``traffic_signals`` is 5 s, not OSRM's 2 s: OSRM
also prices the turn made there, which the node graph cannot, and 5 s is what
matches OSRM on the Oslo extracts (``benchmarks/realism.py``); it stays below
the average control delay of a signalised junction in free flow (the Highway
Capacity Manual's best level of service, A, is up to 10 s). With
``turn_costs`` the defaults are :data:`TURN_NODE_DELAY_SECONDS`."""

TURN_NODE_DELAY_SECONDS: dict[str, float] = {**DEFAULT_NODE_DELAY_SECONDS,
                                             "traffic_signals": 4.0}
"""The defaults of ``node_delay_seconds`` with ``turn_costs`` on: signals 4 s,
since the turn is priced on its own (calibrated as above)."""

DEFAULT_TURN: dict[str, float] = {
    "turn_penalty_seconds": 7.5,
    "turn_bias": 1.075,
    "oncoming_turn_seconds": 2.0,
    "u_turn_seconds": 20.0,
}
"""The turn cost of OSRM's ``car.lua`` (osrm-bindings 26.10, ``process_turn``;
``turn_penalty``, ``turn_bias``, ``oncoming_turn_penalty``,
``u_turn_penalty``). For a turn of ``a`` degrees (0 straight on, > 0 right,
< 0 left; a U-turn is 180) with ``b = turn_bias``, ``P = turn_penalty_seconds``:
``P / (1 + exp(-(13 / b * a / 180 - 6.5 * b)))`` for a right turn,
``P / (1 + exp(-(13 * b * |a| / 180 - 6.5 / b)))`` for a left one, plus
``oncoming_turn_seconds / (1 + exp(-(13 * |a| / 180 - 3.25)))`` for a left
turn and ``u_turn_seconds`` for a U-turn. At 90 degrees: right 2.1 s, left
5.4 + 1.9 s; straight on 0.01 s; a U-turn 27.5 s. Like OSRM, angles are priced
only where three or more roads meet; a U-turn only where nothing else is
allowed (a dead end, or where restrictions leave nothing else)."""

DEFAULT_JUNCTION_SECONDS: dict[str, float] = {
    "minor": 3.0,
    "equal": 1.0,
    "major": 0.0,
}
"""Seconds lost entering a junction, by how the road compares with the others there.

On the node graph they stand in for the turn, which it cannot price: 3 s
where a minor road meets a major one (give way, and usually turn), 1 s where
equal roads meet (yield to the right), 0 s along the major road; calibrated
against OSRM on the Oslo extracts (``benchmarks/realism.py``). With
``turn_costs`` the defaults are :data:`TURN_JUNCTION_SECONDS`."""

TURN_JUNCTION_SECONDS: dict[str, float] = {"minor": 1.0, "equal": 0.0, "major": 0.0}
"""The defaults of ``junction_seconds`` with ``turn_costs`` on: the turn itself
is priced (:data:`DEFAULT_TURN`), and what is left is 1 s for giving way
where a minor road meets a major one (calibrated as above)."""


_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


def _is_boolean_as_number(annotation: Any, value: Any) -> bool:
    """Whether ``value`` holds a boolean where ``annotation`` wants a number (not a boolean)."""
    if isinstance(value, dict):
        args = typing.get_args(annotation) if typing.get_origin(annotation) is dict else ()
        return len(args) == 2 and any(_is_boolean_as_number(args[1], v) for v in value.values())
    if isinstance(value, list | tuple):
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (list, tuple) and args:
            return any(_is_boolean_as_number(args[0], v) for v in value)
        return False
    if not isinstance(value, bool):
        return False
    kinds = _leaf_types(annotation)
    return bool(kinds & {int, float}) and bool not in kinds


def _leaf_types(annotation: Any) -> set[Any]:
    """The plain types a (possibly ``Annotated``, optional or union) annotation allows."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _leaf_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_leaf_types(a) for a in typing.get_args(annotation)))
    return {annotation}


class _Frozen(BaseModel):
    """Base of every settings model: immutable, unknown keys rejected, numbers finite."""

    # allow_inf_nan=False: TOML accepts inf and nan, which no setting can use.
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True,
                              allow_inf_nan=False)

    toml_section: ClassVar[str] = ""
    """The TOML name of this section (prefix of the keys in problems)."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _input_error(exc, self.toml_section) from None

    # Tell pydantic this __init__ only wraps its own (as RootModel does): nested sections
    # are still validated by pydantic-core, so the loader collects every problem at once.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse ``true``/``false`` where a number is meant (pydantic would read 1 and 0)."""
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _is_boolean_as_number(field.annotation, value):
            raise ValueError(_("a boolean (true/false) is not a number; write a number"))
        return value

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Self:
        """Return a copy; values in ``update`` are validated like the TOML keys.

        Raises
        ------
        InputError
            Naming each bad key by its TOML name (``scoring.weights.school``).
        """
        if not update:
            return super().model_copy(deep=deep)
        data = {name: getattr(self, name) for name in type(self).model_fields} | dict(update)
        try:
            copy = type(self).model_validate(data)
        except ValidationError as exc:
            raise _input_error(exc, self.toml_section) from None
        return copy.model_copy(deep=True) if deep else copy


class NetworkSettings(_Frozen):
    """How OSM ways become a routable, timed drive network.

    Attributes
    ----------
    highway_kmh
        Default speed in km/h for each drivable ``highway`` class. Ways whose
        class is not listed are not drivable and are dropped.
    zone_kmh
        Speed in km/h for symbolic ``maxspeed`` values (``NO:urban``...).
    speed_factor
        Multiplier on every road speed (1.0 = drive at the limit; default
        0.82, see :data:`DEFAULT_SPEED_FACTOR`).
    ferry_kmh
        Crossing speed in km/h for ferries without a ``duration`` tag
        (18 km/h is about 10 knots, typical of Norwegian car ferries).
    ferry_wait_minutes
        Average waiting time in minutes at boarding, added to every ferry leg.
    node_delay_seconds
        Seconds added to every edge that enters a node tagged ``highway=`` one
        of ``traffic_signals``, ``stop``, ``give_way``, ``crossing`` (a
        pedestrian crossing): the time lost slowing down, waiting and pulling
        away, averaged over arrivals. Keys must be these four; defaults and
        their sources in :data:`DEFAULT_NODE_DELAY_SECONDS`.
    junction_seconds
        Seconds added to every edge that enters a junction (a node where
        three or more roads meet), by how its road class ranks among the
        classes meeting there (``motorway`` > ``trunk`` > ``primary`` >
        ``secondary`` > ``tertiary`` > ``unclassified`` > ``residential`` >
        the rest, links with their road): ``minor`` when a higher class meets
        it there (give way, usually turn), ``equal`` when every road there has
        the same rank (yield to the right), ``major`` along the highest class
        at a junction with lower ones. Keys must be these three. Ferries pay
        none. Defaults and their sources in :data:`DEFAULT_JUNCTION_SECONDS`.
    turn_restrictions
        Obey OSM turn restrictions (``type=restriction`` relations, ``no_*``
        and ``only_*``): with a via node always; with a via way when
        ``turn_costs`` is on (the turn-expanded graph, ``matcher._turns``).
    turn_costs
        Price turns by their angle at junctions (three or more roads), on a
        turn-expanded graph: each edge into a junction ends in its own
        in-port, and each allowed turn is an arc from that port. Off (the
        default), the graph is the plain node graph, with turn restrictions
        by node splitting and the junction delays standing in for turns. On,
        the travel-time matrix takes about three times as long (see
        ``benchmarks/README.md``), and ``node_delay_seconds`` and
        ``junction_seconds`` default to :data:`TURN_NODE_DELAY_SECONDS` and
        :data:`TURN_JUNCTION_SECONDS` (keys given in the file still win).
    turn_penalty_seconds, turn_bias, oncoming_turn_seconds, u_turn_seconds
        The turn cost (:data:`DEFAULT_TURN`, OSRM ``car.lua``): a sigmoid of
        the angle up to ``turn_penalty_seconds``, leaning by ``turn_bias``
        towards cheap right turns (right-hand traffic), plus up to
        ``oncoming_turn_seconds`` for a left turn across oncoming traffic
        and ``u_turn_seconds`` for a U-turn.
    crs
        Projected CRS of node coordinates, in metres (EPSG:25833 = UTM 33N).
    """

    toml_section: ClassVar[str] = "network"

    highway_kmh: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_HIGHWAY_KMH))
    zone_kmh: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_ZONE_KMH))
    speed_factor: float = Field(default=DEFAULT_SPEED_FACTOR, gt=0.0, le=2.0)
    ferry_kmh: float = Field(default=18.0, gt=0.0)
    ferry_wait_minutes: float = Field(default=10.0, ge=0.0)
    node_delay_seconds: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_NODE_DELAY_SECONDS))
    junction_seconds: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_JUNCTION_SECONDS))
    turn_restrictions: bool = True
    turn_costs: bool = False
    turn_penalty_seconds: float = Field(default=DEFAULT_TURN["turn_penalty_seconds"], ge=0.0)
    turn_bias: float = Field(default=DEFAULT_TURN["turn_bias"], ge=0.5, le=2.0)
    oncoming_turn_seconds: float = Field(default=DEFAULT_TURN["oncoming_turn_seconds"], ge=0.0)
    u_turn_seconds: float = Field(default=DEFAULT_TURN["u_turn_seconds"], ge=0.0)
    crs: str = DEFAULT_CRS

    @classmethod
    def free_flow(cls, **changes: Any) -> NetworkSettings:
        """Settings that drive at the limit with no node, junction or turn delays and no
        turn restrictions (the minutes before issue 20), with any other ``changes``."""
        values: dict[str, Any] = {
            "speed_factor": 1.0,
            "turn_restrictions": False,
            "turn_costs": False,
            "node_delay_seconds": dict.fromkeys(DEFAULT_NODE_DELAY_SECONDS, 0.0),
            "junction_seconds": dict.fromkeys(DEFAULT_JUNCTION_SECONDS, 0.0),
        }
        return cls(**{**values, **changes})

    @model_validator(mode="before")
    @classmethod
    def _delay_defaults(cls, data: Any) -> Any:
        """Delays not given keep their defaults: the turn calibration with ``turn_costs``."""
        if not isinstance(data, dict):
            return data
        try:  # as the field will read it ("yes", 1...); a bad value is reported there
            turns = _BOOL.validate_python(data.get("turn_costs", False))
        except ValidationError:
            turns = False
        out = dict(data)
        for name, base in (
                ("node_delay_seconds",
                 TURN_NODE_DELAY_SECONDS if turns else DEFAULT_NODE_DELAY_SECONDS),
                ("junction_seconds", TURN_JUNCTION_SECONDS if turns else DEFAULT_JUNCTION_SECONDS)):
            given = out.get(name, {})
            if isinstance(given, dict):
                out[name] = {**base, **given}
        return out

    @field_validator("node_delay_seconds", "junction_seconds")
    @classmethod
    def _delays(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        allowed = (DEFAULT_NODE_DELAY_SECONDS if info.field_name == "node_delay_seconds"
                   else DEFAULT_JUNCTION_SECONDS)
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValueError(_("unknown keys {keys}; use {allowed}").format(
                keys=", ".join(unknown), allowed=", ".join(allowed)))
        bad = sorted(k for k, v in value.items() if not v >= 0)
        if bad:
            raise ValueError(_("delays must be >= 0 seconds; fix {keys}")
                             .format(keys=", ".join(bad)))
        return value  # complete: _delay_defaults filled in the keys not given

    @field_validator("highway_kmh", "zone_kmh")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not v > 0]
        if bad:
            raise ValueError(_("speeds must be > 0 km/h; fix {keys}")
                             .format(keys=", ".join(sorted(bad))))
        return value

    def fingerprint(self) -> str:
        """Return a short stable hash of these settings (for cache keys)."""
        return _hash(self.model_dump(mode="json"))


class TravelSettings(_Frozen):
    """Snapping and many-to-many travel-time options.

    Attributes
    ----------
    access_kmh
        Speed in km/h of the off-network leg between a point and its nearest
        network node (straight line, metres in the network CRS).
    max_snap_metres
        A point farther than this from every network node is an input error.
    limit_minutes
        Searches stop at this many minutes; pairs beyond are unreachable (inf).
    memory_mb
        Budget for one chunk of the dense distance block, in MiB.
    workers
        Processes used for the matrix (1 = run in this process).
    contract_chains
        Contract chains of pass-through road nodes before the searches (exact;
        faster on OSM networks, which draw roads with many shape nodes).
    """

    toml_section: ClassVar[str] = "travel"

    access_kmh: float = Field(default=20.0, gt=0.0)
    max_snap_metres: float = Field(default=2000.0, gt=0.0)
    limit_minutes: float = Field(default=90.0, gt=0.0)
    memory_mb: int = Field(default=512, ge=16)
    workers: int = Field(default=2, ge=1, le=64)
    contract_chains: bool = True


class ScoringSettings(_Frozen):
    """Score weights and the travel-time decay.

    Attributes
    ----------
    weights
        Weight of each score component; the total score is the weighted mean.
        With ``kinship_first`` the kinship weight must exceed the sum of the
        others, so that a child's own kinship home outranks any stranger home.
    kinship_first
        Enforce the kinship-first rule on the weights (default True).
    bands_minutes
        Travel-time bands in minutes (ascending); also the isochrone bands.
    decay
        ``"band"``: component = 1 - i/len(bands) in band *i* (0-based), 0 past
        the last band. ``"smooth"``: ``exp(-minutes / half_life * ln 2)``.
    half_life_minutes
        Minutes at which the smooth decay reaches 0.5.
    default_max_school_minutes
        Hard limit on school travel in minutes, unless a child overrides it.
    need_competences
        For each need tag, the tags of a home that meet it (any one suffices):
        target groups the home is prepared for, and courses. A need that is
        itself a known tag is met by that tag. The defaults and the reason for
        each are in ``docs/scoring.md`` ("Target groups and courses").
    target_groups
        What Bufetat has prepared a home for (*klargjort for*) and the home has
        experience with: ``teen``, ``disability``, ``specialized``.
    courses
        Courses for foster parents (``trygg-base``, ``TBO-F``, ``EFST`` and
        whatever a region lists): support that can be given after the child
        moves in. A need that a course meets is *trainable* unless it is one
        of ``hard_needs``: a home without the course stays eligible, is
        offered the course, and the assignment counts
        ``assignment.training_penalty`` for it, so a home that has taken the
        course already scores higher.
    hard_needs
        Needs that are entry rules even where a course exists: the home must
        already meet them. Default ``disability``: it needs an adapted home.
    baseline
        Preparation every general home has completed (PRIDE): accepted in the
        homes table, meets no need.
    competences
        Every tag a home may list: ``target_groups``, ``courses`` and
        ``baseline`` (always included), plus any extra tag given here (an
        extra tag meets needs like a target group); anything else in the homes
        table is an error.
    cultures
        Known culture tags (``children.culture``, ``homes.culture``); anything
        else is an error.
    pools
        Municipality cooperations (*interkommunalt samarbeid*): pool name ->
        4-digit municipality numbers, e.g. ``oygarden_alver = ["4626", "4631"]``.
        A municipality belongs to at most one pool.
    pool_score
        The ``municipality`` component of a home in another municipality of the
        child's pool (1 in the child's own municipality, 0 elsewhere).
    min_age_gap_own_children
        Hard rule in years: a home is infeasible for a child when one of its own
        children is closer in age than this; 0 (default) switches it off.

    The ``language`` and ``culture`` components count in the weighted mean
    only when some child of the run lists a language (a culture tag), so runs
    without those columns score exactly as before.
    """

    toml_section: ClassVar[str] = "scoring"

    weights: dict[str, Annotated[float, Field(ge=0.0)]] = Field(
        default_factory=lambda: {
            "school": 0.16,
            "network": 0.10,
            "parents": 0.08,
            "municipality": 0.08,
            "kinship": 0.58,
            "language": 0.06,
            "culture": 0.04,
        }
    )
    kinship_first: bool = True
    bands_minutes: tuple[float, ...] = DEFAULT_BANDS_MINUTES
    decay: Literal["band", "smooth"] = "band"
    half_life_minutes: float = Field(default=30.0, gt=0.0)
    default_max_school_minutes: float = Field(default=45.0, gt=0.0)
    need_competences: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "trauma": ("TBO-F", "trygg-base"),
            "behaviour": ("EFST", "TBO-F"),
            "attachment": ("trygg-base",),
            "disability": ("disability",),
            "teen": ("teen", "TBO-F"),
            "substance": ("TBO-F", "EFST"),
        }
    )
    target_groups: tuple[str, ...] = ("teen", "disability", "specialized")
    courses: tuple[str, ...] = ("TBO-F", "trygg-base", "EFST")
    hard_needs: tuple[str, ...] = ("disability",)
    baseline: tuple[str, ...] = ("PRIDE",)
    competences: tuple[str, ...] = ()
    cultures: tuple[str, ...] = ("christian", "muslim", "jewish", "hindu", "buddhist", "sikh",
                                 "humanist", "sami", "kven", "romani", "forest_finn")
    pools: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    pool_score: float = Field(default=0.6, ge=0.0, le=1.0)
    min_age_gap_own_children: float = Field(default=0.0, ge=0.0, le=25.0)

    @model_validator(mode="after")
    def _tags(self) -> ScoringSettings:
        known = tuple(dict.fromkeys((*self.courses, *self.target_groups, *self.baseline,
                                     *self.competences)))
        object.__setattr__(self, "competences", known)  # every tag a home may list
        problems = []
        for need, tags in self.need_competences.items():
            bad = [t for t in tags if t in self.baseline]
            if bad:
                problems.append(_("need_competences.{need}: {tags} is the baseline every "
                                  "general home has, not a competence; remove it")
                                .format(need=need, tags=", ".join(bad)))
        both = sorted(set(self.courses) & set(self.target_groups))
        if both:
            problems.append(_("{tags} is both a course and a target group; keep it in one")
                            .format(tags=", ".join(both)))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def course_for(self, need: str) -> str | None:
        """Return the course offered for a trainable ``need`` (first course it lists), else
        ``None`` (no course meets it, or it is one of ``hard_needs``)."""
        if need in self.hard_needs:
            return None
        listed = (*self.need_competences.get(need, ()), need)
        return next((t for t in listed if t in self.courses), None)

    @field_validator("pools")
    @classmethod
    def _pools(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        seen: dict[str, str] = {}
        problems = []
        for name, codes in value.items():
            for code in codes:
                if not (len(code) == 4 and code.isascii() and code.isdigit()):
                    problems.append(_("pool '{pool}': '{code}' is not a 4-digit kommunenummer "
                                      "(write it as text, e.g. \"0301\")")
                                    .format(pool=name, code=code))
                elif code in seen and seen[code] != name:
                    problems.append(_("municipality {code} is in pools '{first}' and "
                                      "'{second}'; put it in one pool")
                                    .format(code=code, first=seen[code], second=name))
                seen.setdefault(code, name)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def pool_of(self, municipality: str) -> str | None:
        """Return the pool holding a 4-digit municipality number, else ``None``."""
        for name, codes in self.pools.items():
            if municipality in codes:
                return name
        return None

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        allowed = {"school", "network", "parents", "municipality", "kinship", "language",
                   "culture"}
        unknown = set(value) - allowed
        if unknown:
            raise ValueError(
                ngettext("unknown weight {unknown}; allowed: {allowed}",
                         "unknown weights {unknown}; allowed: {allowed}", len(unknown))
                .format(unknown=", ".join(sorted(unknown)), allowed=", ".join(sorted(allowed)))
            )
        if any(v < 0 for v in value.values()) or sum(value.values()) <= 0:
            raise ValueError(_("weights must be >= 0 and not all 0"))
        return value

    @field_validator("bands_minutes")
    @classmethod
    def _bands(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(b <= 0 for b in value) or list(value) != sorted(set(value)):
            raise ValueError(_("bands_minutes must be positive and strictly ascending"))
        return value

    @model_validator(mode="after")
    def _kinship_first(self) -> ScoringSettings:
        if self.kinship_first:
            others = sum(v for k, v in self.weights.items() if k != "kinship")
            if not self.weights.get("kinship", 0.0) > others:
                raise ValueError(
                    _("kinship first: weights.kinship ({kinship}) must exceed the sum of the "
                      "other weights ({others}); raise it or set kinship_first = false")
                    .format(kinship=_number(self.weights.get("kinship", 0.0)),
                            others=_number(others))
                )
        return self


_URGENCY_WEIGHTS: dict[Literal["acute", "planned"], float] = {"acute": 2.0, "planned": 1.0}


class AssignmentSettings(_Frozen):
    """Solver and policy options for the assignment model.

    Attributes
    ----------
    solver
        ``"highs"`` (default) or ``"cbc"``.
    time_limit_seconds
        Wall-clock limit for each of the two solves, in seconds.
    mip_gap
        Relative MIP gap accepted as optimal (0 = prove optimality).
    sibling_policy
        ``together``: a sibling group is placed in one home or not at all.
        ``prefer_together``: splitting is allowed at ``split_penalty`` per extra home.
        ``independent``: siblings are matched as if unrelated.
    split_penalty
        Score penalty per additional home used by a sibling group.
    trainable_needs
        Needs that may be met by a course after placement (at
        ``training_penalty``). Unset (default): every need a course of
        ``scoring.courses`` meets, except ``scoring.hard_needs``
        (:func:`matcher.rules.trainable_needs`). A list replaces that rule.
    kinship_training
        A child's own kinship home may meet every need by training after
        placement (default True: network first, as Norwegian practice asks).
    training_penalty
        Score penalty per need met by training instead of competence.
    urgency_weight
        Priority weight of a placed child by urgency (stage one objective).
    waiting_weight_per_year
        Extra priority per year waited (``waiting_since`` before the run date).
    shortlist_k
        Homes per child in the shortlist.
    max_pairs
        Most child x home pairs a match may score (children times homes). A
        larger match fails at once (exit 2) with its size and estimated memory:
        every feasible pair is a variable of one assignment model, so the
        work cannot be split without changing the answer. See
        :func:`matcher.pipeline.estimate`.
    """

    toml_section: ClassVar[str] = "assignment"

    solver: Literal["highs", "cbc"] = "highs"
    time_limit_seconds: float = Field(default=120.0, gt=0.0)
    mip_gap: float = Field(default=0.0, ge=0.0, lt=1.0)
    sibling_policy: Literal["together", "prefer_together", "independent"] = "together"
    split_penalty: float = Field(default=0.25, ge=0.0)
    trainable_needs: tuple[str, ...] | None = None
    kinship_training: bool = True
    training_penalty: float = Field(default=0.10, ge=0.0)
    urgency_weight: dict[Literal["acute", "planned"], float] = Field(
        default_factory=lambda: _URGENCY_WEIGHTS.copy()
    )
    waiting_weight_per_year: float = Field(default=0.5, ge=0.0)
    shortlist_k: int = Field(default=5, ge=1, le=100)
    max_pairs: int = Field(default=20_000_000, ge=1)


class ContinuitySettings(_Frozen):
    """Decisions and proposals carried from run to run (:mod:`matcher.decisions`).

    Attributes
    ----------
    decline_days
        A ``declined`` decision keeps its pair out of the proposals for this
        many days after ``decided_on`` (days).
    stability_tolerance
        With a previous run, the stage-two score may fall this far below its
        optimum (relative, e.g. 0.005 = 0.5 %) to keep previous proposals.
    stability_horizon_age
        Age in years until which the next home should keep a child who now
        lives in an emergency home (``children.current_home_id``): the
        ``stability`` score component rewards homes approved (``max_age``)
        up to this age.
    stability_weight
        Weight of the ``stability`` component, on the scale of
        ``scoring.weights``. It counts only for children who live in an
        emergency home; every other child scores exactly as without it.
    emergency_weeks_norm
        Weeks a child is expected to stay in an emergency home
        (``children.placed_since`` to the run date). Past this norm the
        child's stage-one priority rises.
    emergency_weight_per_week
        Extra stage-one priority per week in an emergency home beyond
        ``emergency_weeks_norm`` (priority units per week; 0.05 a week makes
        ten weeks over the norm weigh as one year of waiting at the default
        ``assignment.waiting_weight_per_year``).
    """

    toml_section: ClassVar[str] = "continuity"

    decline_days: int = Field(default=365, ge=0)
    stability_tolerance: float = Field(default=0.005, ge=0.0, lt=1.0)
    stability_horizon_age: int = Field(default=18, ge=0, le=25)
    stability_weight: float = Field(default=0.2, ge=0.0)
    emergency_weeks_norm: float = Field(default=12.0, ge=0.0)
    emergency_weight_per_week: float = Field(default=0.05, ge=0.0)


class PlanningSettings(_Frozen):
    """Recruitment and support planning (:mod:`matcher.planning`).

    Attributes
    ----------
    catchment_minutes
        Default catchment ``T`` in minutes: a home within ``T`` of a child's
        anchor can serve the child (gaps, 2SFCA, recruitment).
    emergency_bands_minutes
        Bands in minutes for emergency-home coverage (ascending).
    max_homes_per_family
        A resource family supports at most this many foster homes.

    The planning models are solved with ``assignment.solver`` and
    ``assignment.time_limit_seconds`` (:mod:`matcher.optimize`).
    """

    toml_section: ClassVar[str] = "planning"

    catchment_minutes: float = Field(default=30.0, gt=0.0)
    emergency_bands_minutes: tuple[float, ...] = (30.0, 45.0)
    max_homes_per_family: int = Field(default=5, ge=1)

    @field_validator("emergency_bands_minutes")
    @classmethod
    def _bands(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(b <= 0 for b in value) or list(value) != sorted(set(value)):
            raise ValueError(_("emergency_bands_minutes must be positive and strictly "
                               "ascending"))
        return value


class SupportSettings(_Frozen):
    """The support network after move-in (``matcher support``).

    Attributes
    ----------
    visits_per_child
        Supervisor visits (*tilsynsbesøk*) a child in a foster home gets a year.
    supervisor_visits
        Visits a year a supervisor (*tilsynsperson*) can make, unless the
        supervisors table gives ``visits_per_year``.
    supervisor_max_minutes
        Longest supervisor -> foster home trip, minutes (one way).
    relief_max_minutes
        Longest relief home -> foster home trip, and relief home -> the child's
        school trip, minutes (one way).
    relief_weekends
        Weekends a month a relief home (*besøkshjem*, *avlastning*) can take,
        unless the relief-homes table gives ``weekends_per_month``.
    course_max_class
        Most families in one course run.
    course_max_minutes
        Longest home -> venue trip to a course, minutes (one way).
    moves_flag
        Earlier moves (ended placement periods) from which a placement is flagged.
    breakdown_months
        A home with an unintended move (``unintended_move``) in this many months
        before the run date is flagged.
    """

    toml_section: ClassVar[str] = "support"

    visits_per_child: int = Field(default=4, ge=1, le=52)
    supervisor_visits: int = Field(default=16, ge=0)
    supervisor_max_minutes: float = Field(default=90.0, gt=0.0)
    relief_max_minutes: float = Field(default=45.0, gt=0.0)
    relief_weekends: int = Field(default=2, ge=0, le=5)
    course_max_class: int = Field(default=12, ge=1)
    course_max_minutes: float = Field(default=120.0, gt=0.0)
    moves_flag: int = Field(default=2, ge=1)
    breakdown_months: int = Field(default=24, ge=1)


class ReportSettings(_Frozen):
    """Maps and reports of a run folder (:mod:`matcher.report`).

    Attributes
    ----------
    privacy
        Child positions in ``matches.gpkg``: ``"coarse"`` (the default) moves
        them to the centre of their ``grid_metres`` cell and pools school
        isochrones; ``"exact"`` keeps them there, for analysts. The shareable
        outputs (maps, ``report.md``, briefs, workbook) are coarse either way.
    grid_metres
        Cell size in metres of the coarse privacy grid (SSB's 250 m grid).
    hear_from_age
        Age in years from which the report flags a child without a recent
        conversation (``children.heard_on``). Only a flag, never a block, and
        not a limit on who has the right to be heard: the Child Welfare Act
        2021 § 1-4 gives every child able to form its own views that right,
        with no age floor. Default 0: every child is flagged until a
        conversation is recorded, so no young child who can form views is
        left out silently (the old law's 7 years did that).
    heard_max_age_days
        A hearing older than this many days (before the run date) counts as
        not heard.
    language
        Language of every human-readable text: ``"nb"`` (bokmål), ``"nn"``
        (nynorsk) or ``"en"``. Unset: the language in effect (``--lang``, or
        bokmål). Machine-readable fields stay in English whatever it is.
    """

    toml_section: ClassVar[str] = "report"

    privacy: Literal["exact", "coarse"] = "coarse"
    grid_metres: float = Field(default=250.0, gt=0.0)
    hear_from_age: int = Field(default=0, ge=0, le=25)
    heard_max_age_days: int = Field(default=180, ge=1)
    language: Literal["nb", "nn", "en"] | None = None


class OutputSettings(_Frozen):
    """``[output]``: how commands write their output folders.

    Attributes
    ----------
    lock_wait_seconds
        Seconds a command waits, with a message on stderr, while another
        process writes in the same folder (its lock), before it gives up with
        exit code 5.
    """

    toml_section: ClassVar[str] = "output"

    lock_wait_seconds: float = Field(default=60.0, ge=0.0, le=86_400.0)


class Settings(_Frozen):
    """All settings of the engine: one frozen tree (TOML sections of the same names)."""

    network: NetworkSettings = Field(default_factory=NetworkSettings)
    travel: TravelSettings = Field(default_factory=TravelSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    assignment: AssignmentSettings = Field(default_factory=AssignmentSettings)
    continuity: ContinuitySettings = Field(default_factory=ContinuitySettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    support: SupportSettings = Field(default_factory=SupportSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)

    @property
    def crs(self) -> str:
        """The working CRS (``network.crs``), metres."""
        return self.network.crs

    def matching(self) -> Settings:
        """Return the plain :class:`Settings` part (without nightly-job sections)."""
        return Settings.model_validate(
            {name: getattr(self, name) for name in Settings.model_fields})

    def fingerprint(self) -> str:
        """Return a short stable hash of the sections that change a match.

        Planning and report settings do not change assignments and are left
        out, so that a map option never invalidates a cached run.
        """
        sections = {"network", "travel", "scoring", "assignment"}
        if self.continuity != ContinuitySettings():
            sections.add("continuity")  # defaults keep the hashes of earlier runs
        return _hash(self.model_dump(mode="json", include=sections))


def _hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- nightly job


class StoreOptions(_Frozen):
    """``[store]``: where the nightly job reads its inputs and writes its results.

    Attributes
    ----------
    url
        GeoPackage path (``.gpkg``) or ``postgresql+psycopg://user@host:port/db``.
        Never holds a password.
    password_env
        Environment variable holding the database password.
    password_file
        File holding the password; must be owner-only (mode 0600).
    db_schema
        PostgreSQL schema of the tables (TOML key ``schema``, default ``public``).
    """

    toml_section: ClassVar[str] = "store"

    url: str = Field(min_length=1)
    password_env: str | None = None
    password_file: Path | None = None
    db_schema: str = Field(default="public", alias="schema",
                           pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

    @field_validator("url")
    @classmethod
    def _no_secret(cls, value: str) -> str:
        if "://" in value and "@" in value.split("://", 1)[1].split("/", 1)[0]:
            userinfo = value.split("://", 1)[1].split("@", 1)[0]
            if ":" in userinfo:
                raise ValueError(_("the url holds a password; remove it and use password_env "
                                   "or password_file"))
        if "password=" in value.lower():
            raise ValueError(_("the url holds a password parameter; remove it and use "
                               "password_env or password_file"))
        return value


class OsmSource(_Frozen):
    """``[network]`` keys of the nightly job that name files (speed keys are
    :class:`NetworkSettings`).

    Attributes
    ----------
    osm
        OSM file (``.osm``, ``.osm.bz2``, ``.osm.pbf``...).
    cache_dir
        Folder of the cached network (default: ``network-cache`` beside the OSM file).
    """

    toml_section: ClassVar[str] = "network"

    osm: Path
    cache_dir: Path | None = None

    @property
    def cache(self) -> Path:
        """The cache folder in use."""
        return self.cache_dir or self.osm.parent / "network-cache"


class JobOptions(_Frozen):
    """``[job]``: retention, run date and logging.

    Attributes
    ----------
    retention_runs
        Runs kept in ``match_runs`` (with their results); the latest
        successful run is always kept.
    history_days
        Days ``match_history`` rows are kept (by their run date, counted back
        from the run date of the job); older rows are deleted with the
        retention deletes. Default 730 (two years of waiting statistics).
    as_of
        Run date for waiting times (default: the day the job runs).
    log_file
        JSON-lines log file (default: stderr).
    lock_wait_seconds
        Seconds the job waits, with a message on stderr, while another run
        holds the store's run lock, before it exits with code 5 (default 0:
        at once, as a job started by a timer should).
    """

    toml_section: ClassVar[str] = "job"

    retention_runs: int = Field(default=30, ge=1)
    history_days: int = Field(default=730, ge=1)
    as_of: datetime.date | None = None
    log_file: Path | None = None
    lock_wait_seconds: float = Field(default=0.0, ge=0.0, le=86_400.0)


class NightlyConfig(Settings):
    """The nightly job's configuration: the :class:`Settings` tree plus the job's own keys.

    TOML: ``[store]`` (:class:`StoreOptions`), ``[job]`` (:class:`JobOptions`),
    ``[network]`` with ``osm`` and ``cache_dir`` (:class:`OsmSource`) besides
    the speed keys, and every section of :class:`Settings`.
    """

    store: StoreOptions
    source: OsmSource
    job: JobOptions = Field(default_factory=JobOptions)

    @property
    def settings(self) -> Settings:
        """The matching settings of the job (the :class:`Settings` part)."""
        return self.matching()

    def config_hash(self) -> str:
        """Return the hash of the matching settings (recorded as ``config_hash``)."""
        return self.fingerprint()


# --------------------------------------------------------------------------- loading

_OSM_KEYS = ("osm", "cache_dir")
_Model = TypeVar("_Model", bound=BaseModel)


def load(path: str | Path | None = None) -> Settings:
    """Load settings from a TOML file, or return the defaults.

    Parameters
    ----------
    path
        TOML file with optional sections ``[network]``, ``[travel]``,
        ``[scoring]``, ``[assignment]``, ``[planning]`` and ``[report]``.
        ``None`` gives the defaults.

    Raises
    ------
    InputError
        If the file cannot be read or holds unknown keys or invalid values;
        every problem is listed.
    """
    if path is None:
        return Settings()
    settings = settings_from_dict(_read_toml(Path(path)), source=str(path))
    _check_pool_municipalities(settings.scoring, source=str(path))
    return settings


def _check_pool_municipalities(scoring: ScoringSettings, *, source: str) -> None:
    """Check the numbers of ``[scoring.pools]`` against the 2024 municipalities (``data/``).

    Raises
    ------
    InputError
        Naming each pool and number that is no 2024 municipality, with the fix.
    """
    if not scoring.pools:
        return
    from matcher.io import registers as io_registers  # the register files: imported late

    current = io_registers.municipality_numbers()
    mapping = io_registers.read_mapping(io_registers.MAPPING_FILE)
    single = mapping[mapping["kind"].isin(["one_to_one", "merged"])]
    successor = dict(zip(single["old"], single["new"], strict=True))
    names = dict(zip(mapping["new"], mapping["name"], strict=True))
    problems: list[Problem] = []
    for name, codes in sorted(scoring.pools.items()):
        for code in codes:
            if code in current:
                continue
            new = successor.get(code)
            problems.append(Problem(source, (
                _("'{code}' is a pre-2024 number; write {new} ({new_name})").format(
                    code=code, new=new, new_name=names.get(new, "?")) if new else
                _("'{code}' is not a 2024 municipality number; write the kommunenummer of "
                  "data/kommuner_2024_S.geojson").format(code=code)),
                column=f"scoring.pools.{name}"))
    raise_if_problems(_("{source}: [scoring.pools] names municipalities that do not exist in "
                        "2024 (data/kommuner_2024_S.geojson)").format(source=source), problems)


def settings_from_dict(data: dict[str, Any], *, source: str = "config") -> Settings:
    """Build :class:`Settings` from parsed TOML (see :func:`load`).

    Raises
    ------
    InputError
        Listing every unknown key and bad value.
    """
    return _validate(Settings, data, source=source)


def load_nightly(path: str | Path) -> NightlyConfig:
    """Load the nightly job's configuration from TOML.

    Relative paths (``network.osm``, ``network.cache_dir``, ``store.url`` of a
    GeoPackage, ``store.password_file``, ``job.log_file``) are taken from the
    file's folder.

    Raises
    ------
    InputError
        Listing every unknown key and bad value at once.
    """
    path = Path(path)
    config = nightly_from_dict(_read_toml(path), base=path.resolve().parent, source=str(path))
    _check_pool_municipalities(config.scoring, source=str(path))
    return config


def nightly_from_dict(data: dict[str, Any], *, base: Path | None = None,
                      source: str = "config") -> NightlyConfig:
    """Build a :class:`NightlyConfig` from parsed TOML (see :func:`load_nightly`).

    Parameters
    ----------
    data
        The TOML document as a dict.
    base
        Folder that relative paths are relative to (default: the working folder).
    source
        Name used in problem messages.

    Raises
    ------
    InputError
        Listing every problem.
    """
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    problems: list[Problem] = []
    net = data.get("network", {})
    osm = {k: net.pop(k) for k in _OSM_KEYS if isinstance(net, dict) and k in net}
    if isinstance(net, dict) and not net:
        data.pop("network", None)
    if "store" not in data:
        problems.append(Problem(source, _("missing store section; add one with url = "
                                          "\"file.gpkg\" or a postgresql+psycopg:// url"),
                                column="store"))
    if "osm" not in osm:
        problems.append(Problem(source, _("missing network.osm (e.g. osm = \"roads.osm.pbf\"); "
                                          "the nightly job builds the network from it"),
                                column="network.osm"))
    data["store"] = _resolve(data.get("store", {}), base, ("password_file",), url_key="url")
    data["job"] = _resolve(data.get("job", {}), base, ("log_file",))
    data["source"] = _resolve(osm, base, _OSM_KEYS)

    def rename(loc: list[str]) -> str | None:
        if loc[:1] == ["source"]:
            loc = ["network", *loc[1:]]
        elif loc[:2] == ["store", "db_schema"]:
            loc = ["store", "schema"]
        where = ".".join(loc)
        return None if where in ("network", "network.osm", "store") and any(
            p.column in (where, "network.osm") for p in problems) else where

    return _validate(NightlyConfig, data, source=source, nightly=True, problems=problems,
                     rename=rename)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(_("{path}: configuration file not found; check the path")
                         .format(path=path)) from None
    except IsADirectoryError:
        raise InputError(_("{path}: is a folder; give the configuration file")
                         .format(path=path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(_("{path}: not valid TOML ({error}); fix the syntax")
                         .format(path=path, error=exc)) from None


def _number(value: float) -> str:
    """A setting's number as the current language writes it, with the digits it has."""
    number = float(value)
    text = f"{number:.6g}"
    if "e" in text:
        return text
    return format_number(number, len(text.partition(".")[2]))


_PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "finite_number": N_("Input should be a finite number"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "literal_error": N_("Input should be one of {expected}"),
    "string_type": N_("Input should be a valid string"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_type": N_("Input should be a valid number"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "dict_type": N_("Input should be a valid dictionary"),
    "model_type": N_("Input should be a table of keys"),
    "tuple_type": N_("Input should be a valid tuple"),
    "list_type": N_("Input should be a valid list"),
    "path_type": N_("Input should be a path (text)"),
    "date_type": N_("Input should be a valid date (YYYY-MM-DD)"),
    "date_parsing": N_("Input should be a valid date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("Input should be a valid date (YYYY-MM-DD)"),
}
"""Our words for pydantic's error types, by ``type`` (fields from the error's ``ctx``).
Other types keep pydantic's own English text."""


def _error_text(err: Any) -> str:
    """The text of one pydantic error in the current language."""
    ctx = err.get("ctx") or {}
    if err["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])  # our validators' own text, translated when raised
    if err["type"] == "string_too_short" and isinstance(ctx.get("min_length"), int):
        n = ctx["min_length"]
        return ngettext("String should have at least {n} character",
                        "String should have at least {n} characters", n).format(n=n)
    template = _PYDANTIC_MESSAGES.get(err["type"])
    if template is None:
        return str(err["msg"])
    fields = {k: _number(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
              for k, v in ctx.items()}
    if "expected" in fields:
        fields["expected"] = ", ".join(re.findall(r"'[^']*'", str(fields["expected"]))
                                       ) or fields["expected"]
    try:
        return _(template).format(**fields)
    except (KeyError, IndexError):
        return str(err["msg"])


def _validate(model: type[_Model], data: dict[str, Any], *, source: str, nightly: bool = False,
              problems: list[Problem] | None = None,
              rename: Callable[[list[str]], str | None] | None = None) -> _Model:
    """Validate ``data`` as ``model``; raise one InputError with every problem."""
    problems = list(problems or [])
    result: _Model | None = None
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        problems += _problems(exc, source=source, rename=rename)
    if problems or result is None:
        n = len(problems)
        lead = (ngettext("{source}: invalid nightly configuration ({n} problem)",
                         "{source}: invalid nightly configuration ({n} problems)", n)
                if nightly else
                ngettext("{source}: invalid configuration ({n} problem)",
                         "{source}: invalid configuration ({n} problems)", n))
        raise InputError(lead.format(source=source, n=n), problems)
    return result


def _problems(exc: ValidationError, *, source: str, prefix: str = "",
              rename: Callable[[list[str]], str | None] | None = None) -> list[Problem]:
    """One :class:`Problem` per pydantic error, named by its TOML key, in our words."""
    problems = []
    for err in exc.errors():
        loc = ([prefix] if prefix else []) + [str(p) for p in err["loc"]]
        where = rename(loc) if rename else ".".join(loc)
        if where is None:
            continue
        problems.append(Problem(source, _("{error}; fix or remove this key")
                                .format(error=_error_text(err)), column=where))
    return problems


def _input_error(exc: ValidationError, prefix: str) -> InputError:
    """The :class:`InputError` for settings built in code (``Settings(...)``, ``model_copy``)."""
    problems = _problems(exc, source="settings", prefix=prefix)
    n = len(problems)
    return InputError(ngettext("{source}: invalid configuration ({n} problem)",
                               "{source}: invalid configuration ({n} problems)", n)
                      .format(source="settings", n=n), problems)


def _resolve(section: Any, base: Path | None, keys: tuple[str, ...], *,
             url_key: str | None = None) -> Any:
    """Make the path keys of a section absolute against ``base``."""
    if not isinstance(section, dict) or base is None:
        return section
    out = dict(section)
    for key in keys:
        if isinstance(out.get(key), str) and not Path(out[key]).expanduser().is_absolute():
            out[key] = str(base / Path(out[key]).expanduser())
    if url_key and isinstance(out.get(url_key), str) and "://" not in out[url_key]:
        url = Path(out[url_key]).expanduser()
        out[url_key] = str(url if url.is_absolute() else base / url)
    return out
