"""No code in human output: report.md and the briefs of a run in nb and nn show names.

The small fjord sample is matched in bokmål and nynorsk and written with the
report; every human-facing text file the report module writes here (report.md,
briefs/*.md and briefs/*.html, without their CSS) is scanned for the codes of
:func:`matcher.vocabulary.code_words` and for the ISO 639 codes of the run's
languages, as whole words. The workbook and the maps are another module's and
are scanned there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Sample

from matcher import i18n, pipeline, schema, vocabulary

HOMOGRAPHS = frozenset({
    # language codes that are everyday Norwegian words
    "en", "se", "ti", "da", "de", "to", "om", "ha", "fi", "et", "er", "så",
})
"""Language codes that are also Norwegian words, left out of the scan (the vocabulary's own
homographs are left out by :func:`matcher.vocabulary.code_words`)."""


def _texts(folder: Path) -> dict[str, str]:
    out = {"report.md": (folder / "report.md").read_text(encoding="utf-8")}
    for path in sorted((folder / "briefs").iterdir()):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            text = re.sub(r"<style>.*?</style>", "", text, flags=re.DOTALL)
            text = re.sub(r"<[^>]+>", " ", text)
        out[f"briefs/{path.name}"] = text
    return out


def _language_codes(sample: Sample) -> set[str]:
    codes: set[str] = set()
    for frame in (sample.inputs.children, sample.inputs.homes):
        for value in frame["languages"]:
            codes.update(schema.split_tags(value) if isinstance(value, str) else value)
    return codes


def _hits(texts: dict[str, str], words: set[str]) -> list[tuple[str, str]]:
    pattern = re.compile(r"(?<![\w`/.-])(" + "|".join(
        re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w`/-])")
    return [(name, m.group(1)) for name, text in texts.items()
            for m in pattern.finditer(text)]


@pytest.fixture(scope="module", params=("nb", "nn"))
def written(request: pytest.FixtureRequest, small_sample: Sample,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, set[str]]:
    lang = request.param
    with i18n.language(lang):
        result = pipeline.run(small_sample.inputs, small_sample.settings, net=small_sample.net,
                              as_of=small_sample.as_of)
        out = pipeline.write_run(result, tmp_path_factory.mktemp(f"codes-{lang}") / "run",
                                 report=True, settings=small_sample.settings,
                                 municipalities=small_sample.areas)
        words = set(vocabulary.code_words()) | _language_codes(small_sample)
    return lang, out, words - HOMOGRAPHS


def test_no_code_in_human_output(written: tuple[str, Path, set[str]]) -> None:
    _lang, out, words = written
    assert {"teen", "disability", "planned", "capacity", "nb"} <= words
    hits = _hits(_texts(out), words)
    assert not hits, hits[:20]


def test_the_scan_finds_a_planted_code(written: tuple[str, Path, set[str]]) -> None:
    _lang, out, words = written
    texts = _texts(out)
    name = next(n for n in texts if n.endswith(".md") and n.startswith("briefs/"))
    planted = dict(texts)
    planted[name] = texts[name] + "\n- Behov: teen, språk nb.\n"
    assert set(w for _n, w in _hits(planted, words)) >= {"teen", "nb"}
    # a code inside a longer word or an id is no hit
    assert not _hits({"x": "teenager H0001-teen nbsp"}, words)


def test_municipalities_are_named(written: tuple[str, Path, set[str]]) -> None:
    _lang, out, _words = written
    text = (out / "report.md").read_text(encoding="utf-8")
    brief = next((out / "briefs").glob("*.md")).read_text(encoding="utf-8")
    assert "syntetisk" in brief and not re.search(r"Hjemkommune: \d{4}|Heimkommune: \d{4}",
                                                     brief)
    assert "oppdikta" in text or "oppdiktede" in text  # the fjord's places are made up
