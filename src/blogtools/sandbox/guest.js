// The guest of blogtools.sandbox: Pyodide under Deno, inside bubblewrap, one trust unit per process.
// Deno starts with reads of /runtime/pyodide and writes to /channel/out only; once Pyodide is
// loaded and hardened, every permission is revoked and the Deno namespace deleted.
// In (stdin, one JSON object a line, from the host only):
//   {type:"unit", files:{path:b64}, wheels:[b64]}   {type:"run", id, code}
//   {type:"read-reply", ok, data:b64 | error}
// Out (/channel/out, a FIFO the guest code cannot reach; stdout and stderr are never parsed):
//   {type:"ready"}  {type:"read", name}  {type:"result", id, stdout, stderr, success, output:{path:b64}}
// The loop is synchronous: no event-loop turn happens after loading, so no timer, promise or
// asyncio callback a run leaves behind can ever run.
"use strict";

const [memoryMb, maxStreamChars] = Deno.args.map(Number);
const channel = Deno.openSync("/channel/out", { write: true });
const stdin = Deno.stdin;
const exit = Deno.exit;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function send(message) {
  const bytes = encoder.encode(JSON.stringify(message) + "\n");
  for (let offset = 0; offset < bytes.length;) offset += channel.writeSync(bytes.subarray(offset));
}

let pending = new Uint8Array(0);
function receive() {
  for (;;) {
    const newline = pending.indexOf(10);
    if (newline >= 0) {
      const line = decoder.decode(pending.subarray(0, newline));
      pending = pending.slice(newline + 1);
      return JSON.parse(line);
    }
    const chunk = new Uint8Array(1 << 20);
    const n = stdin.readSync(chunk);
    if (n === null) exit(0); // the host is gone
    const joined = new Uint8Array(pending.length + n);
    joined.set(pending);
    joined.set(chunk.subarray(0, n), pending.length);
    pending = joined;
  }
}

