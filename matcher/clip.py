"""The area a road-network build keeps: municipality polygons or a polygon, plus a buffer.

:class:`ClipArea` gives the streaming OSM reader (:mod:`matcher._osm`) a vectorised
``(lon, lat) -> inside`` test, so that a regional build never holds the whole country;
:func:`matcher.network.build` takes it as ``clip=``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import Transformer

from matcher import _osm
from matcher.errors import InputError
from matcher.i18n import format_number
from matcher.i18n import gettext as _

__all__ = ["ClipArea", "clip_from_municipalities"]

_CLIP_BOX_PAD_DEGREES = 0.1
"""Margin of the degree box that pre-filters nodes before the exact clip test."""


@dataclass(frozen=True)
class ClipArea:
    """An area (plus a buffer) that a build keeps; roads outside are dropped while reading.

    Attributes
    ----------
    polygon
        A shapely (multi)polygon in degrees (EPSG:4326).
    buffer_metres
        Buffer around the polygon in metres, applied in the network CRS.
    label
        What the area is, for reports (``"kommune 4626,4631"``, a file name).
    """

    polygon: Any
    buffer_metres: float = 0.0
    label: str = "polygon"

    def fingerprint(self) -> str:
        """Return a short stable hash of the area and buffer (for cache keys)."""
        import shapely

        digest = hashlib.sha256(shapely.to_wkb(shapely.normalize(self.polygon)))
        digest.update(f"{self.buffer_metres:.3f}".encode())
        return digest.hexdigest()[:16]

    def node_filter(self, crs: str) -> _osm.NodeFilter:
        """Return a vectorised ``(lon, lat) -> inside`` mask over the buffered area.

        The polygon is projected to ``crs`` (metres), buffered there and
        prepared; nodes are projected and tested with ``shapely.contains_xy``.
        Only nodes inside a padded degree box around the area are projected
        and tested (the box holds the whole area with a margin of
        ``_CLIP_BOX_PAD_DEGREES``), so a county clip of a country file
        tests a tenth of the nodes; the mask is the same.
        """
        import shapely

        to_m = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        to_deg = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        projected = shapely.transform(self.polygon, lambda xy: np.column_stack(
            to_m.transform(xy[:, 0], xy[:, 1])))
        area = shapely.buffer(projected, self.buffer_metres) if self.buffer_metres else projected
        shapely.prepare(area)
        # the area's outline, densified to 1 km, back in degrees: its bounds plus a margin
        outline = shapely.get_coordinates(shapely.segmentize(shapely.boundary(area), 1000.0))
        box: tuple[float, float, float, float] | None = None
        if len(outline):
            lon_o, lat_o = to_deg.transform(outline[:, 0], outline[:, 1])
            lon_o, lat_o = np.asarray(lon_o), np.asarray(lat_o)
            if np.isfinite(lon_o).all() and np.isfinite(lat_o).all():
                pad = _CLIP_BOX_PAD_DEGREES
                box = (float(lon_o.min()) - pad, float(lat_o.min()) - pad,
                       float(lon_o.max()) + pad, float(lat_o.max()) + pad)

        def inside(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
            lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
            if box is None:
                x, y = to_m.transform(lon, lat)
                return shapely.contains_xy(area, np.asarray(x), np.asarray(y))
            mask = np.zeros(len(lon), dtype=bool)
            near = np.flatnonzero((lon >= box[0]) & (lat >= box[1])
                                  & (lon <= box[2]) & (lat <= box[3]))
            if len(near):
                x, y = to_m.transform(lon[near], lat[near])
                mask[near] = shapely.contains_xy(area, np.asarray(x), np.asarray(y))
            return mask

        return inside


def clip_from_municipalities(municipalities: Any, numbers: Iterable[str], *,
                             buffer_km: float = 0.0,
                             column: str = "kommunenummer") -> ClipArea:
    """Make a :class:`ClipArea` from municipality polygons.

    Parameters
    ----------
    municipalities
        GeoDataFrame of municipality polygons (any CRS; reprojected to EPSG:4326).
    numbers
        Municipality numbers (``kommunenummer``, 2024), e.g. ``["4626", "4631"]``.
    buffer_km
        Buffer around their union in kilometres.
    column
        Column holding the municipality number.

    Raises
    ------
    InputError
        If the column is missing, a number is unknown, or the buffer is negative.
    """
    import shapely

    wanted = [str(n).strip().zfill(4) for n in numbers if str(n).strip()]
    problems: list[str] = []
    if not wanted:
        problems.append(_("no municipality numbers given; use e.g. "
                          "--clip-municipalities 4626,4631"))
    if buffer_km < 0:
        problems.append(_("buffer {buffer} km is negative; use 0 or more").format(
            buffer=format_number(buffer_km, 1)))
    if column not in municipalities:
        problems.append(_("the municipality file has no '{column}' column; use the 2024 "
                          "municipality polygons (kommuner_2024_S.geojson)").format(column=column))
    if problems:
        raise InputError("; ".join(problems))
    frame = municipalities if municipalities.crs is None else municipalities.to_crs("EPSG:4326")
    numbers_in_file = frame[column].astype(str).str.strip().str.zfill(4)
    unknown = sorted(set(wanted) - set(numbers_in_file))
    if unknown:
        raise InputError(_("unknown municipality number(s) {numbers}: not in the 2024 "
                           "municipality polygons ({count} municipalities); use 2024 "
                           "kommunenummer such as 0301 (Oslo) or 4626 (Øygarden)").format(
            numbers=", ".join(unknown), count=format_number(len(frame))))
    polygon = shapely.union_all(frame.geometry[numbers_in_file.isin(wanted)].to_numpy())
    return ClipArea(polygon=polygon, buffer_metres=buffer_km * 1000.0,
                    label="kommune " + ",".join(wanted))
