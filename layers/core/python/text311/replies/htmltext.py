"""HTML mail to plain text, without the quoted history clients wrap in known containers.

Built on the standard library's ``html.parser`` (the Lambda ships no lxml). Two kinds of container:
those that hold only the quote (Gmail ``div.gmail_quote``, Apple ``blockquote type=cite``, Yahoo
``yahoo_quoted``) are skipped with their children; those that only *open* the history (Outlook's
``divRplyFwdMsg``, ``appendonsend`` and border-top header div, Thunderbird's ``moz-cite-prefix``,
Zimbra's ``hr#zwchr``) end the text: everything after them in the document is history.

A bare ``<blockquote>`` is ambiguous: clients also use it to indent the agent's own text. Its lines
are kept only when a splitter ("On … wrote:") follows it, i.e. it sits in the answer above the
history; otherwise it is history. Gmail's indent (``border:none``) is always kept. Signature
containers (Gmail, Thunderbird, Outlook on the web) are dropped like quotes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from text311.replies.quotes import find_splitter

_SKIPPED_TAGS = {"head", "style", "script", "title", "template", "xml"}
_VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"}
_BLOCK_TAGS = {
    "p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "section",
    "article", "header", "footer", "dl", "dt", "dd", "address", "center", "form", "fieldset", "hr",
}  # fmt: skip
_QUOTE_CLASSES = re.compile(r"\b(gmail_quote|gmail_quote_container|yahoo_quoted|ydp\w*yahoo_quoted)\b")
_END_IDS = re.compile(
    r"^(divRplyFwdMsg|appendonsend|zwchr|OLK_SRC_BODY_SECTION|mail-editor-reference-message-container)$"
)
_END_CLASSES = re.compile(r"\b(moz-cite-prefix|gmail_attr|OutlookMessageHeader)\b")
# Outlook desktop writes the quoted header in a div whose only frame is a thin grey top border.
_OUTLOOK_SEPARATOR = re.compile(
    r"border:\s*none;\s*border-top:\s*solid\s+#[0-9a-f]{6}\s+[\d.]+pt", re.IGNORECASE
)
_SIGNATURE_CLASSES = re.compile(r"\b(gmail_signature|moz-signature)\b")
_SIGNATURE_IDS = re.compile(r"^(x_)?Signature$")
_INDENT = re.compile(r"border:\s*none", re.IGNORECASE)
# Bare blockquote edges, as lines of their own in the text: private-use characters no mail text uses.
_OPEN, _CLOSE = "\ue000", "\ue001"
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.IGNORECASE)


def _attr(attrs: list[tuple[str, str | None]], name: str) -> str:
    return next((value or "" for key, value in attrs if key == name), "")


class _TextBuilder(HTMLParser):
    """Collect the visible text outside quote containers, stopping at the first history opener."""

    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, skipped, bare blockquote) per open element
        self.ended = False

    def _skipping(self) -> bool:
        return self.ended or any(skipped for _, skipped, _ in self.stack)

    def _line_break(self) -> None:
        self.parts.append("\n")

    def _end_line(self) -> None:
        """A block edge ends the current line but, unlike ``<br>``, never makes a blank one."""
        last = next((part for part in reversed(self.parts) if part.strip(" ")), "\n")
        if not last.endswith("\n"):
            self.parts.append("\n")

    def _ends_text(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        return self.drop_quotes and bool(
            _END_IDS.match(_attr(attrs, "id"))
            or _END_CLASSES.search(_attr(attrs, "class"))
            or (tag == "div" and _OUTLOOK_SEPARATOR.search(_attr(attrs, "style")))
        )

    def _skips(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in _SKIPPED_TAGS or _HIDDEN.search(_attr(attrs, "style")):
            return True
        if not self.drop_quotes:
            return False
        css_class, ident = _attr(attrs, "class"), _attr(attrs, "id")
        cited = tag == "blockquote" and _attr(attrs, "type").lower() == "cite"
        return bool(
            cited
            or _QUOTE_CLASSES.search(css_class)
            or _SIGNATURE_CLASSES.search(css_class)
            or _SIGNATURE_IDS.match(ident)
        )

    def _bare_blockquote(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        return self.drop_quotes and tag == "blockquote" and not _INDENT.search(_attr(attrs, "style"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._ends_text(tag, attrs) and not self._skipping():
            self.ended = True
        if tag == "br" and not self._skipping():
            self._line_break()
        elif tag in _BLOCK_TAGS or tag == "blockquote":
            self._end_line()
        if tag == "li" and not self._skipping():
            self.parts.append("- ")
        if tag in _VOID_TAGS:
            return
        skipped = self._skips(tag, attrs)
        bare = not skipped and not self._skipping() and self._bare_blockquote(tag, attrs)
        if bare:
            self.parts.append(_OPEN + "\n")
        self.stack.append((tag, skipped, bare))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS and self.stack and self.stack[-1][0] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        # Mail HTML is often unbalanced: close up to the nearest matching open tag, ignore strays.
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                closed = self.stack[depth:]
                del self.stack[depth:]
                if any(bare for _, _, bare in closed):
                    self._end_line()
                    self.parts.append(_CLOSE + "\n")
                break
        if tag in _BLOCK_TAGS or tag == "blockquote":
            self._end_line()

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def _resolve_bare_blockquotes(lines: list[str]) -> list[str]:
    """Keep a bare blockquote's lines when a splitter follows it (it is in the answer), else drop them."""
    out: list[str] = []
    region: list[str] = []
    depth = 0
    for i, line in enumerate(lines):
        if line == _OPEN:
            depth += 1
        elif line == _CLOSE and depth:
            depth -= 1
            if not depth:
                rest = [rest_line for rest_line in lines[i + 1 :] if rest_line not in (_OPEN, _CLOSE)]
                out.extend(region if find_splitter(rest) is not None else [])
                region = []
        elif line not in (_OPEN, _CLOSE):
            (region if depth else out).append(line)
    return out + region  # an unclosed blockquote runs to the end: treated as history below


def _convert(html: str, drop_quotes: bool) -> str:
    builder = _TextBuilder(drop_quotes)
    builder.feed(html)
    builder.close()
    text = "".join(builder.parts).replace("\xa0", " ")
    lines = _resolve_bare_blockquotes([line.strip() for line in text.split("\n")])
    return "\n".join(lines)


def html_to_text(html: str) -> str:
    """Visible text of an HTML reply, quote containers removed, one line per block or ``<br>``.

    A forward (Gmail puts it in a quote container too) goes with its container. A reply the client
    wrapped whole in a blockquote, or a bare forward, would come out empty: then the text keeps the
    containers and the plain-text rules find the history (or the forward) instead.
    """
    text = _convert(html, drop_quotes=True)
    if text.strip():
        return text
    return _convert(html, drop_quotes=False)
