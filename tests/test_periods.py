"""Placement periods (issue 25): checks across rows, opening, ending, current homes, CLI."""

from __future__ import annotations

import datetime
import json
import stat
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher import periods
from matcher.cli import app
from matcher.errors import InputError
from matcher.io import periods as io_periods

runner = CliRunner()


def _frame(**overrides: list[str]) -> pd.DataFrame:
    base = {"child_id": ["C1", "C1", "C2"], "home_id": ["H1", "H2", "H1"],
            "start": ["2024-01-01", "2024-06-01", "2024-02-01"],
            "end": ["2024-06-01", "", ""],
            "end_reason": ["unintended_move", "", ""], "ended_by": ["foster_home", "", ""]}
    base.update(overrides)
    return pd.DataFrame(base)


def test_a_valid_table_reads_typed() -> None:
    table = periods.validate(_frame())
    assert list(table["row"]) == [2, 3, 4]  # as a spreadsheet shows them
    assert table["end"].isna().tolist() == [False, True, True]
    assert (table["sibling_group_size"] == 1).all()  # the default
    assert len(periods.open_periods(table)) == 2


@pytest.mark.parametrize(("overrides", "row", "column", "words"), [
    ({"end": ["2023-12-01", "", ""]}, 2, "end", "before start"),
    ({"end_reason": ["", "", ""]}, 2, "end_reason", "end_reason is empty"),
    ({"end_reason": ["unintended_move", "planned_move", ""]}, 3, "end_reason",
     "end is empty"),
    ({"ended_by": ["foster_home", "", "child"]}, 4, "ended_by", "end is empty"),
    ({"end": ["", "", ""], "end_reason": ["", "", ""], "ended_by": ["", "", ""]}, 3, "end",
     "already has an open period (row 2)"),
    ({"start": ["2024-01-01", "2024-05-01", "2024-02-01"]}, 3, "start",
     "overlaps its period at row 2"),
    ({"end_reason": ["broke_down", "", ""]}, 2, "end_reason", "broke_down"),
])
def test_checks_name_row_column_and_fix(overrides: dict[str, list[str]], row: int,
                                        column: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        periods.validate(_frame(**overrides), label="periods.csv")
    found = [p for p in info.value.problems if p.row == row and p.column == column]
    assert found and words in found[0].message, info.value.problems
    assert info.value.exit_code == 2


def test_a_move_on_the_day_the_last_period_ends_is_no_overlap() -> None:
    periods.validate(_frame(start=["2024-01-01", "2024-06-01", "2024-02-01"]))


def test_start_opens_closes_the_old_home_and_is_idempotent() -> None:
    table = periods.validate(_frame())
    change = periods.start_period(table, child_id="C2", home_id="H3",
                                  start=datetime.date(2025, 1, 10), actor="A1",
                                  facts={"school_minutes": 12.5, "age_at_start": 9})
    assert change.closed.to_dict("records") == [
        {"child_id": "C2", "home_id": "H1", "start": "2024-02-01", "end": "2025-01-10",
         "end_reason": "planned_move", "ended_by": "kommune", "actor": "A1"}]
    after = periods.validate(change.apply(_frame()))
    assert len(after) == 4 and after.iloc[-1]["school_minutes"] == 12.5
    assert len(periods.open_periods(after)) == 2
    again = periods.start_period(after, child_id="C2", home_id="H3",
                                 start=datetime.date(2025, 1, 10))
    assert not again
    with pytest.raises(InputError, match="would overlap"):
        periods.start_period(table, child_id="C1", home_id="H9",
                             start=datetime.date(2024, 3, 1))


def test_end_closes_the_open_period_or_says_why_not() -> None:
    table = periods.validate(_frame())
    change = periods.end_period(table, child_id="C2", home_id="H1",
                                end=datetime.date(2025, 1, 1), reason="aged_out",
                                by="kommune", actor="A1")
    closed = periods.validate(change.apply(_frame())).iloc[2]
    assert closed["end_reason"] == "aged_out" and str(closed["end"].date()) == "2025-01-01"
    for kwargs, words in (
            ({"child_id": "C1", "home_id": "H1"}, "no open placement period"),
            ({"child_id": "C2", "home_id": "H1", "end": datetime.date(2023, 1, 1)},
             "before start"),
            ({"child_id": "C2", "home_id": "H1", "reason": "fled"}, "unknown end reason")):
        args = {"end": datetime.date(2025, 1, 1), "reason": "other", "by": "kommune",
                "actor": "A1", **kwargs}
        with pytest.raises(InputError) as info:
            periods.end_period(table, **args)  # type: ignore[arg-type]
        assert any(words in p.message for p in info.value.problems)


def test_open_periods_fill_current_homes_and_disagreement_is_a_problem() -> None:
    table = periods.validate(_frame())
    children = pd.DataFrame({"child_id": ["C1", "C2", "C3"],
                             "current_home_id": pd.Series([None, None, None], dtype="str"),
                             "placed_since": pd.to_datetime([None, None, None])})
    filled, problems = periods.current_homes(children, table, homes=["H1", "H2"])
    assert not problems
    assert filled["current_home_id"].tolist()[:2] == ["H2", "H1"]
    assert pd.isna(filled["current_home_id"].iloc[2])
    assert str(filled["placed_since"].iloc[0].date()) == "2024-06-01"
    # a locked pair, or a home gone from the homes table, fills nothing
    locked, _none = periods.current_homes(children, table, homes=["H1"], locked=[("C2", "H1")])
    assert locked["current_home_id"].isna().all()
    children.loc[0, "current_home_id"] = "H7"
    children.loc[1, "placed_since"] = pd.Timestamp("2024-03-01")
    _filled, problems = periods.current_homes(children, table, homes=["H1", "H2"])
    assert [(p.row, p.column) for p in problems] == [(2, "current_home_id"),
                                                     (3, "placed_since")]
    assert "row 3" in problems[0].message and "H7" in problems[0].message


def test_from_approvals_takes_the_facts_of_the_run() -> None:
    table = periods.validate(periods.empty())
    children = pd.DataFrame({"child_id": ["C1", "C2"], "municipality": ["4601", "4601"],
                             "age": [7, 9], "sibling_group": ["G1", "G1"]})
    homes = pd.DataFrame({"home_id": ["H1"], "municipality": ["4602"], "kind": ["general"]})
    assignments = pd.DataFrame({"child_id": ["C1"], "home_id": ["H1"], "school_minutes": [8.0],
                                "network_minutes": [float("inf")], "parent_minutes": [22.0]})
    approved = pd.DataFrame({"child_id": ["C1"], "home_id": ["H1"],
                             "decided_on": [datetime.date(2026, 10, 1)], "actor": ["P1"]})
    change = periods.from_approvals(approved, table, children=children, homes=homes,
                                    assignments=assignments)
    row = change.opened.iloc[0].to_dict()
    assert row["start"] == "2026-10-01" and row["actor"] == "P1"
    assert (row["municipality"], row["home_municipality"], row["home_kind"]) == \
        ("4601", "4602", "general")
    assert (row["age_at_start"], row["sibling_group_size"]) == (7, 2)
    assert (row["school_minutes"], row["network_minutes"]) == (8.0, None)
    after = periods.validate(change.apply(periods.empty()))
    assert not periods.from_approvals(approved, after, children=children, homes=homes)


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "periods.csv"
    _frame().to_csv(path, index=False)
    return path


def test_cli_placement_end_writes_atomically_and_refuses_with_exit_2(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    before = path.read_bytes()
    base = ["placement", "end", "--periods", str(path), "--child", "C2", "--home", "H1",
            "--by", "kommune", "--actor", "A1"]
    for extra, words in ((["--end", "2023-01-01", "--reason", "other"], "before start"),
                         (["--end", "2025-01-01", "--reason", "fled"], "unknown end reason"),
                         (["--end", "2025-01-01", "--reason", "other", "--home", "H2"],
                          "no open placement period")):
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 2 and words in result.output, result.output
        assert path.name in result.output  # the problems name the file
        assert path.read_bytes() == before
    result = runner.invoke(app, ["--json", *base, "--end", "2025-01-01", "--reason",
                                 "planned_return_home"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["end_reason"] == "planned_return_home"
    _text, table = io_periods.read_periods(path)
    assert table.iloc[2]["end_reason"] == "planned_return_home"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = runner.invoke(app, [*base, "--end", "2025-01-01", "--reason", "other"])
    assert again.exit_code == 2  # no open period any more


def test_cli_decide_approved_opens_a_period_in_the_file(tmp_path: Path) -> None:
    log = tmp_path / "decisions.csv"
    path = _csv(tmp_path)
    common = ["--file", str(log), "--child", "C2", "--home", "H5", "--actor", "P1",
              "--date", "2025-02-01"]
    assert runner.invoke(app, ["-q", "decide", *common, "--decision", "family_consented",
                               "--by", "bufetat"]).exit_code == 0
    result = runner.invoke(app, ["--json", "decide", *common, "--decision", "approved",
                                 "--by", "kommune", "--periods", str(path),
                                 "--start", "2025-02-03"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["periods_opened"] == 1
    _text, table = io_periods.read_periods(path)
    old, new = table.iloc[2], table.iloc[3]
    assert (old["end_reason"], str(old["end"].date())) == ("planned_move", "2025-02-03")
    assert (new["home_id"], str(new["start"].date()), new["actor"]) == \
        ("H5", "2025-02-03", "P1")


def test_an_ended_placement_is_not_opened_again_by_its_approval() -> None:
    """decide --start moved the start away from the approval day; after the period ended,
    the approval still in force must not open a second one."""
    frame = pd.DataFrame({"child_id": ["C1"], "home_id": ["H1"], "start": ["2025-03-05"],
                          "end": ["2025-09-01"], "end_reason": ["unintended_move"]})
    table = periods.validate(frame)
    for day in (datetime.date(2025, 3, 1), datetime.date(2025, 3, 5),
                datetime.date(2025, 3, 9)):
        assert not periods.start_period(table, child_id="C1", home_id="H1", start=day)
    # an earlier stay in the same home, ended before a new approval: a new period
    assert periods.start_period(table, child_id="C1", home_id="H1",
                                start=datetime.date(2026, 1, 1))
