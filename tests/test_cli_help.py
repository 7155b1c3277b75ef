"""The CLI as a caseworker meets it (issue 22, item 6).

Help texts render whole in nb, nn and en (no ``[...]`` eaten as Rich markup),
commands are grouped in panels, choice options show their values, ``--log``
keeps the lines for people in an owner-only file, progress bars know their
total, and the run folder is written with a progress line.
"""

from __future__ import annotations

import contextvars
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
import typer.main
from conftest import Sample
from rich.progress import Progress
from tiny_run import tiny_run
from typer import _click
from typer.testing import CliRunner

from matcher import i18n, network, traveltime
from matcher.cli import app
from matcher.cli import common as cli_common
from matcher.cli import help as cli_help

runner = CliRunner()
WIDE = 250  # columns: no help line is folded mid-word


@pytest.fixture
def typer_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give Typer's panel titles back after the test (localize sets them process-wide)."""
    import typer.rich_utils

    for name in cli_help._CONSTANTS:
        monkeypatch.setattr(typer.rich_utils, name, getattr(typer.rich_utils, name))


def _help(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lang: str,
          path: list[str]) -> str:
    """``matcher --lang LANG PATH... --help`` as the console script renders it."""
    monkeypatch.setenv("COLUMNS", str(WIDE))
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        contextvars.Context().run(cli_help.run, app, ["--lang", lang, *path, "--help"])
    assert stop.value.code in (0, None)
    return capsys.readouterr().out


def _commands() -> list[tuple[list[str], _click.Command]]:
    """Every command of the CLI (groups too) with its path after ``matcher``."""
    found = []
    for path, cmd, _ctx in cli_help._walk(typer.main.get_command(app), "matcher"):
        found.append((path.split()[1:], cmd))
    return found


def _texts(cmd: _click.Command) -> list[str]:
    """The English help texts shown on a command's own help page."""
    texts = [cmd.help or ""]
    texts += [getattr(p, "help", None) or "" for p in cmd.params
              if not getattr(p, "hidden", False)]
    return [t.partition("\f")[0] for t in texts if t]


@pytest.mark.usefixtures("typer_texts")
@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_every_help_page_shows_its_whole_translated_text(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lang: str) -> None:
    commands = _commands()
    assert len(commands) > 20
    bracketed = 0
    for path, cmd in commands:
        out = _help(monkeypatch, capsys, lang, path)
        flat = " ".join(out.replace("│", " ").split())  # a bracket may span a wrapped line
        with i18n.language(lang):
            wanted = [i18n.gettext(t) for t in _texts(cmd)] + [i18n.gettext(cli_help.EPILOG)]
        for text in wanted:
            missing = [word for word in text.split() if word not in out]
            assert not missing, f"matcher {' '.join(path)} --help ({lang}) lost {missing}"
            for square in re.findall(r"\[[^\]]*\]", text):
                bracketed += 1
                assert " ".join(square.split()) in flat, (path, lang, square)
    assert bracketed >= 5  # the texts the caseworker found eaten are among them


@pytest.mark.usefixtures("typer_texts")
@pytest.mark.parametrize(("lang", "areas", "limit"), [
    ("en", "(the [scoring.pools] cooperations;", "(default 90, or [travel].limit_minutes)"),
    ("nb", "[scoring.pools]", "[travel].limit_minutes)"),
    ("nn", "[scoring.pools]", "[travel].limit_minutes)"),
])
def test_the_texts_the_caseworker_found_eaten(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], lang: str,
                                              areas: str, limit: str) -> None:
    flat = " ".join(_help(monkeypatch, capsys, lang, ["gaps"]).split())
    assert areas in flat
    flat = " ".join(_help(monkeypatch, capsys, lang, ["traveltime"]).split())
    assert limit in flat
    flat = " ".join(_help(monkeypatch, capsys, lang, ["recruit"]).split())
    assert "[scoring.pools]" in flat


