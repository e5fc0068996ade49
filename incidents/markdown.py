"""Markdown written by page members (incident updates, postmortems), rendered for the public.

Every piece of user Markdown goes through `render_markdown`: raw HTML is shown as text, and the
result is sanitized by nh3 against an explicit allow-list anyway, so the guarantee never rests
on the parser alone.

Rendering has a time budget, because one editor's text must not stall a web worker: the text
is at most `MARKDOWN_MAX_LENGTH` characters (the write methods refuse more), GitHub's cmark
parses it in linear time, and a text that would still make the sanitizer slow (more markup
than a person writes, or nesting deeper than one reads) is shown as its escaped source instead.
"""

import ctypes
import html
import re
from itertools import accumulate

import nh3
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options
from django.core.validators import MaxLengthValidator
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

MARKDOWN_MAX_LENGTH = 100_000
validate_markdown_length = MaxLengthValidator(
    MARKDOWN_MAX_LENGTH,
    "Markdown text can have at most %(limit_value)d characters (this has %(show_value)d).",
)

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALIGNMENTS = {"left", "center", "right"}
# Fenced code gets class="language-<info>"; any other class is dropped.
_CODE_LANGUAGE = re.compile(r'<code class="(language-[\w+#.-]+)"')


def _sanitize(rendered: str) -> str:
    # The language classes this HTML has are the ones allowed: a filter function instead
    # would cost a call into Python for every attribute of every element.
    classes = set(_CODE_LANGUAGE.findall(rendered))
    sanitizer = nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={"code": classes},
        tag_attribute_values={"th": {"align": ALIGNMENTS}, "td": {"align": ALIGNMENTS}},
        url_schemes={"http", "https", "mailto"},
        # The same HTML goes into emails and feeds, where a relative URL has no base to resolve
        # against; denying them also drops obfuscated schemes that only parse as relative paths.
        url_relative="deny",
        link_rel="nofollow noopener noreferrer",
    )
    # nh3 keeps a class attribute it has emptied.
    return sanitizer.clean(rendered).replace('<code class="">', "<code>")


_tag_stripper = nh3.Cleaner(tags=set())


class _Allocator(ctypes.Structure):
    _fields_ = [
        ("calloc", ctypes.c_void_p),
        ("realloc", ctypes.c_void_p),
        ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
    ]


# cmarkgfm ships GitHub's cmark-gfm, but its Python wrappers never free the parsed tree nor the
# rendered HTML (a few hundred bytes per input character, for the life of the worker), so we call
# the same library's C functions and free both.
_cmark_lib = ctypes.CDLL(_cmark.__file__)
for _name, _result, _arguments in [
    ("cmark_gfm_core_extensions_ensure_registered", None, []),
    ("cmark_find_syntax_extension", ctypes.c_void_p, [ctypes.c_char_p]),
    ("cmark_get_default_mem_allocator", ctypes.POINTER(_Allocator), []),
    ("cmark_parser_new", ctypes.c_void_p, [ctypes.c_int]),
    ("cmark_parser_attach_syntax_extension", ctypes.c_int, [ctypes.c_void_p] * 2),
    ("cmark_parser_feed", None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
    ("cmark_parser_finish", ctypes.c_void_p, [ctypes.c_void_p]),
    ("cmark_parser_get_syntax_extensions", ctypes.c_void_p, [ctypes.c_void_p]),
    ("cmark_parser_free", None, [ctypes.c_void_p]),
    ("cmark_render_html", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]),
    ("cmark_node_free", None, [ctypes.c_void_p]),
]:
    getattr(_cmark_lib, _name).restype = _result
    getattr(_cmark_lib, _name).argtypes = _arguments
_cmark_lib.cmark_gfm_core_extensions_ensure_registered()
_EXTENSIONS = [
    _cmark_lib.cmark_find_syntax_extension(name) for name in (b"table", b"strikethrough")
]
# GFM's extended autolinks: a bare https://…, www.… or e-mail address becomes a link (which the
# sanitizer then checks like any other). It looks at every text node, which costs a third more
# on text of many short nodes, so it is attached only to text that has something to link.
_AUTOLINK_EXTENSION = _cmark_lib.cmark_find_syntax_extension(b"autolink")
_MAY_HAVE_ADDRESSES = re.compile(r"://|www\.|@", re.IGNORECASE)
_free = _cmark_lib.cmark_get_default_mem_allocator().contents.free

