"""blogtools.sandbox, ring by ring: each test injects its attack's precondition below the rings
above it (a shell or Python inside the OS ring, raw JavaScript in the runtime ring, forged lines
straight into the host's validator), so it fails only when that ring fails."""

from __future__ import annotations

import json
import os
import random
import socket
import tempfile
from pathlib import Path

import pytest

from blogtools.sandbox import channel, runtime
from blogtools.sandbox.channel import ProtocolError, Read, Ready, Result
from local_tcp import tcp_listener

# --- the channel out: the host's validator, fed forged lines -------------------------------------

LIMITS = {"max_stream_chars": 100, "max_files": 3, "max_bytes": 1000}


def parse(message) -> object:
    line = message if isinstance(message, bytes) else json.dumps(message).encode()
    return channel.parse(line, **LIMITS)


def result(**changes) -> dict:
    return {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True, "output": {}, **changes}


def test_well_formed_messages_are_accepted():
    assert parse({"type": "ready"}) == Ready()
    assert parse({"type": "read", "name": "current-ip"}) == Read("current-ip")
    assert parse(result(output={"sub/a.txt": "QQ=="})) == Result(1, "", "", True, {"sub/a.txt": b"A"})


FORGED = {
    "not json": b"{'type': 'result'",
    "a list": [1, 2],
    "no type": {"id": 1},
    "unknown type": {"type": "exec", "code": "x"},
    "extra field": result(path="/etc/passwd"),
    "missing field": {k: v for k, v in result().items() if k != "output"},
    "id as bool": result(id=True),
    "id as text": result(id="1"),
    "success as text": result(success="true"),
    "stdout too long": result(stdout="x" * 101),
    "output as list": result(output=[["a", "QQ=="]]),
    "absolute name": result(output={"/etc/cron.d/x": "QQ=="}),
    "dot-dot": result(output={"a/../../x": "QQ=="}),
    "leading dot-dot": result(output={"../x": "QQ=="}),
    "dot segment": result(output={"./x": "QQ=="}),
    "empty segment": result(output={"a//b": "QQ=="}),
    "trailing slash": result(output={"a/": "QQ=="}),
    "newline": result(output={"a\nb": "QQ=="}),
    "escape": result(output={"\x1b[2Jx": "QQ=="}),
    "bidi override": result(output={"a\u202etxt.exe": "QQ=="}),
    "backslash": result(output={"..\\x": "QQ=="}),
    "segment of 256": result(output={"a" * 256: "QQ=="}),
    "too many files": result(output={f"f{i}": "QQ==" for i in range(4)}),
    "too many bytes": result(output={"big": "QUFB" * 400}),
    "not base64": result(output={"a": "!!!"}),
    "content not text": result(output={"a": 5}),
    "file and folder": result(output={"a": "QQ==", "a/b": "QQ=="}),
    # JSON carries lone surrogates ("\\ud800"); a str holding one cannot be encoded, so the host
    # would fail on writing it, not the run
    "lone surrogate name": result(output={"a\udc80": "QQ=="}),
    "lone surrogate stdout": result(stdout="a\ud800"),
    "lone surrogate stderr": result(stderr="\udfff"),
    "read of a lone surrogate": {"type": "read", "name": "\ud800"},
    "read with a path": {"type": "read", "name": "../etc/passwd"},
    "read with slash": {"type": "read", "name": "a/b"},
    "deep nesting": b"[" * 100000 + b"]" * 100000,
}


@pytest.mark.parametrize("message", FORGED.values(), ids=FORGED.keys())
def test_forged_messages_are_refused(message):
    with pytest.raises(ProtocolError):
        parse(message)


def test_random_shapes_raise_only_protocol_errors():
    rng = random.Random(9)
    values = [None, True, 0, -1, 2**70, 1.5, "", "x", "/", "..", [], {}, {"a": "QQ=="}, {"a": 1}, ["QQ=="]]
    keys = ["type", "id", "stdout", "stderr", "success", "output", "name", "extra"]
    for _ in range(3000):
        message = {key: rng.choice(values) for key in rng.sample(keys, rng.randint(0, len(keys)))}
        if rng.random() < 0.7:
            message["type"] = rng.choice(["ready", "read", "result", "x"])
        try:
            parse(message)
        except ProtocolError:
            pass


# --- the OS ring: a shell and Python started inside bubblewrap, instead of Deno ------------------

@pytest.fixture(scope="module")
def rt():
    return runtime.prepare()


def in_ring(rt, script: str, shell: str = "/bin/sh") -> tuple[str, str]:
    """stdout and stderr of ``script`` run by ``shell`` inside the OS ring."""
    done = runtime.run_in_ring(rt, [shell, "-c", script], timeout=60)
    return done.stdout.decode(), done.stderr.decode()


@pytest.fixture
def listener():
    """A loopback server on the host that counts connections."""
    with tcp_listener() as (port, hits):
        yield port, hits


