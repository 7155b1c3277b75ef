"""OSRM side of ``benchmarks/realism.py``: run inside the Python 3.12 venv with ``osrm-bindings``.

Never imported by the package (OSRM is not a dependency of fostermatch);
``realism.py`` runs it as a subprocess:

``python osrm_table.py profile``
    print the path of the wheel's ``car.lua``.
``python osrm_table.py table < request.json > durations.json``
    ``request``: ``{"osrm": base path, "algorithm": "CH"|"MLD", "coordinates":
    [[lon, lat], ...] (degrees, EPSG:4326), "sources": [...], "destinations":
    [...]}``; prints ``{"minutes": [[...], ...], "load_seconds": s, "table_seconds": s}``
    (``null`` where OSRM finds no route; the seconds to open the files and to
    answer the tables). The build commands are
    ``python -m osrm extract|contract|partition|customize``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

_BLOCK = 100  # sources per Table call


def _profile() -> str:
    import osrm

    return str(Path(osrm.__file__).parent / "share" / "profiles" / "car.lua")


def _table(request: dict) -> dict:
    import osrm

    t0 = time.perf_counter()
    engine = osrm.OSRM(storage_config=request["osrm"], algorithm=request["algorithm"],
                       use_shared_memory=False, max_locations_distance_table=-1)
    t1 = time.perf_counter()
    coords = [tuple(c) for c in request["coordinates"]]
    sources, destinations = request["sources"], request["destinations"]
    rows: list[list[float | None]] = []
    for start in range(0, len(sources), _BLOCK):
        block = sources[start:start + _BLOCK]
        used = sorted(set(block) | set(destinations))
        index = {c: k for k, c in enumerate(used)}
        params = osrm.TableParameters(
            coordinates=[coords[c] for c in used],
            sources=[index[s] for s in block], destinations=[index[d] for d in destinations],
            annotations=["duration"])
        result = engine.Table(params)
        if result["code"] != "Ok":
            raise RuntimeError(f"OSRM table: {result['code']}")
        for row in result["durations"]:
            rows.append([None if d is None else float(d) / 60.0 for d in row])
    return {"minutes": rows, "load_seconds": t1 - t0, "table_seconds": time.perf_counter() - t1}


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "profile":
        print(_profile())
    elif command == "table":
        json.dump(_table(json.load(sys.stdin)), sys.stdout)
    else:
        sys.exit("usage: osrm_table.py profile | table < request.json")


if __name__ == "__main__":
    main()
