"""The support network per home (matcher.planning.support_network), risk flags as reasons
(matcher.planning.risk), the brief's support section and ``matcher support``."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Sample
from tiny_run import tiny_run
from typer.testing import CliRunner

from matcher import schema, tables
from matcher.config import Settings
from matcher.errors import InputError
from matcher.planning import risk, support_network
from matcher.report import briefs

AS_OF = datetime.date(2026, 11, 1)


def _minutes(o: pd.DataFrame, _oid: str, d: pd.DataFrame, _did: str) -> np.ndarray:
    """Straight-line minutes: one minute a kilometre (55 km a degree of lon at 60° N)."""
    dx = (o["lon"].to_numpy(dtype=float)[:, None] - d["lon"].to_numpy(dtype=float)[None, :]) * 55
    dy = (o["lat"].to_numpy(dtype=float)[:, None] - d["lat"].to_numpy(dtype=float)[None, :]) * 111
    return np.hypot(dx, dy)


def _world(contacts: pd.DataFrame | None = None, **child_extra: list[object]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three placed children in two homes of 4601 on the line lat 60 (1 km = 0.01818° lon)."""
    children = pd.DataFrame({
        "child_id": ["C1", "C2", "C3"], "lon": [5.0, 5.1, 5.2], "lat": [60.0] * 3,
        "school_lon": [5.0, None, 5.3], "school_lat": [60.0, None, 60.0],
        "municipality": ["4601", "4601", "4601"], "age": [8, 12, 15],
        "needs": ["trauma", "", "behaviour"], "urgency": ["planned"] * 3,
        "current_home_id": ["H1", "H1", "H2"], "relief_weekends": [1, 0, 2],
        **child_extra})
    homes = pd.DataFrame({
        "home_id": ["H1", "H2"], "lon": [5.0, 5.3], "lat": [60.0, 60.0],
        "municipality": ["4601", "4601"], "capacity": [0, 0],
        "competences": ["PRIDE", "PRIDE;EFST"], "min_age": [0, 0], "max_age": [17, 17],
        "kind": ["general", "general"]})
    inputs = schema.validate(children, homes, settings=Settings().scoring, contacts=contacts)
    if contacts is not None:
        return inputs.children, inputs.homes, inputs.contacts  # type: ignore[return-value]
    return inputs.children, inputs.homes


SUPERVISORS = pd.DataFrame({"supervisor_id": ["S1", "S2", "S9"], "lon": [5.0, 5.4, 5.3],
                            "lat": [60.0, 60.0, 60.0],
                            "municipality": ["4601", "4601", "4602"],
                            "visits_per_year": [8, 4, 40]})
RELIEF = pd.DataFrame({"relief_id": ["R1", "R2", "R3"], "lon": [5.05, 5.25, 5.31],
                       "lat": [60.0, 60.0, 60.0], "municipality": ["4601"] * 3,
                       "weekends_per_month": [2, 2, 4], "kin_of": ["", "C3", ""]})
VENUES = pd.DataFrame({"venue_id": ["V1", "V2"], "lon": [5.1, 9.0], "lat": [60.0, 60.0],
                       "municipality": ["4601", "4601"]})


def _plan(children: pd.DataFrame, homes: pd.DataFrame, **kw: object
          ) -> support_network.SupportNetwork:
    placed = support_network.placements_of(children)
    args: dict[str, object] = {"supervisors": SUPERVISORS, "relief_homes": RELIEF,
                               "venues": VENUES, "minutes": _minutes, **kw}
    return support_network.support_network(placed, homes, children, **args)  # type: ignore


