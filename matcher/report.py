"""Run reports: GeoPackage layers, an offline interactive map, a static map and a summary.

:func:`write_outputs` adds to a run folder (see :func:`matcher.pipeline.write_run`):

``matches.gpkg`` (EPSG:25833)
    ``children`` (points), ``homes`` (points), ``match_lines`` (child -> home),
    ``school_isochrones`` (when the run had a road network), ``municipalities``
    (when given) and ``roads`` (a light base map drawn from the road network).
``map.html``
    An interactive Leaflet map made with folium that works offline: no tile
    layer, and Leaflet's JavaScript and CSS (from the ``xstatic-leaflet``
    package) are inlined, so the file loads nothing from the network.
``map.png``
    A static overview of the same content (matplotlib, Agg).
``report.md``
    Placements by urgency, home-municipality share, school travel bands,
    unmatched children with reasons, the training support plan, solver
    status and input fingerprints.

:func:`rerender` makes the last three again from the files of a run folder.

Privacy: with ``privacy="coarse"`` each child's position is moved to the
centre of its SSB-style 250 m grid cell (cells aligned to multiples of 250 m
in EPSG:25833) in every output. Child ids are pseudonymous; nothing here logs
coordinates or names.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import io
import itertools
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from jinja2 import Template

from matcher import isochrones as isochrones_mod
from matcher import schema, store, traveltime
from matcher.config import Settings
from matcher.errors import InputError, MatcherError, Problem

if TYPE_CHECKING:
    from matcher.network import Network
    from matcher.pipeline import RunResult

logger = logging.getLogger(__name__)

Privacy = Literal["exact", "coarse"]
PRIVACY_MODES: tuple[str, ...] = ("exact", "coarse")
CRS = "EPSG:25833"
"""CRS of every layer in ``matches.gpkg`` (UTM zone 33N, metres)."""
GRID_METRES = 250.0
"""Cell size of the SSB statistical grid used to coarsen child positions, in metres."""
SCHOOL_BANDS_MINUTES: tuple[float, ...] = (15.0, 30.0, 45.0, 60.0)
"""Upper edges of the school-travel bands in report.md, in minutes (last band: above 60)."""
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
SYNTHETIC_NOTE = "SYNTHETIC data: fictional places, no real people"
SYNTHETIC_KOMMUNENUMMER = range(4691, 4700)
"""Fictional municipality numbers used by :mod:`matcher.sample` (no real kommune has them)."""

GPKG = "matches.gpkg"
MAP_HTML = "map.html"
MAP_PNG = "map.png"
REPORT_MD = "report.md"
LAYERS: tuple[str, ...] = ("children", "homes", "match_lines", "school_isochrones",
                           "municipalities", "roads")
"""Layer names of ``matches.gpkg``, in writing order (absent layers are skipped)."""
REQUIRED_LAYERS: tuple[str, ...] = ("children", "homes", "match_lines")

_GEOMETRY_TYPES = {"children": "Point", "homes": "Point", "match_lines": "LineString",
                   "school_isochrones": "MultiPolygon", "municipalities": "MultiPolygon",
                   "roads": "MultiLineString"}
_META_KEY = "FOSTERMATCH_REPORT"
_MAX_MINOR_ROAD_SEGMENTS = 20_000
"""Above this many road segments, the base map shows major roads and ferries only."""
_ISOCHRONE_SIMPLIFY_METRES = 50.0
"""Tolerance for isochrone outlines in map.html, in metres (half the isochrone grid cell)."""
_MAJOR_ROADS = frozenset({"motorway", "motorway_link", "trunk", "trunk_link", "primary",
                          "primary_link", "secondary", "secondary_link"})

# colours shared by map.html and map.png
_COLOURS = {"placed": "#1b7837", "unmatched": "#d6604d", "home": "#5e3c99",
            "home_used": "#5e3c99", "match": "#1b7837", "kinship": "#e08214",
            "municipality_fill": "#f4f1ea", "municipality_edge": "#7a6a8a",
            "major": "#969696", "minor": "#c8c8c8", "ferry": "#4393c3",
            "isochrone": "#92c5de"}


# --------------------------------------------------------------------------- public API


def coarsen(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float], *,
            cell_metres: float = GRID_METRES) -> tuple[np.ndarray, np.ndarray]:
    """Move points to the centre of their grid cell.

    Parameters
    ----------
    x, y
        Coordinates in metres in EPSG:25833.
    cell_metres
        Cell size in metres; cells are aligned to multiples of it, as SSB's
        statistical grids are (250 m: ``x ≡ 125 (mod 250)`` after coarsening).

    Returns
    -------
    tuple of numpy.ndarray
        The cell-centre coordinates, in metres (EPSG:25833).
    """
    if not cell_metres > 0:
        raise InputError(f"cell_metres {cell_metres} must be > 0 metres")
    half = cell_metres / 2.0
    cx = np.floor(np.asarray(x, dtype=float) / cell_metres) * cell_metres + half
    cy = np.floor(np.asarray(y, dtype=float) / cell_metres) * cell_metres + half
    return cx, cy


def build_layers(result: RunResult, *, privacy: Privacy = "exact",
                 municipalities: gpd.GeoDataFrame | None = None,
                 settings: Settings | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Build the layers of ``matches.gpkg`` from a run, in EPSG:25833.

    Parameters
    ----------
    result
        The run (:func:`matcher.pipeline.run`).
    privacy
        ``"exact"`` keeps child positions; ``"coarse"`` moves them (and the
        start of their match lines) to the centre of their 250 m grid cell,
        and pools school isochrones per school without child ids.
    municipalities
        Municipality polygons in any CRS, with ``kommunenummer`` (or
        ``municipality``) and optionally ``kommunenavn``.
    settings
        Isochrone bands (``scoring.bands_minutes``) and snapping options
        (``travel``); the defaults apply without it.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        Layer name -> frame, for the names in :data:`LAYERS` that apply:
        ``school_isochrones`` and ``roads`` need ``result.network``,
        ``municipalities`` needs ``municipalities``.

    Raises
    ------
    InputError
        If ``privacy`` is unknown or ``municipalities`` has no CRS.
    """
    _check_privacy(privacy)
    settings = settings or Settings()
    inputs = result.inputs
    table = result.assignments
    placed = table["home_id"].notna().to_numpy()

    children = inputs.children.set_index("child_id").loc[table["child_id"]]
    cx, cy = _project(children["lon"].to_numpy(), children["lat"].to_numpy())
    if privacy == "coarse":
        cx, cy = coarsen(cx, cy)
    child_layer = gpd.GeoDataFrame({
        "child_id": table["child_id"].astype(str).to_numpy(),
        "urgency": table["urgency"].astype(str).to_numpy(),
        "placed": placed,
        "home_id": pd.Series(table["home_id"].to_numpy(dtype=object), dtype="str"),
        "reason": table["reason"].fillna("").astype(str).to_numpy(),
    }, geometry=shapely.points(cx, cy), crs=CRS)

    homes = inputs.homes
    hx, hy = _project(homes["lon"].to_numpy(), homes["lat"].to_numpy())
    n_assigned = table.loc[placed, "home_id"].value_counts()
    home_layer = gpd.GeoDataFrame({
        "home_id": homes["home_id"].astype(str).to_numpy(),
        "kind": homes["kind"].astype(str).to_numpy(),
        "capacity": homes["capacity"].to_numpy(dtype=np.int64),
        "competences": [schema.join_tags(tuple(c)) for c in homes["competences"]],
        "n_assigned": n_assigned.reindex(homes["home_id"]).fillna(0).to_numpy(dtype=np.int64),
    }, geometry=shapely.points(hx, hy), crs=CRS)

    rows = table.loc[placed]
    home_pos = pd.Index(home_layer["home_id"]).get_indexer(rows["home_id"])
    starts = np.column_stack([cx[placed], cy[placed]])
    ends = np.column_stack([hx[home_pos], hy[home_pos]])
    pairs = result.scored.pairs.set_index(["child_id", "home_id"])["explanation"]
    keys = pd.MultiIndex.from_arrays([rows["child_id"], rows["home_id"]])
    explanation = pairs.reindex(keys).fillna("locked placement (not scored)").to_numpy()
    line_layer = gpd.GeoDataFrame({
        "child_id": rows["child_id"].astype(str).to_numpy(),
        "home_id": rows["home_id"].astype(str).to_numpy(),
        "score": rows["score"].to_numpy(dtype=float),
        "school_minutes": rows["school_minutes"].to_numpy(dtype=float),
        "municipality_match": rows["municipality_match"].to_numpy(dtype=bool),
        "kinship": rows["kinship"].to_numpy(dtype=bool),
        "explanation": explanation.astype(str),
    }, geometry=shapely.linestrings(np.stack([starts, ends], axis=1).reshape(-1, 2, 2)),
        crs=CRS)

    layers = {"children": child_layer, "homes": home_layer, "match_lines": line_layer}
    if result.network is not None:
        iso = _school_isochrones(result, settings)
        layers["school_isochrones"] = _pooled(iso) if privacy == "coarse" else iso
        layers["roads"] = _roads(result.network)
    else:
        logger.info("school isochrones skipped: the run has no road network (travel times "
                    "came from a table)")
    if municipalities is not None:
        layers["municipalities"] = _municipalities(municipalities)
    return layers


