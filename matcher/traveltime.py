"""Travel times: snapping points to the network and many-to-many matrices.

Times are in minutes, directed, from origin to destination. Pairs beyond the
search limit are unreachable and hold ``inf`` (never 0).
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from matcher.config import TravelSettings
from matcher.errors import Problem, raise_if_problems
from matcher.network import Network
from matcher.timetable import TimeTable

__all__ = [
    "Contracted",
    "ProgressFn",
    "Snapped",
    "contract",
    "matrix",
    "node_matrix",
    "shortest_minutes",
    "snap",
]

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
_CONTRACT_WORTH = 0.8
"""Use the contracted graph only when it has fewer than this share of the nodes."""
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
        with _pool(min(workers, len(chunks)), graph) as pool:
            futures = [pool.submit(_worker_block, part, targets, limit_minutes)
                       for part in chunks]
            for k, fut in enumerate(futures):
                out[k * chunk:k * chunk + len(chunks[k])] = fut.result()
                done += len(chunks[k])
                say(done, len(uniq))
    return out[inverse]


def shortest_minutes(graph: sparse.csr_matrix, sources: np.ndarray, targets: np.ndarray, *,
                     limit_minutes: float, memory_mb: int = 512, workers: int = 1,
                     contract_chains: bool = True,
                     progress: ProgressFn | None = None) -> np.ndarray:
    """Shortest-path minutes between nodes, on the chain-contracted graph when it pays.

    Same as :func:`node_matrix`, but first contracts chains of pass-through
    nodes (:func:`contract`, exact) when that removes at least
    ``1 - _CONTRACT_WORTH`` of the nodes.

    Returns
    -------
    numpy.ndarray
        ``(len(sources), len(targets))`` minutes, ``inf`` beyond ``limit_minutes``.
    """
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    n = graph.shape[0]
    worth = np.count_nonzero(np.diff(_undirected(graph).indptr) == 2) > (1 - _CONTRACT_WORTH) * n
    if contract_chains and worth:
        small = contract(graph, np.union1d(sources, targets))
        if len(small.kept) < _CONTRACT_WORTH * graph.shape[0]:
            graph = small.graph
            sources, targets = small.position[sources], small.position[targets]
    return node_matrix(graph, sources, targets, limit_minutes=limit_minutes,
                       memory_mb=memory_mb, workers=workers, progress=progress)


def _undirected(graph: sparse.csr_matrix) -> sparse.csr_matrix:
    """Sparsity pattern of ``graph`` ignoring direction (values are not meaningful)."""
    sym = (graph + graph.T).tocsr()
    sym.sort_indices()
    return sym


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def _dijkstra_block(graph: sparse.csr_matrix, part: np.ndarray, targets: np.ndarray,
                    limit: float) -> np.ndarray:
    dist = dijkstra(graph, directed=True, indices=part, limit=limit)
    return np.asarray(dist[:, targets], dtype=float)


def _pool(workers: int, graph: sparse.csr_matrix) -> ProcessPoolExecutor:
    """A forked process pool whose workers hold ``graph`` and die with this process."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                               initializer=_init_worker, initargs=(graph, os.getpid()))


