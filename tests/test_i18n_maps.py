"""Languages of the maps and planning texts (issue 14): map.html, map.png, planning reasons.

The expected fragments are written by hand in bokmål and nynorsk; the test
session runs in English, so each test asks for its language.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import Sample

from matcher import i18n, pipeline, planning, vocabulary
from matcher.errors import InputError

# Hand-written legend and layer words of each language, and English words that must not show.
LEGEND = {
    "nb": ["barn med forslag", "barn uten forslag (klikk for å se hvorfor)",
           "fosterhjem (fylt: barn er foreslått hit)",
           "forslag (klikk på et barn, eller slå på laget)",
           "forslag i familie og nettverk", "Verktøyet foreslår; mennesker bestemmer.",
           "SYNTETISKE data: oppdiktede steder, ingen virkelige personer",
           "fostermatch-kjøring 1. november 2026: "],
    "nn": ["barn med forslag", "barn utan forslag (klikk for å sjå kvifor)",
           "fosterheim (fylt: barn er føreslått hit)",
           "forslag (klikk på eit barn, eller slå på laget)",
           "forslag i familie og nettverk", "Verktøyet føreslår; menneske avgjer.",
           "SYNTETISKE data: oppdikta stader, ingen verkelege personar",
           "fostermatch-køyring 1. november 2026: "],
}
LAYERS = {
    "nb": ["kommuner", "veier", "reisetidssoner til skolen", "fosterhjem", "forslag", "barn",
           "barn uten forslag"],
    "nn": ["kommunar", "vegar", "reisetidssoner til skulen", "fosterheimar", "forslag", "barn",
           "barn utan forslag"],
}
POPUP = {"nb": ["hvorfor intet forslag: ", "samme kommune", "barn foreslått hit: ",
                "Åpne notatet om barnet", "til skolen: "],
         "nn": ["kvifor ikkje noko forslag: ", "same kommune", "barn føreslått hit: ",
                "Opne notatet om barnet", "til skulen: "]}
ENGLISH = ["child, placed", "unmatched", "foster home", "click for", "kinship match",
           "The engine recommends", "people decide", "SYNTHETIC", "children placed",
           "fostermatch run"]
PNG = {
    "nb": {"legend": ["kommunegrense", "vei", "bilferje", "forslag (",
                      "fosterhjem, ingen barn foreslått hit (", "fosterhjem, barn foreslått hit (",
                      "barn med forslag (", "barn uten forslag ("],
           "xlabel": "østkoordinat (km, EPSG:25833)", "note": "veier © OpenStreetMap-bidragsytere"},
    "nn": {"legend": ["kommunegrense", "veg", "bilferje", "forslag (",
                      "fosterheim, ingen barn føreslått hit (", "fosterheim, barn føreslått hit (",
                      "barn med forslag (", "barn utan forslag ("],
           "xlabel": "austkoordinat (km, EPSG:25833)",
           "note": "vegar © OpenStreetMap-bidragsytarar"},
}


@dataclasses.dataclass(frozen=True)
class Written:
    folder: Path
    run: pipeline.RunResult
    figures: list[dict[str, Any]]


def _write(sample: Sample, lang: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Written:
    """Match the small sample and write its run folder with ``report.language = lang``."""
    from matplotlib.figure import Figure

    figures: list[dict[str, Any]] = []
    save = Figure.savefig

    def record(fig: Figure, *args: Any, **kwargs: Any) -> None:
        ax = fig.axes[0]
        legend = ax.get_legend()
        figures.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(),
                        "ylabel": ax.get_ylabel(),
                        "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
                        "texts": [t.get_text() for t in fig.texts]})
        save(fig, *args, **kwargs)

    settings = sample.settings.model_copy(update={
        "report": sample.settings.report.model_copy(update={"language": lang})})
    run = pipeline.run(sample.inputs, settings, net=sample.net, as_of=sample.as_of)
    municipalities = gpd.read_file(sample.manifest.municipalities)
    with monkeypatch.context() as patch:
        patch.setattr(Figure, "savefig", record)
        pipeline.write_run(run, folder, report=True, municipalities=municipalities,
                           settings=settings)
    return Written(folder, run, figures)


@pytest.fixture(scope="module", params=["nb", "nn"])
def written(request: pytest.FixtureRequest, small_sample: Sample,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Written]:
    lang = request.param
    with pytest.MonkeyPatch.context() as monkeypatch:
        out = _write(small_sample, lang, tmp_path_factory.mktemp(f"i18n-{lang}") / "run",
                     monkeypatch)
    return lang, out


def _legend(page: str) -> str:
    """The legend's HTML, as the map's script sets it (``div.innerHTML = "..."``)."""
    found = re.search(r'div\.innerHTML = (".*?");\n', page)
    assert found, "no legend in map.html"
    return str(json.loads(found.group(1)))


def test_map_html_legend_follows_the_language(written: tuple[str, Written]) -> None:
    lang, out = written
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    assert f'<html lang="{lang}">' in page
    legend = _legend(page)
    for fragment in LEGEND[lang]:
        assert fragment in legend, (fragment, legend)
    for word in ENGLISH:
        assert word not in legend, (word, legend)
    placed = int(out.run.assignments["home_id"].notna().sum())
    assert f" for {placed} av 60 " in legend  # the title's counts, in words of the language


def test_map_html_layers_and_popups_follow_the_language(written: tuple[str, Written]) -> None:
    lang, out = written
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    control = re.search(r"var layer_control_\w+_layers = \{(.*?)\n    \};", page, re.S)
    assert control, "no layer control in map.html"
    names = set(re.findall(r'"([^"]+)" : ', control.group(1)))
    assert set(LAYERS[lang]) <= names, names
    assert not names & {"municipalities", "roads", "foster homes", "matches", "children",
                        "unmatched children", "school isochrones"}, names
    popups = "\n".join(_popups(page))
    for fragment in POPUP[lang]:
        assert fragment in popups, fragment
    assert "why unmatched" not in popups and "children assigned" not in popups
    # the GeoPackage keeps codes for machine-readable columns; the pop-ups show words
    homes = gpd.read_file(out.folder / "matches.gpkg", layer="homes")
    assert set(homes["kind"]) <= {"general", "kinship", "emergency", "specialized"}
    word = {"nb": "ordinært fosterhjem", "nn": "ordinær fosterheim"}[lang]
    if (homes["kind"] == "general").any():
        assert word in popups


def _geojson(page: str) -> list[dict[str, Any]]:
    """The GeoJSON feature collections folium embeds in map.html."""
    found = []
    for match in re.finditer(r"geo_json_\w+_add\((\{.*\})\);[ \t]*\n", page):
        found.append(json.loads(match.group(1)))
    assert found, "no GeoJSON in map.html"
    return found


def _popups(page: str) -> list[str]:
    """The text of every pop-up of map.html (HTML tags removed, entities unescaped)."""
    out = []
    for collection in _geojson(page):
        for feature in collection["features"]:
            for key in ("popup", "tooltip"):
                if key in feature["properties"]:
                    text = html.unescape(re.sub(r"<[^>]+>", "\n", feature["properties"][key]))
                    out.append("\n".join(line for line in text.split("\n") if line))
    return out


def test_map_popups_have_words_not_codes(written: tuple[str, Written]) -> None:
    lang, out = written
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    popups = _popups(page)
    assert len(popups) >= 60 + 60  # every child and every home has one
    with i18n.language(lang):
        codes = vocabulary.code_words()
    found = set()
    for text in popups:
        for line in text.split("\n"):
            found |= set(re.findall(r"[\w-]+", line)) & codes
    assert found == set()
    joined = "\n".join(popups)
    assert "->" not in joined  # no formulas, only facts
    assert not re.search(r"\d\.\d", joined)  # decimal commas: "0,39", not "0.39"
    assert re.search(r"poeng: \d,\d\d\n", joined)
    # one fact per line: the municipality is said once per proposal, in words
    proposals = [p for p in popups if p.startswith("Forslag: barn ")]
    assert len(proposals) == int(out.run.assignments["home_id"].notna().sum())
    same = {"nb": "samme kommune", "nn": "same kommune"}[lang]
    for text in proposals:
        lines = [line for line in text.split("\n") if line]
        assert len(lines) == len(set(lines))
        assert sum(line.startswith("kommune: ") for line in lines) == 1, lines
        assert f"{same}: ja" not in lines


def test_map_popups_link_to_briefs_that_exist(written: tuple[str, Written]) -> None:
    _lang, out = written
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    links = []
    for collection in _geojson(page):
        for feature in collection["features"]:
            links += re.findall(r'href="([^"]+)"', feature["properties"].get("popup", ""))
    children = len(out.run.assignments)  # no child has a protected address in the sample
    placed = int(out.run.assignments["home_id"].notna().sum())
    assert len(links) == children + placed  # every child, every proposal line
    for link in set(links):
        assert link.startswith("briefs/") and (out.folder / html.unescape(link)).is_file()


def test_emergency_homes_have_their_own_symbol(written: tuple[str, Written]) -> None:
    lang, out = written
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    homes = gpd.read_file(out.folder / "matches.gpkg", layer="homes")
    emergency = int((homes["kind"] == "emergency").sum())
    assert emergency  # the sample has emergency homes
    word = {"nb": "Fosterhjem ", "nn": "Fosterheim "}[lang]
    layers = _geojson(page)
    diamonds = [c for c in layers if c["features"] and all(
        "beredskap" in f["properties"].get("popup", "") for f in c["features"])]
    assert len(diamonds) == 1 and len(diamonds[0]["features"]) == emergency
    assert all(word in f["properties"]["popup"] for f in diamonds[0]["features"])
    assert '"className": "fm-emergency-icon"' in page and ".fm-emergency{" in page
    assert {"nb": "beredskapshjem", "nn": "beredskapsheim"}[lang] in _legend(page)


def test_municipality_names_are_labels(written: tuple[str, Written]) -> None:
    _lang, out = written
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    labels = re.findall(r'class=\\"fm-label\\"\\u003e(.*?)\\u003c', page)
    # the fjord sample's four municipalities, by their own (synthetic) names
    assert sorted(labels) == ["Furuheim (syntetisk)", "Grannes (syntetisk)",
                              "Haugnes (syntetisk)", "Strandseter (syntetisk)"]


def test_school_zone_bands_have_colours_and_a_legend(written: tuple[str, Written]) -> None:
    lang, out = written
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    zones = [f for c in _geojson(page) for f in c["features"] if "fm_colour" in f["properties"]]
    bands = sorted(gpd.read_file(out.folder / "matches.gpkg",
                                 layer="school_isochrones")["minutes"].unique())
    assert len(zones) == len(bands) and len({f["properties"]["fm_colour"] for f in zones}) \
        == len(bands)
    legend = _legend(page)
    first = {"nb": "innen {m} min fra skolen til et barn med forslag",
             "nn": "innan {m} min frå skulen til eit barn med forslag"}[lang]
    assert first.format(m=f"{bands[0]:g}") in legend
    assert f"{bands[0]:g}–{bands[1]:g} min" in legend


def test_map_png_labels_follow_the_language(written: tuple[str, Written]) -> None:
    lang, out = written
    assert len(out.figures) == 1
    fig = out.figures[0]
    expected = PNG[lang]
    labels = fig["legend"]
    for fragment in expected["legend"]:
        assert any(label.startswith(fragment) for label in labels), (fragment, labels)
    assert not [w for w in [*ENGLISH, "road", "ferry", "municipality", "match ("]
                if any(w in label for label in labels)], labels
    assert fig["xlabel"] == expected["xlabel"]
    assert fig["title"].startswith(LEGEND[lang][-1])
    assert any(expected["note"] in t for t in fig["texts"]), fig["texts"]


def test_map_stays_english_in_english(small_sample: Sample, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = _write(small_sample, "en", tmp_path / "run", monkeypatch)
    page = (out.folder / "map.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    legend = _legend(page)
    assert "child, unmatched (click for the reason)" in legend
    assert "The engine recommends; people decide." in legend
    assert "fostermatch run 1 November 2026: " in legend
    assert out.figures[0]["xlabel"] == "easting (km, EPSG:25833)"


# --------------------------------------------------------------------------- planning


def _families(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return planning.validate_families(pd.DataFrame(
        {"resource_id": [r[0] for r in rows], "lon": 10.0, "lat": 60.0,
         "municipality": "0301", "cooperation": [r[1] for r in rows],
         "max_homes": [r[2] for r in rows]}))


@pytest.mark.parametrize(("lang", "expected"), [
    ("nb", ["", "den eneste ressursfamilien innen rekkevidde er full",
            "ingen ressursfamilie i det interkommunale samarbeidet Vest",
            "ingen ressursfamilie i det interkommunale samarbeidet Nord kan nås innen 20 min"]),
    ("nn", ["", "den einaste ressursfamilien innan rekkjevidd er full",
            "ingen ressursfamilie i det interkommunale samarbeidet Vest",
            "ingen ressursfamilie i det interkommunale samarbeidet Nord kan nåast innan 20 min"]),
    ("en", ["", "the only resource family within reach is full",
            "no resource family in cooperation Vest",
            "no resource family of cooperation Nord reachable within 20 min"]),
])
def test_support_plan_reasons_follow_the_language(lang: str, expected: list[str]) -> None:
    # H1 and H2 compete for R1 (one home); H1 is nearer. H3's cooperation has no family,
    # H4's only family (R2) is 35 minutes away, beyond the 20-minute limit.
    families = _families(("R1", "Sor", 1), ("R2", "Nord", 2))
    minutes = np.array([[5.0, np.inf], [9.0, np.inf], [3.0, 3.0], [np.inf, 35.0]])
    with i18n.language(lang):
        plan = planning.assign_resource_families(["H1", "H2", "H3", "H4"],
                                                 ["Sor", "Sor", "Vest", "Nord"], families,
                                                 minutes, max_minutes=20.0)
    assert plan.assignments["resource_id"].tolist()[:1] == ["R1"]
    assert plan.assignments["reason"].tolist() == expected


def test_planning_errors_follow_the_language(small_sample: Sample) -> None:
    with i18n.language("nn"), pytest.raises(InputError) as info:
        planning.gaps(small_sample.inputs, settings=small_sample.settings,
                      areas=small_sample.areas, area_kind="ring")  # type: ignore[arg-type]
    assert "områdetype «ring» finst ikkje; bruk ein av municipality, pool, hex, square" in str(
        info.value)
    with i18n.language("nb"), pytest.raises(InputError) as info:
        planning.mclp(np.zeros((3, 2)), 4, catchment_minutes=30.0)
    assert ("k=4 må være et heltall i 1..3 (antall mulige steder); senk k eller legg til "
            "steder") in str(info.value)


def _figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every matplotlib figure saved from now on."""
    from matplotlib.figure import Figure

    saved: list[Any] = []
    save = Figure.savefig

    def record(fig: Figure, *args: Any, **kwargs: Any) -> None:
        saved.append(fig)
        save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved


