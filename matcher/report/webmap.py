"""``map.html``: an offline interactive Leaflet map made with folium (no tiles, Leaflet
inlined), rendered from the layers.

Each layer is drawn by one function of :data:`_LAYERS` (``(map, layers, context)``);
a new layer is a new function there. Pop-ups are HTML built here, one fact per
line in words (:mod:`matcher.vocabulary`), numbers as the language writes them,
with a relative link to the child's brief. The proposal lines are a layer that
starts switched off: opening a child's pop-up draws that child's line, so the
map is not a tangle of lines at first sight.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Template

from matcher import i18n, languages, vocabulary
from matcher.errors import MatcherError
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.report.briefs import BRIEFS, brief_file_name
from matcher.report.common import (
    _COLOURS,
    _ISOCHRONE_SIMPLIFY_METRES,
    OSM_ATTRIBUTION,
    _notes,
    _road_note,
    _title,
    synthetic_note,
)

if TYPE_CHECKING:
    import folium

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


# ---- pop-ups and features: one line per fact, in words, numbers as the language writes them


def _popup_html(title: str, facts: Sequence[tuple[str, str]], *,
                link: str | None = None) -> str:
    """A pop-up's HTML: a bold title, one ``label: value`` line per fact (empty values
    left out) and a link to the child's brief. Every text is escaped here."""
    lines = [f"<b>{html.escape(title)}</b>"]
    lines += [f"{html.escape(label)}: {html.escape(value)}" for label, value in facts if value]
    if link:
        text = _("Open the brief on the child")
        lines.append(f'<a href="{html.escape(link)}" target="_blank">{html.escape(text)}</a>')
    return '<div class="fm-pop">' + "<br>".join(lines) + "</div>"


def _number(value: Any, digits: int = 0) -> str:
    """A number as the language writes it (``0,35``); ``""`` when missing or infinite."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    number = float(value)
    return i18n.format_number(number, digits) if np.isfinite(number) else ""


def _minutes(value: Any) -> str:
    text = _number(value, 1)
    return f"{text}\u00a0min" if text else ""


def _yes_no(value: Any) -> str:
    return _("yes") if bool(value) else _("no")


def _collection(frame: gpd.GeoDataFrame, properties: Sequence[Mapping[str, Any]]
                ) -> dict[str, Any]:
    """GeoJSON (EPSG:4326) of ``frame``'s geometries with the given properties (pop-up HTML
    is escaped by :func:`_popup_html`; other properties are numbers or plain keys)."""
    wgs = frame.to_crs("EPSG:4326")
    geoms = shapely.to_geojson(shapely.set_precision(wgs.geometry.to_numpy(), 1e-6))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(g), "properties": dict(p)}
        for g, p in zip(geoms, properties, strict=True)]}


def _records(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    return list(pd.DataFrame(frame.drop(columns=frame.geometry.name)).to_dict("records"))


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return str(value)


def _brief_link(child_id: str, ctx: _Context) -> str | None:
    """The relative link from ``map.html`` to a child's brief, when the run folder has it."""
    return (f"{BRIEFS}/{brief_file_name(child_id)}.html" if child_id in ctx.briefs
            else None)


@dataclasses.dataclass(frozen=True)
class _Context:
    """What every layer function reads besides the layers."""

    summary: RunSummary
    meta: Mapping[str, Any]
    briefs: frozenset[str]
    """Ids of the children whose brief is in ``briefs/`` beside the map."""


# ---- the layers: one function each, drawn in the order of _LAYERS


def _municipalities_layer(fmap: Any, layers: Mapping[str, gpd.GeoDataFrame],
                          ctx: _Context) -> None:
    import folium

    if "municipalities" not in layers or not len(layers["municipalities"]):
        return
    frame = layers["municipalities"]
    props = [{"tooltip": html.escape(vocabulary.municipality(r["kommunenummer"],
                                                             {r["kommunenummer"]: r[
                                                                 "kommunenavn"]}
                                                             if r["kommunenavn"] else None,
                                                             number=True))}
             for r in _records(frame)]
    folium.GeoJson(
        _collection(frame, props), name=_("municipalities"),
        style_function=lambda _f: {"color": _COLOURS["municipality_edge"], "weight": 1,
                                   "dashArray": "6 2 1 2",
                                   "fillColor": _COLOURS["municipality_fill"],
                                   "fillOpacity": 0.6},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False),
    ).add_to(fmap)