@pytest.mark.sandbox
def test_os_ring_has_no_network(rt, listener):
    port, hits = listener
    socket.create_connection(("127.0.0.1", port)).close()  # reachable from the host
    out, err = in_ring(rt, f"import socket\ntry:\n socket.create_connection(('127.0.0.1', {port}), 3)\n"
                                 "except OSError as e: print('refused', e.errno)\n"
                                 "print(open('/proc/net/dev').read())", shell="/usr/bin/python3")
    assert "refused" in out, err
    interfaces = [line.split(":")[0].strip() for line in out.splitlines() if ":" in line]
    assert interfaces == ["lo"]
    assert hits == [1]  # only the host's own connection


@pytest.mark.sandbox
def test_os_ring_has_no_host_files_and_a_read_only_runtime(rt, tmp_path):
    planted = tmp_path / "planted.txt"
    out, err = in_ring(rt, f"cat /etc/shadow; cat {planted}; ls -A /; ls -A; pwd; "
                                 f"echo x > /runtime/deno; echo x > /usr/x; echo x > /x; echo ok > /tmp/scratch && cat /tmp/scratch")
    assert "/etc/shadow: No such file" in err and f"{planted}: No such file" in err
    assert out.split() == ["bin", "channel", "cwd", "dev", "lib", "lib64", "proc", "runtime", "sbin", "tmp", "usr",
                           "/cwd", "ok"]  # the working directory is empty
    assert err.count("Read-only file system") == 3
    assert not planted.exists()


@pytest.mark.sandbox
def test_os_ring_process_is_unprivileged_alone_and_limited(rt, monkeypatch):
    monkeypatch.setenv("BLOGTOOLS_PLANTED_SECRET", "s3cret")
    out, _ = in_ring(rt, "id -u; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status; env; "
                                 "cat /proc/self/limits", shell="/bin/bash")
    lines = out.splitlines()
    if os.geteuid() == 0:
        assert lines[0] == str(runtime.SANDBOX_UID)
    assert "CapEff:\t0000000000000000" in lines and "CapBnd:\t0000000000000000" in lines
    assert "NoNewPrivs:\t1" in lines
    assert "s3cret" not in out and "BLOGTOOLS" not in out
    assert {line.split("=")[0] for line in lines if "=" in line and line.isascii()} <= {"DENO_DIR", "NO_COLOR", "PWD", "SHLVL", "_"}
    limits = {line[:26].strip(): line[26:].split() for line in lines if line.startswith("Max ")}
    assert limits["Max data size"][0] == str((512 + runtime.DATA_OVERHEAD_MB) * 1024 * 1024)
    assert limits["Max processes"][0] == str(runtime.MAX_TASKS)
    assert limits["Max core file size"][0] == "0"


@pytest.mark.sandbox
def test_os_ring_has_its_own_pid_namespace(rt):
    out, _ = in_ring(rt, "echo $$; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '", shell="/bin/bash")
    pid, listed = out.splitlines()
    assert pid == "1"  # the command is PID 1 of its own namespace
    assert all(int(p) < 10 for p in listed.split())  # nothing of the host is visible


@pytest.mark.sandbox
def test_os_ring_bounds_memory_with_rlimit_data(rt):
    out, err = in_ring(rt, f"b = bytearray({(512 + runtime.DATA_OVERHEAD_MB + 100) * 1024 * 1024})\nprint('allocated')",
                             shell="/usr/bin/python3")
    assert "MemoryError" in err and "allocated" not in out


# --- the runtime ring: raw JavaScript run by Deno with the guest's flags, inside the OS ring -----

PROBE_JS = r"""
const report = {};
async function attempt(name, action) {
  try { report[name] = "ALLOWED: " + String(await action()).slice(0, 80); }
  catch (error) { report[name] = error.name; }
}
const port = Number(Deno.args[0]);
await attempt("read pyodide before revoke", () => Deno.readTextFileSync("/runtime/pyodide/package.json").length);
await attempt("read a file the OS ring shows", () => Deno.readTextFileSync("/usr/lib/os-release"));
await attempt("read /proc/self/environ", () => Deno.readTextFileSync("/proc/self/environ"));
await attempt("write scratch", () => Deno.writeTextFileSync("/tmp/x", "x"));
await attempt("fetch loopback", () => fetch(`http://127.0.0.1:${port}/`));
await attempt("connect loopback", () => Deno.connect({ hostname: "127.0.0.1", port }));
await attempt("env", () => JSON.stringify(Deno.env.toObject()));
await attempt("command", () => new Deno.Command("/bin/sh", { args: ["-c", "id"] }).outputSync().code);
await attempt("dlopen", () => Deno.dlopen("/lib/x86_64-linux-gnu/libc.so.6", {}));
await attempt("hostname", () => Deno.hostname());
await attempt("code from strings", () => new Function("return 1")());
await attempt("eval", () => (0, eval)("1 + 1"));
await attempt("worker reading a file", () => new Promise((resolve, reject) => {
  const source = "try { postMessage(Deno.readTextFileSync('/usr/lib/os-release')) } catch (e) { postMessage(e.name) }";
  const worker = new Worker(`data:text/javascript,${encodeURIComponent(source)}`, { type: "module" });
  worker.onmessage = (event) => {
    worker.terminate();
    event.data === "NotCapable" ? reject(Object.assign(new Error(), { name: "NotCapable" })) : resolve(event.data);
  };
  worker.onerror = (event) => { event.preventDefault(); reject(new Error(event.message)); };
}));
for (const name of ["read", "write", "net", "env", "run", "ffi", "sys", "import"]) await Deno.permissions.revoke({ name });
await attempt("read pyodide after revoke", () => Deno.readTextFileSync("/runtime/pyodide/package.json").length);
await attempt("request read again", async () => (await Deno.permissions.request({ name: "read" })).state === "granted" ? "granted" : (() => { throw new Error("denied"); })());
await attempt("reopen the channel", () => Deno.openSync("/channel/out", { write: true }));
console.log(JSON.stringify(report));
"""


