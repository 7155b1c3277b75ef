"""Stability statistics (issue 25): rates and Kaplan-Meier checked against hand computations."""

from __future__ import annotations

import datetime
import json
import math
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Sample
from typer.testing import CliRunner

from matcher import i18n, periods, stability
from matcher.cli import app

runner = CliRunner()
AS_OF = datetime.date(2025, 1, 1)


def _six() -> pd.DataFrame:
    """Six periods from 2024-01-01 (2024 is a leap year): followed 91, 182, 274, 366, 366
    and 366 days; unintended moves at 91, 274 and 366 days; a planned move at 182; two
    still open on 2025-01-01."""
    return pd.DataFrame({
        "child_id": [f"C{i}" for i in range(6)], "home_id": ["H1"] * 6,
        "start": ["2024-01-01"] * 6,
        "end": ["2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01", "", ""],
        "end_reason": ["unintended_move", "planned_move", "unintended_move", "unintended_move",
                       "", ""],
        "home_kind": ["general"] * 5 + ["kinship"], "age_at_start": [3, 4, 5, 7, 8, 14]})


def test_rate_and_survival_match_a_hand_computation() -> None:
    result = stability.stability(periods.validate(_six()), as_of=AS_OF)
    o = result.overall()
    # placement-years: (91 + 182 + 274 + 3 * 366) / 365.25 = 1645 / 365.25
    years = 1645 / 365.25
    assert o["placements"] == 6 and o["unintended_moves"] == 3
    assert o["placement_years"] == pytest.approx(years, abs=1e-3)
    assert o["rate_per_100_years"] == pytest.approx(300 / years)  # 66.61
    # exact Poisson 95 % limits for 3 events (Garwood tables): 0.6187 and 8.7673
    assert o["rate_low"] == pytest.approx(100 * 0.61867 / years, rel=1e-4)
    assert o["rate_high"] == pytest.approx(100 * 8.76727 / years, rel=1e-4)
    # Kaplan-Meier: 6 at risk at day 91, one event -> 5/6; censored at 182; 4 at risk at 274,
    # one event -> 5/6 * 3/4 = 0.625; 6 months = 182.6 days, 12 months = 365.25 days
    assert o["survival_6m"] == pytest.approx(5 / 6)
    assert o["survival_12m"] == pytest.approx(0.625)
    # 24 months lie beyond the longest period followed (366 days): no estimate
    assert math.isnan(o["survival_24m"])
    # the log(-log) Greenwood interval at day 91: V = (1/30) / ln(5/6)^2,
    # S ** exp(+-1.96 sqrt(V)) = 0.2731 and 0.9747
    v = (1 / 30) / math.log(5 / 6) ** 2
    z = 1.959964
    assert o["survival_6m_low"] == pytest.approx((5 / 6) ** math.exp(z * math.sqrt(v)), rel=1e-4)
    assert o["survival_6m_high"] == pytest.approx((5 / 6) ** math.exp(-z * math.sqrt(v)),
                                                  rel=1e-4)
    assert (result.periods, result.unintended_moves, result.open_periods) == (6, 3, 2)


def test_poisson_interval_without_events_starts_at_zero() -> None:
    rate, low, high = stability.poisson_interval(0, 10.0)
    assert (rate, low) == (0.0, 0.0)
    assert high == pytest.approx(100 * 3.68888 / 10, rel=1e-4)  # -ln(0.025) = 3.6889
    assert all(np.isnan(stability.poisson_interval(2, 0.0)))


def test_small_groups_are_suppressed_not_zero() -> None:
    result = stability.stability(periods.validate(_six()), as_of=AS_OF)
    t = result.table.set_index(["breakdown", "group"])
    kinship = t.loc[("home_kind", "kinship")]  # one placement
    assert bool(kinship["suppressed"])
    assert kinship.drop(["suppressed"]).isna().all()
    assert not bool(t.loc[("home_kind", "general"), "suppressed"])  # five
    assert int(t.loc[("home_kind", "general"), "placements"]) == 5
    assert {c.group for c in result.curves if c.breakdown == "home_kind"} == {"general"}
    text = stability.markdown(result)
    row = next(line for line in text.splitlines() if line.startswith("| kinship"))
    assert "suppressed" in row and " 0 " not in row


