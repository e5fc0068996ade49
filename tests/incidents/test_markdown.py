import html
import re
import resource
import time
from html.parser import HTMLParser

import pytest
from cmarkgfm.cmark import Options
from django.utils.safestring import SafeString

from incidents import markdown
from incidents.markdown import MARKDOWN_MAX_LENGTH, markdown_to_text, render_markdown

UNSAFE = Options.CMARK_OPT_UNSAFE

# What the output may contain, written out here rather than imported, so a widened allow-list in
# the module shows up as a failing test.
TAGS = {
    *("a", "blockquote", "br", "code", "em", "hr", "li", "ol", "p", "pre", "s", "strong"),
    *("table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6", "ul"),
}
ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "code": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
LINK_REL = "nofollow noopener noreferrer"


class Tags(HTMLParser):
    """Start tags of a fragment, with attribute values unescaped as a browser would see them."""

    def __init__(self, fragment):
        super().__init__()
        self.tags = []
        self.markup = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self.markup.append(self.get_starttag_text())

    handle_startendtag = handle_starttag


def url_scheme(url):
    # What a browser's URL parser does before reading the scheme: drop tabs and newlines
    # anywhere, trim C0 controls and spaces at both ends.
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(0x21))))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return match[1].lower() if match else None


def assert_safe(output):
    assert isinstance(output, SafeString)
    lowered = output.lower()
    for tag in ("script", "iframe", "svg", "style", "img", "math", "form", "object", "embed"):
        assert f"<{tag}" not in lowered
    for tag in ("base", "meta", "link", "input", "button", "frame", "video", "audio", "template"):
        assert f"<{tag}" not in lowered
    assert "<!--" not in output

    parsed = Tags(output)
    markup = " ".join(parsed.markup).lower()
    # Outside attribute values: a title may well say "onerror=" as text.
    assert not re.search(r"\son\w+\s*=", re.sub(r'"[^"]*"|\'[^\']*\'', '""', markup))
    for tag, attrs in parsed.tags:
        assert tag in TAGS
        for name, value in attrs:
            assert name in ATTRIBUTES.get(tag, set()), (tag, name)
            if name == "href":
                assert url_scheme(value) in {"http", "https", "mailto"}, value
            if name == "rel":
                assert value == LINK_REL
            if name == "class":
                assert re.fullmatch(r"language-[\w+#.-]+", value), value
            # html.parser has unescaped the value already.
            squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            for scheme in ("javascript:", "vbscript:", "data:", "file:"):
                assert scheme not in squeezed, (tag, name, value)
    for scheme in ("javascript:", "vbscript:", "data:", "file:"):
        assert scheme not in markup
        assert scheme not in html.unescape(markup)


def test_paragraphs_render():
    assert render_markdown("One.\n\nTwo.") == "<p>One.</p>\n<p>Two.</p>\n"


def test_emphasis_strong_and_strikethrough_render():
    assert render_markdown("*a* **b** ~~c~~") == "<p><em>a</em> <strong>b</strong> <s>c</s></p>\n"


def test_hard_line_breaks_render():
    assert render_markdown("a  \nb") == "<p>a<br>\nb</p>\n"


def test_unordered_and_ordered_lists_render():
    assert render_markdown("- a\n- b") == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"
    assert render_markdown("3. a\n4. b") == '<ol start="3">\n<li>a</li>\n<li>b</li>\n</ol>\n'


def test_nested_lists_render():
    assert render_markdown("- a\n  1. b\n  2. c\n- d") == (
        "<ul>\n<li>a\n<ol>\n<li>b</li>\n<li>c</li>\n</ol>\n</li>\n<li>d</li>\n</ul>\n"
    )


def test_links_render_with_title_and_rel():
    assert render_markdown('[docs](https://example.com/a?b=1&c=2 "The docs")') == (
        '<p><a href="https://example.com/a?b=1&amp;c=2" title="The docs" '
        f'rel="{LINK_REL}">docs</a></p>\n'
    )


