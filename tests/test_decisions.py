"""Tests of matcher.decisions: the decisions table, its validation and its effect on a run."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher import config, decisions, pipeline, schema
from matcher.cli import app
from matcher.errors import InputError
from matcher.io import decision_log, stores
from matcher.timetable import TimeTable

AS_OF = datetime.date(2026, 11, 1)
runner = CliRunner()

# School minutes per child and home: every child has one clearly best home.
MINUTES = {"C1": {"H1": 5, "H2": 20, "H3": 30},
           "C2": {"H1": 30, "H2": 5, "H3": 20},
           "C3": {"H1": 30, "H2": 20, "H3": 5}}


def _inputs(*, h3_max_age: int = 17) -> schema.Inputs:
    children = pd.DataFrame({
        "child_id": ["C1", "C2", "C3"], "lon": [10.70, 10.71, 10.72],
        "lat": [59.90, 59.91, 59.92], "school_lon": [10.70, 10.71, 10.72],
        "school_lat": [59.90, 59.91, 59.92], "municipality": ["0301"] * 3,
        "age": [10, 10, 10], "urgency": ["planned"] * 3,
        "waiting_since": ["2026-06-01", "2026-07-01", "2026-08-01"]})
    homes = pd.DataFrame({
        "home_id": ["H1", "H2", "H3"], "lon": [10.70, 10.71, 10.72],
        "lat": [59.90, 59.91, 59.92], "municipality": ["0301"] * 3, "capacity": [1, 1, 1],
        "min_age": [0, 0, 0], "max_age": [17, 17, h3_max_age], "kind": ["general"] * 3})
    return schema.validate(children, homes, settings=config.ScoringSettings())


def _times() -> TimeTable:
    rows = [{"home_id": h, "anchor_id": f"{c}:school", "minutes": float(m)}
            for c, homes in MINUTES.items() for h, m in homes.items()]
    return TimeTable.from_long(pd.DataFrame(rows), origin_col="home_id",
                               destination_col="anchor_id")


def _decisions(*rows: tuple[str, ...]) -> decisions.Decisions:
    """A log; rows of six cells are an old log's (no ``actor`` column)."""
    frame = pd.DataFrame(list(rows), columns=list(decisions.COLUMNS)[:len(rows[0])])
    return decisions.validate(frame, as_of=AS_OF)


def _run(dec: decisions.Decisions | None = None, *, inputs: schema.Inputs | None = None,
         settings: config.Settings | None = None) -> pd.DataFrame:
    result = pipeline.run(inputs or _inputs(), settings or config.Settings(), times=_times(),
                          as_of=AS_OF, decisions=dec)
    return result.assignments.set_index("child_id")


def _homes(table: pd.DataFrame) -> dict[str, str | None]:
    return {c: (h if isinstance(h, str) else None) for c, h in table["home_id"].items()}


def test_blank_slate_has_empty_continuity_columns() -> None:
    table = _run()
    assert _homes(table) == {"C1": "H1", "C2": "H2", "C3": "H3"}
    assert (table["decision"] == "").all() and (table["change_reason"] == "").all()
    assert table["previous_home_id"].isna().all()


def test_accepted_becomes_locked() -> None:
    table = _run(_decisions(("C1", "H2", "considering", "2026-10-01", "bufetat", ""),
                            ("C1", "H2", "accepted", "2026-10-15", "kommune", "")))
    assert table.at["C1", "home_id"] == "H2"
    assert bool(table.at["C1", "locked"]) and table.at["C1", "decision"] == "approved"
    assert table.at["C2", "home_id"] != "H2"


def test_declined_pair_is_never_proposed_within_its_window() -> None:
    decline = ("C1", "H1", "declined", "2026-06-01", "kommune", "home_declined")
    table = _run(_decisions(decline))
    assert table.at["C1", "home_id"] != "H1"
    # 153 days old: out of force with decline_days = 100, in force with the default 365.
    short = config.Settings.model_validate({"continuity": {"decline_days": 100}})
    assert _run(_decisions(decline), settings=short).at["C1", "home_id"] == "H1"
    # The last decision per pair wins: a later 'considering' reopens the pair.
    table = _run(_decisions(decline, ("C1", "H1", "considering", "2026-10-01", "bufetat", "")))
    assert table.at["C1", "home_id"] == "H1" and table.at["C1", "decision"] == "considering"


def test_considering_holds_the_place_against_a_better_match() -> None:
    table = _run(_decisions(("C2", "H1", "considering", "2026-10-20", "bufetat", "")))
    assert table.at["C2", "home_id"] == "H1" and table.at["C2", "decision"] == "considering"
    assert not bool(table.at["C2", "locked"]) and table.at["C1", "home_id"] != "H1"
    assert table.at["C2", "change_reason"] == ""


def test_considering_broken_by_the_rules_says_why() -> None:
    table = _run(_decisions(("C1", "H3", "considering", "2026-10-20", "bufetat", "")),
                 inputs=_inputs(h3_max_age=9))
    assert table.at["C1", "home_id"] != "H3"
    assert table.at["C1", "change_reason"] == (
        "reservation for C1 broken: H3 no longer approved for age 10")


