"""The fjord scenario's municipalities, schools, children, contacts, homes and locked
placements, drawn from the distribution tables of :mod:`matcher.scenarios.fjord`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from matcher.config import ScoringSettings
from matcher.rules import accepted_competences
from matcher.scenarios._roads import _Geo, _Roads
from matcher.scenarios.tables import (
    _ACUTE_SHARE,
    _AGE_BANDS,
    _AGE_RANGES,
    _CONTACTS_P,
    _EMERGENCY_SHARE,
    _GROUP_SIZE_P,
    _HAS_PARENTS,
    _KINSHIP_MAX_FAMILY_SHARE,
    _KINSHIP_SHARE,
    _MAX_SCHOOL_SHARE,
    _NORTH_HOME_FACTOR,
    _RURAL_HOME_SHARE,
    _SIBLING_ACCEPT_P,
    _SIBLING_SHARE,
    _SPECIALIZED_SHARE,
    HOME_KINDS,
    _capacity_p,
    _draw_competences,
    _draw_needs,
    _Profile,
)

__all__: list[str] = []

# municipalities, schools, people, homes


def _municipalities(geo: _Geo) -> list[shapely.Geometry]:
    pts = shapely.points(geo.cx, geo.cy)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=geo.region))
    owner = np.array([int(np.argmax(shapely.contains_xy(c, geo.cx, geo.cy))) for c in cells])
    town_cell = np.empty(len(cells), dtype=object)
    town_cell[owner] = cells
    land = shapely.difference(geo.region, geo.fjord)
    return [shapely.intersection(shapely.union_all(town_cell[geo.muni == k]), land)
            for k in range(int(geo.muni.max()) + 1)]


def _near_town(roads: _Roads, town: np.ndarray, radius_m: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random points within ``radius_m`` metres of a random road node of each ``town``."""
    lo = roads.town_start[town]
    count = roads.town_start[town + 1] - lo
    node = lo + np.floor(rng.random(len(town)) * count).astype(np.int64)
    return _jitter(roads.x[node], roads.y[node], radius_m, rng)