def _roads_layer(fmap: Any, layers: Mapping[str, gpd.GeoDataFrame], ctx: _Context) -> None:
    import folium

    if "roads" not in layers or not len(layers["roads"]):
        return
    frame = layers["roads"]
    folium.GeoJson(
        _collection(frame, [{"fm_class": str(c)} for c in frame["road_class"]]),
        name=_("roads"),
        style_function=lambda f: {
            "color": _COLOURS[f["properties"]["fm_class"]],
            "weight": {"major": 2, "minor": 1, "ferry": 2}[f["properties"]["fm_class"]],
            "dashArray": "6 4" if f["properties"]["fm_class"] == "ferry" else None,
            "interactive": False},
    ).add_to(fmap)


def _school_zones_layer(fmap: Any, layers: Mapping[str, gpd.GeoDataFrame],
                        ctx: _Context) -> None:
    import folium

    if "school_isochrones" not in layers or not len(layers["school_isochrones"]):
        return
    frame = _school_rings(layers["school_isochrones"])
    colours = _band_colours(frame["minutes"].to_numpy(dtype=float))
    props = [{"fm_colour": colours[float(m)],
              "tooltip": html.escape(_band_label(lo, m))}
             for lo, m in zip(frame["lower"], frame["minutes"], strict=True)]
    folium.GeoJson(
        _collection(frame, props), name=_("school isochrones"), show=False,
        style_function=lambda f: {"color": f["properties"]["fm_colour"], "weight": 0.8,
                                  "fillColor": f["properties"]["fm_colour"],
                                  "fillOpacity": 0.3},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False),
    ).add_to(fmap)


def _band_label(lower: float, upper: float) -> str:
    """``within 15 min of school`` or ``15–30 min from school``, as the language writes it."""
    if lower <= 0:
        return _("within {minutes} min of a placed child's school").format(
            minutes=_number(upper))
    return _("{lower}\u2013{upper} min from a placed child's school").format(
        lower=_number(lower), upper=_number(upper))


def _band_colours(minutes: np.ndarray) -> dict[float, str]:
    """Band (minutes) -> colour: the shortest band darkest (ColorBrewer Blues)."""
    bands = sorted({float(m) for m in minutes})
    return {b: _BAND_COLOURS[min(i, len(_BAND_COLOURS) - 1)] for i, b in enumerate(bands)}


_BAND_COLOURS = ("#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef")
"""School-zone band colours, shortest band first (ColorBrewer Blues)."""


def _home_props(homes: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    out = []
    for r in _records(homes):
        facts = [
            (_("kind"), vocabulary.name("home_kind", _text(r.get("kind")))),
            (_("places"), _number(r.get("capacity"))),
            (_("children proposed here"), _number(r.get("n_assigned"))),
            (_("competences"), vocabulary.cell("competence", r.get("competences"))),
            (_("languages"), ", ".join(languages.names(
                c for c in _text(r.get("languages")).split(";") if c))),
            (_("culture"), vocabulary.cell("culture", r.get("culture"))),
            (_("own children"), _number(r.get("own_children"))),
        ]
        out.append({"popup": _popup_html(_("Foster home {home}").format(home=r["home_id"]),
                                         facts),
                    "fm_used": int(r.get("n_assigned") or 0) > 0})
    return out


def _homes_layer(fmap: Any, layers: Mapping[str, gpd.GeoDataFrame], ctx: _Context) -> None:
    import folium

    homes = layers["homes"]
    emergency = (homes["kind"].astype(str) == "emergency").to_numpy() \
        if "kind" in homes.columns else np.zeros(len(homes), dtype=bool)
    others = homes[~emergency]
    folium.GeoJson(
        _collection(others, _home_props(others)), name=_("foster homes"),
        marker=folium.CircleMarker(radius=4, fill=True),
        style_function=lambda f: {"color": _COLOURS["home"], "weight": 1,
                                  "fillColor": _COLOURS["home"],
                                  "fillOpacity": 0.9 if f["properties"]["fm_used"] else 0.1},
        popup=folium.GeoJsonPopup(["popup"], labels=False),
    ).add_to(fmap)
    if emergency.any():
        folium.GeoJson(
            _collection(homes[emergency], _home_props(homes[emergency])),
            name=_("emergency homes"),
            marker=folium.Marker(icon=folium.DivIcon(
                html='<div class="fm-emergency"></div>', icon_size=(14, 14),
                icon_anchor=(7, 7), class_name="fm-emergency-icon")),
            popup=folium.GeoJsonPopup(["popup"], labels=False),
        ).add_to(fmap)


def _matches_layer(fmap: Any, layers: Mapping[str, gpd.GeoDataFrame], ctx: _Context) -> None:
    import folium

    lines = layers["match_lines"]
    if not len(lines):  # keep the layer listed, so every map has the same switches
        folium.FeatureGroup(name=_("matches"), show=False).add_to(fmap)
        return
    props = []
    for r in _records(lines):
        child = str(r["child_id"])
        facts = [(_("score"), _number(r.get("score"), 2)),
                 (_("to school"), _minutes(r.get("school_minutes"))),
                 (_("municipality"), _text(r.get("municipality"))),
                 (_("kinship"), _yes_no(r.get("kinship")) if "kinship" in r else "")]
        props.append({"popup": _popup_html(_("Proposal: child {child}, home {home}").format(
            child=child, home=r["home_id"]), facts, link=_brief_link(child, ctx)),
            "fm_kinship": bool(r.get("kinship"))})
    folium.GeoJson(
        _collection(lines, props), name=_("matches"), show=False,
        style_function=lambda f: {
            "className": "fm-match", "weight": 2.5, "opacity": 0.85,
            "color": _COLOURS["kinship" if f["properties"]["fm_kinship"] else "match"]},
        popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=420),
    ).add_to(fmap)


