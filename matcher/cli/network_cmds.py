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

from matcher import i18n
from matcher.cli.common import (
    STATE,
    ConfigOpt,
    amount,
    emit,
    err_console,
    errors,
    load_config,
    parse_bands,
    percent,
    progress,
    say,
    steps,
)
from matcher.errors import InputError
from matcher.i18n import N_
from matcher.i18n import gettext as _

__all__ = [
    "COMMANDS",
    "GPKG_DEFAULT_MAX_NODES",
    "GROUPS",
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
    from matcher.io import files

    with errors():
        settings = load_config(config)
        clip = _clip_area(clip_municipalities, clip_polygon, clip_buffer_km, municipality_file)
        files.claim_folder(out, marker=files.NETWORK_MARKER, marks=("network.json",))
        with (steps(_("building network")) as step,
              _byte_bar(_("reading {file}").format(file=osm.name)) as on_bytes):
            net = network.build(osm, settings.network, cache_dir=out, progress=step,
                                on_bytes=on_bytes, clip=clip)
        info = net.info
        export = gpkg if gpkg is not None else info.nodes < GPKG_DEFAULT_MAX_NODES
        gpkg_steps: list[dict[str, float | str]] = []
        if export:
            t0 = time.perf_counter()
            with steps(_("exporting network.gpkg")):
                network.to_gpkg(net, out / "network.gpkg")
            gpkg_steps.append({"step": "gpkg", "seconds": round(time.perf_counter() - t0, 4),
                               "peak_mb": round(network.peak_memory_mb(), 1)})
        with i18n.language("en"):  # the JSON summary is machine-readable: always English
            json_note = _gpkg_note(export=bool(export), asked=gpkg, nodes=info.nodes)
        n = i18n.format_number
        say((_("network: {nodes} nodes, {edges} edges ({ferries} ferry), {dropped} nodes "
               "dropped outside the largest strongly connected component; loaded from cache "
               "in {seconds} s -> {out}") if info.from_cache else
             _("network: {nodes} nodes, {edges} edges ({ferries} ferry), {dropped} nodes "
               "dropped outside the largest strongly connected component; built in {seconds} s "
               "-> {out}")).format(
            nodes=n(info.nodes), edges=n(info.edges), ferries=n(info.ferry_edges),
            dropped=n(info.dropped_nodes), seconds=n(info.seconds, 2), out=out))
        if info.clip is not None:
            c = info.clip
            say(_("clip: {area} + {buffer} km kept {kept} of {read} road nodes ({share}); "
                  "bounding box {west}, {south}, {east}, {north} (W, S, E, N, degrees)").format(
                area=c.area, buffer=amount(c.buffer_km), kept=n(c.nodes_kept),
                read=n(c.nodes_read), share=percent(c.share_kept, 1), west=n(c.bbox[0], 3),
                south=n(c.bbox[1], 3), east=n(c.bbox[2], 3), north=n(c.bbox[3], 3)))
        all_steps = [dataclasses.asdict(s) for s in info.steps] + gpkg_steps
        say(_("steps: {steps}").format(steps="; ".join(
            _("{step} {seconds} s, peak {memory} MB").format(
                step=s["step"], seconds=n(s["seconds"], 2), memory=n(s["peak_mb"]))
            for s in all_steps)))
        say(_gpkg_note(export=bool(export), asked=gpkg, nodes=info.nodes))
        emit({"command": "network build", **info.to_dict(), "steps": all_steps,
              "gpkg": bool(export), "gpkg_note": json_note, "out": str(out)})


def _gpkg_note(*, export: bool, asked: bool | None, nodes: int) -> str:
    """Whether network.gpkg was written, and why not, in the current language."""
    if export:
        return _("network.gpkg written")
    if asked is None:
        return _("network.gpkg not written: {nodes} nodes is at least {limit}; pass --gpkg to "
                 "export it anyway").format(nodes=i18n.format_number(nodes),
                                            limit=i18n.format_number(GPKG_DEFAULT_MAX_NODES))
    return _("network.gpkg not written (--no-gpkg)")


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


_MUNICIPALITY_POLYGONS = N_("municipality polygons")
_CLIP_POLYGONS = N_("clip polygons")


def _read_polygons(path: Path, what: str) -> Any:
    """Read a polygon file; ``what`` names it in messages (an ``N_`` text, translated here)."""
    import geopandas as gpd

    what = _(what)
    if not path.is_file():
        raise InputError(_("{path}: {what} not found; check the path").format(path=path,
                                                                              what=what))
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises many kinds on a bad file
        raise InputError(_("{file}: cannot read {what} ({kind}); use a GeoJSON or GeoPackage "
                           "of polygons").format(file=path.name, what=what,
                                                 kind=type(exc).__name__)) from None
    if frame.empty or not frame.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        raise InputError(_("{file}: no polygons in {what}; use a GeoJSON or GeoPackage of "
                           "polygons").format(file=path.name, what=what))
    if frame.crs is None:
        raise InputError(_("{file}: {what} has no CRS; save it with one (e.g. EPSG:4326)")
                         .format(file=path.name, what=what))
    return frame


def _clip_area(municipalities: str | None, polygon_file: Path | None, buffer_km: float,
               municipality_file: Path | None) -> Any:
    """Turn the clip options into a :class:`matcher.network.ClipArea` (or None)."""
    import shapely

    from matcher import network

    if municipalities is not None and polygon_file is not None:
        raise InputError(_("give --clip-municipalities or --clip-polygon, not both"))
    if municipalities is not None:
        path = municipality_file or _project_data(MUNICIPALITY_FILE)
        frame = _read_polygons(path, _MUNICIPALITY_POLYGONS)
        return network.clip_from_municipalities(frame, municipalities.split(","),
                                                buffer_km=buffer_km)
    if polygon_file is not None:
        frame = _read_polygons(polygon_file, _CLIP_POLYGONS).to_crs("EPSG:4326")
        polygons = frame.geometry[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
        return network.ClipArea(polygon=shapely.union_all(polygons.to_numpy()),
                                buffer_metres=buffer_km * 1000.0, label=polygon_file.name)
    if buffer_km:
        raise InputError(_("--clip-buffer-km needs --clip-municipalities or --clip-polygon"))
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
        with progress(_("travel times")) as bar:
            table = traveltime.matrix(net, so, sd, travel, progress=bar)
        seconds = time.perf_counter() - t0
        frame = table.to_long(reachable_only=not all_pairs)
        write(frame)
        reachable = int(sum(frame["minutes"] < float("inf")))
        say(_("{origins} x {destinations} pairs in {seconds} s; {reachable} reachable within "
              "{minutes} min -> {out}").format(
            origins=i18n.format_number(len(o)), destinations=i18n.format_number(len(d)),
            seconds=i18n.format_number(seconds, 2), reachable=i18n.format_number(reachable),
            minutes=amount(travel.limit_minutes), out=out))
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
    """Write nested isochrone polygons (id, minutes, geometry; network CRS) per point."""
    from matcher import isochrones, network, traveltime
    from matcher.io import files, readers

    with errors():
        settings = load_config(config)
        band_list = parse_bands(bands, "15,30,45,60")
        if out.suffix.lower() != ".gpkg":
            raise InputError(_("{file}: isochrones are written to a GeoPackage; use a .gpkg "
                               "name").format(file=out.name))
        net = network.load(network_dir)
        p = readers.read_points(points)
        snapped = traveltime.snap(net, p["id"], p["lon"], p["lat"], settings.travel,
                                  source=points.name)
        with progress(_("isochrones")) as bar:
            frame = isochrones.isochrones(net, snapped, band_list, buffer_metres=buffer,
                                          progress=bar)
        files.write_layers({"isochrones": frame}, out)
        say(_("{points} points x {bands} bands -> {out}").format(
            points=i18n.format_number(len(p)), bands=len(band_list), out=out))
        emit({"command": "isochrones", "points": len(p), "bands": band_list, "out": str(out)})




COMMANDS: dict[str, Callable[..., None]] = {"traveltime": traveltime_cmd,
                                            "isochrones": isochrones_cmd}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
GROUPS: dict[str, typer.Typer] = {"network": network_app}
"""Command groups of this module (``matcher network ...``), registered by :mod:`matcher.cli.app`."""
