"""A small, safe Markdown renderer for run and experiment notes and ``.md`` artifacts.

Safe by construction: every line is HTML-escaped first, and the only tags in the
output are the ones this module writes. Raw HTML in the source shows as text. Links
keep only ``http:``, ``https:``, ``mailto:`` and relative targets (``javascript:`` and
the like become plain text) and open with ``rel="noopener noreferrer nofollow"``.

Supported: ATX headings (``#`` to ``######``), paragraphs, hard line breaks (two
trailing spaces), ``**bold**``, ``*italic*`` / ``_italic_``, ``~~strike~~``,
```inline code```, fenced code blocks (```` ``` ````), bullet and numbered lists (one
level), block quotes, horizontal rules (``---``) and ``[text](url)`` links. Anything else
stays as escaped text, never as markup.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup, escape

__all__ = ["render"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_EM = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?!\*)|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?!\w)")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MAX_CHARS = 1_000_000


def _link(match: re.Match[str]) -> str:
    text, url = match.group(1), match.group(2)
    target = html.unescape(url).strip()
    scheme = re.split(r"[/?#]", target, maxsplit=1)[0]
    if ":" in scheme and not target.lower().startswith(("http://", "https://", "mailto:")):
        return match.group(0)  # javascript:, data: and other schemes stay text
    return f'<a href="{url}" rel="noopener noreferrer nofollow" target="_blank">{text}</a>'


def _inline(text: str) -> str:
    """Inline markup of one escaped line: code spans first, their contents left alone."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{part}</code>")
            continue
        part = _LINK.sub(_link, part)
        part = _STRONG.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", part)
        part = _EM.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", part)
        part = _STRIKE.sub(lambda m: f"<del>{m.group(1)}</del>", part)
        out.append(part)
    return "".join(out)


def _paragraph(lines: list[str]) -> str:
    body = ""
    for i, line in enumerate(lines):
        end = "<br>" if line.endswith("  ") and i < len(lines) - 1 else ""
        body += _inline(line.strip()) + end + ("\n" if i < len(lines) - 1 else "")
    return f"<p>{body}</p>"


class _Blocks:
    """Collects rendered blocks while walking the lines once."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.para: list[str] = []
        self.items: list[str] = []
        self.list_tag = ""
        self.quote: list[str] = []

    def close(self) -> None:
        if self.para:
            self.out.append(_paragraph(self.para))
            self.para = []
        if self.items:
            lis = "".join(f"<li>{_inline(item)}</li>" for item in self.items)
            self.out.append(f"<{self.list_tag}>{lis}</{self.list_tag}>")
            self.items = []
        if self.quote:
            self.out.append(f"<blockquote>{render_lines(self.quote)}</blockquote>")
            self.quote = []

    def line(self, line: str) -> None:
        heading, bullet, numbered = _HEADING.match(line), _BULLET.match(line), _NUMBERED.match(line)
        if line.lstrip().startswith("&gt;"):
            if not self.quote:
                self.close()
            self.quote.append(re.sub(r"^\s*&gt;\s?", "", line))
        elif not line.strip():
            self.close()
        elif heading:
            self.close()
            level = len(heading.group(1))
            self.out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif _RULE.match(line):
            self.close()
            self.out.append("<hr>")
        elif bullet or numbered:
            tag = "ul" if bullet else "ol"
            if self.para or self.quote or (self.items and tag != self.list_tag):
                self.close()
            self.list_tag = tag
            self.items.append((bullet or numbered).group(1))  # type: ignore[union-attr]
        elif self.items:
            self.items[-1] += " " + line.strip()  # a list item's continuation line
        else:
            if self.quote:
                self.close()
            self.para.append(line)


def render_lines(lines: list[str]) -> str:
    """Render already-escaped lines to HTML."""
    blocks = _Blocks()
    fence: str | None = None
    code: list[str] = []
    for line in lines:
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1) == fence:
                blocks.out.append("<pre><code>" + "\n".join(code) + "</code></pre>")
                fence, code = None, []
            else:
                code.append(line)
            continue
        if opening:
            blocks.close()
            fence = opening.group(1)
            continue
        blocks.line(line)
    if fence is not None:
        blocks.out.append("<pre><code>" + "\n".join(code) + "</code></pre>")
    blocks.close()
    return "\n".join(blocks.out)


def render(text: str | None) -> Markup:
    """Markdown ``text`` as safe HTML (empty for None or blank text).

    Args:
        text: the Markdown source; over 1,000,000 characters it is cut there.

    Returns:
        HTML that Jinja2 inserts as is (only this module's tags, everything else escaped).
    """
    if not text or not text.strip():
        return Markup("")
    escaped = str(escape(text[:_MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")))
    return Markup(render_lines(escaped.split("\n")))
