"""Write tiny hand-made OSM XML files for tests."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

Node = tuple[int, float, float]
Way = tuple[int, list[int], dict[str, str]]


def write_osm(path: Path, nodes: list[Node], ways: list[Way]) -> Path:
    """Write nodes ``(id, lon, lat)`` and ways ``(id, node ids, tags)`` as OSM XML 0.6."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, lon, lat in nodes:
        lines.append(f'  <node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>')
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines.extend(f'    <nd ref="{r}"/>' for r in refs)
        lines.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
