"""Why a child has no feasible home: the binding filters, in plain words.

Every sentence is one translatable message (:mod:`matcher.i18n`): "the only",
"both" and "all n" homes are three messages, because languages count them
differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher import i18n, languages, vocabulary
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _
from matcher.rules import FILTERS
from matcher.scoring.context import _and, _Context, _or_list, _years

__all__: list[str] = []

_ADJECTIVES = {"otherwise suitable": N_("otherwise suitable"), "remaining": N_("remaining"),
               "qualifying": N_("qualifying"), "such": N_("such"), "suitable": N_("suitable")}


@dataclass(frozen=True)
class _Where:
    """Which homes a message counts: ``school`` (within the school limit),
    ``suitable`` (otherwise suitable), ``left`` (after some filters) or ``total``."""

    kind: str
    limit: float = 0.0
    filters: str = ""

    def homes(self, n: int) -> str:
        """``'home within 45 min of school'`` (singular for ``n == 1``, else plural)."""
        if self.kind == "school":
            text = ngettext("home within {limit} min of school",
                            "homes within {limit} min of school", n)
        elif self.kind == "suitable":
            text = ngettext("otherwise suitable home", "otherwise suitable homes", n)
        elif self.kind == "left":
            text = ngettext("home left after the rules on {filters}",
                            "homes left after the rules on {filters}", n)
        else:
            text = ngettext("home in total", "homes in total", n)
        return text.format(limit=_g(self.limit), filters=self.filters)


def _g(value: float) -> str:
    """A number as ``:g`` writes it, in the current language (45, 12.5)."""
    value = float(value)
    return i18n.format_number(value, 0 if value == int(value) else 1)


def _all(n: int, adjective: str, one: str, two: str, many: str, **fields: object) -> str:
    """``one`` for the only home, ``two`` for both, ``many`` for all ``n`` (with ``{adj}``)."""
    text = one if n == 1 else two if n == 2 else many
    return text.format(n=n, adj=_(_ADJECTIVES[adjective]), **fields)


def _diagnose(ctx: _Context, c: int, masks: dict[str, np.ndarray],
              school_min: np.ndarray) -> tuple[str, str]:
    """Return ``(binding filters, reason)`` for a child without feasible homes.

    A filter is *binding* when relaxing it alone would give the child a home.
    Without a binding filter, the reason walks the funnel to the first filter
    that leaves no home.
    """
    loo = {f: np.logical_and.reduce([masks[g] for g in FILTERS if g != f]) for f in FILTERS}
    binding = [f for f in FILTERS if loo[f].any()]
    has_school = not np.isnan(ctx.school_limit[c])
    if binding:
        where = _Where("school", limit=float(ctx.school_limit[c])) if has_school \
            else _Where("suitable")
        order = sorted(binding, key=lambda f: (f not in ("school", "contacts"),
                                               FILTERS.index(f)))
        msgs = [_why(ctx, c, f, loo[f], school_min, binding=binding, where=where,
                     adjective=None) for f in order]
        return ";".join(binding), "; ".join(msgs)
    steps = {
        "capacity": _("with free capacity"),
        "kind": _("open to this child by kind"),
        "age": _("approved for age {age}").format(age=ctx.age[c]),
        "household": _("with no own child too close in age"),
        "competences": _("with the needed competence"),
        "language": _("speaking a required language"),
        "avoid": _("outside the municipalities the child avoids"),
        "school": (_("within {limit} min of school").format(limit=_g(ctx.school_limit[c]))
                   if has_school else _("(no school anchor)")),
        "contacts": _("within the child's contact limits"),
        "veto": _("not vetoed"),
    }
    cum = np.ones(len(ctx.home_ids), dtype=bool)
    chain = []
    for f in FILTERS:  # after the loop, f is the filter that emptied the funnel
        before, cum = cum, cum & masks[f]
        chain.append(f"{int(cum.sum())} {steps[f]}")
        if not cum.any():
            break
    n_homes = len(ctx.home_ids)
    text = _("no single filter explains it; of {homes}: {chain}").format(
        homes=ngettext("{n} home", "{n} homes", n_homes).format(n=n_homes),
        chain=", ".join(chain))
    if before.any():
        done = FILTERS[:FILTERS.index(f)]
        where = (_Where("left", filters=", ".join(vocabulary.names("rule", done))) if done
                 else _Where("total"))
        text += "; " + _why(ctx, c, f, before, school_min, binding=[f], where=where,
                            adjective="remaining")
    return "", text


def _why(ctx: _Context, c: int, f: str, cand: np.ndarray, school_min: np.ndarray, *,
         binding: Sequence[str], where: _Where, adjective: str | None) -> str:
    """Explain why the candidate homes ``cand`` (which pass the other filters) fail ``f``.

    ``where`` describes the candidates in the age, competence and language
    messages; ``adjective`` (e.g. ``"remaining"``) replaces the default wording
    of the others.
    """
    n = int(cand.sum())
    if f == "capacity":
        return _all(n, adjective or "otherwise suitable",
                    _("the only {adj} home is full (capacity 0)"),
                    _("both {adj} homes are full (capacity 0)"),
                    _("all {n} {adj} homes are full (capacity 0)"))
    if f == "kind":
        n_kin = int((cand & ctx.is_kin).sum())
        n_em = int((cand & ctx.is_em).sum())
        parts = []
        if n_kin:
            parts.append(ngettext("{n} kinship home for other children",
                                  "{n} kinship homes for other children", n_kin).format(n=n_kin))
        if n_em:
            parts.append(ngettext(
                "{n} emergency home (acute placements only; this child is planned)",
                "{n} emergency homes (acute placements only; this child is planned)",
                n_em).format(n=n_em))
        return _all(n, adjective or "otherwise suitable",
                    _("the only {adj} home is reserved: {parts}"),
                    _("both {adj} homes are reserved: {parts}"),
                    _("all {n} {adj} homes are reserved: {parts}"), parts=", ".join(parts))
    if f == "age":
        ranges = pd.Series([f"{lo}-{hi}" for lo, hi in
                            zip(ctx.min_age[cand], ctx.max_age[cand], strict=True)])
        counts = ranges.value_counts(sort=True)
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        if len(counts) == 1:
            text = counts.index[0]
        else:
            shown = ", ".join(_("{range} ({homes})").format(
                range=r, homes=ngettext("{n} home", "{n} homes", int(k)).format(n=int(k)))
                for r, k in counts.iloc[:5].items())
            text = shown if len(counts) <= 5 else _("{list} and {n} more").format(
                list=shown, n=len(counts) - 5)
        return ngettext("no home approved for age {age} ({n} {homes}, but its age range is "
                        "{ranges})",
                        "no home approved for age {age} ({n} {homes}, but their age ranges "
                        "are {ranges})", n).format(age=ctx.age[c], n=n, homes=where.homes(n),
                                                   ranges=text)
    if f == "competences":
        needs = np.flatnonzero(ctx.hard_needs[c])
        detail = "; ".join(
            _("{need} needs {competences}, found in {found} of {n}").format(
                need=vocabulary.name("need", ctx.need_names[j]), competences=ctx.need_text[j],
                found=int((cand & ctx.need_meets[j]).sum()), n=n) for j in needs)
        if n == 1:
            return _("the only {home} lacks a needed competence ({detail})").format(
                home=where.homes(1), detail=detail)
        return _("none of the {n} {homes} has every needed competence ({detail})").format(
            n=n, homes=where.homes(n), detail=detail)
    if f == "household":
        gap = ctx.rules.own_child_gap(slice(c, c + 1))[0]
        closest = float(np.min(gap[cand], initial=np.inf))
        return _all(n, adjective or "otherwise suitable",
                    _("the only {adj} home has an own child closer in age than {gap} to this "
                      "child (age {age}; closest: {closest} apart; rule "
                      "min_age_gap_own_children)"),
                    _("both {adj} homes have an own child closer in age than {gap} to this "
                      "child (age {age}; closest: {closest} apart; rule "
                      "min_age_gap_own_children)"),
                    _("all {n} {adj} homes have an own child closer in age than {gap} to this "
                      "child (age {age}; closest: {closest} apart; rule "
                      "min_age_gap_own_children)"),
                    gap=_years(ctx.rules.min_age_gap), age=ctx.age[c], closest=_years(closest))
    if f == "language":
        langs = languages.names(sorted(ctx.rules.lang_names[j]
                                       for j in np.flatnonzero(ctx.rules.child_lang[c])))
        text = (_("no {adj} home speaks {languages} (language required; {n} {homes} checked)")
                if adjective else
                _("no home speaks {languages} (language required; {n} {homes} checked)"))
        return text.format(adj=_(_ADJECTIVES[adjective]) if adjective else "",
                           languages=_or_list(langs), n=n, homes=where.homes(n))
    if f == "avoid":
        munis = sorted({vocabulary.municipality(m) for m in ctx.home_muni_text[cand]})
        return _all(n, adjective or "otherwise suitable",
                    _("the only {adj} home is in a municipality the child does not want to "
                      "live in ({municipalities})"),
                    _("both {adj} homes are in a municipality the child does not want to live "
                      "in ({municipalities})"),
                    _("all {n} {adj} homes are in a municipality the child does not want to "
                      "live in ({municipalities})"), municipalities=", ".join(munis))
    if f == "contacts":
        return _contacts(ctx, c, cand, n, adjective)
    if f == "school":
        quals = []
        if "competences" in binding and ctx.hard_needs[c].any():
            needs = np.flatnonzero(ctx.hard_needs[c])
            quals.append(_("with competence {competences}").format(
                competences=_and([ctx.need_text[j] for j in needs])))
        if "age" in binding:
            quals.append(_("approved for age {age}").format(age=ctx.age[c]))
        what = (_("home {qualities}").format(qualities=" ".join(quals))
                if quals and adjective is None
                else _("{adj} home").format(adj=_(_ADJECTIVES[adjective or "suitable"])))
        nearest = float(np.min(school_min[cand], initial=np.inf))
        near = (_("nearest such home: {minutes} min").format(
            minutes=i18n.format_number(nearest, 1)) if np.isfinite(nearest)
            else _unreachable(n, "such"))
        return _("no {home} within {limit} min of school ({nearest})").format(
            home=what, limit=_g(ctx.school_limit[c]), nearest=near)
    lives = int(ctx.not_kept[c]) if len(ctx.not_kept) else -1
    if lives >= 0 and cand[lives]:
        # the current home is excluded like a veto, but no caseworker vetoed it
        return _all(n, adjective or "qualifying",
                    _("the only {adj} home is {home}, where the child lives now; it has not "
                      "said it keeps the child (current_home_keeps)"),
                    _("both {adj} homes are excluded: {home}, where the child lives now, has "
                      "not said it keeps the child (current_home_keeps), and the other is "
                      "vetoed"),
                    _("all {n} {adj} homes are excluded: {home}, where the child lives now, "
                      "has not said it keeps the child (current_home_keeps), and the others "
                      "are vetoed"), home=ctx.home_ids[lives])
    return _all(n, adjective or "qualifying", _("the only {adj} home is vetoed"),
                _("both {adj} homes are vetoed"), _("all {n} {adj} homes are vetoed"))


def _unreachable(n: int, adjective: str) -> str:
    return _all(n, adjective,
                _("the only {adj} home is not reachable by road within the travel-time limit"),
                _("both {adj} homes are not reachable by road within the travel-time limit"),
                _("all {n} {adj} homes are not reachable by road within the travel-time "
                  "limit"))


def _contacts(ctx: _Context, c: int, cand: np.ndarray, n: int, adjective: str | None) -> str:
    """Why no candidate home keeps every contact within its ``max_minutes``."""
    lo, hi = ctx.lim_ptr[c], ctx.lim_ptr[c + 1]
    t = ctx.gather(ctx.lim_col[lo:hi])
    such = adjective or "otherwise suitable"
    msgs = []
    for j in range(hi - lo):
        limit = ctx.lim_limit[lo + j]
        if (cand & (t[j] <= limit)).any():
            continue
        nearest = float(np.min(t[j][cand], initial=np.inf))
        near = (_("nearest {adj} home: {minutes} min").format(
            adj=_(_ADJECTIVES[such]), minutes=i18n.format_number(nearest, 1))
            if np.isfinite(nearest) else _unreachable(n, such))
        text = (_("no {adj} home within {limit} min of {contact} ({nearest})") if adjective
                else _("no home within {limit} min of {contact} ({nearest})"))
        msgs.append(text.format(adj=_(_ADJECTIVES[adjective]) if adjective else "",
                                limit=_g(limit), contact=ctx.lim_label[lo + j], nearest=near))
    if msgs:
        return "; ".join(msgs)
    each = ", ".join(_("{contact} within {limit} min ({homes})").format(
        contact=ctx.lim_label[lo + j], limit=_g(ctx.lim_limit[lo + j]),
        homes=ngettext("{n} home", "{n} homes", k).format(n=k))
        for j in range(hi - lo)
        for k in [int((cand & (t[j] <= ctx.lim_limit[lo + j])).sum())])
    return _("no {adj} home is within every contact limit at once ({limits})").format(
        adj=_(_ADJECTIVES[such]), limits=each)
