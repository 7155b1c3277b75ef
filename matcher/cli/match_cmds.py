"""CLI commands for matching: sample, demo, validate, match, shortlist."""

from __future__ import annotations

import datetime
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer
from rich.table import Table

from matcher import config as config_mod
from matcher import escape as escape_text
from matcher import i18n
from matcher.cli.common import (
    STATE,
    ConfigOpt,
    apply_language,
    choices,
    counts_text,
    emit,
    errors,
    load_config,
    parse_date,
    percent,
    progress,
    say,
    show,
    steps,
)
from matcher.errors import InputError
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.run import RunSummary

__all__ = [
    "COMMANDS",
    "DEMO_REGIONS",
    "PRIVACY_MODES",
    "SAMPLE_SIZES",
    "AddressRegisterOpt",
    "ChildrenOpt",
    "ContactsOpt",
    "HomesOpt",
    "PlacementsOpt",
    "VetoesOpt",
    "demo",
    "match",
    "open_network",
    "read_tables",
    "sample",
    "shortlist",
    "validate",
]

SAMPLE_SIZES: tuple[str, ...] = ("small", "region", "national")
"""``sample --size``: the sizes of :mod:`matcher.scenarios` (``scenarios.tables.SIZES``)."""
DEMO_REGIONS: tuple[str, ...] = ("oslo", "fjord")
"""``demo --region``."""
PRIVACY_MODES: tuple[str, ...] = ("coarse", "exact")
"""``match --privacy`` (``report.common.PRIVACY_MODES``, not imported: it loads geopandas)."""

ChildrenOpt = Annotated[Path, typer.Option(
    "--children",
    help="Children table (.csv, .geojson or .gpkg[:layer]); columns in the README.")]
HomesOpt = Annotated[Path, typer.Option(
    "--homes",
    help="Foster homes table (.csv, .geojson or .gpkg[:layer]).")]
ContactsOpt = Annotated[Path | None, typer.Option(
    "--contacts",
    help="Contacts table: the child's relatives, friends, activities and parents.")]
PlacementsOpt = Annotated[Path | None, typer.Option(
    "--placements",
    help="Locked placements (child_id, home_id): they stay and use capacity.")]
VetoesOpt = Annotated[Path | None, typer.Option(
    "--vetoes",
    help="Caseworker vetoes (child_id, home_id) that may never be matched.")]


AddressRegisterOpt = Annotated[Path | None, typer.Option(
    "--address-register", exists=True, dir_okay=False, readable=True,
    help="Kartverket's Matrikkelen adresse CSV: tables may then give 'address' and "
         "'postnummer' instead of lon/lat (geocoded offline; unresolved rows exit 2).")]


def read_tables(children: Path, homes: Path, contacts: Path | None, placements: Path | None,
                vetoes: Path | None, settings: config_mod.Settings, *,
                address_register: Path | None = None,
                municipalities: Path | None = None) -> Any:
    """Read and validate the input tables named by the common options.

    The registers of ``data/`` complete the tables: schools by ``school_id``,
    municipalities from the map, old municipality numbers translated (with a
    warning that is printed), and addresses with ``--address-register``.
    """
    from matcher.io import readers
    from matcher.io import registers as io_registers

    registers = io_registers.default_registers(address_register=address_register,
                                               municipalities=municipalities)
    inputs = readers.read_inputs(children, homes, contacts, placements, vetoes,
                                 settings=settings.scoring, registers=registers)
    for warning in inputs.warnings:
        say(_("note: {warning}").format(warning=warning))
    return inputs


def validate(children: ChildrenOpt, homes: HomesOpt, contacts: ContactsOpt = None,
             placements: PlacementsOpt = None, vetoes: VetoesOpt = None,
             config: ConfigOpt = None, address_register: AddressRegisterOpt = None) -> None:
    """Check the input tables and the configuration only; write nothing.

    Every problem is listed at once with file, row, column and the fix (exit code 2).
    """
    with errors():
        settings = load_config(config)
        inputs = read_tables(children, homes, contacts, placements, vetoes, settings,
                             address_register=address_register)
        counts = {"children": len(inputs.children), "homes": len(inputs.homes),
                  "contacts": len(inputs.contacts), "placements": len(inputs.placements),
                  "vetoes": len(inputs.vetoes)}
        say(_("inputs are valid: {counts}").format(counts=counts_text(counts)))
        emit({"command": "validate", "valid": True, **counts})


