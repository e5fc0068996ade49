"""Markdown written by page members (incident updates, postmortems), rendered for the public.

Every piece of user Markdown goes through `render_markdown`: the parser escapes raw HTML, and
the result is sanitized by nh3 against an explicit allow-list anyway, so the guarantee never
rests on the parser alone.
"""

import html
import re

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

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
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "ol": {"start"}}
ALIGNMENTS = {"left", "center", "right"}
LANGUAGE_CLASS = re.compile(r"language-[\w+#.-]+")


def _keep_language_class(tag, attribute, value):
    # Fenced code gets class="language-<info>"; anything else in a class is dropped.
    if tag == "code" and attribute == "class":
        return value if LANGUAGE_CLASS.fullmatch(value) else None
    return value


_sanitizer = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    tag_attribute_values={"th": {"align": ALIGNMENTS}, "td": {"align": ALIGNMENTS}},
    attribute_filter=_keep_language_class,
    url_schemes={"http", "https", "mailto"},
    # The same HTML goes into emails and feeds, where a relative URL has no base to resolve
    # against; denying them also drops obfuscated schemes that only parse as relative paths.
    url_relative="deny",
    link_rel="nofollow noopener noreferrer",
)
_tag_stripper = nh3.Cleaner(tags=set())


def _render_image_as_link(self, tokens, idx, options, env):
    # A public status page must not make visitors' browsers fetch third-party content,
    # so an image becomes a plain link to it.
    token = tokens[idx]
    src = token.attrGet("src") or ""
    label = self.renderInlineAsText(token.children or [], options, env) or src
    title = token.attrGet("title")
    title_attr = f' title="{escapeHtml(title)}"' if title else ""
    return f'<a href="{escapeHtml(src)}"{title_attr}>{escapeHtml(label)}</a>'


_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_parser.add_render_rule("image", _render_image_as_link)


def _shift_headings_and_align_cells(tokens, heading_offset):
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = int(token.tag[1]) + heading_offset
            token.tag = f"h{min(max(level, 1), 6)}"
        elif token.type in ("th_open", "td_open"):
            # markdown-it aligns cells with an inline style; we allow no style attribute.
            style = token.attrs.pop("style", "")
            if style.startswith("text-align:"):
                token.attrSet("align", style.removeprefix("text-align:"))


def render_markdown(text: str | None, heading_offset: int = 2) -> SafeString:
    """Render user Markdown to sanitized HTML, safe to output without escaping.

    `heading_offset` shifts heading levels because the body sits under the page's own
    headings: with the default of 2, `#` becomes <h3>. Levels are kept within h1..h6.
    """
    if not text:
        return SafeString("")
    env = {}
    tokens = _parser.parse(text, env)
    _shift_headings_and_align_cells(tokens, heading_offset)
    rendered = _parser.renderer.render(tokens, _parser.options, env)
    return mark_safe(_sanitizer.clean(rendered))  # noqa: S308 -- sanitized by nh3 just above


_LINK = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|blockquote|pre|ul|ol|table)>|<hr>")


def _link_with_url(match):
    href, label = match.groups()
    if label in (href, href.removeprefix("mailto:")):
        return label
    return f"{label} ({href})"


def markdown_to_text(text: str | None) -> str:
    """Plain text of user Markdown, for email text parts and feed summaries.

    Link targets are kept in parentheses after the link text so a text email loses nothing.
    The result is unescaped text: HTML templates must escape it (autoescape does).
    """
    rendered = render_markdown(text)
    rendered = _LINK.sub(_link_with_url, rendered)
    # A blank line after each block, so paragraphs stay apart once the tags are gone.
    rendered = _BLOCK_END.sub(lambda match: match.group(0) + "\n", rendered)
    plain = html.unescape(_tag_stripper.clean(rendered))
    lines = "\n".join(line.rstrip() for line in plain.splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines).strip()
