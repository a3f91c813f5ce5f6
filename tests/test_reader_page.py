"""The reader's page in a real browser: Chromium (Playwright) at 1280 and 390 px, light and dark.

On this repository's site and on a new site made by `blogtools new` from another blog's feed: no
horizontal overflow on a post or /examples/, one visible badge per code block joined to it, in its
own style, a disclosure that opens by keyboard, /examples/ filters without a reload (and every row
readable with JavaScript off), and no serious or critical accessibility violation (axe-core).
Screenshots of every view go to build/test-artifacts/reader-page/ (ignored by git), to look at.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blogtools.blocks import find_blocks
from browser import CHROMIUM_ARGS, serving

REPO = Path(__file__).resolve().parent.parent
OTHER_FEED = REPO.parent / "shared/corpus/other/rust-blog_inside-rust_feed.atom.xml"  # 10 posts, 15 blocks
ARTIFACTS = REPO / "build/test-artifacts/reader-page"
VIEWS = [(width, scheme) for width in (1280, 390) for scheme in ("light", "dark")]
TONE_CLASSES = ("bt-green", "bt-red", "bt-neutral", "bt-amber", "bt-grey")


def blogtools(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"blogtools {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def seed(tmp_path_factory) -> Path:
    """This repository's site, built from its content/ and snippets/ as they are."""
    root = tmp_path_factory.mktemp("seed") / "site-root"
    root.mkdir()
    for name in ("content", "snippets", "tests"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    blogtools("build", "--offline", cwd=root)
    return root


def other(tmp_path_factory) -> Path:
    """A new site for another blog's feed (`blogtools new`, then `build`, which triages its blocks)."""
    if not OTHER_FEED.is_file():
        pytest.skip(f"{OTHER_FEED} is not here (the shared corpus sits beside the checkout in CI)")
    root = tmp_path_factory.mktemp("other") / "site-root"
    blogtools("new", str(root), "--feed", str(OTHER_FEED), cwd=root.parent)
    blogtools("build", cwd=root)
    return root


@pytest.fixture(scope="module", params=["seed", "other"])
def site(request, tmp_path_factory) -> tuple[str, Path]:
    """Which site and its root, built once each."""
    return request.param, {"seed": seed, "other": other}[request.param](tmp_path_factory)


@pytest.fixture(scope="module")  # not longer: Playwright's loop would stay running under other modules' tests
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def post_with_most_blocks(root: Path) -> tuple[str, int]:
    """The URL path of the post with the most code blocks, and how many it has (from content/)."""
    counts = {}
    for page in (root / "content/posts").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        counts[page] = len(find_blocks(text))
    page = max(counts, key=lambda p: (counts[p], p.name))
    built = next((root / "site").glob(f"{page.stem[:4]}/{page.stem[5:7]}/{page.stem[8:10]}/*/index.html"))
    return built.parent.relative_to(root / "site").as_posix() + "/", counts[page]


BADGE_FACTS = """() => [...document.querySelectorAll('.md-content .bt-badge')].map(badge => {
  const style = getComputedStyle(badge), title = badge.querySelector('summary, .admonition-title');
  const above = badge.previousElementSibling.getBoundingClientRect(), box = badge.getBoundingClientRect();
  return {classes: badge.className, visible: box.width > 0 && box.height > 0 && style.visibility === 'visible',
          line: style.borderLeftColor, lineWidth: parseFloat(style.borderLeftWidth), background: style.backgroundColor,
          titleColor: getComputedStyle(title).color, gap: Math.round(box.top - above.bottom),
          sameWidth: Math.abs(box.left - above.left) < 1 && Math.abs(box.right - above.right) < 1};
})"""
# The page is all there: loaded, its footer parsed (a page caught while it loads on a busy machine
# is not yet).
SETTLED = """() => document.querySelector('.md-footer') !== null && document.readyState === 'complete'"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def fits(page, where: str) -> None:
    """The page has no horizontal overflow once laid out (the theme's script settles tab bars and
    code blocks after load; a page that still overflows after 5 s fails, with by how much)."""
    try:
        page.wait_for_function(f"({OVERFLOW}) <= 0", timeout=5000)
    except Exception:  # playwright's TimeoutError
        pytest.fail(f"{where}: overflows by {page.evaluate(OVERFLOW)} px")


@pytest.mark.slow
def test_each_block_has_one_badge_joined_to_it_and_nothing_overflows(site, chromium):
    which, root = site
    post, blocks = post_with_most_blocks(root)
    assert blocks > 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serving(root / "site") as url:
        for width, scheme in VIEWS:
            context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            page = context.new_page()
            for path, name in ((post, "post"), ("examples/", "examples")):
                page.goto(url + path, wait_until="networkidle")
                page.screenshot(path=str(ARTIFACTS / f"{which}-{name}-{width}-{scheme}.png"), full_page=True)
                fits(page, f"{which} {path} at {width} px, {scheme}")
            page.goto(url + post, wait_until="networkidle")
            page.wait_for_function(SETTLED, timeout=10000)
            facts = page.evaluate(BADGE_FACTS)
            anchors = page.evaluate("[...document.querySelectorAll('.md-content .bt-anchor')].map(a => a.id)")
            assert len(anchors) == len(facts), (which, width, scheme)  # a block's (or companion's) each
            assert [a for a in anchors if a[5:].isdigit()] == [f"code-{n:02}" for n in range(1, blocks + 1)]
            page_background = page.evaluate("getComputedStyle(document.querySelector('.md-main')).backgroundColor")
            for fact in facts:
                tone = next(c for c in TONE_CLASSES if c in fact["classes"].split())
                assert fact["visible"] and fact["lineWidth"] >= 3, fact
                assert fact["background"] not in ("rgba(0, 0, 0, 0)", page_background), fact  # its own style
                assert fact["sameWidth"], fact
                if fact["gap"] < 10:  # a block's footer: joined to its frame (a companion's follows its heading)
                    assert fact["gap"] == 0, fact
                fact["tone"] = tone
            lines = {fact["tone"]: fact["line"] for fact in facts}
            assert len(set(lines.values())) == len(lines), lines  # one colour per tone, never shared
            context.close()


@pytest.mark.slow
def test_a_badges_disclosure_opens_by_keyboard(site, chromium):
    which, root = site
    pages = sorted(root.glob("site/[0-9]*/*/*/*/index.html"), key=lambda path: path.read_text().count('<details class="bt-badge'))
    if not pages or '<details class="bt-badge' not in pages[-1].read_text():  # the seed's posts all have some
        pytest.skip(f"no badge of the {which} site has more to show (its verdicts have no output, tests or harness)")
    post = pages[-1].parent.relative_to(root / "site").as_posix() + "/"  # the post with the most disclosures
    with serving(root / "site") as url:
        page = chromium.new_page(viewport={"width": 390, "height": 800})
        page.goto(url + post, wait_until="networkidle")
        disclosures = page.locator(".md-content details.bt-badge")
        first = disclosures.first
        assert first.get_attribute("open") is None
        page.keyboard.press("Tab")  # focus moves through the page to the summary, as a reader's would
        for _ in range(400):
            if page.evaluate("document.activeElement.matches('.md-content details.bt-badge > summary')"):
                break
            page.keyboard.press("Tab")
        else:
            pytest.fail("no badge's summary is reachable with Tab")
        page.keyboard.press("Enter")
        opened = page.locator(".md-content details.bt-badge[open]")
        assert opened.count() == 1
        assert opened.first.locator(":scope > :not(summary)").first.is_visible()
        page.keyboard.press("Enter")
        assert page.locator(".md-content details.bt-badge[open]").count() == 0
        page.close()


@pytest.mark.slow
@pytest.mark.parametrize("site", ["seed"], indirect=True)
def test_examples_filters_by_state_and_language_without_a_reload_and_reads_without_javascript(site, chromium):
    _, seed = site
    with serving(seed / "site") as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "examples/", wait_until="networkidle")
        rows = page.locator(".bt-rows > li")
        total = rows.count()
        assert total > 0 and page.locator(".bt-filters").is_visible()
        states = page.locator(".bt-filters button[data-state]")
        page.evaluate("window.stayed = true")  # gone if the page reloads
        first = states.first
        state = first.get_attribute("data-state")
        first.click()
        assert first.get_attribute("aria-pressed") == "false"
        assert page.locator(f".bt-rows > li[data-state='{state}']:visible").count() == 0
        assert page.locator(".bt-rows > li:visible").count() == total - page.locator(f".bt-rows > li[data-state='{state}']").count()
        first.click()
        assert page.locator(".bt-rows > li:visible").count() == total
        language = rows.first.get_attribute("data-language")
        page.select_option(".bt-filters select", language)
        visible = page.locator(".bt-rows > li:visible")
        assert visible.count() == page.locator(f".bt-rows > li[data-language='{language}']").count() > 0
        assert page.evaluate("window.stayed") is True
        # each row links to its block: the anchor is there on the post page
        target = rows.first.locator("a.bt-block").get_attribute("href")
        rows.first.locator("a.bt-block").click()
        page.wait_for_load_state("networkidle")
        assert page.url.endswith(target.lstrip("./")) and page.locator(f"#{target.rpartition('#')[2]}").count() == 1
        page.close()

        context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 900})
        page = context.new_page()
        page.goto(url + "examples/")
        assert page.locator(".bt-rows > li:visible").count() == total
        assert not page.locator(".bt-filters").is_visible() and page.locator(".bt-legend").is_visible()
        context.close()


@pytest.mark.slow
def test_no_serious_or_critical_accessibility_violation(site, chromium):
    from axe_playwright_python.sync_playwright import Axe

    _, root = site
    post, _ = post_with_most_blocks(root)
    axe = Axe()
    found = []
    with serving(root / "site") as url:
        for width, scheme in VIEWS:
            context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            page = context.new_page()
            for path in ("", post, "examples/"):
                page.goto(url + path, wait_until="networkidle")
                if path == post and page.locator(".md-content details.bt-badge").count():
                    page.locator(".md-content details.bt-badge > summary").first.click()  # what it holds, too
                for violation in axe.run(page).response["violations"]:
                    if violation["impact"] in ("serious", "critical"):
                        targets = [node["target"] for node in violation["nodes"]][:3]
                        found.append(f"{path or '/'} {width} {scheme}: {violation['id']} ({violation['impact']}) {targets}")
            context.close()
    assert found == []
