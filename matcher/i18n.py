"""Languages of the human-readable text: bokmål (default), nynorsk and English.

Every word the engine writes for people (reports, maps, explanations, reasons,
CLI tables, progress lines, error messages) goes through :func:`gettext`
(imported as ``_``) or :func:`ngettext`; machine-readable fields (CSV headers,
JSON keys, enum values, exit codes) never do.

The catalogs are gettext ``.po`` files in ``matcher/locale/<lang>/LC_MESSAGES``,
kept with Babel (``python scripts/i18n.py extract|update|check``) and compiled
to ``.mo`` at build time (``hatch_build.py``). A checkout that was never built
compiles them in memory on first use, so ``python cli.py`` works too.

The language in effect is a context variable, not a global: the CLI sets it
from ``--lang`` or ``[report] language``, :func:`matcher.pipeline.run` from its
settings, and a notebook with ``with i18n.language("nn"): ...`` (or a plain
``i18n.language("nn")`` in a cell). Without any of
these it is :data:`DEFAULT_LANGUAGE` (``nb``).

Source strings are English and use named ``str.format`` fields::

    _("{home} has no free place").format(home=home_id)
    ngettext("{n} child waits", "{n} children wait", n).format(n=n)

Texts defined at import time (tables of reasons, column titles) are marked
with :func:`N_` and translated where they are used, with ``_(text)``.
"""

from __future__ import annotations

import datetime
import functools
import gettext as _gettext
import io
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Language",
    "activate",
    "check",
    "current",
    "decimal_symbol",
    "format_date",
    "format_minutes",
    "format_number",
    "gettext",
    "language",
    "ngettext",
    "translations",
]

Language = Literal["nb", "nn", "en"]
LANGUAGES: tuple[Language, ...] = ("nb", "nn", "en")
"""The languages of the human-readable output: bokmål, nynorsk, English."""
DEFAULT_LANGUAGE: Language = "nb"
DOMAIN = "matcher"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current: ContextVar[Language] = ContextVar("matcher_language", default=DEFAULT_LANGUAGE)


def check(lang: str) -> Language:
    """Return ``lang`` as a :data:`Language`, or raise listing the allowed values."""
    if lang not in LANGUAGES:
        from matcher.errors import InputError

        raise InputError(gettext("language '{lang}' is not available: use one of {allowed}")
                         .format(lang=lang, allowed=", ".join(LANGUAGES)))
    return lang


def current() -> Language:
    """The language in effect in this context."""
    return _current.get()


class _Switch:
    """The language switch :func:`language` returns (a context manager)."""

    def __init__(self, lang: str | None) -> None:
        self._token = _current.set(check(lang) if lang is not None else _current.get())

    def __enter__(self) -> Language:
        return _current.get()

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)

    def __repr__(self) -> str:
        return f"language({_current.get()!r})"


def language(lang: str | None) -> _Switch:
    """Use ``lang`` for the text made from here on, or inside a ``with`` block.

    ``with language("nn"): ...`` switches for the block and restores the
    language before it; a plain call ``language("nn")`` (a notebook cell)
    switches the current context until the next switch. ``None`` keeps the
    current language.
    """
    return _Switch(lang)


def activate(lang: str) -> None:
    """Switch the language of the current context (undone by an enclosing :func:`language`)."""
    _current.set(check(lang))


@functools.cache
def translations(lang: Language) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English is the source language: no catalog)."""
    if lang == "en":
        return _gettext.NullTranslations()
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return _gettext.GNUTranslations(fh)
    if not po.exists():
        return _gettext.NullTranslations()
    # a checkout that was never built: compile the .po in memory
    from matcher._catalogs import compile_catalog

    return _gettext.GNUTranslations(io.BytesIO(compile_catalog(po, lang)))


def gettext(message: str) -> str:
    """Translate ``message`` into the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate with the plural form the current language uses for ``n``."""
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark ``message`` for extraction; translate it later with ``_(message)``."""
    return message


def _locale() -> str:
    return {"nb": "nb_NO", "nn": "nn_NO", "en": "en_GB"}[_current.get()]


def format_number(value: float, digits: int = 0) -> str:
    """Format a number as the current language writes it (``12,5`` in Norwegian)."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(round(float(value), digits), format=pattern, locale=_locale())


def decimal_symbol() -> str:
    """The decimal separator of the current language (``,`` in Norwegian, ``.`` in English)."""
    from babel.numbers import get_decimal_symbol

    return str(get_decimal_symbol(_locale()))


def format_minutes(minutes: float) -> str:
    """Format a travel time in minutes, rounded to whole minutes: ``12 min``."""
    return gettext("{minutes} min").format(minutes=format_number(minutes, 0))


def format_date(day: datetime.date) -> str:
    """Format a date in the long form of the current language (``27. november 2026``)."""
    from babel.dates import format_date as _format

    return _format(day, format="long", locale=_locale())
