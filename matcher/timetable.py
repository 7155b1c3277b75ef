"""Dense origin x destination travel-time tables, in minutes.

A leaf module: it imports nothing else from :mod:`matcher`, so that input
validation (:mod:`matcher.schema`), file reading (:mod:`matcher.io.readers`)
and routing (:mod:`matcher.traveltime`) can all use :class:`TimeTable`
without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["TimeTable"]


@dataclass(frozen=True)
class TimeTable:
    """A dense origin x destination table of travel times.

    Attributes
    ----------
    origin_ids
        Ids of the rows (strings), unique.
    destination_ids
        Ids of the columns (strings), unique.
    minutes
        ``float64`` array of shape ``(len(origin_ids), len(destination_ids))``,
        travel time in minutes; ``inf`` where unreachable within the limit.
    """

    origin_ids: np.ndarray
    destination_ids: np.ndarray
    minutes: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(self.origin_ids), len(self.destination_ids))
        if self.minutes.shape != shape:
            raise ValueError(f"minutes has shape {self.minutes.shape}, expected {shape}")

    def to_long(self, *, origin_col: str = "origin_id", destination_col: str = "destination_id",
                reachable_only: bool = True) -> pd.DataFrame:
        """Return the table in long format ``origin, destination, minutes``.

        Parameters
        ----------
        origin_col, destination_col
            Column names for the two id columns.
        reachable_only
            Drop unreachable pairs (``inf``) when True.
        """
        oi, di = np.indices(self.minutes.shape)
        frame = pd.DataFrame(
            {
                origin_col: self.origin_ids[oi.ravel()],
                destination_col: self.destination_ids[di.ravel()],
                "minutes": self.minutes.ravel(),
            }
        )
        if reachable_only:
            frame = frame[np.isfinite(frame["minutes"].to_numpy())].reset_index(drop=True)
        return frame

    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        *,
        origin_col: str = "origin_id",
        destination_col: str = "destination_id",
    ) -> TimeTable:
        """Build a table from long format; missing pairs are unreachable (``inf``).

        The frame must already be valid (see :func:`matcher.io.readers.read_times`,
        which checks columns, minutes and duplicates and names every bad row).

        Raises
        ------
        ValueError
            If a column is missing, a minute value is negative or not a number,
            or a pair occurs twice.
        """
        missing = [c for c in (origin_col, destination_col, "minutes") if c not in frame.columns]
        if missing:
            raise ValueError(f"missing column(s) {missing}")
        minutes = pd.to_numeric(frame["minutes"], errors="coerce").to_numpy(dtype=float)
        if not (minutes >= 0).all():
            raise ValueError("minutes must be numbers >= 0 (inf for unreachable)")
        if frame.duplicated([origin_col, destination_col]).any():
            raise ValueError("duplicate origin/destination pairs")
        o = frame[origin_col].astype(str).to_numpy()
        d = frame[destination_col].astype(str).to_numpy()
        origin_ids, oi = np.unique(o, return_inverse=True)
        destination_ids, di = np.unique(d, return_inverse=True)
        table = np.full((len(origin_ids), len(destination_ids)), np.inf)
        table[oi, di] = minutes
        return cls(origin_ids.astype(object), destination_ids.astype(object), table)

    def select(self, origin_ids: np.ndarray | list[str] | None = None,
               destination_ids: np.ndarray | list[str] | None = None) -> TimeTable:
        """Return the sub-table for the given ids, in the given order.

        Ids absent from this table get ``inf`` (unreachable).
        """
        o_ids = self.origin_ids if origin_ids is None else np.asarray(origin_ids, dtype=object)
        d_ids = (self.destination_ids if destination_ids is None
                 else np.asarray(destination_ids, dtype=object))
        o_pos = pd.Index(self.origin_ids).get_indexer(o_ids)
        d_pos = pd.Index(self.destination_ids).get_indexer(d_ids)
        out = np.full((len(o_ids), len(d_ids)), np.inf)
        ok_o = o_pos >= 0
        ok_d = d_pos >= 0
        out[np.ix_(ok_o, ok_d)] = self.minutes[np.ix_(o_pos[ok_o], d_pos[ok_d])]
        return TimeTable(o_ids, d_ids, out)
