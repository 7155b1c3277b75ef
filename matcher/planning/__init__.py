r"""Recruitment and support planning: gaps, accessibility, what-if, recruitment, coverage.

Where are foster homes missing, which competence is missing where, what would
new homes change, where should the next homes be recruited, how far is every
child from an emergency home, and which resource family supports which home.
Everything works on travel times in minutes from the road network
(:mod:`matcher.traveltime`) and in metres of the working CRS (``network.crs``) for areas.

Terms
-----
*Waiting child*
    A child of the children table without a locked placement.
*Anchor* of a child
    The point its travel times are measured to: the school (``school``, the
    default for gaps and recruitment; a child without a school position falls
    back to the home it lived in) or the home it lived in (``home``, the
    default for emergency coverage). Anchor ids follow
    :func:`matcher.schema.anchors`: ``<child_id>:school`` / ``<child_id>:home``.
*Free places* of a home
    ``capacity`` minus its locked placements.
*Reachable* home of a child
    Free places > 0, the child's age within ``min_age..max_age``, the kind rule
    of :mod:`matcher.scoring` (a kinship home only for its own child or sibling
    group, an emergency home only for acute children) and travel time from the
    home to the child's anchor ``<= T`` minutes.
*Suitable* home
    A reachable home that meets every need of the child: by a target group or
    course it has (``ScoringSettings.need_competences``; a need that is itself
    a tag requires that tag), or, for a trainable need, by a course after
    move-in (:func:`matcher.rules.trainable_needs`, the rule of matching).
    ``gaps`` and ``recruit`` count the course places that takes.
*Covered* child
    A waiting child with a suitable home within ``T`` minutes.

Functions
---------
* :func:`gaps` - per area (municipality polygons or a hexagonal/square grid),
  waiting and unmatched children without a suitable home within ``T``,
  broken down by the need (and so the competence) that is missing, ranked;
  plus mean two-step floating catchment accessibility (:func:`two_step_fca`).
* :func:`whatif` - add hypothetical homes, rerun the match
  (:func:`matcher.pipeline.run`) and compare with the baseline.
* :func:`recruit` - the ``k`` candidate sites that most increase the number
  of covered children: a maximal covering location problem (:func:`mclp`).
* :func:`emergency_coverage` - share of children (or of the population)
  within each band (``planning.emergency_bands_minutes``, 30 and 45 minutes)
  of an available emergency home, per municipality.
* :func:`assign_resource_families`, :func:`local_networks` and
  :func:`cafes` - support structures for foster homes.
* :func:`matcher.planning.support_network.support_network` - a supervisor, a
  relief home, course runs and a resource family for every placement, each an
  exact assignment (:mod:`~matcher.planning.followup`), and
  :func:`matcher.planning.risk.risk_flags` - placements at risk, as reasons
  with remedies (``matcher support``, ``docs/support.md``).

The Oslo demonstration on real data is :func:`matcher.scenarios.oslo.oslo_scenario`.

Modules: :mod:`~matcher.planning.areas`, :mod:`~matcher.planning.access`
(2SFCA), :mod:`~matcher.planning.gap_analysis`, :mod:`~matcher.planning.coverage`,
:mod:`~matcher.planning.what_if`, :mod:`~matcher.planning.recruitment` (MCLP),
:mod:`~matcher.planning.support` (resource families) and
:mod:`~matcher.planning.maps`; shared pieces in :mod:`~matcher.planning.common`.
Eligibility comes from :mod:`matcher.rules`, like the matching's.

Maps (:func:`gaps_map`, :func:`coverage_map`, :func:`recruit_map`) are drawn with matplotlib's Agg
canvas (no pyplot, no display) and returned as PNG bytes; the CLI writes them.
Maps only show areas and 250 m cells, never a child's position.
"""

from matcher.planning.access import FCAResult, two_step_fca
from matcher.planning.areas import (
    AREA_KINDS,
    AreaKind,
    grid_areas,
    grid_cells,
    locate,
    municipality_areas,
    name_cells,
    pool_areas,
    read_municipalities,
)
from matcher.planning.common import (
    ANCHORS,
    ATTRIBUTION,
    MAX_HOMES_PER_FAMILY,
    Anchor,
    anchor_points,
    free_places,
    need_tags,
    travel_times,
    waiting,
)
from matcher.planning.coverage import (
    CoverageResult,
    emergency_coverage,
    emergency_homes,
    within_network,
)
from matcher.planning.gap_analysis import GapResult, gaps
from matcher.planning.maps import coverage_map, gaps_map, recruit_map
from matcher.planning.recruitment import (
    MCLPSolution,
    RecruitResult,
    add_coverage_constraints,
    add_facility_count_constraint,
    candidate_sites,
    mclp,
    recruit,
)
from matcher.planning.support import (
    FAMILY_COLUMNS,
    SupportAssignment,
    SupportPlan,
    add_cardinality_floor,
    add_family_capacity_constraints,
    add_one_family_constraints,
    assign_resource_families,
    cafes,
    cooperation_of,
    group_homes,
    local_networks,
    support_plan,
    validate_families,
)
from matcher.planning.what_if import (
    DIFF_MEASURES,
    Addition,
    WhatIfResult,
    add_homes,
    place_additions,
    whatif,
)

__all__ = [
    "ANCHORS",
    "AREA_KINDS",
    "ATTRIBUTION",
    "DIFF_MEASURES",
    "FAMILY_COLUMNS",
    "MAX_HOMES_PER_FAMILY",
    "Addition",
    "Anchor",
    "AreaKind",
    "CoverageResult",
    "FCAResult",
    "GapResult",
    "MCLPSolution",
    "RecruitResult",
    "SupportAssignment",
    "SupportPlan",
    "WhatIfResult",
    "add_cardinality_floor",
    "add_coverage_constraints",
    "add_facility_count_constraint",
    "add_family_capacity_constraints",
    "add_homes",
    "add_one_family_constraints",
    "anchor_points",
    "assign_resource_families",
    "cafes",
    "candidate_sites",
    "cooperation_of",
    "coverage_map",
    "emergency_coverage",
    "emergency_homes",
    "free_places",
    "gaps",
    "gaps_map",
    "grid_areas",
    "grid_cells",
    "group_homes",
    "local_networks",
    "locate",
    "mclp",
    "municipality_areas",
    "name_cells",
    "need_tags",
    "place_additions",
    "pool_areas",
    "read_municipalities",
    "recruit",
    "recruit_map",
    "support_plan",
    "travel_times",
    "two_step_fca",
    "validate_families",
    "waiting",
    "whatif",
    "within_network",
]