# Without CMARK_OPT_UNSAFE cmark drops javascript:, vbscript:, file: and data: link targets.
# Strikethrough takes ~~two~~ tildes, as it did before.
_CMARK_OPTIONS = Options.CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE


def _cmark_html(text: str) -> str:
    source = text.encode("utf-8", "replace")  # a lone surrogate becomes "?"
    parser = _cmark_lib.cmark_parser_new(_CMARK_OPTIONS)
    try:
        attached = _EXTENSIONS
        if _MAY_HAVE_ADDRESSES.search(text):
            attached = [*attached, _AUTOLINK_EXTENSION]
        for extension in attached:
            _cmark_lib.cmark_parser_attach_syntax_extension(parser, extension)
        _cmark_lib.cmark_parser_feed(parser, source, len(source))
        root = _cmark_lib.cmark_parser_finish(parser)
        try:
            extensions = _cmark_lib.cmark_parser_get_syntax_extensions(parser)
            rendered = _cmark_lib.cmark_render_html(root, _CMARK_OPTIONS, extensions)
            try:
                return ctypes.string_at(rendered).decode("utf-8", "replace")
            finally:
                _free(rendered)
        finally:
            _cmark_lib.cmark_node_free(root)
    finally:
        _cmark_lib.cmark_parser_free(parser)


# cmark has no option to treat raw HTML as text (its safe mode drops it), so every "<" that
# does not open an autolink becomes a private-use character before parsing, which nothing in
# Markdown reads as syntax, and becomes "&lt;" again in the HTML.
_LT = "\ue000"
_AUTOLINK = re.compile(
    _LT + r"([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\x00-\x20\ue000>]*"
    r"|[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*)>"
)


def _raw_html_as_text(text: str) -> str:
    return _AUTOLINK.sub(r"<\1>", text.replace(_LT, "\ufffd").replace("<", _LT))


def _text_lt(rendered: str) -> str:
    # In link targets cmark percent-encodes the character as UTF-8.
    return rendered.replace(_LT, "&lt;").replace("%EE%80%80", "%3C")


# What the budget allows: nh3 takes about a microsecond for each tag and each character
# reference, and longer the deeper it is nested; cmark fills every row of a table up to the
# table's columns, so a wide delimiter row followed by many short lines grows to millions of
# cells, and takes longest over block quotes nested in one line (">>>..."). Text past
# these limits is far from anything a person writes to a status page.
_MAX_TAGS_AND_REFERENCES = 20_000
_MAX_DEPTH = 100
# cmark takes about a microsecond for a cell: tens of milliseconds for the bound below.
_MAX_TABLE_CELLS = 20_000
_DEEP_BLOCK_QUOTE = re.compile(rf"^[ \t]*+(?:>[ \t]*+){{{_MAX_DEPTH}}}", re.MULTILINE)
# A line that may be a table's delimiter row ("| :-- | --: |"), possibly in a block quote.
_DELIMITER_ROW = re.compile(r"^(?=[^\n]*-)[ \t\v\f>|:-]++$", re.MULTILINE)
_TAG_EDGE = re.compile(r"</|/>|<")
_DEPTH_CHANGE = {"<": 1, "</": -1, "/>": -1}


def _table_cells_bound(text: str) -> int:
    """More cells than cmark's tables in `text` can have: the widest delimiter row's columns in
    every line (counting each table's rows would take a Python loop over them)."""
    rows = _DELIMITER_ROW.findall(text)
    if not rows:
        return 0
    columns = max(row.count("|") for row in rows) + 1
    return columns * (text.count("\n") + 1)


def _over_budget(rendered: str) -> bool:
    # Counted before an image becomes a link (two tags) and "<" in text becomes "&lt;".
    markup = sum(map(rendered.count, ("<", "<img ", "&", _LT)))
    if markup > _MAX_TAGS_AND_REFERENCES:
        return True
    if markup <= _MAX_DEPTH:
        return False
    # cmark writes a void element as "<br />": the depth is the running count of "<" less
    # "</" and "/>" (raw HTML is text by now, so every "<" starts a tag).
    edges = _TAG_EDGE.findall(rendered)
    return max(accumulate(map(_DEPTH_CHANGE.__getitem__, edges)), default=0) > _MAX_DEPTH


