"""Tests of matcher.config: one settings tree, one TOML loader, the nightly extension."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from matcher import config
from matcher.errors import InputError


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_one_working_crs() -> None:
    settings = config.load(None)
    assert settings == config.Settings()
    assert settings.crs == config.DEFAULT_CRS == "EPSG:25833"
    assert settings.scoring.bands_minutes == config.DEFAULT_BANDS_MINUTES == (15, 30, 45, 60)
    assert settings.planning.catchment_minutes == 30.0
    assert settings.report.privacy == "coarse"  # private by default (issue 21)


def test_every_section_loads_and_fingerprint_ignores_reports(tmp_path: Path) -> None:
    path = write(tmp_path, '[network]\ncrs = "EPSG:25832"\n[travel]\nworkers = 1\n'
                           '[planning]\ncatchment_minutes = 45\n[report]\nprivacy = "coarse"\n')
    settings = config.load(path)
    assert settings.crs == "EPSG:25832" and settings.travel.workers == 1
    assert settings.planning.catchment_minutes == 45 and settings.report.privacy == "coarse"
    only_report = config.settings_from_dict({"report": {"privacy": "coarse"}})
    assert only_report.fingerprint() == config.Settings().fingerprint()
    assert settings.fingerprint() != config.Settings().fingerprint()


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, '[travel]\nworkers = 0\nspeed = 3\n[report]\nprivacy = "fuzzy"\n'
                           '[nonsense]\nx = 1\n')
    with pytest.raises(InputError) as info:
        config.load(path)
    columns = {p.column for p in info.value.problems}
    assert {"travel.workers", "travel.speed", "report.privacy", "nonsense"} <= columns
    assert all("fix or remove this key" in p.message for p in info.value.problems)


@pytest.mark.parametrize(("text", "match"), [
    ("[travel\n", "not valid TOML"),
    (None, "configuration file not found"),
])
def test_unreadable_files(tmp_path: Path, text: str | None, match: str) -> None:
    path = write(tmp_path, text) if text is not None else tmp_path / "missing.toml"
    with pytest.raises(InputError, match=match):
        config.load(path)


def test_nightly_extends_the_tree_and_resolves_paths(tmp_path: Path) -> None:
    path = write(tmp_path, '[store]\nurl = "store.gpkg"\n[network]\nosm = "roads.osm"\n'
                           'ferry_kmh = 20\n[job]\nretention_runs = 3\n[travel]\nworkers = 1\n')
    cfg = config.load_nightly(path)
    assert isinstance(cfg, config.Settings)  # the nightly configuration IS a Settings tree
    assert cfg.store.url == str(tmp_path / "store.gpkg")
    assert cfg.source.osm == tmp_path / "roads.osm"
    assert cfg.source.cache == tmp_path / "network-cache"
    assert cfg.network.ferry_kmh == 20 and cfg.travel.workers == 1
    assert cfg.job.retention_runs == 3
    plain = config.settings_from_dict({"network": {"ferry_kmh": 20}, "travel": {"workers": 1}})
    assert cfg.settings == plain and cfg.config_hash() == plain.fingerprint()


def test_nightly_problems_use_toml_names(tmp_path: Path) -> None:
    path = write(tmp_path, '[store]\nurl = "postgresql://u:secret@h/db"\nschema = "bad name"\n'
                           '[job]\nretention_runs = 0\n')
    with pytest.raises(InputError) as info:
        config.load_nightly(path)
    columns = {p.column for p in info.value.problems}
    assert {"network.osm", "store.url", "store.schema", "job.retention_runs"} <= columns
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("key", [
    "assignment.training_penalty", "network.ferry_wait_minutes", "travel.access_kmh",
    "travel.max_snap_metres", "scoring.half_life_minutes", "network.highway_kmh.motorway",
])
@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_every_numeric_setting_must_be_finite(tmp_path: Path, key: str, value: str) -> None:
    # issue 15, case 6: inf/nan were accepted (training_penalty = inf gave exit 3).
    section, _, rest = key.partition(".")
    table, _, sub = rest.partition(".")
    body = f"[{section}.{table}]\n{sub} = {value}\n" if sub else f"[{section}]\n{rest} = {value}\n"
    with pytest.raises(InputError) as exc:
        config.load(write(tmp_path, body))
    assert exc.value.exit_code == 2
    assert [p.column for p in exc.value.problems] == [key]
    assert "finite" in str(exc.value)


def test_max_pairs_is_a_positive_whole_number(tmp_path: Path) -> None:
    assert config.Settings().assignment.max_pairs == 20_000_000
    assert config.load(write(tmp_path, "[assignment]\nmax_pairs = 5\n")).assignment.max_pairs == 5
    with pytest.raises(InputError, match=r"assignment\.max_pairs"):
        config.load(write(tmp_path, "[assignment]\nmax_pairs = 0\n"))


# --------------------------------------------------------------------------- issue 26


@pytest.mark.parametrize(("build", "column"), [
    (lambda: config.Settings(scoring={"weights": {"school": -1}}), "scoring.weights.school"),
    (lambda: config.ScoringSettings(weights={"school": -1}), "scoring.weights.school"),
    (lambda: config.Settings(planning={"catchment_minutes": 0}), "planning.catchment_minutes"),
    (lambda: config.Settings(network={"crs": 25833}), "network.crs"),
    (lambda: config.Settings().model_copy(update={"planning": {"catchment_minutes": -5}}),
     "planning.catchment_minutes"),
    (lambda: config.Settings().planning.model_copy(update={"emergency_bands_minutes": [45, 30]}),
     "planning.emergency_bands_minutes"),
    (lambda: config.Settings(report={"privacy": "fuzzy"}), "report.privacy"),
])
def test_settings_built_in_code_raise_input_error_with_toml_names(build: object,
                                                                  column: str) -> None:
    """Issue 26: the front door raises InputError, never pydantic's ValidationError."""
    with pytest.raises(InputError) as info:
        build()  # type: ignore[operator]
    assert not isinstance(info.value, ValidationError)
    assert [p.column for p in info.value.problems] == [column]
    assert info.value.problems[0].message.endswith("fix or remove this key")
    assert "invalid configuration (1 problem)" in str(info.value)


