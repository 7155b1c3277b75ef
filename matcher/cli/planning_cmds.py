"""CLI commands for recruitment and support planning: gaps, whatif, recruit, coverage,
resource-families, support.

Each command reads the same input tables as ``matcher match`` (``--children``,
``--homes`` ...), a road network (``--network DIR`` or ``--osm FILE``) and
writes its files into the ``--out`` folder: a new or empty folder, or one an
earlier planning command marked (``.fostermatch-planning``); any other folder is
refused before the work. Each file is written atomically and owner-only, and
CSV cells a spreadsheet would run as a formula are made inert (these tables are
for people; no command reads them back).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from matcher import config as config_mod
from matcher import i18n
from matcher.cli.common import (
    ConfigOpt,
    amount,
    choices,
    emit,
    errors,
    load_config,
    parse_bands,
    parse_date,
    percent,
    progress,
    say,
    steps,
)
from matcher.cli.match_cmds import (
    ChildrenOpt,
    ContactsOpt,
    HomesOpt,
    PlacementsOpt,
    VetoesOpt,
    open_network,
    read_tables,
)
from matcher.errors import InputError
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _

__all__ = [
    "ANCHORS",
    "AREA_KINDS",
    "COMMANDS",
    "AnchorOpt",
    "MinutesOpt",
    "MunicipalitiesOpt",
    "NetworkOpt",
    "OsmOpt",
    "OutOpt",
    "PopulationOpt",
    "coverage",
    "gaps",
    "parse_addition",
    "recruit",
    "resource_families",
    "support",
    "whatif",
]

OutOpt = Annotated[Path, typer.Option("--out", file_okay=False,
                                      help="Folder for the output files (created if missing).")]
NetworkOpt = Annotated[Path | None, typer.Option(
    "--network", exists=True, file_okay=False,
    help="Network folder from `matcher network build`.")]
OsmOpt = Annotated[Path | None, typer.Option(
    "--osm", exists=True, dir_okay=False,
    help="OSM file to build the network from (cached beside --out).")]
MunicipalitiesOpt = Annotated[Path | None, typer.Option(
    "--municipalities",
    help="Municipality polygons (GeoJSON/GeoPackage with kommunenummer, kommunenavn).")]
PopulationOpt = Annotated[Path | None, typer.Option(
    "--population",
    help="Population grid (SSB 250 m GeoPackage: ru250m, pop_tot).")]
MinutesOpt = Annotated[float | None, typer.Option(
    "--minutes", help="Catchment T in minutes (home -> child's anchor) "
                      "[default: the setting planning.catchment_minutes, 30].")]
ANCHORS: tuple[str, ...] = ("school", "home")
"""``--anchor``: ``planning.ANCHORS`` (not imported here: it loads geopandas; a test compares)."""
AREA_KINDS: tuple[str, ...] = ("municipality", "pool", "hex", "square")
"""``gaps --areas``: ``planning.AREA_KINDS`` (a test compares)."""
AnchorOpt = Annotated[str, typer.Option(
    "--anchor", metavar=choices(ANCHORS),
    help="Child's point: 'school' (home if the child has none) or 'home'.")]


def _network(network_dir: Path | None, osm: Path | None, out: Path,
             settings: config_mod.Settings, step: Callable[[str], None]) -> Any:
    """Planning always needs a road network: exactly one of --network or --osm."""
    if (network_dir is None) == (osm is None):
        raise InputError(_("give exactly one of --network DIR or --osm FILE"))
    return open_network(network_dir, osm, out, settings, step)


def _municipalities(path: Path | None, settings: config_mod.Settings) -> Any:
    from matcher import planning

    return planning.read_municipalities(path, settings=settings) if path is not None else None


def _population(path: Path | None, settings: config_mod.Settings) -> Any:
    from matcher.io import readers

    return readers.read_population(path, crs=settings.crs) if path is not None else None


def parse_addition(text: str, settings: config_mod.ScoringSettings) -> Any:
    """Parse a ``--add`` value ``AREA:COMPETENCES:COUNT[:CAPACITY]``, e.g. ``"4631:TBO-F:3"``.

    Competences are separated by ``+``, ``,`` or ``;`` (``"0301:TBO-F+teen:2"``)
    and may be empty (``"0301::2"``).

    Returns
    -------
    matcher.planning.Addition
        The hypothetical homes to add.

    Raises
    ------
    InputError
        On a malformed text or an unknown competence (listing the allowed ones).
    """
    from matcher.errors import Problem, raise_if_problems
    from matcher.planning import Addition

    parts = text.split(":")
    bad = _("--add '{text}': use AREA:COMPETENCES:COUNT[:CAPACITY], e.g. 4631:TBO-F:3").format(
        text=text)
    if len(parts) not in (3, 4):
        raise InputError(bad)
    area, comps, count = parts[0].strip(), parts[1], parts[2].strip()
    problems = []
    if area.isdigit() and len(area) == 3:
        area = area.zfill(4)
    if not (area.isdigit() and len(area) == 4):
        problems.append(Problem("--add", _("'{text}': area '{area}' is not a 4-digit "
                                           "kommunenummer").format(text=text, area=area)))
    tags = tuple(sorted({t.strip() for t in comps.replace("+", ";").replace(",", ";").split(";")
                         if t.strip()}))
    unknown = [t for t in tags if t not in settings.competences]
    if unknown:
        problems.append(Problem("--add", _("'{text}': unknown competence(s) {unknown}; allowed: "
                                           "{allowed}").format(
            text=text, unknown=unknown, allowed=", ".join(settings.competences))))
    numbers = []
    for label, value in (("count", count), ("capacity", parts[3].strip() if len(parts) == 4
                                            else "1")):
        if not (value.isdigit() and int(value) >= 1):
            message = (_("'{text}': count '{value}' must be a whole number >= 1")
                       if label == "count" else
                       _("'{text}': capacity '{value}' must be a whole number >= 1"))
            problems.append(Problem("--add", message.format(text=text, value=value)))
            numbers.append(1)
        else:
            numbers.append(int(value))
    raise_if_problems(bad, problems)
    return Addition(area=area, competences=tags, count=numbers[0], capacity=numbers[1])


def _check_anchor(anchor: str) -> Any:
    if anchor not in ANCHORS:
        raise InputError(_("--anchor '{anchor}': use one of {allowed}").format(
            anchor=anchor, allowed=", ".join(ANCHORS)))
    return anchor


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise InputError(_("{option} {value} must be > 0").format(option=name,
                                                                  value=amount(value)))


def _claim(out: Path) -> None:
    """Make ``out`` the planning output folder (missing, empty or marked), before the work."""
    from matcher.io import files

    files.claim_folder(out, marker=files.PLANNING_MARKER)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    from matcher.io import files

    return files.write_table(frame, path, formula_safe=True)


# --------------------------------------------------------------------------- gaps


def gaps(
    children: ChildrenOpt,
    homes: HomesOpt,
    out: OutOpt,
    contacts: ContactsOpt = None,
    placements: PlacementsOpt = None,
    vetoes: VetoesOpt = None,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    municipalities: MunicipalitiesOpt = None,
    config: ConfigOpt = None,
    areas: Annotated[str | None, typer.Option(
        "--areas", metavar=choices(AREA_KINDS),
        help="municipality or pool (the [scoring.pools] cooperations; both need "
                        "--municipalities), hex or square "
                        "[default: municipality with --municipalities, else hex].")] = None,
    cell_metres: Annotated[float, typer.Option(
        "--cell-metres", help="Grid cell size in metres (working CRS, network.crs) for "
                              "hex/square.")] = 1000.0,
    minutes: MinutesOpt = None,
    anchor: AnchorOpt = "school",
    run: Annotated[Path | None, typer.Option(
        "--run", exists=True, file_okay=False,
        help="Run folder of `matcher match` whose unmatched children to count.")] = None,
    match: Annotated[bool, typer.Option(
        "--match/--no-match", help="Without --run: run the match to find unmatched "
                                   "children.")] = True,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Run date YYYY-MM-DD for waiting times (with --match).")] = None,
) -> None:
    """Rank areas by waiting children without a suitable home within --minutes.

    Writes gaps.csv (ranked areas; counts per missing need; course places
    needed; mean 2SFCA accessibility), gaps_by_need.csv, gaps_by_recruiter.csv
    (homes, places and children served per recruiter of the homes), gaps.png
    (choropleth) and gaps.gpkg (layer 'gaps', in the working CRS network.crs).
    """
    from matcher import pipeline, planning
    from matcher.io import files

    with errors():
        settings = load_config(config)
        kind = areas or ("municipality" if municipalities is not None else "hex")
        if kind not in AREA_KINDS:
            raise InputError(_("--areas '{kind}': use one of {allowed}").format(
                kind=kind, allowed=", ".join(AREA_KINDS)))
        if kind in ("municipality", "pool") and municipalities is None:
            raise InputError(_("--areas {kind} needs --municipalities FILE; or use "
                               "--areas hex or --areas square").format(kind=kind))
        if minutes is not None:
            _check_positive("--minutes", minutes)
        _check_positive("--cell-metres", cell_metres)
        anchor_kind = _check_anchor(anchor)
        run_date = parse_date(as_of)
        _claim(out)
        with steps(_("gaps")) as step:
            inputs = read_tables(children, homes, contacts, placements, vetoes, settings)
            polys = _municipalities(municipalities, settings)
            net = _network(network_dir, osm, out, settings, step)
            unmatched = None
            if run is not None:
                unmatched = _unmatched_from_run(run)
            elif match:
                step(_("matching"))
                result = pipeline.run(inputs, settings, net=net, as_of=run_date, step=step)
                unmatched = set(result.assignments.loc[result.assignments["home_id"].isna(),
                                                       "child_id"])
        with progress(_("travel times")) as bar:
            res = planning.gaps(inputs, settings=settings, net=net, areas=polys,
                                area_kind=kind, cell_metres=cell_metres,  # type: ignore[arg-type]
                                minutes=minutes, anchor=anchor_kind, unmatched=unmatched,
                                progress=bar)
        _write_csv(res.table, out / "gaps.csv")
        _write_csv(res.by_need, out / "gaps_by_need.csv")
        _write_csv(res.by_recruiter, out / "gaps_by_recruiter.csv")
        files.write_bytes(out / "gaps.png", planning.gaps_map(res, net=net, municipalities=polys))
        files.write_layers({"gaps": res.areas}, out / "gaps.gpkg")
        summary = res.summary()
        say(ngettext("{n} waiting child, {uncovered} without a suitable home within {minutes} "
                     "min, in {areas} areas ({kind}); most: {top} -> {out}",
                     "{n} waiting children, {uncovered} without a suitable home within {minutes} "
                     "min, in {areas} areas ({kind}); most: {top} -> {out}",
                     summary["children"]).format(
            n=i18n.format_number(summary["children"]),
            uncovered=i18n.format_number(summary["uncovered"]), minutes=amount(res.minutes),
            areas=i18n.format_number(summary["areas"]), kind=_(_AREA_KINDS.get(kind, kind)),
            top=", ".join(summary["top_areas"][:3]) or _("none"), out=out))
        emit({"command": "gaps", "out": str(out), **summary})


_AREA_KINDS = {
    "municipality": N_("municipalities"),
    "pool": N_("cooperations"),
    "hex": N_("hexagons"),
    "square": N_("squares"),
}
"""Names of the ``--areas`` kinds in the summary line."""


def _unmatched_from_run(run: Path) -> set[str]:
    path = run / "assignments.csv"
    if not path.is_file():
        raise InputError(_("{run}: no assignments.csv; is this a run folder from `matcher "
                           "match`?").format(run=run))
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"child_id", "home_id"} <= set(table.columns):
        raise InputError(_("{path}: needs columns child_id and home_id").format(path=path))
    return set(table.loc[table["home_id"] == "", "child_id"])


# --------------------------------------------------------------------------- whatif


def whatif(
    children: ChildrenOpt,
    homes: HomesOpt,
    out: OutOpt,
    add: Annotated[list[str], typer.Option(
        "--add", help="AREA:COMPETENCES:COUNT[:CAPACITY], e.g. 4631:TBO-F:3 or "
                      "0301:TBO-F+teen:2:2; repeatable.")],
    municipalities: MunicipalitiesOpt = None,
    contacts: ContactsOpt = None,
    placements: PlacementsOpt = None,
    vetoes: VetoesOpt = None,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    population: PopulationOpt = None,
    config: ConfigOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Run date YYYY-MM-DD for waiting times (default today).")] = None,
) -> None:
    """Add hypothetical homes, rerun the match and report the difference.

    Homes go inside their municipality polygon at population-weighted cell
    centres (--population) or road nodes, deterministically. Writes
    whatif.csv (measure, baseline, scenario, change), whatif_homes.csv and
    whatif_assignments.csv (child_id, baseline and scenario home).
    """
    from matcher import planning

    with errors():
        settings = load_config(config)
        if not add:
            raise InputError(_("give at least one --add AREA:COMPETENCES:COUNT"))
        if municipalities is None:
            raise InputError(_("--municipalities FILE is required to place the new homes"))
        additions = [parse_addition(text, settings.scoring) for text in add]
        run_date = parse_date(as_of)
        _claim(out)
        with steps(_("what-if")) as step:
            inputs = read_tables(children, homes, contacts, placements, vetoes, settings)
            polys = _municipalities(municipalities, settings)
            pop = _population(population, settings)
            net = _network(network_dir, osm, out, settings, step)
            res = planning.whatif(inputs, additions, settings=settings, net=net, areas=polys,
                                  population=pop, as_of=run_date, step=step)
        _write_csv(res.diff, out / "whatif.csv")
        added = res.added_homes.assign(competences=[";".join(c)
                                                    for c in res.added_homes["competences"]])
        _write_csv(added, out / "whatif_homes.csv")
        both = res.baseline.assignments[["child_id", "home_id"]].merge(
            res.scenario.assignments[["child_id", "home_id"]], on="child_id",
            suffixes=("_baseline", "_scenario"))
        _write_csv(both, out / "whatif_assignments.csv")
        rows = {r.measure: r for r in res.diff.itertuples()}
        placed, kept = rows["placed"], rows["kept_in_home_municipality"]
        median = rows["median_school_minutes"]
        say(ngettext("{n} hypothetical home: placed {placed_before} -> {placed_after} "
                     "({change}); kept in municipality {kept_before} -> {kept_after}; median "
                     "school minutes {median_before} -> {median_after} -> {out}",
                     "{n} hypothetical homes: placed {placed_before} -> {placed_after} "
                     "({change}); kept in municipality {kept_before} -> {kept_after}; median "
                     "school minutes {median_before} -> {median_after} -> {out}",
                     len(res.added_homes)).format(
            n=i18n.format_number(len(res.added_homes)),
            placed_before=_value(placed.baseline), placed_after=_value(placed.scenario),
            change=_value(placed.change, sign=True), kept_before=_value(kept.baseline),
            kept_after=_value(kept.scenario), median_before=_value(median.baseline, 1),
            median_after=_value(median.scenario, 1), out=out))
        emit({"command": "whatif", "out": str(out), "added_homes": len(res.added_homes),
              "newly_placed": len(res.newly_placed),
              "diff": res.diff.to_dict("records")})


def _value(value: Any, digits: int = 0, *, sign: bool = False) -> str:
    """A measure of the what-if table in the current language (``n/a`` when missing)."""
    if value is None or pd.isna(value):
        return _("n/a")
    text = i18n.format_number(float(value), digits)
    return "+" + text if sign and float(value) > 0 else text


# --------------------------------------------------------------------------- recruit


def recruit(
    children: ChildrenOpt,
    homes: HomesOpt,
    out: OutOpt,
    competence: Annotated[str, typer.Option(
        "--competence", help="Competence of the new homes, e.g. TBO-F.")],
    k: Annotated[int, typer.Option("--k", help="Most sites to choose (fewer when fewer "
                                               "bring a further child).")] = 5,
    contacts: ContactsOpt = None,
    placements: PlacementsOpt = None,
    vetoes: VetoesOpt = None,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    population: PopulationOpt = None,
    municipalities: MunicipalitiesOpt = None,
    config: ConfigOpt = None,
    minutes: MinutesOpt = None,
    anchor: AnchorOpt = "school",
    cell_metres: Annotated[float, typer.Option(
        "--cell-metres", help="Without --population: candidate grid cell size, metres.")]
    = 500.0,
    max_candidates: Annotated[int, typer.Option(
        "--max-candidates", help="Keep the most populous candidate sites.")] = 400,
) -> None:
    """Choose up to k sites for new homes that bring the most children within --minutes.

    A maximal covering location problem solved exactly (PuLP + HiGHS) over
    populated cells (--population) or road-node grid cells. Writes
    recruit.csv (chosen sites, ranked), recruit_by_pool.csv (children suited,
    covered before and newly covered, and course places needed, per
    [scoring.pools] cooperation), recruit_by_recruiter.csv (existing homes per
    recruiter), recruit.png (map; --municipalities adds named borders) and
    recruit.gpkg (layers 'sites' and 'candidates', in the working CRS
    network.crs).
    """
    from matcher import planning
    from matcher.io import files

    with errors():
        settings = load_config(config)
        if competence not in settings.scoring.competences:
            raise InputError(_("--competence '{competence}': use one of {allowed}").format(
                competence=competence, allowed=", ".join(settings.scoring.competences)))
        if k < 1:
            raise InputError(_("{option} {value} must be >= 1").format(option="--k", value=k))
        if max_candidates < 1:
            raise InputError(_("{option} {value} must be >= 1").format(option="--max-candidates",
                                                                       value=max_candidates))
        if minutes is not None:
            _check_positive("--minutes", minutes)
        _check_positive("--cell-metres", cell_metres)
        anchor_kind = _check_anchor(anchor)
        _claim(out)
        with steps(_("recruit")) as step:
            inputs = read_tables(children, homes, contacts, placements, vetoes, settings)
            pop = _population(population, settings)
            polys = _municipalities(municipalities, settings)
            net = _network(network_dir, osm, out, settings, step)
            step(_("solving the covering model"))
            res = planning.recruit(inputs, competence=competence, k=k, settings=settings,
                                   minutes=minutes, anchor=anchor_kind, net=net, population=pop,
                                   max_candidates=max_candidates, cell_metres=cell_metres)
        _write_csv(res.sites, out / "recruit.csv")
        _write_csv(res.by_pool, out / "recruit_by_pool.csv")
        _write_csv(res.by_recruiter, out / "recruit_by_recruiter.csv")
        files.write_bytes(out / "recruit.png", planning.recruit_map(res, net=net,
                                                                     municipalities=polys))
        files.write_layers({"sites": _points(res.sites, settings.crs),
                            "candidates": _points(res.candidates, settings.crs)},
                           out / "recruit.gpkg")
        summary = res.summary()
        n = i18n.format_number
        say(ngettext("{competence}: {k} site covers {newly} more children within {minutes} min "
                     "({before} of {suited} suited children were covered already; {coverable} "
                     "coverable) -> {out}",
                     "{competence}: {k} sites cover {newly} more children within {minutes} min "
                     "({before} of {suited} suited children were covered already; {coverable} "
                     "coverable) -> {out}", len(res.sites)).format(
            competence=competence, k=n(len(res.sites)), newly=n(res.newly_covered),
            minutes=amount(res.minutes),
            before=n(res.covered_before), suited=n(res.suited), coverable=n(res.coverable),
            out=out))
        if len(res.sites) < k:
            say(_("{chosen} of the {k} sites asked for are chosen: another site would bring no "
                  "further child within {minutes} min.").format(
                chosen=n(len(res.sites)), k=n(k), minutes=amount(res.minutes)))
        emit({"command": "recruit", "out": str(out), **summary})


def _points(frame: pd.DataFrame, crs: str) -> Any:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(frame.copy(), geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                           crs="EPSG:4326")
    return gdf.to_crs(crs)


# --------------------------------------------------------------------------- coverage


def coverage(
    children: ChildrenOpt,
    homes: HomesOpt,
    out: OutOpt,
    contacts: ContactsOpt = None,
    placements: PlacementsOpt = None,
    vetoes: VetoesOpt = None,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    municipalities: MunicipalitiesOpt = None,
    population: PopulationOpt = None,
    config: ConfigOpt = None,
    bands: Annotated[str | None, typer.Option(
        "--bands", help="Comma-separated bands in minutes, ascending "
                        "[default: the setting planning.emergency_bands_minutes, 30,45].")] = None,
    anchor: Annotated[str, typer.Option(
        "--anchor", metavar=choices(ANCHORS),
        help="Child's point: 'home' or 'school'.")] = "home",
) -> None:
    """Share of children (or population) within each band of an available emergency home.

    Per municipality. Emergency homes are kind=emergency with free places.
    Writes coverage.csv, coverage_cells.csv, coverage.png (map of uncovered
    areas) and coverage.gpkg (layers 'coverage' and 'cells', in the working CRS network.crs).
    """
    from matcher import planning
    from matcher.io import files

    with errors():
        settings = load_config(config)
        band_list = parse_bands(bands, "30,45") if bands is not None else None
        anchor_kind = _check_anchor(anchor)
        if population is not None and municipalities is None:
            say(_("no --municipalities: the population is reported as one area 'all'"))
        _claim(out)
        with steps(_("coverage")) as step:
            inputs = read_tables(children, homes, contacts, placements, vetoes, settings)
            polys = _municipalities(municipalities, settings)
            pop = _population(population, settings)
            net = _network(network_dir, osm, out, settings, step)
        with progress(_("travel times")) as bar:
            res = planning.emergency_coverage(inputs, settings=settings, net=net, bands=band_list,
                                              areas=polys, population=pop, anchor=anchor_kind,
                                              progress=bar)
        _write_csv(res.table, out / "coverage.csv")
        _write_csv(pd.DataFrame(res.cells.drop(columns="geometry")), out / "coverage_cells.csv")
        files.write_bytes(out / "coverage.png", planning.coverage_map(res, net=net,
                                                                        municipalities=polys))
        layers = {"cells": res.cells}
        if polys is not None and len(res.table):
            layer = polys.merge(res.table.drop(columns="name"), on="area_id", how="inner")
            layers = {"coverage": layer, **layers}
        files.write_layers(layers, out / "coverage.gpkg")
        summary = res.summary()
        shares = ", ".join(_("{share} within {minutes} min").format(
            share=(percent(summary[f"share_{b:g}"], 1) if summary[f"share_{b:g}"] is not None
                   else _("n/a")), minutes=amount(b)) for b in res.bands)
        basis = summary["basis"]
        say(ngettext("{n} available emergency home; {basis}: {shares} -> {out}",
                     "{n} available emergency homes; {basis}: {shares} -> {out}",
                     res.emergency_homes).format(
            n=i18n.format_number(res.emergency_homes),
            basis=_(_BASES[basis]) if basis in _BASES else basis, shares=shares, out=out))
        emit({"command": "coverage", "out": str(out), **summary})


_BASES = {"children": N_("children"), "population": N_("population")}
"""Names of what the coverage shares count, in the summary line."""


# --------------------------------------------------------------------------- resource families


def resource_families(
    children: ChildrenOpt,
    homes: HomesOpt,
    out: OutOpt,
    families: Annotated[Path, typer.Option(
        "--resource-families",
        help="Resource families: resource_id, lon, lat, municipality[, cooperation, "
             "max_homes] (.csv, .geojson or .gpkg).")],
    contacts: ContactsOpt = None,
    placements: PlacementsOpt = None,
    vetoes: VetoesOpt = None,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    config: ConfigOpt = None,
    cooperations: Annotated[Path | None, typer.Option(
        "--cooperations",
        help="CSV municipality,cooperation (municipality cooperations).")] = None,
    max_homes: Annotated[int | None, typer.Option(
        "--max-homes", help="Homes a resource family supports at most "
                            "[default: the setting planning.max_homes_per_family, 5].")] = None,
    any_cooperation: Annotated[bool, typer.Option(
        "--any-cooperation", help="Allow a family outside the home's cooperation.")] = False,
    max_minutes: Annotated[float | None, typer.Option(
        "--max-minutes", help="Longest home -> family travel time, minutes.")] = None,
    network_size: Annotated[int, typer.Option(
        "--network-size", help="Largest local network of foster homes.")] = 6,
) -> None:
    """Assign foster homes to resource families and group them into local networks.

    Writes resource_families.csv (home -> family, minutes, reason),
    resource_family_load.csv, local_networks.csv and cafes.csv (each
    municipality's fosterhjemskafé host).
    """
    from matcher import planning
    from matcher.io import readers

    with errors():
        settings = load_config(config)
        if max_homes is not None and max_homes < 0:
            raise InputError(_("{option} {value} must be >= 0").format(option="--max-homes",
                                                                        value=max_homes))
        if network_size < 1:
            raise InputError(_("{option} {value} must be >= 1").format(option="--network-size",
                                                                       value=network_size))
        if max_minutes is not None:
            _check_positive("--max-minutes", max_minutes)
        _claim(out)
        with steps(_("resource families")) as step:
            inputs = read_tables(children, homes, contacts, placements, vetoes, settings)
            fam = readers.read_frame(families)
            mapping = None
            if cooperations is not None:
                from matcher import tables
                from matcher.errors import raise_if_problems

                table = tables.read("cooperations", readers.read_frame(cooperations),
                                    label=cooperations.name)
                raise_if_problems(_("{source}: invalid table").format(
                    source=cooperations.name), table.problems)
                coop = table.frame()
                mapping = dict(zip(coop["municipality"], coop["cooperation"], strict=True))
            net = _network(network_dir, osm, out, settings, step)
            step(_("solving"))
            plan = planning.support_plan(inputs.homes, fam, net=net, settings=settings,
                                         max_homes=max_homes,
                                         same_cooperation=not any_cooperation,
                                         cooperations=mapping, max_minutes=max_minutes,
                                         network_size=network_size)
        _write_csv(plan.families.assignments, out / "resource_families.csv")
        _write_csv(plan.families.load, out / "resource_family_load.csv")
        _write_csv(plan.networks, out / "local_networks.csv")
        _write_csv(plan.cafes, out / "cafes.csv")
        summary = plan.summary()
        n = i18n.format_number
        say(ngettext("{assigned} of {n} home has a resource family ({unassigned} without; see "
                     "resource_families.csv reason); {networks} local networks, {cafes} cafés "
                     "-> {out}",
                     "{assigned} of {n} homes have a resource family ({unassigned} without; see "
                     "resource_families.csv reason); {networks} local networks, {cafes} cafés "
                     "-> {out}", summary["homes"]).format(
            assigned=n(summary["assigned"]), n=n(summary["homes"]),
            unassigned=n(summary["unassigned"]), networks=n(summary["networks"]),
            cafes=n(summary["cafes"]), out=out))
        emit({"command": "resource-families", "out": str(out), **summary})


# --------------------------------------------------------------------------- support


def _read_spec(path: Path, name: str) -> pd.DataFrame:
    """Read a table file and check it by spec ``name`` (every problem at once)."""
    from matcher import tables
    from matcher.errors import raise_if_problems
    from matcher.io import readers

    table = tables.read(name, readers.read_frame(path), label=path.name)
    raise_if_problems(_("{source}: invalid table").format(source=path.name), table.problems)
    return table.frame()


def support(
    children: ChildrenOpt,
    homes: HomesOpt,
    out: OutOpt,
    supervisors: Annotated[Path, typer.Option(
        "--supervisors", exists=True, dir_okay=False,
        help="Supervisors (tilsynspersoner): supervisor_id, lon, lat, municipality"
             "[, visits_per_year].")],
    relief_homes: Annotated[Path, typer.Option(
        "--relief-homes", exists=True, dir_okay=False,
        help="Relief homes (besøkshjem): relief_id, lon, lat, municipality"
             "[, weekends_per_month, kin_of].")],
    venues: Annotated[Path, typer.Option(
        "--venues", "--courses", exists=True, dir_okay=False,
        help="Course venues: venue_id, lon, lat, municipality[, max_runs].")],
    contacts: ContactsOpt = None,
    placements: PlacementsOpt = None,
    vetoes: VetoesOpt = None,
    families: Annotated[Path | None, typer.Option(
        "--resource-families", exists=True, dir_okay=False,
        help="Resource families: resource_id, lon, lat, municipality[, cooperation, "
             "max_homes].")] = None,
    periods: Annotated[Path | None, typer.Option(
        "--periods", exists=True, dir_okay=False,
        help="Placement periods (placement_periods): open periods are placements; ended ones "
             "count earlier moves and unintended moves.")] = None,
    proposals: Annotated[Path | None, typer.Option(
        "--proposals", exists=True, dir_okay=False,
        help="A run's assignments.csv: plan support for the proposed homes too.")] = None,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    config: ConfigOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Run date (ISO date) for overdue visits and recent moves "
                        "[default: today].")] = None,
) -> None:
    """Plan a support network for every foster home and list placements at risk.

    Supervisors, relief homes, course runs and resource families, each an exact
    assignment by travel time. Writes support_plan.csv (one row per home),
    support_placements.csv, supervisor_load.csv, relief_load.csv, courses.csv,
    course_runs.csv, risk_flags.csv, risk_flags.md and support_map.html.
    """
    from matcher import planning
    from matcher.io import files, readers
    from matcher.io.runs import read_run_table
    from matcher.planning import risk, support_network
    from matcher.report.layers import protected
    from matcher.report.supportmap import support_map_html

    with errors():
        settings = load_config(config)
        day = parse_date(as_of)
        _claim(out)
        with steps(_("support network")) as step:
            inputs = read_tables(children, homes, contacts, placements, vetoes, settings)
            # the support tables are checked before the (slow) network, naming their files
            sup, rel, ven = (support_network.read_support_table(
                name, readers.read_frame(path), label=str(path)) for name, path in (
                ("supervisors", supervisors), ("relief_homes", relief_homes),
                ("venues", venues)))
            fam = readers.read_frame(families) if families is not None else None
            per = _read_spec(periods, "placement_periods") if periods is not None else None
            prop = read_run_table(proposals, "assignments") if proposals is not None else None
            placed = support_network.placements_of(inputs.children, periods=per,
                                                   proposals=prop)
            net = _network(network_dir, osm, out, settings, step)
            step(_("solving"))

            def minutes(o: pd.DataFrame, oid: str, d: pd.DataFrame, did: str) -> Any:
                return planning.travel_times(net, o, d, settings.travel, origin_id=oid,
                                             destination_id=did).minutes

            plan = support_network.support_network(
                placed, inputs.homes, inputs.children, supervisors=sup, relief_homes=rel,
                venues=ven, minutes=minutes, families=fam, settings=settings)
            flags = risk.risk_flags(plan, inputs.children, as_of=day, minutes=minutes,
                                    contacts=inputs.contacts, periods=per, homes=inputs.homes,
                                    settings=settings)
        _write_csv(plan.plan, out / "support_plan.csv")
        _write_csv(plan.placements, out / "support_placements.csv")
        _write_csv(plan.supervisors, out / "supervisor_load.csv")
        _write_csv(plan.relief, out / "relief_load.csv")
        _write_csv(plan.courses, out / "courses.csv")
        _write_csv(plan.runs, out / "course_runs.csv")
        if plan.families is not None:
            _write_csv(plan.families.assignments, out / "resource_families.csv")
        _write_csv(flags, out / "risk_flags.csv")
        files.write_text(out / "risk_flags.md", risk.risk_markdown(flags, as_of=day))
        points = pd.concat([
            f[[key, "lon", "lat"]].rename(columns={key: "id"}).astype({"id": str})
            for f, key in ((sup, "supervisor_id"), (rel, "relief_id"), (ven, "venue_id"),
                           *(((fam, "resource_id"),) if fam is not None else ()))],
            ignore_index=True)
        secret = protected(inputs.children)
        hidden = set(plan.placements.loc[plan.placements["child_id"].isin(secret), "home_id"])
        files.write_bytes(out / "support_map.html", support_map_html(
            plan.plan, plan.links(), inputs.homes, points=points, settings=settings,
            hidden=hidden).encode("utf-8"))
        summary = plan.summary()
        n = i18n.format_number
        say(ngettext("{full} of {homes} home has a full support network; risk flags: {flags} "
                     "on {flagged} placements -> {out}",
                     "{full} of {homes} homes have a full support network; risk flags: {flags} "
                     "on {flagged} placements -> {out}", summary["homes"]).format(
            full=n(summary["homes_full"]), homes=n(summary["homes"]), flags=n(len(flags)),
            flagged=n(flags["child_id"].nunique() if len(flags) else 0), out=out))
        emit({"command": "support", "out": str(out), **summary, "risk_flags": len(flags),
              "risk_flags_by_reason": {k: int(v) for k, v in
                                       flags["flag"].value_counts().sort_index().items()}})


COMMANDS: dict[str, Callable[..., None]] = {
    "gaps": gaps,
    "whatif": whatif,
    "recruit": recruit,
    "coverage": coverage,
    "resource-families": resource_families,
    "support": support,
}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
