"""One rule for rendering user-given text (ids, file names, pool names): inert everywhere.

Every text a user or an input file gave is rendered through one of these
functions, never pasted as is: first every character that is not printable
(control characters, line breaks, ANSI escapes) becomes a space, then the
characters special to the target become literal. The result shows the text as
given and can neither format, link nor run anything.

* :func:`markdown` for ``report.md`` (also safe as HTML inside Markdown);
* :func:`html` for HTML pages (briefs, the web map);
* :func:`terminal` for rich console output (tables, status lines, messages).
"""

from __future__ import annotations

import html as _html
import re

from rich.markup import escape as _rich_escape

__all__ = ["html", "markdown", "printable", "terminal"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~<>&])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def printable(value: object) -> str:
    """Return ``str(value)`` on one line, every non-printable character a space."""
    return "".join(c if c.isprintable() else " " for c in str(value))


def markdown(value: object) -> str:
    """Return ``value`` as inert Markdown text: no markup, no HTML, one line."""
    return _MARKDOWN_SPECIAL.sub(
        lambda m: _ENTITIES.get(m.group(1), "\\" + m.group(1)), printable(value))


def html(value: object) -> str:
    """Return ``value`` as inert HTML text (also safe inside a quoted attribute)."""
    return _html.escape(printable(value), quote=True)


def terminal(value: object) -> str:
    """Return ``value`` as inert rich console markup: ``[/]`` and ``[red]`` are shown as is."""
    return _rich_escape(printable(value))