const b64decode = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
function b64encode(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// The WebAssembly heap grows through here: past the limit malloc fails and Python raises MemoryError.
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (pages) {
  if (this.buffer.byteLength + pages * 65536 > memoryMb * 1024 * 1024) {
    throw new RangeError(`sandbox memory limit of ${memoryMb} MB reached`);
  }
  return grow.call(this, pages);
};

const streams = { stdout: [], stderr: [] };
const kept = { stdout: 0, stderr: 0 };
function collector(name) {
  return { write(bytes) {
    if (kept[name] < maxStreamChars) {
      const part = bytes.slice(0, maxStreamChars - kept[name]);
      streams[name].push(part);
      kept[name] += part.length;
    }
    return bytes.length;
  } };
}

const { loadPyodide } = await import("/runtime/pyodide/pyodide.mjs");
const pyodide = await loadPyodide({
  indexURL: "/runtime/pyodide/",
  jsglobals: Object.create(null), // the `js` module sees nothing of this realm
  env: { HOME: "/home/sandbox" },
});
pyodide.setStdin({ error: true }); // the process's stdin carries the host's messages: never the code's
pyodide.setStdout(collector("stdout"));
pyodide.setStderr(collector("stderr"));
const M = pyodide._module;
const FS = pyodide.FS;
const MEMFS = FS.filesystems.MEMFS;

// --- the interpreter ring ---------------------------------------------------------------------
// Built-in modules that hand Python raw memory or JavaScript (ctypes, CPython's test modules):
// their init functions in the inittab, and every copy of the table in the heap, are replaced
// by errno's, so even _imp.create_builtin gets nothing but errno.
const BUILTINS_REMOVED = ["_ctypes", "_testbuffer", "_testcapi", "_testinternalcapi", "_testlimitedcapi",
                          "_testclinic", "_testclinic_limited", "_xxtestfuzz", "_remote_debugging"];
{
  const heap = M.HEAPU32;
  const entries = new Map();
  let errnoInit = 0;
  for (let p = heap[M._PyImport_Inittab >> 2]; heap[p >> 2]; p += 8) {
    const name = M.UTF8ToString(heap[p >> 2]);
    if (name === "errno") errnoInit = heap[(p >> 2) + 1];
    if (BUILTINS_REMOVED.includes(name)) entries.set(heap[p >> 2], heap[(p >> 2) + 1]);
  }
  if (!errnoInit) throw new Error("errno is not in the inittab");
  for (let i = 0; i + 1 < heap.length; i += 2) {
    if (entries.get(heap[i]) === heap[i + 1]) heap[i + 1] = errnoInit;
  }
}
M.SOCKFS.createSocket = () => { throw new FS.ErrnoError(2); }; // EACCES: no socket emulation
pyodide.unregisterJsModule("pyodide_js");
pyodide.unregisterJsModule("js");
for (const name of ["NODEFS", "NATIVEFS_ASYNC", "PROXYFS", "WORKERFS", "IDBFS"]) {
  delete FS.filesystems[name];
  delete M[name];
}
Object.defineProperty(Error, "prepareStackTrace", { value: undefined, writable: false, configurable: false });
// Python side: drop the FFI's entry points, check that no JsProxy is left anywhere in the heap
// (fail closed), then an audit hook refuses any later import of the removed modules.
const audit = pyodide.runPython(`
import gc, sys, time, types
import _pyodide_core
time.sleep = getattr(time.sleep, "__wrapped__", time.sleep)  # Pyodide's sleep goes through the FFI
from pyodide.ffi import JsProxy
_ffi = {id(value) for name, value in vars(_pyodide_core).items() if not name.startswith("__")}
for _module in [o for o in gc.get_objects() if isinstance(o, types.ModuleType)]:
    for _name in [n for n, v in vars(_module).items() if id(v) in _ffi]:
        delattr(_module, _name)
_BLOCKED = frozenset({"ctypes", "js", "pyodide_js", "pyodide", "_pyodide", "_pyodide_core", "micropip",
                      ${BUILTINS_REMOVED.map((n) => JSON.stringify(n)).join(", ")}})
for _name in [n for n in sys.modules if n.partition(".")[0] in _BLOCKED]:
    del sys.modules[_name]
for _name in _BLOCKED:
    sys.modules[_name] = None
# Single-phase modules come back whole from _imp.create_builtin (a stripped _pyodide_core with
# to_js again), and create_dynamic would load any WebAssembly module: import every other
# built-in now, then take both away.
import _imp
for _name in sorted(set(sys.builtin_module_names) - _BLOCKED - set(sys.modules)):
    __import__(_name)
for _name in ("create_builtin", "create_dynamic", "exec_builtin", "exec_dynamic"):
    delattr(_imp, _name)
def _audit(event, args, blocked=_BLOCKED):
    if event == "import" and str(args[0]).partition(".")[0] in blocked:
        raise ImportError(f"{args[0]} is not available in the sandbox")
sys.addaudithook(_audit)
# Cut every reference to a JavaScript object that Pyodide's own modules and import hooks hold
# (webloop's scheduleCallback, the package loader's API, the js-module loaders).
for _holder in gc.get_objects():
    _holder = vars(_holder) if not isinstance(_holder, dict) and isinstance(getattr(_holder, "__dict__", None), dict) else _holder
    if isinstance(_holder, dict):
        for _name in [k for k, v in _holder.items() if isinstance(v, JsProxy)]:
            del _holder[_name]
    elif isinstance(_holder, list):
        _holder[:] = [v for v in _holder if not isinstance(v, JsProxy)]
del _holder
gc.collect()
# JsException(name, message) makes a new JavaScript Error, whose js_error leads on to the realm's
# Array, Function and Object.prototype: every FFI type's own constructor is replaced by a refusal
# (the C constructor is then gone from the type's slot, so deleting the refusal does not bring it back).
def _refuse(cls, *args, **kwargs):
    raise TypeError(f"{cls.__name__} objects cannot be made in the sandbox")
_kinds = [t for t in gc.get_objects() if isinstance(t, type) and issubclass(t, JsProxy)]
for _kind in _kinds:
    if "__new__" in vars(_kind):
        _kind.__new__ = staticmethod(_refuse)
def _made(kind):
    try:
        return isinstance(kind("Error", "audit"), JsProxy)
    except TypeError:
        return False
_found = sum(isinstance(o, JsProxy) or any(isinstance(r, JsProxy) for r in gc.get_referents(o))
             for o in gc.get_objects()) + sum(map(_made, _kinds))
del gc, sys, time, types, JsProxy, _pyodide_core, _imp, _ffi, _module, _name, _BLOCKED, _audit, _kinds, _kind, _made
_found
`);
if (audit !== 0) throw new Error(`${audit} JavaScript objects are still reachable from Python`);

// --- the runtime ring: nothing is allowed from here on -----------------------------------------
// Emscripten asks Node's process.getuid() for os.getuid(), which needs Deno's sys permission
// (and threw a fatal error): answer as it does in a browser.
process.getuid = () => 0;
for (const name of ["read", "write", "net", "env", "run", "ffi", "sys", "import"]) {
  await Deno.permissions.revoke({ name });
}
// The self-check's canaries for this ring (blogtools.sandbox.selfcheck): before any code is given,
// a permission that still works stops the start, and the host fails the runtime ring.
for (const [name, attempt] of Object.entries({
  read: () => Deno.readFileSync("/runtime/pyodide/package.json"),
  write: () => Deno.openSync("/channel/out", { write: true }),
  net: () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  run: () => new Deno.Command("/runtime/deno", { args: ["--version"] }).outputSync(),
  env: () => Deno.env.toObject(),
})) {
  let through = true;
  try { attempt(); } catch { through = false; }
  if (through) throw new Error(`self-check: runtime ring: ${name} got through`);
}
for (const name of ["Deno", "fetch", "WebSocket", "Worker", "EventSource", "XMLHttpRequest", "BroadcastChannel",
                    "caches", "navigator", "localStorage", "sessionStorage"]) {
  delete globalThis[name];
}

// --- the file system: /data read-only, /output writable and returned, /network brokered -------
function mkfiles(files) {
  for (const [path, data] of Object.entries(files)) {
    FS.mkdirTree("/" + path.replace(/\/[^/]*$/, ""));
    FS.writeFile("/" + path, b64decode(data));
  }
}

function readOnly(path) {
  const mode = FS.lstat(path).mode;
  if (FS.isDir(mode)) for (const name of FS.readdir(path)) if (name !== "." && name !== "..") readOnly(path + "/" + name);
  if (!FS.isLink(mode)) FS.chmod(path, FS.isDir(mode) ? 0o555 : 0o444);
}

// Regular files under /output, never following a link (lstat), not even /output itself.
function collect(path, name, into) {
  if (!FS.analyzePath(path, true).exists) return into;
  const mode = FS.lstat(path).mode;
  if (FS.isDir(mode)) {
    for (const child of FS.readdir(path)) {
      if (child !== "." && child !== "..") collect(path + "/" + child, name ? name + "/" + child : child, into);
    }
  } else if (FS.isFile(mode) && name) into[name] = b64encode(FS.readFile(path));
  return into;
}

function mountNetwork() {
  FS.mkdir("/network");
  FS.mount(MEMFS, {}, "/network");
  const network = FS.lookupPath("/network").node;
  const ops = network.node_ops;
  network.node_ops = { ...ops, lookup(parent, name) {
    // A name the host's validator would refuse is simply not there: innocent code gets ENOENT,
    // not a refused message that ends the unit's process.
    if (name.length > 255 || /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\\]/u.test(name)) throw new FS.ErrnoError(44);
    send({ type: "read", name });
    let reply;
    do reply = receive(); while (reply.type !== "read-reply");
    if (!reply.ok) {
      collector("stderr").write(encoder.encode(`/network/${name}: ${reply.error}\n`));
      throw new FS.ErrnoError(reply.missing ? 44 : 29); // ENOENT or EIO
    }
    const node = MEMFS.createNode(parent, name, 0o100444, 0);
    node.contents = b64decode(reply.data);
    node.usedBytes = node.contents.length;
    return node;
  } };
  network.mode = 0o40555;
}

