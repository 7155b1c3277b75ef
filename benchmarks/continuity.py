"""Benchmark: 60 nights of casework on the ``region`` sample, blank slate vs continuity.

A deterministic simulation (``--seed``) runs two engines side by side on the
same stream of events:

* children arrive (60 % wait on night 0, the rest arrive over the nights) and
  a few leave the list for other reasons;
* homes gain and lose free places (each home on 0.3 % of the nights, about 6 a night);
* people decide: a proposal without a decision goes into a dialogue meeting
  (``considering``) with probability 0.35 a night; after 7-21 days it is
  accepted (70 %; the child is locked and leaves the list a week later, the
  home's place is then taken) or declined (30 %).

The **blank-slate** engine is ``matcher match`` without continuity: it reads
the accepted placements (typed into ``placements`` the day they are made) but
neither the decisions log nor the previous run. The **continuity** engine
reads the decisions log (``--decisions``) and the previous night's run
(``--previous``). Each world draws its decisions from its own proposals with
the same random numbers per (child, home, night).

Printed per engine: proposals changed per night while ``considering``, all
proposals changed per night, declined pairs proposed again, reservations
broken (and why), children placed (accepted), mean stage-two score per
night, and days waiting (arrival to acceptance; still waiting at the end).
Every 10th night the continuity world is also solved without the previous
run to show the stage-two score stays within the tolerance.

Travel times are computed once for every child and home of the sample; each
night scores and solves only the children on the list.

Usage: ``python benchmarks/continuity.py [--nights 60] [--seed 1] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import logging
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from matcher import config as config_mod
from matcher import decisions as decisions_mod
from matcher import i18n, network, pipeline
from matcher.io import readers
from matcher.scenarios import fjord as sample_mod
from matcher.schema import Inputs
from matcher.timetable import TimeTable

REASONS = ("home_declined", "child_declined", "municipality_declined", "not_suitable", "other")


def _u(seed: int, *key: object) -> float:
    """A uniform number in [0, 1) from a hash of the key (the same in both worlds)."""
    text = "|".join(str(k) for k in (seed, *key)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64


@dataclass
class World:
    """One engine's view of the casework."""

    name: str
    continuity: bool
    capacity: dict[str, int]
    waiting: set[str] = field(default_factory=set)
    considering: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # home, from, to
    accepted: dict[str, tuple[str, int]] = field(default_factory=dict)  # home, leave night
    declined: set[tuple[str, str]] = field(default_factory=set)
    log: list[dict[str, str]] = field(default_factory=list)
    previous: dict[str, str] = field(default_factory=dict)
    # measures
    changed_considering: list[int] = field(default_factory=list)
    changed_all: list[int] = field(default_factory=list)
    changed_undeclined: list[int] = field(default_factory=list)
    proposed: list[int] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    declined_again: int = 0
    broken: dict[tuple[str, str], str] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    lost_acceptances: int = 0
    placed_days: list[int] = field(default_factory=list)
    tolerance_ratio: list[float] = field(default_factory=list)
    seconds: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # English: the simulation reads the change reasons (reservation for ... broken)
    with tempfile.TemporaryDirectory() as tmp, i18n.language("en"):
        work = args.workdir or Path(tmp)
        run(work, nights=args.nights, seed=args.seed)


def run(work: Path, *, nights: int, seed: int) -> None:
    settings = config_mod.Settings()
    t0 = time.perf_counter()
    manifest = sample_mod.generate(work / "sample", seed=1, size="region")
    net = network.build(manifest.roads, settings.network, cache_dir=work / "net")
    full = readers.read_inputs(manifest.children, manifest.homes, manifest.contacts,
                               manifest.placements, manifest.vetoes, settings=settings.scoring)
    times = pipeline.travel_times(full, net, settings)
    print(f"region sample: {len(full.children)} children, {len(full.homes)} homes; network, "
          f"travel times in {time.perf_counter() - t0:.0f} s")

    start = sample_mod.REFERENCE_DATE
    start = start if isinstance(start, datetime.date) else datetime.date.fromisoformat(str(start))
    locked_kids = set(full.placements["child_id"])
    kids = sorted(set(full.children["child_id"]) - locked_kids)
    arrival = {c: (0 if _u(seed, "arrive0", c) < 0.6 else 1 + int(_u(seed, "arrive", c)
                                                                   * (nights - 1)))
               for c in kids}
    leave_other = {c: int(_u(seed, "leaveday", c) * nights) for c in kids
                   if _u(seed, "leave", c) < 0.05}
    home_ids = sorted(full.homes["home_id"])
    capacity0 = dict(zip(full.homes["home_id"], full.homes["capacity"].astype(int), strict=True))
    events = [(n, h, 1 if _u(seed, "cap+", n, h) < 0.5 else -1)
              for n in range(1, nights) for h in home_ids if _u(seed, "cap", n, h) < 0.003]

    worlds = [World("blank slate", False, dict(capacity0)),
              World("continuity", True, dict(capacity0))]
    for night in range(nights):
        day = start + datetime.timedelta(days=night)
        for w in worlds:
            _night(w, full, times, settings, night, day, arrival, leave_other, events, seed,
                   locked_kids)
        if night % 10 == 9:
            c = worlds[1]
            ratio = (f" (continuity stage-two ratio {c.tolerance_ratio[-1]:.4f})"
                     if c.tolerance_ratio else "")
            print(f"night {night + 1}: " + "; ".join(
                f"{w.name}: {w.proposed[-1]} proposed, {w.changed_all[-1]} changed, "
                f"{w.changed_considering[-1]} changed while considering" for w in worlds)
                + ratio, flush=True)
    _print(worlds, nights, settings)