def test_autolinks_render_for_http_and_mail():
    assert render_markdown("<https://example.com> <ops@example.com>") == (
        f'<p><a href="https://example.com" rel="{LINK_REL}">https://example.com</a> '
        f'<a href="mailto:ops@example.com" rel="{LINK_REL}">ops@example.com</a></p>\n'
    )


def test_bare_addresses_in_text_become_links():
    assert render_markdown("See https://example.com/a_b?x=1&y=2. Or www.example.org") == (
        f'<p>See <a href="https://example.com/a_b?x=1&amp;y=2" rel="{LINK_REL}">'
        "https://example.com/a_b?x=1&amp;y=2</a>. Or "
        f'<a href="http://www.example.org" rel="{LINK_REL}">www.example.org</a></p>\n'
    )
    assert render_markdown("Write to ops@example.com") == (
        f'<p>Write to <a href="mailto:ops@example.com" rel="{LINK_REL}">ops@example.com</a></p>\n'
    )


@pytest.mark.parametrize(
    "source",
    [
        "javascript:alert(1)",
        'www.example.com/"onmouseover=alert(1)',
        "https://example.com/<script>alert(1)</script>",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/file",
    ],
)
def test_bare_addresses_are_sanitised_like_any_link(source):
    output = render_markdown(source)
    assert_safe(output)
    assert "<script" not in output


def test_relative_links_lose_their_target_because_emails_and_feeds_have_no_base():
    assert render_markdown("[history](/history)") == f'<p><a rel="{LINK_REL}">history</a></p>\n'


def test_inline_code_renders_escaped():
    assert render_markdown("Run `<b>x</b>`.") == "<p>Run <code>&lt;b&gt;x&lt;/b&gt;</code>.</p>\n"


def test_fenced_code_renders_with_its_language_class():
    assert render_markdown("```python\nif a < b:\n    pass\n```") == (
        '<pre><code class="language-python">if a &lt; b:\n    pass\n</code></pre>\n'
    )


def test_fenced_code_with_a_malformed_language_loses_the_class():
    assert render_markdown('```py"onclick=alert(1)\nx\n```') == "<pre><code>x\n</code></pre>\n"


def test_indented_code_renders():
    assert render_markdown("    x = 1") == "<pre><code>x = 1\n</code></pre>\n"


def test_blockquotes_render():
    assert render_markdown("> Quoted\n> more") == (
        "<blockquote>\n<p>Quoted\nmore</p>\n</blockquote>\n"
    )


def test_tables_render_with_alignment_as_attributes_not_styles():
    output = render_markdown("| a | b | c | d |\n|:--|:-:|--:|---|\n| 1 | 2 | 3 | 4 |")
    assert output == (
        "<table>\n<thead>\n<tr>\n"
        '<th align="left">a</th>\n<th align="center">b</th>\n<th align="right">c</th>\n'
        "<th>d</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
        '<td align="left">1</td>\n<td align="center">2</td>\n<td align="right">3</td>\n'
        "<td>4</td>\n</tr>\n</tbody>\n</table>\n"
    )


def test_horizontal_rules_render():
    assert render_markdown("a\n\n---\n\nb") == "<p>a</p>\n<hr>\n<p>b</p>\n"


def test_images_become_links_so_the_page_loads_nothing_from_third_parties():
    assert render_markdown('![Graph *of* load](https://cdn.example.com/g.png "Load")') == (
        '<p><a href="https://cdn.example.com/g.png" title="Load" '
        f'rel="{LINK_REL}">Graph of load</a></p>\n'
    )


def test_images_without_alt_text_link_with_their_address():
    assert render_markdown("![](https://cdn.example.com/g.png)") == (
        f'<p><a href="https://cdn.example.com/g.png" rel="{LINK_REL}">'
        "https://cdn.example.com/g.png</a></p>\n"
    )