function run(code) {
  const network = FS.lookupPath("/network").node; // every run reads /network afresh
  network.mode = 0o40755;
  for (const name of FS.readdir("/network")) if (name !== "." && name !== "..") FS.unlink("/network/" + name);
  network.mode = 0o40555;
  streams.stdout = [];
  streams.stderr = [];
  kept.stdout = kept.stderr = 0;
  let success = true;
  const globals = pyodide.globals.get("dict")();
  try {
    FS.chdir("/home/sandbox");
    pyodide.runPython(code, { globals, filename: "<exec>" });
  } catch (error) {
    if (!(error instanceof pyodide.ffi.PythonError)) throw error; // a fatal error: the unit's process ends
    success = false;
    collector("stderr").write(encoder.encode(String(error.message ?? error)));
  } finally {
    try { globals.destroy(); } catch { /* the interpreter is gone */ }
  }
  const text = (parts) => {
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    parts.reduce((offset, part) => (bytes.set(part, offset), offset + part.length), 0);
    return decoder.decode(bytes);
  };
  return { stdout: text(streams.stdout), stderr: text(streams.stderr), success, output: collect("/output", "", {}) };
}

send({ type: "ready" });
const unit = receive();
if (unit.type !== "unit") exit(2);
for (const wheel of unit.wheels) pyodide.unpackArchive(b64decode(wheel), "wheel");
FS.mkdirTree("/home/sandbox");
FS.mkdirTree("/data");
FS.mkdirTree("/output");
mkfiles(unit.files);
readOnly("/data");
mountNetwork();
for (;;) {
  const message = receive();
  if (message.type !== "run") exit(2);
  let result;
  try {
    result = run(message.code);
  } catch (error) { // a fatal interpreter error: the host sees this process end and starts a fresh one
    console.error(`fatal interpreter error: ${String(error).slice(0, 200)}`);
    exit(3);
  }
  send({ type: "result", id: message.id, ...result });
}