def test_planning_maps_follow_the_language(monkeypatch: pytest.MonkeyPatch) -> None:
    import shapely

    figures = _figures(monkeypatch)
    square = shapely.box(0.0, 6_700_000.0, 1000.0, 6_701_000.0)
    table = pd.DataFrame({"rank": [1], "area_id": ["vest"], "name": ["Vest"], "children": [4],
                          "uncovered": [3]})
    gaps = planning.GapResult(
        table=table, areas=gpd.GeoDataFrame(table, geometry=[square], crs="EPSG:25833"),
        by_need=pd.DataFrame(), children=pd.DataFrame(), minutes=22.5, area_kind="pool",
        outside=0)
    cells = gpd.GeoDataFrame({"cell_id": ["a", "b", "c"], "total": [1.0, 1.0, 1.0],
                              "uncovered": [0.0, 0.0, 1.0], "minutes": [10.0, 40.0, 50.0],
                              "band": ["<=30", "30-45", ">45"]},
                             geometry=[shapely.box(i * 250.0, 6_700_000.0, i * 250.0 + 250.0,
                                                   6_700_250.0) for i in range(3)],
                             crs="EPSG:25833")
    coverage = planning.CoverageResult(
        table=pd.DataFrame({"area_id": ["0301"], "name": ["Oslo"], "basis": ["children"],
                            "total": [3.0], "within_30": [1.0], "share_30": [1 / 3],
                            "within_45": [2.0], "share_45": [2 / 3], "beyond_45": [1.0]}),
        points=pd.DataFrame(), cells=cells, bands=(30.0, 45.0), emergency_homes=1)
    with i18n.language("nb"):
        planning.gaps_map(gaps)
        planning.coverage_map(coverage)
    gap_fig, cover_fig = figures
    assert gap_fig.get_suptitle() == ("Barn uten egnet fosterhjem innen 22,5 min, "
                                      "per interkommunalt samarbeid")
    # 4 children: fewer than 5, so the area is hatched and named in the legend only
    assert [t.get_text() for t in gap_fig.legends[0].get_texts()] == [
        "færre enn 5 ventende barn:\nvises ikke"]
    assert cover_fig.get_suptitle() == ("Reisetid til nærmeste beredskapshjem: "
                                        "ventende barn (250 m-ruter)")
    legend = cover_fig.legends[0]
    assert legend.get_title().get_text() == "nærmeste beredskapshjem"
    assert [t.get_text() for t in legend.get_texts()] == ["inntil 30 min", "30–45 min",
                                                          "over 45 min"]
    notes = [t.get_text() for t in cover_fig.texts]
    assert "3 barn i ruter med færre enn 5 barn er ikke tegnet" in "\n".join(notes)
    assert all(any("Veidata © OpenStreetMap-bidragsytere" in t.get_text() for t in f.texts)
               for f in figures)
