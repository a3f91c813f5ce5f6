"""A feed entry's HTML body → safe Markdown, with code, footnotes and links kept intact.

``to_markdown`` runs four passes:

1. **Sanitise** with nh3 (an explicit allowlist). Its attribute filter resolves every ``href``/``src``
   against the entry's base URL and drops any URL that is not http, https or mailto; in-page
   ``#fragments`` stay for now (footnotes use them).
2. **Lift out** what a converter would get wrong: each ``<pre>`` and ``<code>`` (its text taken
   byte for byte), footnote references and definitions, links and images. Each leaves a
   placeholder word.
3. **Convert** the rest with html-to-markdown, then **neutralise** the text: every ``<``, ``[``,
   ``]``, ``{``, ``}``, backtick and entity-like ``&`` becomes a character reference, so no text
   from the feed can turn into raw HTML, a link, a code span, an attribute list or a snippet
   include.
4. **Put back** links (``[text](url)``, other posts as ``<slug>.md``), footnote references
   ``[^<slug>-N]``, code spans, fenced code blocks (a fence longer than any backtick run in the
   code, a language from the markup or ``language_guess.guess_language``) and the footnote definitions.

The serialised output of nh3 is regular (double-quoted attributes; ``<``, ``>``, ``&`` in text
escaped; attribute values filtered to safe characters), which is what makes pass 2's regular
expressions sound.
"""

from __future__ import annotations

import contextvars
import html
import re
import secrets
from collections.abc import Mapping
from urllib.parse import quote, urldefrag, urljoin, urlsplit

import html_to_markdown
import nh3

from blogtools import language_guess, languages
from blogtools.mdwrite import code_span, escape_text, fence

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "em", "i",
    "strong", "b", "del", "s", "ins", "u", "mark", "sup", "sub", "small",
    "abbr", "q", "cite", "ul", "ol", "li", "dl", "dt", "dd", "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "details", "summary", "div", "section",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt"},
    "pre": {"class", "lang", "data-lang"},
    "code": {"class", "lang", "data-lang"},
    "div": {"class", "lang", "data-lang"},
    "section": {"class"},
    "li": {"id"},
    "sup": {"id"},
    "th": {"align"},
    "td": {"align"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}
_CLASS_TOKEN = re.compile(r"^[A-Za-z0-9_+#.:-]+$")
_ID_VALUE = re.compile(r"^[A-Za-z0-9_:.-]+$")

_CONVERT_OPTIONS = html_to_markdown.ConversionOptions(
    autolinks=False, extract_metadata=False, heading_style="atx", bullets="-",
    code_block_style="backticks",
)
_NONCE = "bt" + secrets.token_hex(4)
_TOKEN = re.compile(_NONCE + r"([CFLRIS])\d+x")
_FOOTNOTE_BOX = re.compile(r'<(div|section) class="[^"]*\bfootnotes?\b[^"]*">')
_FOOTNOTE_ITEM = re.compile(r'<li id="([^"]+)">')
_PRE = re.compile(r'(<div[^>]*>\s*)?<pre([^>]*)>(.*?)</pre>(?(1)\s*</div>)', re.S)
_INLINE_CODE = re.compile(r"<code[^>]*>(.*?)</code>", re.S)
_LINK = re.compile(r'<a(?: href="([^"]*)")?[^>]*>|</a>')
_IMG = re.compile(r'<img([^>]*)>')
_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>")
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
_BASE = contextvars.ContextVar("base", default="")


