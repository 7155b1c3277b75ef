"""The follow-up models against brute force: every feasible assignment of small instances."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from matcher.errors import InputError
from matcher.planning import followup


def _instances(seed: int, n_clients: int, n_servers: int) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    minutes = rng.integers(5, 80, size=(n_clients, n_servers)).astype(float)
    minutes[rng.random(minutes.shape) < 0.15] = np.inf
    demand = rng.integers(1, 4, size=n_clients)
    capacity = rng.integers(0, 7, size=n_servers)
    allowed = rng.random(minutes.shape) < 0.85
    return minutes, demand, capacity, allowed


def _feasible(minutes: np.ndarray, demand: np.ndarray, capacity: np.ndarray,
              allowed: np.ndarray) -> list[tuple[int, ...]]:
    """Every assignment (server or -1 per client) within capacity and the allowed pairs."""
    n_c, n_s = minutes.shape
    out = []
    for choice in itertools.product(range(-1, n_s), repeat=n_c):
        load = np.zeros(n_s)
        ok = True
        for c, s in enumerate(choice):
            if s < 0:
                continue
            if not (allowed[c, s] and math.isfinite(minutes[c, s]) and demand[c] > 0):
                ok = False
                break
            load[s] += demand[c]
        if ok and np.all(load <= capacity):
            out.append(choice)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_supervisors_match_brute_force(seed: int) -> None:
    minutes, visits, capacity, allowed = _instances(seed, 5, 3)
    best = min(_feasible(minutes, visits, capacity, allowed), key=lambda ch: (
        -sum(s >= 0 for s in ch),
        sum(2 * visits[c] * minutes[c, s] for c, s in enumerate(ch) if s >= 0)))
    served = sum(s >= 0 for s in best)
    cost = sum(2 * visits[c] * minutes[c, s] for c, s in enumerate(best) if s >= 0)
    got = followup.assign_supervisors(minutes, visits, capacity, allowed=allowed)
    assert got.served == served
    assert got.cost == pytest.approx(cost)
    load = np.zeros(len(capacity))
    for c, s in enumerate(got.server):
        if s >= 0:
            assert allowed[c, s] and math.isfinite(minutes[c, s])
            load[s] += visits[c]
    assert np.all(load <= capacity)


@pytest.mark.parametrize("seed", range(12))
def test_relief_matches_brute_force(seed: int) -> None:
    minutes, weekends, capacity, allowed = _instances(100 + seed, 5, 3)
    weekends = weekends - 1  # some placements need no relief
    kin = np.random.default_rng(seed).random(minutes.shape) < 0.2
    feasible = _feasible(minutes, weekends, capacity, allowed)

    def key(ch: tuple[int, ...]) -> tuple[float, float, float]:
        used = [(c, s) for c, s in enumerate(ch) if s >= 0]
        return (-len(used), -sum(kin[p] for p in used), sum(minutes[p] for p in used))

    best = key(min(feasible, key=key))
    got = followup.assign_relief(minutes, weekends, capacity, kin=kin, allowed=allowed)
    assert (-got.served, -got.kin) == best[:2]
    assert got.cost == pytest.approx(best[2])
    assert all(weekends[c] > 0 for c, s in enumerate(got.server) if s >= 0)


@pytest.mark.parametrize("limited", [True, False])
@pytest.mark.parametrize("seed", range(10))
def test_courses_match_brute_force(seed: int, limited: bool) -> None:
    """With venue limits one joint model; without, one model per course."""
    rng = np.random.default_rng(200 + seed)
    n_q, n_v, n_k, size = 6, 3, 2, 2
    minutes = rng.integers(5, 90, size=(n_q, n_v)).astype(float)
    minutes[rng.random(minutes.shape) < 0.15] = np.inf
    course_of = rng.integers(0, n_k, size=n_q)
    max_runs = rng.integers(0, 3, size=n_v).astype(float) if limited else np.full(n_v, np.inf)
    best: tuple[float, float, float] | None = None
    for choice in itertools.product(range(-1, n_v), repeat=n_q):
        if any(v >= 0 and not math.isfinite(minutes[q, v]) for q, v in enumerate(choice)):
            continue
        count = np.zeros((n_k, n_v))
        for q, v in enumerate(choice):
            if v >= 0:
                count[course_of[q], v] += 1
        runs = np.ceil(count / size)
        if np.any(runs.sum(axis=0) > max_runs):
            continue
        used = [(q, v) for q, v in enumerate(choice) if v >= 0]
        key = (-len(used), runs.sum(), sum(minutes[p] for p in used))
        best = key if best is None or key < best else best
    assert best is not None
    got = followup.group_courses(minutes, course_of, n_k, max_class=size,
                                 max_runs=max_runs if limited else None)
    assert (-got.served, got.total_runs) == best[:2]
    assert got.minutes == pytest.approx(best[2])
    assert np.all(got.runs.sum(axis=0) <= max_runs)


def test_the_oracle_can_fail() -> None:
    """A greedy nearest assignment loses to the optimum on a hand-made instance."""
    minutes = np.array([[10.0, 20.0], [11.0, 100.0]])
    got = followup.assign_supervisors(minutes, [4, 4], [4, 4])
    # greedy: child 0 takes supervisor 0 (10), child 1 gets supervisor 1 (100): 2*4*110
    assert got.cost == pytest.approx(2 * 4 * (20 + 11))
    assert got.server.tolist() == [1, 0]


def test_bad_shapes_and_class_size() -> None:
    with pytest.raises(InputError):
        followup.assign_supervisors(np.zeros((2, 2)), [1], [1, 1])
    with pytest.raises(InputError):
        followup.group_courses(np.zeros((1, 1)), [0], 1, max_class=0)
