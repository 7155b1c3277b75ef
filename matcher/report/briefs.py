"""A brief per child for the dialogue meeting (Bufdir's action plan, measure 3).

:func:`build_briefs` renders, for every child of a run, ``briefs/<child_id>.md``
and ``briefs/<child_id>.html`` (:func:`write_briefs`):

* the proposed home and the next best homes (the shortlist), with travel
  minutes to school, network and parents;
* the municipality of the home: the child's own, one of its cooperation
  (``[scoring] pools``) or another;
* which needs the home meets by competence and which need training;
* the child's wishes (issue 13: languages, culture, municipalities to avoid,
  school and contact travel limits), met or not, and whether the child was heard;
* the support plan: training, a resource family, a supervisor (*tilsynsperson*),
  a relief home (*besøkshjem*) and the risk flags with their remedies (only when
  a support plan is given, :func:`matcher.planning.support_network.support_network`;
  a match run has none);
* for a child without a proposal, the reason and what would change it: the
  homes that come closest to qualifying and what each lacks.

A brief carries pseudonymous ids only (child, home, sibling group), municipality
numbers and minutes: no names, addresses or coordinates. The HTML is one
self-contained page (inline CSS, nothing loaded) that prints on one or two A4
pages; every value is escaped. Text is in the language in effect
(:mod:`matcher.i18n`), and the page says so in ``<html lang>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher import i18n, languages, rules, vocabulary
from matcher.config import Settings
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.io import files
from matcher.report.common import synthetic_note
from matcher.report.markdown import _cell, reason_codes, reason_text

if TYPE_CHECKING:
    from matcher.planning.support_network import SupportNetwork
    from matcher.run import RunResult

__all__ = ["BRIEFS", "Brief", "brief", "brief_file_name", "build_briefs", "write_briefs"]

BRIEFS = "briefs"
"""Folder of the briefs inside a run folder."""
_NEAR_HOMES = 5
"""Homes shown as coming closest to qualifying, for a child without a proposal."""
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


@dataclasses.dataclass(frozen=True)
class Brief:
    """One child's brief in both formats (text in the language it was built in)."""

    child_id: str
    markdown: str
    html: str

    def _repr_markdown_(self) -> str:
        return self.markdown


# --------------------------------------------------------------------------- blocks


@dataclasses.dataclass(frozen=True)
class _Text:
    """A translated sentence with ``{fields}``; the fields are escaped per format."""

    template: str
    fields: Mapping[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclasses.dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclasses.dataclass(frozen=True)
class _Note:
    text: _Text


@dataclasses.dataclass(frozen=True)
class _Items:
    items: tuple[_Text, ...]


_Block = _Text | _Heading | _Table | _Note | _Items
_Pair = Mapping[str, Any]
"""One row of the pairs table (:data:`matcher.scoring.PAIR_COLUMNS`)."""


def _md_text(t: _Text) -> str:
    return t.template.format(**{k: _cell(v) for k, v in t.fields.items()})


_CODE = re.compile(r"`([^`{}]+)`")


def _html_text(t: _Text) -> str:
    template = _CODE.sub(r"<code>\1</code>", html.escape(t.template))
    return template.format(**{k: html.escape(str(v)) for k, v in t.fields.items()})


def _to_markdown(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, _Heading):
            out += ["#" * b.level + " " + _cell(b.text), ""]
        elif isinstance(b, _Text):
            out += [_md_text(b), ""]
        elif isinstance(b, _Note):
            out += ["> **" + _md_text(b.text) + "**", ""]
        elif isinstance(b, _Items):
            out += ["- " + _md_text(t) for t in b.items] + [""]
        else:
            out += ["| " + " | ".join(_cell(h) for h in b.header) + " |",
                    "|" + "|".join("---" for _h in b.header) + "|"]
            out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in b.rows]
            out.append("")
    return "\n".join(out)


_CSS = """
@page { size: A4; margin: 14mm 14mm 16mm 14mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt;
       line-height: 1.35; color: #111; max-width: 182mm; margin: 8mm auto; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; }
h2 { font-size: 11.5pt; margin: 4mm 0 1.5mm 0; border-bottom: 1px solid #999;
     break-after: avoid; page-break-after: avoid; }
p { margin: 1mm 0 2mm 0; }
ul { margin: 1mm 0 2mm 5mm; padding-left: 4mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm 0; font-size: 9pt;
        break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid #bbb; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
table.wide { font-size: 7.5pt; }
table.wide th, table.wide td { padding: 0.8mm 1mm; overflow-wrap: anywhere; }
th { background: #eee; }
.note { border: 2px solid #b2182b; color: #b2182b; padding: 1.5mm 3mm; font-weight: bold; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
"""


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal (quotes, backslashes and line ends escaped)."""
    return '"' + "".join(c if c.isalnum() or c in " .,:;()-_/" else f"\\{ord(c):x} "
                         for c in text) + '"'


def _footer_css(footer: str, page: str, of: str) -> str:
    """Print margin boxes: the run line bottom left, ``page N of M`` bottom right."""
    return ("@page { @bottom-left { content: " + _css_string(footer)
            + "; font-size: 8pt; color: #444; } @bottom-right { content: "
            + _css_string(page + " ") + " counter(page) " + _css_string(" " + of + " ")
            + " counter(pages); font-size: 8pt; color: #444; } }\n")


def _to_html(blocks: Sequence[_Block], title: str, footer: str = "") -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, _Heading):
            body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, _Text):
            body.append(f"<p>{_html_text(b)}</p>")
        elif isinstance(b, _Note):
            body.append(f"<p class=\"note\">{_html_text(b.text)}</p>")
        elif isinstance(b, _Items):
            body.append("<ul>" + "".join(f"<li>{_html_text(t)}</li>" for t in b.items) + "</ul>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                           for row in b.rows)
            wide = " class=\"wide\"" if len(b.header) > 6 else ""
            body.append(f"<table{wide}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
                        "</table>")
    return ("<!DOCTYPE html>\n"
            f"<html lang=\"{i18n.current()}\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}"
            + (_footer_css(footer, _("page"), _("of")) if footer else "")
            + "</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# --------------------------------------------------------------------------- values


def _minutes(value: object) -> str:
    """Minutes as text: ``12 min``, ``unreachable`` (``inf``) or ``none`` (no anchor, NaN)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _("none")
    if np.isnan(x):
        return _("none")
    if np.isinf(x):
        return _("unreachable")
    return i18n.format_minutes(x)


