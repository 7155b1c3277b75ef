"""Words for people: the name of every code that reaches human text, from one place.

Machine-readable files (CSV headers and values, JSON keys, the GeoPackage)
keep the engine's codes, which are stable and English. Everything a person
reads (briefs, report, workbook, map pop-ups, CLI messages) shows the name of
the code in the run's language (:mod:`matcher.i18n`):

- needs, target groups, courses, cultures, urgency, kinds of home and of
  contact, rules (the filters of :data:`matcher.rules.FILTERS`), decisions and
  their reasons, roles, how placement periods end: from the catalogs
  (:func:`name`, :func:`names`, :func:`cell`);
- languages: from Babel's CLDR data (:func:`matcher.languages.name`);
- municipalities: the 2024 names of ``data/kommunenummer_2020_2024.csv``, or
  the names a run brings (the fictional fjord's ``kommunenavn``)
  (:func:`municipality`);
- pools of ``[scoring.pools]``: their name as written, underscores as spaces
  (:func:`pool`);
- a child's contacts: their label, else kind and number within the kind
  (:func:`contacts`).

A code without a name (a tag a region adds in its settings) is shown as it is
written. :func:`code_words` lists the codes whose name differs from the code,
for tests that scan human output for codes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import pandas as pd

from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.io import registers

__all__ = ["FIELDS", "HOMOGRAPHS", "cell", "code_words", "contacts", "municipality",
           "municipality_names", "name", "names", "pool"]

FIELDS: dict[str, dict[str, str]] = {
    "need": {
        "trauma": N_("trauma"),
        "behaviour": N_("behavioural difficulties"),
        "attachment": N_("attachment difficulties"),
        "disability": N_("disability"),
        "teen": N_("teenager"),
        "substance": N_("substance use"),
    },
    "competence": {
        "teen": N_("teenagers"),
        "disability": N_("children with disabilities"),
        "specialized": N_("specialised tasks"),
        "trygg-base": N_("Trygg base"),
        "TBO-F": N_("TBO-F"),
        "EFST": N_("EFST"),
        "PRIDE": N_("PRIDE"),
    },
    "culture": {
        "christian": N_("Christian"),
        "muslim": N_("Muslim"),
        "jewish": N_("Jewish"),
        "hindu": N_("Hindu"),
        "buddhist": N_("Buddhist"),
        "sikh": N_("Sikh"),
        "humanist": N_("humanist"),
        "sami": N_("Sami"),
        "kven": N_("Kven"),
        "romani": N_("Romani (tater)"),
        "forest_finn": N_("Forest Finn"),
    },
    "urgency": {"acute": N_("acute"), "planned": N_("planned")},
    "home_kind": {
        "general": N_("general foster home"),
        "kinship": N_("kinship foster home"),
        "emergency": N_("emergency home"),
        "specialized": N_("specialized foster home"),
    },
    "contact_kind": {"relative": N_("relative"), "friend": N_("friend"),
                     "activity": N_("activity"), "parent": N_("parent")},
    "rule": {
        "capacity": N_("a free place"),
        "kind": N_("kind of home"),
        "age": N_("ages the home is prepared for"),
        "household": N_("age gap to the home's own children"),
        "competences": N_("competence"),
        "language": N_("language"),
        "avoid": N_("municipalities the child does not want to live in"),
        "school": N_("travel time to school"),
        "contacts": N_("travel time to family and friends"),
        "veto": N_("veto"),
    },
    "decision": {
        "proposed": N_("proposed by Bufetat"),
        "considering": N_("being considered"),
        "family_consented": N_("the family said yes"),
        "family_declined": N_("the family said no"),
        "approved": N_("approved by child welfare services"),
        "rejected": N_("rejected by child welfare services"),
        "accepted": N_("accepted (old log)"),
        "declined": N_("declined (old log)"),
    },
    "reason": {
        "no_room": N_("no room"),
        "not_right_match": N_("not the right match"),
        "timing": N_("timing"),
        "child_declined": N_("the child said no"),
        "not_suitable": N_("not suitable"),
        "closer_to_network": N_("another home is closer to the child's network"),
        "home_declined": N_("the home said no"),
        "municipality_declined": N_("child welfare services said no"),
        "other": N_("another reason"),
    },
    "role": {"bufetat": N_("Bufetat"), "kommune": N_("child welfare services")},
    "relation": {"own": N_("same municipality"), "pool": N_("cooperating municipality"),
                 "other": N_("another municipality")},
    "end_reason": {
        "planned_return_home": N_("planned return home"),
        "planned_move": N_("planned move"),
        "unintended_move": N_("unintended move"),
        "aged_out": N_("moved out as an adult"),
        "other": N_("ended otherwise"),
    },
    "ended_by": {
        "kommune": N_("child welfare services"),
        "bufetat": N_("Bufetat"),
        "foster_home": N_("the foster home"),
        "birth_parents": N_("the parents"),
        "child": N_("the child"),
        "nemnda": N_("the county board or a court"),
    },
    "address_protection": {"fortrolig": N_("confidential address"),
                           "strengt_fortrolig": N_("strictly confidential address")},
}
"""Codes by field -> their English msgid (translated when shown)."""


def name(field: str, code: str) -> str:
    """The name of ``code`` of ``field`` (a key of :data:`FIELDS`) in the active language.

    A code the field does not know (a tag a region adds in its settings) is
    returned as it is written. An unknown ``field`` raises ``KeyError``.
    """
    text = FIELDS[field].get(code)
    return _(text) if text is not None else code


def names(field: str, codes: Iterable[str]) -> list[str]:
    """The names of ``codes`` of ``field``, in the order given, empty codes left out."""
    return [name(field, c) for c in codes if c]


def cell(field: str, value: object, sep: str = ", ") -> str:
    """A ``;``-joined cell of codes (``"teen;trauma"``) as names joined by ``sep``.

    Missing values (``None``, NaN, ``""``) give ``""``.
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return sep.join(names(field, (p.strip() for p in str(value).split(";"))))


