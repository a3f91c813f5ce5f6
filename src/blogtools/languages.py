"""The languages blogtools knows: one record per language, found by its name or any alias.

Every stage asks this table: ingest for the fence name of a ``class="language-x"`` value, extract
for a snippet's file extension and whether a block is a transcript, render for the label of the
"As published" tab, check for whether a block is Python. A name that is not in the table is still
a usable fence name when it is a plain token; it then gets ``.txt`` and its own name as label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One language: the fence name blogtools writes, the aliases that mean it, the snippet file
    extension (no dot), the label shown on the page, and whether its blocks are transcripts (a
    console session or output, read as text rather than as a program)."""

    name: str
    label: str
    extension: str
    aliases: tuple[str, ...] = ()
    transcript: bool = False


LANGUAGES: tuple[Language, ...] = (
    Language("python", "Python", "py", ("py", "python3", "py3", "python2", "ipython", "ipython3")),
    Language("pycon", "Python console", "txt", transcript=True),
    Language("javascript", "JavaScript", "js", ("js", "node", "mjs", "cjs", "ecmascript")),
    Language("jsx", "JSX", "jsx"),
    Language("typescript", "TypeScript", "ts", ("ts",)),
    Language("tsx", "TSX", "tsx"),
    Language("rust", "Rust", "rs", ("rs",)),
    Language("shell", "Shell", "sh", ("sh", "bash", "zsh", "ksh", "shellscript"), transcript=True),
    Language("console", "Console", "txt", ("shell-session", "sh-session", "terminal"), transcript=True),
    Language("text", "Text", "txt", ("plaintext", "plain", "txt", "none", "nohighlight"), transcript=True),
    Language("output", "Output", "txt", transcript=True),
    Language("sql", "SQL", "sql"),
    Language("json", "JSON", "json"),
    Language("toml", "TOML", "toml"),
    Language("yaml", "YAML", "yaml", ("yml",)),
    Language("xml", "XML", "xml"),
    Language("html", "HTML", "html", ("htm", "xhtml")),
    Language("css", "CSS", "css"),
    Language("c", "C", "c", ("h",)),
    Language("cpp", "C++", "cpp", ("c++", "cc", "cxx", "hpp")),
    Language("csharp", "C#", "cs", ("c#", "cs")),
    Language("objc", "Objective-C", "m", ("objective-c", "objectivec", "obj-c")),
    Language("go", "Go", "go", ("golang",)),
    Language("java", "Java", "java"),
    Language("ruby", "Ruby", "rb", ("rb",)),
    Language("php", "PHP", "php"),
    Language("diff", "Diff", "diff", ("patch",)),
    Language("markdown", "Markdown", "md", ("md",)),
    Language("jinja", "Jinja", "jinja"),
    Language("asm", "Assembly", "asm", ("nasm", "x86asm")),
    Language("haskell", "Haskell", "hs", ("hs",)),
    Language("kotlin", "Kotlin", "kt"),
    Language("swift", "Swift", "swift"),
    Language("lua", "Lua", "lua"),
    Language("r", "R", "r"),
    Language("scala", "Scala", "scala"),
    Language("perl", "Perl", "pl"),
    Language("emacs-lisp", "Emacs Lisp", "el", ("elisp",)),
    Language("clojure", "Clojure", "clj", ("clj",)),
    Language("erlang", "Erlang", "erl"),
    Language("ocaml", "OCaml", "ml"),
    Language("dart", "Dart", "dart"),
    Language("powershell", "PowerShell", "ps1", ("ps1", "pwsh")),
    Language("dockerfile", "Dockerfile", "dockerfile", ("docker",)),
    Language("makefile", "Makefile", "mk", ("make",)),
    Language("ini", "INI", "ini", ("cfg", "dosini")),
    Language("graphql", "GraphQL", "graphql", ("gql",)),
    Language("scss", "SCSS", "scss"),
    Language("latex", "LaTeX", "tex", ("tex",)),
    Language("coffeescript", "CoffeeScript", "coffee", ("coffee",)),
    Language("groovy", "Groovy", "groovy"),
    Language("julia", "Julia", "jl"),
    Language("matlab", "MATLAB", "m"),
    Language("elixir", "Elixir", "ex"),
    Language("prolog", "Prolog", "pro"),
    Language("pascal", "Pascal", "pas", ("delphi",)),
    Language("tcl", "Tcl", "tcl"),
    Language("awk", "Awk", "awk"),
    Language("solidity", "Solidity", "sol"),
    Language("vue", "Vue", "vue"),
    Language("lisp", "Lisp", "lisp", ("common-lisp",)),
    Language("zig", "Zig", "zig"),
    Language("fortran", "Fortran", "f90"),
    Language("verilog", "Verilog", "v"),
    Language("vhdl", "VHDL", "vhd"),
    Language("batch", "Batch", "bat", ("bat", "cmd")),
    Language("cmake", "CMake", "cmake"),
    Language("protobuf", "Protocol Buffers", "proto", ("proto",)),
    Language("hcl", "HCL", "hcl", ("terraform",)),
    Language("rst", "reStructuredText", "rst", ("restructuredtext",)),
)

_BY_ALIAS = {alias: language for language in LANGUAGES for alias in (language.name, *language.aliases)}
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9+#._-]{0,30}$")


def lookup(name: str) -> Language | None:
    """The language ``name`` (a name or an alias, any case) stands for, or None."""
    return _BY_ALIAS.get(name.strip().lower())


def named(name: str) -> Language:
    """The language whose name is ``name``; KeyError for a name the table lacks (a bug)."""
    language = _BY_ALIAS[name]
    if language.name != name:
        raise KeyError(f"{name} is an alias of {language.name}")
    return language


def fence_name(name: str) -> str | None:
    """The fence name for a language name met in markup: the table's name for a known one, the
    name itself for an unknown plain token, None for anything else (not usable in a fence)."""
    name = name.strip().lower()
    if not _SAFE_NAME.match(name):
        return None
    language = _BY_ALIAS.get(name)
    return language.name if language else name


def extension(name: str) -> str:
    """The snippet file extension for a fence language (``txt`` for unknown ones)."""
    language = lookup(name)
    return language.extension if language else "txt"


def label(name: str) -> str:
    """The label a page shows for a fence language (the name itself for unknown ones)."""
    language = lookup(name)
    return language.label if language else name


def is_transcript(name: str) -> bool:
    """Whether blocks of this fence language are transcripts or prose (an untagged block is)."""
    language = lookup(name)
    return language.transcript if language else not name.strip()
