"""The planner notebooks, executed headless as a user runs them (scripts/notebooks.py).

Each must run without an error and without a line on stderr (warnings, solver
banners, log lines), show its figures and Norwegian tables, name areas by
municipality (never an internal grid id), print its run folder, and be
committed without outputs. One notebook is also run with ``SPRAK = "nn"``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_script",
                                                  ROOT / "scripts" / "notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
NAMES = ["1-dagens-forslag.ipynb", "2-rekruttering.ipynb", "3-beredskap.ipynb",
         "4-stabilitet.ipynb"]


def _outputs(nb: Any) -> list[Any]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _text(nb: Any) -> str:
    parts = []
    for o in _outputs(nb):
        if o.output_type == "stream":
            parts.append(o.text)
        for kind in ("text/html", "text/plain", "text/markdown"):
            if kind in o.get("data", {}):
                parts.append(o["data"][kind])
    return "\n".join(parts)


def test_the_three_notebooks_are_there_and_planner_is_gone() -> None:
    assert [p.name for p in SCRIPT.notebooks()] == NAMES
    assert not (ROOT / "notebooks" / "planner.ipynb").exists()


def test_committed_notebooks_carry_no_outputs() -> None:
    for path in SCRIPT.notebooks():
        assert SCRIPT.stored_outputs(path) == [], path.name


def test_each_notebook_opens_with_its_question_and_its_data() -> None:
    for path in SCRIPT.notebooks():
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0]
        assert first.cell_type == "markdown"
        assert "Hva denne notatboken svarer på" in first.source
        assert "syntetiske" in first.source and "data/" in first.source
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and "EGNE_FILER" in params[0].source
        assert 'SPRAK = "nb"' in params[0].source


def test_stored_output_check_can_fail(tmp_path: Path) -> None:
    nb = nbformat.read(ROOT / "notebooks" / NAMES[2], as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x\n")]
    code.execution_count = 1
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert SCRIPT.stored_outputs(path) == [nb.cells.index(code) + 1]
    assert SCRIPT.strip(path) and SCRIPT.stored_outputs(path) == []


@pytest.fixture(scope="module")
def executed() -> dict[str, tuple[Any, float, list[str]]]:
    return {name: SCRIPT.execute(ROOT / "notebooks" / name) for name in NAMES}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_clean(executed: dict[str, tuple[Any, float, list[str]]],
                             name: str) -> None:
    nb, seconds, problems = executed[name]
    assert problems == []
    text = _text(nb)
    assert "Warning" not in text and "Running HiGHS" not in text
    assert not re.search(r"\b(hex|sq)_-?\d+_-?\d+\b", text)  # areas by name, never by id
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert images
    assert "SYNTETISKE" in text  # the data are labelled
    assert seconds < 300  # the target is 60 s on a quiet 2-core machine


@pytest.mark.slow
def test_proposals_notebook_shows_the_run_folder_reasons_and_a_brief(
        executed: dict[str, tuple[Any, float, list[str]]]) -> None:
    nb, _seconds, _problems = executed["1-dagens-forslag.ipynb"]
    text = _text(nb)
    folder = re.search(r"(/\S+/kjoring)\n", text)
    assert folder is not None and (Path(folder.group(1)) / "map.html").is_file()
    assert "hvorfor intet forslag" in text and "barn har fått forslag" in text
    assert "gyldig: slekt" in text  # the kinship-first rule, in words
    assert any("text/markdown" in o.get("data", {}) for o in _outputs(nb))  # the brief
    assert "<iframe" in text


@pytest.mark.slow
def test_recruitment_notebook_names_cells_by_municipality(
        executed: dict[str, tuple[Any, float, list[str]]]) -> None:
    nb, _seconds, _problems = executed["2-rekruttering.ipynb"]
    text = _text(nb)
    assert re.search(r"Oslo, rute \d+", text)
    assert "færre enn 5" in text  # small areas show no figures
    assert "endring" in text  # the what-if as changes
    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # municipality, hexagons, 2SFCA, sites


@pytest.mark.slow
def test_emergency_notebook_in_nynorsk() -> None:
    nb = nbformat.read(ROOT / "notebooks" / NAMES[2], as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace('SPRAK = "nb"', 'SPRAK = "nn"')
    ran, _seconds, problems = SCRIPT.execute(nb)
    assert problems == []
    text = _text(ran)
    assert "innan" in text and "innbyggjarar" in text  # nynorsk
    assert "innen" not in text
