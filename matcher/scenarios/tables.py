"""The synthetic scenarios' vocabulary and distribution tables (ages, needs, urgency,
home kinds, capacities, competences, age ranges) and the draws that use them; shared by
the fjord sample and the Oslo scenario, so both draw children and homes alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from matcher.config import DEFAULT_CRS

__all__ = [
    "CAR_FERRY_DURATION",
    "CHILD_COLUMNS",
    "COMPETENCE_TAGS",
    "CONTACT_COLUMNS",
    "CONTACT_KINDS",
    "HOME_COLUMNS",
    "HOME_KINDS",
    "NEED_TAGS",
    "PAIR_COLUMNS",
    "PASSENGER_FERRY_DURATION",
    "REFERENCE_DATE",
    "SCHOOL_COLUMNS",
    "SIZES",
    "WORK_CRS",
    "Size",
    "Tags",
]


Size = Literal["small", "region", "national"]
SIZES: tuple[str, ...] = ("small", "region", "national")
REFERENCE_DATE = "2026-11-01"
"""Fixed 'today' of the scenario; every ``waiting_since`` lies before it in 2026."""
WORK_CRS = DEFAULT_CRS
"""CRS the scenario is laid out in (metres)."""

NEED_TAGS: tuple[str, ...] = (
    "trauma", "behaviour", "attachment", "disability", "teen", "substance",
)
COMPETENCE_TAGS: tuple[str, ...] = ("TBO-F", "trygg-base", "EFST", "disability", "teen", "PRIDE")
HOME_KINDS: tuple[str, ...] = ("general", "kinship", "emergency", "specialized")
CONTACT_KINDS: tuple[str, ...] = ("parent", "relative", "friend", "activity")

CHILD_COLUMNS: tuple[str, ...] = (
    "child_id", "lon", "lat", "school_lon", "school_lat", "municipality", "age", "needs",
    "sibling_group", "urgency", "waiting_since", "max_school_minutes", "avoid_municipalities",
    "languages", "language_required", "culture", "heard_on", "relief_weekends",
)
CONTACT_COLUMNS: tuple[str, ...] = ("child_id", "kind", "lon", "lat", "weight", "max_minutes")
HOME_COLUMNS: tuple[str, ...] = (
    "home_id", "lon", "lat", "municipality", "capacity", "competences", "min_age", "max_age",
    "kind", "kin_of", "accepts_sibling_groups", "languages", "culture", "own_children_ages",
)
SCHOOL_COLUMNS: tuple[str, ...] = ("school_id", "name", "lon", "lat", "kommunenummer")
PAIR_COLUMNS: tuple[str, ...] = ("child_id", "home_id")

CAR_FERRY_DURATION = "00:25"
PASSENGER_FERRY_DURATION = "00:15"

_NODE_ID_BASE = 1_000_000_000
_WAY_ID_BASE = 500_000_000
_KOMMUNENUMMER_BASE = 4691
_SYNTHETIC = "SYNTHETIC"

# Name parts for fictional places; combinations that are real municipalities are dropped.
_NAME_HEADS = (
    "Fjord", "Nord", "Aust", "Vest", "Sol", "Kvit", "Bjørk", "Eike", "Lyng", "Stein", "Myr",
    "Kjel", "Rå", "Furu", "Havr", "Skar", "Tjørn", "Ulv", "Gran", "Hegg", "Lind", "Selje",
    "Ask", "Rogn", "Hov", "Brekke", "Strand", "Haug", "Berg", "Li",
)
_NAME_TAILS = (
    "vik", "nes", "dal", "øy", "våg", "sund", "heim", "bø", "eid", "mo", "haug", "vang",
    "seter", "lia", "stad", "fjell",
)
_REAL_NAMES = frozenset({"Vestnes", "Lyngdal", "Askøy", "Norddal"})

# --- distributions (keep in sync with the module docstring) -------------------------------
_AGE_BANDS = ((0, 5, 0.05), (6, 12, 0.40), (13, 17, 0.55))
_SIBLING_SHARE = 0.15
_GROUP_SIZE_P = {2: 0.7, 3: 0.3}
_ACUTE_SHARE = 0.20
_MAX_SCHOOL_SHARE = 0.10
_CONTACTS_P = (0.08, 0.20, 0.27, 0.22, 0.15, 0.08)  # 1..6 contacts
_HAS_PARENTS = 0.85
_KINSHIP_SHARE = 0.10
_EMERGENCY_SHARE = 0.08
_SPECIALIZED_SHARE = 0.12
_KINSHIP_MAX_FAMILY_SHARE = 0.20
_RURAL_HOME_SHARE = 0.25
_NORTH_HOME_FACTOR = 0.6
_CAPACITY_P = {
    "general": (0.15, 0.50, 0.27, 0.08),
    "emergency": (0.25, 0.50, 0.25, 0.0),
    "specialized": (0.20, 0.65, 0.15, 0.0),
}
_COMPETENCE_P = {
    "general": {"PRIDE": 0.85, "trygg-base": 0.25, "teen": 0.10, "EFST": 0.04,
                "disability": 0.04, "TBO-F": 0.01},
    "emergency": {"PRIDE": 0.90, "trygg-base": 0.50, "TBO-F": 0.10, "teen": 0.15},
    "specialized": {"trygg-base": 0.50, "teen": 0.35, "disability": 0.12, "PRIDE": 0.70},
    "kinship": {"PRIDE": 0.25, "trygg-base": 0.10},
}
_AGE_RANGES = {
    "general": (((0, 5), (0, 12), (0, 17), (4, 17), (6, 17), (10, 17), (13, 17)),
                (0.08, 0.20, 0.30, 0.10, 0.14, 0.10, 0.08)),
    "emergency": (((0, 17), (0, 12), (6, 17)), (0.70, 0.20, 0.10)),
    "specialized": (((6, 17), (10, 17), (13, 17)), (0.40, 0.35, 0.25)),
}
_SIBLING_ACCEPT_P = {"general": 0.60, "emergency": 0.50, "specialized": 0.10}


@dataclass(frozen=True)
class _Profile:
    bbox: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    n_towns: int
    n_north: int
    side: tuple[int, int]  # grid nodes per side (odd numbers drawn in this range)
    spacing_m: tuple[float, float]
    town_gap_m: float
    rural_step_m: float
    motorway_step_m: float
    fjord_rel_y: float  # fjord centreline as a fraction of the box height
    fjord_width_m: float
    fjord_amplitude_m: float
    fjord_wavelength_m: float
    n_municipalities: int
    n_children: int
    n_homes: int
    free_places_per_child: float  # cap on free places in general + specialized homes
    n_locked: int
    n_vetoes: int


_PROFILES: dict[str, _Profile] = {
    "small": _Profile(
        bbox=(5.0, 60.2, 6.5, 60.9), n_towns=6, n_north=2, side=(13, 27),
        spacing_m=(95.0, 125.0), town_gap_m=6000.0, rural_step_m=150.0, motorway_step_m=250.0,
        fjord_rel_y=0.64, fjord_width_m=3000.0, fjord_amplitude_m=1500.0,
        fjord_wavelength_m=45000.0, n_municipalities=4, n_children=60, n_homes=150,
        free_places_per_child=2.5, n_locked=2, n_vetoes=4,
    ),
    "region": _Profile(
        bbox=(5.0, 60.2, 6.5, 60.9), n_towns=30, n_north=8, side=(19, 47),
        spacing_m=(85.0, 115.0), town_gap_m=4000.0, rural_step_m=40.0, motorway_step_m=100.0,
        fjord_rel_y=0.66, fjord_width_m=3000.0, fjord_amplitude_m=1500.0,
        fjord_wavelength_m=45000.0, n_municipalities=5, n_children=300, n_homes=2000,
        free_places_per_child=1.0, n_locked=3, n_vetoes=10,
    ),
    "national": _Profile(
        bbox=(4.9, 59.4, 9.0, 62.3), n_towns=300, n_north=75, side=(21, 61),
        spacing_m=(80.0, 110.0), town_gap_m=4000.0, rural_step_m=40.0, motorway_step_m=50.0,
        fjord_rel_y=0.70, fjord_width_m=4000.0, fjord_amplitude_m=4000.0,
        fjord_wavelength_m=90000.0, n_municipalities=9, n_children=1000, n_homes=10000,
        free_places_per_child=1.0, n_locked=3, n_vetoes=25,
    ),
}

Tags = tuple[tuple[str, str], ...]
_Attach = Callable[[int, float, float], int]  # (town, x, y) -> nearest node of that town


def _draw_needs(age: np.ndarray, rng: np.random.Generator) -> tuple[str, ...]:
    n = len(age)
    u = rng.random((len(NEED_TAGS), n))
    p = np.vstack([
        np.full(n, 0.40),                       # trauma
        np.where(age >= 8, 0.22, 0.06),         # behaviour
        np.where(age < 10, 0.30, 0.12),         # attachment
        np.full(n, 0.05),                       # disability
        np.where(age >= 13, 0.65, 0.0),         # teen
        np.where(age >= 14, 0.15, 0.0),         # substance
    ])
    has = u < p
    tags = np.array(NEED_TAGS)
    return tuple(";".join(tags[has[:, i]]) for i in range(n))


def _capacity_p(kind: str, free_places: float, n_homes: int) -> np.ndarray:
    """Capacity 0..3 probabilities; general and specialized homes are full (capacity 0)
    often enough that ``n_homes`` of them offer at most about ``free_places`` places."""
    p = np.array(_CAPACITY_P[kind])
    if kind == "emergency":
        return p
    mean_free = (p[1:] * np.arange(1, 4)).sum() / p[1:].sum()
    full = 1 - free_places / (mean_free * n_homes)
    if full <= p[0]:
        return p
    return np.concatenate(([full], p[1:] / p[1:].sum() * (1 - full)))


def _draw_competences(kinds: np.ndarray, rng: np.random.Generator) -> list[str]:
    h = len(kinds)
    has = np.zeros((len(COMPETENCE_TAGS), h), dtype=bool)
    u = rng.random((len(COMPETENCE_TAGS), h))
    for kind, probs in _COMPETENCE_P.items():
        sel = kinds == kind
        for tag, prob in probs.items():
            row = COMPETENCE_TAGS.index(tag)
            has[row] |= sel & (u[row] < prob)
    spec = kinds == "specialized"
    tbo_first = rng.random(h) < 0.6
    both = rng.random(h) < 0.15
    has[COMPETENCE_TAGS.index("TBO-F")] |= spec & (tbo_first | both)
    has[COMPETENCE_TAGS.index("EFST")] |= spec & (~tbo_first | both)
    tags = np.array(COMPETENCE_TAGS)
    return [";".join(tags[has[:, i]]) for i in range(h)]


# --- the child's voice, language, culture and household (issue 13) --------------------------
# Drawn from their own random stream (seed, 13), so the other columns keep their values.

_CHILD_LANGUAGES_P = {
    "": 0.08, "nb": 0.42, "nn": 0.24, "nb;nn": 0.06, "nb;so": 0.04, "nb;ar": 0.04,
    "nb;pl": 0.03, "nb;ti": 0.02, "nb;uk": 0.02, "nb;se": 0.02, "uk": 0.015, "ar": 0.01,
    "so": 0.01, "ti": 0.005,
}
"""Languages a child lists (ISO 639-1; western Norway: bokmål and nynorsk, then the
largest immigrant languages and Northern Sami); "" = none listed."""
_LANGUAGE_REQUIRED_SHARE = 0.6
"""Share of children without Norwegian (no ``nb``/``nn``) whose language is required."""
_CHILD_CULTURE_BY_LANGUAGE = {
    "so": {"muslim": 0.7}, "ar": {"muslim": 0.6}, "ti": {"christian": 0.6},
    "uk": {"christian": 0.5}, "pl": {"christian": 0.6}, "se": {"sami": 0.8},
}
"""Culture tag probabilities given a listed language (the first match counts)."""
_CHILD_CULTURE_P = {"christian": 0.07, "humanist": 0.02, "muslim": 0.01}
"""Culture tags of children without a language-linked tag (else none)."""
_AVOID_SHARE = 0.06
"""Share of children who do not want to live in one other municipality of the region."""
_HEARD_P = {"recent": 0.75, "stale": 0.10, "never": 0.15}
"""Children aged 7 or more: heard 0-150 days ago, 181-400 days ago, or never."""
_CONTACT_LIMIT_P = {
    "friend": ((20.0, 30.0, 45.0), (0.05, 0.06, 0.04)),
    "activity": ((20.0, 30.0, 45.0), (0.06, 0.06, 0.03)),
    "relative": ((45.0, 60.0), (0.03, 0.03)),
}
"""``max_minutes`` choices and their probabilities by contact kind (else no limit)."""
_HOME_LANGUAGES_P = {"nb": 0.62, "nn": 0.38}
"""First language of a home."""
_HOME_EXTRA_LANGUAGE_P = {"en": 0.30, "nn": 0.10, "nb": 0.10, "pl": 0.02, "ar": 0.02,
                          "so": 0.015, "uk": 0.015, "se": 0.01, "ti": 0.005}
"""Further languages of a home (independent draws)."""
_HOME_CULTURE_P = {"christian": 0.25, "humanist": 0.08, "muslim": 0.04, "sami": 0.02}
"""Culture tags of a home (independent draws)."""
_OWN_CHILDREN_P = (0.45, 0.25, 0.22, 0.08)
"""Homes with 0, 1, 2, 3 own children living at home; ages uniform 0-20 years."""


def _pick(options: dict[str, float], rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` keys of ``options`` drawn with the given probabilities (normalised)."""
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _draw_child_voice(age: np.ndarray, municipality: np.ndarray, municipalities: list[str],
                      rng: np.random.Generator, *, reference_date: str = REFERENCE_DATE
                      ) -> dict[str, np.ndarray]:
    """Draw ``avoid_municipalities, languages, language_required, culture, heard_on``.

    Returns text columns (``""`` = empty), one value per child.
    """
    n = len(age)
    languages = _pick(_CHILD_LANGUAGES_P, rng, n)
    no_norwegian = np.array([bool(x) and not ({"nb", "nn"} & set(x.split(";")))
                             for x in languages])
    required = np.where(no_norwegian & (rng.random(n) < _LANGUAGE_REQUIRED_SHARE), "yes", "")
    u = rng.random(n)
    culture = np.full(n, "", dtype=object)
    for i, langs in enumerate(languages):
        linked = next((_CHILD_CULTURE_BY_LANGUAGE[x] for x in langs.split(";")
                       if x in _CHILD_CULTURE_BY_LANGUAGE), None)
        table = linked if linked is not None else _CHILD_CULTURE_P
        acc = 0.0
        for tag, p in table.items():
            acc += p
            if u[i] < acc:
                culture[i] = tag
                break
    avoid = np.full(n, "", dtype=object)
    wants = rng.random(n) < _AVOID_SHARE
    other = rng.integers(0, max(len(municipalities) - 1, 1), n)
    for k in np.flatnonzero(wants):
        choices = [m for m in municipalities if m != municipality[k]]
        if choices:
            avoid[k] = choices[int(other[k]) % len(choices)]
    state = _pick(_HEARD_P, rng, n)
    days = np.where(state == "recent", rng.integers(0, 151, n), rng.integers(181, 401, n))
    dates = (np.datetime64(reference_date) - days.astype("timedelta64[D]")).astype(str)
    heard = np.where((age >= 7) & (state != "never"), dates, "")
    return {"avoid_municipalities": avoid, "languages": languages,
            "language_required": required, "culture": culture, "heard_on": heard.astype(object)}


