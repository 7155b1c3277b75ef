"""Keep the translations: ``python scripts/i18n.py extract|update|merge|check|compile``.

Every command takes the CLI's help texts (docstrings, ``help=``) with the
messages Babel extracts (:func:`matcher.cli.help.help_texts`).

* ``update``: extract the messages of ``matcher/`` and add new ones, untranslated,
  to ``matcher/locale/{nb,nn}/LC_MESSAGES/matcher.po`` (gone ones are dropped);
* ``merge LANG FILE.po...``: copy translations from other ``.po`` files in;
* ``check``: list every message without a translation (exit 1 if any);
* ``compile``: write the ``.mo`` files (the build does this by itself);
* ``extract OUT.pot``: write the template only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from matcher import _catalogs
from matcher.cli.help import help_texts


def _template() -> Catalog:
    return _catalogs.extract(extra=help_texts())


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "extract":
        out = Path(rest[0]) if rest else Path("matcher.pot")
        with out.open("wb") as fh:
            write_po(fh, _template(), sort_output=True, width=100)
        print(f"wrote {out}")
    elif command == "update":
        for lang, n in _catalogs.update(_template()).items():
            print(f"{lang}: {n} untranslated")
    elif command == "merge":
        lang, files = rest[0], [Path(f) for f in rest[1:]]
        print(f"{lang}: {_catalogs.merge(files, lang)} translations merged")
    elif command == "check":
        found = _catalogs.problems(_template())
        print("\n".join(found) or "every message is translated in nb and nn")
        return 1 if found else 0
    elif command == "compile":
        for mo in _catalogs.compile_all():
            print(f"wrote {mo}")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