def test_placements_prefer_open_periods_then_current_home_then_proposals() -> None:
    children, _homes = _world()
    periods = tables.read("placement_periods", pd.DataFrame({
        "child_id": ["C1", "C1", "C9"], "home_id": ["H7", "H2", "H5"],
        "start": ["2020-01-01", "2024-01-01", "2025-01-01"], "end": ["2023-12-31", "", ""],
        "end_reason": ["unintended_move", "", ""], "ended_by": ["foster_home", "", ""]})).frame()
    proposals = pd.DataFrame({"child_id": ["C2", "C4", "C5"], "home_id": ["H9", "H1", None]})
    got = support_network.placements_of(children, periods=periods, proposals=proposals)
    assert got.values.tolist() == [["C1", "H2", "period"], ["C2", "H1", "current_home"],
                                   ["C3", "H2", "current_home"], ["C4", "H1", "proposed"],
                                   ["C9", "H5", "period"]]


def test_supervisors_stay_in_the_pool_and_cost_visits_there_and_back() -> None:
    children, homes = _world()
    net = _plan(children, homes)
    p = net.placements.set_index("child_id")
    # S9 (4602) is nearest H2 but of another pool; S1 takes C1 and C2 (8 visits), S2 takes C3
    assert p["supervisor_id"].to_dict() == {"C1": "S1", "C2": "S1", "C3": "S2"}
    km = 0.1 * 55  # H2 (5.3) -> S2 (5.4)
    assert p.at["C3", "supervisor_minutes"] == pytest.approx(km)
    assert p.at["C3", "supervisor_hours_year"] == pytest.approx(2 * 4 * km / 60)
    load = net.supervisors.set_index("supervisor_id")
    assert load.at["S1", "visits"] == 8 and load.at["S9", "children"] == 0


def test_a_full_supervisor_leaves_the_child_without_and_says_why() -> None:
    children, homes = _world()
    short = SUPERVISORS.assign(visits_per_year=[4, 4, 40])
    net = _plan(children, homes, supervisors=short)
    p = net.placements.set_index("child_id")
    assert p["supervisor_id"].isna().sum() == 1
    missing = p[p["supervisor_id"].isna()]
    assert missing["supervisor_reason"].iloc[0] == (
        "the supervisors of 4601 within reach have no free visits")
    plan = net.plan.set_index("home_id")
    home = missing["home_id"].iloc[0]
    assert not plan.at[home, "full_network"]
    assert "supervisor for 1 child" in plan.at[home, "missing"]


def test_relief_takes_kin_first_within_the_school_limit() -> None:
    children, homes = _world()
    net = _plan(children, homes)
    p = net.placements.set_index("child_id")
    # C3 needs 2 weekends: R2 is its kin (3.3 min from H2), R3 is nearer (0.55 min)
    assert p.at["C3", "relief_id"] == "R2" and bool(p.at["C3", "relief_kin"])
    assert p.at["C1", "relief_id"] == "R1"
    assert pd.isna(p.at["C2", "relief_id"])  # needs none
    far_school = children.copy()
    far_school.loc[far_school["child_id"] == "C1", "school_lon"] = 6.5  # 82 km from R1
    p2 = _plan(far_school, homes).placements.set_index("child_id")
    assert pd.isna(p2.at["C1", "relief_id"])
    assert p2.at["C1", "relief_reason"] == (
        "no relief home within 45 min of the home and the school")


def test_courses_from_unmet_needs_grouped_at_the_nearest_venue() -> None:
    children, homes = _world()
    net = _plan(children, homes)
    # C1 (trauma) in H1 without TBO-F or trygg-base: TBO-F; C3 (behaviour) in H2 with EFST: none
    assert net.courses[["home_id", "course", "venue_id"]].values.tolist() == [
        ["H1", "TBO-F", "V1"]]
    assert net.runs.values.tolist() == [["TBO-F@V1#1", "TBO-F", "V1", 1]]
    assert net.plan["full_network"].tolist() == [True, True]
    assert net.summary()["homes_full"] == 2


def test_resource_families_join_the_plan() -> None:
    children, homes = _world()
    families = pd.DataFrame({"resource_id": ["F1"], "lon": [5.0], "lat": [60.01],
                             "municipality": ["4601"], "max_homes": [1]})
    net = _plan(children, homes, families=families)
    plan = net.plan.set_index("home_id")
    assert plan.at["H1", "resource_id"] == "F1"
    assert pd.isna(plan.at["H2", "resource_id"]) and plan.at["H2", "missing"] == "resource family"
    assert set(net.links()["role"]) == {"supervisor", "relief", "course", "resource_family"}