def _lines_by_child(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, list[list[float]]]:
    """Child id -> its proposal line as ``[[lat, lon], [lat, lon]]`` (drawn while its pop-up
    is open)."""
    lines = layers["match_lines"]
    if not len(lines):
        return {}
    coords = shapely.get_coordinates(lines.to_crs("EPSG:4326").geometry.to_numpy())
    coords = coords.reshape(-1, 2, 2)
    return {str(c): [[round(float(p[1]), 6), round(float(p[0]), 6)] for p in pair]
            for c, pair in zip(lines["child_id"], coords, strict=True)}


def _children_layer(fmap: Any, layers: Mapping[str, gpd.GeoDataFrame],
                    ctx: _Context) -> None:
    import folium

    children = layers["children"]
    drawn = _lines_by_child(layers)
    placed_flag = children["placed"].astype(bool).to_numpy()
    for placed, name, colour, radius, css in (
            (True, N_("children"), _COLOURS["placed"], 5, None),
            (False, N_("unmatched children"), _COLOURS["unmatched"], 6, "fm-unmatched")):
        frame = children[placed_flag == placed]
        if not len(frame):
            folium.FeatureGroup(name=_(name)).add_to(fmap)
            continue
        props = []
        for r in _records(frame):
            child = str(r["child_id"])
            facts = [(_("urgency"), vocabulary.name("urgency", _text(r.get("urgency"))))]
            facts += ([(_("proposed home"), _text(r.get("home_id")))] if placed
                      else [(_("why no proposal"), _text(r.get("reason")))])
            facts.append((_("heard"), _text(r.get("heard"))))
            prop: dict[str, Any] = {"popup": _popup_html(
                _("Child {child}").format(child=child), facts,
                link=_brief_link(child, ctx))}
            if child in drawn:
                prop["fm_line"] = drawn[child]
            props.append(prop)
        style = {"color": "#ffffff", "weight": 1, "fillColor": colour, "fillOpacity": 1,
                 **({"className": css} if css else {})}
        folium.GeoJson(
            _collection(frame, props), name=_(name),
            marker=folium.CircleMarker(radius=radius, fill=True),
            style_function=lambda _f, style=style: style,
            popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=420),
        ).add_to(fmap)


def _labels_layer(fmap: Any, layers: Mapping[str, gpd.GeoDataFrame], ctx: _Context) -> None:
    """Municipality names at a point inside each municipality near the children and homes."""
    import folium

    frame = layers.get("municipalities")
    if frame is None or not len(frame):
        return
    parts = [f.geometry for f in (layers["children"], layers["homes"]) if len(f)]
    shown = frame.geometry
    if parts:  # the label goes where the children and homes are, in view at first
        area = shapely.box(*pd.concat(parts).total_bounds)
        frame = frame[frame.intersects(area)]
        shown = frame.geometry.intersection(area)
    group = folium.FeatureGroup(name=_("place names"))
    points = shown.representative_point().to_crs("EPSG:4326")
    for number, name, point in zip(frame["kommunenummer"], frame["kommunenavn"], points,
                                   strict=True):
        text = _text(name) or vocabulary.municipality(number)
        if not text:
            continue
        folium.Marker([point.y, point.x], icon=folium.DivIcon(
            html=f'<div class="fm-label">{html.escape(text)}</div>', icon_size=(160, 18),
            icon_anchor=(80, 9), class_name="fm-label-icon"),
            interactive=False).add_to(group)
    group.add_to(fmap)


