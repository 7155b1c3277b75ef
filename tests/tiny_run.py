"""A tiny hand-built run (three children, two homes, a travel-time table): no road network.

Ids may be anything the schema accepts, so tests can craft hostile ones
(``=HYPERLINK(...)``, ``<b>``...) and check that every output keeps them inert.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import numpy as np
import pandas as pd

from matcher import config, pipeline, schema
from matcher.timetable import TimeTable

AS_OF = datetime.date(2026, 11, 1)
SCHOOL_MINUTES = np.array([[5.0, 12.0, 30.0], [20.0, 7.0, 50.0]])
"""Minutes from home (row) to each child's school (column)."""


def tiny_run(child_ids: Sequence[str] = ("C1", "C2", "C3"),
             home_ids: Sequence[str] = ("H1", "H2"), *,
             ages: Sequence[int] = (10, 11, 12),
             municipality: str = "4601",
             max_ages: Sequence[int] = (17, 17),
             current_homes: Sequence[str | None] | None = None) -> pipeline.RunResult:
    """Match three children to two homes of one place each: the third child has none.

    The children are ``ages`` years old (default 10, 11, 12), planned, waiting since
    October, September and June, in ``municipality``; the homes general, ages 0-17, in
    the same municipality. School minutes: :data:`SCHOOL_MINUTES` (limit 45 min).
    ``max_ages``: the homes' ``max_age``; ``current_homes``: each child's
    ``current_home_id`` (none by default).
    """
    children = pd.DataFrame({
        "child_id": list(child_ids), "lon": [10.70, 10.71, 10.72], "lat": [59.91, 59.92, 59.93],
        "school_lon": [10.70, 10.71, 10.72], "school_lat": [59.91, 59.92, 59.93],
        "municipality": [municipality] * 3, "age": list(ages),
        "urgency": ["planned"] * 3, "waiting_since": ["2026-10-01", "2026-09-01", "2026-06-01"],
    })
    if current_homes is not None:
        children["current_home_id"] = [h or "" for h in current_homes]
    homes = pd.DataFrame({
        "home_id": list(home_ids), "lon": [10.75, 10.76], "lat": [59.95, 59.96],
        "municipality": [municipality] * 2, "capacity": [1, 1], "min_age": [0, 0],
        "max_age": list(max_ages), "kind": ["general", "general"],
    })
    settings = config.Settings()
    inputs = schema.validate(children, homes, settings=settings.scoring)
    times = TimeTable(origin_ids=np.array(list(home_ids), dtype=object),
                      destination_ids=np.array([f"{c}:school" for c in child_ids],
                                               dtype=object),
                      minutes=SCHOOL_MINUTES.copy())
    return pipeline.run(inputs, settings, times=times, as_of=AS_OF)
