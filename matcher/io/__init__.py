"""Input and output at the edge of the engine.

* :mod:`matcher.io.files`: atomic, owner-only writes of files and folders, and
  the one CSV format of every output table.
* :mod:`matcher.io.readers`: the one reader of tables, points, polygons,
  population grids and travel-time tables (CSV, GeoJSON, GeoPackage).
* :mod:`matcher.io.stores`: the nightly job's GeoPackage and PostGIS stores.

The domain modules never read or write files themselves; they take and
return frames, arrays and graphs.
"""

__all__: list[str] = []
