"""matcher.vocabulary: one name for every code that reaches human text."""

from __future__ import annotations

import pytest

from matcher import i18n, rules, tables, vocabulary
from matcher.config import ScoringSettings

_FIELD_CODES = {
    "urgency": tables.URGENCIES,
    "home_kind": tables.HOME_KINDS,
    "contact_kind": tables.CONTACT_KINDS,
    "decision": tables.DECISIONS,
    "role": tables.ROLES,
    "reason": (*tables.FAMILY_REASONS, *tables.SERVICE_REASONS, *tables.DECLINE_REASONS),
    "end_reason": tables.END_REASONS,
    "ended_by": tables.ENDED_BY,
    "address_protection": tables.ADDRESS_PROTECTION,
    "rule": rules.FILTERS,
    "need": tuple(ScoringSettings().need_competences),
    "competence": ScoringSettings().competences,
    "culture": ScoringSettings().cultures,
}


@pytest.mark.parametrize("field", sorted(_FIELD_CODES))
def test_every_code_of_the_engine_has_a_name(field: str) -> None:
    assert set(_FIELD_CODES[field]) <= set(vocabulary.FIELDS[field])


@pytest.mark.parametrize("lang", ["nb", "nn"])
def test_names_are_translated_and_differ_from_snake_case_codes(lang: str) -> None:
    with i18n.language(lang):
        for field, codes in vocabulary.FIELDS.items():
            for code in codes:
                shown = vocabulary.name(field, code)
                assert "_" not in shown, (field, code, shown)


def test_names_by_hand() -> None:
    with i18n.language("nb"):
        assert vocabulary.name("need", "teen") == "ungdom"
        assert vocabulary.name("home_kind", "kinship") == "familie- og nettverkshjem"
        assert vocabulary.cell("need", "behaviour;attachment") == (
            "atferdsvansker, tilknytningsvansker")
        assert vocabulary.name("decision", "approved") == "godkjent av barneverntjenesten"
        assert vocabulary.name("end_reason", "other") == "avsluttet av annen grunn"
    with i18n.language("nn"):
        assert vocabulary.name("home_kind", "kinship") == "familie- og nettverksheim"
        assert vocabulary.name("role", "kommune") == "barnevernstenesta"
    with i18n.language("en"):
        assert vocabulary.name("need", "substance") == "substance use"


def test_unknown_codes_pass_through_and_missing_cells_are_empty() -> None:
    assert vocabulary.name("competence", "region-course") == "region-course"
    assert vocabulary.cell("need", float("nan")) == ""
    assert vocabulary.cell("need", "") == ""
    with pytest.raises(KeyError):
        vocabulary.name("no-such-field", "x")


def test_municipality_names_from_the_register_and_the_run() -> None:
    assert vocabulary.municipality("0301") == "Oslo"
    assert vocabulary.municipality("4621", number=True) == "Voss (4621)"
    assert vocabulary.municipality("9999") == "9999"
    assert vocabulary.municipality(None) == ""
    own = vocabulary.municipality_names({"4691": "Fjordby (syntetisk)"})
    assert vocabulary.municipality("4691", own) == "Fjordby (syntetisk)"
    assert own["0301"] == "Oslo"
    assert vocabulary.pool("oygarden_alver") == "oygarden alver"


def test_code_words_depend_on_the_language() -> None:
    with i18n.language("nb"):
        words = vocabulary.code_words()
    assert {"teen", "unintended_move", "family_consented", "kinship"} <= words
    assert "TBO-F" not in words and "PRIDE" not in words