def _jitter(x: np.ndarray, y: np.ndarray, radius_m: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r = radius_m * np.sqrt(rng.random(len(x)))
    a = rng.uniform(0, 2 * np.pi, len(x))
    return x + r * np.cos(a), y + r * np.sin(a)


@dataclass(frozen=True)
class _Schools:
    x: np.ndarray
    y: np.ndarray
    town: np.ndarray
    name: tuple[str, ...]
    by_level: np.ndarray  # (towns, 3): school of a pupil aged 6-12, 13-15, 16-17 in that town


def _schools(geo: _Geo, roads: _Roads, rng: np.random.Generator) -> _Schools:
    """A combined school (small towns) or a barneskule and an ungdomsskule per town, and a
    vidaregåande skule in big towns and in each municipality's largest town."""
    n_towns = len(geo.cx)
    split = geo.side >= 19
    largest = np.zeros(n_towns, dtype=bool)
    largest[np.unique(geo.muni, return_index=True)[1]] = True
    upper = largest | (geo.side >= 31)
    rows: list[tuple[int, str]] = []
    by_level = np.full((n_towns, 3), -1, dtype=np.int64)
    for t in range(n_towns):
        if split[t]:
            by_level[t, 0], by_level[t, 1] = len(rows), len(rows) + 1
            rows += [(t, "barneskule"), (t, "ungdomsskule")]
        else:
            by_level[t, :2] = len(rows)
            rows.append((t, "skule"))
        if upper[t]:
            by_level[t, 2] = len(rows)
            rows.append((t, "vidaregåande skule"))
    for t in range(n_towns):  # 16-17: the nearest upper secondary school of the municipality
        cand = np.flatnonzero(upper & (geo.muni == geo.muni[t]))
        near = cand[np.argmin(np.hypot(geo.cx[cand] - geo.cx[t], geo.cy[cand] - geo.cy[t]))]
        by_level[t, 2] = by_level[near, 2]
    town = np.array([t for t, _ in rows], dtype=np.int64)
    x, y = _near_town(roads, town, 25.0, rng)
    names = tuple(f"{geo.names[t]} {kind} (syntetisk)" for t, kind in rows)
    return _Schools(x=x, y=y, town=town, name=names, by_level=by_level)


@dataclass(frozen=True)
class _People:
    x: np.ndarray
    y: np.ndarray
    town: np.ndarray
    age: np.ndarray
    needs: tuple[str, ...]
    school: np.ndarray  # school index or -1
    family: np.ndarray  # family index of each child
    group: np.ndarray  # sibling group number (1-based) or 0
    urgent: np.ndarray
    waiting_days: np.ndarray
    max_school: np.ndarray  # minutes, 0 = empty
    family_size: np.ndarray  # per family
    family_town: np.ndarray
    family_x: np.ndarray
    family_y: np.ndarray


def _children(geo: _Geo, roads: _Roads, schools: _Schools, p: _Profile,
              rng: np.random.Generator) -> _People:
    n = p.n_children
    n_groups = round(n * _SIBLING_SHARE / sum(k * v for k, v in _GROUP_SIZE_P.items()))
    sizes = rng.choice(list(_GROUP_SIZE_P), p=list(_GROUP_SIZE_P.values()), size=n_groups)
    sizes = sizes[np.cumsum(sizes) <= n]
    fam_size = rng.permutation(np.concatenate([sizes, np.ones(n - sizes.sum(), dtype=int)]))
    n_fam = len(fam_size)
    weight = roads.town_start[1:] - roads.town_start[:-1]
    fam_town = rng.choice(len(geo.cx), p=weight / weight.sum(), size=n_fam)
    fam_x, fam_y = _near_town(roads, fam_town, 150.0, rng)
    fam_urgent = rng.random(n_fam) < _ACUTE_SHARE
    fam_wait = np.where(fam_urgent, rng.integers(0, 31, n_fam), rng.integers(14, 301, n_fam))
    fam_group = np.zeros(n_fam, dtype=int)
    fam_group[fam_size > 1] = np.arange(1, (fam_size > 1).sum() + 1)

    family = np.repeat(np.arange(n_fam), fam_size)
    bands = np.array([b[:2] for b in _AGE_BANDS])
    band = rng.choice(len(_AGE_BANDS), p=[b[2] for b in _AGE_BANDS], size=n)
    age = rng.integers(bands[band, 0], bands[band, 1] + 1)
    needs = _draw_needs(age, rng)

    town = fam_town[family]
    has_school = age >= 6
    level = np.digitize(age, [13, 16])  # 0: 6-12, 1: 13-15, 2: 16-17
    school = np.where(has_school, schools.by_level[town, level], -1)
    limit = rng.choice([20, 25, 30, 60], size=n)
    limit = np.where((age < 10) | (limit == 60), limit, 60)
    max_school = np.where(has_school & (rng.random(n) < _MAX_SCHOOL_SHARE), limit, 0)
    return _People(x=fam_x[family], y=fam_y[family], town=town, age=age, needs=needs,
                   school=school, family=family, group=fam_group[family],
                   urgent=fam_urgent[family], waiting_days=fam_wait[family],
                   max_school=max_school, family_size=fam_size, family_town=fam_town,
                   family_x=fam_x, family_y=fam_y)


@dataclass(frozen=True)
class _Contacts:
    child: np.ndarray
    kind: np.ndarray  # index into CONTACT_KINDS
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray


def _contacts(geo: _Geo, roads: _Roads, people: _People, rng: np.random.Generator) -> _Contacts:
    n, n_fam, n_towns = len(people.age), len(people.family_size), len(geo.cx)
    # parents per family: 0, 1 or 2 locations
    fam_parents = np.where(rng.random(n_fam) < _HAS_PARENTS,
                           np.where(rng.random(n_fam) < 0.6, 1, 2), 0)
    away = rng.random((n_fam, 2)) < 0.30
    other = (people.family_town[:, None] + 1
             + np.floor(rng.random((n_fam, 2)) * (n_towns - 1)).astype(int)) % n_towns
    ptown = np.where(away, other, people.family_town[:, None])
    px, py = _near_town(roads, ptown.ravel(), 150.0, rng)
    px, py = px.reshape(n_fam, 2), py.reshape(n_fam, 2)

    total = rng.choice(np.arange(1, 7), p=_CONTACTS_P, size=n)
    n_par = np.minimum(fam_parents[people.family], total)
    child = np.repeat(np.arange(n), total)
    slot = np.arange(len(child)) - np.repeat(np.cumsum(total) - total, total)
    is_par = slot < n_par[child]
    kind = np.where(is_par, 0, rng.choice([1, 2, 3], p=[0.35, 0.35, 0.30], size=len(child)))
    away_p = np.array([0.0, 0.35, 0.05, 0.05])[kind]
    ctown = people.town[child]
    shift = 1 + np.floor(rng.random(len(child)) * (n_towns - 1)).astype(int)
    ctown = np.where(rng.random(len(child)) < away_p, (ctown + shift) % n_towns, ctown)
    x, y = _near_town(roads, ctown, 150.0, rng)
    fam = people.family[child]
    pslot = np.minimum(slot, 1)
    x = np.where(is_par, px[fam, pslot], x)
    y = np.where(is_par, py[fam, pslot], y)
    lo = np.array([1.0, 0.6, 0.4, 0.3])[kind]
    weight = np.where(kind == 0, 1.0, np.round(lo + rng.random(len(child)) * 0.3, 2))
    return _Contacts(child=child, kind=kind, x=x, y=y, weight=weight)


@dataclass(frozen=True)
class _Homes:
    x: np.ndarray
    y: np.ndarray
    muni: np.ndarray
    kind: tuple[str, ...]
    capacity: np.ndarray
    competences: tuple[str, ...]
    min_age: np.ndarray
    max_age: np.ndarray
    kin_family: np.ndarray  # family index for kinship homes, -1 otherwise
    accepts_siblings: np.ndarray


def _homes(geo: _Geo, roads: _Roads, people: _People, munis: list[shapely.Geometry],
           p: _Profile, rng: np.random.Generator) -> _Homes:
    h = p.n_homes
    n_fam, n_towns = len(people.family_size), len(geo.cx)
    n_kin = min(round(_KINSHIP_SHARE * h), round(_KINSHIP_MAX_FAMILY_SHARE * n_fam))
    n_em = round(_EMERGENCY_SHARE * h)
    n_sp = round(_SPECIALIZED_SHARE * h)
    n_gen = h - n_kin - n_em - n_sp
    kinds = np.repeat(np.array(HOME_KINDS), [n_gen, n_kin, n_em, n_sp])

    # locations of non-kinship homes: towns (by size, north shore thinner) or rural roads
    n_other = h - n_kin
    weight = (roads.town_start[1:] - roads.town_start[:-1]) * np.where(
        geo.north, _NORTH_HOME_FACTOR, 1.0)
    town = rng.choice(n_towns, p=weight / weight.sum(), size=n_other)
    tx, ty = _near_town(roads, town, 150.0, rng)
    anchor = roads.rural[rng.integers(0, len(roads.rural), size=n_other)]
    rx, ry = _jitter(roads.x[anchor], roads.y[anchor], 150.0, rng)
    is_rural = rng.random(n_other) < _RURAL_HOME_SHARE
    ox = np.where(is_rural, rx, tx)
    oy = np.where(is_rural, ry, ty)

    # kinship homes: one per chosen family, near that family
    kin_fam = np.sort(rng.choice(n_fam, size=n_kin, replace=False))
    where = rng.choice(3, p=[0.65, 0.20, 0.15], size=n_kin)
    ktown = people.family_town[kin_fam].copy()
    for i in range(n_kin):
        own = int(ktown[i])
        if where[i] == 1:
            same = np.flatnonzero((geo.muni == geo.muni[own]) & (np.arange(n_towns) != own))
            if len(same):
                ktown[i] = same[rng.integers(0, len(same))]
        elif where[i] == 2:
            ktown[i] = (own + 1 + rng.integers(0, n_towns - 1)) % n_towns
    kx, ky = _near_town(roads, ktown, 150.0, rng)

    x = np.concatenate([ox[:n_gen], kx, ox[n_gen:]])
    y = np.concatenate([oy[:n_gen], ky, oy[n_gen:]])
    kin_family = np.concatenate([np.full(n_gen, -1), kin_fam, np.full(n_em + n_sp, -1)])

    capacity = np.zeros(h, dtype=int)
    min_age = np.zeros(h, dtype=int)
    max_age = np.full(h, 17, dtype=int)
    accepts = np.zeros(h, dtype=bool)
    for kind in ("general", "emergency", "specialized"):
        sel = np.flatnonzero(kinds == kind)
        probs_cap = _capacity_p(kind, p.free_places_per_child * p.n_children, n_gen + n_sp)
        capacity[sel] = rng.choice(4, p=probs_cap, size=len(sel))
        ranges, probs = _AGE_RANGES[kind]
        pick = rng.choice(len(ranges), p=probs, size=len(sel))
        min_age[sel] = np.array(ranges)[pick, 0]
        max_age[sel] = np.array(ranges)[pick, 1]
        accepts[sel] = (capacity[sel] >= 2) & (rng.random(len(sel)) < _SIBLING_ACCEPT_P[kind])
    kin_sel = np.flatnonzero(kinds == "kinship")
    capacity[kin_sel] = people.family_size[kin_fam]
    accepts[kin_sel] = people.family_size[kin_fam] > 1
    competences = _draw_competences(kinds, rng)

    order = rng.permutation(h)
    x, y = x[order], y[order]
    muni = _locate(x, y, munis, geo)
    return _Homes(x=x, y=y, muni=muni, kind=tuple(kinds[order].tolist()),
                  capacity=capacity[order], competences=tuple(competences[i] for i in order),
                  min_age=min_age[order], max_age=max_age[order],
                  kin_family=kin_family[order], accepts_siblings=accepts[order])


def _locate(x: np.ndarray, y: np.ndarray, munis: list[shapely.Geometry], geo: _Geo) -> np.ndarray:
    """Municipality index of each point (nearest town's if the point is in none)."""
    inside = np.vstack([shapely.contains_xy(m, x, y) for m in munis])
    nearest = np.argmin(np.hypot(x[:, None] - geo.cx, y[:, None] - geo.cy), axis=1)
    return np.where(inside.any(axis=0), np.argmax(inside, axis=0), geo.muni[nearest])


def _meets(needs: str, competences: str, settings: ScoringSettings) -> bool:
    """Every need of ``needs`` (``a;b``) met by ``competences`` (:mod:`matcher.rules`)."""
    have = set(competences.split(";")) if competences else set()
    return all(have & set(accepted_competences(need, settings))
               for need in needs.split(";") if need)


def _locks(people: _People, homes: _Homes, child_muni: np.ndarray, p: _Profile,
           rng: np.random.Generator) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Locked placements and vetoes as (child index, home index) pairs."""
    n = len(people.age)
    settings = ScoringSettings()
    locked: list[tuple[int, int]] = []
    used: set[int] = set()
    for c in rng.permutation(n).tolist():
        if len(locked) >= p.n_locked:
            break
        if people.group[c]:
            continue
        ok = [
            k for k in range(len(homes.kind))
            if homes.kind[k] in ("general", "specialized") and homes.capacity[k] >= 1
            and homes.min_age[k] <= people.age[c] <= homes.max_age[k] and k not in used
            and homes.muni[k] == child_muni[c]
            and _meets(people.needs[c], homes.competences[k], settings)
        ]
        if ok:
            k = ok[int(rng.integers(0, len(ok)))]
            locked.append((c, k))
            used.add(k)

    vetoes: list[tuple[int, int]] = []
    locked_set = set(locked)
    kin = np.flatnonzero(homes.kin_family >= 0)
    if len(kin):
        k = int(kin[rng.integers(0, len(kin))])
        c = int(np.flatnonzero(people.family == homes.kin_family[k])[0])
        vetoes.append((c, k))
    tries = 0
    while len(vetoes) < p.n_vetoes and tries < 100 * p.n_vetoes:
        tries += 1
        c = int(rng.integers(0, n))
        same = np.flatnonzero(homes.muni == child_muni[c])
        if not len(same):
            continue
        pair = (c, int(same[rng.integers(0, len(same))]))
        if pair not in locked_set and pair not in vetoes:
            vetoes.append(pair)
    return locked, sorted(vetoes)