@functools.cache
def _register_names() -> dict[str, str]:
    mapping = registers.read_mapping(registers.MAPPING_FILE)
    return dict(zip(mapping["new"], mapping["name"], strict=True))


def municipality_names(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Municipality number -> name: the 2024 register, then ``extra`` (a run's own names,
    such as the fictional fjord's), which wins."""
    return {**_register_names(), **(dict(extra) if extra else {})}


def municipality(code: object, known: Mapping[str, str] | None = None, *,
                 number: bool = False) -> str:
    """The name of a 4-digit kommunenummer (``"0301"`` -> ``"Oslo"``).

    Parameters
    ----------
    code
        The number, as text.
    known
        Names to use (:func:`municipality_names`); default the 2024 register.
    number
        Add the number in brackets (``"Oslo (0301)"``), for tables where the
        number is the key people search by.

    An unknown number is returned as it is; a missing one gives ``""``.
    """
    if code is None or (isinstance(code, float) and code != code) or str(code) == "":
        return ""
    text = str(code)
    found = (known if known is not None else _register_names()).get(text)
    if found is None:
        return text
    return f"{found} ({text})" if number else found


def pool(value: str) -> str:
    """A pool of ``[scoring.pools]`` as people read it: underscores as spaces."""
    return value.replace("_", " ")


def contacts(table: pd.DataFrame) -> dict[str, str]:
    """Contact ``anchor_id`` -> how people name it: its ``label`` when the contacts table
    has one, else the kind and a number within the child's contacts of that kind
    (``"relative 1"``, ``"activity 2"``), never the row of the file.

    Parameters
    ----------
    table
        Validated contacts (:attr:`matcher.schema.Inputs.contacts`: ``anchor_id,
        child_id, kind`` and the optional ``label``), in file order.
    """
    if table is None or not len(table):
        return {}
    number = table.groupby(["child_id", "kind"], sort=False).cumcount().to_numpy() + 1
    labels = (table["label"] if "label" in table.columns
              else pd.Series("", index=table.index, dtype=object))
    out = {}
    for anchor, kind, k, label in zip(table["anchor_id"], table["kind"], number, labels,
                                      strict=True):
        text = label.strip() if isinstance(label, str) else ""
        out[str(anchor)] = text or f"{name('contact_kind', str(kind))} {k}"
    return out


HOMOGRAPHS: frozenset[str] = frozenset({"kommune", "trauma"})
"""Codes that are also ordinary Norwegian words (the role ``kommune``; the need ``trauma``,
whose name is *traumer*), so text may hold them as words."""


def code_words() -> frozenset[str]:
    """Codes whose name in the active language differs from the code, in every field: words
    that must not appear in human text. Names that are the code itself (``TBO-F``,
    ``EFST``) and :data:`HOMOGRAPHS` are left out."""
    return frozenset(code for field, codes in FIELDS.items() for code in codes
                     if name(field, code) != code and code not in HOMOGRAPHS)