def safe_url(url: str, base: str = "") -> str | None:
    """``url`` resolved against ``base`` if it is http, https or mailto (a bare ``#fragment``
    passes unchanged when there is no base); None otherwise."""
    url = url.strip()
    if not url:
        return None
    if url.startswith("#") and not base:
        return url
    try:
        absolute = urljoin(base, url) if base else url
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    if scheme not in SAFE_SCHEMES:
        return None
    # Percent-encode what would end a Markdown link destination or an HTML attribute.
    return quote(absolute, safe="/:?#@!$&'*+,;=%~-._")


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr in ("href", "src"):
        if attr == "href" and value.startswith("#"):
            return value if _ID_VALUE.match(value[1:]) else None
        return safe_url(value, _BASE.get())
    if attr == "class":
        tokens = [t for t in value.split() if _CLASS_TOKEN.match(t)]
        return " ".join(tokens) or None
    if attr in ("lang", "data-lang"):
        return value if languages.fence_name(value) else None
    if attr == "id":
        return value if _ID_VALUE.match(value) else None
    if attr == "alt":
        return value.replace("<", "").replace(">", "")
    return value if attr == "align" and value in ("left", "right", "center") else None


_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=SAFE_SCHEMES,
    attribute_filter=_attribute_filter,
    link_rel=None,
    strip_comments=True,
)


def sanitize(html_text: str) -> str:
    """The body HTML with only the allowlisted tags and attributes and only safe URLs."""
    return _CLEANER.clean(html_text)


