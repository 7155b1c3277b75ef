"""The layers of ``matches.gpkg`` (children, homes, match lines, isochrones, roads,
municipalities), built from a run in the working CRS; writing and reading them."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from matcher import isochrones as isochrones_mod
from matcher import schema, vocabulary
from matcher.config import Settings
from matcher.errors import InputError
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.io import files
from matcher.report.common import (
    _GEOMETRY_TYPES,
    _MAJOR_ROADS,
    _MAX_MINOR_ROAD_SEGMENTS,
    _META_KEY,
    CRS,
    GRID_METRES,
    LAYERS,
    REQUIRED_LAYERS,
    Privacy,
    check_privacy,
    fictional_geography,
)
from matcher.rules import tags_of

if TYPE_CHECKING:
    from matcher.network import Network
    from matcher.run import RunResult, RunSummary

__all__ = ["build_layers", "coarsen", "protected", "read_assignments", "shareable"]

logger = logging.getLogger(__name__)


def coarsen(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float], *,
            cell_metres: float = GRID_METRES) -> tuple[np.ndarray, np.ndarray]:
    """Move points to the centre of their grid cell.

    Parameters
    ----------
    x, y
        Coordinates in metres in the working CRS.
    cell_metres
        Cell size in metres; cells are aligned to multiples of it, as SSB's
        statistical grids are (250 m: ``x ≡ 125 (mod 250)`` after coarsening).

    Returns
    -------
    tuple of numpy.ndarray
        The cell-centre coordinates, in metres (the working CRS).
    """
    if not cell_metres > 0:
        raise InputError(_("cell_metres {value} must be > 0 metres").format(value=cell_metres))
    half = cell_metres / 2.0
    cx = np.floor(np.asarray(x, dtype=float) / cell_metres) * cell_metres + half
    cy = np.floor(np.asarray(y, dtype=float) / cell_metres) * cell_metres + half
    return cx, cy


def build_layers(result: RunResult, *, privacy: Privacy = "coarse",
                 municipalities: gpd.GeoDataFrame | None = None,
                 isochrones: gpd.GeoDataFrame | None = None,
                 settings: Settings | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Build the layers of ``matches.gpkg`` from a run, in the working CRS.

    Parameters
    ----------
    result
        The run (:class:`matcher.run.RunResult`).
    privacy
        ``"coarse"`` moves child positions (and the start of their match
        lines) to the centre of their 250 m grid cell and pools school
        isochrones per school without child ids; ``"exact"`` keeps them (for
        ``matches.gpkg`` only: the shareable outputs draw :func:`shareable`).
        Children with a protected address are left out of every layer.
    municipalities
        Municipality polygons in any CRS, with ``kommunenummer`` (or
        ``municipality``, ``area_id``) and optionally ``kommunenavn`` (or ``name``).
    isochrones
        School isochrones of the placed children (``child_id``, ``minutes``,
        polygons), as :func:`matcher.pipeline.school_isochrones` computes them.
    settings
        The working CRS (``network.crs``) and the coarse grid
        (``report.grid_metres``); the defaults apply without it.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        Layer name -> frame, for the names in :data:`LAYERS` that apply:
        ``school_isochrones`` needs ``isochrones``, ``roads`` needs
        ``result.network`` and ``municipalities`` needs ``municipalities``.

    Raises
    ------
    InputError
        If ``privacy`` is unknown or ``municipalities`` has no CRS.
    """
    check_privacy(privacy)
    settings = settings or Settings()
    crs = settings.crs
    inputs = result.inputs
    hidden = protected(inputs.children)
    # A child with a protected address has no point, line or isochrone anywhere.
    table = result.assignments.loc[~result.assignments["child_id"].isin(hidden)]
    placed = table["home_id"].notna().to_numpy()

    children = inputs.children.set_index("child_id").loc[table["child_id"]]
    cx, cy = _project(children["lon"].to_numpy(), children["lat"].to_numpy(), crs)
    if privacy == "coarse":
        cx, cy = coarsen(cx, cy, cell_metres=settings.report.grid_metres)
    child_layer = gpd.GeoDataFrame({
        "child_id": table["child_id"].astype(str).to_numpy(),
        "urgency": table["urgency"].astype(str).to_numpy(),
        "placed": placed,
        "home_id": pd.Series(table["home_id"].to_numpy(dtype=object), dtype="str"),
        "reason": table["reason"].fillna("").astype(str).to_numpy(),
        "heard": _heard(children, result.summary),
    }, geometry=shapely.points(cx, cy), crs=crs)

    homes = inputs.homes
    hx, hy = _project(homes["lon"].to_numpy(), homes["lat"].to_numpy(), crs)
    n_assigned = table.loc[placed, "home_id"].value_counts()
    home_layer = gpd.GeoDataFrame({
        "home_id": homes["home_id"].astype(str).to_numpy(),
        "kind": homes["kind"].astype(str).to_numpy(),
        "capacity": homes["capacity"].to_numpy(dtype=np.int64),
        "competences": [schema.join_tags(tuple(c)) for c in homes["competences"]],
        "languages": [schema.join_tags(c) for c in tags_of(homes, "languages")],
        "culture": [schema.join_tags(c) for c in tags_of(homes, "culture")],
        "own_children": [len(c) for c in tags_of(homes, "own_children_ages")],
        "n_assigned": n_assigned.reindex(homes["home_id"]).fillna(0).to_numpy(dtype=np.int64),
    }, geometry=shapely.points(hx, hy), crs=crs)

    rows = table.loc[placed]
    home_pos = pd.Index(home_layer["home_id"]).get_indexer(rows["home_id"])
    starts = np.column_stack([cx[placed], cy[placed]])
    ends = np.column_stack([hx[home_pos], hy[home_pos]])
    pairs = result.scored.pairs.set_index(["child_id", "home_id"])["explanation"]
    keys = pd.MultiIndex.from_arrays([rows["child_id"], rows["home_id"]])
    explanation = pairs.reindex(keys).fillna(_("locked placement (not scored)")).to_numpy()
    relation = result.scored.pairs.set_index(["child_id", "home_id"])[
        ["municipality_relation", "pool"]].reindex(keys).fillna("")
    relation_text = np.array(
        [f"{vocabulary.name('relation', 'pool')} ({vocabulary.pool(pool)})" if pool != ""
         else vocabulary.name("relation", code) if code else ""
         for code, pool in zip(relation["municipality_relation"].astype(str),
                               relation["pool"].astype(str), strict=True)], dtype=object)
    line_layer = gpd.GeoDataFrame({
        "child_id": rows["child_id"].astype(str).to_numpy(),
        "home_id": rows["home_id"].astype(str).to_numpy(),
        "score": rows["score"].to_numpy(dtype=float),
        "school_minutes": rows["school_minutes"].to_numpy(dtype=float),
        "municipality_match": rows["municipality_match"].to_numpy(dtype=bool),
        "municipality": relation_text.astype(str),
        "kinship": rows["kinship"].to_numpy(dtype=bool),
        "explanation": explanation.astype(str),
    }, geometry=shapely.linestrings(np.stack([starts, ends], axis=1).reshape(-1, 2, 2)),
        crs=crs)

    layers = {"children": child_layer, "homes": home_layer, "match_lines": line_layer}
    if isochrones is not None:
        iso = isochrones.loc[~isochrones["child_id"].astype(str).isin(hidden)].to_crs(crs)
        layers["school_isochrones"] = _pooled(iso) if privacy == "coarse" else iso
    if result.network is not None:
        layers["roads"] = _roads(result.network, crs)
    if municipalities is not None:
        layers["municipalities"] = _municipalities(municipalities, crs)
    return layers