def write_outputs(result: RunResult, folder: Path, *, privacy: Privacy = "exact",
                  municipalities: gpd.GeoDataFrame | None = None,
                  settings: Settings | None = None, synthetic: bool | None = None) -> None:
    """Write ``matches.gpkg``, ``map.html``, ``map.png`` and ``report.md`` into a run folder.

    Meant as the ``extra`` hook of :func:`matcher.pipeline.write_run`. Every
    file is written atomically and owner-only (``0o600``).

    Parameters
    ----------
    result
        The run (:func:`matcher.pipeline.run`).
    folder
        The (temporary) run folder.
    privacy
        ``"exact"`` or ``"coarse"`` (child positions at 250 m grid-cell centres).
    municipalities
        Municipality polygons (any CRS) for the base map and the GeoPackage.
    settings
        Isochrone bands and snapping options (defaults without it).
    synthetic
        Mark the outputs as synthetic data. ``None`` detects it: municipality
        names containing "syntetisk", or every child in a fictional
        :data:`SYNTHETIC_KOMMUNENUMMER` municipality.

    Raises
    ------
    InputError
        If ``privacy`` is unknown or ``municipalities`` has no CRS.
    """
    folder = Path(folder)
    layers = build_layers(result, privacy=privacy, municipalities=municipalities,
                          settings=settings)
    if synthetic is None:
        synthetic = _looks_synthetic(result.inputs.children, municipalities)
    meta = {"privacy": privacy, "synthetic": bool(synthetic),
            "osm": result.network is not None or "network" in result.summary.get(
                "inputs_sha256", {})}
    _write_gpkg(layers, folder / GPKG, meta)
    _write_rendered(folder, _render(layers, result.assignments, result.summary, meta))
    logger.info("report: %d children, %d homes, %d match lines, layers %s",
                len(layers["children"]), len(layers["homes"]), len(layers["match_lines"]),
                ", ".join(layers))


