"""CLI commands for networks, travel times and isochrones."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from matcher.cli.common import (
    STATE,
    ConfigOpt,
    emit,
    err_console,
    errors,
    load_config,
    parse_bands,
    progress,
    say,
    steps,
)
from matcher.errors import InputError

__all__ = [
    "GPKG_DEFAULT_MAX_NODES",
    "MUNICIPALITY_FILE",
    "isochrones_cmd",
    "network_app",
    "network_build",
    "traveltime_cmd",
]

network_app = typer.Typer(help="Build and inspect road networks.", no_args_is_help=True)


# --------------------------------------------------------------------------- network


GPKG_DEFAULT_MAX_NODES = 1_000_000
"""Above this many nodes the GeoPackage export runs only with ``--gpkg``."""

MUNICIPALITY_FILE = "kommuner_2024_S.geojson"


@network_app.command("build")
def network_build(
    osm: Annotated[Path, typer.Option("--osm", exists=True, dir_okay=False, readable=True,
                                      help="Local OSM file: .osm, .osm.xml, .osm.bz2 or "
                                           ".osm.pbf.")],
    out: Annotated[Path, typer.Option("--out", file_okay=False,
                                      help="Folder for network.npz/.json (the cache) and "
                                           "network.gpkg.")],
    config: ConfigOpt = None,
    gpkg: Annotated[bool | None, typer.Option(
        "--gpkg/--no-gpkg",
        help=f"Export nodes and edges to network.gpkg for QGIS. Default: on below "
             f"{GPKG_DEFAULT_MAX_NODES:,} nodes, off above.")] = None,
    clip_municipalities: Annotated[str | None, typer.Option(
        "--clip-municipalities",
        help="Keep only roads in these municipalities (2024 kommunenummer, comma-separated, "
             "e.g. 4626,4631) plus --clip-buffer-km.")] = None,
    clip_polygon: Annotated[Path | None, typer.Option(
        "--clip-polygon", dir_okay=False,
        help="Keep only roads inside the polygons of this file (GeoJSON/GeoPackage, any CRS) "
             "plus --clip-buffer-km.")] = None,
    clip_buffer_km: Annotated[float, typer.Option(
        "--clip-buffer-km", min=0.0, help="Buffer around the clip area, km.")] = 0.0,
    municipality_file: Annotated[Path | None, typer.Option(
        "--municipality-file", dir_okay=False,
        help=f"Municipality polygons for --clip-municipalities (column kommunenummer); "
             f"default: the project's data/{MUNICIPALITY_FILE}.")] = None,
) -> None:
    """Build a routable drive network (Norwegian speeds, car ferries) from a local OSM file."""
    from matcher import network

    with errors():
        settings = load_config(config)
        clip = _clip_area(clip_municipalities, clip_polygon, clip_buffer_km, municipality_file)
        with steps("building network") as step, _byte_bar(f"reading {osm.name}") as on_bytes:
            net = network.build(osm, settings.network, cache_dir=out, progress=step,
                                on_bytes=on_bytes, clip=clip)
        info = net.info
        export = gpkg if gpkg is not None else info.nodes < GPKG_DEFAULT_MAX_NODES
        gpkg_steps: list[dict[str, float | str]] = []
        if export:
            t0 = time.perf_counter()
            with steps("exporting network.gpkg"):
                network.to_gpkg(net, out / "network.gpkg")
            gpkg_steps.append({"step": "gpkg", "seconds": round(time.perf_counter() - t0, 4),
                               "peak_mb": round(network.peak_memory_mb(), 1)})
            gpkg_note = "network.gpkg written"
        elif gpkg is None:
            gpkg_note = (f"network.gpkg not written: {info.nodes:,} nodes is at least "
                         f"{GPKG_DEFAULT_MAX_NODES:,}; pass --gpkg to export it anyway")
        else:
            gpkg_note = "network.gpkg not written (--no-gpkg)"
        say(f"network: {info.nodes:,} nodes, {info.edges:,} edges ({info.ferry_edges} ferry), "
             f"{info.dropped_nodes:,} nodes dropped outside the largest strongly connected "
             f"component; {'loaded from cache' if info.from_cache else 'built'} in "
             f"{info.seconds:.2f} s -> {out}")
        if info.clip is not None:
            c = info.clip
            say(f"clip: {c.area} + {c.buffer_km:g} km kept {c.nodes_kept:,} of {c.nodes_read:,} "
                f"road nodes ({c.share_kept:.1%}); bounding box {c.bbox[0]:.3f}, "
                f"{c.bbox[1]:.3f}, {c.bbox[2]:.3f}, {c.bbox[3]:.3f} (W, S, E, N, degrees)")
        all_steps = [dataclasses.asdict(s) for s in info.steps] + gpkg_steps
        say("steps: " + "; ".join(f"{s['step']} {s['seconds']:.2f} s, peak {s['peak_mb']:,.0f} MB"
                                  for s in all_steps))
        say(gpkg_note)
        emit({"command": "network build", **info.to_dict(), "steps": all_steps,
              "gpkg": bool(export), "gpkg_note": gpkg_note, "out": str(out)})


@contextlib.contextmanager
def _byte_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a ``(bytes read, total)`` callback driving a rich bar on stderr (None if quiet)."""
    if STATE.quiet:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeElapsedColumn(), console=err_console,
                  transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _project_data(name: str) -> Path:
    """``<project>/data/<name>``, else ``../shared/data/<name>`` beside the project."""
    root = Path(__file__).resolve().parents[2]
    local = root / "data" / name
    return local if local.is_file() else root.parent / "shared" / "data" / name