def _score(value: object) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return i18n.format_number(x, 2) if np.isfinite(x) else ""


def _tags(value: object) -> tuple[str, ...]:
    if isinstance(value, tuple | list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return tuple(t for t in value.split(";") if t)
    return ()


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _join(items: Sequence[str]) -> str:
    return ", ".join(items)


_WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                               *(f"COM{i}" for i in "0123456789¹²³"),
                               *(f"LPT{i}" for i in "0123456789¹²³")})
"""Names Windows reserves for devices, with any extension (``NUL.txt.html`` too)."""


def _reserved_on_windows(name: str) -> bool:
    return name.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED


def brief_file_name(child_id: str) -> str:
    """The file stem of a child's brief: the id itself when it is a safe file name.

    Any other id (with ``/``, spaces, a leading dot or ``-``, a name Windows
    reserves such as ``CON`` or ``NUL.txt``...) gets its unsafe characters
    replaced by ``_``, a leading ``.``/``-`` removed, and the first 8 hex digits
    of its SHA-256 appended, so that two ids never share a file.
    """
    if (_SAFE_NAME.match(child_id) and not child_id.endswith(".")
            and not child_id.startswith("-") and not _reserved_on_windows(child_id)):
        return child_id
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", child_id).lstrip(".-")[:40] or "child"
    if _reserved_on_windows(f"{stem}-"):
        stem = f"_{stem}"
    return f"{stem}-{hashlib.sha256(child_id.encode('utf-8')).hexdigest()[:8]}"


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass(frozen=True)
class _Run:
    """What every brief of a run reads, indexed once."""

    result: RunResult
    settings: Settings
    children: pd.DataFrame  # validated, as the rules read them
    homes: pd.DataFrame
    child: dict[str, dict[str, Any]]  # child_id -> row
    home: dict[str, dict[str, Any]]  # home_id -> row
    limits: dict[str, list[tuple[str, str, float]]]  # child -> (anchor, kind, max minutes)
    groups: dict[str, list[str]]  # sibling group -> child ids
    vetoes: set[tuple[str, str]]
    living: set[tuple[str, str]]  # (child, current home) pairs the home does not keep
    placements: set[tuple[str, str]]
    pairs: dict[tuple[str, str], dict[str, Any]]  # proposed and shortlisted pairs
    shortlist: dict[str, pd.DataFrame]
    assignments: dict[str, dict[str, Any]]  # child_id -> row
    origin: dict[str, int]  # home_id -> row of the travel-time table
    destination: dict[str, int]  # anchor id -> column of the travel-time table
    codes: dict[str, tuple[str, ...]]
    n_feasible: dict[str, int]
    not_heard: set[str]
    resource: pd.DataFrame | None  # by home_id
    synthetic: bool
    fictional: bool  # the places are made up too (the fjord)
    known: dict[str, str]  # municipality number -> name
    used: dict[str, int]  # home_id -> children proposed to it in this run (locked included)
    proposed_to: dict[str, str]  # child_id -> home_id, children with a proposal
    feasible: set[tuple[str, str]]  # (child, home) pairs that pass every rule
    contact_names: dict[str, str]  # contact anchor_id -> label or "relative 1"
    support: SupportNetwork | None = None
    flags: pd.DataFrame | None = None

    @classmethod
    def build(cls, result: RunResult, settings: Settings, *, synthetic: bool,
              resource_families: pd.DataFrame | None, fictional: bool = True,
              municipality_names: Mapping[str, str] | None = None) -> _Run:
        inputs = result.plan.inputs if result.plan is not None else result.inputs
        a = result.assignments
        placed = a.loc[a["home_id"].notna(), ["child_id", "home_id"]]
        scored = result.scored.pairs
        proposed = scored.merge(placed, on=["child_id", "home_id"], how="inner")
        wanted = pd.concat([proposed, result.shortlist], ignore_index=True).drop_duplicates(
            ["child_id", "home_id"])
        pairs = {(str(r["child_id"]), str(r["home_id"])): r
                 for r in wanted.to_dict("records")}
        short = {str(c): g.sort_values("rank", kind="stable")
                 for c, g in result.shortlist.groupby("child_id", sort=True)}
        contacts = inputs.contacts
        limits: dict[str, list[tuple[str, str, float]]] = {}
        if "max_minutes" in contacts.columns:
            for c, anchor, kind, limit in contacts.loc[
                    contacts["max_minutes"].notna(),
                    ["child_id", "anchor_id", "kind", "max_minutes"]].itertuples(index=False):
                limits.setdefault(str(c), []).append((str(anchor), str(kind), float(limit)))
        groups: dict[str, list[str]] = {}
        for c, g in zip(inputs.children["child_id"], inputs.children["sibling_group"],
                        strict=True):
            if isinstance(g, str) and g:
                groups.setdefault(g, []).append(str(c))
        resource = None
        if resource_families is not None:
            resource = resource_families.dropna(subset=["resource_id"]).set_index("home_id")
        living = rules.current_home_vetoes(inputs.children, inputs.homes)
        history = result.history if result.history is not None else pd.DataFrame(
            columns=["child_id", "home_id", "binding", "sibling_group_size"])
        return cls(
            result=result, settings=settings,
            children=inputs.children, homes=inputs.homes,
            child={str(r["child_id"]): r for r in inputs.children.to_dict("records")},
            home={str(r["home_id"]): r for r in inputs.homes.to_dict("records")},
            limits=limits, groups={g: sorted(m) for g, m in groups.items()},
            vetoes=set(zip(inputs.vetoes["child_id"], inputs.vetoes["home_id"], strict=True)),
            living=set(zip(living["child_id"], living["home_id"], strict=True)),
            placements=set(zip(inputs.placements["child_id"], inputs.placements["home_id"],
                               strict=True)),
            pairs=pairs, shortlist=short,
            assignments={str(r["child_id"]): r for r in a.to_dict("records")},
            origin={str(h): i for i, h in enumerate(result.times.origin_ids)},
            destination={str(d): i for i, d in enumerate(result.times.destination_ids)},
            codes=reason_codes(history, result.summary.sibling_policy),
            n_feasible={str(c): int(n) for c, n in zip(
                result.scored.funnel["child_id"], result.scored.funnel["n_feasible"],
                strict=True)},
            not_heard=set(result.summary.children_not_heard),
            resource=resource, synthetic=synthetic, fictional=fictional,
            known=vocabulary.municipality_names(municipality_names),
            used={str(h): int(n) for h, n in placed["home_id"].value_counts().items()},
            proposed_to={str(c): str(h) for c, h in placed.itertuples(index=False)},
            feasible=set(zip(scored.loc[scored["feasible"], "child_id"].astype(str),
                             scored.loc[scored["feasible"], "home_id"].astype(str),
                             strict=True)),
            contact_names=vocabulary.contacts(contacts))

    def municipality(self, code: object) -> str:
        """The name of a municipality number (the run's names, then the register)."""
        return vocabulary.municipality(code, self.known)

    def free_after(self, home_id: str) -> int:
        """Free places of a home after this run's proposals."""
        return int(self.home[home_id]["capacity"]) - self.used.get(home_id, 0)

    def pair(self, child_id: str, home_id: str) -> _Pair | None:
        return self.pairs.get((child_id, home_id))

    def minutes_to(self, home_id: str, anchor_id: str) -> float:
        """Minutes home -> anchor from the run's table (``inf`` when absent)."""
        i, j = self.origin.get(home_id), self.destination.get(anchor_id)
        if i is None or j is None:
            return float("inf")
        return float(self.result.times.minutes[i, j])