def rerender(run_dir: Path) -> None:
    """Re-render ``map.html``, ``map.png`` and ``report.md`` from a run folder's files.

    Reads ``matches.gpkg``, ``summary.json`` and ``assignments.csv``; each
    output is written atomically and owner-only, and only after all three
    have rendered, so a failure leaves the folder as it was.

    Parameters
    ----------
    run_dir
        A run folder written by ``matcher match``.

    Raises
    ------
    InputError
        Listing every missing or unreadable file or layer.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a folder; give a run folder from `matcher match`")
    problems = [Problem(str(run_dir), f"missing {name}; is this a run folder written by "
                                      "`matcher match` (with the report module installed)?")
                for name in (GPKG, "summary.json", "assignments.csv")
                if not (run_dir / name).is_file()]
    if problems:
        raise InputError(f"{run_dir}: cannot re-render the report", problems)
    layers, meta = _read_gpkg(run_dir / GPKG)
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        assignments = read_assignments(run_dir / "assignments.csv")
    except (ValueError, KeyError, OSError) as exc:
        raise InputError(f"{run_dir}: cannot read summary.json or assignments.csv "
                         f"({type(exc).__name__}: {exc}); re-run `matcher match`") from None
    _write_rendered(run_dir, _render(layers, assignments, summary, meta))
    logger.info("report re-rendered: %d children", len(assignments))


def read_assignments(path: Path) -> pd.DataFrame:
    """Read ``assignments.csv`` with the dtypes of :func:`matcher.pipeline.run`.

    Returns
    -------
    pandas.DataFrame
        Ids, urgency, municipalities, reason and training_needs as ``str``
        (``''`` when empty; ``home_id`` missing when unmatched), minutes and
        score as ``float``, flags as ``bool``.
    """
    text = {c: str for c in ("child_id", "home_id", "urgency", "municipality",
                             "home_municipality", "reason", "training_needs")}
    frame = pd.read_csv(path, dtype=text, keep_default_na=False, na_values={"home_id": [""]})
    for column in ("score", "school_minutes", "network_minutes", "parent_minutes"):
        frame[column] = pd.to_numeric(frame[column].replace("", np.nan))
    for column in ("municipality_match", "kinship", "locked", "split"):
        frame[column] = frame[column].astype(str).str.lower().isin(["true", "1"])
    return frame


# --------------------------------------------------------------------------- layers


def _check_privacy(privacy: str) -> None:
    if privacy not in PRIVACY_MODES:
        raise InputError(f"privacy '{privacy}': use one of {', '.join(PRIVACY_MODES)}")


def _project(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(CRS)
    return points.x.to_numpy(), points.y.to_numpy()


def _school_isochrones(result: RunResult, settings: Settings) -> gpd.GeoDataFrame:
    """Reachable-area bands around each matched child's school (towards the school)."""
    assert result.network is not None
    net = result.network
    placed = result.assignments.loc[result.assignments["home_id"].notna(), "child_id"]
    children = result.inputs.children.set_index("child_id").loc[placed]
    children = children[children["school_lon"].notna()]
    empty = gpd.GeoDataFrame({"child_id": pd.Series(dtype="str"),
                              "minutes": pd.Series(dtype=float)},
                             geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    if children.empty:
        return empty
    schools = children[["school_lon", "school_lat"]].drop_duplicates().reset_index(drop=True)
    school_ids = np.array([f"school-{i + 1}" for i in range(len(schools))], dtype=object)
    snapped = traveltime.snap(net, school_ids, schools["school_lon"].to_numpy(),
                              schools["school_lat"].to_numpy(), settings.travel,
                              source="schools")
    # Times *to* the school (as school_minutes are): search the reversed graph.
    towards = dataclasses.replace(net, graph=net.reverse, _reverse=[])
    polygons = isochrones_mod.isochrones(towards, snapped, settings.scoring.bands_minutes)
    polygons = polygons.set_crs(CRS, allow_override=True)
    school_of = pd.Series(school_ids, index=pd.MultiIndex.from_frame(schools))
    child_school = school_of.reindex(pd.MultiIndex.from_frame(
        children[["school_lon", "school_lat"]])).to_numpy()
    link = pd.DataFrame({"child_id": children.index.to_numpy(dtype=object),
                         "id": child_school})
    out = link.merge(pd.DataFrame(polygons), on="id", how="inner", sort=False)
    out = out[~shapely.is_empty(out["geometry"].to_numpy())]
    logger.info("school isochrones: %d children, %d schools, %d bands", len(children),
                len(schools), len(settings.scoring.bands_minutes))
    return gpd.GeoDataFrame({"child_id": out["child_id"].astype(str).to_numpy(),
                             "minutes": out["minutes"].to_numpy(dtype=float)},
                            geometry=_as_multi(out["geometry"].to_numpy()), crs=CRS)


def _pooled(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Pool school isochrones per school and band, without child ids (coarse privacy).

    A school polygon linked to a child id would reveal the child's school in a
    map meant for sharing; pooled, the ``child_id`` column says only how many
    placed children attend that school.
    """
    if frame.empty:
        return frame
    key = pd.DataFrame({"minutes": frame["minutes"].to_numpy(),
                        "wkb": shapely.to_wkb(frame.geometry.to_numpy())})
    counts = key.groupby(["minutes", "wkb"], sort=True).size().reset_index(name="n")
    return gpd.GeoDataFrame(
        {"child_id": [f"{n} placed children" for n in counts["n"]],
         "minutes": counts["minutes"].to_numpy(dtype=float)},
        geometry=shapely.from_wkb(counts["wkb"].to_numpy()), crs=frame.crs)


def _as_multi(geoms: np.ndarray) -> np.ndarray:
    """Promote polygons and lines to their multi type, as the GeoPackage stores them."""
    out = np.array(geoms, dtype=object)
    kinds = shapely.get_type_id(out)
    for kind, multi in ((1, shapely.MultiLineString), (3, shapely.MultiPolygon)):
        for i in np.flatnonzero(kinds == kind):
            out[i] = multi([out[i]])
    return out


def _roads(net: Network) -> gpd.GeoDataFrame:
    """A light base map: merged road lines by class (major, minor, ferry), EPSG:25833."""
    edges = net.edges
    u = edges["u"].to_numpy()
    v = edges["v"].to_numpy()
    keep = ~pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v)}).duplicated().to_numpy()
    ferry = edges["ferry"].to_numpy(dtype=bool)
    major = edges["highway"].astype(str).isin(_MAJOR_ROADS).to_numpy()
    road_class = np.where(ferry, "ferry", np.where(major, "major", "minor"))
    if keep.sum() > _MAX_MINOR_ROAD_SEGMENTS:
        keep &= road_class != "minor"
    names, geoms = [], []
    for name in ("minor", "major", "ferry"):
        sel = np.flatnonzero(keep & (road_class == name))
        if not len(sel):
            continue
        coords = np.stack([np.column_stack([net.x[u[sel]], net.y[u[sel]]]),
                           np.column_stack([net.x[v[sel]], net.y[v[sel]]])], axis=1)
        merged = shapely.line_merge(shapely.multilinestrings(shapely.linestrings(coords)))
        names.append(name)
        geoms.append(merged)
    roads = gpd.GeoSeries(_as_multi(np.array(geoms, dtype=object)), crs=net.crs).to_crs(CRS)
    return gpd.GeoDataFrame({"road_class": pd.Series(names, dtype="str")}, geometry=roads,
                            crs=CRS)


def _municipalities(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise InputError("municipalities: the layer has no CRS; set it (e.g. with "
                         "`set_crs('EPSG:4326')`)")
    number = next((c for c in ("kommunenummer", "municipality") if c in frame.columns), None)
    out = gpd.GeoDataFrame({
        "kommunenummer": (frame[number].astype(str).to_numpy() if number
                          else np.full(len(frame), "", dtype=object)),
        "kommunenavn": (frame["kommunenavn"].astype(str).to_numpy()
                        if "kommunenavn" in frame.columns
                        else np.full(len(frame), "", dtype=object)),
    }, geometry=_as_multi(frame.geometry.to_crs(CRS).to_numpy()), crs=CRS)
    return out


def _looks_synthetic(children: pd.DataFrame, municipalities: gpd.GeoDataFrame | None) -> bool:
    if municipalities is not None and "kommunenavn" in municipalities.columns and \
            municipalities["kommunenavn"].astype(str).str.contains("syntetisk").any():
        return True
    codes = pd.to_numeric(children["municipality"], errors="coerce")
    return bool(len(codes)) and bool(codes.isin(SYNTHETIC_KOMMUNENUMMER).all())


def _write_gpkg(layers: Mapping[str, gpd.GeoDataFrame], target: Path,
                meta: Mapping[str, Any]) -> None:
    names = [n for n in LAYERS if n in layers]
    with store.atomic_path(target) as tmp:
        for name in names:
            # Layer metadata lives inside the GeoPackage (dataset metadata would go to a
            # world-readable .aux.xml sidecar).
            pyogrio.write_dataframe(
                layers[name], tmp, layer=name, driver="GPKG",
                geometry_type=_GEOMETRY_TYPES[name],
                promote_to_multi=_GEOMETRY_TYPES[name].startswith("Multi"),
                layer_metadata={_META_KEY: json.dumps(dict(meta), sort_keys=True)}
                if name == "children" else None)


def _read_gpkg(path: Path) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, Any]]:
    try:
        present = {str(name) for name, _ in pyogrio.list_layers(path)}
        missing = [n for n in REQUIRED_LAYERS if n not in present]
        if missing:
            raise InputError(f"{path}: missing layer(s) {', '.join(missing)}; re-run "
                             "`matcher match` to rewrite the run folder")
        layers = {n: pyogrio.read_dataframe(path, layer=n) for n in LAYERS if n in present}
        info = pyogrio.read_info(path, layer=REQUIRED_LAYERS[0])
    except InputError:
        raise
    except Exception as exc:  # GDAL raises many kinds on a damaged file
        raise InputError(f"{path}: cannot read ({type(exc).__name__}: {exc}); re-run "
                         "`matcher match`") from None
    meta: dict[str, Any] = {}
    raw = (info.get("layer_metadata") or {}).get(_META_KEY)
    if raw:
        try:
            meta = json.loads(raw)
        except ValueError:
            logger.warning("%s: unreadable report metadata; using defaults", path.name)
    for name, frame in list(layers.items()):
        layers[name] = frame.set_crs(CRS) if frame.crs is None else frame.to_crs(CRS)
    return layers, meta


# --------------------------------------------------------------------------- rendering


@dataclasses.dataclass(frozen=True)
class _Rendered:
    html: str
    png: bytes
    markdown: str


def _render(layers: Mapping[str, gpd.GeoDataFrame], assignments: pd.DataFrame,
            summary: Mapping[str, Any], meta: Mapping[str, Any]) -> _Rendered:
    return _Rendered(html=_map_html(layers, summary, meta),
                     png=_map_png(layers, summary, meta),
                     markdown=_markdown(assignments, summary, meta))


def _write_rendered(folder: Path, rendered: _Rendered) -> None:
    store.write_bytes(folder / MAP_HTML, rendered.html.encode("utf-8"))
    store.write_bytes(folder / MAP_PNG, rendered.png)
    store.write_bytes(folder / REPORT_MD, rendered.markdown.encode("utf-8"))


def _notes(meta: Mapping[str, Any]) -> list[str]:
    notes = []
    if meta.get("synthetic"):
        notes.append(SYNTHETIC_NOTE)
    if meta.get("privacy") == "coarse":
        notes.append("child positions: 250 m grid-cell centres")
    if meta.get("osm", True):
        notes.append(f"roads {OSM_ATTRIBUTION}")
    return notes


def _title(summary: Mapping[str, Any]) -> str:
    return (f"fostermatch run {summary.get('as_of', '')}: {summary.get('placed', 0)} of "
            f"{summary.get('children', 0)} children placed")


# ---- map.html


@functools.cache
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS (images inlined as data URIs), from ``xstatic-leaflet``."""
    try:
        from xstatic.pkg import leaflet
    except ImportError:  # pragma: no cover - a hard dependency
        raise MatcherError("map.html needs the package xstatic-leaflet (Leaflet's JS and CSS "
                         "for offline maps); install it with `pip install xstatic-leaflet`"
                         ) from None
    base = Path(leaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+", "", js).replace("</script", "<\\/script")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((base / "images" / match.group(1)).read_bytes()).decode()
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    return js, css


def _raw(code: str) -> Any:
    from branca.element import Element

    element = Element("{{ this.code }}")
    element.code = code
    return element


def _features(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """GeoJSON (EPSG:4326) with text properties HTML-escaped (popups use innerHTML)."""
    wgs = frame.to_crs("EPSG:4326")
    features = []
    for geom, record in zip(shapely.to_geojson(shapely.set_precision(
            wgs.geometry.to_numpy(), 1e-6)), wgs[list(columns)].to_dict("records"),
            strict=True):
        props = {k: _clean(v) for k, v in record.items()}
        features.append({"type": "Feature", "geometry": json.loads(geom), "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return round(float(value), 2)
    return html.escape(str(value))


def _map_html(layers: Mapping[str, gpd.GeoDataFrame], summary: Mapping[str, Any],
              meta: Mapping[str, Any]) -> str:
    import folium
    from branca.element import MacroElement

    children = layers["children"]
    homes = layers["homes"]
    lines = layers["match_lines"]
    parts = [f for f in (children, homes) if len(f)]
    bounds = gpd.GeoSeries(pd.concat([f.geometry for f in parts]), crs=CRS).to_crs(
        "EPSG:4326").total_bounds if parts else np.array([4.5, 57.9, 31.2, 71.2])

    fmap = folium.Map(location=None, tiles=None, control_scale=True, zoom_start=9)
    fmap.default_js = []
    fmap.default_css = []
    js, css = _leaflet_assets()
    header = fmap.get_root().header
    header.add_child(_raw(f"<style>{css}</style>"), name="leaflet_css")
    header.add_child(_raw(f"<script>{js}</script>"), name="leaflet_js")
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])

    if "municipalities" in layers:
        folium.GeoJson(
            _features(layers["municipalities"], ["kommunenummer", "kommunenavn"]),
            name="municipalities",
            style_function=lambda _f: {"color": _COLOURS["municipality_edge"], "weight": 1,
                                       "dashArray": "6 2 1 2",
                                       "fillColor": _COLOURS["municipality_fill"],
                                       "fillOpacity": 0.6},
            tooltip=folium.GeoJsonTooltip(["kommunenummer", "kommunenavn"],
                                          aliases=["kommune", "name"]),
        ).add_to(fmap)
    if "roads" in layers:
        folium.GeoJson(
            _features(layers["roads"], ["road_class"]), name="roads",
            style_function=lambda f: {
                "color": _COLOURS[f["properties"]["road_class"]],
                "weight": {"major": 2, "minor": 1, "ferry": 2}[f["properties"]["road_class"]],
                "dashArray": "6 4" if f["properties"]["road_class"] == "ferry" else None,
                "interactive": False},
        ).add_to(fmap)
    if "school_isochrones" in layers and len(layers["school_isochrones"]):
        folium.GeoJson(
            _features(_per_school(layers["school_isochrones"]), ["children", "minutes"]),
            name="school isochrones", show=False,
            style_function=lambda _f: {"color": _COLOURS["isochrone"], "weight": 0.5,
                                       "fillOpacity": 0.08},
            tooltip=folium.GeoJsonTooltip(["children", "minutes"],
                                          aliases=["school of", "minutes"]),
        ).add_to(fmap)
    folium.GeoJson(
        _features(homes, ["home_id", "kind", "capacity", "competences", "n_assigned"]),
        name="foster homes",
        marker=folium.CircleMarker(radius=4, fill=True),
        style_function=lambda f: {"color": _COLOURS["home"], "weight": 1,
                                  "fillColor": _COLOURS["home"],
                                  "fillOpacity": 0.9 if f["properties"]["n_assigned"] else 0.1},
        popup=folium.GeoJsonPopup(["home_id", "kind", "capacity", "competences",
                                   "n_assigned"],
                                  aliases=["home", "kind", "capacity", "competences",
                                           "children assigned"]),
    ).add_to(fmap)
    if len(lines):
        folium.GeoJson(
            _features(lines, ["child_id", "home_id", "score", "school_minutes",
                              "municipality_match", "kinship", "explanation"]),
            name="matches",
            style_function=lambda f: {
                "className": "fm-match", "weight": 2.5, "opacity": 0.85,
                "color": _COLOURS["kinship" if f["properties"]["kinship"] == "yes"
                                  else "match"]},
            popup=folium.GeoJsonPopup(
                ["child_id", "home_id", "score", "school_minutes", "municipality_match",
                 "kinship", "explanation"],
                aliases=["child", "home", "score", "school (min)", "same municipality",
                         "kinship", "why"], max_width=420),
        ).add_to(fmap)
    else:  # keep the layer listed, so every map has the same switches
        folium.FeatureGroup(name="matches").add_to(fmap)
    placed = children[children["placed"].astype(bool)]
    unmatched = children[~children["placed"].astype(bool)]
    if len(placed):
        folium.GeoJson(
            _features(placed, ["child_id", "urgency", "home_id"]), name="children",
            marker=folium.CircleMarker(radius=5, fill=True),
            style_function=lambda _f: {"color": "#ffffff", "weight": 1,
                                       "fillColor": _COLOURS["placed"], "fillOpacity": 1},
            popup=folium.GeoJsonPopup(["child_id", "urgency", "home_id"],
                                      aliases=["child", "urgency", "home"]),
        ).add_to(fmap)
    else:
        folium.FeatureGroup(name="children").add_to(fmap)
    if len(unmatched):
        folium.GeoJson(
            _features(unmatched, ["child_id", "urgency", "reason"]),
            name="unmatched children",
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda _f: {"color": "#ffffff", "weight": 1,
                                       "fillColor": _COLOURS["unmatched"], "fillOpacity": 1,
                                       "className": "fm-unmatched"},
            popup=folium.GeoJsonPopup(["child_id", "urgency", "reason"],
                                      aliases=["child", "urgency", "why unmatched"],
                                      max_width=420),
        ).add_to(fmap)
    else:
        folium.FeatureGroup(name="unmatched children").add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)

    extras = MacroElement()
    extras._template = _MAP_SCRIPT
    extras.attribution = " | ".join(
        html.escape(n) for n in (OSM_ATTRIBUTION if meta.get("osm", True) else "",
                                 SYNTHETIC_NOTE if meta.get("synthetic") else "") if n)
    extras.legend = _legend_html(summary, meta)
    fmap.add_child(extras)
    fmap.get_root().title = html.escape(_title(summary))
    page = fmap.get_root().render()
    return _stable_ids(page)


def _per_school(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One simplified polygon per school and band (children of one school share it)."""
    key = pd.DataFrame({"minutes": frame["minutes"].to_numpy(),
                        "wkb": shapely.to_wkb(frame.geometry.to_numpy()),
                        "child_id": frame["child_id"].astype(str).to_numpy()})
    grouped = key.groupby(["minutes", "wkb"], sort=False)["child_id"].agg(", ".join)
    grouped = grouped.reset_index().sort_values("minutes", ascending=False, kind="stable")
    geoms = shapely.simplify(shapely.from_wkb(grouped["wkb"].to_numpy()),
                             _ISOCHRONE_SIMPLIFY_METRES, preserve_topology=True)
    return gpd.GeoDataFrame({"children": grouped["child_id"].to_numpy(),
                             "minutes": grouped["minutes"].to_numpy()}, geometry=geoms, crs=CRS)


def _legend_html(summary: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    def key(colour: str, label: str, *, line: bool = False) -> str:
        shape = ("width:18px;height:3px" if line
                 else "width:10px;height:10px;border-radius:50%")
        return (f'<div><span style="display:inline-block;{shape};background:{colour};'
                f'margin-right:6px;vertical-align:middle"></span>{html.escape(label)}</div>')

    notes = "".join(f"<div style='color:#555'>{html.escape(n)}</div>"
                    for n in _notes(meta) if not n.startswith("roads"))
    return (
        "<details open style='font:12px/1.4 sans-serif;padding:6px 8px;max-width:300px'>"
        f"<summary style='font-weight:bold;cursor:pointer'>{html.escape(_title(summary))}"
        "</summary>"
        + key(_COLOURS["placed"], "child, placed")
        + key(_COLOURS["unmatched"], "child, unmatched (click for the reason)")
        + key(_COLOURS["home"], "foster home (filled: children assigned)")
        + key(_COLOURS["match"], "match (click for the explanation)", line=True)
        + key(_COLOURS["kinship"], "kinship match", line=True)
        + notes
        + "<div style='color:#555'>The engine recommends; people decide.</div></details>")


_MAP_SCRIPT = Template("""{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }};
    map.attributionControl.addAttribution({{ this.attribution | tojson }});
    var legend = L.control({position: "bottomleft"});
    legend.onAdd = function () {
        var div = L.DomUtil.create("div", "fm-legend leaflet-control-layers");
        div.innerHTML = {{ this.legend | tojson }};
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    legend.addTo(map);
})();
{% endmacro %}""")


_FOLIUM_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-fA-F])")


def _stable_ids(page: str) -> str:
    """Replace folium's random element ids with counters, so equal runs give equal files."""
    seen: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"fm{len(seen) + 1}")

    return _FOLIUM_ID.sub(number, page)


# ---- map.png


def _map_png(layers: Mapping[str, gpd.GeoDataFrame], summary: Mapping[str, Any],
             meta: Mapping[str, Any]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(12, 10), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    children = layers["children"]
    homes = layers["homes"]
    lines = layers["match_lines"]
    handles: list[Any] = []

    if "municipalities" in layers and len(layers["municipalities"]):
        ax.add_collection(PatchCollection(
            _patches(layers["municipalities"].geometry.to_numpy()),
            facecolor=_COLOURS["municipality_fill"], edgecolor=_COLOURS["municipality_edge"],
            linewidth=0.9, linestyle=(0, (6, 2, 1, 2)), zorder=1))
        handles.append(Line2D([], [], color=_COLOURS["municipality_edge"], lw=0.9,
                              ls=(0, (6, 2, 1, 2)), label="municipality border"))
    if "roads" in layers:
        for rclass, width in (("minor", 0.4), ("major", 1.0), ("ferry", 1.2)):
            geoms = layers["roads"].loc[layers["roads"]["road_class"] == rclass, "geometry"]
            segments = _segments(geoms.to_numpy())
            if segments:
                ax.add_collection(LineCollection(
                    segments, colors=_COLOURS[rclass], linewidths=width, zorder=2,
                    linestyles="--" if rclass == "ferry" else "-"))
        handles.append(Line2D([], [], color=_COLOURS["major"], lw=1, label="road"))
        handles.append(Line2D([], [], color=_COLOURS["ferry"], lw=1.2, ls="--",
                              label="car ferry"))
    if len(lines):
        kin = lines["kinship"].astype(bool).to_numpy()
        colours = np.where(kin, _COLOURS["kinship"], _COLOURS["match"])
        ax.add_collection(LineCollection(_segments(lines.geometry.to_numpy()),
                                         colors=list(colours), linewidths=1.4, alpha=0.85,
                                         zorder=3))
        handles.append(Line2D([], [], color=_COLOURS["match"], lw=1.4,
                              label=f"match ({len(lines)})"))
        if kin.any():
            handles.append(Line2D([], [], color=_COLOURS["kinship"], lw=1.4,
                                  label=f"kinship match ({int(kin.sum())})"))
    used = homes["n_assigned"].to_numpy() > 0
    ax.scatter(homes.geometry.x[~used], homes.geometry.y[~used], s=10, marker="s",
               facecolors="none", edgecolors=_COLOURS["home"], linewidths=0.6, zorder=4,
               label=f"foster home, none assigned ({int((~used).sum())})")
    ax.scatter(homes.geometry.x[used], homes.geometry.y[used], s=18, marker="s",
               color=_COLOURS["home"], zorder=4,
               label=f"foster home, assigned ({int(used.sum())})")
    placed = children["placed"].astype(bool).to_numpy()
    ax.scatter(children.geometry.x[placed], children.geometry.y[placed], s=26,
               color=_COLOURS["placed"], edgecolors="white", linewidths=0.5, zorder=5,
               label=f"child, placed ({int(placed.sum())})")
    ax.scatter(children.geometry.x[~placed], children.geometry.y[~placed], s=34,
               color=_COLOURS["unmatched"], edgecolors="white", linewidths=0.5, zorder=6,
               label=f"child, unmatched ({int((~placed).sum())})")

    parts = [f for f in (children, homes) if len(f)]
    if parts:
        xmin, ymin, xmax, ymax = pd.concat([f.geometry for f in parts]).total_bounds
        pad = max(xmax - xmin, ymax - ymin, 2000.0) * 0.05
        ax.set_xlim(xmin - pad, xmax + pad)
        ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal", adjustable="box")
    km = FuncFormatter(lambda value, _pos: f"{value / 1000:,.0f}")
    ax.xaxis.set_major_formatter(km)
    ax.yaxis.set_major_formatter(km)
    ax.set_xlabel("easting (km, EPSG:25833)")
    ax.set_ylabel("northing (km, EPSG:25833)")
    ax.grid(True, color="#eeeeee", linewidth=0.5, zorder=0)
    ax.set_title(_title(summary))
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *handles], loc="upper left",
              bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False)
    fig.text(0.01, 0.005, " | ".join(_notes(meta)), fontsize=8, color="#444444",
             ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _segments(geoms: np.ndarray) -> list[np.ndarray]:
    parts = shapely.get_parts(shapely.get_parts(geoms))
    parts = parts[~shapely.is_empty(parts)]
    return [shapely.get_coordinates(p) for p in parts]


def _patches(geoms: np.ndarray) -> list[Any]:
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    patches = []
    for polygon in shapely.get_parts(geoms):
        if polygon.is_empty:
            continue
        rings = [polygon.exterior, *polygon.interiors]
        path = MplPath.make_compound_path(*[MplPath(np.asarray(r.coords)[:, :2], closed=True)
                                            for r in rings])
        patches.append(PathPatch(path))
    return patches


# ---- report.md


def school_bands(minutes: np.ndarray | Sequence[float], *,
                 edges_minutes: Sequence[float] = SCHOOL_BANDS_MINUTES) -> list[tuple[str, int]]:
    """Count school travel times per band.

    Parameters
    ----------
    minutes
        Travel times in minutes; non-finite values are ignored.
    edges_minutes
        Ascending upper band edges in minutes; a band holds ``lower < t <= upper``
        and the last band everything above the last edge.

    Returns
    -------
    list of (str, int)
        Band label (``"<= 15"``, ``"15-30"``, ..., ``"> 60"``) and count.
    """
    t = np.asarray(minutes, dtype=float)
    t = t[np.isfinite(t)]
    edges = [float(e) for e in edges_minutes]
    out = [(f"<= {edges[0]:g}", int((t <= edges[0]).sum()))]
    for lo, hi in itertools.pairwise(edges):
        out.append((f"{lo:g}-{hi:g}", int(((t > lo) & (t <= hi)).sum())))
    out.append((f"> {edges[-1]:g}", int((t > edges[-1]).sum())))
    return out


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


def _markdown(assignments: pd.DataFrame, summary: Mapping[str, Any],
              meta: Mapping[str, Any]) -> str:
    a = assignments
    placed = a["home_id"].notna().to_numpy()
    n_placed = int(placed.sum())
    out = [f"# {_title(summary)}", ""]
    if meta.get("synthetic"):
        out += [f"> **{SYNTHETIC_NOTE}.** Do not use for casework.", ""]
    out += ["The engine recommends; people decide. Child and home ids are pseudonymous; "
            "this report holds no names or addresses.", ""]
    if meta.get("privacy") == "coarse":
        out += ["Child positions in the maps and `matches.gpkg` are coarsened to the centre "
                "of their 250 m grid cell (EPSG:25833).", ""]

    out += ["## Placements by urgency", ""]
    rows = []
    for urgency in (*schema.URGENCIES, *sorted(set(a["urgency"]) - set(schema.URGENCIES))):
        sel = (a["urgency"] == urgency).to_numpy()
        rows.append((urgency, int(sel.sum()), int((sel & placed).sum()),
                     int((sel & ~placed).sum())))
    rows.append(("all", len(a), n_placed, len(a) - n_placed))
    out += [*_table(("urgency", "children", "placed", "unmatched"), rows), ""]
    locked = int(a["locked"].sum())
    if locked:
        out += [f"Locked placements kept: {locked}.", ""]

    kept = int((a["municipality_match"].to_numpy(dtype=bool) & placed).sum())
    out += ["## Home municipality", "",
            f"Kept in their home municipality: {kept} of {n_placed} placed children "
            f"({_pct(kept, n_placed)}). Kinship placements: "
            f"{int((a['kinship'].to_numpy(dtype=bool) & placed).sum())}.", ""]

    school = a.loc[placed, "school_minutes"].to_numpy(dtype=float)
    school = school[np.isfinite(school)]
    out += ["## School travel time", "",
            f"Placed children with a school: {len(school)} (car, foster home to school, "
            "minutes).", ""]
    bands = school_bands(school)
    out += [*_table(("minutes", "children", "share"),
                    [(label, n, _pct(n, len(school))) for label, n in bands]), ""]
    median = f"{float(np.median(school)):.1f} min" if len(school) else "n/a"
    out += [f"Median: {median}.", ""]

    out += ["## Unmatched children", ""]
    unmatched = a.loc[~placed]
    if unmatched.empty:
        out += ["None: every child has a recommended home.", ""]
    else:
        out += [*_table(("child_id", "urgency", "reason"),
                        [(r.child_id, r.urgency, r.reason or "not placed")
                         for r in unmatched.itertuples()]), ""]

    out += ["## Support plan: training needs", ""]
    needs = a["training_needs"].fillna("").astype(str).to_numpy()
    train = a.loc[placed & (needs != "")]
    if train.empty:
        out += ["No placed child needs training of the foster home.", ""]
    else:
        out += ["These homes lack a competence the child needs; plan the training before "
                "or soon after the move.", ""]
        out += [*_table(("child_id", "home_id", "needs to train"),
                        [(r.child_id, r.home_id, ", ".join(schema.split_tags(r.training_needs)))
                         for r in train.itertuples()]), ""]

    out += ["## Solver", ""]
    gap = summary.get("mip_gap")
    rows = [("status", summary.get("status", "n/a")), ("solver", summary.get("solver", "n/a")),
            ("sibling policy", summary.get("sibling_policy", "n/a")),
            ("MIP gap", f"{100 * gap:.2f} %" if isinstance(gap, int | float) else "n/a"),
            ("objective, stage 1 (priority)", summary.get("objective_stage1", "n/a")),
            ("objective, stage 2 (score)", summary.get("objective_stage2", "n/a"))]
    rows += [(f"time: {k} (s)", v)
             for k, v in sorted(summary.get("timings_seconds", {}).items())]
    out += [*_table(("measure", "value"), rows), ""]

    out += ["## Inputs", ""]
    sources = summary.get("inputs_sha256", {})
    out += [*_table(("input", "sha256"), [(k, f"`{v}`") for k, v in sources.items()]), ""]
    out += [f"Configuration hash: `{summary.get('config_hash', 'n/a')}`; software: "
            f"{summary.get('software', 'n/a')}; run date: {summary.get('as_of', 'n/a')}.", ""]
    notes = [n for n in _notes(meta) if n.startswith("roads")]
    if notes:
        out += [f"Road data {OSM_ATTRIBUTION}.", ""]
    return "\n".join(out)
