"""Turn costs and turn restrictions on a turn-expanded graph (issue 20).

The plain node graph cannot price a turn: the time of ``a -> x -> b``
depends on the pair of edges, not on one of them. :func:`expand` turns the
node graph into an edge-based one:

* every directed edge ``e = a -> x`` ends in its own **in-port** ``I_e`` (a
  copy of ``x``, see ``Network.copy_of``): "at ``x``, having come from ``a``";
* from ``I_e`` one **turn arc** per allowed exit ``f = x -> b``, to ``I_f``,
  costing the turn (:func:`turn_seconds`, 0 where fewer than three roads
  meet) plus ``f``'s own minutes;
* a U-turn (``b == a``) only where ``e`` has no other way on (a dead end, or
  restrictions leave nothing else), as in OSRM;
* a node where a trip cannot start freely from its in-ports (a junction, a
  dead end) keeps an arc along each of its edges, with no turn cost, and no
  arc into it. Trips start at a node and all its in-ports at once and end at
  any of them (``traveltime.matrix`` searches from each group).

Forbidden turns have no arc. Via-way restrictions (``from`` way ``F``,
``via`` way ``W``, ``to`` way ``T``) clone ``W``'s path: entering from ``F``
at ``W``'s first node ``x``, the turn onto ``W`` leads into copies of
``W``'s nodes up to its node ``y`` on ``T``, where the forbidden exits (onto
``T`` for ``no_*``, all but ``T`` for ``only_*``) are left out; at nodes in
between every other exit stays open.

Road chains stay chains (an in-port on a chain has one way in and one way
on), so the chain contraction of :mod:`matcher.contraction` still removes
them; what is left to search is about three times the junctions' size.
Bearings come from the node next to the junction (metres, the network CRS).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from matcher.config import NetworkSettings

__all__ = ["STRAIGHT_DEGREES", "Expanded", "allowed_exits", "expand", "junctions",
           "turn_seconds"]

STRAIGHT_DEGREES = 0.01
"""Turns by less than this many degrees count as straight on (0 degrees)."""


@dataclass(frozen=True)
class Expanded:
    """The turn-expanded arcs of a node graph.

    Attributes
    ----------
    tail, head
        Node positions of every arc: the original ``n`` nodes, then the
        copies (in-ports and clones), numbered from ``n``.
    edge
        The original edge each arc drives (its length, class and minutes).
    turn_minutes
        Turn cost of each arc in minutes (0 on arcs that start at a node).
    copy_of
        The original node each copy stands for.
    """

    tail: np.ndarray
    head: np.ndarray
    edge: np.ndarray
    turn_minutes: np.ndarray
    copy_of: np.ndarray


def turn_seconds(angle: np.ndarray, u_turn: np.ndarray, settings: NetworkSettings
                 ) -> np.ndarray:
    """Seconds of a turn of ``angle`` degrees (0 straight on, > 0 right, < 0 left).

    OSRM ``car.lua``'s ``process_turn`` (see :data:`matcher.config.DEFAULT_TURN`);
    a U-turn counts as 180 degrees plus ``u_turn_seconds``.
    """
    a = np.where(u_turn, 180.0, np.asarray(angle, dtype=float))
    bias, penalty = settings.turn_bias, settings.turn_penalty_seconds
    right = penalty / (1 + np.exp(-((13 / bias) * a / 180 - 6.5 * bias)))
    left = penalty / (1 + np.exp(-((13 * bias) * -a / 180 - 6.5 / bias)))
    out = np.where(a >= 0, right, left)
    oncoming = (a < 0) & ~u_turn
    out = out + np.where(oncoming, settings.oncoming_turn_seconds
                         / (1 + np.exp(-(13 * np.abs(a) / 180 - 3.25))), 0.0)
    return np.asarray(out + np.where(u_turn, settings.u_turn_seconds, 0.0), dtype=float)


def junctions(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Nodes with three or more distinct neighbours (either direction)."""
    return np.asarray(_degree(u, v, n) >= 3)


