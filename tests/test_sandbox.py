"""blogtools.sandbox: Pyodide in a Node worker thread, its virtual file system and its isolation."""

from __future__ import annotations

import socket
import time

import pytest

from blogtools.errors import BlogtoolsError
from blogtools.sandbox import Sandbox, write_output
from local_http import LocalServer
from pngcheck import decode_png

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def server():
    with LocalServer(ip_address="203.0.113.7") as srv:
        yield srv


@pytest.fixture(scope="module")
def sandbox(server):
    resources = {"current-ip": f"{server.url}/ip", "broken": f"{server.url}/status/500"}
    with Sandbox(resources, data={"notes/hello.txt": b"hello from the host"},
                 time_limit=4, memory_limit_mb=256) as sb:
        yield sb


def test_stdout_stderr_and_success(sandbox):
    result = sandbox.execute_python("import sys\nprint('out', 6 * 7)\nprint('err', file=sys.stderr)")
    assert (result.stdout, result.stderr, result.success) == ("out 42\n", "err\n", True)


def test_a_failure_reports_its_traceback(sandbox):
    result = sandbox.execute_python("print('before')\n1 / 0")
    assert result.success is False
    assert result.stdout == "before\n"
    assert 'File "<exec>", line 2, in <module>' in result.stderr
    assert result.stderr.rstrip().endswith("ZeroDivisionError: division by zero")


def test_runs_do_not_share_globals(sandbox):
    sandbox.execute_python("leftover = 1")
    assert "NameError" in sandbox.execute_python("leftover").stderr


def test_network_reads_go_through_the_allowlist(sandbox, server):
    before = server.ip_hits
    result = sandbox.execute_python("print(open('/network/current-ip').read())")
    assert result.stdout == "203.0.113.7\n"
    assert server.ip_hits == before + 1
    sandbox.execute_python("open('/network/current-ip').read()")
    assert server.ip_hits == before + 2  # each run fetches afresh


def test_a_name_outside_the_allowlist_is_not_found(sandbox, server):
    seen = len(server.requests)
    result = sandbox.execute_python("open('/network/passwords')")
    assert "FileNotFoundError" in result.stderr
    assert "/network/passwords: no such resource (allowed: broken, current-ip)" in result.stderr
    assert len(server.requests) == seen


def test_a_failing_resource_reports_the_http_status(sandbox):
    result = sandbox.execute_python("open('/network/broken')")
    assert "/network/broken: fetch failed:" in result.stderr and "HTTP 500" in result.stderr
    assert "OSError" in result.stderr


@pytest.mark.parametrize("path", ["/network/current-ip", "/network/new", "/data/notes/hello.txt", "/data/new"])
def test_network_and_data_are_read_only(sandbox, path):
    result = sandbox.execute_python(f"open({path!r}, 'w')")
    assert "PermissionError" in result.stderr


def test_data_holds_the_inputs(sandbox):
    assert sandbox.execute_python("print(open('/data/notes/hello.txt').read())").stdout == "hello from the host\n"


def test_output_files_come_back_and_persist(sandbox, tmp_path):
    sandbox.output = {}
    sandbox.execute_python("import os\nos.makedirs('/output/sub')\nopen('/output/sub/a.txt', 'w').write('A')")
    assert sandbox.output == {"sub/a.txt": b"A"}
    result = sandbox.execute_python("print(open('/output/sub/a.txt').read())\nopen('/output/b.bin', 'wb').write(b'\\0\\1')")
    assert result.stdout == "A\n"
    assert sandbox.output == {"sub/a.txt": b"A", "b.bin": b"\0\1"}
    written = write_output(sandbox.output, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == ["b.bin", "sub/a.txt"]
    assert (tmp_path / "sub" / "a.txt").read_bytes() == b"A"


def test_pypng_is_installed_offline(sandbox):
    sandbox.output = {}
    code = (
        "import png\n"
        "rows = [[(x * 8) % 256 for x in range(30 * 3)] for y in range(20)]\n"
        "png.from_array(rows, 'RGB').save('/output/grad.png')\n"
    )
    assert sandbox.execute_python(code).success
    assert decode_png(sandbox.output["grad.png"])[:2] == (30, 20)


# --- isolation ----------------------------------------------------------------------------------


def test_no_sockets(sandbox):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    attempts = {
        "socket": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)",
        "urllib": f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)",
        "js fetch": "import js\njs.fetch",
        "pyxhr": f"from pyodide.http import pyxhr\npyxhr.get('http://127.0.0.1:{port}/')",
        "asyncio": (
            "import asyncio\nasync def connect():\n"
            f"    await asyncio.open_connection('127.0.0.1', {port})\nasyncio.run(connect())"
        ),
    }
    results = {name: sandbox.execute_python(code) for name, code in attempts.items()}
    # Every run has finished: a connection any of them made waits in the backlog.
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()
    listener.close()
    assert {name: r.success for name, r in results.items()} == dict.fromkeys(attempts, False)
    assert "PermissionError: [Errno 2] Permission denied" in results["socket"].stderr