def protected(children: pd.DataFrame) -> set[str]:
    """Ids of the children with a protected address (``address_protection`` given).

    Their points are used for travel times only: no layer, map, brief or CSV
    holds them (fortrolig and strengt fortrolig adresse).
    """
    if "address_protection" not in children.columns:
        return set()
    given = children["address_protection"].fillna("").astype(str).to_numpy() != ""
    return set(children.loc[given, "child_id"].astype(str))


def shareable(layers: Mapping[str, gpd.GeoDataFrame], *, privacy: str,
              cell_metres: float = GRID_METRES) -> dict[str, gpd.GeoDataFrame]:
    """The layers as the shareable outputs draw them: never an exact child position.

    With ``privacy == "exact"`` (the layers of ``matches.gpkg`` for analysts)
    the children and the start of their match lines move to the centre of
    their ``cell_metres`` grid cell (metres, in the layers' CRS) and the school
    isochrones are pooled per school; coarse layers are returned as they are.
    """
    out = dict(layers)
    if privacy != "exact":
        return out
    children = layers["children"]
    if len(children):
        cx, cy = coarsen(children.geometry.x.to_numpy(), children.geometry.y.to_numpy(),
                         cell_metres=cell_metres)
        out["children"] = _moved(children, shapely.points(cx, cy))
    lines = layers["match_lines"]
    if len(lines):
        coords = shapely.get_coordinates(lines.geometry.to_numpy()).reshape(-1, 2, 2)
        sx, sy = coarsen(coords[:, 0, 0], coords[:, 0, 1], cell_metres=cell_metres)
        coords[:, 0, 0], coords[:, 0, 1] = sx, sy
        out["match_lines"] = _moved(lines, shapely.linestrings(coords))
    if "school_isochrones" in layers:
        out["school_isochrones"] = _pooled(layers["school_isochrones"])
    return out


