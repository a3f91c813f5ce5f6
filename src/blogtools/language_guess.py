"""The language of a feed's code block when its markup names none: guessed from the code.

Names come from the registry (``blogtools.languages``); reading them from markup is
``blogtools.htmlmd``'s. Feeds often lose the language (Pygments
output carries none), so ``guess_language`` guesses, precision first: a wrong name misleads readers
and sends later stages the wrong way, ``text`` only costs the highlighting. Rules decide what a
content-type model misses (JSON, shebangs, ``$``/``>>>`` sessions, transcripts, bare command
lines); Google's Magika (the ``guess`` extra: an ONNX model, run locally) names the rest when it is
confident enough, through the registry; without Magika a few strong signals per language stand in.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import re

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
_TS = re.compile(
    r"^\s*(?:export\s+)?(?:interface|type)\s+\w+|\w\s*:\s*(?:string|number|boolean|void|unknown|"
    r"any|Promise<|Record<|Array<)\b|\bas\s+const\b|<\w+(?:\[\])?>\(",
    re.M,
)


# The guesses, as registry names (a name the registry lacks fails at import).
_RUST_NAME, _PYTHON_NAME, _JS_NAME, _TS_NAME, _SQL_NAME, _SHELL_NAME, _CONSOLE_NAME, _PYCON_NAME, _JSON_NAME, _TEXT_NAME = (
    languages.named(name).name
    for name in ("rust", "python", "javascript", "typescript", "sql", "shell", "console", "pycon", "json", "text")
)
# The languages the rules have strong signals for: Magika names one of these only with them
# (alone it reads pseudo-code and IR as Python or SQL with high scores).
_SIGNALLED = (_RUST_NAME, _PYTHON_NAME, _JS_NAME, _TS_NAME, _SQL_NAME)

# Magika's score below which its answer is not taken: tuned on the evaluation in
# benchmarks/guess_eval.py (real blocks whose markup named a language), see the README.
THRESHOLD = 0.8


def has_type_syntax(code: str) -> bool:
    """Whether JavaScript-like ``code`` carries TypeScript's own syntax (interfaces, annotations)."""
    return bool(_TS.search(code))


def guesser(use_model: bool = True) -> str:
    """What ``guess_language`` uses here: Magika's version and model and the rules, or the rules."""
    if not use_model or importlib.util.find_spec("magika") is None:
        return "rules"
    return f"magika {importlib.metadata.version('magika')} + rules"


def guess_language(code: str, *, use_model: bool = True, threshold: float = THRESHOLD) -> str:
    """Best guess at the fence language of ``code`` (a registry name), ``text`` when unsure.

    Rules first, for what they know for certain. Then, where Magika is installed (``use_model``),
    the language it names if the registry knows it and either the rules' strong signals point the
    same way, or Magika is at least ``threshold`` sure, the rules find no signals and the language
    is not one they have signals for; without Magika, those signals alone."""
    stripped = code.strip()
    if not stripped:
        return _TEXT_NAME
    if (certain := _certain(stripped)) is not None:
        return certain
    signals = _scored(code)
    model = _magika() if use_model else None
    if model is None:
        return signals
    label, score = _predict(code)
    named = languages.lookup(label)
    if named is None or named.name == _TEXT_NAME:
        return _TEXT_NAME
    if named.name in (_JS_NAME, _TS_NAME):
        named = languages.named(_TS_NAME if has_type_syntax(code) else _JS_NAME)
    if named.name == signals or (score >= threshold and signals == _TEXT_NAME and named.name not in _SIGNALLED):
        return named.name
    return _TEXT_NAME  # unsure, or the rules' signals name another language


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
    if _LABEL_LINE.match(lines[0]):  # "Prompt: ...", "Step 1: ...": a transcript, not code
        return _TEXT_NAME
    commands = _command_lines(stripped)
    if any(_SHELL_SIGNAL.search(line) for line in commands) or (
        len(commands) > 1 and all(" " in line for line in commands)
    ):  # a shell's flags, operators, variables or paths, or several commands with arguments
        return _SHELL_NAME
    return None


def _scored(code: str) -> str:
    """The language with the most strong signals in ``code`` (the guess without Magika), or text."""
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
