"""Code, languages, footnotes and <details> from the markup of each blog engine family.

Each feed in tests/data/families/ holds samples of one engine's output (Hugo's Chroma, Jekyll's
Rouge, Pygments, Nikola, Hexo, Octopress, Blogger, WordPress, Ghost, Zola, Eleventy's Prism,
pandoc/Quarto, Org, Asciidoctor, Shiki, Substack, MkDocs Material, Docusaurus; dev.to and highlight.js's
line-number plugin within Ghost's), written from what the engine
emits. Every code block must come out byte for byte with the language its markup names
(``None`` below: the markup names none, so the language is a guess and not checked here).
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import markdown
import pytest
from markdown_it import MarkdownIt

from blogtools import htmlmd
from blogtools.feeds import Source
from blogtools.ingest import ingest

FAMILIES = Path(__file__).parent / "data" / "families"
A = "{http://www.w3.org/2005/Atom}"

CODE = {
    "hugo-chroma": {
        "chroma-inline-styles": [("go", 'package main\n\nfunc main() {\n\tfmt.Println("hi")\n}\n')],
        "chroma-table-linenos": [("python", "def area(r):\n    # pi r squared\n    return 3.14159 * r ** 2\n")],
        "chroma-inline-linenos": [("rust", 'fn main() {\n    println!("{}", 1);\n}\n')],
        "chroma-data-lang-wrapper": [("yaml", "baseURL: https://example.org/\nparams:\n  math: true\n")],
    },
    "jekyll-rouge": {
        "rouge-wrapper-language": [
            ("swift", 'let greeting = "Hello"\nif greeting.isEmpty {\n    print("empty")\n}\n'),
            ("shell", "bundle exec jekyll serve\n"),
            (None, "plain    text\n"),
        ],
        "rouge-linenos-table": [("ruby", "def foo\n  puts 'foo'\nend\n")],
    },
    "pygments": {
        "pygments-plain": [(None, 'import os\n\ndef home():\n    return os.environ["HOME"]\n')],
        "pygments-table-linenos": [(None, "for i in range(3):\n    print(i)\n")],
        "pygments-inline-linenos": [(None, "while True:\n    pass\n")],
        "sphinx-highlight-language": [("console", "$ pip install sphinx\n"), (None, "just text\n")],
    },
    "nikola": {
        "rst-post": [("python", "def f():\n    return 42\n"), ("shell", "echo hi\n"),
                     (None, "a literal block\n    indented\n")],
        "md-post": [(None, "x = 1\n")],
    },
    "hexo": {
        "hexo-figure": [("javascript", "const a = 1;\nif (a) {\n  console.log(a);\n}\n"),
                        ("python", "def f():\n    return '<b>'\n"), ("javascript", "let x = 2;\nx *= 2;\n"),
                        ("yaml", "title: Hexo\nurl: http://example.com"), ("text", "hexo server\n")],
    },
    "octopress": {
        "octopress-codeblock": [("ruby", 'def hello\n  puts "hi"\nend\n'), (None, "rake generate\n")],
    },
    "blogger": {
        "blogger-styled-pre": [
            (None, "int main() {\n    return 0;\n}\n"),
            (None, "x = [1, 2]\nfor i in x:\n    print(i)\n"),
            ("python", "def f():\n    pass\n"),
            ("java", "class A {}\n"),
            (None, "first = 1\n"),  # two <pre> in one <div>: two blocks
            (None, "second = 2\n"),
            (None, "for x in xs:\n\xa0\xa0\xa0 print(x)"),  # <code> lines alone in a paragraph
            (None, "SELECT 1;\n"),
        ],
        # Code in the cells of layout tables (side by side; a captioned image-style table): each
        # block survives as a block, the data table stays a table.
        "blogger-layout-table": [
            (None, "total = 0\nfor x in xs:\n    total += x\n"),
            (None, "total = sum(xs)\n"),
            (None, "$ python loop.py\n6\n"),
        ],
    },
    "wordpress": {
        "code-post": [(None, '<?php\n    echo "Hello";\n?>'), ("php", "$a = array(1, 2);\nforeach ($a as $x) {\n    echo $x;\n}\n"),
                      ("python", "import sys\nprint(sys.argv)"), ("php", "<?php\n\xa0 echo 1;"),
                      (None, "npm run build"), ("shell", "wp plugin list")],
    },
    "ghost": {
        "ghost-post": [("javascript", "const ghost = require('ghost');\nghost().then((server) => server.start());\n"),
                       (None, "no language here\n"), ("go", "package main\n    var x = 1"),
                       ("elixir", "def hello, do: :world\n")],
    },
    "docusaurus": {
        "docusaurus-post": [("jsx", "export default function Hello() {\n  return <p>Hi</p>;\n}")],
    },
    "zola": {
        "zola-post": [("rust", 'fn main() {\n    println!("hi");\n}\n'), ("toml", "[markdown]\nhighlight_code = true\n")],
    },
    "eleventy-prism": {
        "prism-post": [("javascript", 'export default function(eleventyConfig) {\n\televentyConfig.addPassthroughCopy("img");\n}'),
                       ("python", "print(1)\n"), ("diff-css", "-a {}")],
    },
    "pandoc-quarto": {
        "pandoc-post": [("r", "library(ggplot2)\nggplot(mtcars, aes(wt, mpg))"), ("python", "import numpy as np\nnp.arange(3)"),
                        (None, "array([0, 1, 2])"), ("haskell", "main :: IO ()")],
    },
    "org": {
        "org-post": [("emacs-lisp", '(defun hello ()\n  (message "hi"))\n'), ("python", "print(1)\nprint(2)\n"),
                     (None, "An example block\n  kept as is.\n")],
    },
    "asciidoctor": {
        "adoc-post": [("ruby", 'puts "hi"\n  puts "indented"'), ("java", "class A {\n}\n"), (None, "$ asciidoctor doc.adoc")],
    },
    "shiki": {
        "shiki-post": [("typescript", "const x: number = 1\n\n  export { x }"), (None, "let a\n    a"),
                       ("shell", "pnpm install"), ("typescript", "let n = 1\nn++")],
    },
    "substack": {"substack-post": [(None, "llm -m gpt-4o 'hello'")]},
    "mkdocs-material": {"material-post": [("python", "def f():\n    pass\n"), ("text", "transcript line\n")]},
}

# The text of each page's footnote definitions, in the order of their first reference.
FOOTNOTES = {
    "chroma-data-lang-wrapper": ["The first note.", "The second, with `code`."],
    "rouge-linenos-table": ["Written by kramdown."],
    "rst-post": ["First, from docutils.", "Second, with a [link](https://docutils.sourceforge.io/)."],
    "md-post": ["Same size reads and writes."],
    "code-post": ["From the core footnotes block.", "From the plugin.", "Third note"],
    "ghost-post": ["markdown-it's footnotes."],
    "zola-post": ["pulldown-cmark's footnote."],
    "pandoc-post": ["pandoc's note."],
    "org-post": ["Org's footnote."],
    "adoc-post": ["Asciidoctor's footnote."],
    "substack-post": ["The note's text."],
}


def _pages(feed: Path, content: Path) -> dict[str, str]:
    """Post name (the slug without its date) → Markdown body."""
    ingest([Source(str(feed), feed.name)], content)
    return {page.stem[len("2025-06-01-"):]: page.read_text().split("\n---\n", 1)[1]
            for page in (content / "posts").glob("*.md")}


def _fences(body: str) -> list[tuple[str, str]]:
    return [(t.info.strip(), t.content) for t in MarkdownIt("commonmark").parse(body) if t.type == "fence"]


@pytest.mark.parametrize("family", sorted(CODE))
def test_code_comes_out_byte_exact_with_the_language_its_markup_names(family, tmp_path):
    pages = _pages(FAMILIES / f"{family}.xml", tmp_path)
    assert sorted(pages) == sorted(CODE[family])
    for name, expected in CODE[family].items():
        got = _fences(pages[name])
        assert [text.rstrip("\n") for _, text in got] == [text.rstrip("\n") for _, text in expected], name
        assert [lang if want is not None else None for (lang, _), (want, _) in zip(got, expected)] == \
            [want for want, _ in expected], name
        assert all(lang for lang, _ in got), name  # unnamed ones get a guess, at least "text"


@pytest.mark.parametrize("family", sorted(CODE))
def test_footnotes_pair_references_with_definitions(family, tmp_path):
    for name, body in _pages(FAMILIES / f"{family}.xml", tmp_path).items():
        slug = re.escape("2025-06-0") + r"\d-" + re.escape(name)
        refs = re.findall(rf"(?<!^)\[\^{slug}-(\d+)\]", body, re.M)
        definitions = re.findall(rf"^\[\^{slug}-(\d+)\]: (.*)$", body, re.M)
        expected = FOOTNOTES.get(name, [])
        assert [text for _, text in definitions] == expected, name
        assert sorted(set(refs), key=int) == [number for number, _ in definitions] == \
            [str(n) for n in range(1, len(expected) + 1)], name
        assert "&#91;1&#93;" not in body and "↩" not in body, name  # labels and back-links gone


def test_a_link_to_the_notes_section_is_not_a_footnote():
    body = htmlmd.to_markdown(
        '<p>Text<a href="#fn1" class="footnote-ref" id="fnref1"><sup>1</sup></a>, '
        '<a href="#footnotes">all notes</a>.</p><section id="footnotes" class="footnotes"><hr><ol>'
        '<li id="fn1"><p>One.<a href="#fnref1" class="footnote-back">↩︎</a></p></li>'
        '<li id="fn2"><p>Two.<a href="#fnref2" class="footnote-back">↩︎</a></p></li></ol></section>',
        slug="s", base="https://e.example/post/", internal={})
    assert "Text[^s-1], [all notes](https://e.example/post/#footnotes)." in body
    assert "[^s-1]: One." in body and "[^s-2]" not in body and "Two." in body


def test_an_unreferenced_footnote_stays_as_text(tmp_path):
    body = _pages(FAMILIES / "nikola.xml", tmp_path)["rst-post"]
    assert "Never referenced: kept as text." in body
    assert not re.search(r"^\[\^.*\]: Never referenced", body, re.M)


def test_details_stay_collapsible_with_their_summary(tmp_path):
    body = _pages(FAMILIES / "mkdocs-material.xml", tmp_path)["material-post"]
    html = markdown.markdown(body, extensions=["md_in_html", "pymdownx.superfences", "attr_list"])
    details = re.findall(r"<details( open=\"open\")?>\s*<summary>(.*?)</summary>(.*?)</details>", html, re.S)
    assert [(opened, summary) for opened, summary, _ in details] == [
        ("", "Collapsed by the author &lt;here&gt;"), (' open="open"', "Open one")]
    assert "<p>Inside the details.</p>" in details[0][2] and "transcript line" in details[0][2]
    assert "<p>Shown.</p>" in details[1][2]


def test_details_away_from_the_margin_become_a_bold_summary_line():
    """Raw HTML opens a block only at the left margin: in a list item or a quote the summary is a
    bold line (escaped like any text) above the body."""
    body = htmlmd.to_markdown(
        "<ul><li>item<details><summary>S [x](y) &lt;b&gt;</summary><pre>code</pre>"
        "<details><summary>Inner</summary><p>deep</p></details></details></li></ul>"
        "<blockquote><details open><summary>Q</summary><p>quoted</p></details></blockquote>",
        slug="s", base="", internal={})
    assert "<details" not in body and "<summary" not in body
    assert "  **S &#91;x&#93;(y) &lt;b>**\n\n  ```text\n  code\n  ```\n\n  **Inner**\n\n  deep" in body
    assert "> **Q**\n>\n> quoted" in body


@pytest.mark.slow
def test_a_site_of_every_family_builds_strict(tmp_path):
    """One feed with the entries of every family: `blogtools new` + `build` (mkdocs --strict)."""
    ET.register_namespace("", A[1:-1])
    combined = ET.parse(FAMILIES / "hugo-chroma.xml")
    root = combined.getroot()
    for feed in sorted(FAMILIES.glob("*.xml")):
        if feed.name != "hugo-chroma.xml":
            root.extend(ET.parse(feed).getroot().iter(f"{A}entry"))
    feed = tmp_path / "families.atom"
    combined.write(feed, encoding="utf-8", xml_declaration=True)
    site = tmp_path / "site"
    new = subprocess.run([sys.executable, "-m", "blogtools", "new", str(site), "--feed", str(feed)],
                         capture_output=True, text=True)
    assert new.returncode == 0, new.stderr
    # the markup is what this checks: a budget spent at once leaves every block for a later build
    # (triage of real feeds' blocks on their pages: test_site.py, test_triage_site.py)
    config = (site / "mkdocs.yml").read_text()
    (site / "mkdocs.yml").write_text(config.replace("  blogtools:\n", "  blogtools:\n    triage_build_seconds: 0.001\n", 1))
    build = subprocess.run([sys.executable, "-m", "blogtools", "build"], cwd=site, capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert "left for a later build" in build.stderr  # the budget was read: nothing ran
    page = next(site.glob("site/2025/06/01/material-post/index.html")).read_text()
    assert re.search(r"<details[^>]*>\s*<summary>Collapsed by the author &lt;here&gt;</summary>", page)
    notes = next(site.glob("site/2025/06/01/rst-post/index.html")).read_text()
    assert notes.count('class="footnote-ref"') == 2


_TAGS = ["p", "div", "pre", "code", "span", "table", "tr", "td", "figure", "figcaption", "details", "summary",
         "sup", "a", "li", "ol", "section", "aside", "blockquote", "dt", "dd", "h2"]
_CLASSES = ["footnotes", "footnote", "gutter", "lineno", "line", "highlight js", "language-py", "caption",
            "sourceCode r", "ln", "line-numbers", "footnote-ref", "label", "lntd", "hljs-ln-numbers"]
_TEXTS = ["1", "2\n3", "code\n  indented", " ", "&lt;script&gt;alert(1)&lt;/script&gt;", "↩", "[", "!!!", "`"]


def _random_markup(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(_TEXTS)
    tag = rng.choice(_TAGS)
    attrs = f' class="{rng.choice(_CLASSES)}"' if rng.random() < 0.6 else ""
    attrs += f' id="{rng.choice(["fn1", "fnref1", "fn:1", "footnotes"])}"' if rng.random() < 0.4 else ""
    attrs += f' href="{rng.choice(["#fn1", "#fnref1", "#fn:1", "#footnotes"])}"' if tag == "a" else ""
    inner = "".join(_random_markup(rng, depth - 1) for _ in range(rng.randint(0, 4)))
    return f"<{tag}{attrs}>{inner}</{tag}>"


def test_random_markup_never_yields_raw_html_but_the_details_blogtools_writes():
    """Nested code, footnotes, gutters and <details> in any arrangement: the Markdown holds no raw
    HTML from the feed (a broken code span would let its text through as HTML)."""
    rng = random.Random(12)
    allowed = re.compile(r'<details markdown="1"( open)?>\n<summary>[^<]*</summary>\n|</details>\n')
    for _ in range(400):
        markup = "".join(_random_markup(rng, 5) for _ in range(rng.randint(1, 4)))
        body = htmlmd.to_markdown(markup, slug="s", base="https://e.example/p/", internal={})
        for token in MarkdownIt("commonmark").parse(body):
            assert token.type != "html_block" or allowed.fullmatch(token.content), (markup, body)
            assert not any(c.type == "html_inline" for c in token.children or []), (markup, body)


def test_code_in_a_layout_table_survives_and_a_data_table_stays_a_table(tmp_path):
    """Blogger's layout tables: a Markdown table cell cannot hold a fenced block, so a table whose
    cells hold code gives up its cells as blocks, in reading order; a table of data stays."""
    body = _pages(FAMILIES / "blogger.xml", tmp_path)["blogger-layout-table"]
    assert [code for _, code in _fences(body)][:2] == ["total = 0\nfor x in xs:\n    total += x\n", "total = sum(xs)\n"]
    order = [body.index(text) for text in ("**Before**", "**After**", "total = 0", "total = sum(xs)",
                                           "One line instead of three.", "$ python loop.py", "Running it")]
    assert order == sorted(order)
    assert re.search(r"^\| Version \| Lines \|$", body, re.M) and re.search(r"^\| After +\| 1 +\|$", body, re.M)
