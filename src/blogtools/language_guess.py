"""The language of a feed's code block when its markup names none: a cascade that checks its guess.

Names come from the registry (``blogtools.languages``); reading them from markup is
``blogtools.htmlmd``'s. Feeds often lose the language (Pygments output carries none), so
``identify`` guesses, precision first: a wrong name sends later stages to the wrong toolchain,
``text`` ("unlabelled code") only costs the highlighting. The cascade:

1. rules decide what they know for certain (JSON, shebangs, ``$``/``>>>`` sessions, transcripts,
   compiler diagnostics, bare command lines);
2. candidates come from the languages the same feed names elsewhere, from the rules' strong
   signals and from Google's Magika (the ``guess`` extra: an ONNX model run locally; one signal,
   not the judge: it reads only the start and end and falls back to text);
3. each candidate is checked by a real parser (Python's ``ast``, the tree-sitter grammars of
   ``tree-sitter-language-pack`` for the rest, JavaScript and TypeScript included): the one with
   the most support that parses without an error node wins; when none does, the block is
   unlabelled. A language no parser here reads is taken only on Magika's confident word.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import json
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from blogtools import languages

# A command line: VAR=value prefixes, a lowercase command word or a path, then arguments that are
# flags, bare words, paths, quoted strings, variables or shell operators. Nothing else (no
# capitalised prose, no sentence punctuation, no brackets of a program).
_ARGUMENT = r"""(?:-{1,2}[\w-]+(?:=\S*)?|[\w./:@%+=~^-]+|'[^']*'|"[^"]*"|\$\{?\w+\}?|\||&&|\|\||;|[<>]{1,2}|2>&1)"""
_COMMAND_LINE = re.compile(rf"^(?:\w+=\S*\s+)*(?:[.~]?/[\w./-]+|[a-z][\w.+-]*)(?:\s+{_ARGUMENT})*\s*$")
_SHELL_SIGNAL = re.compile(r"""\s-{1,2}[A-Za-z]|\s(?:\||&&|\|\||[<>]{1,2})\s|\$\{?\w|^\w+=\S|\s\S*/|^\S+(?:\s+[\w.:@%+=~^-]+)+\s+['"]""")
_PROMPT_LINE = re.compile(r"^[$%] \S")
_LABEL_LINE = re.compile(r"^[A-Z][A-Za-z0-9 ]{0,30}: [A-Za-z][^=(){};]*$")
_SQL = re.compile(
    r"^\s*(?:SELECT\b.*\bFROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|INDEX|FUNCTION|VIEW|EXTENSION)\b|ALTER\s+TABLE\b|WITH\s+\w+\s+AS\s*\()",
    re.I | re.M | re.S,
)
_RUST = re.compile(
    r"^\s*(?:pub(?:\(crate\))?\s+)?(?:fn|struct|enum|trait|impl|mod)\b|\blet\s+mut\b|#\[derive|"
    r"\buse\s+(?:std|crate|super)::|&mut\s|\bimpl<|->\s*(?:Self|Result<|Option<|Box<|&)|"
    r"\b(?:println|vec|format|write|assert_eq|panic)!\(|\bfn\s+\w+|\w::<?\w|&(?:mut\s+)?self\b|"
    r"\.unwrap\(\)|\)\?[;.]|\blet\s+\w+\s*:\s*[A-Z&\[(]?\w",
    re.M,
)
_PYTHON = re.compile(
    r"^\s*(?:async\s+)?def\s+\w+\(.*\)\s*(?:->.*)?:\s*$|^\s*class\s+\w+(?:\(.*\))?:\s*$|"
    r"^\s*from\s+[\w.]+\s+import\s|^\s*import\s+[\w.]+(?:\s+as\s+\w+)?\s*$|^\s*elif\b|"
    r"\bself\.\w|^\s*@\w+(?:\.\w+)*(?:\(.*\))?\s*$|^\s*(?:with|for|while|if)\s+.*:\s*$|"
    r"\bprint\(|^>>> |\bfor\s+\w+(?:,\s*\w+)*\s+in\s+(?!.*\{\s*$)",
    re.M,
)
_JS = re.compile(
    r"\b(?:const|let|var)\s+[\w{[]|\bfunction\b|=>|\bawait\b|===|!==|\bconsole\.log\b|"
    r"\brequire\(|^\s*import\s.*\bfrom\s+['\"]|^\s*export\s",
    re.M,
)
# Markup: a block that opens with a tag (or a doctype, or an XML declaration) and closes with one.
_MARKUP_BLOCK = re.compile(r"^<(?:[!?]?[A-Za-z][\w:-]*)[^>]*>.*</?[A-Za-z][\w:-]*\s*/?>$", re.S)
_TS = re.compile(
    r"^\s*(?:export\s+)?(?:interface|type)\s+\w+|\w\s*:\s*(?:string|number|boolean|void|unknown|"
    r"any|Promise<|Record<|Array<)\b|\bas\s+const\b|<\w+(?:\[\])?>\(",
    re.M,
)


