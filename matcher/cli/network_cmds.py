"""CLI commands for networks, travel times and isochrones."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from matcher.cli.common import (
    ConfigOpt,
    emit,
    errors,
    load_config,
    parse_bands,
    progress,
    say,
    steps,
)
from matcher.errors import InputError

network_app = typer.Typer(help="Build and inspect road networks.", no_args_is_help=True)


# --------------------------------------------------------------------------- network


@network_app.command("build")
def network_build(
    osm: Annotated[Path, typer.Option("--osm", exists=True, dir_okay=False, readable=True,
                                      help="Local OSM file: .osm, .osm.xml, .osm.bz2 or "
                                           ".osm.pbf.")],
    out: Annotated[Path, typer.Option("--out", file_okay=False,
                                      help="Folder for network.npz/.json (the cache) and "
                                           "network.gpkg.")],
    config: ConfigOpt = None,
    gpkg: Annotated[bool, typer.Option(help="Also export nodes and edges to network.gpkg "
                                            "for QGIS.")] = True,
) -> None:
    """Build a routable drive network (Norwegian speeds, car ferries) from a local OSM file."""
    from matcher import network

    with errors():
        settings = load_config(config)
        with steps("building network") as step:
            net = network.build(osm, settings.network, cache_dir=out, progress=step)
            if gpkg:
                step("exporting network.gpkg")
                network.to_gpkg(net, out / "network.gpkg")
        info = net.info
        say(f"network: {info.nodes:,} nodes, {info.edges:,} edges ({info.ferry_edges} ferry), "
             f"{info.dropped_nodes:,} nodes dropped outside the largest strongly connected "
             f"component; {'loaded from cache' if info.from_cache else 'built'} in "
             f"{info.seconds:.2f} s -> {out}")
        emit({"command": "network build", **info.__dict__, "out": str(out)})


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


