"""The language guess where the markup names none: rules for what they know, then candidates from
the feed, the rules and Magika, each checked by a parser; ``text`` when none holds (a wrong name
is worse than none)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from blogtools import language_guess, languages

ROOT = Path(__file__).resolve().parents[1]


def _shared_corpus_here() -> bool:
    """Whether ../shared/corpus (the evaluation's default feeds) is beside the checkout."""
    return any((p / "shared" / "corpus" / "other").is_dir() for p in ROOT.parents)

MAGIKA = pytest.mark.skipif(
    importlib.util.find_spec("magika") is None, reason="Magika is the optional `guess` extra: pip install -e '.[guess]'"
)
BOTH = pytest.mark.parametrize("use_model", [pytest.param(True, marks=MAGIKA, id="magika"), pytest.param(False, id="rules")])


@BOTH
@pytest.mark.parametrize("code, language", [
    ("npx mcporter call 'linear.create_comment()'\n", "shell"),
    ("$ cargo run\n   Compiling x v0.1.0\n", "console"),
    (">>> 1 + 1\n2\n", "pycon"),
    ("def main():\n    print('hi')\n", "python"),
    ("fn main() {\n    let mut x = vec![1];\n    println!(\"{:?}\", x);\n}\n", "rust"),
    ("const x = await fetch(url);\nconsole.log(x);\n", "javascript"),
    ("function f(a: string): number {\n  return 1;\n}\n", "typescript"),
    ("SELECT id FROM t WHERE x = 1;\n", "sql"),
    ('{"a": [1, 2]}\n', "json"),
    ("Prompt: make me a picture\n\nStep 1:\n", "text"),
    # Command lines read as shell, whatever the program: flags, pipes, continuations, subcommands.
    ("watchexec -r -- cargo run\ncargo watch -x run\n", "shell"),
    ('pbpaste | llm-spell | pbcopy && say "done"\n', "shell"),
    ("FLAG=1 \\\n    some-tool --yes\n", "shell"),
    ("open-webui serve\nllm keys set deepseek\n", "shell"),
    ("#!/bin/bash\necho hi\n", "shell"),
    ("Hello there, world.\nThis is prose.\n", "text"),
    ("word\n", "text"),
    ("", "text"),
])
def test_the_rules_decide_what_they_know(code, language, use_model):
    assert language_guess.guess_language(code, use_model=use_model) == language


@MAGIKA
@pytest.mark.parametrize("code, language", [
    (".card {\n  margin: 0 auto;\n  padding: 1rem 2rem;\n  border-radius: 4px;\n}\n\n"
     ".card h2 {\n  font-size: 1.25rem;\n  color: #333;\n}\n", "css"),
    ("services:\n  web:\n    image: nginx:1.27\n    ports:\n      - \"8080:80\"\n"
     "    volumes:\n      - ./site:/usr/share/nginx/html:ro\n", "yaml"),
    ("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n"
     "\tif len(os.Args) < 2 {\n\t\tfmt.Println(\"usage: greet NAME\")\n\t\tos.Exit(1)\n\t}\n"
     "\tfmt.Printf(\"hello, %s\\n\", os.Args[1])\n}\n", "go"),
    ("#include <stdio.h>\n\nint main(int argc, char **argv) {\n    for (int i = 1; i < argc; i++) {\n"
     "        printf(\"%s\\n\", argv[i]);\n    }\n    return 0;\n}\n", "c"),
    ("FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\n"
     "RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nCMD [\"python\", \"app.py\"]\n", "dockerfile"),
])
def test_magika_names_languages_the_rules_do_not_know(code, language):
    assert language_guess.guess_language(code) == language
    assert language_guess.guess_language(code, use_model=False) == "text"  # what the rules alone say


@MAGIKA
def test_magika_alone_is_taken_only_when_sure_and_the_parser_agrees():
    css = ".card {\n  margin: 0 auto;\n  padding: 1rem 2rem;\n}\n"
    assert language_guess.guess_language(css) == "css"  # Magika says SCSS; CSS, the smaller language, parses
    # Python the rules recognise, which the model alone reads as Lua: the rules' candidate parses too and wins.
    assert language_guess.guess_language("print(1)\n") == "python"
    # Pseudo-code Magika reads as Lua or R, unsure: not a language.
    assert language_guess.guess_language("v0 = ...\nv1 = load(v0, 5)\nv2 = store(v0, 6, 123)\n") == "text"


PARSERS = pytest.mark.skipif(importlib.util.find_spec("tree_sitter_language_pack") is None,
                             reason="tree-sitter-language-pack is part of the optional `guess` extra")
SWIFT = 'let greeting = "Hello"\nvar count: Int = 0\nfunc greet(name: String) -> String {\n    return "Hello, " + name\n}\n'
JAVA = 'public class A {\n  public static void main(String[] args) {\n    System.out.println("hi");\n  }\n}\n'
GO = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hi")\n}\n'
IR = "define i32 @main() {\nentry:\n  %0 = add i32 1, 2\n  ret i32 %0\n}\n"
RUST_ERROR = "error[E0382]: borrow of moved value: `x`\n --> src/main.rs:4:20\n  |\n4 |     drop(x);\n"


@MAGIKA
@PARSERS
@pytest.mark.parametrize("code, language", [
    (SWIFT, "swift"), (JAVA, "java"), (GO, "go"),  # not JavaScript, not text
    ('<div class="note">\n  <p>Hi</p>\n</div>\n', "html"),
    (IR, "text"),  # printed compiler IR: Magika's Julia or Assembly does not parse
    (RUST_ERROR, "text"),  # a compiler's output is not Assembly
    ("Hello there, this is prose.\nAnother line.\n", "text"),
])
def test_every_candidate_is_checked_by_a_parser(code, language):
    guess = language_guess.identify(code)
    assert guess.language == language
    assert guess.parses is (True if language != "text" else None)


@PARSERS
def test_the_guess_says_whether_the_block_parses_as_its_language():
    assert language_guess.parses("fn main() {\n    let x = 1;\n}\n", "rust") is True
    assert language_guess.parses("fn main( {\n", "rust") is False
    assert language_guess.parses("pub struct Error { ... }\nimpl Error {\n    fn new() -> Self { ... }\n}\n", "rs") is True
    assert language_guess.parses("    def f():\n        return 1\n", "python") is True  # indented: dedented first
    assert language_guess.parses("Hello, world.\n", "html") is False  # HTML's grammar reads prose: no element
    assert language_guess.parses("anything\n", "console") is None  # nothing parses a transcript
    assert language_guess.parses("anything\n", "cobol") is None


@PARSERS
@pytest.mark.parametrize("use_model", [pytest.param(True, marks=MAGIKA, id="magika"), pytest.param(False, id="rules")])
def test_the_languages_a_feed_names_elsewhere_are_candidates_but_never_outvote_a_parse(use_model):
    labelled = "let result = 'block: {\n    if done() {\n        break 'block 1;\n    }\n    2\n};\n"
    assert language_guess.guess_language(labelled, use_model=use_model) == "text"  # JavaScript does not parse it
    guess = language_guess.identify(labelled, feed=("rust",), use_model=use_model)
    assert (guess.language, guess.parses, guess.source) == ("rust", True, "feed")
    # The feed alone does not name a block that also parses as what the rules see in it.
    assert language_guess.guess_language("print(1)\nprint(2)\n", feed=("emacs-lisp",), use_model=use_model) == "python"
    assert language_guess.guess_language("wp plugin list\n", feed=("php",), use_model=use_model) in ("shell", "text")


def test_every_language_the_guess_can_name_is_in_the_registry():
    magika = pytest.importorskip("magika", reason="Magika is the optional `guess` extra")
    labels = {str(label) for label in magika.Magika().get_model_content_types()}
    for label in ("css", "scss", "r", "yaml", "swift", "verilog", "go", "c", "cpp", "java", "ruby",
                  "php", "html", "xml", "toml", "ini", "makefile", "dockerfile", "sql", "lua", "haskell"):
        assert label in labels
        assert languages.lookup(label) is not None, label


def _evaluate(*feeds: str) -> tuple[int, int, int, str]:
    """benchmarks/guess_eval.py over ``feeds`` (the default set without any): blocks, right, wrong, output."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "guess_eval.py"), *feeds],
                          capture_output=True, text=True, check=True)
    first, totals = done.stdout.splitlines()[:2]
    assert "| markup \\ guess |" in done.stdout
    return int(first.split()[0]), int(totals.split()[1]), int(totals.split()[7]), done.stdout


@pytest.mark.slow
@MAGIKA  # the rules alone name 7% of these wrongly: the targets are the guess extra's
def test_the_committed_feeds_keep_their_figures():
    """A regression guard on the real and markup-family feeds in tests/data (5.7% wrong names,
    74% right before the parsers checked the guess; the target, at most 5% wrong, is measured on
    the whole corpus below)."""
    n, right, wrong, out = _evaluate(*sorted(str(p) for p in (ROOT / "tests" / "data").glob("**/*.xml")))
    assert n >= 200, out
    assert wrong <= 0.06 * n, out
    assert right >= 0.7 * n, out


@pytest.mark.slow
@MAGIKA
@pytest.mark.skipif(not _shared_corpus_here(), reason="../shared/corpus is not on this machine")
def test_at_most_one_wrong_name_in_twenty_on_the_shared_corpus():
    n, right, wrong, out = _evaluate()
    assert n >= 250, out
    assert wrong <= 0.05 * n, out
    assert right >= 0.75 * n, out


@PARSERS
def test_a_block_no_sandbox_runs_says_whether_it_parses():
    from blogtools.triage import Block, static_verdict

    parsed = static_verdict(Block(1, "rust", "fn main() {\n    let x = 1;\n}\n"))
    assert parsed.reason == "no sandbox runs Rust; it parses as Rust" and parsed.needs[0].what == "Rust"
    assert static_verdict(Block(1, "go", "func main( {\n")).reason == "no sandbox runs Go; it does not parse as Go"
    assert static_verdict(Block(1, "nim", "echo 1\n")).reason == "no sandbox runs nim"  # no parser for it here