def text_content(fragment: str) -> str:
    """The text a browser shows for a fragment of sanitised HTML: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", fragment))


def _element_end(markup: str, start: int, tag: str) -> int:
    """Index just past the end tag matching the ``tag`` element that opens at ``start``."""
    depth = 0
    for match in re.finditer(rf"<(/?){tag}\b[^>]*>", markup[start:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return start + match.end()
    return len(markup)


class _Converter:
    """One entry's conversion state: the placeholders lifted out and what replaces them."""

    def __init__(self, slug: str, base: str, internal: Mapping[str, str]):
        self.slug = slug
        self.base = base
        self.internal = internal
        self.replacements: dict[str, str] = {}
        self.footnotes: dict[str, int] = {}
        self.definitions: list[tuple[int, str]] = []

    def token(self, kind: str, value: str) -> str:
        key = f"{_NONCE}{kind}{len(self.replacements)}x"
        self.replacements[key] = value
        return key

    def link_target(self, href: str) -> str | None:
        if not href:
            return None
        if href.startswith("#"):
            return safe_url(href, self.base) if self.base else None
        key = normalise_link(urldefrag(href)[0])
        if key in self.internal:
            return f"{self.internal[key]}.md"
        return href

    def lift_footnotes(self, markup: str) -> str:
        box = _FOOTNOTE_BOX.search(markup)
        if not box:
            return markup
        end = _element_end(markup, box.start(), box.group(1))
        inner = markup[box.end():end]
        items = []
        for item in _FOOTNOTE_ITEM.finditer(inner):
            stop = _element_end(inner, item.start(), "li")
            items.append((item.group(1), inner[item.end():stop - len("</li>")]))
        if not items:
            return markup
        self.footnotes = {ident: n for n, (ident, _) in enumerate(items, 1)}
        markup = markup[: box.start()] + markup[end:]
        ref = re.compile(
            r'(?:<sup(?: id="[^"]*")?>\s*)?<a href="#([^"]+)">[^<]*</a>(?:\s*</sup>)?'
        )
        markup = ref.sub(self._footnote_ref, markup)
        backref = re.compile(r'<a href="#([^"]*)">.*?</a>', re.S)
        for ident, body in items:
            body = backref.sub(lambda m: m.group(0) if m.group(1) in self.footnotes else "", body)
            self.definitions.append((self.footnotes[ident], body))
        return markup

    def _footnote_ref(self, match: re.Match) -> str:
        number = self.footnotes.get(match.group(1))
        if number is None:
            return match.group(0)
        return self.token("F", f"[^{self.slug}-{number}]")

    def lift_code(self, markup: str) -> str:
        def replace(match: re.Match) -> str:
            outer, pre_attrs, inner = match.group(1) or "", match.group(2) or "", match.group(3)
            code_attrs = " ".join(re.findall(r"<code( [^>]*)>", inner))
            attrs = _ATTR.findall(" ".join((outer, pre_attrs, code_attrs)))
            classes = [t for name, value in attrs if name == "class" for t in value.split()]
            langs = [value for name, value in attrs if name in ("lang", "data-lang")]
            code = text_content(_BR.sub("\n", inner))  # a <br> in a <pre> is a line break
            language = language_guess.language_from_markup(classes, langs) or language_guess.guess_language(code)
            return f"<p>{self.token('C', fence(code, language))}</p>"

        markup = _PRE.sub(replace, markup)
        return _INLINE_CODE.sub(lambda m: self.token("S", code_span(text_content(m.group(1)))), markup)

    def lift_links(self, markup: str) -> str:
        open_link = [False]

        def replace(match: re.Match) -> str:
            if match.group(0) == "</a>":
                was_open, open_link[0] = open_link[0], False
                return self.token("R", was_open) if was_open else ""
            target = self.link_target(html.unescape(match.group(1) or ""))
            if target is None:
                open_link[0] = False
                return ""
            open_link[0] = f"]({target})"
            return self.token("L", "[")

        markup = _LINK.sub(replace, markup)
        return _IMG.sub(self._image, markup)

    def _image(self, match: re.Match) -> str:
        attrs = {name: html.unescape(value) for name, value in _ATTR.findall(match.group(1))}
        src = attrs.get("src")
        alt = escape_text(attrs.get("alt", ""))
        if not src:
            return alt
        return self.token("I", f"![{alt}]({src})")

    def convert(self, markup: str) -> str:
        markup = self.lift_code(self.lift_footnotes(markup))
        markdown = self.to_text(self.lift_links(markup))
        notes = []
        for number, body in self.definitions:
            text = self.to_text(self.lift_links(self.lift_code(body))).strip()
            indented = "\n".join(("    " + line) if line else "" for line in text.splitlines()[1:])
            first = text.splitlines()[0] if text else ""
            notes.append(f"[^{self.slug}-{number}]: {first}" + (f"\n{indented}" if indented else ""))
        if notes:
            markdown = markdown.rstrip("\n") + "\n\n" + "\n\n".join(notes)
        return markdown.strip("\n") + "\n"

    def to_text(self, markup: str) -> str:
        markdown = html_to_markdown.convert(markup, _CONVERT_OPTIONS).content
        return self._put_back(escape_text(markdown))

    def _put_back(self, markdown: str) -> str:
        def block(match: re.Match) -> str:
            prefix, key = match.group(1), match.group(2)
            return "\n".join(prefix + line if line else prefix.rstrip()
                             for line in self.replacements[key].split("\n"))

        def inline(match: re.Match) -> str:
            value = self.replacements[match.group(0)]
            # A block that is not alone on its line cannot be fenced: show it as a code span.
            return code_span(value.split("\n", 1)[1].rsplit("\n", 1)[0]) if match.group(1) == "C" else value

        markdown = re.sub(rf"^([ >]*)({_NONCE}C\d+x)[ \t]*$", block, markdown, flags=re.M)
        return _TOKEN.sub(inline, markdown)


def normalise_link(url: str) -> str:
    """A URL reduced to what identifies a post: scheme-less host and path, no trailing slash."""
    parts = urlsplit(url)
    return f"{parts.netloc.lower()}{parts.path.rstrip('/')}"


def to_markdown(body_html: str, *, slug: str, base: str, internal: Mapping[str, str]) -> str:
    """Markdown for one entry's HTML body.

    ``slug`` prefixes footnote ids (``[^<slug>-N]``); ``base`` is the URL relative links resolve
    against (the entry's link); ``internal`` maps ``normalise_link(post URL)`` to the slug of a
    post in the site, so links to it become ``<slug>.md``.
    """
    reset = _BASE.set(base)
    try:
        markup = sanitize(body_html)
    finally:
        _BASE.reset(reset)
    return _Converter(slug, base, internal).convert(markup)

