"""The prose of a GitHub comment: the one place that decides which markdown text a trigger may be in.

A mention or a slash command counts only where a reader sees it as ordinary paragraph text.
`prose(text)` parses the comment as CommonMark (markdown-it-py; GitHub's renderer is a
CommonMark extension) after removing invisible characters, and keeps only paragraphs.
Dropped:

- fenced code blocks and indented code blocks (an indented line inside a list item or a
  paragraph is not code: the parser knows the difference), and code spans;
- block quotes, with their lazy continuation lines (a line without `>` that continues a
  quoted paragraph is still quoted);
- raw HTML blocks and inline tags, HTML comments (an unclosed `<!--` hides the rest), image
  alt text, and everything inside `<pre>`, `<code>` and the other elements in
  `HIDING_ELEMENTS`, across lines and paragraphs (an unclosed one hides the rest).

Whatever is dropped inside a paragraph leaves `HIDDEN` behind, so the text after it never
starts a line: `<b>x</b>/kagura run` is not a command at the start of a line.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

HIDDEN = "\ufffc"  # stands where hidden text was (never produced by clean input: strip_invisible drops Cf/Co)
HIDING_ELEMENTS = frozenset({
    "pre", "code", "kbd", "samp", "tt", "var", "blockquote", "q",
    "script", "style", "template", "textarea", "noscript",
})  # fmt: skip
MAX_CHARS = 65536  # GitHub's limit for a comment body: text beyond it cannot be on github.com
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*)?/?>")


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


class _Reader:
    def __init__(self) -> None:
        self.open: list[str] = []  # hiding elements opened by raw HTML, innermost last
        self.stopped = False  # an unclosed comment: nothing after it is shown

    @property
    def hidden(self) -> bool:
        return bool(self.open)

    def html(self, chunk: str) -> None:
        """Track hiding elements opened and closed by a piece of raw HTML."""
        pos = 0
        while True:
            comment = chunk.find("<!--", pos)
            tag = _TAG.search(chunk, pos)
            if comment >= 0 and (tag is None or comment < tag.start()):
                end = chunk.find("-->", comment + 4)
                if end < 0:
                    self.stopped = True
                    return
                pos = end + 3
                continue
            if tag is None:
                return
            closing, name = tag.group(1) == "/", tag.group(2).lower()
            if name in HIDING_ELEMENTS:
                if not closing:
                    self.open.append(name)
                elif name in self.open:
                    del self.open[len(self.open) - 1 - self.open[::-1].index(name) :]
            pos = tag.end()

    def inline(self, children: list[Any]) -> str:
        out: list[str] = []
        for child in children:
            kind = child.type
            if kind in ("softbreak", "hardbreak"):
                out.append("\n")
            elif kind in ("text", "text_special"):
                shown, opened, _ = child.content.partition("<!--")  # unclosed: the parser left it as text
                out.append(HIDDEN if self.hidden else shown)
                if opened:
                    self.stopped = True
            elif kind == "html_inline":
                self.html(child.content)
                out.append(HIDDEN)
            elif kind in ("code_inline", "image"):
                out.append(HIDDEN)
            if self.stopped:
                out.append(HIDDEN)
                break
        return "".join(out)


def prose(text: str | None) -> str:
    """The comment's paragraph text outside quotes, code and HTML; paragraphs apart by a blank line."""
    from kagura_engineer.github.sanitize import strip_invisible

    if not text:
        return ""
    tokens = _parser().parse(strip_invisible(text[:MAX_CHARS]))
    reader = _Reader()
    paragraphs: list[str] = []
    quoted = 0
    in_paragraph = False
    for token in tokens:
        kind = token.type
        if kind == "blockquote_open":
            quoted += 1
        elif kind == "blockquote_close":
            quoted -= 1
        elif kind == "paragraph_open":
            in_paragraph = True
        elif kind == "paragraph_close":
            in_paragraph = False
        elif kind == "html_block":
            reader.html(token.content)
        elif kind == "inline":
            shown = reader.inline(token.children or [])
            if in_paragraph and not quoted:
                paragraphs.append(shown)
        if reader.stopped:
            break
    return "\n\n".join(paragraphs)
