"""A feed entry's HTML body → safe Markdown, with code, footnotes and links kept intact.

``to_markdown`` runs four passes:

1. **Sanitise** with nh3 (an explicit allowlist). Its attribute filter resolves every ``href``/``src``
   against the entry's base URL and drops any URL that is not http, https or mailto; in-page
   ``#fragments`` stay for now (footnotes use them).
2. **Lift out** what a converter would get wrong, from a tree of the sanitised HTML: footnotes
   (each reference paired with the definition its link targets, whatever the engine's markup),
   code blocks (the outermost ``<pre>`` and the wrappers that hold nothing else, its text as a
   browser shows it without line-number gutters, its language from the markup of the block and
   its wrappers), inline ``<code>``, ``<details>`` (kept collapsible), then links and images.
   Each leaves a placeholder word.
3. **Convert** the rest with html-to-markdown, then **neutralise** the text: every ``<``, ``[``,
   ``]``, ``{``, ``}``, backtick and entity-like ``&`` becomes a character reference, and so does
   the first mark of ``!!!``, ``???`` and ``===``, so no text from the feed can turn into raw
   HTML, a link, a code span, an attribute list, a snippet include, an admonition, a collapsible
   block or a tab.
4. **Put back** links (``[text](url)``, other posts as ``<slug>.md``), footnote references
   ``[^<slug>-N]``, code spans, fenced code blocks (a fence longer than any backtick run in the
   code, a language from the markup or ``language_guess.guess_language``), ``<details>`` (the only raw
   HTML: ``<details markdown="1">`` and an escaped ``<summary>``) and the footnote definitions.

The serialised output of nh3 is regular (double-quoted attributes; ``<``, ``>``, ``&`` in text
escaped; attribute values filtered to safe characters), which is what makes pass 2's tokenising
pattern and regular expressions sound.
"""

from __future__ import annotations

import collections
import contextvars
import html
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, urldefrag, urljoin, urlsplit

import html_to_markdown
import nh3