def test_bad_support_tables_name_row_and_column() -> None:
    children, homes = _world()
    bad = SUPERVISORS.assign(municipality=["4601", "x", "4602"])
    with pytest.raises(InputError) as info:
        _plan(children, homes, supervisors=bad)
    assert any(p.column == "municipality" and p.row == 3 for p in info.value.problems)


def test_every_flag_says_why_and_what_removes_it() -> None:
    parent = pd.DataFrame({"child_id": ["C2"], "kind": ["parent"], "lon": [5.9],
                           "lat": [60.0], "max_minutes": [30]})
    children, homes, contacts = _world(  # type: ignore[misc]
        parent, last_visit=["2026-06-01", "2026-10-01", ""], max_school_minutes=[None, None, 3],
        school_lon=[5.0, None, 5.2])  # C3: 5.5 min from H2 to school, over its 3
    periods = tables.read("placement_periods", pd.DataFrame({
        "child_id": ["C3", "C3", "C7", "C3"], "home_id": ["H5", "H6", "H2", "H2"],
        "start": ["2019-01-01", "2021-01-01", "2023-01-01", "2024-01-01"],
        "end": ["2020-12-31", "2023-12-31", "2025-06-30", ""],
        "end_reason": ["planned_move", "unintended_move", "unintended_move", ""],
        "ended_by": ["kommune", "foster_home", "foster_home", ""]})).frame()
    short = SUPERVISORS.assign(visits_per_year=[8, 0, 40])  # C3 has no supervisor
    net = _plan(children, homes, supervisors=short)
    flags = risk.risk_flags(net, children, as_of=AS_OF, minutes=_minutes, contacts=contacts,
                            periods=periods, homes=homes)
    got = {(r.child_id, r.flag) for r in flags.itertuples()}
    assert got == {("C1", "visit_overdue"), ("C2", "long_parent_trip"),
                   ("C3", "no_supervisor"), ("C3", "long_school_trip"),
                   ("C3", "earlier_moves"), ("C3", "recent_breakdown")}
    f = flags.set_index(["child_id", "flag"])
    assert f.at[("C1", "visit_overdue"), "detail"] == (
        "last supervisor visit 153 days ago (at most 91 days between visits)")
    assert f.at[("C3", "earlier_moves"), "detail"] == "2 earlier moves"
    assert "familieråd" in f.at[("C3", "earlier_moves"), "remedy"]
    assert f.at[("C2", "long_parent_trip"), "detail"] == (
        "50 min to a parent, over the limit of 30 min")  # 0.9 deg lon = 49.5 km
    assert list(flags.columns) == list(risk.COLUMNS)  # reasons, never a score
    md = risk.risk_markdown(flags, as_of=AS_OF)
    assert "## Municipality 4601" in md and "3 placements flagged." in md
    assert "Remedy: book a supervisor visit." in md


def test_flags_in_nynorsk() -> None:
    from matcher import i18n

    children, homes = _world(last_visit=["2026-06-01", "", ""])
    with i18n.language("nn"):
        net = _plan(children, homes)
        flags = risk.risk_flags(net, children, as_of=AS_OF, homes=homes)
        md = risk.risk_markdown(flags, as_of=AS_OF)
    assert flags["remedy"].tolist() == ["avtal eit tilsynsbesøk"]
    assert "# Plasseringar å følgje opp" in md


