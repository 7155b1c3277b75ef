"""``map.html``: an offline interactive Leaflet map made with folium (no tiles, Leaflet
inlined), rendered from the layers."""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Template

from matcher import i18n, languages
from matcher.errors import MatcherError
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.report.common import (
    _COLOURS,
    _ISOCHRONE_SIMPLIFY_METRES,
    OSM_ATTRIBUTION,
    SYNTHETIC_NOTE,
    _notes,
    _road_note,
    _title,
)

if TYPE_CHECKING:
    from matcher.run import RunSummary

__all__: list[str] = []

# ---- map.html


@functools.cache
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS (images inlined as data URIs), from ``xstatic-leaflet``."""
    try:
        from xstatic.pkg import leaflet
    except ImportError:  # pragma: no cover - a hard dependency
        raise MatcherError(_("map.html needs the package xstatic-leaflet (Leaflet's JS and "
                             "CSS for offline maps); install it with "
                             "`pip install xstatic-leaflet`")) from None
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
    element.code = code  # type: ignore[attr-defined]
    return element


def _popup(frame: gpd.GeoDataFrame, fields: Sequence[tuple[str, str]],
           **kwargs: Any) -> Any:
    """A pop-up of the ``(column, alias)`` fields the layer has (older run folders lack some).

    The aliases are English source texts (marked with ``N_``), shown translated.
    """
    import folium

    have = [(c, a) for c, a in fields if c in frame.columns]
    return folium.GeoJsonPopup([c for c, _a in have], aliases=[_(a) for _c, a in have],
                               **kwargs)


_VALUE_LABELS: dict[str, dict[str, str]] = {
    "kind": {"general": N_("general foster home"), "kinship": N_("kinship foster home"),
             "emergency": N_("emergency home"), "specialized": N_("specialized foster home")},
    "urgency": {"acute": N_("acute"), "planned": N_("planned")},
}
"""Codes shown in the pop-ups, by column: the GeoPackage keeps the codes, the map shows words."""


def _present(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in frame.columns]


def _features(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """GeoJSON (EPSG:4326) with text properties HTML-escaped (popups use innerHTML)."""
    columns = _present(frame, columns)
    wgs = frame.to_crs("EPSG:4326")
    labels = {c: {code: _(text) for code, text in _VALUE_LABELS[c].items()}
              for c in columns if c in _VALUE_LABELS}
    features = []
    for geom, record in zip(shapely.to_geojson(shapely.set_precision(
            wgs.geometry.to_numpy(), 1e-6)), wgs[list(columns)].to_dict("records"),
            strict=True):
        props = {k: _clean(labels[k].get(v, v) if k in labels else v)
                 for k, v in record.items()}
        features.append({"type": "Feature", "geometry": json.loads(geom), "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return _("yes") if value else _("no")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return round(float(value), 2)
    return html.escape(str(value))


def _map_html(layers: Mapping[str, gpd.GeoDataFrame], summary: RunSummary,
              meta: Mapping[str, Any]) -> str:
    import folium
    from branca.element import MacroElement

    children = layers["children"]
    homes = layers["homes"]
    if "languages" in homes.columns:  # codes in the GeoPackage, names in the map
        homes = homes.assign(languages=[", ".join(languages.names(str(v).split(";")))
                                        if isinstance(v, str) and v else ""
                                        for v in homes["languages"]])
    lines = layers["match_lines"]
    parts = [f for f in (children, homes) if len(f)]
    bounds = gpd.GeoSeries(pd.concat([f.geometry for f in parts]), crs=children.crs).to_crs(
        "EPSG:4326").total_bounds if parts else np.array([4.5, 57.9, 31.2, 71.2])

    fmap = folium.Map(location=None, tiles=None, control_scale=False, zoom_start=9)
    fmap.default_js = []
    fmap.default_css = []
    js, css = _leaflet_assets()
    header = fmap.get_root().header  # type: ignore[attr-defined]
    header.add_child(_raw(f"<style>{css}</style>"), name="leaflet_css")
    header.add_child(_raw(f"<script>{js}</script>"), name="leaflet_js")
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])

    if "municipalities" in layers:
        folium.GeoJson(
            _features(layers["municipalities"], ["kommunenummer", "kommunenavn"]),
            name=_("municipalities"),
            style_function=lambda _f: {"color": _COLOURS["municipality_edge"], "weight": 1,
                                       "dashArray": "6 2 1 2",
                                       "fillColor": _COLOURS["municipality_fill"],
                                       "fillOpacity": 0.6},
            tooltip=folium.GeoJsonTooltip(["kommunenummer", "kommunenavn"],
                                          aliases=[_("municipality number"), _("name")]),
        ).add_to(fmap)
    if "roads" in layers:
        folium.GeoJson(
            _features(layers["roads"], ["road_class"]), name=_("roads"),
            style_function=lambda f: {
                "color": _COLOURS[f["properties"]["road_class"]],
                "weight": {"major": 2, "minor": 1, "ferry": 2}[f["properties"]["road_class"]],
                "dashArray": "6 4" if f["properties"]["road_class"] == "ferry" else None,
                "interactive": False},
        ).add_to(fmap)
    if "school_isochrones" in layers and len(layers["school_isochrones"]):
        folium.GeoJson(
            _features(_per_school(layers["school_isochrones"]), ["children", "minutes"]),
            name=_("school isochrones"), show=False,
            style_function=lambda _f: {"color": _COLOURS["isochrone"], "weight": 0.5,
                                       "fillOpacity": 0.08},
            tooltip=folium.GeoJsonTooltip(["children", "minutes"],
                                          aliases=[_("school of"), _("minutes")]),
        ).add_to(fmap)
    folium.GeoJson(
        _features(homes, ["home_id", "kind", "capacity", "competences", "languages", "culture",
                          "own_children", "n_assigned"]),
        name=_("foster homes"),
        marker=folium.CircleMarker(radius=4, fill=True),
        style_function=lambda f: {"color": _COLOURS["home"], "weight": 1,
                                  "fillColor": _COLOURS["home"],
                                  "fillOpacity": 0.9 if f["properties"]["n_assigned"] else 0.1},
        popup=_popup(homes, [("home_id", N_("home")), ("kind", N_("kind")),
                             ("capacity", N_("capacity")), ("competences", N_("competences")),
                             ("languages", N_("languages")), ("culture", N_("culture")),
                             ("own_children", N_("own children")),
                             ("n_assigned", N_("children assigned"))]),
    ).add_to(fmap)
    yes = _("yes")
    if len(lines):
        folium.GeoJson(
            _features(lines, ["child_id", "home_id", "score", "school_minutes",
                              "municipality_match", "municipality", "kinship",
                              "explanation"]),
            name=_("matches"),
            style_function=lambda f: {
                "className": "fm-match", "weight": 2.5, "opacity": 0.85,
                "color": _COLOURS["kinship" if f["properties"]["kinship"] == yes
                                  else "match"]},
            popup=_popup(lines, [
                ("child_id", N_("child")), ("home_id", N_("home")), ("score", N_("score")),
                ("school_minutes", N_("school (min)")),
                ("municipality_match", N_("same municipality")),
                ("municipality", N_("municipality")), ("kinship", N_("kinship")),
                ("explanation", N_("why"))], max_width=420),
        ).add_to(fmap)
    else:  # keep the layer listed, so every map has the same switches
        folium.FeatureGroup(name=_("matches")).add_to(fmap)
    placed = children[children["placed"].astype(bool)]
    unmatched = children[~children["placed"].astype(bool)]
    if len(placed):
        folium.GeoJson(
            _features(placed, ["child_id", "urgency", "home_id", "heard"]),
            name=_("children"),
            marker=folium.CircleMarker(radius=5, fill=True),
            style_function=lambda _f: {"color": "#ffffff", "weight": 1,
                                       "fillColor": _COLOURS["placed"], "fillOpacity": 1},
            popup=_popup(placed, [("child_id", N_("child")), ("urgency", N_("urgency")),
                                  ("home_id", N_("home")), ("heard", N_("heard"))]),
        ).add_to(fmap)
    else:
        folium.FeatureGroup(name=_("children")).add_to(fmap)
    if len(unmatched):
        folium.GeoJson(
            _features(unmatched, ["child_id", "urgency", "reason", "heard"]),
            name=_("unmatched children"),
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda _f: {"color": "#ffffff", "weight": 1,
                                       "fillColor": _COLOURS["unmatched"], "fillOpacity": 1,
                                       "className": "fm-unmatched"},
            popup=_popup(unmatched, [("child_id", N_("child")), ("urgency", N_("urgency")),
                                     ("reason", N_("why unmatched")), ("heard", N_("heard"))],
                         max_width=420),
        ).add_to(fmap)
    else:
        folium.FeatureGroup(name=_("unmatched children")).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)

    extras = MacroElement()
    extras._template = _MAP_SCRIPT
    extras.attribution = " | ".join(  # type: ignore[attr-defined]
        html.escape(n) for n in (_(OSM_ATTRIBUTION) if meta.get("osm", True) else "",
                                 _(SYNTHETIC_NOTE) if meta.get("synthetic") else "") if n)
    extras.legend = _legend_html(summary, meta)  # type: ignore[attr-defined]
    extras.zoom_in = _("Zoom in")  # type: ignore[attr-defined]
    extras.zoom_out = _("Zoom out")  # type: ignore[attr-defined]
    fmap.add_child(extras)
    root = fmap.get_root()
    root.title = html.escape(_title(summary))  # type: ignore[attr-defined]
    root._template = _PAGE
    root.lang = i18n.current()  # type: ignore[attr-defined]
    page = root.render()
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
                             "minutes": grouped["minutes"].to_numpy()}, geometry=geoms,
                            crs=frame.crs)


def _legend_html(summary: RunSummary, meta: Mapping[str, Any]) -> str:
    def key(colour: str, label: str, *, line: bool = False) -> str:
        shape = ("width:18px;height:3px" if line
                 else "width:10px;height:10px;border-radius:50%")
        return (f'<div><span style="display:inline-block;{shape};background:{colour};'
                f'margin-right:6px;vertical-align:middle"></span>{html.escape(label)}</div>')

    road = _road_note(meta)
    notes = "".join(f"<div style='color:#555'>{html.escape(n)}</div>"
                    for n in _notes(meta) if n != road)
    return (
        "<details open style='font:12px/1.4 sans-serif;padding:6px 8px;max-width:300px'>"
        f"<summary style='font-weight:bold;cursor:pointer'>{html.escape(_title(summary))}"
        "</summary>"
        + key(_COLOURS["placed"], _("child, placed"))
        + key(_COLOURS["unmatched"], _("child, unmatched (click for the reason)"))
        + key(_COLOURS["home"], _("foster home (filled: children assigned)"))
        + key(_COLOURS["match"], _("match (click for the explanation)"), line=True)
        + key(_COLOURS["kinship"], _("kinship match"), line=True)
        + notes
        + "<div style='color:#555'>" + html.escape(_("The engine recommends; people decide."))
        + "</div></details>")


_PAGE = Template(
    "<!DOCTYPE html>\n"
    '<html lang="{{ this.lang }}">\n'
    "<head>\n"
    "{% if this.title %}<title>{{this.title}}</title>{% endif %}"
    "    {{this.header.render(**kwargs)}}\n"
    "</head>\n"
    "<body>\n"
    "    {{this.html.render(**kwargs)}}\n"
    "</body>\n"
    "<script>\n"
    "    {{this.script.render(**kwargs)}}\n"
    "</script>\n"
    "</html>\n",
)
"""branca's page template with the language of the text (``<html lang="nb">``)."""