def test_raw_html_is_shown_as_text():
    assert render_markdown("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"


@pytest.mark.parametrize(
    ("source", "tag"),
    [("# a", "h3"), ("## a", "h4"), ("### a", "h5"), ("#### a", "h6"), ("###### a", "h6")],
)
def test_headings_shift_two_levels_down_capped_at_h6(source, tag):
    assert render_markdown(source) == f"<{tag}>a</{tag}>\n"


def test_setext_headings_shift_too():
    assert render_markdown("a\n===\n\nb\n---") == "<h3>a</h3>\n<h4>b</h4>\n"


@pytest.mark.parametrize(("offset", "tag"), [(0, "h1"), (1, "h2"), (5, "h6"), (-3, "h1")])
def test_the_heading_offset_is_a_parameter(offset, tag):
    assert render_markdown("# a", heading_offset=offset) == f"<{tag}>a</{tag}>\n"


@pytest.mark.parametrize("text", ["", None])
def test_empty_text_renders_as_an_empty_safe_string(text):
    output = render_markdown(text)
    assert output == ""
    assert isinstance(output, SafeString)


def test_a_full_document_passes_the_safety_checks():
    # Guards the checks themselves: everything legitimate must get through them.
    output = render_markdown(
        "# Outage\n\n*a* **b** ~~c~~ `d` [e](https://example.com) <ops@example.com>\n\n"
        "1. f\n   - g\n\n> h\n\n```sh\nls\n```\n\n| i | j |\n|:-|-:|\n| 1 | 2 |\n\n---\n"
    )
    assert_safe(output)
    assert {tag for tag, _ in Tags(output).tags} == {
        *("h3", "p", "em", "strong", "s", "code", "a", "ol", "li", "ul", "blockquote", "pre"),
        *("table", "thead", "tbody", "tr", "th", "td", "hr"),
    }


@pytest.mark.parametrize(
    "output",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" jav&#x09;ascript:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<a href="ftp://example.com">x</a>',
        '<a href="https://example.com" rel="opener">x</a>',
        "<p onclick=alert(1)>x</p>",
        '<p style="color:red">x</p>',
        '<code class="x">x</code>',
        "<img src=https://example.com/a.png>",
        "<SVG></SVG>",
        "<div>x</div>",
        "<!-- x -->",
    ],
)
def test_the_safety_checks_reject_unsafe_output(output):
    with pytest.raises(AssertionError):
        assert_safe(SafeString(output))


