"""Exact contraction of chains of pass-through nodes (road shape nodes).

OSM draws a road with many shape nodes between junctions. :func:`contract`
replaces each chain of nodes with exactly two distinct neighbours by one edge
per drivable direction, summing the minutes, so that every shortest path
between the nodes kept stays the same and each search is cheaper.
:func:`chains` does the work once per graph (``matcher.traveltime.prepare``
caches it with the network); :func:`contract` then walks again only the
chains that hold a node to keep. Minutes throughout; graphs are CSR matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["Chains", "Contracted", "canonical", "chains", "contract"]


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


@dataclass(frozen=True)
class Chains:
    """The chains of pass-through nodes of one graph, contracted with no node kept.

    Computed once per graph (:func:`chains`) and reused by :func:`contract` for
    any set of kept nodes: only the chains that hold a kept node are walked
    again. The result is the same, bit for bit, as contracting from scratch.

    Attributes
    ----------
    passthrough
        ``True`` for nodes with exactly two distinct neighbours (either direction).
    neighbours
        ``(n, 2)`` the two neighbours of each pass-through node (-1 elsewhere).
    chain
        Id of the chain (connected run of pass-through nodes) of each node, -1 elsewhere.
    u, end, minutes, first
        One row per contracted edge before parallel edges are merged, sorted by
        ``(u, end, minutes)``: its start and end node, its minutes (summed along
        the chain) and the head of its first original edge.
    """

    passthrough: np.ndarray
    neighbours: np.ndarray
    chain: np.ndarray
    u: np.ndarray
    end: np.ndarray
    minutes: np.ndarray
    first: np.ndarray


def chains(graph: sparse.csr_matrix) -> Chains:
    """Contract every chain of pass-through nodes of ``graph`` (see :func:`contract`).

    Parameters
    ----------
    graph
        CSR matrix of edge minutes (``n x n``, no self loops, no duplicate entries).

    Returns
    -------
    Chains
        What :func:`contract` needs to contract for any set of kept nodes.
    """
    graph = canonical(graph)
    n = graph.shape[0]
    sym = _undirected(graph)
    passthrough = np.diff(sym.indptr) == 2
    pt = np.flatnonzero(passthrough)
    neighbours = np.full((n, 2), -1, dtype=np.int64)
    neighbours[pt, 0] = sym.indices[sym.indptr[pt]]
    neighbours[pt, 1] = sym.indices[sym.indptr[pt] + 1]
    del sym
    # chains: connected runs of pass-through nodes
    a = np.repeat(pt, 2)
    b = neighbours[pt].ravel()
    inner = passthrough[b]
    links = sparse.csr_matrix((np.ones(int(inner.sum()), dtype=np.int8), (a[inner], b[inner])),
                              shape=(n, n))
    _count, labels = connected_components(links, directed=False)
    chain = np.where(passthrough, labels, -1).astype(np.int64)
    starts = np.flatnonzero(~passthrough[_rows(graph)])
    u, end, minutes, first = _walk(graph, passthrough, neighbours, starts)
    order = np.lexsort((minutes, end, u))
    return Chains(passthrough=passthrough, neighbours=neighbours, chain=chain, u=u[order],
                  end=end[order], minutes=minutes[order], first=first[order])


def contract(graph: sparse.csr_matrix, keep: np.ndarray, *,
             prepared: Chains | None = None) -> Contracted:
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
    prepared
        :func:`chains` of ``graph``, computed once (e.g. cached with the
        network); then only the chains that hold a node of ``keep`` are walked.

    Returns
    -------
    Contracted
        The smaller graph and the node mapping.
    """
    graph = canonical(graph)
    n = graph.shape[0]
    base = prepared if prepared is not None else chains(graph)
    keep = np.unique(np.asarray(keep, dtype=np.int64))
    hit = keep[base.passthrough[keep]]
    passthrough = base.passthrough.copy()
    passthrough[hit] = False
    kept_mask = ~passthrough
    # chains that hold a kept node are walked again; every other contracted edge stays
    touched_chain = np.zeros(int(base.chain.max(initial=-1)) + 2, dtype=bool)
    touched_chain[base.chain[hit]] = True
    touched = base.passthrough & touched_chain[base.chain]
    stay = ~touched[base.first]
    rows = np.flatnonzero(touched)
    border = base.neighbours[rows].ravel()
    border = np.unique(border[(border >= 0) & ~base.passthrough[border]])
    indptr = graph.indptr
    starts = np.concatenate([_row_edges(indptr, border), _row_edges(indptr, hit)])
    starts = starts[touched[graph.indices[starts]] | np.isin(starts, _row_edges(indptr, hit))]
    starts = np.unique(starts)
    nu, nend, nmin, _nfirst = _walk(graph, passthrough, base.neighbours, starts)
    order = np.lexsort((nmin, nend, nu))
    nu, nend, nmin = nu[order], nend[order], nmin[order]
    bu, bend, bmin = base.u[stay], base.end[stay], base.minutes[stay]
    bkey = bu * n + bend
    nkey = nu * n + nend
    at = np.searchsorted(bkey, nkey, side="right")
    key = np.insert(bkey, at, nkey)
    mins = np.insert(bmin, at, nmin)
    cu = np.insert(bu, at, nu)
    cv = np.insert(bend, at, nend)
    group = np.ones(len(key), dtype=bool)
    group[1:] = key[1:] != key[:-1]
    heads = np.flatnonzero(group)
    cw = np.minimum.reduceat(mins, heads) if len(heads) else mins[:0]
    cu, cv = cu[heads], cv[heads]
    kept = np.flatnonzero(kept_mask)
    position = np.full(n, -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    m = len(kept)
    core = sparse.csr_matrix((cw, (position[cu], position[cv])), shape=(m, m))
    return Contracted(graph=core, kept=kept, position=position)


def _undirected(graph: sparse.csr_matrix) -> sparse.csr_matrix:
    """Sparsity pattern of ``graph`` ignoring direction (values are not meaningful)."""
    # ones, not the minutes: a sum would drop an arc of 0 minutes (e.g. a free turn)
    ones = sparse.csr_matrix((np.ones(graph.nnz, dtype=np.int8), graph.indices, graph.indptr),
                             shape=graph.shape)
    sym = (ones + ones.T).tocsr()
    sym.sort_indices()
    return sym


def canonical(graph: sparse.csr_matrix) -> sparse.csr_matrix:
    """``graph`` as CSR with sorted indices (a copy only when they were not sorted).

    Raises
    ------
    ValueError
        If an arc appears twice: merge parallel edges (keep the minimum) first.
    """
    graph = sparse.csr_matrix(graph)
    if not graph.has_canonical_format:
        graph = graph.copy()
        graph.sort_indices()
        if not graph.has_canonical_format:
            raise ValueError("graph has duplicate entries; merge parallel edges first")
    return graph


def _rows(graph: sparse.csr_matrix) -> np.ndarray:
    """Start node of every stored edge, in storage order."""
    return np.repeat(np.arange(graph.shape[0], dtype=np.int64), np.diff(graph.indptr))


def _row_edges(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Storage positions of the out-edges of ``nodes``."""
    nodes = np.asarray(nodes, dtype=np.int64)
    lo = indptr[nodes].astype(np.int64)
    cnt = (indptr[nodes + 1] - indptr[nodes]).astype(np.int64)
    if not len(nodes) or not cnt.sum():
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
    return offsets + np.arange(int(cnt.sum()), dtype=np.int64)


def _walk(graph: sparse.csr_matrix, passthrough: np.ndarray, neighbours: np.ndarray,
          starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Follow each edge in ``starts`` through pass-through nodes to the next kept node.

    Returns start node, end node, minutes and the head of the first edge of
    every walk that reaches a kept node other than its start. Minutes are
    summed as a pairwise tree over the chain's edges in driving order, padded
    with zeros to a power of two (the order of the pointer-doubling sum this
    replaced, so results are the same bit for bit).
    """
    indptr = graph.indptr.astype(np.int64)
    indices = graph.indices.astype(np.int64)
    data = np.asarray(graph.data, dtype=float)
    out_deg = np.diff(indptr)
    last = max(len(indices) - 1, 0)
    starts = np.asarray(starts, dtype=np.int64)
    m = len(starts)
    start_node = np.repeat(np.arange(graph.shape[0], dtype=np.int64), out_deg)[starts] \
        if m else np.zeros(0, dtype=np.int64)
    end = indices[starts] if m else np.zeros(0, dtype=np.int64)
    dead = np.zeros(m, dtype=bool)
    levels: list[tuple[np.ndarray, np.ndarray]] = [(np.arange(m), data[starts] if m else
                                                    np.zeros(0))]
    active = np.arange(m)
    edge = starts
    prev = start_node
    while len(active):
        head = indices[edge]
        go = passthrough[head]
        active, edge, head, prev = active[go], edge[go], head[go], prev[go]
        if not len(active):
            break
        other = np.where(neighbours[head, 0] == prev, neighbours[head, 1], neighbours[head, 0])
        lo = indptr[head]
        cnt = out_deg[head]
        nxt = np.full(len(head), -1, dtype=np.int64)
        at0 = (cnt >= 1) & (indices[np.minimum(lo, last)] == other)
        nxt[at0] = lo[at0]
        at1 = (cnt >= 2) & ~at0 & (indices[np.minimum(lo + 1, last)] == other)
        nxt[at1] = lo[at1] + 1
        blocked = nxt < 0
        dead[active[blocked]] = True
        active, edge, prev = active[~blocked], nxt[~blocked], head[~blocked]
        end[active] = indices[edge]
        levels.append((active, data[edge]))
    minutes = _tree_sums(levels, m)
    ok = ~dead & (start_node != end)
    first = indices[starts] if m else np.zeros(0, dtype=np.int64)
    return start_node[ok], end[ok], minutes[ok], first[ok]


def _tree_sums(levels: list[tuple[np.ndarray, np.ndarray]], m: int) -> np.ndarray:
    """Pairwise tree sums: ``levels[k]`` holds (walk, minutes) of the k-th edge of each walk.

    Walks at position ``k + 1`` are a sorted subset of those at ``k``.
    """
    while len(levels) > 1:
        merged: list[tuple[np.ndarray, np.ndarray]] = []
        for j in range(0, len(levels), 2):
            left_ids, left = levels[j]
            if j + 1 < len(levels) and len(levels[j + 1][0]):
                right_ids, right = levels[j + 1]
                at = np.searchsorted(left_ids, right_ids)
                left = left.copy()
                left[at] = left[at] + right
            merged.append((left_ids, left))
        levels = merged
    out = np.zeros(m)
    if m:
        out[levels[0][0]] = levels[0][1]
    return out