def build_briefs(result: RunResult, *, settings: Settings | None = None,
                 synthetic: bool = False, fictional: bool = True,
                 resource_families: pd.DataFrame | None = None,
                 municipality_names: Mapping[str, str] | None = None,
                 support: SupportNetwork | None = None,
                 risk_flags: pd.DataFrame | None = None) -> list[Brief]:
    """Render one brief per child of a run, in ``child_id`` order.

    Pure: the run in, text out (the language in effect, :func:`matcher.i18n.current`).

    Parameters
    ----------
    result
        The run (:func:`matcher.pipeline.run`).
    settings
        The settings of the run (rules, pools, limits); defaults without it.
    synthetic
        Mark every brief as synthetic data.
    fictional
        With ``synthetic``: the places are made up too (the fjord), not only the
        people (the Oslo demo on real geography); the banner says which.
    resource_families
        Homes with their resource family (``home_id, resource_id, minutes``, as
        :attr:`matcher.planning.SupportAssignment.assignments`), or ``None``: a
        match run has no resource-family plan, and the brief says so.
    support, risk_flags
        The support network (``matcher support``,
        :func:`matcher.planning.support_network.support_network`, planned with the
        run's proposals) and its risk flags (:func:`matcher.planning.risk.risk_flags`);
        the support plan section shows the child's supervisor, relief home,
        course runs, resource family and flags.

    municipality_names
        The run's own municipality names (number -> name, such as the fjord's
        ``kommunenavn``), over the 2024 register.

    Returns
    -------
    list of Brief
        One per child of ``result.assignments``.
    """
    run = _Run.build(result, settings or Settings(), synthetic=synthetic,
                     resource_families=resource_families, fictional=fictional,
                     municipality_names=municipality_names)
    if support is not None:
        run = dataclasses.replace(run, support=support, flags=risk_flags)
        if resource_families is None and support.families is not None:
            assigned = support.families.assignments
            run = dataclasses.replace(run, resource=assigned.dropna(subset=["resource_id"])
                                      .set_index("home_id"))
    out = []
    for child_id in sorted(run.assignments):
        blocks, title = _brief(run, child_id)
        out.append(Brief(child_id=child_id, markdown=_to_markdown(blocks),
                         html=_to_html(blocks, title, _footer(run, child_id))))
    return out


def brief(result: RunResult, child_id: str, *, settings: Settings | None = None,
          synthetic: bool = False, fictional: bool = True,
          municipality_names: Mapping[str, str] | None = None) -> Brief:
    """Render one child's brief (see :func:`build_briefs`); shown as Markdown in a notebook.

    Raises
    ------
    InputError
        If ``child_id`` is not a child of the run.
    """
    from matcher.errors import InputError

    run = _Run.build(result, settings or Settings(), synthetic=synthetic, resource_families=None,
                     fictional=fictional, municipality_names=municipality_names)
    if child_id not in run.assignments:
        raise InputError(_("child '{child}' is not in this run").format(child=child_id))
    blocks, title = _brief(run, child_id)
    return Brief(child_id=child_id, markdown=_to_markdown(blocks),
                 html=_to_html(blocks, title, _footer(run, child_id)))


def _footer(run: _Run, child_id: str) -> str:
    """The line printed at the foot of every page: child, run date and configuration."""
    summary = run.result.summary
    return _("Child {child}; fostermatch run {date}, configuration {config}").format(
        child=child_id, date=i18n.format_date(summary.as_of), config=summary.config_hash[:8])


def write_briefs(folder: Path, briefs: Sequence[Brief]) -> Path:
    """Write ``briefs/<name>.md`` and ``.html`` atomically, owner-only; return the folder."""
    target = Path(folder) / BRIEFS
    target.mkdir(mode=0o700, exist_ok=True)
    for b in briefs:
        stem = brief_file_name(b.child_id)
        files.write_text(target / f"{stem}.md", b.markdown)
        files.write_text(target / f"{stem}.html", b.html)
    return target


# --------------------------------------------------------------------------- one brief