def test_the_pyodide_api_is_out_of_reach(sandbox):
    """No module, pyodide_js's submodules included, holds the API that loads packages and mounts files."""
    code = (
        "import sys\nfrom pyodide.ffi import JsProxy\n"
        "print(sorted(name for name in sys.modules if 'pyodide_js' in name))\n"
        "for name, module in list(sys.modules.items()):\n"
        "    for attr, value in list(getattr(module, '__dict__', {}).items()):\n"
        "        if isinstance(value, JsProxy) and any(hasattr(value, a) for a in ('public_api', 'FS', 'loadPackage')):\n"
        "            print(name, attr)\n"
    )
    result = sandbox.execute_python(code)
    assert (result.success, result.stdout) == (True, "[]\n")
    for module in ["pyodide_js", "pyodide_js._api", "pyodide_js._module"]:
        assert f"No module named '{module.partition('.')[0]}'" in sandbox.execute_python(f"import {module}").stderr


def test_load_package_makes_no_request(sandbox, server):
    seen = len(server.requests)
    attempts = {
        "pyodide_js._api": f"import sys\nsys.modules['pyodide_js._api'].public_api.loadPackage('{server.url}/api.whl')",
        "pyodide_js": f"from pyodide_js import loadPackage\nloadPackage('{server.url}/js.whl')",
        "pyfetch": f"from pyodide.http import pyfetch\nimport asyncio\nasyncio.run(pyfetch('{server.url}/pyfetch'))",
    }
    results = {name: sandbox.execute_python(code) for name, code in attempts.items()}
    assert {name: r.success for name, r in results.items()} == dict.fromkeys(attempts, False)
    assert "KeyError: 'pyodide_js._api'" in results["pyodide_js._api"].stderr
    time.sleep(1)  # a request loadPackage started would go out once the run returned
    assert server.requests[seen:] == []