def _degree(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Distinct neighbours of each node (either direction)."""
    lo, hi = np.minimum(u, v).astype(np.int64), np.maximum(u, v).astype(np.int64)
    pairs = np.unique(lo * np.int64(n) + hi)
    return np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)


def allowed_exits(u: np.ndarray, v: np.ndarray, way_of: np.ndarray, r_from: np.ndarray,
                  r_via: np.ndarray, r_to: np.ndarray, r_only: np.ndarray
                  ) -> tuple[dict[int, set[int]], dict[int, list[int]]]:
    """Exits left to each edge entering a via node of a restriction, and every via's exits.

    For every directed edge ``e = a -> x`` entering a via node ``x`` on a
    restriction's from-way, the allowed next edges are ``x``'s out-edges
    minus the to-way's (``no_*``) or only the to-way's (``only_*``); for a
    restriction from a way onto itself only the edge back to ``a`` counts as
    the to-way's. Edges not in the returned dict may take every exit.
    """
    outs: dict[int, list[int]] = {}
    allowed: dict[int, set[int]] = {}
    if not len(r_via):
        return allowed, outs
    vias = np.unique(r_via)
    ins: dict[int, list[int]] = {}
    for edge in np.flatnonzero(np.isin(v, vias)).tolist():
        ins.setdefault(int(v[edge]), []).append(edge)
    for edge in np.flatnonzero(np.isin(u, vias)).tolist():
        outs.setdefault(int(u[edge]), []).append(edge)
    for frm, via, to, only in zip(r_from, r_via, r_to, r_only, strict=True):
        leaving = outs.get(int(via), [])
        onto = [f for f in leaving if way_of[f] == to]
        for e in (e for e in ins.get(int(via), []) if way_of[e] == frm):
            targets = ({f for f in onto if v[f] == u[e]} if frm == to else set(onto))
            if not targets:
                continue  # the to-way is not driven from here: nothing to restrict
            if only and frm == to:
                targets = {f for f in onto if v[f] != u[e]}
            current = allowed.get(e, set(leaving))
            allowed[e] = current & targets if only else current - targets
    return allowed, outs


def _angles(u: np.ndarray, v: np.ndarray, x: np.ndarray, y: np.ndarray, e: np.ndarray,
            f: np.ndarray) -> np.ndarray:
    """Degrees turned from edge ``e`` into edge ``f`` (> 0 right, < 0 left), metres in x, y."""
    ax, ay = x[v[e]] - x[u[e]], y[v[e]] - y[u[e]]
    bx, by = x[v[f]] - x[u[f]], y[v[f]] - y[u[f]]
    left = np.degrees(np.arctan2(ax * by - ay * bx, ax * bx + ay * by))
    # the sigmoid has a step at 0 (a left turn pays the oncoming term): a road drawn
    # straight on, bent by the projection or by rounding, goes straight on
    return np.where(np.abs(left) < STRAIGHT_DEGREES, 0.0, -left)


def expand(u: np.ndarray, v: np.ndarray, way_of: np.ndarray, x: np.ndarray, y: np.ndarray,
           settings: NetworkSettings, *, r_from: np.ndarray, r_via: np.ndarray,
           r_to: np.ndarray, r_only: np.ndarray, w_from: np.ndarray, w_via: np.ndarray,
           w_to: np.ndarray, w_only: np.ndarray) -> Expanded:
    """The turn-expanded arcs of the directed edges ``u -> v`` (see the module docstring).

    Parameters
    ----------
    u, v
        Node positions of each directed edge (``n = len(x)`` nodes).
    way_of
        OSM way id of each edge.
    x, y
        Node coordinates in metres (a projected CRS), for the turn angles.
    settings
        Turn costs (``turn_penalty_seconds``...) and ``turn_restrictions``.
    r_from, r_via, r_to, r_only
        Via-node restrictions: from-way id, via node position, to-way id, only.
    w_from, w_via, w_to, w_only
        Via-way restrictions: from-, via- and to-way ids, only.
    """
    n = len(x)
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    n_edges = len(u)
    if not settings.turn_restrictions:
        r_via = r_via[:0]
        w_via = w_via[:0]
    degree = _degree(u, v, n)
    crossing = degree >= 3
    paths = _via_way_paths(u, v, way_of, w_from, w_via, w_to, w_only)

    # one in-port per edge, numbered after the nodes by (head, tail, way): the same
    # numbers whatever order a reader gave the segments in
    rank = np.lexsort((way_of, u, v))
    port = np.empty(n_edges, dtype=np.int64)
    port[rank] = n + np.arange(n_edges, dtype=np.int64)
    copy_of = [v[rank]]
    head = port

    # every (in-edge, out-edge) pair at each node, vectorised
    order_out = np.argsort(u, kind="stable")
    out_count = np.bincount(u, minlength=n)
    out_start = np.concatenate([[0], np.cumsum(out_count)[:-1]])
    reps = out_count[v]
    pair_e = np.repeat(np.arange(n_edges), reps)
    offset = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    pair_f = order_out[np.repeat(out_start[v], reps) + offset]

    allowed, _outs = allowed_exits(u, v, way_of, r_from, r_via, r_to, r_only)
    keep = np.ones(len(pair_e), dtype=bool)
    if allowed:
        restricted = np.fromiter(allowed, dtype=np.int64)
        at = np.flatnonzero(np.isin(pair_e, restricted))
        ok = {(e, f) for e, fs in allowed.items() for f in fs}
        keep[at] = [(int(a), int(b)) in ok for a, b in zip(pair_e[at], pair_f[at], strict=True)]
    # a U-turn only where nothing else is allowed (a dead end), as in OSRM
    u_turn = v[pair_f] == u[pair_e]
    onward = np.bincount(pair_e[keep & ~u_turn], minlength=n_edges)
    keep &= ~u_turn | (onward[pair_e] == 0)
    # turning onto a via way from its from-way leads into the clone instead
    cloned = {(e, found[0][0]) for found in paths.values() for e in found[2]}
    if cloned:
        at = np.flatnonzero(np.isin(pair_e, np.fromiter((c[0] for c in cloned), np.int64)))
        for k in at.tolist():
            if (int(pair_e[k]), int(pair_f[k])) in cloned:
                keep[k] = False
    pair_e, pair_f = pair_e[keep], pair_f[keep]

    def cost(e: np.ndarray, f: np.ndarray) -> np.ndarray:
        e, f = np.asarray(e, np.int64), np.asarray(f, np.int64)
        turned = v[f] == u[e]
        angled = crossing[v[e]]  # OSRM prices angles only where three roads or more meet
        seconds = turn_seconds(np.where(angled, _angles(u, v, x, y, e, f), 0.0), turned,
                               settings)
        seconds = np.where(angled | turned, seconds, 0.0)
        return np.asarray(seconds / 60.0)

    # trips start at a node's in-ports (the way on, either way); where that is not free
    # (a junction, a dead end, a one-way end) the node itself leads along every edge out
    dead = np.zeros(n, dtype=bool)
    dead[v[onward == 0]] = True
    start = (degree != 2) | dead
    source = np.flatnonzero(start[u])
    tails = [u[source], port[pair_e]]
    heads = [head[source], head[pair_f]]
    edges = [source, pair_f]
    turns = [np.zeros(len(source)), cost(pair_e, pair_f)]

    next_copy = n + n_edges
    for _key, (path, last, entering, exits) in sorted(paths.items()):
        for e in entering:
            if e in allowed and path[0] not in allowed[e]:
                continue  # the turn onto the via way is forbidden at its first node anyway
            prev_edge, prev_node = e, int(port[e])
            for k, g in enumerate(path):
                node = next_copy
                next_copy += 1
                copy_of.append(np.array([v[g]]))
                tails.append(np.array([prev_node]))
                heads.append(np.array([node]))
                edges.append(np.array([g]))
                turns.append(cost(np.array([prev_edge]), np.array([g])))
                if k > 0:
                    # leaving the via way on its way: every other exit stays open
                    others = _exits(u, v, order_out, out_start, out_count, prev_edge, allowed)
                    others = [f for f in others if f != g and v[f] != u[prev_edge]]
                    _add_exits(tails, heads, edges, turns, prev_node, prev_edge, others, head,
                               cost)
                prev_edge, prev_node = g, node
            ends = _exits(u, v, order_out, out_start, out_count, last, allowed)
            ends = [f for f in ends if (way_of[f] in exits[0]) == exits[1]]
            onto = [f for f in ends if v[f] != u[last]]
            _add_exits(tails, heads, edges, turns, prev_node, last, onto or ends, head, cost)
    return Expanded(tail=np.concatenate(tails), head=np.concatenate(heads),
                    edge=np.concatenate(edges).astype(np.int64),
                    turn_minutes=np.concatenate(turns),
                    copy_of=np.concatenate(copy_of).astype(np.int64))


def _exits(u: np.ndarray, v: np.ndarray, order_out: np.ndarray, out_start: np.ndarray,
           out_count: np.ndarray, entering: int, allowed: dict[int, set[int]]) -> list[int]:
    """Out-edges of ``entering``'s head that its via-node restrictions leave open."""
    node = int(v[entering])
    outs = order_out[out_start[node]:out_start[node] + out_count[node]].tolist()
    return [f for f in outs if entering not in allowed or f in allowed[entering]]


def _add_exits(tails: list[np.ndarray], heads: list[np.ndarray], edges: list[np.ndarray],
               turns: list[np.ndarray], node: int, entering: int, exits: list[int],
               head: np.ndarray, cost: object) -> None:
    if not exits:
        return
    f = np.asarray(exits, dtype=np.int64)
    tails.append(np.full(len(f), node, dtype=np.int64))
    heads.append(head[f])
    edges.append(f)
    turns.append(cost(np.full(len(f), entering), f))  # type: ignore[operator]


def _via_way_paths(u: np.ndarray, v: np.ndarray, way_of: np.ndarray, w_from: np.ndarray,
                   w_via: np.ndarray, w_to: np.ndarray, w_only: np.ndarray
                   ) -> dict[tuple[int, int], tuple[list[int], int, list[int],
                                                    tuple[set[int], bool]]]:
    """The driven path of each via way, by ``(from way, via way)``.

    Returns, per ``(from way, via way)``: the via way's edges from its node
    on the from-way ``x`` to its node on the to-way ``y``, the last of them,
    the from-way's edges entering ``x``, and the exits at ``y`` to keep:
    ``(to-way ids, True)`` keeps exits onto those ways (``only_*``),
    ``(to-way ids, False)`` keeps the others (``no_*``). Restrictions whose
    ways do not meet, whose via way cannot be driven from ``x`` to ``y``, or
    whose ``no_*`` and ``only_*`` disagree for one pair are left out.
    """
    out: dict[tuple[int, int], tuple[list[int], int, list[int], tuple[set[int], bool]]] = {}
    if not len(w_via):
        return out
    wanted = np.unique(np.concatenate([w_from, w_via, w_to]))
    on: dict[int, np.ndarray] = {}
    hit = np.flatnonzero(np.isin(way_of, wanted))
    for way in wanted.tolist():
        on[way] = hit[way_of[hit] == way]
    grouped: dict[tuple[int, int], list[tuple[int, bool]]] = {}
    for frm, via, to, only in zip(w_from.tolist(), w_via.tolist(), w_to.tolist(),
                                  w_only.tolist(), strict=True):
        grouped.setdefault((frm, via), []).append((to, bool(only)))
    for (frm, via), tos in sorted(grouped.items()):
        onlys = {only for _to, only in tos}
        if len(onlys) != 1:
            continue
        only = onlys.pop()
        f_edges, w_edges = on[frm], on[via]
        w_nodes = set(u[w_edges].tolist()) | set(v[w_edges].tolist())
        starts = sorted(set(v[f_edges].tolist()) & w_nodes)
        to_nodes = set()
        for to, _only in tos:
            to_nodes |= (set(u[on[to]].tolist()) | set(v[on[to]].tolist())) & w_nodes
        if len(starts) != 1 or not to_nodes:
            continue
        x = starts[0]
        path = _walk(u, v, w_edges, x, to_nodes - {x})
        if path is None:
            continue
        entering = [int(e) for e in f_edges if v[e] == x]
        out[(frm, via)] = (path, path[-1], entering, ({to for to, _o in tos}, only))
    return out


def _walk(u: np.ndarray, v: np.ndarray, edges: np.ndarray, start: int, ends: set[int]
          ) -> list[int] | None:
    """Edges of the shortest (fewest edges) path along ``edges`` from ``start`` to ``ends``."""
    nxt: dict[int, list[int]] = {}
    for e in edges.tolist():
        nxt.setdefault(int(u[e]), []).append(e)
    came: dict[int, int] = {}
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node in ends:
            path = []
            while node != start:
                e = came[node]
                path.append(e)
                node = int(u[e])
            return path[::-1]
        for e in nxt.get(node, []):
            if int(v[e]) not in seen:
                seen.add(int(v[e]))
                came[int(v[e])] = e
                queue.append(int(v[e]))
    return None