def _init_worker(graph: sparse.csr_matrix, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    _WORKER_GRAPH[:] = [graph]


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker (SIGKILL) when its parent dies, even by SIGKILL.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere nothing changes. A
    worker whose parent died before the call exits at once.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != parent_pid:
        os._exit(1)


def _worker_block(part: np.ndarray, targets: np.ndarray, limit: float) -> np.ndarray:
    return _dijkstra_block(_WORKER_GRAPH[0], part, targets, limit)


def matrix(net: Network, origins: Snapped, destinations: Snapped,
           settings: TravelSettings | None = None, *,
           progress: ProgressFn | None = None) -> TimeTable:
    """Many-to-many travel times from origins to destinations, in minutes.

    Time = origin access leg + network shortest path + destination access leg.
    The searches run from the smaller side: from the destinations on the
    reversed graph when there are fewer destination nodes than origin nodes.
    With ``contract_chains`` (default) chains of pass-through nodes are first
    contracted away (:func:`contract`), which leaves every shortest path
    between the snapped nodes exact and makes each search cheaper.

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
    backwards = n_dst < n_src
    graph = net.reverse if backwards else net.graph
    sources, targets = ((destinations.node, origins.node) if backwards
                        else (origins.node, destinations.node))
    core = shortest_minutes(graph, sources, targets, contract_chains=settings.contract_chains,
                            limit_minutes=limit, memory_mb=settings.memory_mb,
                            workers=settings.workers, progress=progress)
    if backwards:
        core = core.T
    total = core + origins.access_minutes[:, None] + destinations.access_minutes[None, :]
    total[~(total <= limit)] = np.inf
    return TimeTable(origins.ids, destinations.ids, total)


# --------------------------------------------------------------------------- chain contraction


@dataclass(frozen=True)
class Contracted:
    """A graph with its chains of pass-through nodes contracted away.

    Attributes
    ----------
    graph
        CSR matrix of minutes over the kept nodes only.
    kept
        Original positions of the kept nodes (row ``i`` of ``graph`` is node ``kept[i]``).
    position
        ``position[v]`` is the row of original node ``v`` in ``graph``, or -1.
    """

    graph: sparse.csr_matrix
    kept: np.ndarray
    position: np.ndarray


def contract(graph: sparse.csr_matrix, keep: np.ndarray) -> Contracted:
    """Contract chains of pass-through nodes, keeping shortest paths between kept nodes exact.

    A node is *pass-through* when it has exactly two distinct neighbours (in
    either direction) and is not in ``keep``: roads drawn with many shape
    nodes between junctions. Every chain of such nodes between two other
    nodes ``a`` and ``b`` becomes one edge ``a -> b`` (and ``b -> a``) whose
    time is the sum along the chain, where the chain can be driven that way
    (one-way pieces block it). Parallel results keep the *minimum*. Shortest
    paths between any two remaining nodes are unchanged, because a shortest
    path can only cross a chain from one end to the other.

    Parameters
    ----------
    graph
        CSR matrix of edge minutes (``n x n``, no self loops).
    keep
        Node positions that must stay (e.g. the snapped origins and destinations).

    Returns
    -------
    Contracted
        The smaller graph and the node mapping.
    """
    n = graph.shape[0]
    coo = graph.tocoo()
    u, v, w = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(float)
    sym = _undirected(graph)
    degree = np.diff(sym.indptr)
    passthrough = degree == 2
    passthrough[np.asarray(keep, dtype=np.int64)] = False
    kept_mask = ~passthrough
    # for each edge into a pass-through node, the edge that continues the chain
    inner = passthrough[v]
    # the other neighbour of v (not u): neighbours of pass-through nodes, two per node
    nb = np.full((n, 2), -1, dtype=np.int64)
    rows = np.repeat(np.arange(n), degree)
    first = np.zeros(len(rows), dtype=bool)
    first[sym.indptr[:-1][degree > 0]] = True
    sel = passthrough[rows]
    nb[rows[sel & first], 0] = sym.indices[sel & first]
    nb[rows[sel & ~first], 1] = sym.indices[sel & ~first]
    other = np.where(nb[v, 0] == u, nb[v, 1], nb[v, 0])
    edge_index = pd.Index(u * n + v)
    nxt = np.full(len(u), -1, dtype=np.int64)
    cont = np.flatnonzero(inner)
    nxt[cont] = edge_index.get_indexer(v[cont] * n + other[cont])  # -1: chain is blocked
    dead = inner & (nxt < 0)
    nxt[dead] = -1
    acc = w.copy()
    end = v.copy()
    active = nxt >= 0
    for _ in range(int(np.ceil(np.log2(max(len(u), 2)))) + 2):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        step = nxt[idx]
        acc_new = acc[idx] + acc[step]
        dead_new = dead[step]
        end_new = end[step]
        nxt_new = nxt[step]
        acc[idx], dead[idx], end[idx], nxt[idx] = acc_new, dead_new, end_new, nxt_new
        active = nxt >= 0
    dead |= active  # never reached an end: a closed loop of pass-through nodes only
    entry = kept_mask[u] & ~dead & kept_mask[end] & (u != end)
    cu, cv, cw = u[entry], end[entry], acc[entry]
    order = np.lexsort((cw, cv, cu))
    cu, cv, cw = cu[order], cv[order], cw[order]
    first_of_pair = np.ones(len(cu), dtype=bool)
    first_of_pair[1:] = (cu[1:] != cu[:-1]) | (cv[1:] != cv[:-1])
    kept = np.flatnonzero(kept_mask)
    position = np.full(n, -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    m = len(kept)
    core = sparse.csr_matrix((cw[first_of_pair], (position[cu[first_of_pair]],
                                                  position[cv[first_of_pair]])), shape=(m, m))
    return Contracted(graph=core, kept=kept, position=position)