# The guesses, as registry names (a name the registry lacks fails at import).
(_RUST_NAME, _PYTHON_NAME, _JS_NAME, _TS_NAME, _SQL_NAME, _SHELL_NAME, _CONSOLE_NAME, _PYCON_NAME, _JSON_NAME,
 _TEXT_NAME, _HTML_NAME, _XML_NAME) = (
    languages.named(name).name
    for name in ("rust", "python", "javascript", "typescript", "sql", "shell", "console", "pycon", "json", "text",
                 "html", "xml")
)
# The languages the rules have strong signals for: Magika names one of these only with them
# (alone it reads pseudo-code and IR as Python or SQL with high scores).
_SIGNALLED = (_RUST_NAME, _PYTHON_NAME, _JS_NAME, _TS_NAME, _SQL_NAME)

# Languages whose parse proves nothing (their grammars read prose), or that are no language.
_UNCHECKABLE = {_TEXT_NAME, _SHELL_NAME, _CONSOLE_NAME, _PYCON_NAME, "markdown", "output"}
# A language whose code is also valid code of a larger one (the smaller is the better name).
_SUBSET_OF = {"scss": "css", "cpp": "c", "tsx": "jsx"}
# Grammars that accept prose: a clean parse must also hold one of these nodes.
_STRUCTURE = {"html": frozenset({"element", "script_element", "style_element"}),
              "xml": frozenset({"element"}),
              "yaml": frozenset({"block_mapping_pair", "block_sequence_item", "flow_mapping"})}
# Parts left out on purpose: a body "{ ... }", or a line that is only "...".
_ELISION = re.compile(r"\{\s*(?:\.\.\.|…)\s*\}|^[ \t]*(?:\.\.\.|…)[ \t]*,?[ \t]*$", re.M)
# Where one fragment ends and another starts: a blank line, then a line at the margin.
_SECTION = re.compile(r"\n[ \t]*\n(?=\S)")
# What a method or a field shown alone sits in, per language.
_MEMBERS = {"javascript": "class _", "typescript": "class _", "java": "class _", "csharp": "class _",
            "kotlin": "class _", "swift": "class _", "rust": "impl _", "php": "<?php class _"}
# A compiler's or tool's message: output, not code.
_DIAGNOSTIC = re.compile(r"^(?:(?:error|warning|note)(?:\[\w+\])?: |[\w./-]+:\d+:\d+: (?:error|warning|note): )", re.I)

# Magika's score below which its answer is not taken: tuned on the evaluation in
# benchmarks/guess_eval.py (real blocks whose markup named a language), see the README.
THRESHOLD = 0.8
# Magika's score from which its answer alone is a candidate the parsers check (same evaluation).
MODEL_ALONE = 0.6


def has_type_syntax(code: str) -> bool:
    """Whether JavaScript-like ``code`` carries TypeScript's own syntax (interfaces, annotations)."""
    return bool(_TS.search(code))


def guesser(use_model: bool = True) -> str:
    """What ``identify`` uses here: Magika's version, the parsers' and the rules."""
    parts = []
    if use_model and importlib.util.find_spec("magika") is not None:
        parts.append(f"magika {importlib.metadata.version('magika')}")
    if importlib.util.find_spec("tree_sitter_language_pack") is not None:
        parts.append(f"tree-sitter-language-pack {importlib.metadata.version('tree-sitter-language-pack')}")
    return " + ".join([*parts, "ast", "rules"])


@dataclass(frozen=True)
class Guess:
    """A block's language (a registry name; ``text`` when unlabelled), whether a real parser read
    the block as that language without an error (None: no parser for it here), and where the
    name came from: ``markup``, ``rules``, ``feed``, ``model`` or ``none``."""

    language: str
    parses: bool | None
    source: str


def guess_language(code: str, *, feed: Sequence[str] = (), use_model: bool = True,
                   threshold: float = THRESHOLD) -> str:
    """Best guess at the fence language of ``code`` (a registry name), ``text`` when unsure:
    ``identify(...).language``."""
    return identify(code, feed=feed, use_model=use_model, threshold=threshold).language


