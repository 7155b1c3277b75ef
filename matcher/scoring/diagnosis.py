"""Why a child has no feasible home: the binding filters, in plain words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from matcher.rules import FILTERS
from matcher.scoring.context import _Context, _n, _years

__all__: list[str] = []

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
        where = ("", f" within {ctx.school_limit[c]:g} min of school") if has_school \
            else ("otherwise suitable ", "")
        order = sorted(binding, key=lambda f: (f not in ("school", "contacts"),
                                               FILTERS.index(f)))
        msgs = [_why(ctx, c, f, loo[f], school_min, binding=binding, where=where,
                     adjective=None) for f in order]
        return ";".join(binding), "; ".join(msgs)
    steps = {
        "capacity": "with free capacity",
        "kind": "open to this child by kind",
        "age": f"approved for age {ctx.age[c]}",
        "household": "with no own child too close in age",
        "competences": "with the needed competence",
        "language": "speaking a required language",
        "avoid": "outside the municipalities the child avoids",
        "school": (f"within {ctx.school_limit[c]:g} min of school" if has_school
                   else "(no school anchor)"),
        "contacts": "within the child's contact limits",
        "veto": "not vetoed",
    }
    cum = np.ones(len(ctx.home_ids), dtype=bool)
    chain = []
    for f in FILTERS:  # after the loop, f is the filter that emptied the funnel
        before, cum = cum, cum & masks[f]
        chain.append(f"{int(cum.sum())} {steps[f]}")
        if not cum.any():
            break
    text = (f"no single filter explains it; of {_n(len(ctx.home_ids), 'home')}: "
            f"{', '.join(chain)}")
    if before.any():
        done = FILTERS[:FILTERS.index(f)]
        where = ("", " left after the " + "/".join(done) + " filters") if done \
            else ("", " in total")
        text += "; " + _why(ctx, c, f, before, school_min, binding=[f], where=where,
                            adjective="remaining")
    return "", text


def _all(n: int, noun: str, verb: str) -> str:
    """``'the only X is'``, ``'both Xs are'``, ``'all 3 Xs are'``."""
    if n == 1:
        return f"the only {noun} {verb}"
    plural = {"is": "are", "is not": "are not", "has": "have"}.get(verb, verb)
    return f"{'both' if n == 2 else f'all {n}'} {noun}s {plural}"


def _why(ctx: _Context, c: int, f: str, cand: np.ndarray, school_min: np.ndarray, *,
         binding: Sequence[str], where: tuple[str, str], adjective: str | None) -> str:
    """Explain why the candidate homes ``cand`` (which pass the other filters) fail ``f``.

    ``where`` = (prefix, suffix) around "home(s)" describing the candidates in the
    age and competence messages;
    ``adjective`` (e.g. ``"remaining"``) replaces the default wording of the others.
    """
    n = int(cand.sum())
    pre, post = where
    if f == "capacity":
        return _all(n, f"{adjective or 'otherwise suitable'} home", "is") + " full (capacity 0)"
    if f == "kind":
        n_kin = int((cand & ctx.is_kin).sum())
        n_em = int((cand & ctx.is_em).sum())
        parts = []
        if n_kin:
            parts.append(f"{_n(n_kin, 'kinship home')} for other children")
        if n_em:
            parts.append(f"{_n(n_em, 'emergency home')} (acute placements only; this child "
                         "is planned)")
        return (_all(n, f"{adjective or 'otherwise suitable'} home", "is")
                + f" reserved: {', '.join(parts)}")
    if f == "age":
        ranges = pd.Series([f"{lo}-{hi}" for lo, hi in
                            zip(ctx.min_age[cand], ctx.max_age[cand], strict=True)])
        counts = ranges.value_counts(sort=True)
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        if len(counts) == 1:
            text = counts.index[0]
        else:
            shown = [f"{r} ({_n(int(k), 'home')})" for r, k in counts.iloc[:5].items()]
            text = ", ".join(shown) + (f" and {len(counts) - 5} more" if len(counts) > 5 else "")
        verb = "its age range is" if n == 1 else "their age ranges are"
        homes = "home" if n == 1 else "homes"
        return (f"no home approved for age {ctx.age[c]} ({n} {pre}{homes}{post}, but {verb} "
                f"{text})")
    if f == "competences":
        needs = np.flatnonzero(ctx.hard_needs[c])
        detail = "; ".join(
            f"'{ctx.need_names[j]}' needs {ctx.need_text[j]}, found in "
            f"{int((cand & ctx.need_meets[j]).sum())} of {n}" for j in needs)
        head = (f"the only {pre}home{post} lacks a needed competence" if n == 1
                else f"none of the {n} {pre}homes{post} has every needed competence")
        return f"{head} ({detail})"
    if f == "household":
        gap = ctx.rules.own_child_gap(slice(c, c + 1))[0]
        closest = float(np.min(gap[cand], initial=np.inf))
        return (_all(n, f"{adjective or 'otherwise suitable'} home", "has")
                + f" an own child closer in age than {_years(ctx.rules.min_age_gap)} to this "
                f"child (age {ctx.age[c]}; closest: {_years(closest)} apart; rule "
                "min_age_gap_own_children)")
    if f == "language":
        langs = [ctx.rules.lang_names[j] for j in np.flatnonzero(ctx.rules.child_lang[c])]
        return (f"no {adjective + ' ' if adjective else ''}home speaks "
                f"{' or '.join(langs)} (language required; {n} {pre}"
                f"{'home' if n == 1 else 'homes'}{post} checked)")
    if f == "avoid":
        munis = sorted(set(ctx.home_muni_text[cand]))
        return (_all(n, f"{adjective or 'otherwise suitable'} home", "is")
                + f" in a municipality the child does not want to live in "
                f"({', '.join(munis)})")
    if f == "contacts":
        lo, hi = ctx.lim_ptr[c], ctx.lim_ptr[c + 1]
        t = ctx.gather(ctx.lim_col[lo:hi])
        msgs = []
        for j in range(hi - lo):
            limit = ctx.lim_limit[lo + j]
            within = cand & (t[j] <= limit)
            if within.any():
                continue
            nearest = float(np.min(t[j][cand], initial=np.inf))
            such = f"{adjective or 'otherwise suitable'} home"
            near = (f"nearest {such}: {nearest:.1f} min" if np.isfinite(nearest)
                    else _all(n, such, "is not") + " reachable by road within the "
                    "travel-time limit")
            msgs.append(f"no {adjective + ' ' if adjective else ''}home within {limit:g} min "
                        f"of {ctx.lim_label[lo + j]} ({near})")
        if msgs:
            return "; ".join(msgs)
        each = ", ".join(f"{ctx.lim_label[lo + j]} within {ctx.lim_limit[lo + j]:g} min "
                         f"({_n(int((cand & (t[j] <= ctx.lim_limit[lo + j])).sum()), 'home')})"
                         for j in range(hi - lo))
        return (f"no {adjective or 'otherwise suitable'} home is within every contact limit "
                f"at once ({each})")
    if f == "school":
        quals = []
        if "competences" in binding and ctx.hard_needs[c].any():
            needs = np.flatnonzero(ctx.hard_needs[c])
            quals.append("with competence " + " and ".join(ctx.need_text[j] for j in needs))
        if "age" in binding:
            quals.append(f"approved for age {ctx.age[c]}")
        what = ("home " + " ".join(quals) if quals and adjective is None
                else f"{adjective or 'suitable'} home")
        nearest = float(np.min(school_min[cand], initial=np.inf))
        near = (f"nearest such home: {nearest:.1f} min" if np.isfinite(nearest)
                else _all(n, "such home", "is not")
                + " reachable by road within the travel-time limit")
        return f"no {what} within {ctx.school_limit[c]:g} min of school ({near})"
    return _all(n, f"{adjective or 'qualifying'} home", "is") + " vetoed"