def _brief(run: _Run, child_id: str) -> tuple[list[_Block], str]:
    a = run.assignments[child_id]
    child = run.child[child_id]
    summary = run.result.summary
    title = _("Brief for the dialogue meeting: child {child}").format(child=child_id)
    blocks: list[_Block] = [_Heading(1, title)]
    if run.synthetic:
        blocks.append(_Note(_Text(_("{note}. Do not use for casework."), {"note": synthetic_note(
            {"synthetic": True, "fictional": run.fictional})})))
    as_of = summary.as_of
    day = i18n.format_date(as_of)
    facts = [_Text(_("Run date: {date}. Urgency: {urgency}. Age: {age}. Home municipality: "
                     "{municipality}."),
                   {"date": day, "urgency": vocabulary.name("urgency", str(child["urgency"])),
                    "age": int(child["age"]),
                    "municipality": run.municipality(child["municipality"])})]
    protection = child.get("address_protection")
    if isinstance(protection, str) and protection:
        facts.append(_Text(_("Address protected ({kind}): the child's points are used for "
                             "travel times only, and are in no map, layer or file."),
                           {"kind": vocabulary.name("address_protection", protection)}))
    group = child.get("sibling_group")
    if isinstance(group, str) and group:
        others = [m for m in run.groups.get(group, []) if m != child_id]
        facts.append(_Text(ngettext("Sibling group {group}, with {n} sibling.",
                                    "Sibling group {group}, with {n} siblings.", len(others)),
                           {"group": group, "n": len(others)}))
        own = run.proposed_to.get(child_id)
        for sib in others:
            there = run.proposed_to.get(sib)
            if there is None:
                text = _Text(_("Sibling {sibling}: no proposal in this run."), {"sibling": sib})
            elif there == own:
                text = _Text(_("Sibling {sibling}: proposed to the same home, {home}."),
                             {"sibling": sib, "home": there})
            else:
                text = _Text(_("Sibling {sibling}: proposed to {home} ({municipality})."),
                             {"sibling": sib, "home": there,
                              "municipality": run.municipality(run.home[there]["municipality"])})
            facts.append(text)
    since = child.get("waiting_since")
    if since is not None and not pd.isna(since):
        days = (pd.Timestamp(as_of) - pd.Timestamp(since)).days
        facts.append(_Text(ngettext("Waiting since {date}: {n} day.",
                                    "Waiting since {date}: {n} days.", days),
                           {"date": i18n.format_date(pd.Timestamp(since).date()), "n": days}))
    needs = _tags(child.get("needs"))
    facts.append(_Text(_("Needs: {needs}."), {"needs": _join(vocabulary.names("need", needs))
                                              or _("none recorded")}))
    blocks.append(_Items(tuple(facts)))
    blocks.append(_Text(_("The engine recommends; people decide. This brief holds pseudonymous "
                          "ids only: no names, addresses or coordinates.")))

    home = a["home_id"] if isinstance(a["home_id"], str) else None
    if home is not None:
        blocks += _proposed(run, child_id, child, a, home)
    else:
        blocks += _unmatched(run, child_id, child, a)
    blocks += _conclusion()
    return blocks, title


def _conclusion() -> list[_Block]:
    """The meeting's conclusion: empty lines to fill in by hand."""
    line = "." * 70
    return [_Heading(2, _("Conclusion of the meeting")),
            _Items(tuple(_Text("{label}: {line}", {"label": label, "line": line}) for label in (
                _("Decision"), _("Who does what, and by when"), _("Next meeting"),
                _("Present")))),
            _Text("{line}", {"line": line}), _Text("{line}", {"line": line})]


def _relation(run: _Run, child: Mapping[str, Any], home_id: str, pair: _Pair | None) -> _Text:
    muni = run.municipality(run.home[home_id]["municipality"])
    own = run.municipality(child["municipality"])
    relation = pair["municipality_relation"] if pair is not None else (
        "own" if run.home[home_id]["municipality"] == child["municipality"] else "other")
    if relation == "own":
        return _Text(_("{home} is in {municipality}, the child's own municipality."),
                     {"home": home_id, "municipality": muni})
    if relation == "pool":
        return _Text(_("{home} is in {municipality}, in the cooperation {pool} with the child's "
                       "municipality {own}."),
                     {"home": home_id, "municipality": muni, "pool": vocabulary.pool(
                         str(pair["pool"])) if pair is not None else "", "own": own})
    return _Text(_("{home} is in {municipality}, outside the child's municipality {own} and its "
                   "cooperation."), {"home": home_id, "municipality": muni, "own": own})


def _relation_short(relation: object) -> str:
    return {"own": _("own municipality"), "pool": _("cooperation")}.get(
        str(relation), _("other municipality"))


def _status(run: _Run, child_id: str, home: str) -> str:
    """Whether a home another child could take is free, proposed to another child, or full."""
    capacity = int(run.home[home]["capacity"])
    if capacity <= 0:
        return _("full (no free place)")
    free = run.free_after(home)
    others = run.used.get(home, 0) - (1 if run.proposed_to.get(child_id) == home else 0)
    if free > 0:
        return ngettext("free ({n} place left)", "free ({n} places left)", free).format(n=free)
    return (ngettext("proposed to another child", "proposed to other children", others)
            if others > 0 else _("full (no free place)"))


def _minutes_diff(delta: float, what: str) -> str | None:
    """``'4 min longer to school'`` or ``None`` when under a minute or unknown."""
    if not np.isfinite(delta) or abs(delta) < 1:
        return None
    m = i18n.format_minutes(abs(delta))
    return (_("{minutes} longer to {what}") if delta > 0 else _("{minutes} shorter to {what}")
            ).format(minutes=m, what=what)


def _compared(run: _Run, child_id: str, home: str, best: str) -> str:
    """Why ``home`` ranks where it does next to ``best`` (the proposed or best home), in words."""
    p, q = run.pair(child_id, home), run.pair(child_id, best)
    if p is None or q is None:
        return ""
    parts: list[str] = []
    train = _tags(p["training_needs"])
    if train:
        courses = rules.courses_for(train, run.settings.scoring) or list(train)
        parts.append(_("needs {courses} after the move").format(courses=_join(
            vocabulary.names("competence", courses))))
    elif _tags(q["training_needs"]):
        parts.append(_("needs no course"))
    for column, what in (("school_minutes", _("the school")),
                         ("network_minutes", _("the network")),
                         ("parent_minutes", _("the parents"))):
        a, b = float(p[column]), float(q[column])
        if np.isfinite(a) and np.isinf(b):
            parts.append(_("reaches {what}").format(what=what))
        elif np.isinf(a) and np.isfinite(b):
            parts.append(_("cannot reach {what}").format(what=what))
        else:
            diff = _minutes_diff(a - b, what)
            if diff:
                parts.append(diff)
    if str(p["municipality_relation"]) != str(q["municipality_relation"]):
        parts.append(_relation_short(p["municipality_relation"]))
    wishes_p = [w for w in _wishes(run, run.child[child_id], home, p) if w[2] is not None]
    wishes_q = [w for w in _wishes(run, run.child[child_id], best, q) if w[2] is not None]
    met_p, met_q = sum(bool(w[2]) for w in wishes_p), sum(bool(w[2]) for w in wishes_q)
    if met_p != met_q:
        parts.append(_("meets more of the child's wishes") if met_p > met_q
                     else _("meets fewer of the child's wishes"))
    return "; ".join(parts) or _("about as good")


