"""Typer command-line interface: ``matcher ...``.

Exit codes: 0 success, 1 unexpected error, 2 bad input, 3 infeasible or
unsolved, 4 store unavailable, 5 locked. Errors print one clear message;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from matcher import __version__
from matcher import config as config_mod
from matcher.errors import InputError, MatcherError

app = typer.Typer(
    name="matcher",
    help="fostermatch: geospatial foster-home matching. The engine recommends; people decide.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
network_app = typer.Typer(help="Build and inspect road networks.", no_args_is_help=True)
app.add_typer(network_app, name="network")

err_console = Console(stderr=True)


@dataclass
class _State:
    quiet: bool = False
    json: bool = False
    debug: bool = False


STATE = _State()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fostermatch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Print nothing but errors.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print a machine-readable JSON summary on stdout (implies --quiet).",
    )] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """fostermatch: geospatial foster-home matching for Norwegian child welfare."""
    STATE.quiet = quiet or json_out
    STATE.json = json_out
    STATE.debug = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", force=True)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn domain errors into one message and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except MatcherError as exc:
        if STATE.debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True,
                          soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing was written")
        raise typer.Exit(code=130) from None
    except Exception as exc:
        if STATE.debug:
            raise
        err_console.print(f"[bold red]unexpected error:[/] {type(exc).__name__}: {exc} "
                          "(run with --debug for the traceback)", highlight=False)
        raise typer.Exit(code=1) from None


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``(done, total)`` callback that drives a rich progress bar on stderr."""
    if STATE.quiet:
        yield lambda _d, _t: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextlib.contextmanager
def _steps(description: str) -> Iterator[Callable[[str], None]]:
    """Yield a ``(message)`` callback that shows the current step with a spinner."""
    if STATE.quiet:
        yield lambda _m: None
        return
    with err_console.status(description) as status:
        yield lambda msg: status.update(f"{description}: {msg}")


def _say(message: str) -> None:
    if not STATE.quiet:
        err_console.print(message, highlight=False)


def _emit(summary: dict[str, Any]) -> None:
    if STATE.json:
        typer.echo(json.dumps(summary, sort_keys=True, default=str))


def _config(path: Path | None) -> config_mod.Settings:
    return config_mod.load(path)


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", exists=True, dir_okay=False, readable=True,
    help="TOML settings file (speeds, limits, weights, solver). Defaults apply without it.")]


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

    with _errors():
        settings = _config(config)
        with _steps("building network") as step:
            net = network.build(osm, settings.network, cache_dir=out, progress=step)
            if gpkg:
                step("exporting network.gpkg")
                network.to_gpkg(net, out / "network.gpkg")
        info = net.info
        _say(f"network: {info.nodes:,} nodes, {info.edges:,} edges ({info.ferry_edges} ferry), "
             f"{info.dropped_nodes:,} nodes dropped outside the largest strongly connected "
             f"component; {'loaded from cache' if info.from_cache else 'built'} in "
             f"{info.seconds:.2f} s -> {out}")
        _emit({"command": "network build", **info.__dict__, "out": str(out)})


# --------------------------------------------------------------------------- travel times


@app.command("traveltime")
def traveltime_cmd(
    network_dir: Annotated[Path, typer.Option("--network", exists=True, file_okay=False,
                                              help="Folder written by `matcher network build`.")],
    origins: Annotated[Path, typer.Option("--origins", exists=True, dir_okay=False,
                                          help="Origin points: CSV id,lon,lat (WGS84), GeoJSON "
                                               "or GeoPackage.")],
    destinations: Annotated[Path, typer.Option("--destinations", exists=True, dir_okay=False,
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
    from matcher import network, store, traveltime

    with _errors():
        settings = _config(config)
        travel = settings.travel if limit is None else settings.travel.model_copy(
            update={"limit_minutes": limit})
        write = store.output_writer(out)
        net = network.load(network_dir)
        o = store.read_points(origins)
        d = store.read_points(destinations)
        so = traveltime.snap(net, o["id"], o["lon"], o["lat"], travel, source=origins.name)
        sd = traveltime.snap(net, d["id"], d["lon"], d["lat"], travel,
                             source=destinations.name)
        t0 = time.perf_counter()
        with _progress("travel times") as bar:
            table = traveltime.matrix(net, so, sd, travel, progress=bar)
        seconds = time.perf_counter() - t0
        frame = table.to_long(reachable_only=not all_pairs)
        write(frame)
        reachable = int(sum(frame["minutes"] < float("inf")))
        _say(f"{len(o):,} x {len(d):,} pairs in {seconds:.2f} s; {reachable:,} reachable within "
             f"{travel.limit_minutes:g} min -> {out}")
        _emit({"command": "traveltime", "origins": len(o), "destinations": len(d),
               "reachable_pairs": reachable, "seconds": seconds, "out": str(out)})


# --------------------------------------------------------------------------- isochrones


@app.command("isochrones")
def isochrones_cmd(
    network_dir: Annotated[Path, typer.Option("--network", exists=True, file_okay=False,
                                              help="Folder written by `matcher network build`.")],
    points: Annotated[Path, typer.Option("--points", exists=True, dir_okay=False,
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
    from matcher import isochrones, network, store, traveltime

    with _errors():
        try:
            band_list = [float(b) for b in bands.split(",") if b.strip()]
        except ValueError:
            raise InputError(f"--bands '{bands}': give numbers in minutes, e.g. 15,30,45,60") \
                from None
        if out.suffix.lower() != ".gpkg":
            raise InputError(f"{out.name}: isochrones are written to a GeoPackage; use a .gpkg "
                             "name")
        settings = _config(config)
        net = network.load(network_dir)
        p = store.read_points(points)
        snapped = traveltime.snap(net, p["id"], p["lon"], p["lat"], settings.travel,
                                  source=points.name)
        with _progress("isochrones") as bar:
            frame = isochrones.isochrones(net, snapped, band_list, buffer_metres=buffer,
                                          progress=bar)
        store.write_layers({"isochrones": frame}, out)
        _say(f"{len(p):,} points x {len(band_list)} bands -> {out}")
        _emit({"command": "isochrones", "points": len(p), "bands": band_list, "out": str(out)})


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)