def test_open_periods_and_later_ends_are_censored_at_as_of() -> None:
    frame = pd.DataFrame({
        "child_id": ["A", "B", "C", "D", "E", "F"], "home_id": ["H"] * 6,
        "start": ["2024-01-01"] * 5 + ["2024-12-01"],
        # B broke down after the as-of day: on 2024-07-02 it was still standing
        "end": ["", "2024-12-31", "", "", "", ""],
        "end_reason": ["", "unintended_move", "", "", "", ""]})
    result = stability.stability(periods.validate(frame), as_of=datetime.date(2024, 7, 2))
    o = result.overall()
    assert result.left_out == 1  # F starts after the as-of day
    assert o["placements"] == 5 and o["unintended_moves"] == 0
    assert result.open_periods == 5
    assert o["placement_years"] == pytest.approx(5 * 183 / 365.25, abs=1e-3)
    assert o["survival_6m"] == pytest.approx(1.0) and math.isnan(o["survival_12m"])
    later = stability.stability(periods.validate(frame), as_of=datetime.date(2025, 1, 1))
    assert later.unintended_moves == 1 and later.periods == 6


def test_breakdowns_use_the_bands_of_the_match() -> None:
    frame = pd.DataFrame({
        "child_id": [f"C{i}" for i in range(5)], "home_id": ["H"] * 5,
        "start": ["2024-01-01"] * 5, "end": [""] * 5, "end_reason": [""] * 5,
        "municipality": ["4601"] * 5, "home_municipality": ["4601"] * 4 + ["4602"],
        "school_minutes": [14.9, 15, 30, 44.9, 45], "sibling_group_size": [1, 1, 2, 3, 1]})
    spells = stability._spells(periods.validate(frame), datetime.date(2024, 6, 1))
    assert list(spells["school_minutes"]) == ["<15", "15-30", "30-45", "30-45", ">45"]
    assert list(spells["own_municipality"]) == ["yes"] * 4 + ["no"]
    assert list(spells["siblings"]) == ["alone", "alone", "with_siblings", "with_siblings",
                                        "alone"]
    assert list(spells["age_band"]) == ["unknown"] * 5


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "periods.csv"
    _six().to_csv(path, index=False)
    return path


def test_cli_writes_table_text_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "stab"
    result = runner.invoke(app, ["--json", "stability", "--periods", str(_write(tmp_path)),
                                 "--out", str(out), "--as-of", "2025-01-01"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["periods"] == 6 and summary["unintended_moves"] == 3
    table = pd.read_csv(out / "stability.csv")
    assert tuple(table.columns) == stability.TABLE_COLUMNS
    assert table.iloc[0]["rate_per_100_years"] == pytest.approx(300 / (1645 / 365.25))
    names = {p.name for p in out.iterdir()}
    assert {"stability.csv", "stability.md"} <= names
    assert {f"stability_{b}.png" for b in stability.BREAKDOWNS} <= names
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        if p.suffix == ".png":
            assert p.read_bytes()[:4] == b"\x89PNG"
    # a rerun replaces the folder; a foreign folder is refused
    again = runner.invoke(app, ["-q", "stability", "--periods", str(_write(tmp_path)),
                                "--out", str(out), "--as-of", "2025-01-01"])
    assert again.exit_code == 0, again.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    refused = runner.invoke(app, ["stability", "--periods", str(_write(tmp_path)),
                                  "--out", str(foreign)])
    assert refused.exit_code == 2


@pytest.mark.parametrize(("language", "words"), [("nb", "Stabilitet"), ("nn", "Stabilitet")])
def test_text_is_norwegian(language: str, words: str) -> None:
    result = stability.stability(periods.validate(_six()), as_of=AS_OF)
    with i18n.language(language):
        text = stability.markdown(result)
    assert words in text and "Stability" not in text


def test_cli_refuses_bad_periods_with_exit_2(tmp_path: Path) -> None:
    frame = _six()
    frame.loc[0, "end_reason"] = ""
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["stability", "--periods", str(path), "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "bad.csv, row 2, column 'end_reason'" in result.output
    low = runner.invoke(app, ["stability", "--periods", str(_write(tmp_path)), "--out",
                              str(tmp_path / "o"), "--min-cell", "3"])
    assert low.exit_code == 2


def test_run_report_gains_a_stability_section(small_sample: Sample, tmp_path: Path) -> None:
    from matcher import pipeline
    from matcher.io import periods as io_periods

    run = pipeline.run(small_sample.inputs, small_sample.settings, net=small_sample.net,
                       as_of=small_sample.as_of)
    _text, table = io_periods.read_periods(small_sample.folder / "placement_periods.csv")
    run.write(tmp_path / "plain", report=True, settings=small_sample.settings)
    assert "Stability of placements" not in (tmp_path / "plain" / "report.md").read_text()
    run.write(tmp_path / "run", report=True, settings=small_sample.settings, periods=table)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "\n## Stability of placements\n" in report
    expected = stability.stability(table, as_of=small_sample.as_of)
    shown = pd.read_csv(tmp_path / "run" / "stability.csv")
    assert shown.iloc[0]["placements"] == expected.periods == len(table)