def _homes_table(run: _Run, child_id: str, rows: Sequence[tuple[str, str]],
                 best: str | None = None) -> _Table:
    """``(label, home_id)`` rows: status, minutes to school, network and parents, municipality,
    wishes met, score, and (with ``best``) how each compares with that home."""
    out = []
    for label, home in rows:
        pair = run.pair(child_id, home)
        wishes = _wishes(run, run.child[child_id], home, pair)
        judged = [w for w in wishes if w[2] is not None]
        met = sum(1 for w in judged if w[2])
        muni = run.municipality(run.home[home]["municipality"])
        status = "" if home == run.proposed_to.get(child_id) else _status(run, child_id, home)
        why = _compared(run, child_id, home, best) if best is not None and home != best else ""
        if pair is None:
            out.append((label, home, status, "", "", "", muni, "", "", why))
            continue
        out.append((label, home, status, _minutes(pair["school_minutes"]),
                    _minutes(pair["network_minutes"]), _minutes(pair["parent_minutes"]),
                    f"{muni} ({_relation_short(pair['municipality_relation'])})",
                    _("{met} of {n}").format(met=met, n=len(judged)) if judged else "",
                    _score(pair["score"]), why))
    header = (_("home"), _("home id"), _("status"), _("school"), _("network (mean)"),
              _("parents (mean)"), _("municipality"), _("wishes met"), _("score (0-1)"))
    if best is None:
        return _Table(header, tuple(r[:-1] for r in out))
    return _Table((*header, _("compared with {home}").format(home=best)), tuple(out))


def _score_note() -> _Text:
    return _Text(_("Minutes by car from the home: to school, and the weighted mean to the "
                   "network (relatives, friends, activities) and to the parents (contact "
                   "visits). The score runs from 0 to 1 (1 is best): a weighted sum of travel "
                   "time to school, network and parents, municipality, kinship, language and "
                   "culture; it ranks the homes for this child, and the run then gives each "
                   "home to the child it suits best overall."))


def _home_facts(run: _Run, home: str, pair: _Pair | None) -> _Items:
    """The proposed home: kind, ages, free places, own children, courses held and to offer."""
    h = run.home[home]
    ages = tuple(int(x) for x in (h.get("own_children_ages") or ()))
    capacity = int(h["capacity"])
    training = _tags(pair["training_needs"]) if pair is not None else ()
    courses = rules.courses_for(training, run.settings.scoring)
    held = _tags(h.get("competences"))
    items = [
        _Text(_("Kind: {kind}; prepared for ages {low} to {high}."),
              {"kind": vocabulary.name("home_kind", str(h["kind"])), "low": int(h["min_age"]),
               "high": int(h["max_age"])}),
        _Text(_("Free places: {before} before this run, {after} after its proposals."),
              {"before": capacity, "after": run.free_after(home)}),
        _Text(_("Own children: {ages}.") if ages else _("Own children: none recorded."),
              {"ages": _("aged {ages}").format(ages=_join([str(x) for x in ages]))}),
        _Text(_("Courses and competences held: {held}."),
              {"held": _join(vocabulary.names("competence", held)) or _("none recorded")}),
        _Text(_("Courses to offer after the move: {courses}."),
              {"courses": _join(vocabulary.names("competence", courses))
               or (_join(vocabulary.names("need", training)) if training else _("none"))}),
    ]
    return _Items(tuple(items))


def _proposed(run: _Run, child_id: str, child: Mapping[str, Any], a: Mapping[str, Any],
              home: str) -> list[_Block]:
    pair = run.pair(child_id, home)
    blocks: list[_Block] = [_Heading(2, _("Proposed home: {home}").format(home=home))]
    status = []
    if bool(a["locked"]) or (child_id, home) in run.placements:
        status.append(_Text(_("{home} is a locked placement: already decided."),
                            {"home": home}))
    if bool(a.get("kinship")):
        status.append(_Text(_("{home} is the child's own kinship home (kinship and network)."),
                            {"home": home}))
    decision = _text(a.get("decision"))
    if decision == "approved":
        status.append(_Text(_("The proposal {home} was approved by child welfare services."),
                            {"home": home}))
    elif decision == "considering":
        status.append(_Text(_("The proposal {home} is being considered (reserved)."),
                            {"home": home}))
    change = _text(a.get("change_reason"))
    if change:
        status.append(_Text(_("Changed since the previous run: {why}"), {"why": change}))
    blocks += status
    blocks.append(_home_facts(run, home, pair))

    blocks.append(_Heading(2, _("Alternatives")))
    rows = [(_("proposed"), home)]
    short = run.shortlist.get(child_id)
    if short is not None:
        others = [str(h) for h in short["home_id"] if h != home][:max(0, len(short) - 1)]
        rows += [(_("alternative {rank}").format(rank=i + 1), h) for i, h in enumerate(others)]
    blocks.append(_homes_table(run, child_id, rows, best=home))
    if pair is not None and short is not None and any(
            float(s) > float(pair["score"]) + 1e-9 for h, s in zip(
                short["home_id"], short["score"], strict=True) if h != home):
        blocks.append(_Text(_("A home with a higher score for this child is proposed to "
                              "another child or was left free: the run gives each home to the "
                              "child it suits best when all children are counted together.")))
    blocks.append(_score_note())

    blocks += [_Heading(2, _("Municipality or cooperation")), _relation(run, child, home, pair)]

    blocks.append(_Heading(2, _("Needs")))
    blocks += _needs(run, child, home, pair)

    blocks.append(_Heading(2, _("Language, culture and the child's wishes")))
    blocks += _heard(run, child_id, child)
    wishes = _wishes(run, child, home, pair)
    if wishes:
        blocks.append(_Table((_("wish"), _("for {home}").format(home=home), _("met")),
                             tuple((w, detail, _met(ok)) for w, detail, ok in wishes)))
    else:
        blocks.append(_Text(_("No wishes about language, culture, municipalities or travel "
                              "limits are recorded.")))

    blocks.append(_Heading(2, _("Support plan")))
    blocks += _support(run, home, pair, child_id=child_id)
    return blocks


def _met(ok: bool | None) -> str:
    return "" if ok is None else (_("yes") if ok else _("no"))


def _heard(run: _Run, child_id: str, child: Mapping[str, Any]) -> list[_Block]:
    heard = child.get("heard_on")
    age_from = run.result.summary.hear_from_age
    if heard is not None and not pd.isna(heard):
        text = _Text(_("Heard on {date}."), {"date": i18n.format_date(pd.Timestamp(heard).date())})
    else:
        text = _Text(_("No hearing is recorded."))
    blocks: list[_Block] = [text]
    if child_id in run.not_heard:
        days = run.result.summary.heard_max_age_days
        blocks.append(_Text(_("The child is {age} or older and was not heard within {days} "
                              "days: hear the child before the placement is decided."),
                            {"age": age_from, "days": days}))
    return blocks


