"""The language registry: one record per language, every stage's answers come from it."""

from __future__ import annotations

from collections import Counter

import pytest

from blogtools import languages
from blogtools.blocks import CodeBlock
from blogtools.extract import short_name


def test_no_name_or_alias_means_two_languages():
    names = Counter(alias for lang in languages.LANGUAGES for alias in (lang.name, *lang.aliases))
    assert [name for name, count in names.items() if count > 1] == []


@pytest.mark.parametrize("name, fence, extension, label, transcript", [
    ("TS", "typescript", "ts", "TypeScript", False),
    ("bash", "shell", "sh", "Shell", True),
    ("shell-session", "console", "txt", "Console", True),
    ("py3", "python", "py", "Python", False),
    ("c++", "cpp", "cpp", "C++", False),
    ("nim", "nim", "txt", "nim", False),  # unknown: usable as a fence name, nothing more
    ("", None, "txt", "", True),  # an untagged block reads as a transcript
])
def test_one_record_answers_every_stage(name, fence, extension, label, transcript):
    assert languages.fence_name(name) == fence
    assert languages.extension(name) == extension
    assert languages.label(name) == label
    assert languages.is_transcript(name) is transcript


def test_a_name_that_could_break_out_of_a_fence_or_attribute_is_refused():
    assert languages.fence_name('x"onclick') is None
    assert languages.fence_name("a b") is None


def test_a_transcripts_short_name_comes_from_its_first_words_not_from_calls():
    console = CodeBlock(1, "sh-session", "$ make test(s) now\n", 1, 3)
    assert short_name(console) == "make-test-s-now"
    program = CodeBlock(1, "js", "run(task)\n", 1, 3)
    assert short_name(program) == "run"


def test_named_refuses_an_alias_and_a_missing_name():
    assert languages.named("rust").extension == "rs"
    with pytest.raises(KeyError):
        languages.named("rs")
    with pytest.raises(KeyError):
        languages.named("cobol")