def _inputs_of(full: Inputs, w: World) -> Inputs:
    present = w.waiting | set(full.placements["child_id"])
    children = full.children[full.children["child_id"].isin(present)].copy()
    homes = full.homes.copy()
    homes["capacity"] = homes["home_id"].map(w.capacity).astype(np.int64)
    locks = pd.DataFrame({"child_id": list(w.accepted),
                          "home_id": [h for h, _ in w.accepted.values()]}, dtype="str")
    placements = full.placements
    if not w.continuity and len(locks):
        placements = pd.concat([placements, locks], ignore_index=True)
    vetoes = full.vetoes[full.vetoes["child_id"].isin(present)]
    contacts = full.contacts[full.contacts["child_id"].isin(present)]
    return dataclasses.replace(full, children=children.reset_index(drop=True), homes=homes,
                               contacts=contacts.reset_index(drop=True),
                               placements=placements.reset_index(drop=True),
                               vetoes=vetoes.reset_index(drop=True))


def _night(w: World, full: Inputs, times: TimeTable, settings: config_mod.Settings,
           night: int, day: datetime.date, arrival: dict[str, int],
           leave_other: dict[str, int], events: list[tuple[int, str, int]], seed: int,
           locked_kids: set[str]) -> None:
    # --- the day's events
    for c, (h, leave) in list(w.accepted.items()):
        if leave <= night:  # moved in: off the list, the place is taken
            del w.accepted[c]
            w.waiting.discard(c)
            w.capacity[h] = max(0, w.capacity[h] - 1)
    for c, n in arrival.items():
        if n == night:
            w.waiting.add(c)
    for c, n in leave_other.items():
        if n == night and c not in w.accepted:
            w.waiting.discard(c)
            w.considering.pop(c, None)
    for n, h, delta in events:
        if n == night:
            locked_here = sum(1 for hh, _ in w.accepted.values() if hh == h) + int(
                (full.placements["home_id"] == h).sum())
            w.capacity[h] = max(locked_here, w.capacity[h] + delta)
    for c, (h, begun, ends) in list(w.considering.items()):
        if ends > night or c not in w.waiting:
            continue
        del w.considering[c]
        accept = _u(seed, "outcome", c, h, begun) < 0.7
        row = {"child_id": c, "home_id": h, "decided_on": day.isoformat(),
               "by": "kommune" if _u(seed, "by", c, h) < 0.5 else "bufetat"}
        if accept:
            taken = sum(1 for hh, _ in w.accepted.values() if hh == h) + int(
                (full.placements["home_id"] == h).sum())
            if taken >= w.capacity[h]:
                w.lost_acceptances += 1  # the place went to someone else meanwhile
                w.log.append({**row, "decision": "declined", "reason": "other"})
                w.declined.add((c, h))
                continue
            w.accepted[c] = (h, night + 7)
            w.log.append({**row, "decision": "accepted", "reason": ""})
        else:
            reason = REASONS[int(_u(seed, "reason", c, h) * len(REASONS))]
            w.log.append({**row, "decision": "declined", "reason": reason})
            w.declined.add((c, h))

    # --- the run
    inputs = _inputs_of(full, w)
    kwargs: dict[str, object] = {}
    if w.continuity:
        frame = pd.DataFrame(w.log, columns=list(decisions_mod.COLUMNS)) if w.log else \
            pd.DataFrame({c: pd.Series([], dtype=object) for c in decisions_mod.COLUMNS})
        kwargs["decisions"] = decisions_mod.validate(frame, as_of=day)
        if w.previous:
            kwargs["previous"] = pd.DataFrame({"child_id": list(w.previous),
                                               "home_id": list(w.previous.values())})
    t0 = time.perf_counter()
    result = pipeline.run(inputs, settings, times=times, as_of=day, **kwargs)  # type: ignore[arg-type]
    w.seconds += time.perf_counter() - t0
    if w.continuity and night % 10 == 9:
        plain = pipeline.run(inputs, settings, times=times, as_of=day,
                             decisions=kwargs["decisions"])  # type: ignore[arg-type]
        best = plain.summary.objective_stage2
        w.tolerance_ratio.append(result.summary.objective_stage2 / best if best else 1.0)
    if w.continuity:
        for reason in result.assignments["change_reason"]:
            if reason and not str(reason).startswith("reservation for"):
                w.reasons[re.sub(r"\d+", "#", str(reason))] += 1
    if w.continuity and result.summary.decisions is not None:
        for reason in result.assignments["change_reason"]:
            if str(reason).startswith("reservation for"):
                child = str(reason).split(" ")[2].rstrip(":")
                home, why = str(reason).split(": ", 1)[1].split(" ", 1)
                w.broken.setdefault((child, home), why)
    table = result.assignments
    table = table[~table["child_id"].isin(locked_kids)]
    now = {c: h for c, h in zip(table["child_id"], table["home_id"], strict=True)
           if isinstance(h, str)}

    # --- measures
    w.proposed.append(len(now))
    w.score.append(float(result.summary.objective_stage2))
    w.changed_all.append(sum(1 for c, h in w.previous.items()
                             if c in w.waiting and c not in w.accepted and now.get(c) != h))
    w.changed_undeclined.append(sum(
        1 for c, h in w.previous.items()
        if c in w.waiting and c not in w.accepted and now.get(c) != h
        and (c, h) not in w.declined))
    w.changed_considering.append(sum(1 for c, (h, _, _) in w.considering.items()
                                     if now.get(c) != h))
    w.declined_again += sum(1 for c, h in now.items() if (c, h) in w.declined)
    w.previous = now

    # --- people react to tonight's proposals
    for c, h in sorted(now.items()):
        if c in w.accepted or c in w.considering or (c, h) in w.declined:
            continue
        if _u(seed, "meet", c, h, night) < 0.35:
            weeks = 7 + int(_u(seed, "weeks", c, h) * 15)
            w.considering[c] = (h, night, night + weeks)
            w.log.append({"child_id": c, "home_id": h, "decision": "considering",
                          "decided_on": day.isoformat(),
                          "by": "bufetat" if _u(seed, "by", c, h) < 0.5 else "kommune",
                          "reason": ""})
    for c, (_, leave) in w.accepted.items():
        if leave == night + 7:  # accepted today
            since = full.children.set_index("child_id").at[c, "waiting_since"]
            arrived = start_of(day, night, arrival.get(c, 0))
            began = max(pd.Timestamp(since).date(), arrived) if pd.notna(since) else arrived
            w.placed_days.append((day - began).days)


