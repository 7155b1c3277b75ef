"""Languages: the catalogs are complete, the language follows the context and settings."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from conftest import Sample
from typer.testing import CliRunner

from matcher import _catalogs, config, i18n
from matcher.cli import app
from matcher.errors import InputError


def test_every_message_is_translated_in_nb_and_nn() -> None:
    from matcher.cli.help import help_texts

    template = _catalogs.extract(extra=help_texts())  # the CLI's --help texts too
    assert len([m for m in template if m.id]) > 0
    problems = _catalogs.problems(template)
    assert not problems, "\n".join(problems[:40])


def test_problems_finds_a_missing_translation_and_a_wrong_field(tmp_path: Path) -> None:
    from babel.messages.catalog import Catalog

    template = Catalog()
    template.add("{n} homes", locations=[("x.py", 1)])
    template.add("no free place", locations=[("x.py", 2)])
    for lang in ("nb", "nn"):
        catalog = Catalog(locale=lang)
        catalog.add("{n} homes", "{antall} heimar")
        _catalogs._write(catalog, tmp_path / lang / "LC_MESSAGES" / "matcher.po")
    found = _catalogs.problems(template, locale_dir=tmp_path)
    assert sum("unknown fields ['antall']" in p for p in found) == 2
    assert sum("no translation for 'no free place'" in p for p in found) == 2


def test_default_is_bokmal_and_language_is_scoped() -> None:
    import contextvars

    fresh = contextvars.Context()  # no language set: the default
    assert fresh.run(i18n.current) == "nb"
    with i18n.language("nn"):
        assert i18n.current() == "nn"
        with i18n.language(None):
            assert i18n.current() == "nn"
    assert i18n.current() == "en"  # the test session's language (conftest)


def test_unknown_language_lists_the_allowed() -> None:
    with pytest.raises(InputError, match="nb, nn, en"):
        i18n.check("sv")


def test_numbers_and_dates_follow_the_language() -> None:
    day = datetime.date(2026, 11, 27)
    with i18n.language("nb"):
        assert i18n.format_number(12.5, 1) == "12,5"
        assert i18n.format_date(day) == "27. november 2026"
    with i18n.language("en"):
        assert i18n.format_number(1234.5, 1) == "1,234.5"


def test_settings_reject_an_unknown_language(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[report]\nlanguage = "de"\n')
    with pytest.raises(InputError, match="language"):
        config.load(path)


def test_cli_rejects_an_unknown_language() -> None:
    result = CliRunner().invoke(app, ["--lang", "de", "waiting-stats", "--runs", "."])
    assert result.exit_code == 2
    assert "'de' is not one of" in result.output


def test_machine_readable_outputs_do_not_follow_the_language(small_sample: Sample,
                                                             tmp_path: Path) -> None:
    """CSV headers, ids, codes, numbers and JSON keys are the same in nb and en; text differs."""
    import json

    import pandas as pd

    from matcher import pipeline

    folders = {}
    for lang in ("nb", "en"):
        settings = small_sample.settings.model_copy(update={
            "report": small_sample.settings.report.model_copy(update={"language": lang})})
        result = pipeline.run(small_sample.inputs, settings, net=small_sample.net,
                              as_of=small_sample.as_of)
        folders[lang] = pipeline.write_run(result, tmp_path / lang, report=False,
                                           settings=settings)
    texts = {"reason", "change_reason", "explanation"}
    for name in ("assignments.csv", "shortlist.csv", "pairs.csv", "history.csv"):
        nb, en = (pd.read_csv(folders[lang] / name, dtype=str, keep_default_na=False)
                  for lang in ("nb", "en"))
        assert list(nb.columns) == list(en.columns), name
        codes = [c for c in en.columns if c not in texts]
        pd.testing.assert_frame_equal(nb[codes], en[codes], obj=name)
        for column in texts & set(en.columns):
            if (en[column] != "").any():
                assert (nb[column] != en[column]).any(), f"{name}:{column} not translated"
    nb_summary, en_summary = (json.loads((folders[lang] / "summary.json").read_text())
                              for lang in ("nb", "en"))
    assert nb_summary.keys() == en_summary.keys()
    assert nb_summary["status"] == en_summary["status"]
    assert nb_summary["unmatched_by_binding_rule"] == en_summary["unmatched_by_binding_rule"]


def test_a_catalog_compiles_in_memory_as_an_unbuilt_checkout_does() -> None:
    import gettext
    import io

    po = i18n.LOCALE_DIR / "nn" / "LC_MESSAGES" / "matcher.po"
    compiled = gettext.GNUTranslations(io.BytesIO(_catalogs.compile_catalog(po, "nn")))
    assert compiled.gettext("the child said no") == "barnet sa nei"
    assert compiled.ngettext("{n} child", "{n} children", 2) == "{n} barn"
