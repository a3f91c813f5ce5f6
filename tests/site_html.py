"""A minimal DOM over html.parser for the site tests: find elements, read their text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)  # Node or str

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs) -> list[Node]:
        return [
            n for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes())
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs) -> Node | None:
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_fragment(text: str) -> Node:
    """Parse HTML text into a Node tree."""
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root


def parse(path: Path) -> Node:
    """Parse an HTML file into a Node tree."""
    return parse_fragment(Path(path).read_text("utf-8"))


def heading_text(node: Node) -> str:
    """A heading's text without Material's permalink sign."""
    return node.text().removesuffix("¶").strip()


def badges_of(html: str) -> list[tuple[str, str]]:
    """Each code block's badge in ``html``, in order: its state (``bt-state-<state>``) and its words."""
    found = []
    for node in parse_fragment(html).iter():
        if "bt-badge" in node.classes():
            state = next(c for c in node.classes() if c.startswith("bt-state-")).removeprefix("bt-state-")
            title = node.find("summary") or node.find("p", cls="admonition-title")
            found.append((state, " ".join(title.text().split())))
    return found
