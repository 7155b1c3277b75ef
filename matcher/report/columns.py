"""The columns people read in ``proposals.xlsx``: header, meaning, unit and kind of each.

A column's key is its stable English name in the run folder's CSV files
(``school_minutes``), or, where two files use one name for different things,
a key of its own (``component:school``) with the CSV name in :attr:`Column.csv`.
Headers, meanings and units are English source texts (marked with ``N_``),
shown in the language in effect; the workbook's column sheet lists them all,
so a reader can go from a header to the CSV column and back.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from matcher.i18n import N_

__all__ = ["COLUMNS", "Column", "Kind"]

Kind = Literal["id", "text", "words", "minutes", "score", "count", "years", "flag"]
"""How a column is shown: ``text`` wraps (long sentences); ``words`` is short text
(names of codes); ``minutes`` (one decimal), ``score`` (two), ``count`` and
``years`` are numbers; ``flag`` is yes or no."""

_MINUTES = N_("minutes")
_SCORE = N_("0 to 1")
_DAYS = N_("days")
_YEARS = N_("years")


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of the workbook.

    Attributes
    ----------
    header
        The header shown (English source text).
    meaning
        One sentence on what the column holds (English source text).
    kind
        How the values are shown (:data:`Kind`).
    source
        The run-folder file the values come from, ``""`` when the workbook
        computes them; ``None``: the file of the sheet.
    csv
        The column's name in ``source`` (default: the key).
    unit
        The unit (English source text), ``""`` for none.
    """

    header: str
    meaning: str
    kind: Kind
    source: str | None = None
    csv: str = ""
    unit: str = ""


def _component(csv: str, header: str, meaning: str) -> Column:
    return Column(header, meaning, "score", None, csv, _SCORE)


COLUMNS: dict[str, Column] = {
    # assignments.csv
    "child_id": Column(N_("child"), N_("The child's pseudonymous id; the link opens the "
                                       "child's brief."), "id"),
    "home_id": Column(N_("proposed home"), N_("The foster home proposed for the child."),
                      "id"),
    "score": Column(N_("score"), N_("How well the home meets the child's wishes and needs, "
                                    "from 0 (poorly) to 1 (best). Every hard rule is met in "
                                    "any case."), "score", unit=_SCORE),
    "school_minutes": Column(N_("to school"), N_("Travel time from the home to the child's "
                                                 "school."), "minutes", unit=_MINUTES),
    "network_minutes": Column(N_("to family and friends"), N_(
        "Travel time from the home to the child's family and friends (weighted mean)."),
        "minutes", unit=_MINUTES),
    "parent_minutes": Column(N_("to the parents"), N_("Travel time from the home to the "
                                                      "child's parents."), "minutes",
                             unit=_MINUTES),
    "municipality_match": Column(N_("own municipality"), N_(
        "Whether the home lies in the child's own municipality."), "flag"),
    "kinship": Column(N_("kinship"), N_("Whether the home is the child's kinship foster home "
                                        "(family and network)."), "flag"),
    "training_needs": Column(N_("training needed"), N_(
        "Needs of the child that the home should get training for after move-in."), "words"),
    "locked": Column(N_("decided before"), N_(
        "A placement decided before this run; the engine kept it."), "flag"),
    "split": Column(N_("siblings apart"), N_(
        "Whether the child's sibling group is spread over more than one home."), "flag"),
    "urgency": Column(N_("urgency"), N_("Acute or planned placement."), "words"),
    "municipality": Column(N_("child's municipality"), N_(
        "The child's municipality, with its number."), "words"),
    "home_municipality": Column(N_("home's municipality"), N_(
        "The foster home's municipality, with its number."), "words"),
    "reason": Column(N_("why no proposal"), N_("Why the child has no proposal, in words."),
                     "text"),
    "decision": Column(N_("decision"), N_("The latest decision on this child and home."),
                       "words"),
    "previous_home_id": Column(N_("previous proposal"), N_(
        "The home the previous run proposed."), "id"),
    "change_reason": Column(N_("why it changed"), N_(
        "Why a reservation broke or the previous proposal changed."), "text"),
    "address_protection": Column(N_("address protection"), N_(
        "The child has a protected address: no map or file shows where the child lives."),
        "words", ""),
    # history.csv
    "days_waiting": Column(N_("days waiting"), N_(
        "Days the child has waited, counted at the run date."), "count", "history.csv",
        unit=_DAYS),
    "reason_code": Column(N_("main reason"), N_(
        "What keeps the child without a proposal, as a kind of reason; each reason alone "
        "leaves the child without a home."), "text", "history.csv", "binding"),
    # shortlist.csv
    "rank": Column(N_("rank"), N_("The home's place in the child's list (1: the best "
                                  "score)."), "count"),
    "shortlist_home_id": Column(N_("home"), N_("A foster home that meets every hard rule for "
                                               "the child."), "id", csv="home_id"),
    "municipality_relation": Column(N_("where the home lies"), N_(
        "The home's municipality seen from the child: the same, a cooperating or another "
        "municipality."), "words"),
    "shared_languages": Column(N_("shared languages"), N_(
        "Languages the child and the home both speak."), "words"),
    "shared_culture": Column(N_("shared culture"), N_(
        "Culture or faith the child and the home share."), "words"),
    "own_child_gap_years": Column(N_("age gap to own children"), N_(
        "The smallest age gap between the child and the home's own children."), "years",
        unit=_YEARS),
    # score parts (shortlist.csv)
    "component:school": _component("school", N_("school"), N_(
        "Part of the score for the travel time to school.")),
    "component:network": _component("network", N_("family and friends"), N_(
        "Part of the score for the travel time to family and friends.")),
    "component:parents": _component("parents", N_("parents"), N_(
        "Part of the score for the travel time to the parents.")),
    "component:municipality": _component("municipality", N_("municipality"), N_(
        "Part of the score for the home's municipality.")),
    "component:kinship": _component("kinship", N_("kinship"), N_(
        "Part of the score for a kinship foster home.")),
    "component:language": _component("language", N_("language"), N_(
        "Part of the score for a shared language.")),
    "component:culture": _component("culture", N_("culture"), N_(
        "Part of the score for a shared culture.")),
    # support plan (computed)
    "training_towards": Column(N_("course"), N_("Courses that give the home the competence "
                                                "the child needs."), "words", ""),
    "resource_id": Column(N_("resource family"), N_(
        "The resource family that supports the foster home."), "id", ""),
    "resource_minutes": Column(N_("to the resource family"), N_(
        "Travel time from the foster home to the resource family."), "minutes", "",
        unit=_MINUTES),
}
"""Key -> column, for every column of the workbook's data sheets."""
