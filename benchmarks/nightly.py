"""Benchmark: the nightly job on a synthetic sample against PostGIS.

Generates the sample (``--size national`` by default: 1,000 children,
10,000 homes, >= 500,000 road nodes; ``--size region`` for a quicker run),
stores its tables in PostGIS, then runs the nightly job twice:

* **cold**: the network is built from the OSM file (empty cache);
* **warm**: ``force=True`` with the cached network, as on a night whose
  inputs changed but the roads did not.

For each it prints seconds per step (read, validate, network, travel times,
solve = scoring + assignment, write, total) and the peak resident memory
reached by the end of each step. Without ``--url`` a throwaway PostgreSQL +
PostGIS server is started on 127.0.0.1 (Debian: ``apt-get install
postgresql postgresql-15-postgis-3``).

With ``--national FILE.osm.pbf`` (the Norway-scale file that
``benchmarks/network_build.py --keep FILE`` writes, about 7 M road nodes)
the job routes on that network instead of the sample's own roads; the
sample's points lie in its western part. ``--network-cache DIR`` reuses a
network already built from that file with the default settings (``matcher
network build --osm FILE --out DIR``), so that only warm runs are timed.
``--max-snap-km`` widens the snapping limit for points that the generated
file's fjords leave far from a road.

Usage: ``python benchmarks/nightly.py [--size national|region|small] [--seed 1]
[--workdir DIR] [--url postgresql+psycopg://user@host:port/db --password-env VAR]
[--national FILE.osm.pbf [--network-cache DIR] [--max-snap-km 2]]``
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from matcher import config as config_mod
from matcher import nightly, testing
from matcher.scenarios import fjord as sample_mod

STEPS = ("read", "validate", "network", "travel_times", "solve", "write", "total")


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


class _PeakPerStep(logging.Handler):
    """Note the peak memory when each nightly step event is logged."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.peaks: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and "step" in fields:
            self.peaks[str(fields["step"])] = peak_rss_mb()


@contextlib.contextmanager
def _server(url: str | None, password_env: str | None) -> Iterator[tuple[str, str | None]]:
    if url is not None:
        yield url, password_env
        return
    with testing.temporary_postgres() as server:
        os.environ["FOSTERMATCH_BENCH_PASSWORD"] = server.password
        yield server.url, "FOSTERMATCH_BENCH_PASSWORD"


def run(size: str, seed: int, workdir: Path, url: str | None, password_env: str | None, *,
        national: Path | None = None, network_cache: Path | None = None,
        max_snap_km: float | None = None) -> None:
    """Generate (or reuse) the sample, load it into PostGIS and time two nightly runs."""
    sample_dir = workdir / f"sample-{size}-{seed}"
    t0 = time.perf_counter()
    if not (sample_dir / "README.md").is_file():
        sample_mod.generate(sample_dir, seed=seed, size=size)  # type: ignore[arg-type]
    print(f"sample {size} (seed {seed}) ready in {time.perf_counter() - t0:.1f} s: {sample_dir}")
    osm = national if national is not None else sample_dir / "roads.osm"
    if network_cache is not None:
        cache = network_cache
        print(f"network cache {cache} reused (a cold run finds it warm)")
    else:
        cache = workdir / f"network-cache-{size}-{seed}"
        shutil.rmtree(cache, ignore_errors=True)
    extra: dict[str, object] = {}
    if max_snap_km is not None:
        extra["travel"] = {"max_snap_metres": max_snap_km * 1000.0}

    watcher = _PeakPerStep()
    log = logging.getLogger("matcher")
    log.addHandler(watcher)
    log.setLevel(logging.INFO)
    with _server(url, password_env) as (store_url, env):
        store: dict[str, object] = {"url": store_url}
        if env:
            store["password_env"] = env
        config = config_mod.nightly_from_dict({
            "store": store,
            "network": {"osm": str(osm), "cache_dir": str(cache)},
            "job": {"as_of": sample_mod.REFERENCE_DATE},
            **extra,
        })
        t0 = time.perf_counter()
        counts = nightly.load_inputs(config, sample_dir)
        print(f"loaded into {store_url.split('@')[-1]} in {time.perf_counter() - t0:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        rows = []
        for label, force in (("cold", False), ("warm", True)):
            watcher.peaks.clear()
            outcome = nightly.run_nightly(config, force=force)
            t = dict(outcome.timings)
            t["solve"] = t.get("scoring", 0.0) + t.get("assignment", 0.0)
            peaks = dict(watcher.peaks)
            peaks["travel_times"] = peaks["solve"] = peaks.get("match", 0.0)
            peaks["total"] = peak_rss_mb()
            rows.append((label, outcome, t, peaks))
    log.removeHandler(watcher)

    print()
    print(f"{'step':<14}" + "".join(f"{label + ' s':>12}{'peak MiB':>10}"
                                    for label, *_ in rows))
    for step in STEPS:
        print(f"{step:<14}" + "".join(f"{t.get(step, 0.0):>12.2f}{peaks.get(step, 0.0):>10.0f}"
                                      for _, _, t, peaks in rows))
    for label, outcome, _, _ in rows:
        c = outcome.counts
        print(f"{label}: {outcome.status}, {c['placed']:,} of {c['children']:,} children "
              f"placed, {c['homes']:,} homes, solver {outcome.solver_status}, "
              f"{c['results_written']:,} result rows written")
    print(f"peak memory of the process: {peak_rss_mb():,.0f} MiB "
          "(peaks are cumulative: the maximum so far at the end of each step)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sample_mod.SIZES, default="national")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Folder for the sample and the cache (default: a temporary one).")
    parser.add_argument("--url", default=None,
                        help="An existing PostGIS store url (default: a throwaway server).")
    parser.add_argument("--password-env", default=None,
                        help="Environment variable with the password for --url.")
    parser.add_argument("--national", type=Path, default=None,
                        help="Route on this Norway-scale .osm.pbf (network_build.py --keep).")
    parser.add_argument("--network-cache", type=Path, default=None,
                        help="Reuse this network cache folder (built from --national).")
    parser.add_argument("--max-snap-km", type=float, default=None,
                        help="Snapping limit in km (default: the config default, 2 km).")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fostermatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run(args.size, args.seed, workdir, args.url, args.password_env, national=args.national,
        network_cache=args.network_cache, max_snap_km=args.max_snap_km)


if __name__ == "__main__":
    main()
