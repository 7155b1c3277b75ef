"""``support_map.html``: the support network of ``matcher support`` on an offline Leaflet map.

Every point (foster homes, supervisors, relief homes, venues, resource
families) is moved to the centre of its 250 m grid cell (``report.grid_metres``
in the working CRS) before it is drawn: the map shows where support is, not an
address. A home where a child with a protected address (``address_protection``)
lives is not drawn at all, nor are its lines.
"""

from __future__ import annotations

import html
from collections.abc import Collection

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from matcher import i18n
from matcher.config import Settings
from matcher.i18n import gettext as _
from matcher.report.common import synthetic_note
from matcher.report.layers import coarsen
from matcher.report.webmap import _raw, _stable_ids, offline_map, support_layer

__all__ = ["support_map_html"]


def _cells(lon: np.ndarray, lat: np.ndarray, settings: Settings) -> gpd.GeoSeries:
    """EPSG:4326 points moved to their grid-cell centres (:func:`coarsen`), in the working
    CRS."""
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(settings.crs)
    x, y = coarsen(pts.x.to_numpy(), pts.y.to_numpy(), cell_metres=settings.report.grid_metres)
    return gpd.GeoSeries(gpd.points_from_xy(x, y), crs=settings.crs)


def support_map_html(plan: pd.DataFrame, links: pd.DataFrame, homes: pd.DataFrame, *,
                     points: pd.DataFrame, settings: Settings | None = None,
                     synthetic: bool = False, hidden: Collection[str] = ()) -> str:
    """Render the support network as one self-contained HTML page.

    Parameters
    ----------
    plan
        ``support_plan.csv`` rows (``home_id, full_network, missing``).
    links
        ``home_id, role, target_id, minutes``.
    homes
        Validated homes (``home_id, lon, lat``, EPSG:4326).
    points
        Supporters: ``id, lon, lat`` (EPSG:4326), ids as in ``links.target_id``.
    hidden
        Homes left out (those of children with a protected address).
    """
    import folium

    settings = settings or Settings()
    plan = plan[~plan["home_id"].isin(set(hidden))].reset_index(drop=True)
    links = links[~links["home_id"].isin(set(hidden))]
    h = homes.set_index("home_id").reindex(plan["home_id"])
    home_xy = _cells(h["lon"].to_numpy(dtype=float), h["lat"].to_numpy(dtype=float), settings)
    home_at = dict(zip(plan["home_id"], home_xy, strict=True))
    p = points.drop_duplicates("id").set_index("id")
    ids = [t for t in links["target_id"] if t in p.index]
    target_xy = _cells(p.loc[ids, "lon"].to_numpy(dtype=float),
                       p.loc[ids, "lat"].to_numpy(dtype=float), settings)
    target_at = dict(zip(ids, target_xy, strict=False))
    keep = links[links["target_id"].isin(target_at) & links["home_id"].isin(home_at)]
    lines = gpd.GeoDataFrame(
        keep[["home_id", "role", "target_id", "minutes"]].assign(
            minutes=keep["minutes"].round(0)),
        geometry=[shapely.LineString([home_at[a], target_at[b]])
                  for a, b in zip(keep["home_id"], keep["target_id"], strict=True)],
        crs=settings.crs)
    home_layer = gpd.GeoDataFrame(plan[["home_id", "full_network", "missing"]],
                                  geometry=list(home_xy), crs=settings.crs)
    fmap = offline_map()
    frames = [g.geometry for g in (home_layer, lines) if len(g)]
    if frames:
        b = gpd.GeoSeries(pd.concat(frames), crs=settings.crs).to_crs("EPSG:4326").total_bounds
        fmap.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    support_layer(fmap, home_layer, lines)
    folium.LayerControl(collapsed=False).add_to(fmap)
    title = _("Support network of the foster homes")
    banner = synthetic_note({"synthetic": synthetic})
    note = html.escape(title) + (f" — {html.escape(banner)}" if banner else "")
    fmap.get_root().html.add_child(_raw(  # type: ignore[attr-defined]
        f'<div style="position:fixed;bottom:8px;left:8px;z-index:1000;background:#fff;'
        f'padding:4px 8px;font:12px sans-serif">{note}</div>'))
    root = fmap.get_root()
    root.title = html.escape(title)  # type: ignore[attr-defined]
    page = root.render()
    return _stable_ids(page).replace("<html>", f'<html lang="{i18n.current()}">', 1)
