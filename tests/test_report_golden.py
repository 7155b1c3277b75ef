"""Golden tests of report.md and of two briefs in bokmål, nynorsk and English.

The small synthetic sample (seed 1, run date fixed by the sample) is matched
once per language and written with the report; the solver timings are set to
zero first, so that the text holds nothing that changes between runs.

Regenerate the golden files after a deliberate change of text or of a
translation (and read the diff before committing)::

    UPDATE_GOLDEN=1 python -m pytest -q tests/test_report_golden.py
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Sample

from matcher import i18n, pipeline
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.report.briefs import BRIEFS
from matcher.run import RunSummary

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
LANGUAGES = ("nb", "nn", "en")
BRIEF_CHILDREN = ("C0009", "C0016")
"""A placed child with a training need, and a child no home qualifies for."""


def _steady(summary: RunSummary) -> RunSummary:
    """The summary with every timing set to zero (the only figures that vary run to run)."""
    return summary.model_copy(
        update={"timings_seconds": dict.fromkeys(summary.timings_seconds, 0.0)})


@pytest.fixture(scope="module", params=LANGUAGES)
def written(request: pytest.FixtureRequest, small_sample: Sample,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    lang = request.param
    with i18n.language(lang):
        result = pipeline.run(small_sample.inputs, small_sample.settings, net=small_sample.net,
                              as_of=small_sample.as_of)
        result = dataclasses.replace(result, summary=_steady(result.summary))
        out = pipeline.write_run(result, tmp_path_factory.mktemp(f"golden-{lang}") / "run",
                                 report=True, settings=small_sample.settings,
                                 municipalities=small_sample.areas)
    return lang, out


def check_golden(text: str, name: str) -> None:
    """Compare ``text`` with ``tests/golden/<name>``, or write it with ``UPDATE_GOLDEN=1``."""
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; write it with UPDATE_GOLDEN=1", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=f"tests/golden/{name}", tofile=f"{name} (this run)", n=1))
        pytest.fail(f"{name} differs from its golden file; if the change is meant, "
                    f"regenerate with UPDATE_GOLDEN=1 and commit the diff:\n{diff}",
                    pytrace=False)


def test_report_md_golden(written: tuple[str, Path]) -> None:
    lang, out = written
    text = (out / "report.md").read_text(encoding="utf-8")
    check_golden(text, f"report.{lang}.md")


@pytest.mark.parametrize("child", BRIEF_CHILDREN)
def test_brief_md_golden(written: tuple[str, Path], child: str) -> None:
    lang, out = written
    text = (out / BRIEFS / f"{child}.md").read_text(encoding="utf-8")
    check_golden(text, f"brief-{child}.{lang}.md")


def test_golden_text_is_steady(written: tuple[str, Path]) -> None:
    """Nothing in the compared text changes between runs: no timings, no clock, no paths."""
    _lang, out = written
    text = (out / "report.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("| time") or line.startswith("| tid"):
            assert re.search(r"\| 0\.0 \|$", line), line
    assert str(out) not in text and "/tmp" not in text


def test_summary_at_a_glance_from_the_inputs(small_sample: Sample, tmp_path: Path) -> None:
    """The figures at the top of report.md, computed independently from the files."""
    with i18n.language("en"):
        result = pipeline.run(small_sample.inputs, small_sample.settings, net=small_sample.net,
                              as_of=small_sample.as_of)
        out = pipeline.write_run(result, tmp_path / "run", report=True,
                                 settings=small_sample.settings)
    text = (out / "report.md").read_text(encoding="utf-8")
    glance = text.split("## At a glance\n", 1)[1].split("\n## ", 1)[0]
    children = pd.read_csv(small_sample.folder / "children.csv", dtype=str)
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    waiting = a[a["locked"] == "False"]
    proposed = int((waiting["home_id"] != "").sum())
    assert (f"{len(waiting)} children are waiting for a foster home (children without a locked "
            f"placement): {proposed} with a proposal, {len(waiting) - proposed} without."
            in glance), glance
    since = pd.to_datetime(children.set_index("child_id").loc[waiting["child_id"],
                                                               "waiting_since"])
    days = (pd.Timestamp(small_sample.as_of) - since).dt.days.dropna().to_numpy(dtype=float)
    assert (f"They have waited {np.median(days):,.0f} days (median); the longest wait is "
            f"{days.max():,.0f} days." in glance), glance
    placed = a[a["home_id"] != ""]
    school = pd.to_numeric(placed["school_minutes"], errors="coerce").dropna()
    first_band = small_sample.settings.scoring.bands_minutes[0]
    assert (f"Near school: for {int((school <= first_band).sum())} of {len(school)} children "
            f"with a proposal and a school, the proposed home is at most {first_band:.0f} min "
            "from it" in glance), glance
    own = int((placed["municipality_match"] == "True").sum())
    assert f"Own municipality: {own} of {len(placed)} proposals." in glance
    # the three most common reasons: counted from the funnel of the scoring, by hand
    funnel = result.scored.funnel.set_index("child_id")
    counts: dict[str, int] = {}
    groups = children.set_index("child_id")["sibling_group"]
    sizes = groups.value_counts()
    for cid in a.loc[a["home_id"] == "", "child_id"]:
        binding = funnel.at[cid, "binding"]
        if binding:
            codes = binding.split(";")
        elif isinstance(groups.get(cid), str) and sizes[groups[cid]] > 1:
            codes = ["siblings"]
        else:
            codes = ["competition"]
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    top = sorted(counts.values(), reverse=True)[:3]
    listed = [int(n) for n in re.findall(r"^\d\. .+: (\d+) child", glance, flags=re.MULTILINE)]
    assert listed == top, (listed, counts)


def test_golden_brief_child_whose_alternatives_went_to_others(written: tuple[str, Path]) -> None:
    """C0016's golden brief: most alternatives are proposed to other children, said without
    their ids (a home shown as taken did go to another child), and the brief says why each
    ranks below the proposed home."""
    lang, out = written
    with i18n.language(lang):
        label = _("alternative {rank}").format(rank="")
        status = (ngettext("proposed to another child", "proposed to other children", 1),
                  ngettext("proposed to another child", "proposed to other children", 2))
        needs = _("needs {courses} after the move").format(courses="EFST")
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    text = (out / BRIEFS / "C0016.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith(f"| {label}")]
    assert len(rows) == 4
    taken = set(a.loc[a["child_id"] != "C0016", "home_id"])
    said_taken = 0
    for row in rows:
        home = row.split(" | ")[1]
        if status[0] in row or status[1] in row:  # only a home that went to another child
            assert home in taken, home
            said_taken += 1
        assert needs.split("EFST")[0] in row and "EFST" in row  # ranks below: a course
    assert said_taken >= 2  # the golden case: two of its four went to other children
    others = set(a["child_id"]) - {"C0016"}
    assert not any(re.search(rf"\b{c}\b", text) for c in others)