_LAYERS: tuple[Callable[[Any, Mapping[str, gpd.GeoDataFrame], _Context], None], ...] = (
    _municipalities_layer, _roads_layer, _school_zones_layer, _labels_layer, _homes_layer,
    _matches_layer, _children_layer)
"""The layer functions of ``map.html``, in drawing order (a new layer: a function here)."""


def offline_map(css: str = "") -> folium.Map:
    """A ``folium.Map`` with no tiles and Leaflet inlined (no network needed to open it),
    plus the page's own ``css``."""
    import folium

    fmap = folium.Map(location=None, tiles=None, control_scale=False, zoom_start=9)
    fmap.default_js = []
    fmap.default_css = []
    js, leaflet_css = _leaflet_assets()
    header = fmap.get_root().header  # type: ignore[attr-defined]
    header.add_child(_raw(f"<style>{leaflet_css}{css}</style>"), name="leaflet_css")
    header.add_child(_raw(f"<script>{js}</script>"), name="leaflet_js")
    return fmap


def _map_html(layers: Mapping[str, gpd.GeoDataFrame], summary: RunSummary,
              meta: Mapping[str, Any], *, briefs: Collection[str] = ()) -> str:
    import folium
    from branca.element import MacroElement

    children = layers["children"]
    homes = layers["homes"]
    parts = [f for f in (children, homes) if len(f)]
    bounds = gpd.GeoSeries(pd.concat([f.geometry for f in parts]), crs=children.crs).to_crs(
        "EPSG:4326").total_bounds if parts else np.array([4.5, 57.9, 31.2, 71.2])

    fmap = offline_map(_CSS)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])

    ctx = _Context(summary=summary, meta=meta, briefs=frozenset(str(b) for b in briefs))
    for add in _LAYERS:
        add(fmap, layers, ctx)
    folium.LayerControl(collapsed=False).add_to(fmap)

    extras = MacroElement()
    extras._template = _MAP_SCRIPT
    extras.attribution = " | ".join(  # type: ignore[attr-defined]
        html.escape(n) for n in (_(OSM_ATTRIBUTION) if meta.get("osm", True) else "",
                                 synthetic_note(meta)) if n)
    extras.legend = _legend_html(layers, summary, meta)  # type: ignore[attr-defined]
    extras.zoom_in = _("Zoom in")  # type: ignore[attr-defined]
    extras.zoom_out = _("Zoom out")  # type: ignore[attr-defined]
    extras.line_colour = _COLOURS["match"]  # type: ignore[attr-defined]
    fmap.add_child(extras)
    root = fmap.get_root()
    root.title = html.escape(_title(summary))  # type: ignore[attr-defined]
    root._template = _PAGE
    root.lang = i18n.current()  # type: ignore[attr-defined]
    page = root.render()
    return _stable_ids(page)


_CSS = (".fm-pop{font:13px/1.5 sans-serif}"
        ".fm-emergency{width:9px;height:9px;margin:2px;transform:rotate(45deg);"
        f"background:{_COLOURS['home']};border:1.5px solid #fff;"
        f"box-shadow:0 0 0 1px {_COLOURS['home']}}}"
        ".fm-label{font:600 12px sans-serif;color:#4d4060;text-align:center;"
        "text-shadow:0 0 3px #fff,0 0 3px #fff;white-space:nowrap}"
        ".fm-label-icon,.fm-emergency-icon{background:none;border:none}")
"""Styles of the pop-ups, the emergency-home symbol and the place names."""


