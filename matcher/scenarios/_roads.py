"""The fjord scenario's geography and roads: the box, the fjord, towns, the road hierarchy,
roundabouts, the motorway and the ferries (EPSG:25833 metres)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from matcher.scenarios.tables import (
    _NAME_HEADS,
    _NAME_TAILS,
    _REAL_NAMES,
    CAR_FERRY_DURATION,
    PASSENGER_FERRY_DURATION,
    WORK_CRS,
    Tags,
    _Attach,
    _Profile,
)

__all__: list[str] = []

# geography: box, fjord, towns


@dataclass(frozen=True)
class _Geo:
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax (m): towns stay inside
    region: shapely.Geometry  # the lon/lat bounding box, in EPSG:25833 metres
    fjord_y0: float
    fjord_amp: float
    fjord_k: float  # 2 pi / wavelength (1/m)
    fjord_phase: float
    fjord_width: float
    fjord: shapely.Geometry
    cx: np.ndarray  # town centres (m)
    cy: np.ndarray
    side: np.ndarray  # grid nodes per side
    spacing: np.ndarray  # metres
    angle: np.ndarray  # radians
    radius: np.ndarray  # metres, centre to farthest grid node
    north: np.ndarray  # bool: north of the fjord
    names: tuple[str, ...]
    muni: np.ndarray  # municipality index of each town

    def fjord_y(self, x: np.ndarray) -> np.ndarray:
        return self.fjord_y0 + self.fjord_amp * np.sin(self.fjord_k * x + self.fjord_phase)

    def fjord_half(self, x: np.ndarray) -> np.ndarray:
        """Vertical half-thickness of the fjord at ``x`` (m)."""
        slope = self.fjord_amp * self.fjord_k * np.cos(self.fjord_k * x + self.fjord_phase)
        return self.fjord_width / 2 * np.sqrt(1 + slope**2)


def _layout(p: _Profile, rng: np.random.Generator) -> _Geo:
    to_xy = Transformer.from_crs("EPSG:4326", WORK_CRS, always_xy=True)
    west, south, east, north = p.bbox
    xs, ys = to_xy.transform([west, east, west, east], [south, south, north, north])
    box = (max(xs[0], xs[2]), max(ys[0], ys[1]), min(xs[1], xs[3]), min(ys[2], ys[3]))
    xmin, ymin, xmax, ymax = box
    region = shapely.transform(shapely.segmentize(shapely.box(west, south, east, north), 0.01),
                               lambda c: np.column_stack(to_xy.transform(c[:, 0], c[:, 1])))
    rxmin, _, rxmax, _ = region.bounds
    k = 2 * np.pi / p.fjord_wavelength_m
    phase = float(rng.uniform(0, 2 * np.pi))
    y0 = ymin + p.fjord_rel_y * (ymax - ymin)
    fx = np.linspace(rxmin - 10_000, rxmax + 10_000, 600)
    fy = y0 + p.fjord_amplitude_m * np.sin(k * fx + phase)
    fjord = shapely.buffer(shapely.linestrings(fx, fy), p.fjord_width_m / 2, cap_style="flat")

    n = p.n_towns
    side = rng.integers((p.side[0] - 1) // 2, (p.side[1] - 1) // 2 + 1, size=n) * 2 + 1
    side = np.sort(side)[::-1]  # biggest town first: town 0 is the regional centre
    spacing = rng.uniform(*p.spacing_m, size=n)
    angle = rng.uniform(-np.pi / 6, np.pi / 6, size=n)
    radius = (side - 1) / 2 * spacing * 1.15 + 150.0
    north_flag = np.zeros(n, dtype=bool)
    north_flag[1 + rng.choice(n - 1, size=p.n_north, replace=False)] = True

    # Towns keep clear of the fjord band (so no straight road between two towns of one shore
    # crosses the water) and of the box edges.
    band = p.fjord_amplitude_m + p.fjord_width_m / 2 * 1.1 + 2500.0
    edge = 3000.0
    cx = np.full(n, np.nan)
    cy = np.full(n, np.nan)
    for i in range(n):
        r = radius[i]
        if north_flag[i]:
            ylo, yhi = y0 + band + r, ymax - edge - r
        else:
            ylo, yhi = ymin + edge + r, y0 - band - r
        for _ in range(50):
            cand_x = rng.uniform(xmin + edge + r, xmax - edge - r, size=64)
            cand_y = rng.uniform(ylo, yhi, size=64)
            placed = ~np.isnan(cx)
            if placed.any():
                d = np.hypot(cand_x[:, None] - cx[placed], cand_y[:, None] - cy[placed])
                ok = (d >= r + radius[placed] + p.town_gap_m).all(axis=1)
            else:
                ok = np.ones(len(cand_x), dtype=bool)
            if ok.any():
                j = int(np.argmax(ok))
                cx[i], cy[i] = cand_x[j], cand_y[j]
                break
        else:  # pragma: no cover - profiles are sized to leave room
            raise RuntimeError(f"no room for town {i} of {n}; lower n_towns or town_gap_m")

    names = _place_names(n, rng)
    muni = _group_towns(cx, cy, p.n_municipalities)
    return _Geo(box=box, region=region, fjord_y0=y0, fjord_amp=p.fjord_amplitude_m, fjord_k=k,
                fjord_phase=phase, fjord_width=p.fjord_width_m, fjord=fjord, cx=cx, cy=cy,
                side=side, spacing=spacing, angle=angle, radius=radius, north=north_flag,
                names=names, muni=muni)


def _place_names(n: int, rng: np.random.Generator) -> tuple[str, ...]:
    pool = [h + t for h in _NAME_HEADS for t in _NAME_TAILS if h + t not in _REAL_NAMES]
    order = rng.permutation(len(pool))[:n]
    return tuple(pool[i] for i in order)


def _group_towns(cx: np.ndarray, cy: np.ndarray, k: int) -> np.ndarray:
    """Group towns into ``k`` compact municipalities: farthest-point seeds, then k-means."""
    seeds = [0]
    d = np.hypot(cx - cx[0], cy - cy[0])
    for _ in range(1, k):
        j = int(np.argmax(d))
        seeds.append(j)
        d = np.minimum(d, np.hypot(cx - cx[j], cy - cy[j]))
    kx, ky = cx[seeds].copy(), cy[seeds].copy()
    for _ in range(20):
        group = np.argmin(np.hypot(cx[:, None] - kx, cy[:, None] - ky), axis=1)
        for g in range(k):
            if (group == g).any():
                kx[g], ky[g] = cx[group == g].mean(), cy[group == g].mean()
    group = np.argmin(np.hypot(cx[:, None] - kx, cy[:, None] - ky), axis=1)
    present = np.unique(group)  # drop any emptied group; number the others west to east
    order = present[np.argsort(kx[present], kind="stable")]
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[group]


# road network


class _RoadBuilder:
    """Accumulate nodes (metres) and ways (node indices, tags)."""

    def __init__(self) -> None:
        self.x = np.empty(4096)
        self.y = np.empty(4096)
        self.n = 0
        self.ways: list[tuple[np.ndarray, Tags]] = []

    def nodes(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.atleast_1d(np.asarray(x, dtype=float))
        y = np.atleast_1d(np.asarray(y, dtype=float))
        need = self.n + len(x)
        if need > len(self.x):
            cap = max(need, 2 * len(self.x))
            self.x = np.resize(self.x, cap)
            self.y = np.resize(self.y, cap)
        self.x[self.n:need] = x
        self.y[self.n:need] = y
        idx = np.arange(self.n, need)
        self.n = need
        return idx

    def way(self, refs: np.ndarray, tags: Tags) -> None:
        self.ways.append((np.asarray(refs, dtype=np.int64), tags))

    def line(self, a: int, b: int, *, step: float, tags: Tags, rng: np.random.Generator,
             wiggle: float = 0.0, bow_m: float = 0.0) -> np.ndarray:
        """Add a way from node ``a`` to node ``b`` with interior nodes every ``step`` metres.

        Returns the indices of the new interior nodes.
        """
        ax, ay, bx, by = self.x[a], self.y[a], self.x[b], self.y[b]
        length = float(np.hypot(bx - ax, by - ay))
        m = max(2, int(np.ceil(length / step)))
        t = np.linspace(0.0, 1.0, m + 1)[1:-1]
        nx, ny = (ay - by) / length, (bx - ax) / length
        off = np.zeros_like(t)
        if wiggle > 0:
            waves = rng.integers(1, 4)
            amp = rng.uniform(-wiggle, wiggle) * length
            off = amp * np.sin(np.pi * t) * np.sin(waves * np.pi * t + rng.uniform(0, np.pi))
        off = off + bow_m * np.sin(np.pi * t)
        inner = self.nodes(ax + t * (bx - ax) + off * nx, ay + t * (by - ay) + off * ny)
        self.way(np.concatenate(([a], inner, [b])), tags)
        return inner


@dataclass(frozen=True)
class _Roads:
    x: np.ndarray  # metres, EPSG:25833
    y: np.ndarray
    ways: tuple[tuple[np.ndarray, Tags], ...]
    town_start: np.ndarray  # town t owns nodes [town_start[t], town_start[t + 1])
    rural: np.ndarray  # indices of interior nodes of roads between towns (home anchors)


def _hw(kind: str, *extra: tuple[str, str]) -> Tags:
    return (("highway", kind), *extra)


def _roads(geo: _Geo, p: _Profile, rng: np.random.Generator) -> _Roads:
    b = _RoadBuilder()
    n = len(geo.cx)
    town_start = np.zeros(n + 1, dtype=np.int64)
    reversed_done = False
    paths = []
    for t in range(n):
        town_start[t] = b.n
        has_reversed, path = _town_grid(b, geo, t, rng, reversed_row=not reversed_done)
        reversed_done |= has_reversed
        paths.append(path)
    town_start[n] = b.n
    for (a, z), s in zip(paths, geo.spacing.tolist(), strict=True):
        # a footway across one block from each town centre (not drivable)
        b.line(a, z, step=s / 2.5, tags=_hw("footway"), rng=rng, bow_m=s * 0.2)

    def attach(t: int, px: float, py: float) -> int:
        lo, hi = town_start[t], town_start[t + 1]
        return int(lo + np.argmin(np.hypot(b.x[lo:hi] - px, b.y[lo:hi] - py)))

    rural: list[np.ndarray] = []
    big = geo.side >= np.quantile(geo.side, 0.6)
    roundabout_done = False
    n_primary = 0
    for shore in (False, True):
        towns = np.flatnonzero(geo.north == shore)
        for i, j, in_tree in _town_links(geo, towns, rng):
            if j == 0:
                i, j = j, i
            if in_tree and ((big[i] and big[j]) or i == 0):
                cls = "primary"
                # every other primary road is signed 80 km/h, the rest carry no maxspeed
                tags = _hw(cls, ("maxspeed", "80")) if n_primary % 2 == 0 else _hw(cls)
                n_primary += 1
            else:
                cls = "secondary" if in_tree or rng.random() < 0.4 else "tertiary"
                tags = _rural_tags(cls, rng)
            a = attach(i, geo.cx[j], geo.cy[j])
            if not roundabout_done and i == 0:  # town 0 is on the south shore
                a = _roundabout(b, a, geo.cx[j], geo.cy[j], cls, rng)
                roundabout_done = True
            c = attach(j, b.x[a], b.y[a])
            rural.append(b.line(a, c, step=p.rural_step_m, tags=tags, rng=rng, wiggle=0.04))

    _motorway(b, geo, p, attach, rng)
    _ferries(b, geo, p, attach, rng)
    return _Roads(x=b.x[:b.n].copy(), y=b.y[:b.n].copy(), ways=tuple(b.ways),
                  town_start=town_start, rural=np.concatenate(rural))


def _rural_tags(cls: str, rng: np.random.Generator) -> Tags:
    u = rng.random()
    if cls == "secondary":
        return _hw(cls, ("maxspeed", "60")) if u < 0.3 else _hw(cls)
    if u < 0.15:
        return _hw(cls, ("maxspeed", "NO:rural"))
    return _hw(cls)


def _town_grid(b: _RoadBuilder, geo: _Geo, t: int, rng: np.random.Generator, *,
               reversed_row: bool) -> tuple[bool, tuple[int, int]]:
    """Add town ``t``'s street grid (an ellipse of rows and columns).

    Returns whether it holds a ``oneway=-1`` row, and two nodes one block apart near the
    centre (for a footway).
    """
    n = int(geo.side[t])
    s = float(geo.spacing[t])
    c = (n - 1) // 2
    i, j = np.mgrid[0:n, 0:n]
    mask = ((i - c) / (c + 0.5)) ** 2 + ((j - c) / (c + 0.5)) ** 2 <= 1.0
    u = (j[mask] - c) * s + rng.uniform(-0.12, 0.12, mask.sum()) * s
    v = (i[mask] - c) * s + rng.uniform(-0.12, 0.12, mask.sum()) * s
    ca, sa = np.cos(geo.angle[t]), np.sin(geo.angle[t])
    idx = np.full((n, n), -1, dtype=np.int64)
    idx[mask] = b.nodes(geo.cx[t] + ca * u - sa * v, geo.cy[t] + sa * u + ca * v)

    main = _hw("secondary" if n >= 25 else "tertiary", ("maxspeed", "50" if n >= 25 else "40"))
    slow = rng.random(2 * n) < 0.45
    oneway = rng.random(n) < 0.08
    has_reversed = False
    for r in range(n):
        refs = idx[r][mask[r]]
        if len(refs) < 2:
            continue
        if r == c:
            b.way(refs, main)
            continue
        tags = _hw("residential", ("maxspeed", "30")) if slow[r] else _hw("residential")
        if reversed_row and not has_reversed and r == c + 2:
            tags = (*tags, ("oneway", "-1"))
            has_reversed = True
        elif oneway[r]:
            # alternate directions; columns stay two-way so the grid stays strongly connected
            tags = (*tags, ("oneway", "yes"))
            refs = refs if r % 2 else refs[::-1]
        b.way(refs, tags)
    for col in range(n):
        refs = idx[:, col][mask[:, col]]
        if len(refs) < 2:
            continue
        if col == c:
            b.way(refs, main)
        else:
            b.way(refs, _hw("residential", ("maxspeed", "30")) if slow[n + col]
                  else _hw("residential"))
    return has_reversed, (int(idx[c, c]), int(idx[c + 1, c + 2]))


def _town_links(geo: _Geo, towns: np.ndarray,
                rng: np.random.Generator) -> list[tuple[int, int, bool]]:
    """Road links between towns of one shore: the Euclidean MST plus some Gabriel edges."""
    if len(towns) < 2:
        return []
    pts = np.column_stack([geo.cx[towns], geo.cy[towns]])
    if len(towns) == 2:
        pairs = np.array([[0, 1]])
    else:
        tri = Delaunay(pts)
        e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]],
                            tri.simplices[:, [0, 2]]])
        pairs = np.unique(np.sort(e, axis=1), axis=0)
        mid = (pts[pairs[:, 0]] + pts[pairs[:, 1]]) / 2
        half = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T) / 2
        dist = np.hypot(mid[:, None, 0] - pts[None, :, 0], mid[:, None, 1] - pts[None, :, 1])
        dist[np.arange(len(pairs)), pairs[:, 0]] = np.inf
        dist[np.arange(len(pairs)), pairs[:, 1]] = np.inf
        pairs = pairs[(dist >= half[:, None]).all(axis=1)]  # Gabriel graph
    w = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T)
    graph = coo_matrix((w, (pairs[:, 0], pairs[:, 1])), shape=(len(towns), len(towns)))
    tree = minimum_spanning_tree(graph.tocsr()).tocoo()
    in_tree = {(min(a, z), max(a, z)) for a, z in zip(tree.row.tolist(), tree.col.tolist(),
                                                     strict=True)}
    keep = rng.random(len(pairs)) < 0.5
    links = []
    for (a, z), extra in zip(pairs.tolist(), keep.tolist(), strict=True):
        tree_edge = (a, z) in in_tree
        if tree_edge or extra:
            links.append((int(towns[a]), int(towns[z]), tree_edge))
    return links


def _roundabout(b: _RoadBuilder, a: int, tx: float, ty: float, cls: str,
                rng: np.random.Generator) -> int:
    """Put a roundabout just outside node ``a`` towards (tx, ty); return its exit node."""
    d = np.array([tx - b.x[a], ty - b.y[a]])
    d /= np.hypot(*d)
    cx, cy = b.x[a] + 80 * d[0], b.y[a] + 80 * d[1]
    phi0 = float(np.arctan2(-d[1], -d[0]))  # ring node 0 faces the town
    phi = phi0 + np.linspace(0, 2 * np.pi, 8, endpoint=False)  # counter-clockwise
    ring = b.nodes(cx + 22 * np.cos(phi), cy + 22 * np.sin(phi))
    b.way(np.append(ring, ring[0]), _hw(cls, ("junction", "roundabout")))
    b.way(np.array([a, ring[0]]), _hw(cls))
    stub_end = b.nodes(cx + 200 * np.cos(phi0 + np.pi / 2), cy + 200 * np.sin(phi0 + np.pi / 2))
    b.line(int(ring[2]), int(stub_end[0]), step=60.0, tags=_hw("residential"), rng=rng)
    return int(ring[4])  # faces (tx, ty)


def _motorway(b: _RoadBuilder, geo: _Geo, p: _Profile, attach: _Attach,
              rng: np.random.Generator) -> None:
    """Two oneway carriageways between two large south-shore towns 12-60 km apart, with
    ramps at both ends."""
    south = np.flatnonzero(~geo.north)  # largest first
    pairs = [(int(i), int(j)) for k, i in enumerate(south[:8]) for j in south[k + 1:8]
             if 12_000 <= np.hypot(geo.cx[i] - geo.cx[j], geo.cy[i] - geo.cy[j]) <= 60_000]
    a, z = pairs[0] if pairs else (int(south[0]), int(south[1]))
    ca, cz = np.array([geo.cx[a], geo.cy[a]]), np.array([geo.cx[z], geo.cy[z]])
    d = (cz - ca) / np.hypot(*(cz - ca))
    left = np.array([-d[1], d[0]]) * (1 if rng.random() < 0.5 else -1)
    p0 = ca + d * (geo.radius[a] + 900) + left * 900
    p1 = cz - d * (geo.radius[z] + 900) + left * 900
    m = max(2, int(np.ceil(np.hypot(*(p1 - p0)) / p.motorway_step_m)))
    t = np.linspace(0, 1, m + 1)[:, None]
    base = p0 + t * (p1 - p0)
    right = np.array([d[1], -d[0]])  # right-hand traffic
    fwd = b.nodes(*(base + 12 * right).T)
    back = b.nodes(*(base - 12 * right)[::-1].T)
    mw = _hw("motorway", ("oneway", "yes"), ("maxspeed", "110"))
    b.way(fwd, mw)
    b.way(back, mw)
    link = _hw("motorway_link", ("oneway", "yes"))
    at_a = attach(a, *p0)
    at_z = attach(z, *p1)
    b.line(at_a, int(fwd[0]), step=150.0, tags=link, rng=rng, bow_m=60.0)
    b.line(int(back[-1]), at_a, step=150.0, tags=link, rng=rng, bow_m=60.0)
    b.line(int(fwd[-1]), at_z, step=150.0, tags=link, rng=rng, bow_m=60.0)
    b.line(at_z, int(back[0]), step=150.0, tags=link, rng=rng, bow_m=60.0)


def _ferries(b: _RoadBuilder, geo: _Geo, p: _Profile, attach: _Attach,
             rng: np.random.Generator) -> None:
    """The car ferry (the only car link across the fjord) and a passenger-only ferry."""
    xmin, _, xmax, _ = geo.box
    width = xmax - xmin
    north = np.flatnonzero(geo.north)
    south = np.flatnonzero(~geo.north)
    gap = geo.cy[north] - geo.radius[north] - geo.fjord_y(geo.cx[north])
    car_town = int(north[np.argmin(gap)])
    xs = float(np.clip(geo.cx[car_town] + rng.uniform(-3000, 3000),
                       xmin + 0.1 * width, xmax - 0.1 * width))
    xn = float(np.clip(xs + rng.choice([-1, 1]) * rng.uniform(3000, 5000),
                       xmin + 0.05 * width, xmax - 0.05 * width))
    # passenger ferry: away from the car ferry, where towns on both shores are closest
    cand = geo.cx[(np.abs(geo.cx - xs) >= 0.2 * width) & (geo.cx > xmin + 0.1 * width)
                  & (geo.cx < xmax - 0.1 * width)]
    if len(cand):
        shore = geo.fjord_y(cand)
        reach = (np.hypot(geo.cx[south, None] - cand, geo.cy[south, None] - shore).min(axis=0)
                 + np.hypot(geo.cx[north, None] - cand, geo.cy[north, None] - shore).min(axis=0))
        xp = float(cand[np.argmin(reach)])
    else:
        xp = xmin + 0.15 * width if xs > (xmin + xmax) / 2 else xmax - 0.15 * width

    qs, qn, ts, tn = _crossing(b, geo, xs, xn, step=p.rural_step_m, attach=attach,
                               south=south, north=north, rng=rng, road="secondary")
    b.line(qs, qn, step=1500.0, rng=rng, bow_m=300.0, tags=(
        ("route", "ferry"), ("motor_vehicle", "yes"), ("foot", "yes"),
        ("duration", CAR_FERRY_DURATION),
        ("name", f"{geo.names[ts]}–{geo.names[tn]} (syntetisk)")))
    qs, qn, ts, tn = _crossing(b, geo, xp, xp + rng.uniform(-400, 400), step=p.rural_step_m,
                               attach=attach, south=south, north=north, rng=rng,
                               road="tertiary")
    b.line(qs, qn, step=1000.0, rng=rng, tags=(
        ("route", "ferry"), ("foot", "yes"), ("bicycle", "yes"), ("motor_vehicle", "no"),
        ("duration", PASSENGER_FERRY_DURATION),
        ("name", f"Snøggbåt {geo.names[ts]}–{geo.names[tn]} (syntetisk)")))


def _crossing(b: _RoadBuilder, geo: _Geo, xs: float, xn: float, *, step: float, attach: _Attach,
              south: np.ndarray, north: np.ndarray, rng: np.random.Generator,
              road: str) -> tuple[int, int, int, int]:
    """Add two quays at the shores (x = xs south, xn north) with roads to the nearest towns.

    Returns the south and north quay nodes and the two towns they serve.

    A quay road runs along the shore at the town's level, then straight to the water, so it
    never crosses the fjord (towns keep clear of the band the fjord meanders in).
    """
    quays, served = [], []
    for x, towns, sign in ((xs, south, -1.0), (xn, north, 1.0)):
        y = float(geo.fjord_y(np.array([x]))[0] + sign * (geo.fjord_half(np.array([x]))[0] + 40))
        q = int(b.nodes(np.array([x]), np.array([y]))[0])
        t = int(towns[np.argmin(np.hypot(geo.cx[towns] - x, geo.cy[towns] - y))])
        a = attach(t, x, geo.cy[t])
        if abs(b.x[a] - x) > 2 * step:
            corner = int(b.nodes(np.array([x]), np.array([b.y[a]]))[0])
            b.line(a, corner, step=step, tags=_hw(road), rng=rng, wiggle=0.01)
            a = corner
        b.line(a, q, step=step, tags=_hw(road), rng=rng, wiggle=0.03)
        quays.append(q)
        served.append(t)
    return quays[0], quays[1], served[0], served[1]