def _draw_contact_limits(kinds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``max_minutes`` per contact (NaN = no limit), by kind (:data:`_CONTACT_LIMIT_P`)."""
    out = np.full(len(kinds), np.nan)
    u = rng.random(len(kinds))
    for kind, (values, probs) in _CONTACT_LIMIT_P.items():
        edges = np.cumsum(probs)
        pick = np.searchsorted(edges, u, side="right")
        hit = (kinds == kind) & (pick < len(values))
        out[hit] = np.asarray(values)[pick[hit]]
    return out


def _draw_home_household(kinds: np.ndarray, rng: np.random.Generator
                         ) -> dict[str, np.ndarray]:
    """Draw ``languages, culture, own_children_ages`` per home (text, ``""`` = empty)."""
    n = len(kinds)
    first = _pick(_HOME_LANGUAGES_P, rng, n)
    extra = {k: rng.random(n) < p for k, p in _HOME_EXTRA_LANGUAGE_P.items()}
    languages = np.array([";".join(sorted({first[i]} | {k for k, hit in extra.items()
                                                         if hit[i]})) for i in range(n)],
                         dtype=object)
    tags = {k: rng.random(n) < p for k, p in _HOME_CULTURE_P.items()}
    culture = np.array([";".join(k for k, hit in tags.items() if hit[i]) for i in range(n)],
                       dtype=object)
    n_own = rng.choice(len(_OWN_CHILDREN_P), size=n, p=np.asarray(_OWN_CHILDREN_P))
    ages = rng.integers(0, 21, (n, len(_OWN_CHILDREN_P)))
    own = np.array([";".join(str(a) for a in sorted(ages[i, :n_own[i]])) for i in range(n)],
                   dtype=object)
    return {"languages": languages, "culture": culture, "own_children_ages": own}