def test_two_reservations_for_one_place_keep_the_older() -> None:
    result = pipeline.run(_inputs(), config.Settings(), times=_times(), as_of=AS_OF,
                          decisions=_decisions(
                              ("C2", "H1", "considering", "2026-10-05", "bufetat", ""),
                              ("C3", "H1", "considering", "2026-10-01", "bufetat", "")))
    table = result.assignments.set_index("child_id")
    assert table.at["C3", "home_id"] == "H1" and table.at["C3", "decision"] == "considering"
    assert table.at["C2", "change_reason"] == (
        "reservation for C2 broken: H1 no longer has a free place")
    assert result.summary.decisions is not None
    assert result.summary.decisions.reservations_broken == 1
    assert result.summary.decisions.reservations_kept == 1


def test_reservation_counts_the_child_who_lives_in_the_home() -> None:
    inputs = _inputs()
    children = inputs.children.assign(current_home_id=pd.Series(["H1", None, None],
                                                                 dtype=object))
    inputs = dataclasses.replace(inputs, children=children)
    result = pipeline.run(inputs, config.Settings(), times=_times(), as_of=AS_OF,
                          decisions=_decisions(
                              ("C2", "H1", "considering", "2026-10-05", "bufetat", "")))
    table = result.assignments.set_index("child_id")
    # H1 has one place and C1 lives there: no place is left to hold for C2
    assert table.at["C2", "home_id"] != "H1"
    assert table.at["C2", "change_reason"] == (
        "reservation for C2 broken: H1 no longer has a free place")
    assert (table["home_id"] == "H1").sum() == 0


def test_validation_lists_every_problem_with_row_and_column() -> None:
    frame = pd.DataFrame([
        ("C1", "H1", "maybe", "2026-10-01", "bufetat", ""),
        ("C1", "H2", "declined", "2026-13-01", "kommune", ""),
        ("", "H2", "accepted", "2026-10-01", "fylke", "other"),
        ("C2", "H2", "declined", "2027-01-01", "kommune", "because"),
    ], columns=list(decisions.COLUMNS)[:6])
    with pytest.raises(InputError) as info:
        decisions.validate(frame, label="decisions.csv", as_of=AS_OF)
    where = {(p.row, p.column) for p in info.value.problems}
    # rows as a spreadsheet shows them: the header is row 1, the first decision row 2
    assert where == {(2, "decision"), (3, "decided_on"), (3, "reason"), (4, "child_id"),
                     (4, "by"), (4, "reason"), (5, "decided_on"), (5, "reason")}
    assert all(p.source == "decisions.csv" for p in info.value.problems)
    with pytest.raises(InputError, match="unknown column 'note'"):
        decisions.validate(frame.assign(note="x"))


def test_two_accepted_homes_or_accepted_and_vetoed_are_errors() -> None:
    with pytest.raises(InputError, match="2 approved homes"):
        _decisions(("C1", "H1", "accepted", "2026-10-01", "bufetat", ""),
                   ("C1", "H2", "accepted", "2026-10-02", "bufetat", ""))
    inputs = dataclasses.replace(_inputs(), vetoes=pd.DataFrame(
        {"child_id": ["C1"], "home_id": ["H1"]}, dtype="str"))
    frame = pd.DataFrame([("C1", "H1", "accepted", "2026-10-01", "bufetat", "")],
                         columns=list(decisions.COLUMNS)[:6])
    with pytest.raises(InputError, match="also vetoed"):
        decisions.validate(frame, inputs=inputs)


def test_rows_of_children_who_left_are_ignored() -> None:
    dec = _decisions(("C9", "H1", "considering", "2026-10-01", "bufetat", ""))
    plan = decisions.apply(dec, _inputs(), as_of=AS_OF, settings=config.Settings())
    assert plan.ignored == 1 and plan.considering.empty


def _append_many(log: Path, child: str, n: int) -> None:
    for i in range(n):
        decision_log.append_decision(log, {
            "child_id": child, "home_id": f"H{i}", "decision": "considering",
            "decided_on": "2026-10-01", "by": "bufetat", "reason": "", "actor": "B1"},
            today=AS_OF)