_IMAGE_WITHOUT_ALT = re.compile(r'<img src="([^"]*)" alt=""((?: title="[^"]*")?) />')
_IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"((?: title="[^"]*")?) />')


def _images_as_links(rendered: str) -> str:
    # A public status page must not make visitors' browsers fetch third-party content, so an
    # image becomes a plain link to it, labelled with its alt text (plain text in cmark's HTML)
    # or its address.
    rendered = _IMAGE_WITHOUT_ALT.sub(r'<a href="\1"\2>\1</a>', rendered)
    return _IMAGE.sub(r'<a href="\1"\3>\2</a>', rendered)


def _shift_headings(rendered: str, offset: int) -> str:
    # Level by level, away from the direction of the shift, so no heading moves twice.
    for level in range(6, 0, -1) if offset > 0 else range(1, 7):
        new = min(max(level + offset, 1), 6)
        if new != level:
            rendered = rendered.replace(f"<h{level}>", f"<h{new}>")
            rendered = rendered.replace(f"</h{level}>", f"</h{new}>")
    return rendered


def _sanitized_html(text: str, heading_offset: int) -> str | None:
    """The sanitized HTML of `text`, or None when it is over the rendering budget."""
    # cmark ends lines at "\r" too: one kind of line end keeps the table bound true.
    text = text[:MARKDOWN_MAX_LENGTH].replace("\r\n", "\n").replace("\r", "\n")
    if _table_cells_bound(text) > _MAX_TABLE_CELLS or _DEEP_BLOCK_QUOTE.search(text):
        return None
    rendered = _cmark_html(_raw_html_as_text(text))
    if _over_budget(rendered):
        return None
    rendered = _text_lt(rendered).replace("<del>", "<s>").replace("</del>", "</s>")
    rendered = _shift_headings(_images_as_links(rendered), heading_offset)
    return _sanitize(rendered)


def render_markdown(text: str | None, heading_offset: int = 2) -> SafeString:
    """Render user Markdown to sanitized HTML, safe to output without escaping.

    `heading_offset` shifts heading levels because the body sits under the page's own
    headings: with the default of 2, `#` becomes <h3>. Levels are kept within h1..h6.
    Past `MARKDOWN_MAX_LENGTH` characters the text is cut; a text over the rendering budget
    is shown as its source, escaped.
    """
    if not text:
        return SafeString("")
    rendered = _sanitized_html(text, heading_offset)
    if rendered is None:
        # Escaped text in one element leaves nh3 nothing to remove, and would cost it a
        # microsecond for each escaped character.
        return format_html("<pre>{}</pre>\n", text[:MARKDOWN_MAX_LENGTH])
    return mark_safe(rendered)  # noqa: S308 -- sanitized by nh3


_LINK = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|blockquote|pre|ul|ol|table)>|<hr>")


def _link_with_url(match):
    href, label = match.groups()
    # An address written out (<https://…>, or bare: www.example.com is linked as http://…).
    if label in (href, href.removeprefix("mailto:"), href.removeprefix("http://")):
        return label
    return f"{label} ({href})"


def markdown_to_text(text: str | None) -> str:
    """Plain text of user Markdown, for email text parts and feed summaries.

    Link targets are kept in parentheses after the link text so a text email loses nothing.
    The result is unescaped text: HTML templates must escape it (autoescape does).
    """
    if not text:
        return ""
    rendered = _sanitized_html(text, 2)
    if rendered is None:
        return text[:MARKDOWN_MAX_LENGTH].strip()
    rendered = _LINK.sub(_link_with_url, rendered)
    # A blank line after each block, so paragraphs stay apart once the tags are gone.
    rendered = _BLOCK_END.sub(lambda match: match.group(0) + "\n", rendered)
    plain = html.unescape(_tag_stripper.clean(rendered))
    lines = "\n".join(line.rstrip() for line in plain.splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines).strip()
