"""Words of Norwegian practice in the nb and nn catalogs (issue 21, item 7).

Bufetat prepares (klargjør) a family for a target group; approving a home is
the municipal child welfare service's decision for one child. The supervisor
is a *tilsynsperson*; kinship homes are *familie- og nettverkshjem*.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parents[1] / "matcher" / "locale"

OLD = {
    "nb": re.compile(r"godkjent(e)? (for|til) alder|godkjent(e)? aldersspenn|tilsynsfører"
                     r"|slektsfosterhjem|er godkjent for barnets alder|kommunen sa nei", re.I),
    "nn": re.compile(r"godkjend(e)? (for|til) alder|godkjen[dt]e? aldersspenn|tilsynsfør"
                     r"|slektsfosterheim|godkjend for alderen|kommunen sa nei", re.I),
}
NEW = {"nb": ("klargjort for alder", "familie- og nettverkshjem", "barneverntjenesten"),
       "nn": ("klargjord for alder", "familie- og nettverksheim", "barnevernstenesta")}


def _msgstrs(lang: str) -> list[str]:
    with (LOCALE / lang / "LC_MESSAGES" / "matcher.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    out: list[str] = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        out.extend(s for s in strings if s and message.id)
    return out


@pytest.mark.parametrize("lang", ["nb", "nn"])
def test_old_words_are_gone_from_the_translations(lang: str) -> None:
    strings = _msgstrs(lang)
    assert len(strings) > 1000
    found = [s for s in strings if OLD[lang].search(s)]
    assert found == []


@pytest.mark.parametrize("lang", ["nb", "nn"])
def test_new_words_are_used(lang: str) -> None:
    text = "\n".join(_msgstrs(lang))
    for word in NEW[lang]:
        assert word in text, word


def test_the_pattern_finds_the_old_words() -> None:
    assert OLD["nb"].search("ingen hjem godkjent for alder 7")
    assert OLD["nb"].search("tilsynsfører")
    assert OLD["nn"].search("ein slektsfosterheim for eit anna barn")
    assert not OLD["nb"].search("hjemmet er klargjort for alder 7")
