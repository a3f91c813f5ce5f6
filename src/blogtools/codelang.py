"""The language of a code block: from its markup when the feed names one, else guessed from the code.

Feeds often lose the language (Pygments output carries none), so ``guess_language`` looks for a
few strong signals per language. It is deliberately small: a wrong guess only changes the
highlighting, and ``text`` is the honest answer when nothing stands out.
"""

from __future__ import annotations

import json
import re

# Names as they appear in class="language-x", lang="x" or data-lang="x", mapped to the fence name.
ALIASES = {
    "py": "python", "python3": "python", "py3": "python", "pycon": "pycon",
    "js": "javascript", "node": "javascript", "mjs": "javascript", "jsx": "jsx",
    "ts": "typescript", "tsx": "tsx",
    "rs": "rust",
    "sh": "shell", "bash": "shell", "zsh": "shell", "shell": "shell", "shellscript": "shell",
    "console": "console", "shell-session": "console", "sh-session": "console",
    "terminal": "console",
    "plaintext": "text", "plain": "text", "txt": "text", "none": "text", "nohighlight": "text",
    "yml": "yaml", "c++": "cpp", "golang": "go", "md": "markdown",
}
# Class tokens that name a language without a prefix (Nikola's "code python", Sphinx's
# "highlight-python" is handled by the prefixes below).
KNOWN = {
    "python", "pycon", "javascript", "typescript", "jsx", "tsx", "rust", "shell", "console",
    "sql", "json", "toml", "yaml", "xml", "html", "css", "c", "cpp", "go", "java", "ruby",
    "php", "diff", "text", "markdown", "jinja", "asm", "haskell", "kotlin", "swift", "lua",
} | set(ALIASES)
_PREFIXES = ("language-", "lang-", "highlight-source-", "highlight-", "sourcecode-")
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9+#._-]{0,30}$")


def normalise(name: str) -> str | None:
    """Fence name for a language name from markup, or None when it is not a usable name."""
    name = name.strip().lower()
    if not _SAFE_NAME.match(name):
        return None
    return ALIASES.get(name, name)


def language_from_markup(classes: list[str], lang_attrs: list[str]) -> str | None:
    """The language named by ``lang``/``data-lang`` values or class tokens, or None."""
    for value in lang_attrs:
        if found := normalise(value):
            return found
    for token in classes:
        low = token.lower()
        for prefix in _PREFIXES:
            if low.startswith(prefix) and (found := normalise(low[len(prefix):])):
                return found
    for token in classes:
        if token.lower() in KNOWN:
            return normalise(token)
    return None


_SHELL_COMMANDS = (
    "npx", "npm", "pnpm", "yarn", "pip", "pipx", "uv", "uvx", "cargo", "rustup", "git", "curl",
    "wget", "brew", "apt", "apt-get", "sudo", "docker", "make", "cd", "export", "python",
    "python3", "node", "go", "ls", "mkdir", "rm", "cp", "mv", "cat", "echo", "pi", "claude",
)
_SHELL_LINE = re.compile(r"^(?:%s)(?:\s|$)" % "|".join(map(re.escape, _SHELL_COMMANDS)))
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


def guess_language(code: str) -> str:
    """Best guess at the fence language of ``code``: typescript, javascript, python, rust, sql,
    shell, console, json or text."""
    stripped = code.strip()
    if not stripped:
        return "text"
    lines = [line for line in stripped.splitlines() if line.strip()]
    if stripped[0] in "{[":
        try:
            json.loads(stripped)
            return "json"
        except ValueError:
            pass
    if stripped.startswith("#!") and re.match(r"#!\S*(?:ba|z)?sh\b", stripped):
        return "shell"
    if _PROMPT_LINE.match(lines[0]):
        return "console"
    if _LABEL_LINE.match(lines[0]):  # "Prompt: ...", "Step 1: ...": a transcript, not code
        return "text"
    scores = {
        "rust": 2 * len(_RUST.findall(code)),
        "python": len(_PYTHON.findall(code)),
        "javascript": len(_JS.findall(code)),
        "sql": 2 * len(_SQL.findall(code)),
    }
    language, score = max(scores.items(), key=lambda item: item[1])
    if score:
        if language == "javascript" and _TS.search(code):
            return "typescript"
        return language
    if all(_SHELL_LINE.match(line.strip()) or line.strip().startswith("#") for line in lines):
        return "shell"
    return "text"
