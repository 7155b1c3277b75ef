r"""Pair feasibility, scores with explanations, and shortlists.

A pair is a child *c* and a home *h*. Travel times come from a
:class:`~matcher.traveltime.TimeTable` whose origins are ``home_id`` and whose
destinations are anchor ids (see :func:`matcher.schema.anchors`), in minutes.

Hard filters
------------
The filters (capacity, kind, age, household, competences, language, avoid,
school, contacts, veto) are the rules of :mod:`matcher.rules`, in its funnel
order (:data:`matcher.rules.FILTERS`);
scoring counts ``capacity`` (not free places: the assignment subtracts locked
placements) and lets locked pairs pass it.

Score
-----
Each component lies in [0, 1]; with decay :math:`d` (``settings.decay``):

.. math::

   d_\text{band}(t) = 1 - i(t)/B, \quad i(t) = \min\{i : t \le b_i\}
   \text{ (0-based; } i = B \text{ past the last band)}, \qquad
   d_\text{smooth}(t) = \exp(-\ln 2 \cdot t / t_{1/2})

* ``school`` :math:`= d(t_\text{school})`; 0.5 (neutral) without a school anchor.
* ``network`` :math:`= \sum_j w_j d(t_j) / \sum_j w_j` over contacts of kind
  relative, friend or activity; 0.5 (neutral) without such contacts.
* ``parents`` :math:`= d(\sum_j w_j t_j / \sum_j w_j)` over ``parent``
  contacts (decay of the weighted mean time: the travel burden of contact
  visits); 0.5 (neutral) without parent contacts.
* ``municipality`` = 1 if the home is in the child's municipality,
  ``pool_score`` if it is in another municipality of the child's pool
  (``settings.pools``), else 0. Siblings each use their own municipality.
* ``kinship`` = 1 for the child's own kinship home, else 0.
* ``language`` = 1 if the home speaks one of the child's languages, 0 if
  none; 0.5 (neutral) when the child lists none.
* ``culture`` = 1 if the home shares one of the child's culture tags, 0 if
  none; 0.5 (neutral) when the child lists none.

.. math::

   \text{score}_{ch} = \frac{\sum_k W_k \, s_{k,ch}}{\sum_k W_k}

with :math:`W` = ``settings.weights`` (missing components weigh 0). The
``language`` (``culture``) weight counts only when some child of the run
lists a language (a culture tag), so inputs without those columns score
exactly as before. The training penalty is *not* part of the score; the
assignment applies it.
``*_minutes`` columns hold the school time and the weighted mean network and
parent times (NaN without anchors, ``inf`` when any anchor is unreachable);
``*_band`` labels place those minutes in ``settings.bands_minutes``.

The neutral 0.5 keeps a missing anchor from rewarding or punishing any home:
it is the same for all homes of the child, so it never changes the child's
ranking.


Modules: :mod:`~matcher.scoring.pairs` (scoring in chunks, shortlists),
:mod:`~matcher.scoring.context` (per-run arrays, decay, constants),
:mod:`~matcher.scoring.diagnosis` (reasons for children without a home) and
:mod:`~matcher.scoring.explain` (the pairs table and its explanations).
"""

from matcher.rules import FILTERS
from matcher.scoring.context import (
    COMPONENTS,
    FUNNEL_COLUMNS,
    NETWORK_KINDS,
    NEUTRAL,
    PAIR_COLUMNS,
    RELATIONS,
    band_labels,
    decay,
)
from matcher.scoring.pairs import Scored, score_pairs, shortlist

__all__ = [
    "COMPONENTS",
    "FILTERS",
    "FUNNEL_COLUMNS",
    "NETWORK_KINDS",
    "NEUTRAL",
    "PAIR_COLUMNS",
    "RELATIONS",
    "Scored",
    "band_labels",
    "decay",
    "score_pairs",
    "shortlist",
]