@pytest.fixture
def script_file():
    """A script file the sandbox user can read (pytest's tmp_path is closed to it)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)

        def write(name: str, text: str) -> Path:
            path = Path(folder) / name
            path.write_text(text)
            path.chmod(0o644)
            return path

        yield write


@pytest.mark.sandbox
def test_runtime_ring_allows_nothing_but_the_pyodide_files(rt, script_file, listener):
    port, hits = listener
    probe = script_file("probe.js", PROBE_JS)
    command = runtime.deno_command("/runtime/probe.js", 256, [str(port)])
    done = runtime.run_in_ring(rt, command, entry=(str(probe), "/runtime/probe.js"))
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert report.pop("read pyodide before revoke").startswith("ALLOWED")
    assert report.pop("code from strings") == "EvalError" and report.pop("eval") == "EvalError"
    assert report.pop("request read again") == "Error"  # denied: no prompt, no grant
    assert report == dict.fromkeys(report, "NotCapable"), report
    assert hits == []


@pytest.mark.sandbox
def test_runtime_ring_typed_arrays_cannot_pass_the_memory_bound(rt, script_file):
    probe = script_file("grab.js", "const kept = []; let mb = 0;\n"
                     "try { for (;;) { kept.push(new Uint8Array(64 << 20).fill(1)); mb += 64; } }\n"
                     "catch (error) { console.log(JSON.stringify({ mb, error: error.name })); }\n")
    done = runtime.run_in_ring(rt, runtime.deno_command("/runtime/grab.js", 256, []), entry=(str(probe), "/runtime/grab.js"),
                               memory_mb=256)
    # Either V8 throws (RangeError) or the process dies on the refused allocation: never past the bound.
    if done.returncode == 0:
        report = json.loads(done.stdout)
        assert report["mb"] <= 256 + runtime.DATA_OVERHEAD_MB, report
    else:
        assert b"allocated" not in done.stdout


@pytest.mark.sandbox
def test_runtime_ring_refuses_a_worker_asking_for_wider_permissions(rt, script_file):
    probe = script_file("widen.js", "new Worker('data:text/javascript,1', { type: 'module', deno: { permissions: "
                                    "{ read: true, net: true, run: true } } });\nconsole.log('started');\n")
    done = runtime.run_in_ring(rt, runtime.deno_command("/runtime/widen.js", 256, []), entry=(str(probe), "/runtime/widen.js"))
    assert done.returncode != 0 and b"started" not in done.stdout
    assert b"Unstable API 'Worker.deno.permissions'" in done.stderr


NODE_WORKER_JS = r"""
for (const name of ["read", "write", "net", "env", "run", "ffi", "sys", "import"]) await Deno.permissions.revoke({ name });
const { Worker } = process.getBuiltinModule("node:worker_threads");
const code = `
const { parentPort } = require("node:worker_threads");
const report = {};
for (const [name, action] of Object.entries({
  read: () => Deno.readTextFileSync("/usr/lib/os-release"),
  fs: () => require("node:fs").readFileSync("/usr/lib/os-release", "utf8"),
  run: () => require("node:child_process").execSync("id").toString(),
  env: () => JSON.stringify(Deno.env.toObject()),
})) { try { report[name] = "ALLOWED: " + String(action()).slice(0, 40); } catch (error) { report[name] = error.name; } }
parentPort.postMessage(report);`;
const worker = new Worker(code, { eval: true, execArgv: [], env: { PLANTED: "1" } });
worker.on("message", (report) => { console.log(JSON.stringify(report)); worker.terminate(); });
"""


@pytest.mark.sandbox
def test_runtime_ring_node_workers_inherit_the_revoked_permissions(rt, script_file):
    # issue 9's escape under Node: worker_threads' Worker with {eval: true, execArgv: []} ran
    # without the permission model. Under Deno the worker starts, with nothing allowed.
    probe = script_file("nodeworker.js", NODE_WORKER_JS)
    done = runtime.run_in_ring(rt, runtime.deno_command("/runtime/nodeworker.js", 256, []),
                               entry=(str(probe), "/runtime/nodeworker.js"))
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert report == dict.fromkeys(["read", "fs", "run", "env"], "NotCapable"), report