XSS = {
    "script tag": "<script>alert(1)</script>",
    "script src uppercase": "<SCRIPT SRC=//xss.example/xss.js></SCRIPT>",
    "script split by markdown": "<scr<b>ipt>alert(1)</scr</b>ipt>",
    "img onerror": "<img src=x onerror=alert(1)>",
    "img onerror in a link text": "[<img src=x onerror=alert(1)>](https://example.com)",
    "svg onload": "<svg onload=alert(1)>",
    "svg with script": "<svg><script>alert(1)</script></svg>",
    "math mxss": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "markdown javascript link": "[x](javascript:alert(1))",
    "tab entity in scheme": "[x](jav&#x09;ascript:alert(1))",
    "newline entity in scheme": "[x](jav&#x0A;ascript:alert(1))",
    "mixed case scheme": "[x](JaVaScRiPt:alert(1))",
    "decimal entities": "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;a(1))",
    "hex entities without semicolons": "[x](&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74:a)",
    "named colon entity": "[x](javascript&colon;alert(1))",
    "leading spaces and angle brackets": "[x](<  javascript:alert(1)>)",
    "percent encoded scheme": "[x](javascript%3Aalert(1))",
    "javascript comment trick": "[x](javascript://example.com/%0Aalert(1))",
    "vbscript link": "[x](vbscript:msgbox(1))",
    "data html link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data image link the parser allows": "[x](data:image/png;base64,iVBORw0KGgo=)",
    "data svg image": "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "file link": "[x](file:///etc/passwd)",
    "javascript autolink": "<javascript:alert(1)>",
    "data autolink": "<data:text/html,%3Cscript%3Ealert(1)%3C/script%3E>",
    "reference link": "[x][r]\n\n[r]: javascript:alert(1)",
    "reference link with attribute in title": '[x][r]\n\n[r]: https://e.com "a" onclick="alert(1)"',
    "link title breaking out": '[x](https://example.com "a\\" onmouseover=\\"alert(1)")',
    "image title breaking out": '![x](https://example.com/a.png "\\" onerror=\\"alert(1)")',
    "image with javascript source": "![x](javascript:alert(1))",
    "raw html block": '<div onmouseover="alert(1)">\n\n*hi*\n\n</div>',
    "raw anchor": '<a href="javascript:alert(1)">x</a>',
    "raw anchor with entities": '<a href="&#x6A;avascript:alert(1)">x</a>',
    "style attribute": '<p style="background:url(javascript:alert(1))">x</p>',
    "style tag": "<style>@import 'https://evil.example/x.css';</style>",
    "iframe": '<iframe src="javascript:alert(1)"></iframe>',
    "iframe srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "form action": '<form action="javascript:alert(1)"><button>x</button></form>',
    "object": '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    "embed": '<embed src="javascript:alert(1)">',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "base href": '<base href="javascript:alert(1)//">',
    "html comment": "<!--<script>alert(1)</script>-->",
    "comment hiding a closing tag": "<!-- --!><img src=x onerror=alert(1)> -->",
    "zero width space before scheme": "[x](\u200bjavascript:alert(1))",
    "fullwidth scheme": "[x](\uff4a\uff41\uff56\uff41script:alert(1))",
    "null byte in scheme": "[x](java\x00script:alert(1))",
    "right to left override": "[x](\u202ejavascript:alert(1))",
    "fence info injection": '```"><script>alert(1)</script>\nx\n```',
    "inline code with script": "`<script>alert(1)</script>`",
    "table cell with raw html": "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "details ontoggle": "<details open ontoggle=alert(1)>",
    "template and noscript": '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
}


def let_raw_html_through(monkeypatch):
    # cmark's unsafe mode passes raw HTML and every link target on; the source keeps its "<".
    monkeypatch.setattr(markdown, "_CMARK_OPTIONS", markdown._CMARK_OPTIONS | UNSAFE)
    monkeypatch.setattr(markdown, "_raw_html_as_text", lambda text: text)


@pytest.fixture(params=[False, True], ids=["parser defaults", "parser lets raw html through"])
def parser_lets_raw_html_through(request, monkeypatch):
    # The sanitizer is the guarantee: with the parser's own protections off (raw HTML on,
    # link validation off), every vector must still come out safe.
    if request.param:
        let_raw_html_through(monkeypatch)
    return request.param


@pytest.mark.parametrize("source", XSS.values(), ids=XSS.keys())
def test_xss_vectors_come_out_inert(source, parser_lets_raw_html_through):
    assert_safe(render_markdown(source))


@pytest.mark.parametrize("source", XSS.values(), ids=XSS.keys())
def test_xss_vectors_come_out_inert_inside_other_markdown(source):
    assert_safe(render_markdown(f"# Title\n\n- item {source}\n\n> {source}\n\n| {source} |\n|-|"))


def test_the_relaxed_parser_really_lets_raw_html_and_any_link_through(monkeypatch):
    let_raw_html_through(monkeypatch)
    assert render_markdown("<em>x</em>") == "<p><em>x</em></p>\n"
    # The parser now emits the link; only nh3 removes its target.
    assert render_markdown("[x](javascript:alert(1))") == f'<p><a rel="{LINK_REL}">x</a></p>\n'


def test_plain_text_drops_tags_and_unescapes_entities():
    assert markdown_to_text("**Fixed** `a < b` & <i>x</i>") == "Fixed a < b & <i>x</i>"


def test_plain_text_keeps_paragraphs_apart():
    text = markdown_to_text("# Outage\n\nOne.\n\n\n\nTwo\nlines.")
    assert text == "Outage\n\nOne.\n\nTwo\nlines."


def test_plain_text_keeps_link_targets():
    assert markdown_to_text("See [the docs](https://example.com/a?b=1&c=2).") == (
        "See the docs (https://example.com/a?b=1&c=2)."
    )


def test_plain_text_does_not_repeat_autolink_targets():
    assert markdown_to_text("<https://example.com> <ops@example.com>") == (
        "https://example.com ops@example.com"
    )


def test_plain_text_does_not_repeat_bare_addresses():
    assert markdown_to_text("See https://example.com/a, www.example.org or ops@example.com") == (
        "See https://example.com/a, www.example.org or ops@example.com"
    )


def test_plain_text_shows_no_target_for_a_link_the_sanitizer_dropped():
    assert markdown_to_text("[x](data:image/png;base64,AA) [y](/relative)") == "x y"


@pytest.mark.parametrize("text", ["", None])
def test_plain_text_of_nothing_is_empty(text):
    assert markdown_to_text(text) == ""


# The rendering budget: no text a form or the API accepts takes a web worker 100 ms to render.

CAP = MARKDOWN_MAX_LENGTH


def repeated(unit, length=CAP):
    return (unit * (length // len(unit) + 1))[:length]


def wide_table(columns, rows, row="x", newline="\n"):
    return newline.join(["|" + "a|" * columns, "|" + "-|" * columns, *[row] * rows])


# Inputs known to be slow for Markdown parsers (CommonMark's pathological tests, cmark-gfm's
# and markdown-it's advisories) or for the sanitizer (many tags, character references, nesting).
WORST = {
    "nested brackets": "[" * CAP,
    "nested image brackets": "![" * (CAP // 2),
    "emphasis runs": "*a" * (CAP // 2),
    "underscore runs": "_a" * (CAP // 2),
    "underscores": "_" * CAP,
    "closed emphasis": repeated("*a* "),
    "strong runs": repeated("**a"),
    "mixed delimiters": repeated("*_a"),
    "strikethrough runs": repeated("~~a"),
    "nested emphasis": "*a " * (CAP // 6) + "b" + "* c" * (CAP // 6),
    "emphasis run lengths": "*" * (CAP // 2 - 1) + "a" + "*" * (CAP // 2),
    "unclosed link destinations": repeated("[a]("),
    "nested link openers": "[](" * (CAP // 3),
    "links in links": "[" * (CAP // 5) + "a" + "](b)" * (CAP // 5 - 1),
    "nested images": "![" * (CAP // 6) + "a" + "](b)" * (CAP // 6),
    "link reference definitions": repeated("[a]: https://example.com\n"),
    "long reference labels": "["
    + "a" * 999
    + "]: u\n"
    + repeated("[" + "a" * 999 + "]", CAP - 1006),
    "nested block quotes": ">" * CAP,
    "nested block quote lines": repeated("> a\n"),
    "nested lists": "- " * (CAP // 2 - 1) + "a",
    "nested ordered lists": "1. " * (CAP // 3 - 1) + "a",
    "nested quotes and lists": "> - " * (CAP // 4 - 1) + "a",
    "indented nested lists": "".join("  " * i + "- a\n" for i in range(300)),
    "backticks": "`" * CAP,
    "backtick runs": "".join("`" * n + "a" for n in range(1, 445)),
    "code spans": repeated("`a`"),
    "a 15,000-item list": "- a\n" * 15_000,
    "a long numbered list": "".join(f"{i}. item\n" for i in range(1, 12_000))[:CAP],
    "a table with thousands of columns": wide_table(4_000, 10, row="|" + "b|" * 4_000)[:CAP],
    "a wide table over many short rows": wide_table(200, 49_000),
    "the same with carriage returns": wide_table(200, 49_000, newline="\r"),
    "the same in a block quote": wide_table(200, 24_000, row="> x").replace("|", "> |", 2),
    "many small tables": repeated("|a|b|\n|-|-|\n|1|2|\n\n"),
    "raw html tags": repeated("<a>"),
    "unclosed raw html": repeated("<a "),
    "html comments": repeated("<!--"),
    "html blocks": repeated("<div>\n"),
    "less-than signs": "<" * CAP,
    "quotes": '"' * CAP,
    "ampersands": "&" * CAP,
    "character references": repeated("&amp;"),
    "autolinks": repeated("<https://example.com/> "),
    "email autolinks": repeated("<ops@example.com> "),
    "bare addresses": repeated("https://example.com/ "),
    "bare www addresses": repeated("www.a.b "),
    "bare e-mail addresses": repeated("a@b.co "),
    "address openers": repeated("www."),
    "scheme openers": repeated("https://"),
    "at signs": "@" * CAP,
    "a bare address of the whole text": "https://example.com/" + "a" * (CAP - 20),
    "bare addresses in emphasis": repeated("*https://a.b/_ "),
    "emphasis runs around an address": "www.a.b " + "*a" * (CAP // 2 - 4),
    "closed emphasis around an address": "www.a.b " + repeated("*a* ", CAP - 8),
    "links": repeated("[a](https://example.com/) "),
    "images": repeated("![](https://example.com/a.png)"),
    "hard line breaks": repeated("a\\\n"),
    "soft line breaks": repeated("a\n"),
    "headings": repeated("# a\n"),
    "blank lines": "\n" * CAP,
    "backslashes": "\\" * CAP,
    "everything": repeated(
        "*a* [b](https://example.com/) `c` ~~d~~ <e> ![f](https://example.com/g.png) **h**\n"
    ),
}


def best_of_three(function, *args):
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        function(*args)
        timings.append(time.perf_counter() - start)
    return min(timings)


@pytest.mark.parametrize("source", WORST.values(), ids=WORST.keys())
def test_the_worst_text_at_the_cap_renders_without_runaway_backtracking(source):
    # `make bench` (bench/markdown.py) measures the 100 ms target; this guard only catches
    # a quadratic or worse regression (it took 1.5 s), without failing on a busy machine.
    assert len(source) <= CAP
    seconds = best_of_three(render_markdown, source)
    assert seconds < 0.5, f"{seconds * 1000:.0f} ms"
    assert_safe(render_markdown(source))


def test_text_past_the_cap_is_cut():
    output = render_markdown("a" * CAP + "TAIL")
    assert "TAIL" not in output
    assert "a" * 1000 in output
    assert "TAIL" not in markdown_to_text("a" * CAP + "TAIL")


def test_text_over_the_rendering_budget_is_shown_as_its_escaped_source():
    source = ">" * 1_000 + " <script>alert(1)</script> *a*"
    output = render_markdown(source)
    assert output == f"<pre>{html.escape(source)}</pre>\n"
    assert_safe(output)
    assert markdown_to_text(source) == source


def test_what_a_person_writes_stays_within_the_budget():
    # A long postmortem: a 1,000-item list, a table of 200 rows, quotes 10 deep, a log.
    source = "\n\n".join(
        [
            "# Timeline",
            "\n".join(f"- {i:04}: *event* [log](https://example.com/{i})" for i in range(1_000)),
            "| when | what | who |\n|:--|:--|--:|\n"
            + "\n".join(f"| {i} | `step` | ops |" for i in range(200)),
            "> " * 10 + "Quoted **deep**.",
            "```\n" + '{"error": "<timeout>"}\n' * 300 + "```",
        ]
    )
    assert len(source) < CAP
    output = render_markdown(source)
    assert not output.startswith("<pre>")
    assert output.count("<li>") == 1_000
    assert output.count("<tr>") == 201
    assert output.count("<blockquote>") == 10
    assert best_of_three(render_markdown, source) < 0.5  # the 100 ms target is `make bench`'s


def test_rendering_frees_what_cmark_allocates():
    # cmarkgfm's own wrappers keep the tree and the HTML: hundreds of megabytes here.
    source = repeated("# a\n\n*b* [c](https://example.com/) | d |\n|-|\n| e |\n\n", 5_000)
    for _ in range(20):
        render_markdown(source)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(200):
        render_markdown(source)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 20_000