PANEL_TITLES = {
    "en": ["Proposals and decisions", "Planning", "Data and road network", "Nightly run"],
    "nb": ["Forslag og vedtak", "Planlegging", "Data og veinett", "Nattkjøring"],
    "nn": ["Forslag og vedtak", "Planlegging", "Data og vegnett", "Nattkøyring"],
}


@pytest.mark.usefixtures("typer_texts")
@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_commands_are_listed_in_panels_in_order(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                lang: str) -> None:
    out = _help(monkeypatch, capsys, lang, [])
    titles = [m.group(1).strip() for m in re.finditer(r"╭─ (.+?) ─+╮", out)]
    options = {"en": "Options", "nb": "Valg", "nn": "Val"}[lang]
    assert titles == [options, *PANEL_TITLES[lang]]  # no catch-all "Commands" panel
    listed = re.findall(r"^│ ([a-z][a-z-]+) ", out, flags=re.MULTILINE)
    expected = [name for _panel, names in cli_common.PANELS for name in names]
    assert listed == expected
    # each command sits in the box of its panel
    boxes = re.split(r"╭─ ", out)[2:]
    for (_panel, names), box in zip(cli_common.PANELS, boxes, strict=True):
        assert re.findall(r"^│ ([a-z][a-z-]+) ", box, flags=re.MULTILINE) == list(names)


def test_every_command_has_a_panel() -> None:
    registered = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    placed = [name for _panel, names in cli_common.PANELS for name in names]
    assert len(placed) == len(set(placed))
    assert set(placed) == registered


@pytest.mark.usefixtures("typer_texts")
def test_choices_show_their_values(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    shown = {
        ("match",): ("--privacy", "<coarse|exact>"),
        ("gaps",): ("--areas", "<municipality|pool|hex|square>"),
        ("recruit",): ("--anchor", "<school|home>"),
        ("coverage",): ("--anchor", "<school|home>"),
        ("sample",): ("--size", "<small|region|national>"),
        ("demo",): ("--region", "<oslo|fjord>"),
        ("decide",): ("--by", "<bufetat|kommune>"),
        (): ("--lang", "<nb|nn|en>"),
    }
    for path, (option, metavar) in shown.items():
        out = _help(monkeypatch, capsys, "nb", list(path))
        line = next(x for x in out.splitlines() if re.match(rf"│\s+(\*\s+)?{option}\s", x))
        assert metavar in line, line
        assert "<str>" not in line


def test_choice_values_are_the_domain_values() -> None:
    """The CLI spells the values out (no heavy import at start-up); they must stay the same."""
    from matcher import planning
    from matcher.cli import match_cmds, planning_cmds
    from matcher.report.common import PRIVACY_MODES
    from matcher.scenarios.tables import SIZES

    assert set(planning_cmds.ANCHORS) == set(planning.ANCHORS)
    assert set(planning_cmds.AREA_KINDS) == set(planning.AREA_KINDS)
    assert set(match_cmds.PRIVACY_MODES) == set(PRIVACY_MODES)
    assert match_cmds.SAMPLE_SIZES == SIZES


def test_a_value_outside_the_choices_is_refused_in_the_language(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--lang", "nn", "sample", "--out", str(tmp_path / "s"),
                                 "--size", "huge"])
    assert result.exit_code == 2
    assert "--size «huge»" in result.output
    assert not (tmp_path / "s").exists()


# --- --log FILE -----------------------------------------------------------------------------


def _tables(sample: Sample) -> list[str]:
    folder = sample.folder
    return ["--children", str(folder / "children.csv"), "--homes", str(folder / "homes.csv")]


STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def test_log_file_holds_the_lines_for_people(small_sample: Sample, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "matcher.log"
    log.parent.mkdir()
    result = runner.invoke(app, ["--lang", "en", "--log", str(log), "validate",
                                 *_tables(small_sample)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert re.fullmatch(STAMP + r" matcher validate: inputs are valid: 60 children, 150 homes, "
                        r"0 contacts, 0 locked placements, 0 vetoes", lines[0]), lines
    assert "inputs are valid: 60 children, 150 homes" in result.output  # stderr as before

    # appended, with --quiet too (the terminal stays quiet), and the error of a failed run
    quiet = runner.invoke(app, ["-q", "--lang", "nb", "--log", str(log), "validate",
                                *_tables(small_sample)])
    assert quiet.exit_code == 0 and quiet.output == ""
    bad = runner.invoke(app, ["--lang", "en", "--log", str(log), "sample", "--out",
                              str(tmp_path / "s"), "--size", "huge"])
    assert bad.exit_code == 2
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert " matcher validate: tabellene er gyldige: 60 barn, 150 hjem" in lines[1]
    assert re.fullmatch(STAMP + r" matcher sample: error: --size 'huge': use small, region or "
                        r"national", lines[2]), lines[2]


def test_log_file_is_made_owner_only(small_sample: Sample, tmp_path: Path) -> None:
    log = tmp_path / "shared.log"
    log.write_text("", encoding="utf-8")
    os.chmod(log, 0o644)
    result = runner.invoke(app, ["--log", str(log), "validate", *_tables(small_sample)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_log_of_a_match_holds_the_summary_table_but_no_coordinates(small_sample: Sample,
                                                                   tmp_path: Path) -> None:
    log = tmp_path / "match.log"
    args = ["--lang", "en", "--json", "--log", str(log), "match", *_tables(small_sample),
            "--contacts", str(small_sample.folder / "contacts.csv"), "--network",
            str(small_sample.net_dir), "--out", str(tmp_path / "run"), "--as-of", "2026-11-01"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = log.read_text(encoding="utf-8")
    assert all(" matcher match: " in line for line in text.splitlines())
    assert "fostermatch run ->" in text
    assert "status / solver" in text and "optimal / highs" in text
    import pandas as pd

    children = pd.read_csv(small_sample.folder / "children.csv", dtype=str)
    for value in [*children["lon"].head(5), *children["lat"].head(5)]:
        assert value not in text


# --- progress ----------------------------------------------------------------------------------


def test_progress_counts_column_is_blank_until_the_total_is_known() -> None:
    bar = Progress()
    unknown = bar.add_task("x", total=None)
    known = bar.add_task("y", total=12)
    bar.update(known, completed=5)
    column = cli_common.progress_columns()[2]
    assert column.render(bar.tasks[unknown]).plain == ""  # never "0/None"
    assert column.render(bar.tasks[known]).plain == "5/12"


@pytest.mark.parametrize("backwards", [False, True])
def test_traveltime_reports_its_total_before_the_first_search(small_sample: Sample,
                                                              backwards: bool) -> None:
    net = network.load(small_sample.net_dir)
    homes = small_sample.inputs.homes.head(40)
    kids = small_sample.inputs.children.head(5)
    many = traveltime.snap(net, homes["home_id"], homes["lon"], homes["lat"])
    few = traveltime.snap(net, kids["child_id"], kids["lon"], kids["lat"])
    origins, destinations = (many, few) if backwards else (few, many)
    calls: list[tuple[int, int]] = []
    traveltime.matrix(net, origins, destinations, progress=lambda d, t: calls.append((d, t)))
    searches = len(np.unique(few.node))  # the smaller side is searched from
    assert calls[0] == (0, searches)
    assert {t for _d, t in calls} == {searches}
    assert calls[-1] == (searches, searches)


def test_writing_a_run_folder_names_each_part(tmp_path: Path) -> None:
    seen: list[str] = []
    tiny_run().write(tmp_path / "run", report=True, step=seen.append)
    assert seen == ["tables", "maps, report, briefs and workbook"]
    assert (tmp_path / "run" / "assignments.csv").is_file()
