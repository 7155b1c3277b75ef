"""The pairs table and its explanation strings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matcher import i18n, languages, vocabulary
from matcher.i18n import gettext as _
from matcher.rules import FILTERS
from matcher.scoring.context import (
    COMPONENTS,
    PAIR_COLUMNS,
    RELATIONS,
    STABILITY,
    _Context,
    _labels,
    band_labels,
)

__all__: list[str] = []

def _assemble_pairs(ctx: _Context, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    s = ctx.settings
    labels = band_labels(s)
    bands = np.asarray(s.bands_minutes, dtype=float)

    def band(minutes: np.ndarray) -> pa.Array:
        idx = np.searchsorted(bands, minutes, side="left")
        idx = np.where(np.isnan(minutes), len(labels), idx).astype(np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(idx), pa.array([*labels, "none"])) \
            .cast(pa.string())

    n = len(cols["child"])
    train_labels = {code: ";".join(ctx.need_names[j] for j in range(len(ctx.need_names))
                                   if code >> j & 1)
                    for code in np.unique(cols["train_code"])}
    codes, inverse = np.unique(cols["train_code"], return_inverse=True)
    training = pa.DictionaryArray.from_arrays(
        pa.array(inverse.astype(np.int32)),
        pa.array([train_labels[int(x)] for x in codes], type=pa.string())).cast(pa.string())
    band_cols = {"school_band": band(cols["school_minutes"]),
                 "network_band": band(cols["network_minutes"]),
                 "parent_band": band(cols["parent_minutes"])}
    relation = pa.DictionaryArray.from_arrays(
        pa.array(cols["relation"].astype(np.int32)), pa.array(list(RELATIONS))).cast(pa.string())
    pool = pa.DictionaryArray.from_arrays(
        pa.array((cols["pool_code"] + 1).astype(np.int32)),
        pa.array(["", *ctx.pool_names], type=pa.string())).cast(pa.string())
    shared_lang = _labels(cols["lang_code"], ctx.rules.lang_names)
    shared_cult = _labels(cols["cult_code"], ctx.cult_names)
    gap = np.where(np.isinf(cols["own_gap"]), np.nan, cols["own_gap"])
    slack = np.where(np.isposinf(cols["slack"]), np.nan, cols["slack"])
    pool_text = pa.DictionaryArray.from_arrays(
        pa.array((cols["pool_code"] + 1).astype(np.int32)),
        pa.array(["", *(vocabulary.pool(p) for p in ctx.pool_names)], type=pa.string())
    ).cast(pa.string())
    training_text = pa.DictionaryArray.from_arrays(
        pa.array(inverse.astype(np.int32)),
        pa.array([vocabulary.cell("need", train_labels[int(x)]) for x in codes],
                 type=pa.string())).cast(pa.string())
    text = {"relation": relation, "pool": pool_text,
            "languages": _labels(cols["lang_code"], languages.names(ctx.rules.lang_names)),
            "culture": _labels(cols["cult_code"], vocabulary.names("culture", ctx.cult_names))}
    listed = {"language": bool(ctx.rules.child_lang.any()), "culture": bool(ctx.child_cult.any())}
    explanation = (_explain(cols, band_cols, training_text, text, s.min_age_gap_own_children,
                            listed) if n else pa.array([], pa.string()))
    if "stability" in cols and n:
        explanation = pc.binary_join_element_wise(explanation, _last_move(ctx, cols), "")

    frame = pd.DataFrame({
        "child_id": pd.Series(ctx.child_ids[cols["child"]], dtype="str"),
        "home_id": pd.Series(ctx.home_ids[cols["home"]], dtype="str"),
        "score": cols["score"],
        **{k: cols[k] for k in COMPONENTS},
        **({STABILITY: cols[STABILITY]} if STABILITY in cols else {}),
        "school_minutes": cols["school_minutes"],
        "network_minutes": cols["network_minutes"],
        "parent_minutes": cols["parent_minutes"],
        **{k: v.to_pandas() for k, v in band_cols.items()},
        "n_training": cols["n_training"],
        "training_needs": training.to_pandas(),
        "municipality_relation": relation.to_pandas(),
        "pool": pool.to_pandas(),
        "shared_languages": shared_lang.to_pandas(),
        "language_required": cols["lang_required"].astype(bool),
        "shared_culture": shared_cult.to_pandas(),
        "own_child_gap_years": gap.astype(float),
        "contact_slack_minutes": slack.astype(float),
        "avoided_municipality": cols["avoided"].astype(bool),
        "locked": cols["locked"],
        "feasible": cols["feasible"],
        "explanation": explanation.to_pandas(),
    })
    columns = list(PAIR_COLUMNS)
    if STABILITY in cols:
        columns.insert(columns.index(COMPONENTS[-1]) + 1, STABILITY)
    return frame[columns]


def _last_move(ctx: _Context, cols: dict[str, np.ndarray]) -> pa.Array:
    """``'; last move: ...'`` for children in an emergency home, '' for the others."""
    c = ctx.continuity
    out = np.full(len(cols["child"]), "", dtype=object)
    for i in np.flatnonzero(cols["in_emergency"]):
        age = int(ctx.age[cols["child"][i]])
        top = int(ctx.max_age[cols["home"][i]])
        needed = max(c.stability_horizon_age - age, 0)
        covered = min(max(min(top, c.stability_horizon_age) - age, 0), needed)
        cover = _("approved to age {max_age}: covers {covered} of {needed} years until age "
                  "{horizon}").format(max_age=top, covered=covered, needed=needed,
                                      horizon=c.stability_horizon_age)
        skills = (_("every needed competence already there") if cols["n_training"][i] == 0
                  else _("training needed"))
        weeks = float(cols["emergency_weeks"][i])
        if np.isnan(weeks):
            stay = _("time in the emergency home unknown (no placed_since)")
        elif weeks > c.emergency_weeks_norm:
            stay = _("{weeks} weeks in the emergency home, over the norm of {norm}: priority "
                     "raised").format(weeks=i18n.format_number(weeks, 1),
                                      norm=i18n.format_number(c.emergency_weeks_norm, 0))
        else:
            stay = _("{weeks} weeks in the emergency home (norm {norm})").format(
                weeks=i18n.format_number(weeks, 1),
                norm=i18n.format_number(c.emergency_weeks_norm, 0))
        out[i] = _("; last move: {cover}; {skills} -> stability {value}; {stay}").format(
            cover=cover, skills=skills, value=i18n.format_number(cols["stability"][i], 2),
            stay=stay)
    return pa.array(out.tolist(), type=pa.string())


def _fixed(values: np.ndarray, decimals: int) -> pa.Array:
    """Format finite non-negative numbers with a fixed number of decimals (the language's
    decimal separator)."""
    scale = 10**decimals
    r = np.rint(np.where(np.isfinite(values), values, 0.0) * scale).astype(np.int64)
    whole = pc.cast(pa.array(r // scale), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(r % scale), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(whole, i18n.decimal_symbol(), frac, "")


def _minutes_text(minutes: np.ndarray, band: pa.Array, prefix: str) -> pa.Array:
    """``'<prefix>12.3 min (<=15)'``, ``'unreachable (>60)'`` or ``'none'``."""
    finite = pc.binary_join_element_wise(prefix, _fixed(minutes, 1), _(" min ("), band, ")", "")
    text = pc.if_else(pa.array(np.isinf(minutes)),
                      pc.binary_join_element_wise(_("unreachable ("), band, ")", ""), finite)
    return pc.if_else(pa.array(np.isnan(minutes)), pa.scalar(_("none")), text)


def _explain(cols: dict[str, np.ndarray], bands: dict[str, pa.Array], training: pa.Array,
             text: dict[str, pa.Array], min_gap_years: float,
             listed: dict[str, bool]) -> pa.Array:
    """Build one explanation string per pair, vectorised with Arrow compute.

    ``text`` holds the per-pair ``relation``, ``pool``, shared ``languages``
    and shared ``culture`` labels; ``listed`` says whether any child of the
    run lists a language / culture tag (else that part is left out).
    """
    minutes_of = {"school": "school_minutes", "network": "network_minutes",
                  "parents": "parent_minutes"}
    neutral = {k: pa.array(np.isnan(cols[v])) for k, v in minutes_of.items()}

    def comp(name: str) -> pa.Array:
        value = _fixed(cols[name], 2)
        if name in neutral:
            value = pc.if_else(neutral[name], pc.binary_join_element_wise(
                value, _(" (neutral)"), ""), value)
        return value

    same = pc.if_else(pa.array(cols["relation"] == 1), pa.scalar(_("same")), pc.if_else(
        pa.array(cols["relation"] == 2),
        pc.binary_join_element_wise(_("cooperation "), text["pool"], ""),
        pa.scalar(_("other"))))
    half = i18n.format_number(0.5, 2)
    words = {"language": (_("; language shared ("), _("; language none shared -> "),
                          _("; language none listed -> {value} (neutral)").format(value=half)),
             "culture": (_("; culture shared ("), _("; culture none shared -> "),
                         _("; culture none listed -> {value} (neutral)").format(value=half))}

    def shared(name: str, label: str) -> pa.Array:
        """``'; language shared (nb) -> 1.00'``, ``none shared``, ``none listed (neutral)``."""
        key = name[:4]
        if not listed[label]:
            return pa.scalar("")
        shared_word, none_shared, none_listed = words[label]
        some = pc.binary_join_element_wise(shared_word, text[name], ") -> ", "")
        value = pc.if_else(pa.array(cols[label] > 0.75), some, pa.scalar(none_shared))
        value = pc.binary_join_element_wise(value, comp(label), "")
        return pc.if_else(pa.array(cols[f"has_{key}"]), value, pa.scalar(none_listed))

    required = pc.if_else(pa.array(cols["lang_required"]), pa.scalar(_(" (required)")),
                          pa.scalar(""))
    gap = cols["own_gap"]
    whole_years = np.rint(np.where(np.isfinite(gap), gap, 0.0)).astype(np.int64)
    gap_text = pc.binary_join_element_wise(_("; household: own children at least "),
                                           pc.cast(pa.array(whole_years), pa.string()),
                                           _(" years apart in age"), "")
    if min_gap_years > 0:
        years = i18n.format_number(min_gap_years, 0 if min_gap_years == int(min_gap_years)
                                   else 1)
        rule_text = pc.if_else(pa.array(gap >= min_gap_years),
                               pa.scalar(_(" (rule >= {years} years met)").format(years=years)),
                               pa.scalar(_(" (rule >= {years} years not met)")
                                         .format(years=years)))
    else:
        rule_text = pa.scalar(_(" (no age-gap rule)"))
    household = pc.if_else(pa.array(np.isinf(gap)), pa.scalar(""),
                           pc.binary_join_element_wise(gap_text, rule_text, ""))
    slack = cols["slack"]
    contacts = pc.if_else(
        pa.array(np.isposinf(slack)), pa.scalar(""),
        pc.if_else(pa.array(slack >= 0),
                   pc.binary_join_element_wise(_("; contact limits met ("), _fixed(slack, 1),
                                               _(" min to spare)"), ""),
                   pa.scalar(_("; contact limit exceeded"))))
    avoided = pc.if_else(pa.array(cols["avoided"]),
                         pa.scalar(_("; in a municipality the child avoids")), pa.scalar(""))
    kin = pc.if_else(pa.array(cols["kinship"] > 0.5), pa.scalar(_("own kinship home")),
                     pa.scalar(_("no")))
    fails_word = _("; fails: ")
    fail_labels = ["" if code == 0 else fails_word + ", ".join(
        vocabulary.name("rule", f) for bit, f in enumerate(FILTERS) if code >> bit & 1)
                   for code in range(1 << len(FILTERS))]
    fails = pa.DictionaryArray.from_arrays(pa.array(cols["fail_code"].astype(np.int32)),
                                           pa.array(fail_labels)).cast(pa.string())
    has_training = pa.array(cols["n_training"] > 0)
    train_text = pc.if_else(has_training, pc.binary_join_element_wise(
        _("; training needed: "), training, ""), pa.scalar(""))
    lock_text = pc.if_else(pa.array(cols["locked"]), pa.scalar(_("; locked placement")),
                           pa.scalar(""))
    return pc.binary_join_element_wise(
        _("school "), _minutes_text(cols["school_minutes"], bands["school_band"], ""),
        " -> ", comp("school"),
        _("; network "), _minutes_text(cols["network_minutes"], bands["network_band"],
                                       _("mean ")),
        " -> ", comp("network"),
        _("; parents "), _minutes_text(cols["parent_minutes"], bands["parent_band"], _("mean ")),
        " -> ", comp("parents"),
        _("; municipality "), same, " -> ", comp("municipality"),
        _("; kinship "), kin, " -> ", comp("kinship"),
        shared("languages", "language"), required, shared("culture", "culture"),
        household, contacts, avoided,
        _("; score "), _fixed(cols["score"], 2), train_text, lock_text, fails, "")