def match(
    children: ChildrenOpt,
    homes: HomesOpt,
    out: Annotated[Path, typer.Option(
        "--out", help="Run folder to write: a new or empty folder, or the folder of a "
                      "previous run (replaced atomically; any other folder is refused).")],
    contacts: ContactsOpt = None,
    placements: PlacementsOpt = None,
    vetoes: VetoesOpt = None,
    network_dir: Annotated[Path | None, typer.Option(
        "--network", exists=True, file_okay=False,
        help="Network folder from `matcher network build`.")] = None,
    osm: Annotated[Path | None, typer.Option(
        "--osm", exists=True, dir_okay=False,
        help="OSM file to build the network from (cached beside the run folder).")] = None,
    travel_times: Annotated[Path | None, typer.Option(
        "--travel-times",
        help="Long table home_id,anchor_id,minutes from another router; anchor ids are "
             "<child_id>:school and <child_id>:contact:<k>.")] = None,
    config: ConfigOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Run date YYYY-MM-DD for waiting times (default today).")] = None,
    privacy: Annotated[str | None, typer.Option(
        metavar=choices(PRIVACY_MODES),
        help="Child positions in matches.gpkg: 'coarse' (250 m grid) or 'exact' (for "
             "analysts; the maps, report, briefs and workbook stay coarse). Default: "
             "[report] privacy, coarse.")] = None,
    municipalities: Annotated[Path | None, typer.Option(
        "--municipalities",
        help="Municipality polygons (GeoJSON/GeoPackage, with kommunenummer) for the maps "
             "and for empty municipality cells (default: data/'s 2024 polygons).")]
    = None,
    address_register: AddressRegisterOpt = None,
    decisions: Annotated[Path | None, typer.Option(
        "--decisions", exists=True, dir_okay=False, readable=True,
        help="Decisions on earlier proposals (child_id, home_id, decision, decided_on, by, "
             "reason): accepted pairs are locked, declined ones not proposed for "
             "decline_days, considering ones held.")] = None,
    previous: Annotated[Path | None, typer.Option(
        "--previous", exists=True, file_okay=False,
        help="Previous run folder: keep its proposals where the score stays within "
             "[continuity] stability_tolerance (relative) of the best.")] = None,
) -> None:
    """Match all waiting children to foster homes and write a run folder.

    Writes assignments.csv, pairs.csv, shortlist.csv, summary.json and, where
    available, the maps and report. Exit code 3 if the model cannot be solved.
    """
    from matcher import pipeline
    from matcher.io import files, readers

    with errors():
        settings = load_config(config)  # first: its language is that of every message
        out = files.check_run_folder(out)  # before any work: never replaces other files
        sources = [s for s in (network_dir, osm, travel_times) if s is not None]
        if len(sources) != 1:
            raise InputError(_("give exactly one of --network DIR, --osm FILE or "
                               "--travel-times FILE"))
        privacy = privacy or settings.report.privacy
        if privacy not in PRIVACY_MODES:
            raise InputError(_("--privacy '{privacy}': use 'exact' or 'coarse'")
                             .format(privacy=privacy))
        run_date = parse_date(as_of)
        with steps(_("reading inputs")) as step:
            inputs = read_tables(children, homes, contacts, placements, vetoes, settings,
                                 address_register=address_register,
                                 municipalities=municipalities)
            pipeline.check_scale(inputs, settings)  # before the travel times
            times = readers.read_times(travel_times, inputs) if travel_times else None
            decided = None
            if decisions is not None:
                from matcher.io import decision_log

                decided = decision_log.read_decisions(decisions, as_of=run_date, inputs=inputs)
            before = None
            before_day = None
            if previous is not None:
                from matcher.io import runs

                before = runs.read_previous(previous)
                before_day = runs.previous_as_of(previous)
            net = open_network(network_dir, osm, out, settings, step)
        areas = _municipalities(municipalities, settings)
        result = _run(inputs, settings, times, net, run_date, decisions=decided,
                      previous=before, previous_as_of=before_day)
        _write(result, out, privacy=privacy, municipalities=areas, settings=settings)
        _print_summary(result.summary, out)
        if privacy == "exact":
            say(_("privacy exact: {file} holds the children's exact positions, for analysts "
                  "only; do not share it (the maps, report, briefs and workbook are coarse)")
                .format(file=out / "matches.gpkg"))


def open_network(network_dir: Path | None, osm: Path | None, out: Path,
                 settings: config_mod.Settings, step: Callable[[str], None]) -> Any:
    """Load a built network, or build one from OSM (cached beside ``out``), or None."""
    from matcher import network

    if network_dir is not None:
        step(_("loading network"))
        return network.load(network_dir)
    if osm is not None:
        cache = out.parent / f".{out.name}.network-cache"
        return network.build(osm, settings.network, cache_dir=cache, progress=step)
    return None