def identify(code: str, *, feed: Sequence[str] = (), use_model: bool = True,
             threshold: float = THRESHOLD) -> Guess:
    """The cascade's answer for ``code`` whose markup names no language.

    ``feed``: the languages the same feed's markup names elsewhere, most used first. Rules first,
    for what they know for certain. Then each candidate (a feed language, the rules' signals,
    Magika's label where it is installed and ``use_model``) is parsed: among those that parse
    cleanly and have support enough (``_supported``), the one most sources name wins (ties:
    feed, then the rules, then Magika). A
    candidate no parser here reads is taken only when Magika names it and the rules agree, or
    Magika is at least ``threshold`` sure, the rules find no signals and it is not a language
    they have signals for."""
    stripped = code.strip()
    if not stripped:
        return Guess(_TEXT_NAME, None, "none")
    if (certain := _certain(stripped)) is not None:
        return Guess(certain, parses(code, certain) if certain != _TEXT_NAME else None, "rules")
    signals = _scored(code)
    model, score, ran = None, 0.0, use_model and _magika() is not None
    if ran:
        label, score = _predict(code)
        model = languages.lookup(label)
    votes: dict[str, list[str]] = {}
    for name, source in [*((f, "feed") for f in feed), (signals, "rules"),
                         (model.name if model else _TEXT_NAME, "model")]:
        for candidate in _siblings(name, code):
            votes.setdefault(candidate, []).append(source)
    # A language the rules or Magika name (and that parses, or is a command line) rivals the feed's.
    rival = signals in (_SHELL_NAME, _CONSOLE_NAME) or any(
        parses(code, name) for name, sources in votes.items() if "feed" not in sources)
    clean = [name for name, sources in votes.items() if parses(code, name) and _supported(
        set(sources), name, score, rival)]
    if clean:
        best = max(clean, key=lambda name: len(set(votes[name])))
        return Guess(best, True, votes[best][0])
    if model is not None and model.name != _TEXT_NAME and parses(code, model.name) is None and (
            model.name == signals or (score >= threshold and signals == _TEXT_NAME and model.name not in _SIGNALLED)):
        return Guess(model.name, None, "model")
    if not ran and signals != _TEXT_NAME and parses(code, signals) is None:
        return Guess(signals, None, "rules")  # no model, no parser: the rules' strong signals alone
    return Guess(_TEXT_NAME, None, "none")


def _supported(sources: set[str], name: str, score: float, rival: bool) -> bool:
    """Whether a candidate that parses has support enough: Magika alone when at least
    ``MODEL_ALONE`` sure of a language the rules have no signals for; the feed alone when nothing
    else names a language that parses (short code parses as many languages)."""
    if sources == {"model"}:
        return score >= MODEL_ALONE and name not in _SIGNALLED
    return sources != {"feed"} or not rival


def _siblings(name: str, code: str) -> list[str]:
    """The candidates a name stands for: JavaScript and TypeScript both (the one whose own syntax
    the code shows first), the smaller language first where one contains another (CSS in SCSS);
    none for text and for languages whose parser accepts prose."""
    known = languages.lookup(name)
    if known is None or known.name in _UNCHECKABLE:
        return []
    if known.name in (_JS_NAME, _TS_NAME):
        return [_TS_NAME, _JS_NAME] if has_type_syntax(code) else [_JS_NAME, _TS_NAME]
    return [_SUBSET_OF.get(known.name), known.name] if known.name in _SUBSET_OF else [known.name]


def parses(code: str, language: str) -> bool | None:
    """Whether ``code`` (dedented) parses as ``language`` (a registry name or alias) without an
    error: Python's ``ast`` for Python, its tree-sitter grammar for others (an error or missing
    node fails; HTML, XML and YAML must also hold one element or mapping, as their grammars
    accept prose). Code that fails is read again with its elisions (``{ ... }``, a line of
    ``...``) taken out, and, where the language has classes or impls, as the members of one (a
    method shown alone); code of several fragments (apart at a blank line and the margin)
    parses when each of them does. None when no parser for it is at hand (no grammar, or the ``guess`` extra is
    not installed)."""
    known = languages.lookup(language)
    if known is None or known.grammar is None:
        return None
    code = textwrap.dedent(code)
    answer = _reads(code, known)
    sections = _SECTION.split(code)
    if answer is False and len(sections) > 1:  # fragments side by side: each must parse
        return all(_reads(section, known) for section in sections)
    return answer


def _reads(code: str, known: languages.Language) -> bool | None:
    """Whether ``code`` parses as ``known`` as it is, without its elisions, or as class members."""
    readings = [code]
    if _ELISION.search(code):  # "{ ... }" and "..." lines stand for code left out
        readings.append(_ELISION.sub(lambda m: "{}" if m.group(0).startswith("{") else "", code))
    if known.name in _MEMBERS:  # a method or field shown alone, as in a class or impl
        readings += [f"{_MEMBERS[known.name]} {{\n{reading}\n}}\n" for reading in list(readings)]
    answers = [_parses(reading, known.grammar) for reading in readings]
    return None if answers[0] is None else any(answers)


