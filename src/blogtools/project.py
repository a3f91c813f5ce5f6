"""The site a command works on: every path and per-site setting, read once from ``mkdocs.yml``.

blogtools' own settings sit under ``extra: blogtools:`` in mkdocs.yml (MkDocs, Material and
Zensical pass ``extra`` through untouched), each optional, paths relative to mkdocs.yml's folder:

    extra:
      blogtools:
        content: content            # the durable record: content/posts/<slug>.md
        snippets: snippets          # extracted blocks, runnable modules, manifest.toml
        feeds: feeds/feeds.toml     # the sources `ingest` reads
        build: build                # generated: rendered Markdown, theme overrides, figures
        figures: build/figures      # what snippet scripts measured, <figures>/<post>/
        engine: mkdocs              # what builds and serves build/docs/: mkdocs, properdocs or zensical
        triage_build_seconds: 180   # the most a build spends triaging (guides/budgets.md)
        triage_post_seconds: 60     # the most one post's blocks may take of it
        triage_memory_mb: 6144      # all sandbox processes at once, together

The rest comes from MkDocs' own keys (``docs_dir``, ``site_dir``, ``site_url``, ``site_name``,
``repo_url``, ``edit_uri``, ``theme.custom_dir``) and the excerpt mark from Material's blog
plugin (``post_excerpt_separator``), so nothing is said twice.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from blogtools.errors import BlogtoolsError

CONFIG_NAME = "mkdocs.yml"
# The pages' folder under content/. Not a setting: ingest's state records pages as posts/<slug>.md,
# and content/ is the durable record, so its layout is the same on every site.
POSTS = "posts"
EXCERPT_MARK = "<!-- more -->"  # Material's blog plugin default for post_excerpt_separator
#: The Markdown extensions the pages blogtools writes rely on: a block's badge is an admonition
#: (``!!!``) or a collapsible one (``???``) holding fences, a runnable form a tab beside its block.
NEEDED_EXTENSIONS = ("admonition", "pymdownx.details", "pymdownx.superfences", "pymdownx.tabbed")
FIGURES_VARIABLE = "BLOGTOOLS_FIGURES_DIR"  # set by `blogtools run` for the script it starts
# The site engines that read the same mkdocs.yml and finished Markdown; the first is the default.
# MkDocs 1.6 + Material; ProperDocs (MkDocs 1.x continued, Material unchanged); Zensical (runs no
# MkDocs plugins or hooks: blogtools needs none, its statuses are in the Markdown it renders).
ENGINES = ("mkdocs", "properdocs", "zensical")


@dataclass(frozen=True)
class Settings:
    """blogtools' settings under ``extra: blogtools:`` in mkdocs.yml; every one has a default.
    Paths are non-empty strings; the triage budgets are positive numbers (``int`` ones whole)."""

    content: str = "content"
    snippets: str = "snippets"
    feeds: str = "feeds/feeds.toml"
    build: str = "build"
    figures: str | None = None  # default: <build>/figures
    engine: str = ENGINES[0]
    triage_build_seconds: float = 180.0  # the build's triage budget (a laptop user waits 3 minutes at most)
    triage_post_seconds: float = 60.0  # one post's share of it: six blocks at the sandbox's wall limit
    triage_memory_mb: int = 6144  # every sandbox process of a triage at once (units x memory each)

    @classmethod
    def parse(cls, value, where: str) -> Settings:
        """The settings from a mapping; one error naming the key when it is unknown or of the wrong type."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise BlogtoolsError(f"{where}: extra.blogtools must be a mapping of settings")
        kinds = {item.name: item.default for item in dataclasses.fields(cls)}
        for key, item in value.items():
            if key not in kinds:
                raise BlogtoolsError(f"{where}: extra.blogtools.{key}: unknown setting (known: {', '.join(kinds)})")
            default = kinds[key]
            if isinstance(default, (int, float)):
                whole = isinstance(default, int)
                if isinstance(item, bool) or not isinstance(item, int if whole else (int, float)) or not 0 < item < math.inf:
                    what = "a whole number above 0" if whole else "a finite number above 0"
                    raise BlogtoolsError(f"{where}: extra.blogtools.{key} must be {what} (got {item!r})")
            elif not isinstance(item, str) or not item.strip():
                raise BlogtoolsError(f"{where}: extra.blogtools.{key} must be a non-empty string"
                                     + (" (a path)" if key != "engine" else ""))
        if value.get("engine", ENGINES[0]) not in ENGINES:
            raise BlogtoolsError(f"{where}: extra.blogtools.engine: {value['engine']!r} is not one of {', '.join(ENGINES)}")
        return cls(**value)


