"""Languages a child or a home speaks: codes checked against ISO 639-3, one code per language.

A cell of a ``languages`` column lists ISO 639-1 codes (two letters: ``nb``,
``se``, ``so``) or ISO 639-3 codes (three letters: ``sma``, ``smj``, ``fkv``,
``rmu``, ``nsl``), so that every language a child in Norway may speak can be
recorded, the Sami languages, Kven, Romani, Romanes and Norwegian Sign
Language included. Codes are checked against ISO 639-3 (the ``pycountry``
package).

**One code per language.** A language with an ISO 639-1 code is stored under
it, whichever code was written (``sme`` -> ``se``, ``nob`` -> ``nb``,
``som`` -> ``so``); every other language keeps its ISO 639-3 code. This is the
rule of BCP 47 language tags (the shortest code), so ``se`` and ``sme`` are the
same language wherever languages are compared. Macrolanguages stay what they
are: ``no`` (Norwegian) is not ``nb`` or ``nn``.

**Names** are in the language in effect (:func:`matcher.i18n.current`): from
CLDR (Babel) where it has the language, from our own catalogs for Norway's
minority languages that CLDR lacks or names otherwise than Norwegian law
(``fkv`` kvensk, ``rmu`` romani, ``rom``/``rmy`` romanes, ``nsl`` norsk
tegnspråk), else the English ISO 639-3 name.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import pycountry
from babel import Locale

from matcher import i18n
from matcher.i18n import N_
from matcher.i18n import gettext as _

__all__ = ["name", "names", "normalise"]

_OWN: dict[str, str] = {
    "fkv": N_("Kven"),
    "rmu": N_("Romani (Scandoromani)"),
    "rom": N_("Romanes"),
    "rmy": N_("Romanes (Vlax)"),
    "nsl": N_("Norwegian Sign Language"),
}
"""Names from our catalogs: the names the Language Act (språklova, 2021) uses. CLDR has
no Kven, Scandoromani or Norwegian Sign Language, and calls ``rom`` romani, which in
Norway is the name of Scandoromani."""


@functools.cache
def normalise(code: str) -> str | None:
    """The one code of a language, or ``None`` when ``code`` is no ISO 639 code.

    Parameters
    ----------
    code
        An ISO 639-1 (two letters) or ISO 639-3 (three letters) code, lower case.

    Returns
    -------
    str or None
        The ISO 639-1 code when the language has one, else its ISO 639-3 code.
    """
    if not (code.isascii() and code.isalpha() and code.islower() and len(code) in (2, 3)):
        return None
    found = (pycountry.languages.get(alpha_2=code) if len(code) == 2
             else pycountry.languages.get(alpha_3=code))
    if found is None:
        return None
    return str(getattr(found, "alpha_2", None) or found.alpha_3)


@functools.cache
def _name(code: str, lang: str) -> str:
    if code in _OWN:
        with i18n.language(lang):
            return _(_OWN[code])
    cldr = Locale.parse(lang).languages.get(code)
    if cldr:
        return str(cldr)
    found = pycountry.languages.get(alpha_2=code) if len(code) == 2 else \
        pycountry.languages.get(alpha_3=code)
    return str(found.name) if found is not None else code


def name(code: str) -> str:
    """The name of language ``code`` in the language in effect (the code when unknown)."""
    return _name(normalise(code) or code, i18n.current())


def names(codes: Iterable[str]) -> list[str]:
    """:func:`name` of each code, in the given order."""
    return [name(c) for c in codes]