_MAP_SCRIPT = Template("""{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }};
    L.control.scale({metric: true, imperial: false}).addTo(map);
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
    if (map.zoomControl) {
        var zoomIn = map.zoomControl._zoomInButton, zoomOut = map.zoomControl._zoomOutButton;
        zoomIn.title = {{ this.zoom_in | tojson }};
        zoomIn.setAttribute("aria-label", {{ this.zoom_in | tojson }});
        zoomOut.title = {{ this.zoom_out | tojson }};
        zoomOut.setAttribute("aria-label", {{ this.zoom_out | tojson }});
    }
})();
{% endmacro %}""")


_FOLIUM_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-fA-F])")


def _stable_ids(page: str) -> str:
    """Replace folium's random element ids with counters, so equal runs give equal files."""
    seen: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"fm{len(seen) + 1}")

    return _FOLIUM_ID.sub(number, page)


# ---- the support network (issue 25)

_SUPPORT_COLOURS: dict[str, str] = {"supervisor": "#2166ac", "relief": "#e08214",
                                    "course": "#762a83", "resource_family": "#1b7837",
                                    "full": "#1b7837", "missing": "#d6604d"}
_SUPPORT_ROLES: dict[str, str] = {"supervisor": N_("supervisor (tilsynsperson)"),
                                  "relief": N_("relief home (besøkshjem)"),
                                  "course": N_("course venue"),
                                  "resource_family": N_("resource family")}


