"""Tests of matcher.waiting (statistics on waiting children) and `matcher waiting-stats`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from test_decisions import AS_OF, _inputs, _times
from typer.testing import CliRunner

from matcher import config, pipeline, waiting
from matcher.cli import app
from matcher.cli.continuity_cmds import STATS_MARKER
from matcher.io import stores

runner = CliRunner()


def _rows(n: int = 12) -> pd.DataFrame:
    """History rows: two municipalities (one with fewer than 5 children)."""
    return pd.DataFrame({
        "child_id": [f"C{i:02d}" for i in range(n)],
        "home_id": [None if i % 4 == 0 else "H1" for i in range(n)],
        "continuity": "", "reason": "", "days_waiting": np.arange(n, dtype=float) * 10,
        "municipality": ["0301" if i < n - 3 else "4601" for i in range(n)],
        "age_band": "6-12", "needs": ["TBO-F;teen" if i < 6 else "" for i in range(n)],
        "urgency": "planned", "sibling_group_size": 1,
        "binding": ["school" if i % 4 == 0 else "" for i in range(n)]})


def test_waiting_table_suppresses_small_cells() -> None:
    table = waiting.waiting_table(_rows()).set_index(["dimension", "value"])
    assert bool(table.at[("municipality", "4601"), "suppressed"])
    assert np.isnan(table.at[("municipality", "4601"), "median_days"])
    assert table.at[("municipality", "0301"), "children"] == 9
    assert table.at[("municipality", "0301"), "median_days"] == 40.0
    assert table.at[("all", "all"), "p90_days"] == np.percentile(np.arange(12) * 10.0, 90)
    # a child with two needs counts under each
    assert table.at[("need", "TBO-F"), "children"] == 6 and table.at[("need", "teen"),
                                                                      "children"] == 6
    binding = waiting.binding_counts(_rows())
    assert binding["suppressed"].all()  # 3 unmatched children < 5
    assert waiting.binding_counts(_rows(20)).iloc[0]["children"] == 5


def test_trend_and_markdown() -> None:
    rows = pd.concat([_rows().assign(run_id="r1", as_of="2026-11-01"),
                      _rows(3).assign(run_id="r2", as_of="2026-11-02")])
    trend = waiting.trend(rows)
    assert list(trend["run_id"]) == ["r1", "r2"] and np.isnan(trend.iloc[1]["children"])
    text = waiting.markdown(waiting.summary_block(_rows()), trend)
    assert "| municipality | Oslo | 9 |" in text  # named (0301), suppressed 4601 left out
    assert "4601" not in text and "Bergen" not in text
    assert "suppressed" in text


def test_run_has_history_summary_and_report_section(tmp_path: Path) -> None:
    result = pipeline.run(_inputs(), config.Settings(), times=_times(), as_of=AS_OF)
    assert result.history is not None
    assert list(result.history.columns) == list(waiting.HISTORY_COLUMNS)
    assert tuple(stores.HISTORY_COLUMNS)[1:] == waiting.HISTORY_COLUMNS
    assert result.summary.waiting.by == {}  # 3 children: every cell suppressed
    folder = result.write(tmp_path / "run", report=True)
    assert "## Children waiting for a foster home" in (folder / "report.md").read_text()
    assert (folder / "history.csv").is_file()


def test_cli_waiting_stats_from_run_folders(tmp_path: Path) -> None:
    folders = []
    for day in ("2026-11-01", "2026-11-08"):
        run = pipeline.run(_inputs(), config.Settings(), times=_times(),
                           as_of=pd.Timestamp(day).date())
        folders.append(run.write(tmp_path / day))
    out = tmp_path / "stats"
    args = ["--json", "waiting-stats", "--out", str(out)]
    for f in folders:
        args += ["--runs", str(f)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runs"] == 2
    assert {p.name for p in out.iterdir()} == {"waiting.csv", "binding.csv", "trend.csv",
                                               "waiting.md", "trend.png", STATS_MARKER}
    assert (out / "trend.png").read_bytes()[:4] == b"\x89PNG"
    assert runner.invoke(app, args).exit_code == 0  # its own earlier output may be replaced
    # a folder of other files is never replaced by the statistics
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = runner.invoke(app, [*args[:3], str(mine), *args[4:]])
    assert refused.exit_code == 2
    assert (mine / "notes.txt").read_text() == "keep me"
    assert {p.name for p in mine.iterdir()} == {"notes.txt"}
    # nor is a run folder, even one of the runs read
    refused = runner.invoke(app, [*args[:3], str(folders[0]), *args[4:]])
    assert refused.exit_code == 2 and (folders[0] / "assignments.csv").is_file()
    bad = runner.invoke(app, ["waiting-stats", "--out", str(out)])
    assert bad.exit_code == 2
