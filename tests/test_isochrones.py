"""Tests of matcher.isochrones: nesting, coverage of reached roads, errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import shapely

from matcher import isochrones, network, traveltime
from matcher.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def oslo() -> network.Network:
    path = DATA / "oslo-center.osm.pbf"
    assert path.is_file(), f"real data missing: {path} (see data/SOURCES.md)"
    return network.build(path)


@pytest.fixture(scope="module")
def points(oslo: network.Network) -> traveltime.Snapped:
    return traveltime.snap(oslo, ["a", "b", "c"], [10.745, 10.76, 10.73], [59.912, 59.925, 59.93])


BANDS = (2.0, 4.0, 6.0, 8.0)


@pytest.fixture(scope="module")
def polygons(oslo: network.Network, points: traveltime.Snapped):
    return isochrones.isochrones(oslo, points, BANDS, buffer_metres=120, cell_metres=50)


def test_bands_nest(polygons) -> None:
    assert list(polygons.columns) == ["id", "minutes", "geometry"]
    assert len(polygons) == 3 * len(BANDS)
    for _, group in polygons.groupby("id"):
        geoms = group.sort_values("minutes").geometry.tolist()
        areas = [g.area for g in geoms]
        assert areas == sorted(areas) and areas[0] > 0 and areas[-1] > areas[0]
        for inner, outer in itertools.pairwise(geoms):
            assert outer.covers(inner)
            assert inner.difference(outer).area == 0


def test_reached_nodes_inside_and_far_nodes_outside(oslo: network.Network,
                                                    points: traveltime.Snapped,
                                                    polygons) -> None:
    minutes = isochrones.reached_minutes(oslo, points, limit_minutes=BANDS[-1])
    nodes = shapely.points(oslo.x, oslo.y)
    for k, pid in enumerate(points.ids):
        for band in BANDS:
            poly = polygons.loc[(polygons["id"] == pid) & (polygons["minutes"] == band),
                                "geometry"].iloc[0]
            # every node of a reached non-ferry edge lies inside the polygon
            edges = oslo.edges
            t = np.maximum(minutes[k][edges["u"]], minutes[k][edges["v"]])
            inside_nodes = np.unique(edges.loc[t <= band, ["u", "v"]].to_numpy())
            assert shapely.covers(poly, nodes[inside_nodes]).all()
            # a node more than buffer + 1.5 cell diagonals from any reached road is outside (not
            # "any unreached node": a turn restriction can make a node next to a reached road
            # minutes away)
            if band == BANDS[0]:
                sel = edges.loc[t <= band, ["u", "v"]].to_numpy()
                roads = shapely.multilinestrings(shapely.linestrings(np.stack(
                    [np.column_stack([oslo.x[sel[:, 0]], oslo.y[sel[:, 0]]]),
                     np.column_stack([oslo.x[sel[:, 1]], oslo.y[sel[:, 1]]])], axis=1)))
                # a road sample lies within half a cell diagonal of its cell's centre, a grown
                # cell's nearest point within the buffer of that centre, and any of its
                # points within a cell diagonal of that nearest point
                far = shapely.distance(nodes, roads) > 120 + 1.5 * 50 * np.sqrt(2) + 1
                assert far.sum() > 100 and not shapely.covers(poly, nodes[far]).any()


@pytest.mark.parametrize("bands", [(30.0, 15.0), (), (0.0, 10.0), (15.0, 15.0)])
def test_bad_bands(oslo: network.Network, points: traveltime.Snapped,
                   bands: tuple[float, ...]) -> None:
    with pytest.raises(InputError, match="ascending"):
        isochrones.isochrones(oslo, points, bands)
