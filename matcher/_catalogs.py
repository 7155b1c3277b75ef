"""Keep the gettext catalogs: extract messages, update ``.po`` files, check, compile.

Used by ``scripts/i18n.py``, the build hook (``hatch_build.py`` compiles) and
``tests/test_i18n.py`` (every message translated in ``nb`` and ``nn``, with the
same ``{fields}``). Babel does the work; this module only wires it to our layout.
"""

from __future__ import annotations

import datetime
import io
import string
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from matcher.i18n import DOMAIN, LOCALE_DIR

__all__ = ["compile_all", "compile_catalog", "extract", "merge", "problems", "update"]

PACKAGE = Path(__file__).resolve().parent
TRANSLATED = ("nb", "nn")
_STABLE_DATE = datetime.datetime(2026, 11, 27, tzinfo=datetime.UTC)
"""Fixed creation date of the template, so that catalogs change only when messages do."""
_HEADER = "fostermatch: human-readable text (bokmål, nynorsk; English is the source)"


def extract(package: Path = PACKAGE, extra: Iterable[tuple[str, str]] = ()) -> Catalog:
    """Extract every ``_()``, ``ngettext()`` and ``N_()`` message of ``package``.

    ``extra`` adds ``(message, location)`` pairs Babel cannot see, such as the
    CLI's help texts (:func:`matcher.cli.help.help_texts`; ``scripts/i18n.py``
    and ``tests/test_i18n.py`` pass them).
    """
    template = Catalog(project="fostermatch", header_comment=f"# {_HEADER}", fuzzy=False,
                       creation_date=_STABLE_DATE)
    found = extract_from_dir(str(package), method_map=[("**.py", "python")],
                             keywords=DEFAULT_KEYWORDS, comment_tags=("TRANSLATORS:",),
                             strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        template.add(message, locations=[(f"matcher/{filename}", lineno)],
                     auto_comments=comments, context=context)
    for message, location in extra:
        template.add(message, locations=[(location, 0)])
    return template


def _po(lang: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(path: Path, lang: str) -> Catalog:
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="fostermatch",
                       header_comment=f"# {_HEADER}", fuzzy=False)
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".po.tmp")
    with tmp.open("wb") as fh:
        # no locations: line numbers would churn the catalogs on every edit
        write_po(fh, catalog, sort_output=True, width=100, omit_header=False,
                 include_previous=False, no_location=True)
    tmp.replace(path)


def update(template: Catalog | None = None, locale_dir: Path = LOCALE_DIR) -> dict[str, int]:
    """Bring the ``nb`` and ``nn`` catalogs in line with the source; return untranslated counts.

    Messages gone from the source are dropped (not kept as obsolete); new ones
    are added untranslated. Babel's fuzzy matching is off: a guessed
    translation would pass for a checked one.
    """
    template = template or extract()
    missing = {}
    for lang in TRANSLATED:
        path = _po(lang, locale_dir)
        catalog = _read(path, lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, path)
        missing[lang] = sum(1 for m in catalog if m.id and not _translated(m))
    return missing


def merge(sources: Iterable[Path], lang: str, locale_dir: Path = LOCALE_DIR) -> int:
    """Copy the translations of the ``.po`` files ``sources`` into the ``lang`` catalog.

    Returns the number of messages set. Only ids the catalog already has are
    taken (run :func:`update` first); later sources win.
    """
    path = _po(lang, locale_dir)
    catalog = _read(path, lang)
    done = 0
    for source in sources:
        for message in _read(source, lang):
            if not message.id or not _translated(message):
                continue
            target = catalog.get(message.id, context=message.context)
            if target is None:
                continue
            target.string = message.string
            target.flags.discard("fuzzy")
            done += 1
    _write(catalog, path)
    return done


def _translated(message: Message) -> bool:
    return "fuzzy" not in message.flags and all(_texts(message.string))


def _texts(value: object) -> tuple[str, ...]:
    """A message id or string as a tuple of texts (plural messages have several)."""
    if isinstance(value, (tuple, list)):
        return tuple(str(v) for v in value)
    return (str(value or ""),)


def _fields(text: str) -> set[str]:
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}
    except ValueError:
        return {"<bad format string>"}


def problems(template: Catalog | None = None, locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Every message of the source that ``nb`` or ``nn`` lacks or gets wrong.

    Wrong means: untranslated, fuzzy, or with ``{fields}`` the source does not
    have (a ``KeyError`` at run time) or without fields the source has.
    """
    template = template or extract()
    found: list[str] = []
    for lang in TRANSLATED:
        catalog = _read(_po(lang, locale_dir), lang)
        for message in template:
            if not message.id:
                continue
            ids = _texts(message.id)
            where = f"{message.locations[0][0]}:{message.locations[0][1]}"
            got = catalog.get(message.id, context=message.context)
            if got is None or not _translated(got):
                found.append(f"{lang}: no translation for {ids[0]!r} ({where})")
                continue
            strings = _texts(got.string)
            wanted = set().union(*(_fields(i) for i in ids))
            for text in strings:
                extra = _fields(text) - wanted
                if extra:
                    found.append(f"{lang}: {ids[0]!r} ({where}) translation has unknown "
                                 f"fields {sorted(extra)}")
            if len(ids) == 1 and _fields(strings[0]) != wanted:
                found.append(f"{lang}: {ids[0]!r} ({where}) translation lacks fields "
                             f"{sorted(wanted - _fields(strings[0]))}")
    return found


def compile_catalog(po: Path, lang: str) -> bytes:
    """The ``.mo`` bytes of the catalog ``po`` (language ``lang``)."""
    buffer = io.BytesIO()
    write_mo(buffer, _read(po, lang))
    return buffer.getvalue()


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compile every ``.po`` under ``locale_dir`` to ``.mo`` beside it; return the ``.mo`` paths."""
    written = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        tmp = mo.with_suffix(".mo.tmp")
        tmp.write_bytes(compile_catalog(po, po.parent.parent.name))
        tmp.replace(mo)
        written.append(mo)
    return written