def support_layer(fmap: Any, homes: gpd.GeoDataFrame, links: gpd.GeoDataFrame) -> None:
    """Add the support network to a folium map: one layer per role and one of the homes.

    Parameters
    ----------
    fmap
        A ``folium.Map``.
    homes
        Points (any CRS) with ``home_id, full_network`` (bool) and ``missing`` (text).
    links
        Lines (any CRS) home -> supporter with ``home_id, role`` (a key of
        :data:`_SUPPORT_ROLES`), ``target_id`` and ``minutes``.
    """
    import folium

    for role, label in _SUPPORT_ROLES.items():
        part = links[links["role"] == role]
        if not len(part):
            folium.FeatureGroup(name=_(label)).add_to(fmap)
            continue
        colour = _SUPPORT_COLOURS[role]
        folium.GeoJson(
            _features(part, ["home_id", "target_id", "minutes"]), name=_(label),
            show=role != "course",  # many long lines: off until asked for
            style_function=lambda _f, colour=colour: {"color": colour, "weight": 2,
                                                      "opacity": 0.8},
            tooltip=folium.GeoJsonTooltip(["home_id", "target_id", "minutes"],
                                          aliases=[_("home"), _(label), _("minutes")]),
        ).add_to(fmap)
    shown = homes.assign(full_network=[_("yes") if v else _("no")
                                       for v in homes["full_network"]])
    yes = _("yes")
    folium.GeoJson(
        _features(shown, ["home_id", "full_network", "missing"]),
        name=_("foster homes: support network"),
        marker=folium.CircleMarker(radius=5, fill=True),
        style_function=lambda f: {
            "color": "#ffffff", "weight": 1, "fillOpacity": 1,
            "fillColor": _SUPPORT_COLOURS["full" if f["properties"]["full_network"] == yes
                                          else "missing"]},
        popup=_popup(shown, [("home_id", N_("home")), ("full_network", N_("full network")),
                             ("missing", N_("missing"))], max_width=420),
    ).add_to(fmap)