def _run(inputs: Any, settings: config_mod.Settings, times: Any, net: Any,
         run_date: datetime.date, *, decisions: Any = None, previous: Any = None,
         previous_as_of: datetime.date | None = None) -> Any:
    from matcher import pipeline

    extra = {"network": net.info.key} if net is not None else {}
    with progress(_("travel times")) as bar, steps(_("matching")) as step:
        return pipeline.run(inputs, settings, times=times, net=net, as_of=run_date, step=step,
                            progress=bar, extra_sources=extra, decisions=decisions,
                            previous=previous, previous_as_of=previous_as_of)


def _municipalities(path: Path | None, settings: config_mod.Settings) -> Any:
    if path is None:
        return None
    from matcher import planning

    return planning.read_municipalities(path, settings=settings)


def _write(result: Any, out: Path, *, privacy: Literal["exact", "coarse"] | str,
           municipalities: Any = None, settings: config_mod.Settings | None = None) -> None:
    """Write the run folder with its maps and report (all or nothing), showing each part."""
    with steps(_("writing the run folder")) as step:
        result.write(out, report=True, privacy=privacy, municipalities=municipalities,
                     settings=settings, step=step)


_BINDING_RULES = {
    "household": N_("household"),
    "language": N_("language"),
    "avoid": N_("avoided municipalities"),
    "contacts": N_("contacts"),
}
"""Labels of the wish and household rules counted in ``unmatched_by_binding_rule``."""


def _print_summary(summary: RunSummary, out: Path) -> None:
    emit({"command": "match", "out": str(out), **summary.to_dict()})
    if STATE.quiet and STATE.log is None:  # nobody would read it
        return
    table = Table(title=escape_text.terminal(_("fostermatch run -> {out}").format(out=out)),
                  show_header=True)
    table.add_column(_("measure"))
    table.add_column(_("value"), justify="right")
    n_a = _("n/a")

    def share(value: float | None) -> str:
        return percent(value) if value is not None else n_a

    median = summary.median_school_minutes
    gap = summary.mip_gap
    binding = {k: v for k, v in summary.unmatched_by_binding_rule.items()
               if k in _BINDING_RULES}
    acute, planned = summary.by_urgency.acute, summary.by_urgency.planned
    rows = [
        (_("status / solver"), f"{summary.status} / {summary.solver}"),
        (_("MIP gap"), percent(gap, 2) if gap is not None else n_a),
        (_("children"), i18n.format_number(summary.children)),
        (_("homes"), i18n.format_number(summary.homes)),
        (_("placed"), i18n.format_number(summary.placed)),
        ("  " + _("acute placed"), f"{acute.placed}/{acute.children}"),
        ("  " + _("planned placed"), f"{planned.placed}/{planned.children}"),
        (_("unmatched (see assignments.csv reason)"), i18n.format_number(summary.unmatched)),
        (_("kept in home municipality"), share(summary.share_kept_in_home_municipality)),
        *([(_("kept within the cooperation"), share(summary.share_kept_within_cooperation))]
          if summary.pools else []),
        (_("children not heard (see report.md)"),
         i18n.format_number(len(summary.children_not_heard))),
        *([(_("unmatched by a wish or household rule"), ", ".join(
            f"{_(_BINDING_RULES[k])} {i18n.format_number(v)}"
            for k, v in binding.items()))]
          if binding else []),
        (_("kinship placements"), i18n.format_number(summary.kinship_placements)),
        (_("median school travel"),
         _("{minutes} min").format(minutes=i18n.format_number(median, 1))
         if median is not None else n_a),
        (_("with training needs"), i18n.format_number(summary.children_with_training_needs)),
    ]
    for key, value in rows:
        table.add_row(escape_text.terminal(key), escape_text.terminal(value))
    show(table)


