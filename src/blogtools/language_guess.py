"""The language of a feed's code block when its markup names none: guessed from the code.

Names come from the registry (``blogtools.languages``); reading them from markup is
``blogtools.htmlmd``'s. Feeds often lose the language (Pygments output carries none), so
``guess_language`` looks for a few strong signals per language. It is deliberately small: a wrong guess only changes the
highlighting, and ``text`` is the honest answer when nothing stands out.
"""

from __future__ import annotations

import json
import re

from blogtools import languages

# A command line: VAR=value prefixes, a lowercase command word or a path, then arguments that are
# flags, bare words, paths, quoted strings, variables or shell operators. Nothing else (no
# capitalised prose, no sentence punctuation, no brackets of a program).
_ARGUMENT = r"""(?:-{1,2}[\w-]+(?:=\S*)?|[\w./:@%+=~^-]+|'[^']*'|"[^"]*"|\$\{?\w+\}?|\||&&|\|\||;|[<>]{1,2}|2>&1)"""
_COMMAND_LINE = re.compile(rf"^(?:\w+=\S*\s+)*(?:[.~]?/[\w./-]+|[a-z][\w.+-]*)(?:\s+{_ARGUMENT})*\s*$")
_SHELL_SIGNAL = re.compile(r"""\s-{1,2}[A-Za-z]|\s(?:\||&&|\|\||[<>]{1,2})\s|\$\{?\w|\s['"]|\s\S*/""")
_PROMPT_LINE = re.compile(r"^(?:\$|%|>) \S")
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
_RUST_NAME, _PYTHON_NAME, _JS_NAME, _TS_NAME, _SQL_NAME, _SHELL_NAME, _CONSOLE_NAME, _JSON_NAME, _TEXT_NAME = (
    languages.named(name).name
    for name in ("rust", "python", "javascript", "typescript", "sql", "shell", "console", "json", "text")
)


def guess_language(code: str) -> str:
    """Best guess at the fence language of ``code``: typescript, javascript, python, rust, sql,
    shell, console, json or text."""
    stripped = code.strip()
    if not stripped:
        return _TEXT_NAME
    lines = [line for line in stripped.splitlines() if line.strip()]
    if stripped[0] in "{[":
        try:
            json.loads(stripped)
            return _JSON_NAME
        except ValueError:
            pass
    if stripped.startswith("#!") and re.match(r"#!\S*(?:ba|z)?sh\b", stripped):
        return _SHELL_NAME
    if _PROMPT_LINE.match(lines[0]):
        return _CONSOLE_NAME
    if _LABEL_LINE.match(lines[0]):  # "Prompt: ...", "Step 1: ...": a transcript, not code
        return _TEXT_NAME
    scores = {_RUST_NAME: 2 * len(_RUST.findall(code)), _PYTHON_NAME: len(_PYTHON.findall(code)),
              _JS_NAME: len(_JS.findall(code)), _SQL_NAME: 2 * len(_SQL.findall(code))}
    language, score = max(scores.items(), key=lambda item: item[1])
    if score:
        return _TS_NAME if language == _JS_NAME and _TS.search(code) else language
    if _is_shell(stripped.replace("\\\n", " ").splitlines()):
        return _SHELL_NAME
    return _TEXT_NAME


def _is_shell(lines: list[str]) -> bool:
    """Whether every line (continuations joined) is a command or a ``#`` comment, and the commands look like a shell's:
    some flag, operator, variable, quoted or path argument, or else each command has arguments."""
    commands = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not commands or not all(_COMMAND_LINE.match(line) for line in commands):
        return False
    return any(_SHELL_SIGNAL.search(line) for line in commands) or all(" " in line for line in commands)