def _needs(run: _Run, child: Mapping[str, Any], home: str, pair: _Pair | None) -> list[_Block]:
    needs = _tags(child.get("needs"))
    if not needs:
        return [_Text(_("No needs are recorded for the child."))]
    training = set(_tags(pair["training_needs"])) if pair is not None else set()
    comps = set(_tags(run.home[home]["competences"]))
    rows = []
    for need in needs:
        accepted = rules.accepted_competences(need, run.settings.scoring)
        label = vocabulary.name("need", need)
        if need in training:
            course = run.settings.scoring.course_for(need)
            rows.append((label, _("course after the move"), _join(vocabulary.names(
                "competence", [course] if course else accepted)) or "-"))
        else:
            have = [c for c in accepted if c in comps]
            rows.append((label, _("met by competence"),
                         _join(vocabulary.names("competence", have)) or "-"))
    return [_Table((_("need"), _("for {home}").format(home=home), _("competence")),
                   tuple(rows))]


def _wishes(run: _Run, child: Mapping[str, Any], home: str,
            pair: _Pair | None) -> list[tuple[str, str, bool | None]]:
    """``(wish, what the home gives, met)`` for each wish the child has (issue 13)."""
    out: list[tuple[str, str, bool | None]] = []
    langs = _tags(child.get("languages"))
    if langs:
        shared = _tags(pair["shared_languages"]) if pair is not None else ()
        required = bool(child.get("language_required", False))
        wish = (_("language {languages} (required)") if required
                else _("language {languages}")).format(languages=_join(languages.names(langs)))
        out.append((wish, _("speaks {languages}").format(
            languages=_join(languages.names(shared))) if shared
                    else _("speaks none of them"), bool(shared)))
    culture = _tags(child.get("culture"))
    if culture:
        shared = _tags(pair["shared_culture"]) if pair is not None else ()
        out.append((_("culture {tags}").format(tags=_join(vocabulary.names("culture", culture))),
                    _("shares {tags}").format(tags=_join(vocabulary.names("culture", shared)))
                    if shared
                    else _("shares none of them"), bool(shared)))
    avoid = _tags(child.get("avoid_municipalities"))
    if avoid:
        muni = str(run.home[home]["municipality"])
        out.append((_("not to live in {municipalities}").format(
            municipalities=_join([run.municipality(m) for m in avoid])),
                    _("in {municipality}").format(municipality=run.municipality(muni)),
                    muni not in avoid))
    limit = child.get("max_school_minutes")
    if limit is not None and not pd.isna(limit) and pd.notna(child.get("school_lon")):
        t = float(pair["school_minutes"]) if pair is not None else run.minutes_to(
            home, f"{child['child_id']}:school")
        out.append((_("at most {limit} to school").format(limit=_minutes(limit)),
                    _minutes(t), bool(t <= float(limit))))
    for anchor, kind, max_minutes in run.limits.get(str(child["child_id"]), []):
        t = run.minutes_to(home, anchor)
        out.append((_("at most {limit} to {contact}").format(
            limit=_minutes(max_minutes), contact=_contact(run, anchor, kind)), _minutes(t),
            bool(t <= max_minutes)))
    return out


def _contact(run: _Run, anchor: str, kind: str) -> str:
    """A contact as people name it: its label, else kind and number within the kind."""
    return run.contact_names.get(anchor, vocabulary.name("contact_kind", kind))


def _support(run: _Run, home: str, pair: _Pair | None, *,
             child_id: str | None = None) -> list[_Block]:
    training = _tags(pair["training_needs"]) if pair is not None else ()
    items: list[_Text] = []
    courses = rules.courses_for(training, run.settings.scoring)
    runs = _course_runs(run, home)
    if runs:
        items += runs
    elif courses:
        items.append(_Text(_("Courses: offer {home} {courses} after the move (for {needs})."),
                           {"home": home,
                            "courses": _join(vocabulary.names("competence", courses)),
                            "needs": _join(vocabulary.names("need", training))}))
    elif training:  # a need without a course (an explicit assignment.trainable_needs)
        items.append(_Text(_("Training: {home} needs training in {needs}, before or soon after "
                             "the move."), {"home": home,
                                            "needs": _join(vocabulary.names("need", training))}))
    else:
        items.append(_Text(_("Courses: {home} needs no course for this child."),
                           {"home": home}))
    if run.resource is None:
        items.append(_Text(_("Resource family: not part of this run; plan resource families "
                             "with `matcher resource-families`.")))
    elif home in run.resource.index:
        r = run.resource.loc[home]
        items.append(_Text(_("Resource family: {family}, {minutes} from {home}."),
                           {"family": r["resource_id"], "minutes": _minutes(r["minutes"]),
                            "home": home}))
    else:
        items.append(_Text(_("Resource family: {home} has none in the plan."), {"home": home}))
    if run.support is None:
        items.append(_Text(_("Relief care (avlastning): the engine holds no data on relief "
                             "care; agree on it in the meeting.")))
        return [_Items(tuple(items))]
    items += _network_items(run, home, child_id)
    return [_Items(tuple(items))]


def _placement_row(run: _Run, home: str, child_id: str | None) -> dict[str, Any] | None:
    """The child's row of the support network, when it was planned in this home."""
    if run.support is None or child_id is None:
        return None
    p = run.support.placements
    hit = p[(p["child_id"] == child_id) & (p["home_id"] == home)]
    return hit.iloc[0].to_dict() if len(hit) else None


def _course_runs(run: _Run, home: str) -> list[_Text]:
    """The home's courses with their venue and run, from the support network."""
    if run.support is None:
        return []
    c = run.support.courses
    out = []
    for r in c[c["home_id"] == home].itertuples(index=False):
        if isinstance(r.venue_id, str):
            out.append(_Text(_("Course {course} (kurs): offer {home} the run {run} at "
                               "{venue}, {minutes} away; dates are agreed later."),
                             {"course": r.course, "home": home, "run": r.run_id,
                              "venue": r.venue_id, "minutes": _minutes(r.minutes)}))
        else:
            out.append(_Text(_("Course {course} (kurs): missing, {reason}."),
                             {"course": r.course, "reason": r.reason}))
    return out


