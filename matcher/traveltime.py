"""Travel times: snapping points to the network and many-to-many matrices.

Times are in minutes, directed, from origin to destination. Pairs beyond the
search limit are unreachable and hold ``inf`` (never 0).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from matcher.config import TravelSettings
from matcher.errors import InputError, Problem, raise_if_problems
from matcher.network import Network


@dataclass(frozen=True)
class TimeTable:
    """A dense origin x destination table of travel times.

    Attributes
    ----------
    origin_ids
        Ids of the rows (strings), unique.
    destination_ids
        Ids of the columns (strings), unique.
    minutes
        ``float64`` array of shape ``(len(origin_ids), len(destination_ids))``,
        travel time in minutes; ``inf`` where unreachable within the limit.
    """

    origin_ids: np.ndarray
    destination_ids: np.ndarray
    minutes: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(self.origin_ids), len(self.destination_ids))
        if self.minutes.shape != shape:
            raise ValueError(f"minutes has shape {self.minutes.shape}, expected {shape}")

    def to_long(self, *, origin_col: str = "origin_id", destination_col: str = "destination_id",
                reachable_only: bool = True) -> pd.DataFrame:
        """Return the table in long format ``origin, destination, minutes``.

        Parameters
        ----------
        origin_col, destination_col
            Column names for the two id columns.
        reachable_only
            Drop unreachable pairs (``inf``) when True.
        """
        oi, di = np.indices(self.minutes.shape)
        frame = pd.DataFrame(
            {
                origin_col: self.origin_ids[oi.ravel()],
                destination_col: self.destination_ids[di.ravel()],
                "minutes": self.minutes.ravel(),
            }
        )
        if reachable_only:
            frame = frame[np.isfinite(frame["minutes"].to_numpy())].reset_index(drop=True)
        return frame

    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        *,
        origin_col: str = "origin_id",
        destination_col: str = "destination_id",
        source: str = "travel-time table",
    ) -> TimeTable:
        """Build a table from long format; missing pairs are unreachable.

        Raises
        ------
        InputError
            On missing columns, negative or non-numeric minutes, or duplicate pairs.
        """
        problems: list[Problem] = []
        missing = [c for c in (origin_col, destination_col, "minutes") if c not in frame.columns]
        if missing:
            raise InputError(
                f"{source}: missing column(s) {missing}",
                [Problem(source, f"add column '{c}'", column=c) for c in missing],
            )
        minutes = pd.to_numeric(frame["minutes"], errors="coerce").to_numpy(dtype=float)
        for row in np.flatnonzero(~(minutes >= 0)):
            problems.append(Problem(source, "minutes must be a number >= 0", row=int(row) + 1,
                                    column="minutes"))
        dup = frame.duplicated([origin_col, destination_col], keep="first").to_numpy()
        for row in np.flatnonzero(dup):
            problems.append(Problem(source, "duplicate pair; keep one row per pair",
                                    row=int(row) + 1))
        if problems:
            raise InputError(f"{source}: invalid travel times", problems)
        o = frame[origin_col].astype(str).to_numpy()
        d = frame[destination_col].astype(str).to_numpy()
        origin_ids, oi = np.unique(o, return_inverse=True)
        destination_ids, di = np.unique(d, return_inverse=True)
        table = np.full((len(origin_ids), len(destination_ids)), np.inf)
        table[oi, di] = minutes
        return cls(origin_ids.astype(object), destination_ids.astype(object), table)

    def select(self, origin_ids: np.ndarray | list[str] | None = None,
               destination_ids: np.ndarray | list[str] | None = None) -> TimeTable:
        """Return the sub-table for the given ids, in the given order.

        Ids absent from this table get ``inf`` (unreachable).
        """
        o_ids = self.origin_ids if origin_ids is None else np.asarray(origin_ids, dtype=object)
        d_ids = (self.destination_ids if destination_ids is None
                 else np.asarray(destination_ids, dtype=object))
        o_pos = pd.Index(self.origin_ids).get_indexer(o_ids)
        d_pos = pd.Index(self.destination_ids).get_indexer(d_ids)
        out = np.full((len(o_ids), len(d_ids)), np.inf)
        ok_o = o_pos >= 0
        ok_d = d_pos >= 0
        out[np.ix_(ok_o, ok_d)] = self.minutes[np.ix_(o_pos[ok_o], d_pos[ok_d])]
        return TimeTable(o_ids, d_ids, out)


# --------------------------------------------------------------------------- snapping


@dataclass(frozen=True)
class Snapped:
    """Points snapped to their nearest network node.

    Attributes
    ----------
    ids
        Point ids (strings), in input order.
    node
        Position of the nearest network node of each point.
    access_minutes
        Off-network leg in minutes: straight-line distance to the node (metres,
        network CRS) at ``TravelSettings.access_kmh``.
    distance_m
        That straight-line distance in metres.
    """

    ids: np.ndarray
    node: np.ndarray
    access_minutes: np.ndarray
    distance_m: np.ndarray


def snap(net: Network, ids: np.ndarray | list[str], lon: np.ndarray, lat: np.ndarray,
         settings: TravelSettings | None = None, *, source: str = "points") -> Snapped:
    """Snap WGS84 points to the nearest network node with a KD-tree.

    Parameters
    ----------
    net
        The network; nearest nodes are found in its projected CRS (metres).
    ids, lon, lat
        Point ids and coordinates in degrees (EPSG:4326).
    settings
        ``access_kmh`` and ``max_snap_metres``.
    source
        Name of the input, for error messages.

    Raises
    ------
    InputError
        Listing every point farther than ``max_snap_metres`` from the network
        or with missing coordinates (by id, never by coordinates).
    """
    settings = settings or TravelSettings()
    ids_arr = np.asarray(ids, dtype=object).astype(str).astype(object)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    problems: list[Problem] = []
    finite = np.isfinite(lon) & np.isfinite(lat)
    for i in np.flatnonzero(~finite):
        problems.append(Problem(source, f"point '{ids_arr[i]}' has no coordinates; fill lon/lat",
                                row=int(i) + 1))
    x, y = _to_crs(lon, lat, net.crs)
    dist = np.full(len(ids_arr), np.inf)
    node = np.zeros(len(ids_arr), dtype=np.int64)
    if finite.any():
        d, n = net.kdtree.query(np.column_stack([x[finite], y[finite]]))
        dist[finite] = d
        node[finite] = n
    far = finite & (dist > settings.max_snap_metres)
    for i in np.flatnonzero(far):
        problems.append(Problem(
            source,
            f"point '{ids_arr[i]}' is {dist[i] / 1000:.1f} km from the nearest road of the network "
            f"(limit {settings.max_snap_metres / 1000:.1f} km); check its coordinates or use a "
            "network that covers it",
            row=int(i) + 1,
        ))
    raise_if_problems(f"{source}: points cannot be placed on the road network", problems)
    access = dist / (settings.access_kmh * 1000.0 / 60.0)
    return Snapped(ids=ids_arr, node=node, access_minutes=access, distance_m=dist)


def _to_crs(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(np.nan_to_num(lon), np.nan_to_num(lat))
    return np.asarray(x, float), np.asarray(y, float)


# --------------------------------------------------------------------------- matrix

ProgressFn = Callable[[int, int], None]
_WORKER_GRAPH: list[sparse.csr_matrix] = []


def node_matrix(graph: sparse.csr_matrix, sources: np.ndarray, targets: np.ndarray, *,
                limit_minutes: float, memory_mb: int = 512, workers: int = 1,
                progress: ProgressFn | None = None) -> np.ndarray:
    """Shortest-path minutes from every source node to every target node.

    Runs ``scipy.sparse.csgraph.dijkstra`` once per *unique* source node, in
    chunks whose dense ``chunk x n`` block stays within ``memory_mb`` MiB,
    optionally over ``workers`` processes.

    Parameters
    ----------
    graph
        CSR matrix of edge minutes.
    sources, targets
        Node positions.
    limit_minutes
        Searches stop here; farther pairs are ``inf``.

    Returns
    -------
    numpy.ndarray
        ``(len(sources), len(targets))`` minutes, ``inf`` if unreachable.
    """
    n = graph.shape[0]
    uniq, inverse = np.unique(np.asarray(sources, dtype=np.int64), return_inverse=True)
    targets = np.asarray(targets, dtype=np.int64)
    chunk = max(1, min(256, (memory_mb * 2**20) // (8 * max(n, 1))))
    chunks = [uniq[i:i + chunk] for i in range(0, len(uniq), chunk)]
    out = np.empty((len(uniq), len(targets)))
    done = 0
    say = progress or (lambda _d, _t: None)
    say(0, len(uniq))
    if workers <= 1 or len(chunks) < 2 or not _can_fork():
        for k, part in enumerate(chunks):
            out[k * chunk:k * chunk + len(part)] = _dijkstra_block(graph, part, targets,
                                                                   limit_minutes)
            done += len(part)
            say(done, len(uniq))
    else:
        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=ctx,
                                 initializer=_init_worker, initargs=(graph,)) as pool:
            futures = [pool.submit(_worker_block, part, targets, limit_minutes)
                       for part in chunks]
            for k, fut in enumerate(futures):
                out[k * chunk:k * chunk + len(chunks[k])] = fut.result()
                done += len(chunks[k])
                say(done, len(uniq))
    return out[inverse]


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def _dijkstra_block(graph: sparse.csr_matrix, part: np.ndarray, targets: np.ndarray,
                    limit: float) -> np.ndarray:
    dist = dijkstra(graph, directed=True, indices=part, limit=limit)
    return np.asarray(dist[:, targets], dtype=float)


def _init_worker(graph: sparse.csr_matrix) -> None:
    _WORKER_GRAPH[:] = [graph]


def _worker_block(part: np.ndarray, targets: np.ndarray, limit: float) -> np.ndarray:
    return _dijkstra_block(_WORKER_GRAPH[0], part, targets, limit)


def matrix(net: Network, origins: Snapped, destinations: Snapped,
           settings: TravelSettings | None = None, *,
           progress: ProgressFn | None = None) -> TimeTable:
    """Many-to-many travel times from origins to destinations, in minutes.

    Time = origin access leg + network shortest path + destination access leg.
    The searches run from the smaller side: from the destinations on the
    reversed graph when there are fewer destination nodes than origin nodes.

    Parameters
    ----------
    net
        The road network.
    origins, destinations
        Snapped points (see :func:`snap`).
    settings
        ``limit_minutes`` (pairs beyond are ``inf``, never 0), ``memory_mb``
        and ``workers``.
    progress
        Called with ``(searches done, searches total)``.

    Returns
    -------
    TimeTable
        Rows are origins, columns destinations (input order).
    """
    settings = settings or TravelSettings()
    limit = settings.limit_minutes
    n_src = len(np.unique(origins.node))
    n_dst = len(np.unique(destinations.node))
    kwargs = {"limit_minutes": limit, "memory_mb": settings.memory_mb,
              "workers": settings.workers, "progress": progress}
    if n_dst < n_src:
        core = node_matrix(net.reverse, destinations.node, origins.node, **kwargs).T
    else:
        core = node_matrix(net.graph, origins.node, destinations.node, **kwargs)
    total = core + origins.access_minutes[:, None] + destinations.access_minutes[None, :]
    total[~(total <= limit)] = np.inf
    return TimeTable(origins.ids, destinations.ids, total)
