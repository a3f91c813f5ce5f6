"""Checks over a built site/: local links that lead nowhere, and markup that could execute.

Both read the built HTML with the standard library's html.parser, so they judge what a browser
gets, whatever produced it (MkDocs, Zensical, a later transform).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

# Elements that load or run active content; none belongs on an essay page.
ACTIVE_ELEMENTS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal"}
# Attribute values that would run code when followed or loaded.
_ACTIVE_URL = re.compile(r"^(javascript|vbscript|data|livescript):", re.I)
_STRIP = re.compile(r"[\x00-\x20\x7f]+")
_JS_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
              "srcdoc", "codebase", "cite", "ping", "values", "to", "from", "by"}


@dataclass
class HtmlPage:
    """What the checks need from one built HTML file."""

    path: Path
    ids: set[str] = field(default_factory=set)
    links: list[tuple[str, str]] = field(default_factory=list)  # (attribute, value)
    scripts: list[tuple[dict, str]] = field(default_factory=list)  # (attributes, inline text)
    elements: list[tuple[str, dict]] = field(default_factory=list)


class _Collector(HTMLParser):
    def __init__(self, page: HtmlPage):
        super().__init__(convert_charrefs=True)
        self.page = page
        self._script: dict | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name.lower(): (value or "") for name, value in attrs}
        self.page.elements.append((tag, attributes))
        for name in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(name):
                self.page.ids.add(attributes[name])
        for name in ("href", "src"):
            if name in attributes and tag in ("a", "link", "img", "script", "source", "area"):
                self.page.links.append((name, attributes[name]))
        if tag == "script":
            self._script, self._text = attributes, []

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.handle_endtag(tag)

    def handle_data(self, data):
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.page.scripts.append((self._script, "".join(self._text)))
            self._script = None


def read_page(path: Path) -> HtmlPage:
    """Parse one HTML file."""
    page = HtmlPage(path)
    collector = _Collector(page)
    collector.feed(path.read_text("utf-8"))
    collector.close()
    return page


def html_pages(site_dir: Path) -> dict[Path, HtmlPage]:
    """Every HTML file under `site_dir`, parsed, keyed by its resolved path."""
    return {p.resolve(): read_page(p) for p in sorted(site_dir.rglob("*.html"))}


def broken_links(site_dir: Path, site_path: str = "/") -> list[str]:
    """Local links (href/src) in `site_dir` whose file or `#anchor` does not exist.

    `site_path` is the URL path the site is served under (from site_url); root-relative
    links are resolved against it. Links with a scheme or host are not checked.
    """
    site_dir = site_dir.resolve()
    pages = html_pages(site_dir)
    problems = []
    for path, page in pages.items():
        for attribute, value in page.links:
            parts = urlsplit(value)
            if parts.scheme or parts.netloc or value.startswith("//"):
                continue
            target = _local_target(site_dir, path, unquote(parts.path), site_path)
            where = f"{path.relative_to(site_dir)}: {attribute}={value!r}"
            if target is None:
                problems.append(f"{where}: no such file")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in pages[target].ids:
                problems.append(f"{where}: no element with id {fragment!r}")
    return problems


def _local_target(site_dir: Path, page: Path, link_path: str, site_path: str) -> Path | None:
    if not link_path:
        return page
    if link_path.startswith("/"):
        if not link_path.startswith(site_path):
            return None
        target = site_dir / link_path[len(site_path):]
    else:
        target = page.parent / link_path
    target = target.resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file() or not target.is_relative_to(site_dir):
        return None
    return target


def normalized_script(text: str) -> str:
    """Inline script text with string literals blanked, so that per-page paths compare equal."""
    return _JS_STRING.sub('""', text).strip()


def executable_markup(site_dir: Path, allowed_inline: set[str], site_path: str = "/") -> list[str]:
    """Everything in `site_dir`'s HTML that could run code, except the theme's own scripts.

    Allowed: `<script src>` loading a file under the site's `assets/`, and inline scripts whose
    `normalized_script()` text is in `allowed_inline` (take those from a build of a site with
    no posts); `site_path` as for `broken_links`. Reported: other scripts, on* attributes, javascript:/vbscript:/data: URLs in any
    URL-bearing attribute, `<iframe>`, `<object>`, `<embed>` and kin, `<meta http-equiv=refresh>`,
    and `xlink:href` pointing anywhere but a fragment.
    """
    site_dir = site_dir.resolve()
    problems = []
    for path, page in html_pages(site_dir).items():
        where = str(path.relative_to(site_dir))
        for attributes, text in page.scripts:
            src = attributes.get("src")
            if src:
                parts = urlsplit(src)
                target = None if parts.scheme or parts.netloc else _local_target(
                    site_dir, path, unquote(parts.path), site_path)
                if target is None or not target.is_relative_to(site_dir / "assets"):
                    problems.append(f"{where}: <script src={src!r}>")
            elif normalized_script(text) not in allowed_inline:
                problems.append(f"{where}: inline <script>{text[:80]!r}")
        for tag, attributes in page.elements:
            if tag in ACTIVE_ELEMENTS:
                problems.append(f"{where}: <{tag}>")
            if tag == "meta" and attributes.get("http-equiv", "").lower() == "refresh":
                problems.append(f"{where}: <meta http-equiv=refresh>")
            for name, value in attributes.items():
                if name.startswith("on"):
                    problems.append(f"{where}: <{tag} {name}=...>")
                elif name in _URL_ATTRS and _ACTIVE_URL.match(_STRIP.sub("", value)):
                    problems.append(f"{where}: <{tag} {name}={value[:60]!r}>")
                elif name == "xlink:href" and not value.startswith("#"):
                    problems.append(f"{where}: <{tag} xlink:href={value[:60]!r}>")
    return problems


def inline_scripts(site_dir: Path) -> set[str]:
    """The normalized text of every inline script in `site_dir` (the reference for a theme)."""
    return {
        normalized_script(text)
        for page in html_pages(site_dir).values()
        for attributes, text in page.scripts
        if not attributes.get("src")
    }


def site_path(site_url: str) -> str:
    """The URL path a site_url serves from, with a trailing slash."""
    path = PurePosixPath(urlsplit(site_url).path or "/").as_posix()
    return path if path.endswith("/") else path + "/"
