"""Frozen settings: speeds, ferries, travel-time limits, score weights, solver.

All settings are immutable pydantic models. Load them from TOML with
:func:`load`; every section and key is optional and falls back to the
defaults documented here and in the README.

Speed defaults (km/h) follow the Norwegian rules in *Forskrift om
kjøresatsar / fartsgrenser* (Vegtrafikkloven § 6 and "Forskrift om
fartsgrenser"): 50 km/h in built-up areas (``NO:urban``), 80 km/h outside
(``NO:rural``), up to 110 km/h on motorways, 30 km/h common on residential
streets and walking pace on *gatetun* (living streets). They apply only where
OSM has no usable ``maxspeed`` tag.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from matcher.errors import InputError, Problem

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


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
        Multiplier on every road speed (1.0 = drive at the limit).
    ferry_kmh
        Crossing speed in km/h for ferries without a ``duration`` tag
        (18 km/h is about 10 knots, typical of Norwegian car ferries).
    ferry_wait_minutes
        Average waiting time in minutes at boarding, added to every ferry leg.
    crs
        Projected CRS of node coordinates, in metres (EPSG:25833 = UTM 33N).
    """

    highway_kmh: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_HIGHWAY_KMH))
    zone_kmh: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_ZONE_KMH))
    speed_factor: float = Field(default=1.0, gt=0.0, le=2.0)
    ferry_kmh: float = Field(default=18.0, gt=0.0)
    ferry_wait_minutes: float = Field(default=10.0, ge=0.0)
    crs: str = "EPSG:25833"

    @field_validator("highway_kmh", "zone_kmh")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not v > 0]
        if bad:
            raise ValueError(f"speeds must be > 0 km/h; fix {', '.join(sorted(bad))}")
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
        For each need tag, the competence tags that meet it (any one suffices).
        A need that is itself a known competence tag requires that tag.
    competences
        Known competence tags; anything else in the homes table is an error.
    """

    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "school": 0.16,
            "network": 0.10,
            "parents": 0.08,
            "municipality": 0.08,
            "kinship": 0.58,
        }
    )
    kinship_first: bool = True
    bands_minutes: tuple[float, ...] = (15.0, 30.0, 45.0, 60.0)
    decay: Literal["band", "smooth"] = "band"
    half_life_minutes: float = Field(default=30.0, gt=0.0)
    default_max_school_minutes: float = Field(default=45.0, gt=0.0)
    need_competences: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "trauma": ("trygg-base", "TBO-F", "EFST"),
            "behaviour": ("TBO-F",),
            "attachment": ("trygg-base", "EFST"),
            "disability": ("disability",),
            "teen": ("teen", "TBO-F"),
            "substance": ("TBO-F",),
        }
    )
    competences: tuple[str, ...] = ("TBO-F", "trygg-base", "EFST", "disability", "teen", "PRIDE")

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        allowed = {"school", "network", "parents", "municipality", "kinship"}
        unknown = set(value) - allowed
        if unknown:
            raise ValueError(
                f"unknown weight(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        if any(v < 0 for v in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be >= 0 and not all 0")
        return value

    @field_validator("bands_minutes")
    @classmethod
    def _bands(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(b <= 0 for b in value) or list(value) != sorted(set(value)):
            raise ValueError("bands_minutes must be positive and strictly ascending")
        return value

    @model_validator(mode="after")
    def _kinship_first(self) -> ScoringSettings:
        if self.kinship_first:
            others = sum(v for k, v in self.weights.items() if k != "kinship")
            if not self.weights.get("kinship", 0.0) > others:
                raise ValueError(
                    f"kinship first: weights.kinship ({self.weights.get('kinship', 0.0)}) must "
                    f"exceed the sum of the other weights ({others:g}); raise it or set "
                    "kinship_first = false"
                )
        return self


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
        Needs that may be met by training after placement (at ``training_penalty``).
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
    """

    solver: Literal["highs", "cbc"] = "highs"
    time_limit_seconds: float = Field(default=120.0, gt=0.0)
    mip_gap: float = Field(default=0.0, ge=0.0, lt=1.0)
    sibling_policy: Literal["together", "prefer_together", "independent"] = "together"
    split_penalty: float = Field(default=0.25, ge=0.0)
    trainable_needs: tuple[str, ...] = ("teen",)
    kinship_training: bool = True
    training_penalty: float = Field(default=0.10, ge=0.0)
    urgency_weight: dict[Literal["acute", "planned"], float] = Field(
        default_factory=lambda: {"acute": 2.0, "planned": 1.0}
    )
    waiting_weight_per_year: float = Field(default=0.5, ge=0.0)
    shortlist_k: int = Field(default=5, ge=1, le=100)


class Settings(_Frozen):
    """All settings of one matching run."""

    network: NetworkSettings = Field(default_factory=NetworkSettings)
    travel: TravelSettings = Field(default_factory=TravelSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    assignment: AssignmentSettings = Field(default_factory=AssignmentSettings)

    def fingerprint(self) -> str:
        """Return a short stable hash of all settings."""
        return _hash(self.model_dump(mode="json"))


def _hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load(path: str | Path | None = None) -> Settings:
    """Load settings from a TOML file, or return the defaults.

    Parameters
    ----------
    path
        TOML file with optional sections ``[network]``, ``[travel]``,
        ``[scoring]`` and ``[assignment]``. ``None`` gives the defaults.

    Raises
    ------
    InputError
        If the file cannot be read or holds unknown keys or invalid values;
        every problem is listed.
    """
    if path is None:
        return Settings()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: configuration file not found; check the --config path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(
                source=str(path),
                column=".".join(str(p) for p in err["loc"]),
                message=f"{err['msg']}; fix or remove this key",
            )
            for err in exc.errors()
        ]
        raise InputError(f"{path}: invalid configuration", problems) from None
