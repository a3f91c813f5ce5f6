"""The languages blogtools knows: one record per language, found by its name or any alias.

Every stage asks this table: ingest for the fence name of a ``class="language-x"`` value, extract
for a snippet's file extension and whether a block is a transcript, the language guess for the
parser that checks a candidate, render for the label of the
"As published" tab, check for whether a block is Python. A name that is not in the table is still
a usable fence name when it is a plain token; it then gets ``.txt`` and its own name as label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One language: the fence name blogtools writes, the aliases that mean it, the snippet file
    extension (no dot), the label shown on the page, whether its blocks are transcripts (a
    console session or output, read as text rather than as a program), and the parser that
    checks a block of it (``python``: Python's ``ast``; any other: the tree-sitter grammar of
    that name in ``tree-sitter-language-pack``; None: nothing parses it)."""

    name: str
    label: str
    extension: str
    aliases: tuple[str, ...] = ()
    transcript: bool = False
    grammar: str | None = None


LANGUAGES: tuple[Language, ...] = (
    Language("python", "Python", "py", ("py", "python3", "py3", "python2", "ipython", "ipython3"), grammar="python"),
    Language("pycon", "Python console", "txt", transcript=True),
    Language("javascript", "JavaScript", "js", ("js", "node", "mjs", "cjs", "ecmascript"), grammar="javascript"),
    Language("jsx", "JSX", "jsx", grammar="javascript"),
    Language("typescript", "TypeScript", "ts", ("ts",), grammar="typescript"),
    Language("tsx", "TSX", "tsx", grammar="tsx"),
    Language("rust", "Rust", "rs", ("rs",), grammar="rust"),
    Language("shell", "Shell", "sh", ("sh", "bash", "zsh", "ksh", "shellscript"), transcript=True, grammar="bash"),
    Language("console", "Console", "txt", ("shell-session", "sh-session", "terminal"), transcript=True),
    Language("text", "Text", "txt", ("plaintext", "plain", "txt", "none", "nohighlight"), transcript=True),
    Language("output", "Output", "txt", transcript=True),
    Language("sql", "SQL", "sql", grammar="sql"),
    Language("json", "JSON", "json", grammar="json"),
    Language("toml", "TOML", "toml", grammar="toml"),
    Language("yaml", "YAML", "yaml", ("yml",), grammar="yaml"),
    Language("xml", "XML", "xml", grammar="xml"),
    Language("html", "HTML", "html", ("htm", "xhtml"), grammar="html"),
    Language("css", "CSS", "css", grammar="css"),
    Language("c", "C", "c", ("h",), grammar="c"),
    Language("cpp", "C++", "cpp", ("c++", "cc", "cxx", "hpp"), grammar="cpp"),
    Language("csharp", "C#", "cs", ("c#", "cs"), grammar="csharp"),
    Language("objc", "Objective-C", "m", ("objective-c", "objectivec", "obj-c"), grammar="objc"),
    Language("go", "Go", "go", ("golang",), grammar="go"),
    Language("java", "Java", "java", grammar="java"),
    Language("ruby", "Ruby", "rb", ("rb",), grammar="ruby"),
    Language("php", "PHP", "php", grammar="php"),
    Language("diff", "Diff", "diff", ("patch",)),
    Language("markdown", "Markdown", "md", ("md",)),
    Language("jinja", "Jinja", "jinja"),
    Language("asm", "Assembly", "asm", ("nasm", "x86asm"), grammar="asm"),
    Language("haskell", "Haskell", "hs", ("hs",), grammar="haskell"),
    Language("kotlin", "Kotlin", "kt", grammar="kotlin"),
    Language("swift", "Swift", "swift", grammar="swift"),
    Language("lua", "Lua", "lua", grammar="lua"),
    Language("r", "R", "r", grammar="r"),
    Language("scala", "Scala", "scala", grammar="scala"),
    Language("perl", "Perl", "pl", grammar="perl"),
    Language("emacs-lisp", "Emacs Lisp", "el", ("elisp",), grammar="elisp"),
    Language("clojure", "Clojure", "clj", ("clj",), grammar="clojure"),
    Language("erlang", "Erlang", "erl", grammar="erlang"),
    Language("ocaml", "OCaml", "ml", grammar="ocaml"),
    Language("dart", "Dart", "dart", grammar="dart"),
    Language("powershell", "PowerShell", "ps1", ("ps1", "pwsh"), grammar="powershell"),
    Language("dockerfile", "Dockerfile", "dockerfile", ("docker",), grammar="dockerfile"),
    Language("makefile", "Makefile", "mk", ("make",), grammar="make"),
    Language("ini", "INI", "ini", ("cfg", "dosini"), grammar="ini"),
    Language("graphql", "GraphQL", "graphql", ("gql",), grammar="graphql"),
    Language("scss", "SCSS", "scss", grammar="scss"),
    Language("latex", "LaTeX", "tex", ("tex",), grammar="latex"),
    Language("coffeescript", "CoffeeScript", "coffee", ("coffee",)),
    Language("groovy", "Groovy", "groovy", grammar="groovy"),
    Language("julia", "Julia", "jl", grammar="julia"),
    Language("matlab", "MATLAB", "m", grammar="matlab"),
    Language("elixir", "Elixir", "ex", grammar="elixir"),
    Language("prolog", "Prolog", "pro"),
    Language("pascal", "Pascal", "pas", ("delphi",), grammar="pascal"),
    Language("tcl", "Tcl", "tcl", grammar="tcl"),
    Language("awk", "Awk", "awk"),
    Language("solidity", "Solidity", "sol", grammar="solidity"),
    Language("vue", "Vue", "vue", grammar="vue"),
    Language("lisp", "Lisp", "lisp", ("common-lisp",), grammar="commonlisp"),
    Language("zig", "Zig", "zig", grammar="zig"),
    Language("fortran", "Fortran", "f90", grammar="fortran"),
    Language("verilog", "Verilog", "v", grammar="verilog"),
    Language("vhdl", "VHDL", "vhd", grammar="vhdl"),
    Language("batch", "Batch", "bat", ("bat", "cmd")),
    Language("cmake", "CMake", "cmake", grammar="cmake"),
    Language("protobuf", "Protocol Buffers", "proto", ("proto",), grammar="proto"),
    Language("hcl", "HCL", "hcl", ("terraform",), grammar="hcl"),
    Language("rst", "reStructuredText", "rst", ("restructuredtext",), grammar="rst"),
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