def shortlist(
    run: Annotated[Path, typer.Option("--run", exists=True, file_okay=False,
                                      help="Run folder written by `matcher match`.")],
    child: Annotated[str, typer.Option("--child", help="Pseudonymous child_id.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Homes to list.")] = 10,
) -> None:
    """List the best feasible homes for one child, ranked, with explanations.

    For the dialogue meeting between the municipality and Bufetat: it lists
    homes whether or not the optimiser chose them.
    """
    with errors():
        pairs_path = run / "pairs.csv"
        if not pairs_path.is_file():
            raise InputError(_("{run}: no pairs.csv; is this a run folder from `matcher match`?")
                             .format(run=run))
        pairs = pd.read_csv(pairs_path, dtype={"child_id": str, "home_id": str,
                                                 "training_needs": str, "pool": str,
                                                 "shared_languages": str, "shared_culture": str})
        assigned = pd.read_csv(run / "assignments.csv", dtype=str)
        mine = pairs[pairs["child_id"] == child]
        if child not in set(assigned["child_id"]):
            raise InputError(_("unknown child_id '{child}' in {run}/assignments.csv")
                             .format(child=child, run=run))
        chosen = assigned.loc[assigned["child_id"] == child, "home_id"].iloc[0]
        ranked = mine.assign(_key=-mine["score"]).sort_values(["_key", "home_id"]).head(k)
        wishes = [c for c in ("municipality_relation", "pool", "shared_languages",
                              "shared_culture", "own_child_gap_years", "contact_slack_minutes")
                  if c in ranked.columns]
        rows = [{"rank": i + 1, "home_id": r["home_id"], "score": round(float(r["score"]), 4),
                 "chosen": r["home_id"] == chosen,
                 **{c: (None if pd.isna(r[c]) else r[c]) for c in wishes},
                 "explanation": r["explanation"]}
                for i, (_i, r) in enumerate(ranked.iterrows())]
        emit({"command": "shortlist", "child_id": child, "homes": rows})
        if STATE.quiet and STATE.log is None:
            return
        if not rows:
            reason = assigned.loc[assigned["child_id"] == child, "reason"].iloc[0]
            say(_("{child}: no feasible home. {reason}").format(child=child, reason=reason))
            return
        title = (_("shortlist for {child} (chosen: {home})").format(child=child, home=chosen)
                 if isinstance(chosen, str) else
                 _("shortlist for {child} (no home chosen)").format(child=child))
        table = Table(title=escape_text.terminal(title))
        for col in (_("rank"), _("home"), _("score"), _("chosen"), _("explanation")):
            table.add_column(col)
        yes = _("yes")
        for r in rows:
            table.add_row(*(escape_text.terminal(v) for v in (
                str(r["rank"]), r["home_id"], i18n.format_number(r["score"], 3),
                yes if r["chosen"] else "", r["explanation"])))
        show(table)


def sample(
    out: Annotated[Path, typer.Option("--out", file_okay=False,
                                      help="Folder for the synthetic scenario.")],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 1,
    size: Annotated[str, typer.Option(
        metavar=choices(SAMPLE_SIZES),
        help="small (~60 children), region (300 children, 2,000 homes) or national "
             "(>= 500,000 road nodes, 1,000 children, 10,000 homes).")] = "small",
) -> None:
    """Write a synthetic sample region (roads with a car ferry, municipalities, children, homes)."""
    from matcher.io import files
    from matcher.scenarios import fjord as sample_mod

    with errors():
        if size not in SAMPLE_SIZES:
            raise InputError(_("--size '{size}': use small, region or national").format(size=size))
        files.claim_folder(out, marker=files.SAMPLE_MARKER)
        with steps(_("generating the {size} sample").format(size=size)):
            manifest = sample_mod.generate(out, seed=seed, size=size)  # type: ignore[arg-type]
        say(_("synthetic {size} sample (seed {seed}) -> {out}").format(size=size, seed=seed,
                                                                        out=out))
        emit({"command": "sample", "out": str(out), "seed": seed, "size": size,
              **{k: v for k, v in vars(manifest).items() if isinstance(v, int | str | float)}})