def parse_note(code: str, language: str) -> str:
    """What the parser says of ``code`` as ``language``, for a verdict's reason:
    ``"; it parses as Rust"``, ``"; it does not parse as Rust"``, or "" where no parser reads it."""
    answer = parses(code, language)
    if answer is None:
        return ""
    return f"; it {'parses' if answer else 'does not parse'} as {languages.label(language)}"


@functools.lru_cache(maxsize=8192)
def _parses(code: str, grammar: str) -> bool | None:
    if grammar == "python":
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            return False
        return True
    parser = _parser(grammar)
    if parser is None:
        return None
    root = parser.parse(code.encode()).root_node
    if root.has_error:
        return False
    needed = _STRUCTURE.get(grammar)
    return needed is None or _holds(root, needed)


def _holds(node, types: frozenset[str]) -> bool:
    """Whether the syntax tree under ``node`` has a node of one of ``types``."""
    stack = [node]
    while stack:
        node = stack.pop()
        if node.type in types:
            return True
        stack.extend(node.children)
    return False


@functools.cache
def _parser(grammar: str):
    """The tree-sitter parser of ``grammar``, or None (no such grammar, or the extra is missing)."""
    try:
        from tree_sitter_language_pack import get_parser
    except ImportError:
        return None
    try:
        return get_parser(grammar)
    except Exception:  # noqa: BLE001 - any failure to load a grammar means: no parser here
        return None


def _certain(stripped: str) -> str | None:
    """The language the rules are sure of for ``stripped`` code, or None."""
    lines = [line for line in stripped.splitlines() if line.strip()]
    if stripped[0] in "{[":
        try:
            json.loads(stripped)
            return _JSON_NAME
        except ValueError:
            pass
    if stripped.startswith("#!") and re.match(r"#!\S*(?:ba|z)?sh\b", stripped):
        return _SHELL_NAME
    if lines[0].startswith(">>> "):
        return _PYCON_NAME
    if _PROMPT_LINE.match(lines[0]):
        return _CONSOLE_NAME
    if _LABEL_LINE.match(lines[0]) or _DIAGNOSTIC.match(lines[0]):  # a transcript or a tool's output
        return _TEXT_NAME
    commands = _command_lines(stripped)
    if any(_SHELL_SIGNAL.search(line) for line in commands):  # a shell's flags, operators, variables or paths
        return _SHELL_NAME
    if len(commands) > 1 and all(" " in line for line in commands) and not parses(stripped, _PYTHON_NAME):
        return _SHELL_NAME  # several commands with arguments ("total = 0" lines are Python's)
    return None


def _scored(code: str) -> str:
    """The language with the most strong signals in ``code`` (the guess without Magika), or text:
    markup from its first and last tags, else by counting signals."""
    stripped = code.strip()
    if _MARKUP_BLOCK.match(stripped):
        return _XML_NAME if stripped.startswith("<?xml") else _HTML_NAME
    scores = {_RUST_NAME: 2 * len(_RUST.findall(code)), _PYTHON_NAME: len(_PYTHON.findall(code)),
              _JS_NAME: len(_JS.findall(code)), _SQL_NAME: 2 * len(_SQL.findall(code))}
    language, score = max(scores.items(), key=lambda item: item[1])
    if not score:
        commands = _command_lines(code.strip())
        return _SHELL_NAME if commands and all(" " in line for line in commands) else _TEXT_NAME
    return _TS_NAME if language == _JS_NAME and has_type_syntax(code) else language


@functools.cache
def _magika():
    """The Magika classifier (its model loaded once), or None where the ``guess`` extra is not installed."""
    try:
        from magika import Magika
    except ImportError:
        return None
    return Magika()


@functools.lru_cache(maxsize=4096)
def _predict(code: str) -> tuple[str, float]:
    """Magika's label for ``code`` and its score (about 5-10 ms a block; a block met again, as in a
    feed's RSS and Atom variants or an unchanged entry, is not classified twice)."""
    prediction = _magika().identify_bytes(code.encode()).prediction
    return prediction.dl.label, prediction.score


def _command_lines(stripped: str) -> list[str]:
    """The commands of ``stripped`` code (continuations joined) when every line that is not a ``#``
    comment reads as a command line, else an empty list."""
    lines = [line.strip() for line in stripped.replace("\\\n", " ").splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    return commands if all(_COMMAND_LINE.match(line) for line in commands) else []
