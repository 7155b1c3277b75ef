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
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        root = Path(self.root)
        for po in sorted((root / "matcher" / "locale").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=po.parent.parent.name)
            mo = po.with_suffix(".mo")
            with mo.open("wb") as fh:
                write_mo(fh, catalog)
            # .mo files are build products (ignored by git): include them explicitly
            build_data.setdefault("force_include", {})[str(mo)] = str(mo.relative_to(root))
            print(f"compiled {mo.relative_to(root)}", file=sys.stderr)