def test_no_host_files(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the host's secret")
    attempts = {
        "open": f"print(open({str(secret)!r}).read())",
        "pyodide_js NODEFS": (
            "import pyodide_js\nFS = pyodide_js.FS\nFS.mkdir('/host')\n"
            f"FS.mount(FS.filesystems.NODEFS, {{'root': {str(tmp_path)!r}}}, '/host')\n"
            "print(open('/host/secret.txt').read())"
        ),
        "pyodide_js._api NODEFS": (
            "import sys, os\napi = sys.modules['pyodide_js._api']\nFS = api.public_api.FS\n"
            "O = api.config.constructor\nFS.mkdir('/host')\n"  # Pyodide's own folder: Node lets it read that
            "FS.mount(FS.filesystems.NODEFS, O.fromEntries([['root', api.config.indexURL]]), '/host')\n"
            "print(os.listdir('/host'))"
        ),
        "JavaScript from a string": (
            "from pyodide.ffi import to_js\nFunction = to_js({}).constructor.constructor\n"
            f"print(Function(\"return process.getBuiltinModule('fs').readFileSync({str(secret)!r}, 'utf8')\")())"
        ),
        "js globals": "import js\nprint(js.process)",
    }
    results = {name: sandbox.execute_python(code) for name, code in attempts.items()}
    assert {name: r.success for name, r in results.items()} == dict.fromkeys(attempts, False)
    assert all("secret" not in r.stdout and "pyodide.asm.wasm" not in r.stdout for r in results.values())
    assert "FileNotFoundError" in results["open"].stderr
    assert "No module named 'pyodide_js'" in results["pyodide_js NODEFS"].stderr
    assert "KeyError: 'pyodide_js._api'" in results["pyodide_js._api NODEFS"].stderr
    assert "EvalError: Code generation from strings disallowed" in results["JavaScript from a string"].stderr
    assert sandbox.execute_python("import os\nprint(os.path.exists('/host'))").stdout == "False\n"


def test_stack_frames_do_not_hand_out_the_interpreter(sandbox):
    """V8's prepareStackTrace hook would see `this` of each frame: the WebAssembly instance."""
    code = (
        "from pyodide.ffi import to_js, create_proxy, JsException\n"
        "try:\n    to_js([]).constructor.constructor('1')\n"
        "except JsException as exc:\n    Error = exc.js_error.constructor.__proto__\n"
        "Error.prepareStackTrace = create_proxy(lambda error, frames: [str(f.getThis()) for f in frames])\n"
    )
    result = sandbox.execute_python(code)
    assert result.success is False
    assert "Cannot assign to read only property 'prepareStackTrace'" in result.stderr


def test_symbolic_links_in_output_are_not_followed(sandbox):
    sandbox.output = {}
    code = (
        "import os\nos.symlink('/output', '/output/loop')\nos.symlink('/lib', '/output/lib')\n"
        "open('/output/kept.txt', 'w').write('kept')"
    )
    result = sandbox.execute_python(code)
    assert (result.success, sandbox.output) == (True, {"kept.txt": b"kept"})
    after = sandbox.execute_python("import os, json\nprint(sorted(os.listdir('/output')), sorted(os.listdir('/lib')))")
    # The links are gone and what /output/lib pointed at (the standard library) is untouched.
    assert (after.success, after.stdout) == (True, "['kept.txt'] ['python3.14', 'python314.zip']\n")


def test_each_run_gets_the_hosts_data_and_output_back(sandbox):
    """Code runs as uid 0: it can chmod /data writable or put a link where /output was."""
    sandbox.output = {"kept.txt": b"kept"}
    tamper = (
        "import os, shutil\nos.chmod('/data', 0o755)\nos.chmod('/data/notes', 0o755)\n"
        "os.chmod('/data/notes/hello.txt', 0o644)\nopen('/data/notes/hello.txt', 'w').write('changed')\n"
        "shutil.rmtree('/output')\nos.symlink('/lib', '/output')\nos.chdir('/data')"
    )
    assert sandbox.execute_python(tamper).success
    assert sandbox.output == {}  # the link is not followed: /lib does not come back as output
    sandbox.output = {"kept.txt": b"kept"}
    after = sandbox.execute_python(
        "import os\nprint(open('/data/notes/hello.txt').read(), os.path.islink('/output'), os.listdir('/output'), os.getcwd())"
    )
    assert (after.success, after.stdout) == (True, "hello from the host False ['kept.txt'] /home/pyodide\n")
    assert "PermissionError" in sandbox.execute_python("open('/data/notes/hello.txt', 'w')").stderr


def test_memory_is_bounded(sandbox):
    result = sandbox.execute_python("block = bytearray(300 * 1024 * 1024)")
    assert result.success is False
    assert result.stderr.rstrip().endswith("MemoryError")
    assert sandbox.execute_python("print(len(bytearray(10 * 1024 * 1024)))").stdout == "10485760\n"


def test_a_runaway_loop_is_stopped_and_the_next_call_works(sandbox):
    sandbox.output = {"kept.txt": b"kept"}
    result = sandbox.execute_python("while True:\n    pass")
    assert result.timed_out and not result.success
    assert "time limit of 4 s" in result.stderr and "terminated" in result.stderr
    after = sandbox.execute_python("print(open('/output/kept.txt').read())")
    assert (after.success, after.stdout) == (True, "kept\n")


def test_a_crashed_worker_is_not_a_timeout(sandbox):
    code = "from pyodide.ffi import to_js\nArray = to_js([]).constructor\nkeep = [Array(100_000).fill(0.5) for _ in range(10_000)]"
    result = sandbox.execute_python(code)
    assert (result.success, result.timed_out) == (False, False)
    assert "the interpreter crashed" in result.stderr and "memory limit" in result.stderr
    assert sandbox.execute_python("print('fresh')").stdout == "fresh\n"


def test_a_huge_javascript_allocation_costs_the_run_not_the_sandbox(sandbox):
    sandbox.output = {"kept.txt": b"kept"}
    code = "from pyodide.ffi import to_js\nArray = to_js([]).constructor\nkeep = [Array(20_000_000).fill(0.5) for _ in range(100)]"
    result = sandbox.execute_python(code)
    assert (result.success, result.timed_out) == (False, False)
    assert "the Pyodide host process stopped: FATAL ERROR: Reached heap limit" in result.stderr
    after = sandbox.execute_python("print(open('/output/kept.txt').read())")
    assert (after.success, after.stdout) == (True, "kept\n")


def test_a_host_that_writes_other_lines_fails_at_once(monkeypatch, tmp_path):
    host = tmp_path / "chatty_host.js"
    host.write_text('process.stdout.write("Loading Pyodide...\\n"); process.stdin.resume();\n'
                    'process.stdin.on("end", () => process.exit(3));\n')
    monkeypatch.setattr("blogtools.sandbox.HOST_JS", host)
    started = time.monotonic()
    with pytest.raises(BlogtoolsError, match="not a JSON message: Loading Pyodide..."):
        Sandbox(wheels=[])
    assert time.monotonic() - started < 60  # not the 120 s start-up limit


def test_a_missing_pyodide_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BLOGTOOLS_PYODIDE_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(BlogtoolsError, match="nowhere .from \\$BLOGTOOLS_PYODIDE_DIR.: no such directory"):
        Sandbox()
