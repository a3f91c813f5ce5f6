"""blogtools.sandbox, ring by ring: each test injects its attack's precondition below the rings
above it (a shell or Python inside the OS ring, raw JavaScript in the runtime ring, forged lines
straight into the host's validator), so it fails only when that ring fails."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import socket
import tempfile
import time
from pathlib import Path

import pytest

from blogtools.sandbox import channel, runtime
from blogtools.sandbox.channel import ProtocolError, Read, Ready, Result, Step
from local_tcp import tcp_listener

# --- the channel out: the host's validator, fed forged lines -------------------------------------

LIMITS = {"max_stream_chars": 100, "max_files": 3, "max_bytes": 1000}


def parse(message) -> object:
    line = message if isinstance(message, bytes) else json.dumps(message).encode()
    return channel.parse(line, **LIMITS)


def result(**changes) -> dict:
    return {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True, "output": {}, "settled": True, **changes}


def steps(*steps, **changes) -> dict:
    return {"type": "result", "id": 1, "steps": list(steps), "output": {}, "settled": True, **changes}


def step(**changes) -> dict:
    return {"stdout": "", "stderr": "", "success": True, "truncated": False, **changes}


def test_well_formed_messages_are_accepted():
    assert parse({"type": "ready"}) == Ready()
    assert parse({"type": "read", "name": "current-ip"}) == Read("current-ip")
    assert parse(result(output={"sub/a.txt": "QQ=="})) == Result(1, "", "", True, {"sub/a.txt": b"A"})
    assert parse(result(settled=False)) == Result(1, "", "", True, {}, settled=False)
    assert parse(steps(step(stdout="4\n"), step(stderr="Traceback", success=False))) == Result(
        1, "", "", False, {}, (Step("4\n", "", True), Step("", "Traceback", False)))


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
    "settled as number": result(settled=1),
    "settled missing": {k: v for k, v in result().items() if k != "settled"},
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
    # the file system counts bytes: 200 characters of two bytes each is a 400-byte name (ENAMETOOLONG)
    "segment of 200 é": result(output={"é" * 200: "QQ=="}),
    "name of 1,026 bytes": result(output={"/".join(["é" * 100] * 5) + "/" + "x" * 20: "QQ=="}),
    "read of 200 é": {"type": "read", "name": "é" * 200},
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
    # a run of steps: one {stdout, stderr, success} a step, the streams' limit over all steps together
    "no steps": steps(),
    "steps as object": steps() | {"steps": {"0": step()}},
    "steps and stdout": steps(step(), stdout=""),
    "step not an object": steps(["", "", True]),
    "step missing success": steps({"stdout": "", "stderr": "", "truncated": False}),
    "step missing truncated": steps({"stdout": "", "stderr": "", "success": True}),
    "step truncated as number": steps(step(truncated=0)),
    "step with extra field": steps(step(line=1)),
    "step success as text": steps(step(success="true")),
    "step success as number": steps(step(success=1)),
    "step stdout as list": steps(step(stdout=["x"])),
    "steps' stdout too long together": steps(step(stdout="x" * 60), step(stdout="x" * 41)),
    "step lone surrogate": steps(step(stderr="\ud800")),
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


def in_ring(rt, script: str, shell: str = "/bin/sh", rings=runtime.Rings()) -> tuple[str, str]:
    """stdout and stderr of ``script`` run by ``shell`` inside the OS ring (the host's /usr bound)."""
    done = runtime.run_in_ring(rt, [shell, "-c", script], timeout=60, rings=rings)
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
        assert int(lines[0]) in runtime.UNIT_UIDS
    assert "CapEff:\t0000000000000000" in lines and "CapBnd:\t0000000000000000" in lines
    assert "NoNewPrivs:\t1" in lines
    assert "s3cret" not in out and "BLOGTOOLS" not in out
    assert {line.split("=")[0] for line in lines if "=" in line and line.isascii()} <= {"DENO_DIR", "NO_COLOR", "PWD", "SHLVL", "_"}
    limits = {line[:26].strip(): line[26:].split() for line in lines if line.startswith("Max ")}
    assert limits["Max data size"][0] == str((512 + runtime.DATA_OVERHEAD_MB) * 1024 * 1024)
    assert limits["Max processes"][0] == str(runtime.MAX_TASKS)
    assert limits["Max core file size"][0] == "0"
    assert limits["Max file size"][0] == str(runtime.SCRATCH_BYTES)


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
# (each probe takes the guest's place, /runtime/guest.js: the import map lets no other file load)

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
    command = runtime.deno_command("/runtime/guest.js", 256, [str(port)])
    done = runtime.run_in_ring(rt, command, entry=(str(probe), "/runtime/guest.js"))
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
    done = runtime.run_in_ring(rt, runtime.deno_command("/runtime/guest.js", 256, []), entry=(str(probe), "/runtime/guest.js"),
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
    done = runtime.run_in_ring(rt, runtime.deno_command("/runtime/guest.js", 256, []), entry=(str(probe), "/runtime/guest.js"))
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
    done = runtime.run_in_ring(rt, runtime.deno_command("/runtime/guest.js", 256, []),
                               entry=(str(probe), "/runtime/guest.js"))
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert report == dict.fromkeys(["read", "fs", "run", "env"], "NotCapable"), report


# --- the interpreter ring: Python code in a unit (the public API), JavaScript injected into the ---
# --- guest after its hardening (below the ring), and the ring switched off as a control ---------

FFI_NAMES = ("to_js", "create_proxy", "create_once_callable", "run_sync", "can_run_sync", "raw_call",
             "trigger_fatal_error", "destroy_proxies", "create_promise_converter", "py2js_convert",
             "js2py_convert", "pre_convert", "post_convert", "create_builtin", "create_dynamic")

# Every C function and method reachable by introspection: gc, __subclasses__, frames, tracebacks,
# closures, defaults, sys.modules; each one with an FFI name is called; what comes back is reported.
INTROSPECT = r"""
import gc, sys, types
gc.unfreeze()  # the interpreter's own objects, frozen at start, listed again
found = {}
def keep(o):
    if isinstance(o, (types.BuiltinFunctionType, types.MethodDescriptorType, types.ClassMethodDescriptorType)):
        if o.__name__ in NAMES:
            found[id(o)] = o
def walk(o, depth=0):
    keep(o)
    if depth < 2 and isinstance(o, dict):
        for v in list(o.values()):
            walk(v, depth + 1)
    elif depth < 2 and isinstance(o, type):
        walk(dict(vars(o)), depth + 1)
for o in gc.get_objects():
    keep(o)
    for r in gc.get_referents(o):
        keep(r)
stack = [object]
while stack:
    t = stack.pop()
    walk(t)
    stack += type.__subclasses__(t)
frame = sys._getframe()
while frame:
    walk(frame.f_globals); walk(frame.f_locals); walk(frame.f_builtins); frame = frame.f_back
try:
    raise ValueError
except ValueError as e:
    tb = e.__traceback__
    while tb:
        walk(tb.tb_frame.f_globals); tb = tb.tb_next
for f in [o for o in gc.get_objects() if isinstance(o, types.FunctionType)]:
    for cell in f.__closure__ or ():
        try: walk(cell.cell_contents)
        except ValueError: pass
    for value in (f.__defaults__ or ()) + tuple((f.__kwdefaults__ or {}).values()):
        walk(value)
for module in list(sys.modules.values()):
    if module is not None: walk(vars(module))
outcomes = {}
for o in found.values():
    for args in ([[1]], [1], [lambda: 1], ["x", 1], []):
        try:
            value = o(*args)
            outcomes[o.__name__] = "RETURNED " + type(value).__name__
            break
        except SystemError:
            outcomes.setdefault(o.__name__, "SystemError")
        except TypeError:
            pass
print(sorted({o.__name__ for o in found.values()}))
print(outcomes)
"""


@pytest.fixture(scope="module")
def python_sandbox():
    from blogtools.sandbox import Limits, Sandbox

    with Sandbox(Limits(cpu_seconds=20, wall_seconds=60, memory_mb=256)) as sandbox:
        yield sandbox


@pytest.mark.slow
@pytest.mark.sandbox
def test_interpreter_ring_no_ffi_callable_is_reachable_by_any_introspection(python_sandbox):
    result = python_sandbox.run(f"NAMES = {FFI_NAMES!r}\n{INTROSPECT}")
    assert result.success, result.stderr
    names, outcomes = result.stdout.splitlines()
    # the precondition: the unlinked function objects are still there to be found...
    assert {"to_js", "create_proxy", "run_sync", "raw_call", "trigger_fatal_error"} <= set(eval(names))
    # ...and each one, disabled in place, is refused by the interpreter without running
    assert set(eval(outcomes).values()) == {"SystemError"}, outcomes


@pytest.mark.slow
@pytest.mark.sandbox
def test_interpreter_ring_removed_gives_javascript_to_python():
    """The control: with the FFI left enabled (Rings.interpreter_ffi off), the same search finds
    to_js callable and it returns a JavaScript object, so the test above can fail."""
    from blogtools.sandbox import Limits, Sandbox

    with Sandbox(Limits(cpu_seconds=20, wall_seconds=60), rings=runtime.Rings(interpreter_ffi=False)) as sandbox:
        result = sandbox.run(f"NAMES = ('to_js',)\n{INTROSPECT}")
    assert "'to_js': 'RETURNED Js" in result.stdout, result.stdout + result.stderr  # a JsArray


@pytest.mark.slow
@pytest.mark.sandbox
def test_interpreter_ring_audit_hook_cannot_be_reconfigured(python_sandbox):
    code = (
        "import gc, sys\n"
        "gc.unfreeze()\n"
        "hooks = [f for f in gc.get_objects() if type(f).__name__ == 'function' and f.__code__.co_name == '_audit']\n"
        "out = [len(hooks)]\n"
        "for hook in hooks:\n"
        "    for name, value in (('__code__', (lambda event, args: None).__code__), ('__defaults__', (frozenset(),)),\n"
        "                        ('__kwdefaults__', {'blocked': frozenset()})):\n"
        "        try: setattr(hook, name, value); out.append('REPLACED ' + name)\n"
        "        except PermissionError: out.append('refused')\n"
        "    hook.__globals__['__builtins__'] = {}\n"
        "sys.modules.pop('_pyodide_core', None)\n"
        "try: import _pyodide_core; out.append('IMPORTED')\n"
        "except ImportError as e: out.append(str(e))\n"
        "print(out)"
    )
    result = python_sandbox.run(code)
    assert result.stdout == "[1, 'refused', 'refused', 'refused', '_pyodide_core is not available in the sandbox']\n", \
        result.stdout + result.stderr


def guest_with(script_file, javascript: str, name: str = "guest-attack.js") -> Path:
    """The real guest script, with ``javascript`` run right after all its hardening (before it
    reports ready): code below the interpreter ring, in the realm it hardened."""
    text = runtime.GUEST_JS.read_text()
    marker = 'send({ type: "ready" });'
    assert text.count(marker) == 1
    return script_file(name, text.replace(marker, javascript + "\n" + marker))


REALM_ATTACKS = r"""
const realmReport = Object.create(null); // a plain {} inherits the frozen names it is given
for (const [name, attack] of Object.entries({
  "Object.prototype getter": () => Object.defineProperty(Object.prototype, "polluted", { get() { return 1; } }),
  "Object.prototype.toJSON": () => { Object.prototype.toJSON = function () { return { type: "result", forged: 1 }; }; },
  "__defineGetter__": () => Object.prototype.__defineGetter__("then", () => 1),
  "Array.prototype.push": () => { Array.prototype.push = () => 0; },
  "Function.prototype.call": () => { Function.prototype.call = () => 0; },
  "Error.prototype.toString": () => { Error.prototype.toString = () => "x"; },
  "JSON.stringify": () => { JSON.stringify = () => "{}"; },
  "WebAssembly.Memory.prototype.grow": () => { WebAssembly.Memory.prototype.grow = () => 0; },
  "Uint8Array.prototype.set": () => { Object.getPrototypeOf(Uint8Array.prototype).set = () => 0; },
  "Promise.prototype.then": () => { Promise.prototype.then = () => 0; },
  "setPrototypeOf": () => Object.setPrototypeOf(Array.prototype, null),
})) {
  try { attack(); realmReport[name] = ({}).polluted === 1 || [].push === undefined ? "CHANGED" : "CHANGED?"; }
  catch (error) { realmReport[name] = error.name; }
}
const overridden = new Error("x"); overridden.name = "Own"; overridden.toString = () => "own";
realmReport.override = `${overridden.name} ${overridden.toString()} ${Error.prototype.name}`;
console.error("REALM " + JSON.stringify(realmReport));
"""


@pytest.mark.slow
@pytest.mark.sandbox
def test_interpreter_ring_realm_is_frozen_and_pyodide_still_converts(script_file):
    """JavaScript run after loading cannot change any intrinsic; objects that inherit one can
    still assign their own property (what Pyodide does), and Python runs and fails as before."""
    from blogtools.sandbox import Limits, Sandbox

    entry = guest_with(script_file, REALM_ATTACKS)
    with Sandbox(Limits(cpu_seconds=20, wall_seconds=60)) as sandbox:
        sandbox._runtime = dataclasses.replace(sandbox._runtime, guest=entry)
        sandbox._spare.result().close()
        sandbox._refill()
        with sandbox.unit() as unit:
            ok = unit.run("print('é', 6 * 7)")
            failed = unit.run("raise ValueError('x')")
            report = json.loads(next(line for line in b"".join(unit._guest.stderr).decode().splitlines()
                                     if line.startswith("REALM "))[6:])
    assert report.pop("override") == "Own own Error"
    assert report == dict.fromkeys(report, "TypeError"), report
    assert (ok.success, ok.stdout) == (True, "é 42\n")
    assert not failed.success and failed.stderr.rstrip().endswith("ValueError: x")


# --- the runtime ring of a JavaScript/TypeScript unit: the script on stdin with the unit's flags, --
# --- inside an OS ring that shows the host's /usr and a planted file (its precondition) -----------

IMPORT_FORMS = {
    "static file:": "import t from 'file:///planted/secret.txt' with { type: 'text' }; console.log(t);",
    "static absolute": "import t from '/planted/secret.txt' with { type: 'text' }; console.log(t);",
    "static relative": "import t from '../planted/secret.txt' with { type: 'text' }; console.log(t);",
    "static json": "import t from 'file:///planted/data.json' with { type: 'json' }; console.log(t.secret);",
    "static module": "import t from 'file:///planted/module.js'; console.log(t);",
    "localhost host": "import t from 'file://localhost/planted/secret.txt' with { type: 'text' }; console.log(t);",
    "upper case": "import t from 'FILE:///planted/secret.txt' with { type: 'text' }; console.log(t);",
    "literal dynamic": "console.log((await import('file:///planted/secret.txt', { with: { type: 'text' } })).default);",
    "computed dynamic": "const u = 'file:///planted/' + 'secret.txt'; console.log((await import(u, { with: { type: 'text' } })).default);",
    "inside data:": "const m = await import('data:text/javascript,' + encodeURIComponent(\"import t from 'file:///planted/secret.txt' with { type: 'text' }; export default t;\")); console.log(m.default);",
    "inside blob:": "const u = URL.createObjectURL(new Blob([\"import t from 'file:///planted/secret.txt' with { type: 'text' }; export default t;\"], { type: 'text/javascript' })); console.log((await import(u)).default);",
    "worker": "const w = new Worker('file:///planted/module.js', { type: 'module' }); w.onmessage = (e) => console.log(e.data); await new Promise((r) => setTimeout(r, 1500));",
    "worker from data:": "const w = new Worker('data:text/javascript,' + encodeURIComponent(\"import t from 'file:///planted/secret.txt' with { type: 'text' }; postMessage(t);\"), { type: 'module' }); w.onmessage = (e) => console.log(e.data); await new Promise((r) => setTimeout(r, 1500));",
    "node:fs": "import fs from 'node:fs'; console.log(fs.readFileSync('/planted/secret.txt', 'utf8'));",
    "npm:": "import t from 'npm:left-pad'; console.log(t);",
    "jsr:": "import t from 'jsr:@std/path'; console.log(t);",
    "remote": "import t from 'http://127.0.0.1:9/x.js'; console.log(t);",
    "Deno.readTextFile": "console.log(Deno.readTextFileSync('/planted/secret.txt'));",
}


@pytest.fixture
def planted(script_file):
    """A folder of files holding a secret, world-readable, bound into the ring at /planted."""
    secret = script_file("secret.txt", "PLANTED-SECRET")
    script_file("data.json", '{"secret": "PLANTED-SECRET"}')
    script_file("module.js", "export default 'PLANTED-SECRET'; globalThis.postMessage?.('PLANTED-SECRET');")
    return secret.parent


def run_script_in_ring(rt, folder: Path, code: str, rings=runtime.Rings()) -> tuple[str, str]:
    done = runtime.run_in_ring(rt, runtime.script_command("js", 256, rings), entry=(str(folder), "/planted"),
                               rings=rings, stdin=code.encode(), timeout=60)
    return done.stdout.decode(), done.stderr.decode()


@pytest.mark.sandbox
@pytest.mark.parametrize("form", IMPORT_FORMS)
def test_runtime_ring_no_import_form_reads_a_file(rt, planted, form):
    out, err = run_script_in_ring(rt, planted, IMPORT_FORMS[form])
    assert "PLANTED-SECRET" not in out + err, (out, err)


@pytest.mark.sandbox
def test_runtime_ring_without_the_import_map_a_static_import_reads_the_file(rt, planted):
    """The control: Deno's --deny-read alone lets a static import read a file."""
    out, _ = run_script_in_ring(rt, planted, IMPORT_FORMS["static file:"], runtime.Rings(import_map=False))
    assert out == "PLANTED-SECRET\n"


LIST_FILES_JS = r"""
const seen = [];
function walk(path) {
  for (const entry of Deno.readDirSync(path)) {
    const child = (path === "/" ? "" : path) + "/" + entry.name;
    if (entry.isDirectory && !child.startsWith("/runtime/pyodide")) walk(child); else seen.push(child);
  }
}
walk("/");
let mountinfo;
try { mountinfo = Deno.readTextFileSync("/proc/self/mountinfo"); } catch (error) { mountinfo = error.name; }
console.log(JSON.stringify({ seen, mountinfo, exe: Deno.execPath() }));
"""


@pytest.mark.sandbox
def test_os_ring_shows_only_deno_its_libraries_and_the_runtime(rt, script_file):
    """What a unit's process could read if Deno allowed every read: its own files, the libraries
    Deno links, an empty /tmp and /cwd, device nodes; no /usr, no /etc, no /proc of the host."""
    probe = script_file("list.js", LIST_FILES_JS)
    done = runtime.run_in_ring(rt, ["/runtime/deno", "run", "--allow-all", "--no-config", "/runtime/list.js"],
                               entry=(str(probe), "/runtime/list.js"), system=False)
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    libraries = {guest for _, guest in rt.libraries}
    expected_tops = {"/runtime", "/channel", "/dev", "/proc", "/tmp", "/cwd"} | {"/" + p.split("/")[1] for p in libraries}
    assert {"/" + path.split("/")[1] for path in report["seen"]} <= expected_tops, report["seen"]
    assert not any(path.startswith(("/usr", "/etc", "/home", "/root", "/var", "/work")) for path in report["seen"])
    assert libraries <= set(report["seen"])
    assert [p for p in report["seen"] if p.startswith("/proc")] == ["/proc/self/exe"]
    assert report["mountinfo"] == "NotFound" and report["exe"] == "/runtime/deno"
    host_paths = [str(rt.deno.parent), "/work", "/var/cache"]
    assert not any(h in done.stdout.decode() for h in host_paths)


# --- the OS ring's filter, namespaces, sizes, uids and memory: a shell or Python inside it ---------

SYSCALLS_PY = r"""
import ctypes, errno, json, os, threading
libc = ctypes.CDLL(None, use_errno=True)
NAME = ctypes.cast(ctypes.c_char_p(b"x"), ctypes.c_void_p).value
def call(nr, *args):
    result = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return "ALLOWED" if result >= 0 else errno.errorcode[ctypes.get_errno()]
report = {
    "unshare(CLONE_NEWUSER)": call(272, 0x10000000),
    "unshare(CLONE_NEWNS)": call(272, 0x00020000),
    "clone(CLONE_NEWUSER)": call(56, 0x10000000 | 17, 0, 0, 0, 0),
    "clone3": call(435, 0, 0),
    "setns": call(308, 0, 0),
    "ptrace(TRACEME)": call(101, 0, 0, 0, 0),
    "mount": call(165, 0, 0, 0, 0, 0),
    "keyctl": call(250, 0, 0, 0, 0, 0),
    "bpf": call(321, 0, 0, 0),
    "perf_event_open": call(298, 0, 0, -1, -1, 0),
    "userfaultfd": call(323, 0),
    "io_uring_setup": call(425, 1, 0),
    "memfd_create": call(319, NAME, 0),
    "shmget": call(29, 0, 4096, 0o1600),
}
done = []
thread = threading.Thread(target=done.append, args=(1,)); thread.start(); thread.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
report["thread and fork"] = f"{done} {os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}"
print(json.dumps(report))
"""


@pytest.mark.sandbox
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probe uses x86_64 system call numbers")
def test_os_ring_seccomp_refuses_namespaces_tracing_and_kernel_interfaces(rt):
    out, err = in_ring(rt, SYSCALLS_PY, shell="/usr/bin/python3")
    report = json.loads(out)
    assert report.pop("clone3") == "ENOSYS"
    assert report.pop("thread and fork") == "[1] 7"  # glibc falls back from clone3 to clone
    assert report == dict.fromkeys(report, "EPERM"), report


@pytest.mark.sandbox
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probe uses x86_64 system call numbers")
def test_os_ring_without_seccomp_the_calls_reach_the_kernel(rt):
    """The control: with the filter off (Rings.seccomp), calls it refuses reach the kernel, which
    allows them (ptrace is left out: a traced process would stop on its child's signal)."""
    script = SYSCALLS_PY.split("report = {")[0] + "print(call(319, NAME, 0), call(29, 0, 4096, 0o1600), call(435, 0, 0))"
    out, err = in_ring(rt, script, shell="/usr/bin/python3", rings=runtime.Rings(seccomp=False))
    memfd, shm, clone3 = out.split()
    assert (memfd, shm) == ("ALLOWED", "ALLOWED") and clone3 != "ENOSYS", out + err


@pytest.mark.sandbox
def test_os_ring_x32_system_calls_kill_the_process(rt):
    out, err = in_ring(rt, "import ctypes\nctypes.CDLL(None).syscall(0x40000000 | 39)\nprint('survived')",
                       shell="/usr/bin/python3")
    assert "survived" not in out


@pytest.mark.sandbox
def test_os_ring_no_nested_user_namespace_even_without_seccomp(rt):
    script = "unshare -Ur id -u; echo status $?"
    out, err = in_ring(rt, script, rings=runtime.Rings(seccomp=False))
    assert out == "status 1\n" and "unshare failed" in err, out + err
    control, _ = in_ring(rt, script, rings=runtime.Rings(seccomp=False, no_nested_userns=False))
    assert control.startswith("0\nstatus 0"), control  # the control: uid 0 in a nested namespace


@pytest.mark.sandbox
def test_os_ring_scratch_space_is_bounded(rt):
    script = ("for d in /dev/shm /tmp; do i=0; while [ $i -lt 4 ]; do "
              "head -c 32000000 /dev/zero > $d/f$i 2>/dev/null || break; i=$((i+1)); done; "
              "echo $d $(du -sm $d | cut -f1); done; echo x > /dev/x 2>/dev/null || echo dev-read-only; "
              "head -c 100000000 /dev/zero > /tmp/big 2>/dev/null; echo big $(stat -c %s /tmp/big)")
    out, _ = in_ring(rt, script, shell="/bin/bash")
    sizes = dict(line.split()[:2] for line in out.splitlines() if line.startswith(("/", "big")))
    assert int(sizes["/dev/shm"]) <= 64 and int(sizes["/tmp"]) <= 64, out
    assert "dev-read-only" in out
    assert int(sizes["big"]) <= runtime.SCRATCH_BYTES


@pytest.mark.sandbox
@pytest.mark.skipif(os.geteuid() != 0, reason="distinct uids per unit need root (as a user, every unit is that user)")
def test_os_ring_each_unit_runs_as_a_uid_of_its_own(rt):
    first, second = runtime.take_uid(runtime.Rings()), runtime.take_uid(runtime.Rings())
    try:
        assert first != second and {first, second} <= set(runtime.UNIT_UIDS)
    finally:
        runtime.give_uid(first)
        runtime.give_uid(second)
    out, _ = in_ring(rt, "id -u; grep '^Max processes' /proc/self/limits", shell="/bin/bash")
    assert int(out.split()[0]) in runtime.UNIT_UIDS


MEMORY_PY = r"""
import os, time
for i in range(4):
    if os.fork() == 0:
        block = b"x" * (250 * 1024 * 1024)  # written, so resident (a bytearray's zero pages are not)
        time.sleep(60)
        os._exit(0)
open('/dev/shm/held', 'wb').write(b'x' * 50 * 1024 * 1024)
time.sleep(3)
print('ready', flush=True)
time.sleep(60)
"""


@pytest.mark.sandbox
def test_os_ring_the_host_counts_a_units_processes_and_shared_memory(rt):
    """Four children of 250 MB and 50 MB in /dev/shm: each process is far under RLIMIT_DATA, the
    host's sum sees them all and the watchdog's test stops the unit at its memory bound."""
    from blogtools.sandbox import Limits, _over_limits

    uid = runtime.take_uid(runtime.Rings())
    try:
        with tempfile.TemporaryDirectory() as folder:
            fifo = runtime.make_fifo(Path(folder), uid)
            proc, pid = runtime.start_unit(rt, runtime.runtime_binds(rt, fifo), ["/usr/bin/python3", "-c", MEMORY_PY],
                                           512, 600, runtime.Rings(), uid, system=True)
            try:
                assert proc.stdout.readline() == b"ready\n"
                held = runtime.unit_memory(pid)
                limits = Limits(cpu_seconds=600, wall_seconds=600, memory_mb=1)  # a bound of 897 MB
                over = _over_limits(pid, limits, runtime.Rings(), runtime.cpu_seconds(pid), time.monotonic())
                unwatched = _over_limits(pid, limits, runtime.Rings(memory_watchdog=False), 0.0, time.monotonic())
            finally:
                proc.kill()
                proc.wait()
    finally:
        runtime.give_uid(uid)
    assert held >= 1050 * 1024 * 1024, held >> 20
    assert over == "MemoryError: the unit held more than 897 MB (memory, shared memory and files)"
    assert unwatched is None
