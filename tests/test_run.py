"""The run record: RunSummary's serialisation, old files, versions, and the layers around it."""

from __future__ import annotations

import ast
import datetime
import json
from pathlib import Path

import pydantic
import pytest
from conftest import OLD_SUMMARY, ROOT

from matcher import run as run_mod
from matcher.errors import InputError
from matcher.io import runs
from matcher.run import (
    SCHEMA_VERSION,
    DecisionRecord,
    DecisionSummary,
    Override,
    RunSummary,
)


def _full(summary: RunSummary) -> RunSummary:
    """The summary with every optional part present (decisions, overrides, continuity)."""
    record = DecisionRecord(child_id="C1", home_id="H2", decision="declined",
                            decided_on="2026-10-02", by="kommune", reason="not_suitable")
    decisions = DecisionSummary(accepted_locked=1, declined_in_force=2, considering=0,
                                reservations_kept=1, reservations_broken=0, ignored_rows=3,
                                decline_days=365, since_previous_run=(record,))
    override = Override(kind="veto", child_id="C2", home_id="H1", decided_on="2026-10-03",
                        by="bufetat")
    return summary.model_copy(update={"decisions": decisions,
                                      "overrides_since_previous_run": (override,),
                                      "kept": 40, "changed": 5, "new": 4,
                                      "stability_tolerance": 0.005})


def test_old_summary_reads_with_typed_fields(run_summary: RunSummary) -> None:
    # figures read off tests/golden/summary-unversioned.json by hand
    s = run_summary
    assert s.schema_version == SCHEMA_VERSION == 1
    assert s.as_of == datetime.date(2026, 11, 1)
    assert (s.children, s.homes, s.placed, s.unmatched) == (60, 150, 49, 11)
    assert (s.by_urgency.acute.children, s.by_urgency.acute.placed) == (15, 14)
    assert s.children_not_heard[:2] == ("C0017", "C0020") and len(s.children_not_heard) == 10
    assert s.status == "optimal" and s.language == "nb"
    assert s.waiting.min_cell == 5
    assert s.waiting.by["all"]["all"] == run_mod.WaitingCell(children=58, median_days=111.5,
                                                            p90_days=261.9)
    assert s.decisions is None and s.kept is None and s.overrides_since_previous_run == ()


def test_old_summary_bytes_unchanged_but_for_the_version() -> None:
    old = OLD_SUMMARY.read_text(encoding="utf-8")
    new = RunSummary.read(OLD_SUMMARY).to_json()
    assert '"schema_version"' not in old
    assert new.replace('  "schema_version": 1,\n', "") == old
    assert json.loads(new) == {**json.loads(old), "schema_version": 1}


@pytest.mark.parametrize("complete", [False, True])
def test_round_trip(run_summary: RunSummary, complete: bool, tmp_path: Path) -> None:
    summary = _full(run_summary) if complete else run_summary
    text = summary.to_json()
    assert RunSummary.from_json(text) == summary
    (tmp_path / "summary.json").write_text(text, encoding="utf-8")
    assert RunSummary.read(tmp_path) == summary
    keys = set(json.loads(text))
    optional = {"decisions", "overrides_since_previous_run", "kept", "changed", "new",
                "stability_tolerance"}
    assert (optional <= keys) if complete else not (optional & keys)
    if complete:
        assert json.loads(text)["decisions"]["since_previous_run"][0]["reason"] == "not_suitable"


def test_summary_is_frozen(run_summary: RunSummary) -> None:
    with pytest.raises(pydantic.ValidationError):
        run_summary.placed = 0  # type: ignore[misc]


def test_newer_schema_version_names_the_file_and_the_fix(tmp_path: Path) -> None:
    data = {**json.loads(OLD_SUMMARY.read_text()), "schema_version": SCHEMA_VERSION + 1}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError) as info:
        RunSummary.read(path)
    message = str(info.value)
    assert str(path) in message and f"schema_version {SCHEMA_VERSION + 1}" in message
    assert "upgrade fostermatch" in message
    # the run date of --previous reads through the same check
    with pytest.raises(InputError, match="upgrade fostermatch"):
        runs.previous_as_of(tmp_path)


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", '{"schema_version": "two"}'])
def test_damaged_summary_is_an_input_error(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "summary.json"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(InputError, match=r"summary\.json"):
        RunSummary.read(path)


def test_missing_field_is_named(tmp_path: Path) -> None:
    data = json.loads(OLD_SUMMARY.read_text())
    del data["placed"]
    data["by_urgency"]["acute"]["placed"] = "many"
    with pytest.raises(InputError) as info:
        RunSummary.from_dict(data, source="run/summary.json")
    columns = {p.column for p in info.value.problems}
    assert columns == {"placed", "by_urgency.acute.placed"}
    assert all(p.source == "run/summary.json" for p in info.value.problems)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the run summary"):
        RunSummary.read(tmp_path)
    assert runs.previous_as_of(tmp_path) is None


# --------------------------------------------------------------------------- layers


def _imports(source: str, module: str) -> list[tuple[str, bool]]:
    """``(imported module, under TYPE_CHECKING)`` for every import in ``source``.

    ``module`` is the dotted name of the file, to resolve relative imports.
    """
    tree = ast.parse(source)
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in guarded) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[:-node.level]
                base = ".".join([*parent, base] if base else parent)
            out += [(f"{base}.{a.name}", id(node) in guarded) for a in node.names]
            out.append((base, id(node) in guarded))
    return out


def _forbidden(name: str, banned: tuple[str, ...]) -> bool:
    return any(name == b or name.startswith(b + ".") for b in banned)


def test_import_checker_sees_every_form() -> None:
    banned = ("matcher.pipeline", "matcher.cli")
    for code in ("import matcher.pipeline", "from matcher import pipeline",
                 "from matcher.pipeline import RunResult", "from .. import pipeline",
                 "from ..cli.common import emit",
                 "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                 "    from matcher.pipeline import RunResult",
                 "def f():\n    from matcher import cli"):
        names = [n for n, _guarded in _imports(code, "matcher.report.x")]
        assert any(_forbidden(n, banned) for n in names), code
    names = [n for n, _g in _imports("from matcher import run, pipelines", "matcher.report.x")]
    assert not any(_forbidden(n, banned) for n in names)


@pytest.mark.parametrize("path", sorted((ROOT / "matcher" / "report").glob("*.py")),
                         ids=lambda p: p.name)
def test_report_never_imports_pipeline_or_cli(path: Path) -> None:
    names = _imports(path.read_text(encoding="utf-8"), f"matcher.report.{path.stem}")
    bad = [n for n, _g in names if _forbidden(n, ("matcher.pipeline", "matcher.cli"))]
    assert bad == [], f"{path.name} imports {bad}: report renders a RunResult (matcher.run)"


def test_run_is_a_low_layer() -> None:
    """At run time matcher.run imports only errors and i18n; never pipeline, report or cli."""
    path = Path(run_mod.__file__)
    names = _imports(path.read_text(encoding="utf-8"), "matcher.run")
    ours = {n for n, _g in names if n.startswith("matcher")}
    assert not {n for n in ours if _forbidden(
        n, ("matcher.pipeline", "matcher.report", "matcher.cli", "matcher.nightly"))}
    runtime = {n.split(".")[1] for n, guarded in names
               if n.startswith("matcher.") and not guarded}
    assert runtime <= {"config", "errors", "i18n", "timetable"}, runtime