def _network_items(run: _Run, home: str, child_id: str | None) -> list[_Text]:
    """Supervisor, relief home and risk flags of the child in ``home`` (Norwegian role names)."""
    row = _placement_row(run, home, child_id)
    if row is None:
        return [_Text(_("Supervisor (tilsynsperson) and relief home (besøkshjem): {home} is "
                        "not in the support plan for this child; run `matcher support` with "
                        "the proposals."), {"home": home})]
    items = []
    if isinstance(row["supervisor_id"], str):
        items.append(_Text(_("Supervisor (tilsynsperson): {supervisor}, {minutes} from {home}; "
                             "{visits} visits a year."),
                           {"supervisor": row["supervisor_id"],
                            "minutes": _minutes(row["supervisor_minutes"]), "home": home,
                            "visits": run.settings.support.visits_per_child}))
    else:
        items.append(_Text(_("Supervisor (tilsynsperson): missing, {reason}."),
                           {"reason": row["supervisor_reason"]}))
    if int(row["relief_weekends"]) <= 0:
        items.append(_Text(_("Relief home (besøkshjem): no need for relief is recorded.")))
    elif isinstance(row["relief_id"], str):
        template = (_("Relief home (besøkshjem): {relief}, kin or the child's network, "
                      "{minutes} from {home}; {n} weekends a month.") if row["relief_kin"]
                    else _("Relief home (besøkshjem): {relief}, {minutes} from {home}; "
                           "{n} weekends a month."))
        items.append(_Text(template, {"relief": row["relief_id"],
                                      "minutes": _minutes(row["relief_minutes"]),
                                      "home": home, "n": int(row["relief_weekends"])}))
    else:
        items.append(_Text(_("Relief home (besøkshjem): missing, {reason}."),
                           {"reason": row["relief_reason"]}))
    flags = run.flags
    if flags is not None and child_id is not None:
        mine = flags[(flags["child_id"] == child_id) & (flags["home_id"] == home)]
        for f in mine.itertuples(index=False):
            items.append(_Text(_("Risk: {detail}. Remedy: {remedy}."),
                               {"detail": f.detail, "remedy": f.remedy}))
    return items


# --------------------------------------------------------------------------- no proposal


def _unmatched(run: _Run, child_id: str, child: Mapping[str, Any],
               a: Mapping[str, Any]) -> list[_Block]:
    blocks: list[_Block] = [_Heading(2, _("No proposal in this run"))]
    codes = run.codes.get(child_id, ())
    if codes:
        blocks.append(_Text(_("Reason: {reasons}."),
                            {"reasons": "; ".join(reason_text(c) for c in codes)}))
    blocks.append(_Text(_("In detail: {reason}"), {"reason": _text(a["reason"])
                                                    or _("no proposal")}))
    blocks.append(_Heading(2, _("What would change it")))
    group = child.get("sibling_group")
    members = run.groups.get(group, []) if isinstance(group, str) and group else []
    waiting = [m for m in members if m not in run.proposed_to]
    together = "siblings" in codes and len(waiting) > 1
    short = run.shortlist.get(child_id)
    homes = [str(h) for h in short["home_id"]] if short is not None else []
    if together:
        homes = [h for h in homes if _takes_group(run, h, waiting)]
    if homes:
        n = run.n_feasible.get(child_id, len(homes)) if not together else len(homes)
        if together:
            text = ngettext(
                "{n} home could take the whole sibling group ({size} children), but it has "
                "no room for all of them in this run:",
                "{n} homes could take the whole sibling group ({size} children), but none has "
                "room for all of them in this run. The best of them:", n)
        elif members:
            text = ngettext(
                "{n} home qualifies, but it has no place for this child in this run. A free "
                "place there, or room for the whole sibling group, would give the child a home:",
                "{n} homes qualify, but none has a place for this child in this run. A free "
                "place in one of them, or room for the whole sibling group, would give the "
                "child a home. The best of them:", n)
        else:
            text = ngettext(
                "{n} home qualifies, but it has no place for this child in this run. A free "
                "place there would give the child a home:",
                "{n} homes qualify, but none has a place for this child in this run. A free "
                "place in one of them would give the child a home. The best of them:", n)
        blocks.append(_Text(text, {"n": n, "size": len(waiting)}))
        blocks.append(_homes_table(run, child_id, [
            (_("qualifies {rank}").format(rank=i + 1), h) for i, h in enumerate(homes)]))
        blocks.append(_score_note())
    elif together:
        blocks.append(_Text(_("No home can take the whole sibling group ({size} children) in "
                              "this run: it needs a home that takes sibling groups, with "
                              "{size} free places, that suits every sibling."),
                            {"size": len(waiting)}))
    else:
        near = _near_misses(run, child_id)
        if near:
            one = all(len(lacks) == 1 for _h, _t, lacks in near)
            blocks.append(_Text(_("No home meets every rule. The homes that miss only one "
                                  "thing, closest first (a full home first, then the rules in "
                                  "order, then the shortest way to school):") if one else
                                _("No home meets every rule, and none misses only one thing. "
                                  "The homes that come closest (fewest rules unmet, then the "
                                  "shortest way to school), and what each lacks:")))
            blocks.append(_Table(
                (_("home id"), _("municipality"), _("school"), _("what it lacks")),
                tuple((h, run.municipality(run.home[h]["municipality"]), _minutes(t),
                       "; ".join(lacks)) for h, t, lacks in near)))
        else:
            blocks.append(_Text(_("There are no homes in this run.")))
    blocks.append(_Heading(2, _("Language, culture and the child's wishes")))
    blocks += _heard(run, child_id, child)
    wishes = _wish_list(child, run)
    blocks.append(_Items(tuple(_Text("{w}", {"w": w}) for w in wishes)) if wishes else
                  _Text(_("No wishes about language, culture, municipalities or travel limits "
                          "are recorded.")))
    return blocks


def _takes_group(run: _Run, home: str, members: Sequence[str]) -> bool:
    """Whether a home could take every waiting member of a sibling group: it takes sibling
    groups, has as many places as members, and every member passes every rule there."""
    h = run.home[home]
    return (bool(h.get("accepts_sibling_groups")) and int(h["capacity"]) >= len(members)
            and all((m, home) in run.feasible for m in members))