def _read_polygons(path: Path, what: str) -> Any:
    import geopandas as gpd

    if not path.is_file():
        raise InputError(f"{path}: {what} not found; check the path")
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises many kinds on a bad file
        raise InputError(f"{path.name}: cannot read {what} ({type(exc).__name__}); use a "
                         "GeoJSON or GeoPackage of polygons") from None
    if frame.empty or not frame.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        raise InputError(f"{path.name}: no polygons in {what}; use a GeoJSON or GeoPackage of "
                         "polygons")
    if frame.crs is None:
        raise InputError(f"{path.name}: {what} has no CRS; save it with one (e.g. EPSG:4326)")
    return frame


def _clip_area(municipalities: str | None, polygon_file: Path | None, buffer_km: float,
               municipality_file: Path | None) -> Any:
    """Turn the clip options into a :class:`matcher.network.ClipArea` (or None)."""
    import shapely

    from matcher import network

    if municipalities is not None and polygon_file is not None:
        raise InputError("give --clip-municipalities or --clip-polygon, not both")
    if municipalities is not None:
        path = municipality_file or _project_data(MUNICIPALITY_FILE)
        frame = _read_polygons(path, "municipality polygons")
        return network.clip_from_municipalities(frame, municipalities.split(","),
                                                buffer_km=buffer_km)
    if polygon_file is not None:
        frame = _read_polygons(polygon_file, "clip polygons").to_crs("EPSG:4326")
        polygons = frame.geometry[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
        return network.ClipArea(polygon=shapely.union_all(polygons.to_numpy()),
                                buffer_metres=buffer_km * 1000.0, label=polygon_file.name)
    if buffer_km:
        raise InputError("--clip-buffer-km needs --clip-municipalities or --clip-polygon")
    return None


# --------------------------------------------------------------------------- travel times


def traveltime_cmd(
    network_dir: Annotated[Path, typer.Option("--network", exists=True, file_okay=False,
                                              help="Folder written by `matcher network build`.")],
    origins: Annotated[Path, typer.Option("--origins",
                                          help="Origin points: CSV id,lon,lat (WGS84), GeoJSON "
                                               "or GeoPackage.")],
    destinations: Annotated[Path, typer.Option("--destinations",
                                               help="Destination points, same formats.")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False,
                                      help="Output: .csv or .parquet, long format "
                                           "origin_id,destination_id,minutes.")],
    config: ConfigOpt = None,
    limit: Annotated[float | None, typer.Option(
        "--limit", min=0.1, help="Search limit in minutes; farther pairs are left out "
                                 "(default 90, or [travel].limit_minutes).")] = None,
    all_pairs: Annotated[bool, typer.Option(
        "--all-pairs", help="Also write unreachable pairs (minutes = inf).")] = False,
) -> None:
    """Compute a many-to-many travel-time table in minutes (directed, origin -> destination)."""
    from matcher import network, traveltime
    from matcher.io import files, readers

    with errors():
        settings = load_config(config)
        travel = settings.travel if limit is None else settings.travel.model_copy(
            update={"limit_minutes": limit})
        write = files.output_writer(out)
        net = network.load(network_dir)
        o = readers.read_points(origins)
        d = readers.read_points(destinations)
        so = traveltime.snap(net, o["id"], o["lon"], o["lat"], travel, source=origins.name)
        sd = traveltime.snap(net, d["id"], d["lon"], d["lat"], travel,
                             source=destinations.name)
        t0 = time.perf_counter()
        with progress("travel times") as bar:
            table = traveltime.matrix(net, so, sd, travel, progress=bar)
        seconds = time.perf_counter() - t0
        frame = table.to_long(reachable_only=not all_pairs)
        write(frame)
        reachable = int(sum(frame["minutes"] < float("inf")))
        say(f"{len(o):,} x {len(d):,} pairs in {seconds:.2f} s; {reachable:,} reachable within "
             f"{travel.limit_minutes:g} min -> {out}")
        emit({"command": "traveltime", "origins": len(o), "destinations": len(d),
               "reachable_pairs": reachable, "seconds": seconds, "out": str(out)})


# --------------------------------------------------------------------------- isochrones


def isochrones_cmd(
    network_dir: Annotated[Path, typer.Option("--network", exists=True, file_okay=False,
                                              help="Folder written by `matcher network build`.")],
    points: Annotated[Path, typer.Option("--points",
                                         help="Points: CSV id,lon,lat (WGS84), GeoJSON or "
                                              "GeoPackage.")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False,
                                      help="Output GeoPackage (.gpkg), layer 'isochrones'.")],
    bands: Annotated[str, typer.Option(help="Comma-separated bands in minutes, ascending.")]
    = "15,30,45,60",
    buffer: Annotated[float, typer.Option(help="Corridor half-width around reached roads, "
                                               "metres.", min=1.0)] = 150.0,
    config: ConfigOpt = None,
) -> None:
    """Write nested isochrone polygons (id, minutes, geometry; EPSG:25833) per point."""
    from matcher import isochrones, network, traveltime
    from matcher.io import files, readers

    with errors():
        band_list = parse_bands(bands, "15,30,45,60")
        if out.suffix.lower() != ".gpkg":
            raise InputError(f"{out.name}: isochrones are written to a GeoPackage; use a .gpkg "
                             "name")
        settings = load_config(config)
        net = network.load(network_dir)
        p = readers.read_points(points)
        snapped = traveltime.snap(net, p["id"], p["lon"], p["lat"], settings.travel,
                                  source=points.name)
        with progress("isochrones") as bar:
            frame = isochrones.isochrones(net, snapped, band_list, buffer_metres=buffer,
                                          progress=bar)
        files.write_layers({"isochrones": frame}, out)
        say(f"{len(p):,} points x {len(band_list)} bands -> {out}")
        emit({"command": "isochrones", "points": len(p), "bands": band_list, "out": str(out)})