from blogtools import language_guess, languages
from blogtools.mdwrite import code_span, escape_text, fence

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "em", "i",
    "strong", "b", "del", "s", "ins", "u", "mark", "sup", "sub", "small", "span",
    "abbr", "q", "cite", "ul", "ol", "li", "dl", "dt", "dd", "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "details", "summary", "div", "section",
    "aside", "footer",
}
# Every tag keeps ``class`` and ``id``: code lifting reads gutters, wrappers and languages from
# classes, footnote pairing reads ids. Neither reaches the Markdown (see ``_html``).
_LANG_ATTRIBUTES = {"lang", "data-lang", "data-language", "data-enlighter-language"}
ALLOWED_ATTRIBUTES = {tag: {"class", "id"} for tag in ALLOWED_TAGS} | {
    "a": {"class", "id", "href"},
    "img": {"class", "id", "src", "alt"},
    "pre": {"class", "id"} | _LANG_ATTRIBUTES,
    "code": {"class", "id"} | _LANG_ATTRIBUTES,
    "div": {"class", "id", "data-lang", "data-language"},
    "figure": {"class", "id", "data-lang", "data-language"},
    "details": {"class", "id", "open"},
    "th": {"class", "id", "align"},
    "td": {"class", "id", "align"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}
_CLASS_TOKEN = re.compile(r"^[A-Za-z0-9_+#.:;-]+$")
_ID_VALUE = re.compile(r"^[A-Za-z0-9_:.-]+$")

_CONVERT_OPTIONS = html_to_markdown.ConversionOptions(
    autolinks=False, extract_metadata=False, heading_style="atx", bullets="-",
    code_block_style="backticks",
)
_NONCE = "bt" + secrets.token_hex(4)
_TOKEN = re.compile(_NONCE + r"([CDFLRIS])\d+x")
_LINK = re.compile(r'<a(?: href="([^"]*)")?[^>]*>|</a>')
_IMG = re.compile(r'<img([^>]*)>')
_TAG = re.compile(r"<[^>]*>")
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
_MARKUP = re.compile(r"<(/?)([a-z][a-z0-9]*)([^>]*)>")
_BASE = contextvars.ContextVar("base", default="")

# Elements that are not code: line-number gutters (Pygments, Chroma, Rouge, Hexo, Octopress,
# Crayon, highlight.js and Prism plugins, VitePress).
_GUTTER_CLASSES = {
    "lineno", "linenos", "linenodiv", "ln", "lnt", "gutter", "gl", "line-numbers", "line-number",
    "linenumber", "linenumbers", "lineNumber", "lineNumbers", "crayon-nums", "crayon-num",
    "line-numbers-rows", "line-numbers-wrapper", "hljs-ln-numbers", "hljs-ln-n", "rouge-gutter",
    "code-line-number", "linenr",
}
# Inside a <pre>, these break lines as a browser shows them; so do per-line elements
# (``span.line`` and kin) when nothing else separates them.
_LINE_BREAKING_TAGS = {"div", "p", "tr", "li", "table", "pre", "dd", "dt", "figure", "section", "aside"}
_LINE_CLASSES = {"line", "code-line", "crayon-line", "hljs-ln-line", "highlight-line", "token-line"}
# Elements a code block may sit in that hold nothing else (then they go with it).
_TABLE_PARTS = {"tbody", "thead", "tr", "td", "th"}
_CODE_WRAPPERS = {"div", "figure", "table"} | _TABLE_PARTS
# Class prefixes and markers by which engines name a block's language (``language-go``,
# Pygments/Sphinx ``highlight-python``, GitHub ``highlight-source-js``, Org ``src-elisp``,
# Jupyter ``hl-ipython3``,
# SyntaxHighlighter ``brush: ruby``; pandoc ``sourceCode r``, docutils ``code literal-block x``,
# Hexo ``highlight js``, highlight.js ``hljs x``).
_LANGUAGE_PREFIXES = ("language-", "lang-", "highlight-source-", "highlight-", "sourcecode-", "src-", "brush:", "hl-")
_LANGUAGE_MARKERS = {"sourcecode", "literal-block", "brush:", "src", "code", "highlight", "hljs", "prettyprint"}
_NOT_LANGUAGES = _LANGUAGE_MARKERS | {
    "highlighter-rouge", "chroma", "shiki", "rouge", "notranslate", "numbersource", "numberlines",
    "linenums", "line-numbers", "codehilite", "wrap", "nowrap", "default", "block", "codeblock",
    "highlighttable", "lntable", "rouge-table", "rouge-code", "crayon-plain-tag", "listingblock",
    "content", "tab-size", "source", "highlight-source", "cell", "numbercode",
}
# Footnote regions: the element that holds a page's definitions (class or id).
_FOOTNOTE_REGION = re.compile(r"foot-?notes?|endnotes?|footdef|fn-?list", re.I)
_FOOTNOTE_LABEL = {"label", "footnote-label", "footnote-number", "footnote-definition-label", "footnum",
                   "fn-bracket", "fn-label"}
_BLOCKS = {"p", "div", "li", "aside", "section", "dd", "td", "footer", "table", "blockquote"}
_REGION_TAGS = _BLOCKS | {"ol", "ul", "dl"}
_VOID = {"br", "hr", "img"}
_NUMBERS = re.compile(r"[\d\s:.|]*")
_KEPT_ATTRIBUTES = {"a": ("href",), "img": ("src", "alt"), "th": ("align",), "td": ("align",)}


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
    if attr in _LANG_ATTRIBUTES:
        return value if languages.fence_name(value) else None
    if attr == "id":
        return value if _ID_VALUE.match(value) else None
    if attr == "alt":
        return value.replace("<", "").replace(">", "")
    if attr == "open":
        return ""
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


class _Element:
    """One element of sanitised HTML: tag, attributes, children (elements and decoded text)."""

    __slots__ = ("tag", "attrs", "children", "parent")

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Element | None = None):
        self.tag, self.attrs, self.children, self.parent = tag, attrs, [], parent

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def iter(self):
        """This element and every element below it, in document order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(c for c in reversed(node.children) if isinstance(c, _Element))

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def text(self) -> str:
        """The text of the element, tags dropped."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def replace(self, *nodes: _Element | str) -> None:
        """Put ``nodes`` where this element is (none: remove it); nothing when it is no longer
        in the tree (it went with a wrapper replaced before)."""
        siblings = self.parent.children if self.parent is not None else []
        index = next((i for i, c in enumerate(siblings) if c is self), None)
        if index is None:
            return
        siblings[index:index + 1] = list(nodes)
        for node in nodes:
            if isinstance(node, _Element):
                node.parent = self.parent