def _wish_list(child: Mapping[str, Any], run: _Run) -> list[str]:
    out = []
    langs = _tags(child.get("languages"))
    if langs:
        out.append((_("language {languages} (required)") if bool(child.get(
            "language_required", False)) else _("language {languages}")).format(
            languages=_join(languages.names(langs))))
    culture = _tags(child.get("culture"))
    if culture:
        out.append(_("culture {tags}").format(tags=_join(vocabulary.names("culture", culture))))
    avoid = _tags(child.get("avoid_municipalities"))
    if avoid:
        out.append(_("not to live in {municipalities}").format(
            municipalities=_join([run.municipality(m) for m in avoid])))
    limit = child.get("max_school_minutes")
    if limit is not None and not pd.isna(limit):
        out.append(_("at most {limit} to school").format(limit=_minutes(limit)))
    for anchor, kind, max_minutes in run.limits.get(str(child["child_id"]), []):
        out.append(_("at most {limit} to {contact}").format(
            limit=_minutes(max_minutes), contact=_contact(run, anchor, kind)))
    return out


def _near_misses(run: _Run, child_id: str) -> list[tuple[str, float, list[str]]]:
    """The homes closest to qualifying: those with the fewest failed rules (one, when any home
    misses only one thing), ordered by the rule they miss (in :data:`matcher.rules.FILTERS`
    order, so a full home that meets every other rule comes first), then school minutes,
    then id.

    Evaluates the rules of :mod:`matcher.rules` for this one child against
    every home, with the run's own travel times (no routing).
    """
    homes = run.homes.sort_values("home_id", kind="stable").reset_index(drop=True)
    if homes.empty:
        return []
    child = run.children[run.children["child_id"] == child_id].reset_index(drop=True)
    s = run.settings
    elig = rules.Eligibility.build(child, homes, s.scoring,
                                   trainable_needs=s.assignment.trainable_needs,
                                   kinship_training=s.assignment.kinship_training)
    home_ids = homes["home_id"].astype(str).to_numpy(dtype=object)
    locked = np.array([[(child_id, h) in run.placements for h in home_ids]])
    masks, _counts = elig.masks(slice(0, 1), places=homes["capacity"].to_numpy(), locked=locked)
    has_school = bool(pd.notna(child.at[0, "school_lon"]))
    school = np.array([run.minutes_to(h, f"{child_id}:school") for h in home_ids]) \
        if has_school else np.full(len(home_ids), np.nan)
    own_limit = child.at[0, "max_school_minutes"]
    limit = float(own_limit) if pd.notna(own_limit) else s.scoring.default_max_school_minutes
    masks["school"] = rules.school_ok(school[None, :], np.array([limit]),
                                      np.array([has_school]))
    limited = run.limits.get(child_id, [])
    contact_t = np.array([[run.minutes_to(h, a) for h in home_ids]
                          for a, _k, _m in limited]).reshape(len(limited), len(home_ids))
    masks["contacts"], _slack = rules.contacts_ok(
        contact_t, np.array([m for _a, _k, m in limited], dtype=float),
        np.zeros(len(limited), dtype=np.int64), 1)
    masks["veto"] = np.array([[(child_id, h) not in run.vetoes
                               and (child_id, h) not in run.living for h in home_ids]])
    failed = np.array([[not masks[f][0, j] for f in rules.FILTERS]
                       for j in range(len(home_ids))]).reshape(len(home_ids), len(rules.FILTERS))
    n_failed = failed.sum(axis=1)
    key = np.where(np.isnan(school), np.inf, school)
    first = np.argmax(failed, axis=1)  # the first rule unmet, in FILTERS order (capacity first)
    order = np.lexsort((home_ids.astype(str), key, first, n_failed))
    missing = [j for j in order if n_failed[j] > 0]
    if not missing:
        return []
    fewest = int(n_failed[missing[0]])
    out = []
    for j in [j for j in missing if n_failed[j] == fewest][:_NEAR_HOMES]:
        lacks = [_lacks(run, elig, child, homes, j, f, school[j], limit, limited,
                        contact_t[:, j] if len(limited) else np.zeros(0))
                 for k, f in enumerate(rules.FILTERS) if failed[j, k]]
        out.append((str(home_ids[j]), float(school[j]), lacks))
    return out


def _lacks(run: _Run, elig: rules.Eligibility, child: pd.DataFrame, homes: pd.DataFrame,
           j: int, f: str, school: float, limit: float,
           limited: Sequence[tuple[str, str, float]], contact_t: np.ndarray) -> str:
    """What home ``j`` lacks for the child under rule ``f``, in plain words with numbers."""
    h = homes.iloc[j]
    age = int(child.at[0, "age"])
    if f == "capacity":
        return _("no free place (capacity {capacity})").format(capacity=int(h["capacity"]))
    if f == "kind":
        if h["kind"] == "emergency":
            return _("an emergency home, for acute placements only")
        return _("a kinship home for another child")
    if f == "age":
        return _("approved for ages {low} to {high}, the child is {age}").format(
            low=int(h["min_age"]), high=int(h["max_age"]), age=age)
    if f == "household":
        gap = float(elig.own_child_gap(slice(0, 1))[0, j])
        return _("an own child {gap} years from the child's age (at least {rule} years "
                 "apart is the rule)").format(gap=i18n.format_number(gap, 0),
                                               rule=i18n.format_number(elig.min_age_gap, 0))
    if f == "competences":
        missing = [f"{vocabulary.name('need', n)} "
                   f"({_join(vocabulary.names('competence', elig.accepted[k])) or '-'})"
                   for k, n in enumerate(elig.need_names)
                   if elig.hard_needs[0, k] and not elig.need_meets[k, j]]
        return _("the competence for {needs}").format(needs=_join(missing))
    if f == "language":
        return _("speaks none of {languages}, which the child needs").format(
            languages=_join(languages.names(_tags(child.at[0, "languages"]))))
    if f == "avoid":
        return _("in {municipality}, where the child does not want to live").format(
            municipality=run.municipality(h["municipality"]))
    if f == "school":
        if not np.isfinite(school):
            return _("no road to the school within the travel-time limit")
        return _("{minutes} to school, over the limit of {limit}").format(
            minutes=_minutes(school), limit=_minutes(limit))
    if f == "contacts":
        parts = []
        for t, (anchor, kind, max_minutes) in zip(contact_t, limited, strict=True):
            if not t <= max_minutes:
                parts.append(_("{minutes} to {contact}, over the limit of {limit}").format(
                    minutes=_minutes(t), contact=_contact(run, anchor, kind),
                    limit=_minutes(max_minutes)))
        return "; ".join(parts)
    if (str(child.at[0, "child_id"]), str(h["home_id"])) in run.living:
        return _("{child} lives in {home} now, and the home has not said it keeps the "
                 "child").format(child=child.at[0, "child_id"], home=h["home_id"])
    return _("vetoed by the caseworker")