def _moved(frame: gpd.GeoDataFrame, geometry: np.ndarray) -> gpd.GeoDataFrame:
    out = frame.copy()
    out[frame.geometry.name] = gpd.GeoSeries(geometry, index=frame.index, crs=frame.crs)
    return out


def read_assignments(path: Path) -> pd.DataFrame:
    """Read ``assignments.csv`` by its spec (:data:`matcher.tables.SPECS`).

    Returns
    -------
    pandas.DataFrame
        Ids, urgency, municipalities, reason and training_needs as ``str``
        (``''`` when empty; ``home_id`` missing when unmatched), minutes and
        score as ``float``, flags as ``bool``.
    """
    from matcher.io.runs import read_run_table

    return read_run_table(path, "assignments")


def _heard(children: pd.DataFrame, summary: RunSummary) -> np.ndarray:
    """Per child, in the current language: ``not heard`` (flagged in the summary), ``yes``,
    or ``under <age>``."""
    flagged = set(summary.children_not_heard)
    age = summary.hear_from_age
    words = {"not": _("not heard"), "yes": _("yes"), "young": _("under {age}").format(age=age)}
    return np.array([words["not"] if c in flagged else words["yes" if a >= age else "young"]
                     for c, a in zip(children.index, children["age"], strict=True)],
                    dtype=object).astype(str)


def _project(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs)
    return points.x.to_numpy(), points.y.to_numpy()


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
        {"child_id": [ngettext("{n} placed children", "{n} placed children", int(n)).format(n=n)
                      for n in counts["n"]],
         "minutes": counts["minutes"].to_numpy(dtype=float)},
        geometry=shapely.from_wkb(counts["wkb"].to_numpy()), crs=frame.crs)


def _roads(net: Network, crs: str) -> gpd.GeoDataFrame:
    """A light base map: merged road lines by class (major, minor, ferry), in ``crs``."""
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
    roads = gpd.GeoSeries(isochrones_mod.as_multi(np.array(geoms, dtype=object)),
                          crs=net.crs).to_crs(crs)
    return gpd.GeoDataFrame({"road_class": pd.Series(names, dtype="str")}, geometry=roads,
                            crs=crs)


def _municipalities(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise InputError(_("municipalities: the layer has no CRS; set it (e.g. with "
                           "`set_crs('EPSG:4326')`)"))
    number = next((c for c in ("kommunenummer", "municipality", "area_id")
                   if c in frame.columns), None)
    name = next((c for c in ("kommunenavn", "name") if c in frame.columns), None)
    out = gpd.GeoDataFrame({
        "kommunenummer": (frame[number].astype(str).to_numpy() if number
                          else np.full(len(frame), "", dtype=object)),
        "kommunenavn": (frame[name].fillna("").astype(str).to_numpy() if name
                        else np.full(len(frame), "", dtype=object)),
    }, geometry=isochrones_mod.as_multi(frame.geometry.to_crs(crs).to_numpy()), crs=crs)
    return out


def _looks_synthetic(children: pd.DataFrame, municipalities: gpd.GeoDataFrame | None) -> bool:
    return fictional_geography(children, municipalities)


def _write_gpkg(layers: Mapping[str, gpd.GeoDataFrame], target: Path,
                meta: Mapping[str, Any]) -> None:
    names = [n for n in LAYERS if n in layers]
    with files.atomic_path(target) as tmp:
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
        present = {str(name) for name, _kind in pyogrio.list_layers(path)}
        missing = [n for n in REQUIRED_LAYERS if n not in present]
        if missing:
            raise InputError(ngettext(
                "{path}: missing layer {layers}; re-run `matcher match` to rewrite the run "
                "folder",
                "{path}: missing layers {layers}; re-run `matcher match` to rewrite the run "
                "folder", len(missing)).format(path=path, layers=", ".join(missing)))
        layers = {n: pyogrio.read_dataframe(path, layer=n) for n in LAYERS if n in present}
        info = pyogrio.read_info(path, layer=REQUIRED_LAYERS[0])
    except InputError:
        raise
    except Exception as exc:  # GDAL raises many kinds on a damaged file
        raise InputError(_("{path}: cannot read ({error}); re-run `matcher match`").format(
            path=path, error=f"{type(exc).__name__}: {exc}")) from None
    meta: dict[str, Any] = {}
    raw = (info.get("layer_metadata") or {}).get(_META_KEY)
    if raw:
        try:
            meta = json.loads(raw)
        except ValueError:
            logger.warning(_("{file}: unreadable report metadata; using defaults").format(
                file=path.name))
    for name, frame in list(layers.items()):
        layers[name] = frame.set_crs(CRS) if frame.crs is None else frame
    return layers, meta