def start_of(day: datetime.date, night: int, arrival_night: int) -> datetime.date:
    """The date a child arriving on ``arrival_night`` joined the list."""
    return day - datetime.timedelta(days=night - arrival_night)


def _print(worlds: list[World], nights: int, settings: config_mod.Settings) -> None:
    blank, cont = worlds
    rows = [
        ("proposals changed per night while considering",
         *(f"{np.mean(w.changed_considering):.2f}" for w in worlds)),
        ("all proposals changed per night", *(f"{np.mean(w.changed_all):.2f}" for w in worlds)),
        ("proposals changed per night, not for a decline",
         *(f"{np.mean(w.changed_undeclined):.2f}" for w in worlds)),
        ("declined pairs proposed again (pair-nights)", *(str(w.declined_again) for w in worlds)),
        ("acceptances lost (home given away meanwhile)",
         *(str(w.lost_acceptances) for w in worlds)),
        ("children placed (accepted)", *(str(len(w.placed_days)) for w in worlds)),
        ("children with a proposal per night", *(f"{np.mean(w.proposed):.1f}" for w in worlds)),
        ("mean stage-two score per night", *(f"{np.mean(w.score):.3f}" for w in worlds)),
        ("days waiting until accepted (mean)",
         *(f"{np.mean(w.placed_days):.1f}" if w.placed_days else "-" for w in worlds)),
        ("solver + scoring seconds (all nights)", *(f"{w.seconds:.0f}" for w in worlds)),
    ]
    print(f"\n{nights} nights, region sample, stability_tolerance "
          f"{settings.continuity.stability_tolerance}\n")
    print("| measure | blank slate | continuity |\n| --- | --- | --- |")
    for name, a, b in rows:
        print(f"| {name} | {a} | {b} |")
    cut = 1 - np.sum(cont.changed_all) / max(np.sum(blank.changed_all), 1)
    cut_c = 1 - np.sum(cont.changed_considering) / max(np.sum(blank.changed_considering), 1)
    cut_u = 1 - np.sum(cont.changed_undeclined) / max(np.sum(blank.changed_undeclined), 1)
    print(f"\nchanged proposals: {cut:.1%} fewer; not for a decline: {cut_u:.1%} fewer; "
          f"while considering: {cut_c:.1%} fewer")
    why = Counter(cont.broken.values())
    print(f"reservations broken (continuity): {len(cont.broken)}, by reason: "
          + (", ".join(f"{k}: {v}" for k, v in sorted(why.items())) or "none"))
    print("why continuity proposals changed (ids and numbers as #): " + "; ".join(
        f"{k}: {v}" for k, v in cont.reasons.most_common(8)))
    if cont.tolerance_ratio:
        print(f"continuity stage-two score / optimum without the previous run: min "
              f"{min(cont.tolerance_ratio):.4f} over {len(cont.tolerance_ratio)} nights "
              f"(tolerance {settings.continuity.stability_tolerance})")


if __name__ == "__main__":
    main()
