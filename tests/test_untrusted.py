"""Text from untrusted code (a block's output in the sandbox) made safe to store, print and render."""

from __future__ import annotations

import pytest

from blogtools import untrusted


@pytest.mark.parametrize("raw, clean", [
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b]0;title\x07after", "after"),
    ("\x1b]8;;javascript:alert(1)\x1b\\link\x1b]8;;\x1b\\", "link"),
    ("c1 \x9b31mcsi", "c1 csi"),
    ("nul\x00 bell\x07 bs\x08 del\x7f", "nul bell bs del"),
    ("\u202eevil\u202c \u2066isolate\u2069", "evil isolate"),
    ("crlf\r\nline\rover", "crlf\nlineover"),
    ("tab\tkept\nnewline kept", "tab\tkept\nnewline kept"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    (b"bad \xff\xfe utf-8", "bad \ufffd\ufffd utf-8"),
    ("unterminated \x1b]0;title", "unterminated "),
])
def test_untrusted_text_loses_escapes_and_control_characters(raw, clean):
    assert untrusted.text(raw) == clean


def test_untrusted_text_is_capped_with_a_mark():
    out = untrusted.text("x" * 10_000)
    assert out == "x" * untrusted.OUTPUT_CHARS + "\n… truncated"
    assert untrusted.line("a\nb\x1b[2J  c " + "y" * 400) == "a b c " + "y" * (untrusted.LINE_CHARS - 6) + " … truncated"
