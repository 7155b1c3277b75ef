"""Travel times: snapping points to the network and many-to-many matrices.

Times are in minutes, directed, from origin to destination. Pairs beyond the
search limit are unreachable and hold ``inf`` (never 0).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import signal
import sys
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from matcher import network as network_mod
from matcher.config import TravelSettings
from matcher.contraction import Chains, Contracted, canonical, chains, contract
from matcher.errors import InputError, Problem, raise_if_problems, sheet_row
from matcher.i18n import format_number
from matcher.i18n import gettext as _
from matcher.io.files import atomic_path
from matcher.network import CHAINS_ON_DISK_MIN_NODES, Network
from matcher.timetable import TimeTable

__all__ = [
    "Chains",
    "Contracted",
    "ProgressFn",
    "Snapped",
    "chains",
    "check_chains",
    "contract",
    "matrix",
    "node_matrix",
    "prepare",
    "shortest_minutes",
    "snap",
]

logger = logging.getLogger(__name__)

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
        problems.append(Problem(
            source, _("point '{id}' has no coordinates; fill lon/lat").format(id=ids_arr[i]),
            row=sheet_row(i)))
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
            _("point '{id}' is {distance} km from the nearest road of the network "
              "(limit {limit} km); check its coordinates or use a network that covers it").format(
                id=ids_arr[i], distance=format_number(dist[i] / 1000, 1),
                limit=format_number(settings.max_snap_metres / 1000, 1)),
            row=sheet_row(i),
        ))
    raise_if_problems(_("{source}: points cannot be placed on the road network").format(
        source=source), problems)
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
                progress: ProgressFn | None = None,
                groups: np.ndarray | None = None) -> np.ndarray:
    """Shortest-path minutes from every source node to every target node.

    Runs ``scipy.sparse.csgraph.dijkstra`` once per *unique* source node (or
    group), in chunks whose dense ``chunk x n`` block stays within
    ``memory_mb`` MiB, optionally over ``workers`` processes.

    Parameters
    ----------
    graph
        CSR matrix of edge minutes.
    sources, targets
        Node positions.
    limit_minutes
        Searches stop here; farther pairs are ``inf``.
    groups
        Optional group id of each source: then one search per group starts
        from all its sources at once (the best of them, e.g. a junction's
        in-ports on the reversed graph), and there is one row per group id,
        in ascending order.

    Returns
    -------
    numpy.ndarray
        ``(len(sources), len(targets))`` minutes, ``inf`` if unreachable
        (``(groups, len(targets))`` with ``groups``).
    """
    sources = np.asarray(sources, dtype=np.int64)
    if groups is None:
        uniq, inverse = np.unique(sources, return_inverse=True)
    else:
        graph, uniq = _group_sources(graph, sources, np.asarray(groups))
        inverse = np.arange(len(uniq))
    n = graph.shape[0]
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
                     contract_chains: bool = True, prepared: Chains | None = None,
                     progress: ProgressFn | None = None,
                     groups: np.ndarray | None = None) -> np.ndarray:
    """Shortest-path minutes between nodes, on the chain-contracted graph when it pays.

    Same as :func:`node_matrix`, but first contracts chains of pass-through
    nodes (:func:`contract`, exact) when that removes at least
    ``1 - _CONTRACT_WORTH`` of the nodes. ``prepared`` (:func:`chains` of
    ``graph``, e.g. from :func:`prepare`) saves contracting the whole graph.
    ``groups`` as in :func:`node_matrix`.

    Returns
    -------
    numpy.ndarray
        ``(len(sources), len(targets))`` minutes, ``inf`` beyond ``limit_minutes``.
    """
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    n = graph.shape[0]
    if contract_chains:
        if prepared is None:
            prepared = chains(graph)
        worth = np.count_nonzero(prepared.passthrough) > (1 - _CONTRACT_WORTH) * n
        if worth:
            small = contract(graph, np.union1d(sources, targets), prepared=prepared)
            if len(small.kept) < _CONTRACT_WORTH * graph.shape[0]:
                graph = small.graph
                sources, targets = small.position[sources], small.position[targets]
    return node_matrix(graph, sources, targets, limit_minutes=limit_minutes,
                       memory_mb=memory_mb, workers=workers, progress=progress, groups=groups)


_CHAIN_ARRAYS = ("passthrough", "neighbours", "chain", "u", "end", "minutes", "first")
CHAINS_FORMAT = 1
"""Version of the chains files: raise it whenever :func:`chains` or :class:`Chains`
changes, so that files written by older code are never used."""


def prepare(net: Network, *, backwards: bool = False) -> Chains:
    """The contracted chains of ``net`` (or of its reverse), computed once and cached.

    Kept in memory with the network and, for networks of at least
    ``network.CHAINS_ON_DISK_MIN_NODES`` nodes that live in a cache folder,
    in ``chains-forward.npz`` / ``chains-backward.npz`` beside
    ``network.npz`` (owner-only, checked against the network's key and size and
    :data:`CHAINS_FORMAT`, removed whenever the network is saved again).

    Parameters
    ----------
    net
        The network.
    backwards
        Contract the reversed graph (searches towards the destinations).
    """
    name = "backward" if backwards else "forward"
    if name in net._chains:
        return cast(Chains, net._chains[name])
    graph = net.reverse if backwards else net.graph
    folder = net.folder if net.n_nodes >= CHAINS_ON_DISK_MIN_NODES else None
    path = folder / f"chains-{name}.npz" if folder is not None else None
    found = _read_chains(path, net) if path is not None else None
    if found is None:
        found = chains(graph)
        if path is not None and folder is not None:
            try:
                arrays: dict[str, Any] = {k: _narrow(getattr(found, k)) for k in _CHAIN_ARRAYS}
                arrays.update(key=np.asarray(net.info.key), nodes=np.asarray(net.n_nodes),
                              edges=np.asarray(graph.nnz), format=np.asarray(CHAINS_FORMAT))
                with atomic_path(path) as tmp:
                    with open(tmp, "wb") as fh:
                        np.savez(fh, **arrays)
                    digest = network_mod.file_sha256(tmp)
                network_mod.record_chains(folder, name, digest)
            except (OSError, InputError) as exc:
                logger.debug("chains not cached in %s: %s", folder, exc)
    net._chains[name] = found
    return found


def _narrow(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.int64 and (len(a) == 0 or a.max() < np.iinfo(np.int32).max):
        return a.astype(np.int32)
    return a


def check_chains(net: Network) -> None:
    """Check the chains files of ``net``'s cache folder, if any, as :func:`prepare` reads them.

    Raises
    ------
    InputError
        If a chains file is damaged (naming it and the fix).
    """
    if net.folder is None:
        return
    for name in ("forward", "backward"):
        path = net.folder / f"chains-{name}.npz"
        if path.is_file():
            _read_chains(path, net)


def _read_chains(path: Path, net: Network) -> Chains | None:
    """Read a chains file; ``None`` when it belongs to another network or format.

    Raises
    ------
    InputError
        If the file differs from the SHA-256 recorded in ``network.json``, or
        its arrays do not fit the network (lengths, dtypes, node ranges): a
        damaged file is never handed to scipy.
    """
    if not path.is_file():
        return None
    recorded = network_mod.recorded_chains(path.parent).get(path.stem.removeprefix("chains-"))
    try:
        with np.load(path, allow_pickle=False) as z:
            if (int(z["format"]) != CHAINS_FORMAT or str(z["key"]) != net.info.key
                    or int(z["nodes"]) != net.n_nodes or int(z["edges"]) != net.graph.nnz):
                return None  # of another network or an older format: computed again
            arrays = {k: z[k] for k in _CHAIN_ARRAYS}
        digest = network_mod.file_sha256(path)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise _damaged_chains(path, str(exc)[:200]) from None
    if recorded is not None and digest != recorded:
        raise _damaged_chains(path, _("its content differs from the one recorded in "
                                      "network.json"))
    problems = _chain_problems(arrays, net.n_nodes)
    if problems:
        raise _damaged_chains(path, "; ".join(problems[:5]))
    arrays = {k: a.astype(np.int64) if a.dtype == np.int32 else a for k, a in arrays.items()}
    return Chains(**arrays)


def _damaged_chains(path: Path, what: str) -> InputError:
    return InputError(_("{file}: damaged network cache ({what}); build the network again with "
                        "`matcher network build --osm FILE --out {folder}`").format(
        file=path, what=what, folder=path.parent))


def _chain_problems(arrays: dict[str, np.ndarray], n: int) -> list[str]:
    """Problems of the arrays of a chains file for a network of ``n`` nodes."""
    kinds = {"passthrough": "b", "neighbours": "i", "chain": "i", "u": "i", "end": "i",
             "minutes": "f", "first": "i"}
    problems = [_("array '{name}' has dtype {dtype}").format(name=k, dtype=a.dtype)
                for k, a in arrays.items() if a.dtype.kind not in kinds[k]]
    if problems:
        return problems
    shapes = {"passthrough": (n,), "neighbours": (n, 2), "chain": (n,)}
    problems += [_("array '{name}' has shape {shape}, not {expected}").format(
        name=k, shape=arrays[k].shape, expected=shape) for k, shape in shapes.items()
        if arrays[k].shape != shape]
    k = arrays["u"].shape
    problems += [_("array '{name}' has shape {shape}, not {expected}").format(
        name=name, shape=arrays[name].shape, expected=k)
        for name in ("end", "minutes", "first") if arrays[name].shape != k or len(k) != 1]
    if problems:
        return problems
    for name, low in (("neighbours", -1), ("chain", -1), ("u", 0), ("end", 0), ("first", 0)):
        a = arrays[name]
        if a.size and (a.min() < low or a.max() >= n):
            problems.append(_("a node index in '{name}' is outside {low}..{last}").format(
                name=name, low=low, last=n - 1))
    if not (np.isfinite(arrays["minutes"]).all() and (arrays["minutes"] >= 0).all()):
        problems.append(_("'minutes' holds values that are negative or not finite"))
    return problems


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def _group_sources(graph: sparse.csr_matrix, sources: np.ndarray, groups: np.ndarray
                   ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """``graph`` with one new start node per group, and those nodes (ascending group id).

    Each new node has an arc of 0 minutes to every source of its group and no
    arc into it, so one ordinary search from it is a search from the whole
    group at once, and groups and single nodes are searched alike. (scipy's
    ``dijkstra(..., min_only=True)`` does the same from a list of sources; the
    matrix takes about as long either way: 36.7 s against 38.6 s on the
    turn-expanded national sample, one process.)
    """
    graph = canonical(graph)
    n = graph.shape[0]
    _ids, at = np.unique(groups, return_inverse=True)
    pairs = np.unique(np.column_stack([at, sources]), axis=0)  # sorted: canonical rows
    counts = np.bincount(pairs[:, 0], minlength=len(_ids))
    indptr = np.concatenate([graph.indptr, graph.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([graph.indices, pairs[:, 1].astype(graph.indices.dtype)])
    data = np.concatenate([graph.data, np.zeros(len(pairs))])
    m = n + len(_ids)
    # built from its arrays, so the arcs of 0 minutes stay (a sum would drop them)
    out = sparse.csr_matrix((data, indices, indptr), shape=(m, m))
    out.has_canonical_format = True
    return out, n + np.arange(len(_ids), dtype=np.int64)


def _dijkstra_block(graph: sparse.csr_matrix, part: np.ndarray, targets: np.ndarray,
                    limit: float) -> np.ndarray:
    # one call for the chunk: a dense (chunk x nodes) block within memory_mb (one call per
    # source held less and was no faster: 5.4-7.8 s either way on the national sample)
    dist = dijkstra(graph, directed=True, indices=part, limit=limit)
    return np.asarray(np.atleast_2d(dist)[:, targets], dtype=float)


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
    # a path may end on a copy of its destination (a junction's in-ports, turn restrictions):
    # search to the copies too and keep the best, or search back from a destination and its
    # copies at once
    starts, ends = (destinations.node, origins.node) if backwards else (
        origins.node, destinations.node)
    if progress is not None:  # the total before the (slow) preparation: one search per node
        progress(0, len(np.unique(starts)))
    prepared = prepare(net, backwards=backwards) if settings.contract_chains else None
    options: dict[str, Any] = {
        "contract_chains": settings.contract_chains, "prepared": prepared,
        "limit_minutes": limit, "memory_mb": settings.memory_mb, "workers": settings.workers,
        "progress": progress}
    if len(net.copy_of):
        # a trip starts at its node or any copy (the way on from a road node's in-ports) and
        # ends at its node or any copy: one search from each node with all its copies
        places, group = _places(net, starts)
        rows = shortest_minutes(graph, places, _with_copies(net, ends), groups=group,
                                **options)
        core = _fold_copies(net, ends, rows[np.searchsorted(np.unique(group), starts)])
    else:
        core = shortest_minutes(graph, starts, ends, **options)
    core = core.T if backwards else core
    total = core + origins.access_minutes[:, None] + destinations.access_minutes[None, :]
    total[~(total <= limit)] = np.inf
    return TimeTable(origins.ids, destinations.ids, total)


def _places(net: Network, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``nodes`` and all their copies, with the node each stands for (the group)."""
    places = _with_copies(net, nodes)
    group = np.concatenate([np.asarray(nodes, dtype=np.int64),
                            net.copy_of[places[len(nodes):] - net.n_road_nodes]])
    return places, group


def _with_copies(net: Network, targets: np.ndarray) -> np.ndarray:
    """``targets`` followed by every copy (:attr:`Network.copy_of`) of a target."""
    if not len(net.copy_of):
        return targets
    copies = net.n_road_nodes + np.flatnonzero(np.isin(net.copy_of, targets))
    return np.concatenate([np.asarray(targets, dtype=np.int64), copies])


def _fold_copies(net: Network, targets: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Columns of :func:`_with_copies` targets back to ``targets``: the best of node and copies."""
    k = len(targets)
    if core.shape[1] == k:
        return core
    nodes, first, back = np.unique(np.asarray(targets), return_index=True, return_inverse=True)
    best = core[:, first]
    copies = np.flatnonzero(np.isin(net.copy_of, nodes))  # the order of _with_copies
    of = np.searchsorted(nodes, net.copy_of[copies])
    order = np.argsort(of, kind="stable")
    starts = np.flatnonzero(np.diff(of[order], prepend=-1))
    folded = np.minimum.reduceat(core[:, k:][:, order], starts, axis=1)
    at = of[order][starts]
    best[:, at] = np.minimum(best[:, at], folded)
    return np.asarray(best[:, back])