def _school_rings(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One area per band: reachable from a placed child's school within the band's minutes
    but not within the band before (rings, so that every place has one colour).

    Returns ``lower, minutes`` (the band's edges in minutes; ``lower`` 0 for the first)
    and the simplified ring, largest band first (drawn below the smaller ones).
    """
    bands = sorted({float(m) for m in frame["minutes"]})
    geoms = frame.geometry.to_numpy()
    minutes = frame["minutes"].to_numpy(dtype=float)
    unions = [shapely.union_all(geoms[minutes == b]) for b in bands]
    rings = [u if i == 0 else shapely.difference(u, unions[i - 1])
             for i, u in enumerate(unions)]
    rings = list(shapely.simplify(np.array(rings, dtype=object), _ISOCHRONE_SIMPLIFY_METRES,
                                  preserve_topology=True))
    out = gpd.GeoDataFrame({"lower": [0.0, *bands[:-1]], "minutes": bands},
                           geometry=rings, crs=frame.crs)
    return out.iloc[::-1].reset_index(drop=True)


def _legend_html(layers: Mapping[str, gpd.GeoDataFrame], summary: RunSummary,
                 meta: Mapping[str, Any]) -> str:
    def key(colour: str, label: str, *, shape: str = "dot") -> str:
        css = {"dot": "width:10px;height:10px;border-radius:50%",
               "line": "width:18px;height:3px",
               "area": f"width:14px;height:10px;opacity:.55;border:1px solid {colour}",
               "diamond": "width:8px;height:8px;margin:0 3px;transform:rotate(45deg)"}[shape]
        return (f'<div><span style="display:inline-block;{css};background:{colour};'
                f'margin-right:6px;vertical-align:middle"></span>{html.escape(label)}</div>')

    homes = layers["homes"]
    emergency = "kind" in homes.columns and bool((homes["kind"].astype(str)
                                                  == "emergency").any())
    zones = layers.get("school_isochrones")
    bands = (_band_colours(zones["minutes"].to_numpy(dtype=float))
             if zones is not None and len(zones) else {})
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
        + (key(_COLOURS["home"], _("emergency home"), shape="diamond") if emergency else "")
        + key(_COLOURS["match"], _("proposal (click a child, or switch the layer on)"),
              shape="line")
        + key(_COLOURS["kinship"], _("kinship match"), shape="line")
        + ("<div>" + html.escape(_("travel time to school (switch the layer on):"))
           + "</div>" + "".join(key(colour, _band_label(lower, band), shape="area")
                                for lower, (band, colour) in zip(
                                    [0.0, *list(bands)[:-1]], bands.items(), strict=True))
           if bands else "")
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
    var shown = null;  // the proposal line of the child whose pop-up is open
    map.on("popupopen", function (e) {
        var f = e.popup._source && e.popup._source.feature;
        if (f && f.properties && f.properties.fm_line) {
            shown = L.polyline(f.properties.fm_line, {color: {{ this.line_colour | tojson }},
                                                      weight: 4, opacity: 0.9, interactive: false,
                                                      className: "fm-shown"}).addTo(map);
        }
    });
    map.on("popupclose", function () {
        if (shown) { map.removeLayer(shown); shown = null; }
    });
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
        props = [{"home_id": _text(r["home_id"]), "target_id": _text(r["target_id"]),
                  "popup": _popup_html(_(label), [(_("home"), _text(r["home_id"])),
                                                  (_(label), _text(r["target_id"])),
                                                  (_("minutes"), _minutes(r["minutes"]))])}
                 for r in _records(part)]
        folium.GeoJson(
            _collection(part, props), name=_(label),
            show=role != "course",  # many long lines: off until asked for
            style_function=lambda _f, colour=colour: {"color": colour, "weight": 2,
                                                      "opacity": 0.8},
            popup=folium.GeoJsonPopup(["popup"], labels=False),
        ).add_to(fmap)
    home_props: list[dict[str, Any]] = [
        {"home_id": _text(r["home_id"]), "fm_full": bool(r["full_network"]),
         "popup": _popup_html(_("Foster home {home}").format(home=_text(r["home_id"])),
                              [(_("full network"), _yes_no(r["full_network"])),
                               (_("missing"), _text(r["missing"]))])}
        for r in _records(homes)]
    folium.GeoJson(
        _collection(homes, home_props), name=_("foster homes: support network"),
        marker=folium.CircleMarker(radius=5, fill=True),
        style_function=lambda f: {
            "color": "#ffffff", "weight": 1, "fillOpacity": 1,
            "fillColor": _SUPPORT_COLOURS["full" if f["properties"]["fm_full"] else "missing"]},
        popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=420),
    ).add_to(fmap)
