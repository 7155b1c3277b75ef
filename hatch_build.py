"""Build hook: compile the gettext catalogs (``.po`` -> ``.mo``) into the package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogs(BuildHookInterface):  # type: ignore[misc]
    """Compile ``matcher/locale/*/LC_MESSAGES/matcher.po`` with Babel before packaging."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        # the project's own compiler; importing it needs only the standard library and Babel
        sys.path.insert(0, str(root))
        try:
            from matcher._catalogs import compile_catalog
        finally:
            sys.path.remove(str(root))
        for po in sorted((root / "matcher" / "locale").glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            mo.write_bytes(compile_catalog(po, po.parent.parent.name))
            # .mo files are build products (ignored by git): include them explicitly
            build_data.setdefault("force_include", {})[str(mo)] = str(mo.relative_to(root))
            print(f"compiled {mo.relative_to(root)}", file=sys.stderr)