def demo(
    out: Annotated[Path | None, typer.Option(
        "--out", file_okay=False,
        help="Folder for the sample and the run (default: a new temporary folder).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic children and homes.")] = 1,
    region: Annotated[str, typer.Option(
        "--region", metavar=choices(DEMO_REGIONS),
        help="oslo: real Oslo roads, schools and population cells from data/, "
                         "with synthetic children and homes (default); fjord: the fictional "
                         "fjord region with its car ferry.")] = "oslo",
) -> None:
    """Run the whole pipeline on synthetic children and homes, and print a summary.

    The children and homes are always SYNTHETIC (fictional people). By default
    they live on real Oslo geography from data/; --region fjord uses the
    fictional fjord sample. Writes the tables to OUT/sample and the run folder
    to OUT/run.
    """
    from matcher.io import files

    with errors():
        if region not in DEMO_REGIONS:
            raise InputError(_("--region '{region}': use oslo or fjord").format(region=region))
        folder = out or Path(tempfile.mkdtemp(prefix="fostermatch-demo-"))
        files.check_run_folder(folder / "run")
        files.check_run_folder(folder / "sample", marker=files.SAMPLE_MARKER)
        if not (folder / "network" / "network.json").is_file():
            files.check_run_folder(folder / "network", marker=files.NETWORK_MARKER)
        files.claim_folder(folder, marker=files.DEMO_MARKER)
        files.claim_folder(folder / "sample", marker=files.SAMPLE_MARKER)
        settings = apply_language(config_mod.Settings())
        if region == "fjord":
            # the fjord sample's two central municipalities cooperate (issue 13)
            settings = apply_language(config_mod.Settings(scoring=config_mod.ScoringSettings(
                pools={"fjord_cooperation": ("4692", "4693")})))
            result, areas, net, sample_dir = _fjord_demo(folder, seed, settings)
        else:
            result, areas, net, sample_dir = _oslo_demo(folder, seed, settings)
        run_dir = folder / "run"
        periods = None
        if (sample_dir / "placement_periods.csv").is_file():  # synthetic history (issue 25)
            from matcher.io import periods as io_periods

            _text, periods = io_periods.read_periods(sample_dir / "placement_periods.csv")
        with steps(_("writing the run folder")) as step:
            result.write(run_dir, report=True, municipalities=areas,
                         settings=settings, synthetic=True, periods=periods, step=step)
        _print_summary(result.summary, run_dir)
        say(_("SYNTHETIC children and homes ({region}); network: {nodes} nodes, {ferries} ferry "
              "edges; tables: {tables}").format(
            region=region, nodes=i18n.format_number(net.info.nodes),
            ferries=i18n.format_number(net.info.ferry_edges), tables=sample_dir))


def _fjord_demo(folder: Path, seed: int, settings: config_mod.Settings) -> tuple[Any, ...]:
    """The fictional fjord sample: generate, build its network, match."""
    from matcher import network
    from matcher.io import readers
    from matcher.scenarios import fjord

    sample_dir = folder / "sample"
    with steps(_("demo (fjord)")) as step:
        step(_("generating the synthetic sample"))
        if sample_dir.exists():
            shutil.rmtree(sample_dir)
        fjord.generate(sample_dir, seed=seed, size="small")
        step(_("building the road network"))
        net = network.build(sample_dir / "roads.osm", settings.network,
                            cache_dir=folder / "network", progress=step)
        network.to_gpkg(net, folder / "network" / "network.gpkg")
        inputs = readers.read_inputs(
            sample_dir / "children.csv", sample_dir / "homes.csv",
            sample_dir / "contacts.csv", sample_dir / "placements.csv",
            sample_dir / "vetoes.csv", settings=settings.scoring)
    areas = _municipalities(sample_dir / "municipalities.geojson", settings)
    run_date = datetime.date.fromisoformat(fjord.REFERENCE_DATE)
    return _run(inputs, settings, None, net, run_date), areas, net, sample_dir


def _oslo_demo(folder: Path, seed: int, settings: config_mod.Settings) -> tuple[Any, ...]:
    """Synthetic children and homes on real Oslo roads, schools and population cells."""
    from matcher.io import files
    from matcher.io import registers as io_registers
    from matcher.scenarios import history, oslo

    sample_dir = folder / "sample"
    with steps(_("demo (Oslo)")) as step:
        step(_("drawing synthetic children and homes on real Oslo data"))
        scenario = oslo.oslo_scenario(io_registers.DATA_DIR, seed=seed, settings=settings,
                                      cache_dir=folder / "network")
        files.write_csv(scenario.children, sample_dir / "children.csv")
        files.write_csv(scenario.homes, sample_dir / "homes.csv")
        files.write_csv(history.placement_history(scenario.children, scenario.homes, seed=seed,
                                                  as_of=scenario.as_of),
                        sample_dir / "placement_periods.csv")
        files.write_text(sample_dir / "README.md", oslo.README)
    areas = scenario.municipalities.rename(columns={"area_id": "kommunenummer",
                                                    "name": "kommunenavn"})
    return (_run(scenario.inputs, settings, None, scenario.net, scenario.as_of), areas,
            scenario.net, sample_dir)


COMMANDS: dict[str, Callable[..., None]] = {
    "sample": sample,
    "demo": demo,
    "validate": validate,
    "match": match,
    "shortlist": shortlist,
}
"""Top-level commands of this module, registered by :mod:`matcher.cli.app`."""
