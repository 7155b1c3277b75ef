"""Write the column reference of ``docs/inputs.md`` from the table specs.

``python scripts/tables_doc.py`` rewrites the part of ``docs/inputs.md``
between ``<!-- BEGIN GENERATED: tables -->`` and ``<!-- END GENERATED: tables -->``
from :data:`matcher.tables.SPECS`; ``--check`` exits 1 when the page is not
current (``tests/test_tables.py`` checks the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from matcher import tables
from matcher.tables import Column, TableSpec

PAGE = Path(__file__).resolve().parents[1] / "docs" / "inputs.md"
BEGIN = "<!-- BEGIN GENERATED: tables -->"
END = "<!-- END GENERATED: tables -->"

KIND_TEXT = {
    "id": "id (text, at most 64 printable characters; `1.0` reads as `1`)",
    "text": "text",
    "number": "number (decimal point or comma)",
    "integer": "whole number",
    "date": "date (`YYYY-MM-DD`, or an ISO timestamp with or without a zone)",
    "choice": "one of the allowed values",
    "tags": "`;`-separated tags",
    "municipality": "kommunenummer (4 digits; `301` reads as `0301`)",
    "municipalities": "`;`-separated kommunenummer",
    "lon": "longitude, WGS84 degrees (EPSG:4326)",
    "lat": "latitude, WGS84 degrees (EPSG:4326)",
    "boolean": "yes/no (`true/false`, `yes/no`, `ja/nei`, `1/0`)",
    "languages": ("`;`-separated ISO 639-1 or ISO 639-3 codes, checked against ISO 639-3 "
                  "(`sma`, `smj`, `fkv`, `rmu`, `nsl` too); stored as the ISO 639-1 code when "
                  "the language has one (`sme` reads as `se`)"),
    "ages": "`;`-separated ages in whole years",
}
VOCABULARY_TEXT = {"needs": "the need tags of `[scoring]`",
                   "competences": "the competences of `[scoring]`",
                   "cultures": "the cultures of `[scoring]`"}


def _values(c: Column) -> str:
    if c.kind == "choice" or (c.kind == "tags" and c.allowed):
        return ", ".join(f"`{a}`" for a in c.allowed)
    if c.vocabulary:
        return VOCABULARY_TEXT[c.vocabulary]
    if c.range is not None and c.range != (None, None):
        low, high = c.range
        if low is not None and high is not None:
            return f"{low:g} to {high:g}"
        return f"at least {low:g}" if low is not None else f"at most {high:g}"
    if c.kind == "number":
        return "greater than 0"
    return ""


def _required(c: Column) -> str:
    if not c.required:
        return "no"
    return "yes (cells may be empty)" if c.blank else "yes"


def _table(spec: TableSpec) -> list[str]:
    lines = [f'<a id="table-{spec.name}"></a>', "", f"### `{spec.name}`", "", spec.doc, ""]
    notes = []
    if spec.points:
        notes.append("Point geometry in any CRS may stand in for `lon`/`lat`.")
    if spec.extra == "ignore":
        notes.append("Other columns are allowed and passed through.")
    else:
        notes.append("Other columns are errors, unless their name starts with `_` (a note).")
    if spec.min_rows:
        notes.append(f"At least {spec.min_rows} row.")
    lines += [" ".join(notes), "",
              "| column | kind | required | values | default | meaning |",
              "| --- | --- | --- | --- | --- | --- |"]
    for c in spec.columns:
        default = "" if c.default is None else f"`{c.default}`"
        extra = []
        if c.unique:
            extra.append("unique")
        if c.past:
            extra.append("not in the future")
        meaning = c.doc + (f" ({', '.join(extra)})" if extra else "")
        lines.append(f"| `{c.name}` | {KIND_TEXT[c.kind]} | {_required(c)} | {_values(c)} "
                     f"| {default} | {meaning} |")
    return [*lines, ""]


def generated() -> str:
    """The generated reference: one section per spec, in :data:`matcher.tables.SPECS` order."""
    lines = ["", "_Generated from `matcher/tables/specs.py` by `python scripts/tables_doc.py`; "
             "do not edit by hand._", ""]
    for spec in tables.SPECS.values():
        lines += _table(spec)
    return "\n".join(lines)


def render(page: str) -> str:
    """Return ``page`` with the part between the markers replaced by :func:`generated`."""
    head, sep, rest = page.partition(BEGIN)
    _old, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{PAGE}: the markers {BEGIN} ... {END} are missing")
    return head + BEGIN + "\n" + generated() + "\n" + END + tail


def main(argv: list[str]) -> int:
    page = PAGE.read_text(encoding="utf-8")
    new = render(page)
    if "--check" in argv:
        if new != page:
            print(f"{PAGE} is not current; run: python scripts/tables_doc.py")
            return 1
        return 0
    PAGE.write_text(new, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
