"""htmlmd's element tree from its own tokeniser, from lxml and from selectolax: code exactness and speed.

    .venv/bin/python benchmarks/html_parsers.py [FEED ...]   # needs lxml, selectolax, beautifulsoup4

Without FEED it reads the feeds guess_eval.py reads (../shared/corpus and tests/data/families).
For every entry body: nh3 sanitises it (as ingest does), then each parser builds the tree that
htmlmd's lift pass walks; the code blocks read from each tree (``_CodeBlocks.text``) are compared
with the expected text of every outermost ``<pre>``, taken as ../shared/tools/feedfidelity.py
takes it (BeautifulSoup over the raw body, gutters left out), and each parser is timed on the
sanitised bodies alone. Prints one line per parser.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import feedparser
import lxml.html
from selectolax.lexbor import LexborHTMLParser

from blogtools import htmlmd

sys.path.insert(0, str(Path(__file__).parent))
from guess_eval import CORPUS, DEFAULT_FEEDS  # noqa: E402

# The measuring tool's own ground truth (it needs beautifulsoup4); the script runs itself when
# imported, so its functions are loaded without its last line.
_TOOL = CORPUS.parent / "tools" / "feedfidelity.py"
_NAMESPACE: dict = {}
exec(compile(_TOOL.read_text().rsplit("\nmain()", 1)[0], str(_TOOL), "exec"), _NAMESPACE)  # noqa: S102
expected_blocks = _NAMESPACE["expected_blocks"]


def from_lxml(markup: str) -> htmlmd._Element:
    root = htmlmd._Element("#root", {})
    for child in lxml.html.fragments_fromstring(markup):
        if isinstance(child, str):
            root.children.append(child)
        else:
            _add_lxml(root, child)
    return root


def _add_lxml(parent: htmlmd._Element, node) -> None:
    if isinstance(node.tag, str):
        element = htmlmd._Element(node.tag, dict(node.attrib), parent)
        parent.children.append(element)
        if node.text:
            element.children.append(node.text)
        for child in node:
            _add_lxml(element, child)
    if node.tail:
        parent.children.append(node.tail)


def from_selectolax(markup: str) -> htmlmd._Element:
    root = htmlmd._Element("#root", {})
    body = LexborHTMLParser(f"<body>{markup}</body>").body
    for child in body.iter(include_text=True):
        _add_selectolax(root, child)
    return root


def _add_selectolax(parent: htmlmd._Element, node) -> None:
    if node.tag == "-text":
        parent.children.append(node.text_content)
        return
    if node.tag.startswith("-"):
        return
    element = htmlmd._Element(node.tag, {k: v or "" for k, v in node.attributes.items()}, parent)
    parent.children.append(element)
    for child in node.iter(include_text=True):
        _add_selectolax(element, child)


PARSERS = {"htmlmd tokeniser": htmlmd._parse, "lxml": from_lxml, "selectolax (lexbor)": from_selectolax}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("feeds", nargs="*", default=DEFAULT_FEEDS)
    args = parser.parse_args(argv)
    bodies = []
    for path in args.feeds:
        feed = feedparser.parse(Path(path).read_bytes(), sanitize_html=False, resolve_relative_uris=False)
        for entry in feed.entries:
            bodies.append((entry.get("content") or [{}])[0].get("value") or entry.get("summary", ""))
    sanitised = [htmlmd.sanitize(body) for body in bodies]
    expected = [[text for text, _ in expected_blocks(body)] for body in bodies]
    total = sum(map(len, expected))
    print(f"{len(bodies)} bodies, {total} code blocks from {len(args.feeds)} feeds")
    for name, build in PARSERS.items():
        started = time.perf_counter()
        trees = [build(markup) for markup in sanitised]
        elapsed = time.perf_counter() - started
        exact = 0
        for tree, want in zip(trees, expected):
            blocks = htmlmd._CodeBlocks(tree)
            got = [blocks.text(pre) for pre in blocks.pres]
            exact += sum(1 for i, text in enumerate(want) if i < len(got) and got[i].rstrip("\n") == text.rstrip("\n"))
        print(f"{name}: exact {exact}/{total} ({100 * exact / total:.1f}%), parse {1000 * elapsed:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