@dataclass(frozen=True)
class Project:
    """A site's folders and settings. Paths are relative to the current folder when the site is
    there or below it (so messages stay short), else absolute."""

    root: Path
    config_file: Path | None  # None: no mkdocs.yml; the defaults, rooted at the current folder
    content_dir: Path
    posts_dir: Path
    snippets_dir: Path
    feeds_toml: Path
    build_dir: Path
    figures_dir: Path
    docs_dir: Path
    site_dir: Path
    overrides_dir: Path
    site_url: str = ""
    site_name: str = ""
    repo_url: str | None = None
    edit_uri: str | None = None
    excerpt_mark: str = EXCERPT_MARK
    engine: str = ENGINES[0]
    markdown_extensions: tuple[str, ...] | None = None  # None: not known here (INHERIT)
    settings: Settings = Settings()

    def with_overrides(self, content_dir: Path | None = None, snippets_dir: Path | None = None) -> Project:
        """The project with its content or snippets folder replaced (``--content-dir``, ``--snippets-dir``)."""
        changes = {}
        if content_dir is not None:
            changes.update(content_dir=Path(content_dir), posts_dir=Path(content_dir) / POSTS)
        if snippets_dir is not None:
            changes["snippets_dir"] = Path(snippets_dir)
        return dataclasses.replace(self, **changes)

    def require_site(self) -> Project:
        """The project itself when it has a mkdocs.yml with a site_url (what build and serve need)."""
        if self.config_file is None:
            raise BlogtoolsError(f"no {CONFIG_NAME} in {Path.cwd()} or above: pass -f FILE, or start a site "
                                 "with `blogtools new`")
        if not self.site_url:
            raise BlogtoolsError(f"{self.config_file}: needs a site_url (the site's feed links use it)")
        missing = [name for name in NEEDED_EXTENSIONS if name not in (self.markdown_extensions or NEEDED_EXTENSIONS)]
        if missing:
            raise BlogtoolsError(f"{self.config_file}: markdown_extensions lacks {', '.join(missing)}: each code "
                                 "block's badge needs them (add them, as `blogtools new` writes them)")
        return self

    def figures_for(self, post: str) -> Path:
        """The folder a post's snippet scripts write their figures into (absolute)."""
        return (self.figures_dir / post).resolve()


def find_config(start: Path | None = None) -> Path | None:
    """The nearest mkdocs.yml in ``start`` (default: the current folder) or a folder above it."""
    start = Path.cwd() if start is None else Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    return None


def load(config_file: Path | None = None, start: Path | None = None) -> Project:
    """The project of ``config_file``, else of the nearest mkdocs.yml from ``start`` (default: the
    current folder) up, else the defaults rooted at ``start``."""
    if config_file is None:
        found = find_config(start)
        if found is None:
            return _project(Path(".") if start is None else Path(start), None, {})
        config_file = _short(found)
    config_file = Path(config_file)
    return _project(config_file.parent, config_file, _read(config_file))


def _read(config_file: Path) -> dict:
    try:
        data = yaml.load(config_file.read_text("utf-8"), Loader=_ConfigLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BlogtoolsError(f"{config_file}: cannot read: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BlogtoolsError(f"{config_file}: not a mapping of MkDocs settings")
    return data


def _project(root: Path, config_file: Path | None, data: dict) -> Project:
    extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
    settings = Settings.parse(extra.get("blogtools"), str(config_file))
    theme = data.get("theme") if isinstance(data.get("theme"), dict) else {}
    build_dir = root / settings.build
    content_dir = root / settings.content
    return Project(
        root=root,
        config_file=config_file,
        content_dir=content_dir,
        posts_dir=content_dir / POSTS,
        snippets_dir=root / settings.snippets,
        feeds_toml=root / settings.feeds,
        build_dir=build_dir,
        figures_dir=root / settings.figures if settings.figures else build_dir / "figures",
        docs_dir=root / str(data.get("docs_dir", "docs")),
        site_dir=root / str(data.get("site_dir", "site")),
        overrides_dir=root / str(theme.get("custom_dir") or Path(settings.build) / "overrides"),
        site_url=str(data.get("site_url") or ""),
        site_name=str(data.get("site_name") or ""),
        repo_url=data.get("repo_url") or None,
        edit_uri=data.get("edit_uri"),
        excerpt_mark=str(_blog_plugin(data).get("post_excerpt_separator") or EXCERPT_MARK),
        engine=settings.engine,
        markdown_extensions=None if "INHERIT" in data else _extension_names(data),
        settings=settings,
    )


def _extension_names(data: dict) -> tuple[str, ...]:
    """The names in mkdocs.yml's ``markdown_extensions`` (a list of names or of one-key mappings)."""
    listed = data.get("markdown_extensions") or []
    items = listed if isinstance(listed, list) else [listed]
    return tuple(name for item in items for name in (item if isinstance(item, dict) else {item: None}) if isinstance(name, str))


def _blog_plugin(data: dict) -> dict:
    """Material's blog plugin settings in mkdocs.yml (``plugins: [- blog: {...}]``), or {}."""
    plugins = data.get("plugins") or []
    items = plugins.items() if isinstance(plugins, dict) else (
        next(iter(p.items())) if isinstance(p, dict) and p else (p, None) for p in plugins)
    for name, options in items:
        if name in ("blog", "material/blog") and isinstance(options, dict):
            return options
    return {}


def _short(path: Path) -> Path:
    """``path`` relative to the current folder when it lies inside it, else as it is."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


class _ConfigLoader(yaml.SafeLoader):
    """A safe loader that reads mkdocs.yml's ``!!python/name:`` and ``!ENV`` values as None."""


_ConfigLoader.add_multi_constructor("", lambda loader, suffix, node: None)
