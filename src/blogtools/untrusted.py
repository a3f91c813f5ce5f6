"""Text that untrusted code produced (a block's output, an error naming its names), made safe to
store, print on a terminal and render.

Every channel out of the sandbox is attacker-controlled: the text is decoded as UTF-8 with
replacement (a lone surrogate becomes U+FFFD), ANSI escape sequences and control characters are
removed (newlines and tabs stay in multi-line text; bidirectional overrides go too, so a line
cannot read differently from what it holds), and it is capped, ending in "… truncated". Rendering
is the caller's part: only through ``mdwrite.fence`` or an escaping helper, never as Markdown.
"""

from __future__ import annotations

import re
import unicodedata

OUTPUT_CHARS = 4_000  # a block's output on the page and in results.json
LINE_CHARS = 300  # a reason, a need, a line of the CLI's
TRUNCATED = "… truncated"

# CSI (ESC [ or the 8-bit CSI), OSC/DCS/SOS/PM/APC strings (ended by BEL or ST, or unterminated),
# then any other two-character escape.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _decoded(data: str | bytes) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return _SURROGATE.sub("\ufffd", data)


def _kept(char: str, keep: str) -> bool:
    return char in keep or (unicodedata.category(char) != "Cc" and char not in _BIDI)


def text(data: str | bytes, limit: int = OUTPUT_CHARS) -> str:
    """Multi-line untrusted text, safe: decoded, escapes and control characters (but newline and
    tab) removed, CRLF as LF, at most ``limit`` characters before a final "… truncated" line."""
    cleaned = _ESCAPES.sub("", _decoded(data).replace("\r\n", "\n"))
    cleaned = "".join(char for char in cleaned if _kept(char, "\n\t"))
    if len(cleaned) > limit:
        cleaned = cleaned[:limit].rstrip("\n") + "\n" + TRUNCATED
    return cleaned


def line(data: str | bytes, limit: int = LINE_CHARS) -> str:
    """One line of untrusted text, safe: as ``text`` with every run of whitespace one space, at most
    ``limit`` characters, then "… truncated"."""
    cleaned = " ".join(_ESCAPES.sub("", _decoded(data)).split())
    cleaned = "".join(char for char in cleaned if _kept(char, ""))
    return cleaned if len(cleaned) <= limit else f"{cleaned[:limit].rstrip()} {TRUNCATED}"
