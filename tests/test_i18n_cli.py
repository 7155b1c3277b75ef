"""The CLI speaks the chosen language (issue 14): ``--lang``, ``[report] language``, nb default.

Human-readable lines, tables and error messages follow the language; the
``--json`` summary, option names and exit codes do not.
"""

from __future__ import annotations

import contextvars
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest
import typer
import typer.main
from conftest import Sample
from typer.testing import CliRunner

from matcher import i18n
from matcher.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}  # rich tables on one line per row
AS_OF = "2026-11-01"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _tables(sample: Sample) -> list[str]:
    folder = sample.folder
    return ["--children", str(folder / "children.csv"), "--homes", str(folder / "homes.csv"),
            "--contacts", str(folder / "contacts.csv"), "--placements",
            str(folder / "placements.csv"), "--vetoes", str(folder / "vetoes.csv")]


def _settings(tmp_path: Path, lang: str) -> Path:
    path = tmp_path / f"settings-{lang}.toml"
    path.write_text(f'[report]\nlanguage = "{lang}"\n')
    return path


# hand-written: the counts of the small sample (seed 1) as each language writes them
VALID = {
    "nb": "tabellene er gyldige: 60 barn, 150 hjem, 192 kontakter, 2 låste plasseringer, "
          "4 vetoer",
    "nn": "tabellane er gyldige: 60 barn, 150 heimar, 192 kontaktar, 2 låste "
          "plasseringar, 4 veto",
    "en": "inputs are valid: 60 children, 150 homes, 192 contacts, 2 locked placements, "
          "4 vetoes",
}


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_validate_speaks_the_chosen_language(small_sample: Sample, lang: str) -> None:
    result = runner.invoke(app, ["--lang", lang, "validate", *_tables(small_sample)])
    assert result.exit_code == 0, result.output
    assert VALID[lang] in _flat(result.output)
    for other in {"nb", "nn", "en"} - {lang}:
        assert VALID[other] not in _flat(result.output)
    assert i18n.current() == "en"  # the command's language ends with the command


def test_sample_speaks_the_chosen_language(tmp_path: Path) -> None:
    lines = {}
    for lang in ("nb", "nn", "en"):
        result = runner.invoke(app, ["--lang", lang, "sample", "--out", str(tmp_path / lang)])
        assert result.exit_code == 0, result.output
        lines[lang] = _flat(result.output)
    assert f"syntetiske eksempeldata (small, seed 1) -> {tmp_path / 'nb'}" in lines["nb"]
    assert f"syntetiske eksempeldata (small, seed 1) -> {tmp_path / 'nn'}" in lines["nn"]
    assert f"synthetic small sample (seed 1) -> {tmp_path / 'en'}" in lines["en"]


def test_default_language_is_bokmal(tmp_path: Path) -> None:
    """Without --lang or settings the CLI speaks bokmål (a fresh context: no test language)."""
    result = contextvars.Context().run(
        runner.invoke, app, ["sample", "--out", str(tmp_path / "s"), "--size", "huge"])
    assert result.exit_code == 2
    assert "feil: --size «huge»: bruk small, region eller national" in _flat(result.output)
    result = contextvars.Context().run(runner.invoke, app, [
        "match", "--children", "c.csv", "--homes", "h.csv", "--travel-times", "t.csv", "--out",
        str(tmp_path / "run"), "--as-of", "27.11.2026"])
    assert result.exit_code == 2
    assert "feil: --as-of «27.11.2026»: bruk en dato som 2026-11-23" in _flat(result.output)