def _parse(markup: str) -> _Element:
    """A tree of nh3's output. Its serialisation is regular (every attribute double-quoted, ``<``
    escaped in text and values, every element closed, the newline after ``<pre>`` already
    dropped by HTML's parsing rules), so a tokenising pattern is a sound parser for it."""
    root = current = _Element("#root", {})
    position = 0
    for match in _MARKUP.finditer(markup):
        if match.start() > position:
            current.children.append(_unescape(markup[position:match.start()]))
        position = match.end()
        closing, tag = match.group(1), match.group(2)
        if closing:
            node = current
            while node.parent is not None and node.tag != tag:
                node = node.parent
            current = node.parent if node.parent is not None else current
            continue
        rest = match.group(3)
        attrs = {name: html.unescape(value) for name, value in _ATTR.findall(rest)} if rest else {}
        element = _Element(tag, attrs, current)
        current.children.append(element)
        if tag not in _VOID:
            current = element
    if position < len(markup):
        current.children.append(_unescape(markup[position:]))
    return root


def _unescape(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def _html(node: _Element | str) -> str:
    """HTML for a node, with only the attributes the converter uses (links, images, alignment)."""
    if isinstance(node, str):
        return html.escape(node, quote=False)
    attrs = "".join(f' {name}="{html.escape(node.attrs[name])}"'
                    for name in _KEPT_ATTRIBUTES.get(node.tag, ()) if name in node.attrs)
    if node.tag in _VOID:
        return f"<{node.tag}{attrs}>"
    return f"<{node.tag}{attrs}>{_inner_html(node)}</{node.tag}>"


def _inner_html(node: _Element) -> str:
    return "".join(map(_html, node.children))


def _meaningful(node: _Element | str) -> bool:
    """Whether a node shows anything: non-blank text or an image."""
    if isinstance(node, str):
        return bool(node.strip())
    return node.tag == "img" or any(_meaningful(c) for c in node.children)


# ------------------------------------------------------------------------------------- code


def _number_column(element: _Element) -> bool:
    """Whether an element holds only consecutive line numbers (a gutter beside the code)."""
    lines = element.text().split()
    if not lines or not all(line.isdigit() for line in lines):
        return False
    numbers = [int(line) for line in lines]
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


class _CodeBlocks:
    """The code blocks of a tree: each outermost <pre> that is not a gutter, with its gutters."""

    def __init__(self, root: _Element):
        # Outermost: a <pre> inside another (Rouge's line-number table) or inside a <code> is part of it.
        pres = [el for el in root.iter()
                if el.tag == "pre" and not any(a.tag in ("pre", "code") for a in el.ancestors())]
        numbered = [pre for pre in pres if _number_column(pre)]
        self.gutters = {id(pre) for pre in numbered if self._has_code_beside(pre)}
        self.pres = [pre for pre in pres if not any(map(self.is_gutter, (pre, *pre.ancestors())))]

    @staticmethod
    def _has_code_beside(pre: _Element) -> bool:
        for ancestor in list(pre.ancestors())[:4]:
            if any(other is not pre and not _number_column(other) for other in ancestor.iter() if other.tag == "pre"):
                return True
        return False

    def is_gutter(self, node: _Element) -> bool:
        """Whether ``node`` is a column of line numbers."""
        if id(node) in self.gutters:
            return True
        # By class only when it holds numbers: Prism puts "line-numbers" on the code's own <pre>.
        if "class" in node.attrs and _GUTTER_CLASSES.intersection(node.classes()) \
                and _NUMBERS.fullmatch(node.text()):
            return True
        if node.tag == "td" and node.parent is not None:  # Zola: <tr><td>1</td><td>code</td></tr>
            cells = [c for c in node.parent.children if isinstance(c, _Element) and c.tag == "td"]
            if len(cells) > 1 and cells[0] is node and _number_column(node):
                return True
        if node.tag in ("td", "div"):  # a cell or box that holds nothing but a gutter is one
            children = [c for c in node.children if _meaningful(c)]
            return bool(children) and all(isinstance(c, _Element) and self.is_gutter(c) for c in children)
        return False

    def text(self, pre: _Element) -> str:
        """The code as a browser shows it: gutters left out, ``<br>`` and line elements break lines."""
        out: list[str] = []
        pending = False

        def emit(text: str) -> None:
            nonlocal pending
            if not text:
                return
            if pending and out and not out[-1].endswith("\n") and not text.startswith("\n"):
                out.append("\n")
            pending = False
            out.append(text)

        def walk(node: _Element) -> None:
            nonlocal pending
            for child in node.children:
                if isinstance(child, str):
                    emit(child)
                elif child.tag == "br":
                    emit("\n")
                elif not self.is_gutter(child) and not _is_caption(child):
                    breaks = child.tag in _LINE_BREAKING_TAGS or bool(_LINE_CLASSES.intersection(child.classes()))
                    pending = pending or breaks
                    walk(child)
                    pending = pending or breaks

        walk(pre)
        return "".join(out)

    def container(self, pre: _Element) -> _Element:
        """The outermost wrapper of ``pre`` that holds nothing but it, its gutters and a caption."""
        path = [pre]
        while path[-1].parent is not None and path[-1].parent.tag in _CODE_WRAPPERS and all(
                c is path[-1] or not _meaningful(c) or (isinstance(c, _Element) and (
                    _is_caption(c) or self.is_gutter(c)))
                for c in path[-1].parent.children):
            path.append(path[-1].parent)
        while path[-1].tag in _TABLE_PARTS:  # a row or cell of a larger table: keep the table whole
            path.pop()
        return path[-1]


def _layout_table(blocks: _CodeBlocks) -> _Element | None:
    """The innermost table one of whose cells holds a code block beside other content (a layout
    table, as Blogger posts put two versions side by side), or None. A table that holds nothing
    but one block, its gutters and caption is the block's own wrapper, not a layout."""
    for pre in blocks.pres:
        container = blocks.container(pre)
        cell = next((a for a in (container, *container.ancestors()) if a.tag in ("td", "th")), None)
        if cell is not None:
            return next(a for a in cell.ancestors() if a.tag == "table")
    return None


def _unroll(table: _Element) -> None:
    """Put the contents of ``table``'s own cells (not those of tables inside them) in its place,
    in reading order, each cell a block of its own; empty cells go."""
    cells = [el for el in table.iter() if el.tag in ("td", "th")
             and next(a for a in el.ancestors() if a.tag == "table") is table]
    blocks = []
    for cell in cells:
        if any(_meaningful(c) for c in cell.children):
            block = _Element("div", {})
            block.children = cell.children
            for child in cell.children:
                if isinstance(child, _Element):
                    child.parent = block
            blocks.append(block)
    table.replace(*blocks)


def _is_caption(node: _Element) -> bool:
    """A code block's title: ``<figcaption>``, or Hexo's ``div.caption`` inside the ``<pre>``."""
    return node.tag == "figcaption" or (node.tag == "div" and "caption" in node.classes())


def markup_language(nodes: list[_Element]) -> str | None:
    """The language name a code block's markup gives, as written (lower case), or None.

    ``nodes`` are the ``<pre>``, its ``<code>`` and the wrappers around them, innermost first.
    """
    for node in nodes:
        for attr in ("data-lang", "data-language", "data-enlighter-language", "lang"):
            if attr == "lang" and node.tag not in ("pre", "code"):
                continue  # a wrapper's lang="en" names the prose's language
            if value := node.attrs.get(attr, "").strip():
                return value.lower()
    for node in nodes:
        tokens = [token.lower().rstrip(";") for token in node.classes()]
        for token in tokens:
            for prefix in _LANGUAGE_PREFIXES:
                name = token[len(prefix):] if token.startswith(prefix) else ""
                if name and name not in _NOT_LANGUAGES:
                    return name
        if _LANGUAGE_MARKERS.intersection(tokens):
            # On a wrapper, "highlight js" names a language but "highlight full-width" does not.
            names = [t for t in tokens if t not in _NOT_LANGUAGES and languages.fence_name(t) and (
                node.tag in ("pre", "code") or "-" not in t or languages.lookup(t))]
            if names:
                return names[0]
        if node.tag in ("pre", "code"):
            known = [t for t in tokens if languages.lookup(t)]
            if known:
                return known[0]
    return None


def named_blocks(body_html: str) -> list[tuple[str, str | None]]:
    """Each code block of a body as ingest reads it: its text and the language name its markup
    gives (as written, lower case), or None. What ``benchmarks/guess_eval.py`` measures the guess on."""
    blocks = _CodeBlocks(_parse(sanitize(body_html)))
    return [(blocks.text(pre), markup_language(_language_nodes(pre, blocks.container(pre), blocks.pres)))
            for pre in blocks.pres]


def _language_nodes(pre: _Element, container: _Element, pres: list[_Element]) -> list[_Element]:
    """The <pre>, its first <code>, the wrappers that go with it and up to two more ancestors
    that hold no other code block: the elements whose markup may name its language."""
    nodes = [pre] + [el for el in pre.iter() if el.tag == "code"][:1]
    beyond = 0
    for ancestor in pre.ancestors():
        if ancestor.parent is None or ancestor.tag in ("li", "blockquote", "details", "section") or beyond == 2:
            break
        if beyond or ancestor is container.parent:
            if sum(1 for el in ancestor.iter() if any(el is p for p in pres)) > 1:
                break
            beyond += 1
        nodes.append(ancestor)
    return nodes


# -------------------------------------------------------------------------------- footnotes


def _is_region(node: _Element) -> bool:
    return any(_FOOTNOTE_REGION.search(value) for value in (node.attrs.get("class", ""), node.attrs.get("id", "")))


def _definition_block(target: _Element) -> _Element:
    """The block that holds a footnote definition whose id is on ``target``."""
    node = target
    while node.tag not in _BLOCKS and node.parent is not None and node.parent.parent is not None:
        node = node.parent
    return node


def _block_regions(node: _Element) -> list[_Element]:
    """The footnote regions ``node`` is or sits in (block elements only: a ``sup.footnote-ref``
    is a reference, not a region)."""
    return [n for n in (node, *node.ancestors()) if n.tag in _REGION_TAGS and _is_region(n)]


_BACKLINK_TEXT = re.compile(r"^[\s\[\]\d.:()^↩↑⤴\ufe0e\ufe0f]*$")
_NOTES_HEADING = re.compile(r"^\s*(?:foot|end)notes?\s*:?\s*$", re.I)


class _Converter:
    """One entry's conversion state: the placeholders lifted out and what replaces them."""

    def __init__(self, slug: str, base: str, internal: Mapping[str, str], feed: Sequence[str] = ()):
        self.slug = slug
        self.base = base
        self.internal = internal
        self.feed = feed  # the languages the feed's markup names elsewhere, most used first
        self.replacements: dict[str, str] = {}
        self.definitions: list[tuple[int, _Element]] = []
        self.plain: dict[str, str] = {}  # inline code placeholder → its text (for summaries)

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

    def fragment(self, href: str) -> str | None:
        """The id an in-page link points at (``#x``, or this entry's own URL with ``#x``)."""
        url, frag = urldefrag(href)
        if frag and (not url or (self.base and normalise_link(url) == normalise_link(self.base))):
            return frag
        return None

    # ---------------------------------------------------------------------------- footnotes

    def lift_footnotes(self, root: _Element) -> None:
        """Pair each reference with the definition it points at, by target id, whatever the
        engine's markup; replace the references with ``[^<slug>-N]`` and take the definitions
        out. Definitions nobody references and references to nothing stay as they are."""
        elements = list(root.iter())
        ids = {element.attrs["id"]: element for element in reversed(elements) if "id" in element.attrs}
        numbers: dict[int, int] = {}
        blocks: dict[int, _Element] = {}
        refs = []
        for anchor in elements:
            fragment = self.fragment(anchor.attrs.get("href", "")) if anchor.tag == "a" else None
            target = ids.get(fragment) if fragment else None
            if target is None or _block_regions(anchor) or any(a.tag in ("pre", "code") for a in anchor.ancestors()):
                continue  # a back-link, or a line anchor in code (pandoc's #cb1-1)
            block = _definition_block(target)
            if not _block_regions(block) or block is anchor or block in anchor.ancestors() \
                    or _holds_several_notes(block):
                continue
            number = numbers.setdefault(id(block), len(numbers) + 1)
            blocks[id(block)] = block
            refs.append((anchor, number))
        for anchor, number in refs:
            _reference_box(anchor).replace(self.token("F", f"[^{self.slug}-{number}]"))
        regions = []
        for key, number in numbers.items():
            block = blocks[key]
            outer = _block_regions(block)[-1]
            if block is not outer and outer not in regions:
                regions.append(outer)
            block.replace()
            self.definitions.append((number, _definition_body(block, self.fragment)))
        for region in regions:
            _drop_if_empty(region)

    # --------------------------------------------------------------------------------- code

    def lift_blocks(self, root: _Element) -> None:
        """Replace code blocks, inline code and ``<details>`` with placeholders."""
        blocks = _CodeBlocks(root)
        while layout := _layout_table(blocks):
            _unroll(layout)  # a Markdown table cell cannot hold a fenced block: the cells become blocks
            blocks = _CodeBlocks(root)
        for pre in blocks.pres:
            container = blocks.container(pre)
            captions = [c for c in container.iter() if _is_caption(c) and _meaningful(c)]
            paragraphs = [_Element("p", {}) for _ in captions] + [_Element("p", {})]
            for paragraph, caption in zip(paragraphs, captions):
                paragraph.children = caption.children
            paragraphs[-1].children = [self.fenced(blocks.text(pre), _language_nodes(pre, container, blocks.pres))]
            container.replace(*paragraphs)
        for code in [el for el in root.iter() if el.tag == "code"]:
            text = blocks.text(code)
            siblings = code.parent.children
            index = next((i for i, c in enumerate(siblings) if c is code), None)
            if index is None:
                continue  # inside a <code> already replaced
            # Code spans side by side would read as one broken span: <code>a</code><code>b</code> is "ab".
            while index + 1 < len(siblings) and isinstance(siblings[index + 1], _Element) \
                    and siblings[index + 1].tag == "code":
                text += blocks.text(siblings.pop(index + 1))
            if not text:
                code.replace()
                continue
            if "\n" in text.strip("\n") and not any(_meaningful(c) for c in code.parent.children if c is not code):
                # Lines of <code> alone in their paragraph (<br> between them): a block, as shown.
                code.replace(self.fenced(text, [code, code.parent]))
            else:
                key = self.token("S", code_span(text))
                self.plain[key] = text
                code.replace(key)
        for details in reversed([el for el in root.iter() if el.tag == "details" and el is not root]):
            self._lift_details(details)

    def fenced(self, code: str, nodes: list[_Element]) -> str:
        """A placeholder for ``code`` as a fenced block, in the language ``nodes``' markup names
        (else a guess, helped by the languages the feed names elsewhere)."""
        named = markup_language(nodes)
        language = (named and languages.fence_name(named)) or language_guess.guess_language(code, feed=self.feed)
        return self.token("C", fence(code, language))

    def _lift_details(self, details: _Element) -> None:
        """A ``<details>`` stays collapsible: raw ``<details markdown="1">`` that blogtools writes
        itself (md_in_html), with the summary as escaped text and the body as converted Markdown."""
        summary = next((c for c in details.children if isinstance(c, _Element) and c.tag == "summary"), None)
        # The summary goes into raw HTML: plain text only, placeholders (inline code kept as its
        # text, footnote references dropped) resolved before it is escaped.
        title = _TOKEN.sub(lambda m: self.plain.get(m.group(0), ""), summary.text()) if summary else ""
        title = " ".join(title.split())
        if summary is not None:
            summary.replace()
        body = self.markdown(details).strip("\n")
        opened = " open" if "open" in details.attrs else ""
        # The blank line after </details> ends the HTML block whatever the converter puts next.
        value = (f'<details markdown="1"{opened}>\n<summary>{html.escape(title or "Details")}</summary>\n\n'
                 f"{body}\n\n</details>\n")
        paragraph = _Element("p", {})
        paragraph.children = [self.token("D", value)]
        details.replace(paragraph)

    # -------------------------------------------------------------------------------- links

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

    # ------------------------------------------------------------------------------ convert

    def convert(self, markup: str) -> str:
        root = _parse(markup)
        self.lift_footnotes(root)
        markdown = self.markdown(root)
        notes = []
        for number, body in sorted(self.definitions, key=lambda item: item[0]):
            text = _EMPTY_BRACKETS.sub("", self.markdown(body)).strip()
            indented = "\n".join(("    " + line) if line else "" for line in text.splitlines()[1:])
            first = text.splitlines()[0] if text else ""
            notes.append(f"[^{self.slug}-{number}]: {first}" + (f"\n{indented}" if indented else ""))
        if notes:
            markdown = markdown.rstrip("\n") + "\n\n" + "\n\n".join(notes)
        return markdown.strip("\n") + "\n"

    def markdown(self, node: _Element) -> str:
        """Markdown for the content of ``node``."""
        self.lift_blocks(node)
        return self.to_text(self.lift_links(_inner_html(node)))

    def to_text(self, markup: str) -> str:
        markdown = html_to_markdown.convert(markup, _CONVERT_OPTIONS).content
        return self._put_back(escape_text(markdown))

    def _put_back(self, markdown: str) -> str:
        def block(match: re.Match) -> str:
            prefix, key = match.group(1), match.group(2)
            value = self.replacements[key]
            if prefix and key[len(_NONCE)] == "D":
                value = _flatten_details(value)
            return "\n".join(prefix + line if line else prefix.rstrip() for line in value.split("\n"))

        def inline(match: re.Match) -> str:
            value = self.replacements[match.group(0)]
            if match.group(1) == "D":  # in a table cell: one line
                value = " ".join(line.strip() for line in _flatten_details(value).splitlines() if line.strip())
            # A block that is not alone on its line cannot be fenced: show it as a code span, set
            # apart so that it cannot run into a code span beside it.
            if match.group(1) == "C":
                span = code_span(value.split("\n", 1)[1].rsplit("\n", 1)[0].strip("\n"))
                return f" {span} " if span else ""
            return value

        markdown = re.sub(rf"^([ >]*)({_NONCE}[CD]\d+x)[ \t]*$", block, markdown, flags=re.M)
        return _TOKEN.sub(inline, markdown)


_EMPTY_BRACKETS = re.compile(r"\s*&#91;\s*&#93;")
_RAW_DETAILS = re.compile(r'^([ >]*)<details markdown="1"(?: open)?>\n[ >]*<summary>(.*)</summary>$|^[ >]*</details>\n?', re.M)


def _flatten_details(markdown: str) -> str:
    """The <details> blogtools wrote, as a bold summary line above the body: raw HTML opens a
    block only at the left margin, not in a list item or a quote."""
    return _RAW_DETAILS.sub(lambda m: f"{m.group(1)}**{escape_text(html.unescape(m.group(2)))}**"
                            if m.group(2) is not None else "", markdown)


def _reference_box(anchor: _Element) -> _Element:
    """The element a footnote reference occupies: the link, or the ``<sup>``/``<span>`` around
    it when that holds nothing else but brackets."""
    node = anchor
    while node.parent is not None and node.parent.tag in ("sup", "span") and all(
            c is node or (isinstance(c, str) and not c.strip(" []()")) for c in node.parent.children):
        node = node.parent
    return node


def _holds_several_notes(block: _Element) -> bool:
    """Whether ``block`` is the list of all notes (pandoc's ``section#footnotes``), not one."""
    return sum(1 for el in block.iter() if el is not block and el.tag in _REGION_TAGS and "id" in el.attrs) > 1


def _definition_body(block: _Element, fragment) -> _Element:
    """A definition without its label and back-links (the references it points back to)."""
    for element in list(block.iter()):
        if element is block or element.parent is None:
            continue
        is_label = _FOOTNOTE_LABEL.intersection(element.classes())
        is_backlink = element.tag == "a" and fragment(element.attrs.get("href", "")) \
            and _BACKLINK_TEXT.match(element.text())
        if is_label or is_backlink:
            element.replace()
    _drop_empty_inline(block)
    first = next((c for c in block.iter() if any(isinstance(t, str) and t.strip() for t in c.children)), None)
    if first is not None:  # "1. text" (Asciidoctor) lost its number to the back-link
        index = next(i for i, t in enumerate(first.children) if isinstance(t, str) and t.strip())
        first.children[index] = re.sub(r"^\s*[.:)]\s+", "", first.children[index])
    return block


def _drop_empty_inline(node: _Element) -> None:
    for child in list(node.children):
        if isinstance(child, _Element):
            _drop_empty_inline(child)
            if child.tag in ("sup", "span", "a") and not _meaningful(child):
                child.replace()


def _drop_if_empty(region: _Element) -> None:
    """Remove a footnote region left with nothing but its heading and rules."""
    rest = [c for c in region.children if _meaningful(c) and not (
        isinstance(c, _Element) and _NOTES_HEADING.match(c.text()))]
    if rest or region.parent is None:
        return
    siblings = region.parent.children
    index = next((i for i, c in enumerate(siblings) if c is region), 0)
    before = [c for c in siblings[:index] if _meaningful(c)]
    if before and isinstance(before[-1], _Element) and _NOTES_HEADING.match(before[-1].text()):
        before[-1].replace()  # docutils' "Footnotes" rubric
    region.replace()


def normalise_link(url: str) -> str:
    """A URL reduced to what identifies a post: scheme-less host and path, no trailing slash."""
    parts = urlsplit(url)
    return f"{parts.netloc.lower()}{parts.path.rstrip('/')}"


def to_markdown(body_html: str, *, slug: str, base: str, internal: Mapping[str, str],
                feed_languages: Sequence[str] = ()) -> str:
    """Markdown for one entry's HTML body.

    ``slug`` prefixes footnote ids (``[^<slug>-N]``); ``base`` is the URL relative links resolve
    against (the entry's link); ``internal`` maps ``normalise_link(post URL)`` to the slug of a
    post in the site, so links to it become ``<slug>.md``; ``feed_languages`` are the languages
    the feed's markup names (``feed_languages``), candidates for blocks whose markup names none.
    """
    reset = _BASE.set(base)
    try:
        markup = sanitize(body_html)
    finally:
        _BASE.reset(reset)
    return _Converter(slug, base, internal, feed_languages).convert(markup)


def feed_languages(bodies: Iterable[str]) -> tuple[str, ...]:
    """The languages the markup of a feed's ``bodies`` names (registry names), most used first."""
    counts = collections.Counter(
        language.name for body in bodies for _, named in named_blocks(body)
        if named and (language := languages.lookup(named)) and not language.transcript)
    return tuple(name for name, _ in counts.most_common())