def test_the_brief_shows_the_childs_support_network() -> None:
    result = tiny_run()
    inputs = result.inputs
    placed = support_network.placements_of(inputs.children, proposals=result.assignments)
    sup = SUPERVISORS.assign(lon=[10.75, 10.76, 10.7], lat=[59.95, 59.96, 59.9],
                             municipality="4601")
    rel = RELIEF.assign(lon=[10.75, 10.6, 10.6], lat=[59.95, 59.9, 59.9], kin_of="")
    children = inputs.children.assign(relief_weekends=[1, 1, 1])
    net = support_network.support_network(placed, inputs.homes, children, supervisors=sup,
                                          relief_homes=rel, venues=VENUES, minutes=_minutes)
    flags = risk.risk_flags(net, children, as_of=AS_OF)
    text = {b.child_id: b.markdown for b in briefs.build_briefs(result, support=net,
                                                                risk_flags=flags)}
    p = net.placements.set_index("child_id")
    placed_child = next(c for c in text if c in p.index)
    row = p.loc[placed_child]
    assert (f"Supervisor (tilsynsperson): {row['supervisor_id']}, 0 min from "
            f"{row['home_id']}; 4 visits a year.") in text[placed_child]
    assert "Relief care (avlastning): the engine holds no data" not in text[placed_child]
    assert "Relief home (besøkshjem):" in text[placed_child]


