"""blogtools.triage: verdicts found by running blocks in the real sandbox (Pyodide, Deno, bubblewrap)."""

from __future__ import annotations

import pytest

from blogtools.triage import (
    ILLUSTRATIVE,
    LIMITS,
    NEEDS_CONTEXT,
    RUNS,
    Block,
    Need,
    Sandboxes,
    Verdict,
    runtime_version,
    static_verdict,
    triage_post,
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandboxes(LIMITS) as shared:
        yield shared


def triage(sandbox, *blocks: tuple[str, str]) -> list[Verdict]:
    return triage_post([Block(n, language, text) for n, (language, text) in enumerate(blocks, 1)], sandboxes=sandbox)


# --- no run needed -------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "text", "verdict", "reason_or_need"), [
    ("shell", "pip install numpy\n", ILLUSTRATIVE, "command line"),
    ("shell", "cd src\nmake\nmake install\n", NEEDS_CONTEXT, Need("language", "Shell")),
    ("console", "$ ls\nfoo bar\n", ILLUSTRATIVE, "console session"),
    ("python", ">>> 1 + 1\n2\n", ILLUSTRATIVE, "console session"),
    ("text", "Hello, world!\n", ILLUSTRATIVE, "text or program output"),
    ("json", '{"a": 1}\n', ILLUSTRATIVE, "data"),
    ("yaml", "a: 1\n", ILLUSTRATIVE, "configuration"),
    ("diff", "-a\n+b\n", ILLUSTRATIVE, "diff"),
    ("go", "package main\n", NEEDS_CONTEXT, Need("language", "Go")),
    ("rust", "fn main() {}\n", NEEDS_CONTEXT, Need("language", "Rust")),
])
def test_static_verdicts(language, text, verdict, reason_or_need):
    found = static_verdict(Block(1, language, text))
    assert found.verdict == verdict
    assert (found.needs == (reason_or_need,)) if isinstance(reason_or_need, Need) else found.reason == reason_or_need


def test_need_phrases_and_json_round_trip():
    assert Need("language", "Go").phrase() == "a Go toolchain"
    assert Need("block", "2").phrase() == "block 2"
    assert Need("file", "data.csv").phrase() == "the file data.csv"
    verdict = Verdict(NEEDS_CONTEXT, "x", (Need("module", "numpy"),))
    assert Verdict.from_json(verdict.as_json()) == verdict
    with pytest.raises(ValueError):
        Verdict(RUNS, "x", (Need("module", "numpy"),))
    assert "pyodide" in runtime_version()


# --- Python in the sandbox -----------------------------------------------------------------------

@pytest.mark.sandbox
def test_python_verdicts(sandbox):
    verdicts = triage(
        sandbox,
        ("python", "print('hello')\n"),
        ("python", "import numpy as np\nprint(np.zeros(3))\n"),
        ("python", "print(open('data.csv').read())\n"),
        ("python", "import urllib.request\nurllib.request.urlopen('https://example.com/api').read()\n"),
        ("python", "name = input('Your name? ')\nprint(name)\n"),
        ("python", "import threading\nt = threading.Thread(target=print)\nt.start()\n"),
        ("python", "import subprocess\nsubprocess.run(['ls'])\n"),
        ("python", "print 'hello'\n"),
        ("python", "def f(x):\n    ...\n  return x +\n"),
        ("python", "while True:\n    pass\n"),
        ("python", "print(undefined_thing)\n"),
    )
    assert verdicts[0] == Verdict(RUNS, "ran to completion", output="hello\n")
    assert [v.verdict for v in verdicts[1:]] == [NEEDS_CONTEXT] * 7 + [ILLUSTRATIVE] + [NEEDS_CONTEXT] * 2
    assert verdicts[1].needs == (Need("module", "numpy"),)
    assert verdicts[2].needs == (Need("file", "data.csv"),)
    assert verdicts[3].needs == (Need("network", "https://example.com/api"),)
    assert verdicts[4].needs == (Need("input", "stdin"),)
    assert verdicts[5].needs == verdicts[6].needs == (Need("language", "CPython"),)
    assert verdicts[7].needs == (Need("language", "Python 2"),)
    assert verdicts[8].reason.startswith("fragment or pseudo-code")
    assert verdicts[9].needs == (Need("time", "5 s"),) and "did not finish" in verdicts[9].reason
    assert verdicts[10].needs == (Need("name", "undefined_thing"),)


@pytest.mark.sandbox
def test_cumulative_run_after_an_earlier_block(sandbox):
    verdicts = triage(
        sandbox,
        ("python", "def greet(who):\n    return f'hello {who}'\nprint('defined')\n"),
        ("shell", "pip install nothing\n"),
        ("python", "print(greet('reader'))\n"),
        ("python", "import numpy\nrows = numpy.zeros(2)\n"),
        ("python", "print(rows)\n"),
    )
    assert verdicts[2] == Verdict(RUNS, "runs after block 1", output="hello reader\n", after=1)
    assert verdicts[3].needs == (Need("module", "numpy"),)
    assert verdicts[4].verdict == NEEDS_CONTEXT
    assert verdicts[4].needs == (Need("block", "4"), Need("module", "numpy"))