def test_settings_in_code_list_every_problem_in_our_words(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        config.Settings(scoring={"weights": {"school": -1}}, travel={"workers": 0})
    problems = {p.column: p.message for p in info.value.problems}
    assert problems == {
        "scoring.weights.school": "Input should be greater than or equal to 0; fix or remove "
                                  "this key",
        "travel.workers": "Input should be greater than or equal to 1; fix or remove this key"}
    # the TOML loader says the same for the same key
    path = write(tmp_path, "[scoring.weights]\nschool = -1\n")
    with pytest.raises(InputError) as loaded:
        config.load(path)
    assert [(p.column, p.message) for p in loaded.value.problems] == [
        ("scoring.weights.school", problems["scoring.weights.school"])]
    # a valid update is applied and stays frozen and validated
    copy = config.Settings().model_copy(update={"planning": {"catchment_minutes": 5}})
    assert copy.planning.catchment_minutes == 5.0 and copy.scoring == config.ScoringSettings()


def _crs_codes_in_code(source: str) -> list[int]:
    """Lines of string or number constants naming EPSG:25833 outside docstrings."""
    tree = ast.parse(source)
    docs = {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and id(node) not in docs
            and "25833" in str(node.value)]


def test_no_crs_code_outside_config() -> None:
    """Issue 26: the working CRS is one setting (network.crs); no module writes its code."""
    assert _crs_codes_in_code('"""EPSG:25833 in a docstring."""\nCRS = "EPSG:25833"\n'
                              'x = f(25833)\n') == [2, 3]
    package = Path(config.__file__).parent
    found = {str(path.relative_to(package)): lines for path in sorted(package.rglob("*.py"))
             if path.name != "config.py"
             and (lines := _crs_codes_in_code(path.read_text(encoding="utf-8")))}
    assert found == {}


@pytest.mark.parametrize(("toml", "key"), [
    ("[assignment]\nmax_pairs = true\n", "assignment.max_pairs"),
    ("[report]\ngrid_metres = false\n", "report.grid_metres"),
    ("[scoring.weights]\nschool = true\n", "scoring.weights"),
    ("[travel]\nworkers = true\n", "travel.workers"),
])
def test_a_boolean_is_never_a_number(tmp_path: Path, toml: str, key: str) -> None:
    # issue 24: 'max_pairs = true' was read as 1
    path = tmp_path / "m.toml"
    path.write_text(toml)
    with pytest.raises(InputError) as info:
        config.load(path)
    [problem] = info.value.problems
    assert problem.column == key and "boolean" in problem.message


def test_booleans_stay_booleans_and_numbers_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[assignment]\nmax_pairs = 5\n[report]\ngrid_metres = 100\n")
    loaded = config.load(path)
    assert loaded.assignment.max_pairs == 5 and loaded.report.grid_metres == 100.0


def test_pool_municipalities_are_checked_against_2024(tmp_path: Path) -> None:
    # issue 24: a pool with the unknown municipality 9999 was accepted silently
    path = tmp_path / "m.toml"
    path.write_text('[scoring.pools]\nvest = ["4601", "9999"]\nost = ["3004"]\n')
    with pytest.raises(InputError, match=r"kommuner_2024_S\.geojson") as info:
        config.load(path)
    by_key = {p.column: p.message for p in info.value.problems}
    assert set(by_key) == {"scoring.pools.vest", "scoring.pools.ost"}
    assert "'9999' is not a 2024 municipality number" in by_key["scoring.pools.vest"]
    assert "pre-2024 number; write 3107 (Fredrikstad)" in by_key["scoring.pools.ost"]
    path.write_text('[scoring.pools]\nvest = ["4601", "4631"]\n')
    assert config.load(path).scoring.pools == {"vest": ("4601", "4631")}


def test_target_groups_courses_and_baseline() -> None:
    """Issue 21: every tag a home may list is a course, a target group or the baseline;
    the baseline (PRIDE) meets no need; a tag cannot be both a course and a target group."""
    ScoringSettings = config.ScoringSettings
    s = ScoringSettings()
    assert s.competences == ("TBO-F", "trygg-base", "EFST", "teen", "disability",
                             "specialized", "PRIDE")
    assert (s.course_for("trauma"), s.course_for("behaviour"), s.course_for("attachment"),
            s.course_for("teen"), s.course_for("substance"), s.course_for("disability")) == (
        "TBO-F", "EFST", "trygg-base", "TBO-F", "TBO-F", None)
    extra = ScoringSettings(competences=("MST",), courses=("MST",),
                            need_competences={"conduct": ("MST",)})
    assert extra.competences == ("MST", "teen", "disability", "specialized", "PRIDE")
    assert extra.course_for("conduct") == "MST"
    with pytest.raises(InputError, match="PRIDE is the baseline every general home has"):
        ScoringSettings(need_competences={"trauma": ("PRIDE",)})
    with pytest.raises(InputError, match="teen is both a course and a target group"):
        ScoringSettings(courses=("teen", "TBO-F"))