@pytest.fixture(scope="module")
def support_run(small_sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = small_sample.folder
    tmp = tmp_path_factory.mktemp("support")
    homes = pd.read_csv(folder / "homes.csv", dtype=str)
    children = pd.read_csv(folder / "children.csv", dtype=str)
    pd.DataFrame({"child_id": children["child_id"][:20],
                  "home_id": homes["home_id"][:20]}).to_csv(tmp / "proposals.csv", index=False)
    first, second = children["child_id"][0], children["child_id"][1]
    pd.DataFrame({  # first: two earlier moves, now in the 30th home; 2nd home broke down
        "child_id": [first, first, first, "X1"],
        "home_id": [homes["home_id"][40], homes["home_id"][41], homes["home_id"][29],
                    homes["home_id"][1]],
        "start": ["2019-01-01", "2021-01-01", "2024-01-01", "2023-01-01"],
        "end": ["2020-12-31", "2023-12-31", "", "2026-03-01"],
        "end_reason": ["planned_move", "unintended_move", "", "unintended_move"],
        "ended_by": ["kommune", "foster_home", "", "foster_home"]}).to_csv(
        tmp / "periods.csv", index=False)
    pd.DataFrame({"resource_id": ["F1", "F2"], "lon": homes["lon"][100:102],
                  "lat": homes["lat"][100:102],
                  "municipality": homes["municipality"][100:102]}).to_csv(
        tmp / "families.csv", index=False)
    (tmp / "ids.json").write_text(json.dumps({"first": first, "second": second,
                                              "now": homes["home_id"][29]}), encoding="utf-8")
    from matcher.cli import app

    out = tmp / "out"
    res = CliRunner().invoke(app, [
        "--json", "support", "--children", str(folder / "children.csv"),
        "--homes", str(folder / "homes.csv"), "--contacts", str(folder / "contacts.csv"),
        "--supervisors", str(folder / "supervisors.csv"),
        "--relief-homes", str(folder / "relief_homes.csv"),
        "--venues", str(folder / "venues.csv"), "--proposals", str(tmp / "proposals.csv"),
        "--periods", str(tmp / "periods.csv"), "--resource-families", str(tmp / "families.csv"),
        "--network", str(small_sample.net_dir), "--as-of", "2026-11-01", "--out", str(out)])
    assert res.exit_code == 0, res.output
    (tmp / "stdout.json").write_text(res.stdout.strip().splitlines()[-1], encoding="utf-8")
    return tmp


def test_cli_writes_the_plan_flags_and_map(support_run: Path) -> None:
    out = support_run / "out"
    for name in ("support_plan.csv", "support_placements.csv", "supervisor_load.csv",
                 "relief_load.csv", "courses.csv", "course_runs.csv", "risk_flags.csv",
                 "risk_flags.md", "support_map.html"):
        assert (out / name).is_file(), name
    plan = pd.read_csv(out / "support_plan.csv")
    placed = pd.read_csv(out / "support_placements.csv")
    assert len(placed) == 20 and plan["home_id"].is_unique
    assert set(plan["home_id"]) == set(placed["home_id"])
    summary = json.loads((support_run / "stdout.json").read_text(encoding="utf-8"))
    assert summary["command"] == "support" and summary["placements"] == 20
    assert summary["homes_full"] == int(plan["full_network"].sum())
    ids = json.loads((support_run / "ids.json").read_text(encoding="utf-8"))
    assert placed.set_index("child_id").at[ids["first"], "home_id"] == ids["now"]  # the period
    flags = pd.read_csv(out / "risk_flags.csv")
    got = set(zip(flags["child_id"], flags["flag"], strict=True))
    assert {(ids["first"], "earlier_moves"), (ids["second"], "recent_breakdown")} <= got
    assert (out / "resource_families.csv").is_file()
    fam = pd.read_csv(support_run / "families.csv", dtype=str)["municipality"].value_counts()
    homes_in = plan["municipality"].astype(str).str.zfill(4).value_counts()
    # a family takes at most 5 homes of its own municipality (cooperation)
    assert plan["resource_id"].notna().sum() == sum(min(n, 5 * fam.get(m, 0))
                                                    for m, n in homes_in.items())
    page = (out / "support_map.html").read_text(encoding="utf-8")
    assert not re.search(r"<(?:script|link|img)[^>]+(?:src|href)\s*=", page)  # offline
    assert '<html lang="en">' in page and '"target_id": "SYN-S' in page


def test_cli_refuses_a_bad_table(small_sample: Sample, tmp_path: Path) -> None:
    from matcher.cli import app

    folder = small_sample.folder
    bad = tmp_path / "venues.csv"
    bad.write_text("venue_id,lon,lat\nV1,5.0,60.0\n", encoding="utf-8")
    res = CliRunner().invoke(app, [
        "support", "--children", str(folder / "children.csv"),
        "--homes", str(folder / "homes.csv"), "--supervisors", str(folder / "supervisors.csv"),
        "--relief-homes", str(folder / "relief_homes.csv"), "--venues", str(bad),
        "--network", str(small_sample.net_dir), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "municipality" in res.output
    assert str(bad) in res.output.replace("\n", "")  # the problem names the file


def test_courses_when_every_child_has_exactly_one_need() -> None:
    """Tuples of one length must not turn into a 2-D array (a bug found in review)."""
    children, homes = _world(needs=["trauma", "attachment", "behaviour"])
    net = _plan(children, homes)
    # H1 (PRIDE): trauma -> TBO-F, attachment -> trygg-base; H2 has EFST for behaviour
    assert sorted(map(tuple, net.courses[["home_id", "course"]].values.tolist())) == [
        ("H1", "TBO-F"), ("H1", "trygg-base")]


def test_the_map_leaves_out_homes_of_protected_children() -> None:
    from matcher.report.supportmap import support_map_html

    children, homes = _world()
    net = _plan(children, homes)
    points = pd.concat([f[[k, "lon", "lat"]].rename(columns={k: "id"}) for f, k in (
        (SUPERVISORS, "supervisor_id"), (RELIEF, "relief_id"), (VENUES, "venue_id"))])
    shown = support_map_html(net.plan, net.links(), homes, points=points)
    hidden = support_map_html(net.plan, net.links(), homes, points=points, hidden={"H2"})
    assert '"home_id": "H2"' in shown and '"home_id": "H1"' in shown
    assert '"home_id": "H2"' not in hidden and '"home_id": "H1"' in hidden


def test_support_settings_load_from_toml(tmp_path: Path) -> None:
    from matcher import config

    good = tmp_path / "good.toml"
    good.write_text("[support]\nvisits_per_child = 6\nrelief_max_minutes = 30\n",
                    encoding="utf-8")
    s = config.load(good)
    assert s.support.visits_per_child == 6 and s.support.relief_max_minutes == 30
    bad = tmp_path / "bad.toml"
    bad.write_text("[support]\nvisits_per_child = 0\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        config.load(bad)
    assert "visits_per_child" in str(info.value) + " ".join(
        f"{p.column} {p.message}" for p in info.value.problems)