def test_bad_input_error_in_nynorsk(small_sample: Sample, tmp_path: Path) -> None:
    args = ["whatif", *_tables(small_sample), "--network", str(small_sample.net_dir),
            "--municipalities", str(small_sample.manifest.municipalities), "--out",
            str(tmp_path / "w")]
    result = runner.invoke(app, ["--lang", "nn", *args, "--add", "4692-TBO-F-2"])
    assert result.exit_code == 2
    assert ("feil: --add «4692-TBO-F-2»: bruk OMRÅDE:KOMPETANSAR:TAL[:KAPASITET], til dømes "
            "4631:TBO-F:3") in _flat(result.output)
    result = runner.invoke(app, ["--lang", "nn", *args, "--add", "4692:TBO-F:0"])
    assert result.exit_code == 2
    assert "«4692:TBO-F:0»: talet «0» må vere eit heiltal >= 1" in _flat(result.output)
    result = runner.invoke(app, ["--lang", "nn", "coverage", *args[1:-2], "--bands", "30,x",
                                 "--out", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "feil: --bands «30,x»: oppgje tal i minutt, til dømes 30,45" in _flat(result.output)
    assert not (tmp_path / "w").exists() and not (tmp_path / "c").exists()


def test_settings_language_is_honoured_and_lang_wins(small_sample: Sample, tmp_path: Path) -> None:
    nn = _settings(tmp_path, "nn")
    by_setting = runner.invoke(app, ["validate", *_tables(small_sample), "--config", str(nn)])
    assert by_setting.exit_code == 0, by_setting.output
    assert VALID["nn"] in _flat(by_setting.output)
    for lang in ("nb", "en"):
        overridden = runner.invoke(app, ["--lang", lang, "validate", *_tables(small_sample),
                                         "--config", str(nn)])
        assert overridden.exit_code == 0, overridden.output
        assert VALID[lang] in _flat(overridden.output)
    # an error found after the settings are read is in their language too
    bad = runner.invoke(app, ["match", *_tables(small_sample), "--network",
                              str(small_sample.net_dir), "--out", str(tmp_path / "run"),
                              "--config", str(nn), "--privacy", "blurred"])
    assert bad.exit_code == 2
    assert "feil: --privacy «blurred»: bruk «exact» eller «coarse»" in _flat(bad.output)
    assert i18n.current() == "en"


@pytest.fixture(scope="module")
def json_runs(small_sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """``match --json`` on the small sample in each language (one run folder, replaced)."""
    out = tmp_path_factory.mktemp("i18n-json") / "run"
    summaries = {}
    for lang in ("nb", "nn", "en"):
        result = runner.invoke(app, ["--lang", lang, "--json", "match", *_tables(small_sample),
                                     "--network", str(small_sample.net_dir), "--out", str(out),
                                     "--as-of", AS_OF])
        assert result.exit_code == 0, result.output
        summaries[lang] = json.loads(result.stdout.strip().splitlines()[-1])
    return summaries


def test_json_output_is_the_same_in_every_language(json_runs: dict[str, dict],
                                                   small_sample: Sample) -> None:
    def stable(summary: dict) -> dict:
        # the timings vary; "language" names the language of the texts, a code by design
        return {k: v for k, v in summary.items() if k not in ("timings_seconds", "language")}

    assert stable(json_runs["nb"]) == stable(json_runs["nn"]) == stable(json_runs["en"])
    assert [json_runs[lang].get("language") for lang in ("nb", "nn", "en")] == ["nb", "nn", "en"]
    assert json_runs["nb"]["command"] == "match" and json_runs["nb"]["status"] == "optimal"
    validated = {}
    for lang in ("nb", "nn", "en"):
        result = runner.invoke(app, ["--lang", lang, "--json", "validate",
                                     *_tables(small_sample)])
        assert result.exit_code == 0, result.output
        validated[lang] = result.stdout
    assert validated["nb"] == validated["nn"] == validated["en"]
    assert json.loads(validated["nb"]) == {"command": "validate", "valid": True, "children": 60,
                                           "homes": 150, "contacts": 192, "placements": 2,
                                           "vetoes": 4}


def test_match_table_and_shortlist_in_nynorsk(small_sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["--lang", "nn", "match", *_tables(small_sample), "--network",
                                 str(small_sample.net_dir), "--out", str(out), "--as-of",
                                 AS_OF], env=WIDE)
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    for words in (f"fostermatch-køyring -> {out}", "nøkkeltal", "verdi", "status / løysar",
                  "optimal / highs", "fosterheimar", "forslag i heimkommunen",
                  "utan forslag (sjå reason i assignments.csv)", "median reisetid til skulen",
                  "forslag i familie og nettverk", "forslag der heimen treng kurs"):
        assert words in text, words
    for english in ("measure", "kept in home municipality", "median school travel"):
        assert english not in text
    child = "C0001"
    listed = runner.invoke(app, ["--lang", "nn", "shortlist", "--run", str(out), "--child",
                                 child], env=WIDE)
    assert listed.exit_code == 0, listed.output
    text = _flat(listed.output)
    assert f"kortliste for {child}" in text
    assert all(word in text for word in ("rang", "heim", "poeng", "forklaring"))
    unknown = runner.invoke(app, ["--lang", "nb", "shortlist", "--run", str(out), "--child",
                                  "NOPE"])
    assert unknown.exit_code == 2
    assert f"feil: ukjent child_id «NOPE» i {out}/assignments.csv" in _flat(unknown.output)


def test_numbers_in_lines_follow_the_language(small_sample: Sample, tmp_path: Path) -> None:
    points = tmp_path / "points.csv"
    homes = pd.read_csv(small_sample.folder / "homes.csv", dtype=str).head(3)
    homes[["home_id", "lon", "lat"]].rename(columns={"home_id": "id"}).to_csv(points, index=False)
    lines = {}
    for lang in ("nb", "en"):
        result = runner.invoke(app, ["--lang", lang, "traveltime", "--network",
                                     str(small_sample.net_dir), "--origins", str(points),
                                     "--destinations", str(points), "--limit", "12.5",
                                     "--out", str(tmp_path / f"{lang}.csv")], env=WIDE)
        assert result.exit_code == 0, result.output
        lines[lang] = _flat(result.output)
    assert "3 x 3 par på" in lines["nb"] and "innen 12,5 min" in lines["nb"]
    assert "3 x 3 pairs in" in lines["en"] and "within 12.5 min" in lines["en"]


# --- --help in the chosen language (matcher.cli.help) --------------------------------------------


@pytest.fixture
def typer_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give Typer's panel titles back after the test (localize sets them process-wide)."""
    import typer.rich_utils

    from matcher.cli import help as cli_help

    for name in cli_help._CONSTANTS:
        monkeypatch.setattr(typer.rich_utils, name, getattr(typer.rich_utils, name))


def _main_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                 args: list[str]) -> tuple[int, str]:
    """Run the console script ``matcher ARGS`` in a fresh context: (exit code, stdout)."""
    from matcher.cli import main

    monkeypatch.setattr("sys.argv", ["matcher", *args])
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        contextvars.Context().run(main)
    return int(stop.value.code or 0), capsys.readouterr().out


@pytest.mark.usefixtures("typer_texts")
def test_help_is_bokmal_by_default(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _main_output(monkeypatch, capsys, ["--help"])
    assert code == 0
    text = _flat(out)
    for words in ("fostermatch: geografisk matching av fosterhjem. Motoren foreslår; mennesker "
                  "bestemmer.", "Match alle ventende barn med fosterhjem og skriv en "
                  "kjøringsmappe.", "Bygg og undersøk veinett.", "Skriv bare ut feil.",
                  "Vis denne hjelpen og avslutt.", "─ Valg ─", "─ Forslag og vedtak ─"):
        assert words in text, words
    for english in ("Match all waiting children", "Print nothing but errors", "─ Options ─",
                    "─ Commands ─", "Show this message"):
        assert english not in text, english


@pytest.mark.usefixtures("typer_texts")
def test_command_help_in_nynorsk(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _main_output(monkeypatch, capsys, ["--lang", "nn", "match", "--help"])
    assert code == 0
    text = _flat(out)
    for words in ("Match alle barn som ventar med fosterheimar og skriv ei køyringsmappe.",
                  "Exit-kode 3 dersom modellen ikkje kan løysast.",
                  "Sakshandsamar sitt veto (child_id, home_id): par som aldri skal matchast.",
                  "Låste plasseringar (child_id, home_id): dei blir ståande og brukar ledig "
                  "plass.", "─ Val ─", "[påkravd]", "Posisjonane til barna i matches.gpkg",
                  "--vetoes",
                  "--travel-times"):
        assert words in text, words
    for other in ("Match all waiting", "Caseworker vetoes", "─ Options ─", "[required]",
                  "Saksbehandlers veto", "[påkrevd]"):
        assert other not in text, other
    code, out = _main_output(monkeypatch, capsys, ["--lang=nn", "network", "build", "--help"])
    assert code == 0
    assert "Bygg eit rutbart vegnett for bil" in _flat(out)


@pytest.mark.usefixtures("typer_texts")
@pytest.mark.parametrize("args", [["--help"], ["match", "--help"], ["network", "build", "--help"]])
def test_english_help_comes_back_after_another_language(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str]) -> None:
    # (Typer's own rendering is no longer the reference: it ate "[report]" as Rich markup;
    # tests/test_cli_help.py checks every text against the catalogs.)
    code, english = _main_output(monkeypatch, capsys, ["--lang", "en", *args])
    assert code == 0
    _main_output(monkeypatch, capsys, ["--lang", "nb", *args])  # then English must come back
    code, out = _main_output(monkeypatch, capsys, ["--lang", "en", *args])
    assert code == 0
    assert out == english
    assert "Options" in out and "Show this message and exit." in out
    assert "Valg" not in out and "Vis denne hjelpen" not in out


def test_help_language_comes_from_lang_before_the_command() -> None:
    from matcher.cli.help import language_from_argv

    assert language_from_argv([]) == "nb"
    assert language_from_argv(["match", "--help"]) == "nb"
    assert language_from_argv(["--lang", "nn", "match", "--help"]) == "nn"
    assert language_from_argv(["-q", "--lang=en", "--help"]) == "en"
    assert language_from_argv(["report", "--lang", "en", "--help"]) == "nb"  # the command's own
    assert language_from_argv(["--lang", "xx", "match"]) == "nb"  # Click rejects it later


@pytest.mark.usefixtures("typer_texts")
def test_bad_lang_still_exits_2(monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _out = _main_output(monkeypatch, capsys, ["--lang", "xx", "match"])
    assert code == 2
    code, out = _main_output(monkeypatch, capsys, ["--version"])
    assert code == 0 and out.startswith("fostermatch ")


@pytest.mark.usefixtures("typer_texts")
def test_every_help_text_is_looked_up_as_extracted() -> None:
    """Each text help_texts lists is the key localize finds: none stays English in nb or nn."""
    from matcher.cli.help import help_texts, localize

    english = help_texts()
    assert len(english) > 150 and len({text for text, _where in english}) > 100
    for lang in ("nb", "nn"):
        localized = help_texts(localize(typer.main.get_command(app), lang))
        assert [where for _text, where in localized] == [where for _text, where in english]
        same = [where for (a, where), (b, _w) in zip(english, localized, strict=True) if a == b]
        assert not same, f"{lang}: still English: {same}"


def test_completeness_check_sees_an_untranslated_help_text() -> None:
    from matcher import _catalogs
    from matcher.cli.help import help_texts

    crafted = typer.Typer()

    @crafted.command()
    def first(
        size: Annotated[int, typer.Option(help="A size nobody translated.")] = 1,
        out: Annotated[str, typer.Option(help="Print nothing but errors.")] = "x",
    ) -> None:
        """A command nobody translated.

        Its second paragraph, indented
        in the source.
        """

    @crafted.command()
    def second() -> None:
        """Build and inspect road networks."""

    texts = help_texts(typer.main.get_command(crafted))
    assert ("A command nobody translated.\n\nIts second paragraph, indented\nin the source.",
            "matcher first") in texts
    found = _catalogs.problems(_catalogs.extract(extra=texts))
    missing = sorted(p for p in found if "nobody translated" in p or "second paragraph" in p)
    assert len(missing) == 4, found  # the docstring and the option help, in nb and in nn
    assert sum("no translation for 'A size nobody translated.' (matcher first --size" in p
               for p in missing) == 2
    assert not [p for p in found if "Print nothing" in p or "road networks" in p]