def test_concurrent_appends_keep_every_row(tmp_path: Path) -> None:
    import multiprocessing as mp

    log = tmp_path / "decisions.csv"
    ctx = mp.get_context("fork")
    workers = [ctx.Process(target=_append_many, args=(log, child, 25))
               for child in ("C1", "C2", "C3")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    table = decision_log.read_decisions(log).table
    assert sorted(zip(table["child_id"], table["home_id"], strict=True)) == sorted(
        (c, f"H{i}") for c in ("C1", "C2", "C3") for i in range(25))


def test_append_decision_validates_and_writes_atomically(tmp_path: Path) -> None:
    log = tmp_path / "decisions.csv"
    row = {"child_id": "C1", "home_id": "H1", "decision": "considering",
           "decided_on": "2026-10-01", "by": "bufetat", "reason": "", "actor": "B17"}
    decision_log.append_decision(log, row, inputs=_inputs(), today=AS_OF)
    decision_log.append_decision(log, {**row, "decision": "family_declined",
                                       "reason": "other", "decided_on": "2026-10-10"},
                                 today=AS_OF)
    before = log.read_bytes()
    assert before.count(b"\n") == 3
    with pytest.raises(InputError, match="unknown child_id 'C9'"):
        decision_log.append_decision(log, {**row, "child_id": "C9"}, inputs=_inputs(),
                                     today=AS_OF)
    with pytest.raises(InputError, match="needs a reason code"):
        decision_log.append_decision(log, {**row, "decision": "family_declined"}, today=AS_OF)
    assert log.read_bytes() == before
    read = decision_log.read_decisions(log, as_of=AS_OF)
    assert list(decisions.effective(read)["decision"]) == ["family_declined"]


def test_cli_decide_and_bad_decisions_exit_2(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    ok = runner.invoke(app, ["-q", "decide", "--file", str(log), "--child", "C1", "--home",
                             "H1", "--decision", "rejected", "--by", "kommune", "--reason",
                             "child_declined", "--date", "2026-10-01", "--actor", "K4"])
    assert ok.exit_code == 0, ok.output
    assert "C1,H1,rejected,2026-10-01,kommune,child_declined,K4" in log.read_text()
    bad = runner.invoke(app, ["decide", "--file", str(log), "--child", "C1", "--home", "H1",
                              "--decision", "rejected", "--by", "fylke", "--actor", "K4"])
    assert bad.exit_code == 2
    assert "'fylke' is not a valid by; use one of bufetat, kommune" in bad.output
    both = runner.invoke(app, ["decide", "--child", "C1", "--home", "H1", "--decision",
                               "approved", "--by", "kommune", "--actor", "K4"])
    assert both.exit_code == 2 and "exactly one of --store" in both.output


def test_cli_match_with_decisions(tmp_path: Path) -> None:
    inputs = _inputs()
    for name, frame in stores.export_inputs(inputs).items():
        if name in ("children", "homes"):
            frame.to_csv(tmp_path / f"{name}.csv", index=False)
    rows = [{"home_id": h, "anchor_id": f"{c}:school", "minutes": m}
            for c, homes in MINUTES.items() for h, m in homes.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "times.csv", index=False)
    good = tmp_path / "decisions.csv"
    good.write_text("child_id,home_id,decision,decided_on,by,reason\n"
                    "C2,H1,considering,2026-10-20,bufetat,\n")
    args = ["-q", "match", "--children", str(tmp_path / "children.csv"), "--homes",
            str(tmp_path / "homes.csv"), "--travel-times", str(tmp_path / "times.csv"),
            "--as-of", AS_OF.isoformat(), "--out", str(tmp_path / "run")]
    ok = runner.invoke(app, [*args, "--decisions", str(good)])
    assert ok.exit_code == 0, ok.output
    table = pd.read_csv(tmp_path / "run" / "assignments.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == list(pipeline.ASSIGNMENT_COLUMNS)
    assert table.set_index("child_id").at["C2", "decision"] == "considering"
    bad = tmp_path / "bad.csv"
    bad.write_text("child_id,home_id,decision,decided_on,by,reason\n"
                   "C2,H1,considering,2026-10-20,bufetat,\n"
                   "C1,H2,declined,2026-10-21,kommune,\n")
    result = runner.invoke(app, [*args, "--decisions", str(bad)])
    assert result.exit_code == 2
    assert "bad.csv, row 3, column 'reason'" in result.output  # the file's 3rd line


def test_audit_lists_decisions_since_the_previous_run(tmp_path: Path) -> None:
    dec = _decisions(("C1", "H2", "declined", "2026-09-01", "kommune", "not_suitable"),
                     ("C2", "H1", "considering", "2026-10-20", "bufetat", ""))
    first = pipeline.run(_inputs(), config.Settings(), times=_times(), as_of=AS_OF,
                         decisions=dec)
    assert first.summary.decisions is not None
    assert [r.child_id for r in first.summary.decisions.since_previous_run] == ["C1", "C2"]
    result = pipeline.run(_inputs(), config.Settings(), times=_times(), as_of=AS_OF,
                          decisions=dec, previous=first.assignments,
                          previous_as_of=datetime.date(2026, 10, 1))
    assert result.summary.decisions is not None
    since = result.summary.decisions.since_previous_run
    assert [r.model_dump() for r in since] == [
        {"child_id": "C2", "home_id": "H1", "decision": "considering",
         "decided_on": "2026-10-20", "by": "bufetat", "reason": "", "actor": ""}]
    assert result.summary.decisions.legacy_rows == 1  # the old 'declined' row
    text = (result.write(tmp_path / "run", report=True) / "report.md").read_text()
    assert "## Decisions taken into account" in text
    assert "| 2026-10-20 | Bufetat |  | C2 | H1 | being considered |" in text  # in words
    assert "1 row of an old decisions log was read as before" in text
    assert "## Changes since the previous run" in text
