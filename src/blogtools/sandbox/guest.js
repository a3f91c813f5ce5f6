// The guest of blogtools.sandbox: Pyodide under Deno, inside bubblewrap, one trust unit per process.
// Deno starts with reads of /runtime/pyodide and /runtime/snapshot.bin and writes to /channel/out
// only; once Pyodide is loaded and hardened, every permission is revoked and Deno deleted.
// In (stdin, one JSON object a line, from the host only):
//   {type:"unit", files:{path:b64}, wheels:[b64]}   {type:"run", id, code}
//   {type:"run", id, steps:[{code, mode:"exec"|"single", quiet, filename, exits}]}   {type:"read-reply", ok, data:b64 | error}
// Out (/channel/out, a FIFO the guest code cannot reach; stdout and stderr are never parsed):
//   {type:"ready"}  {type:"read", name}  {type:"result", id, stdout, stderr, success, output:{path:b64}, settled}
//   {type:"result", id, steps:[{stdout, stderr, success, truncated}], output:{path:b64}, settled}   (a run of steps)
// The loop is synchronous: no event-loop turn happens after loading, so no timer, promise or
// asyncio callback a run leaves behind can ever run.
"use strict";

const [memoryMb, maxStreamChars] = Deno.args.slice(0, 2).map(Number);
// Which of this script's rings are on (runtime.Rings; all of them unless a self-check test removes one).
const knobs = JSON.parse(Deno.args[2] ?? "{}");
const channel = Deno.openSync("/channel/out", { write: true });
const stdin = Deno.stdin;
const exit = Deno.exit;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The channel holds even in a realm whose prototypes were changed: every function it uses is
// taken now, before any other code runs, and a message is copied into objects with no prototype
// (a toJSON or getter added to Object.prototype never applies), field by field; an array into a
// fresh array, element by element.
const { stringify } = JSON;
const { apply } = Reflect;
const { create, keys, defineProperty } = Object;
const { isArray } = Array;
const encode = TextEncoder.prototype.encode;
const subarray = Uint8Array.prototype.subarray;
const writeSync = Object.getPrototypeOf(channel).writeSync;
function plain(value) {
  if (typeof value !== "object" || value === null) return value;
  if (isArray(value)) {
    const copy = [];
    for (let i = 0; i < value.length; i++) {
      defineProperty(copy, i, { value: plain(value[i]), enumerable: true, writable: true, configurable: true });
    }
    return copy;
  }
  const copy = create(null);
  for (const key of keys(value)) copy[key] = plain(value[key]);
  return copy;
}
function send(message) {
  const bytes = apply(encode, encoder, [stringify(plain(message)) + "\n"]);
  for (let offset = 0; offset < bytes.length;) offset += apply(writeSync, channel, [apply(subarray, bytes, [offset])]);
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
    if (kept[name] + bytes.length > maxStreamChars) streams.truncated = true;
    if (kept[name] < maxStreamChars) {
      const part = bytes.slice(0, maxStreamChars - kept[name]);
      streams[name].push(part);
      kept[name] += part.length;
    }
    return bytes.length;
  } };
}

const { loadPyodide } = await import("/runtime/pyodide/pyodide.mjs");
// Python starts from the memory snapshot the host made of Pyodide just loaded (snapshot.js,
// runtime._memory_snapshot): about a seventh of the CPU of starting Python afresh. Python's own
// start state (os.environ, argv, flags) is the snapshot's; the loader still makes HOME the
// working folder from `env`, which must be snapshot.js's (tests/test_sandbox.py checks both).
// Everything below, the hardening included, runs on every start.
const pyodide = await loadPyodide({
  indexURL: "/runtime/pyodide/",
  jsglobals: Object.create(null), // the `js` module sees nothing of this realm
  env: { HOME: "/home/sandbox" },
  _loadSnapshot: Deno.readFileSync("/runtime/snapshot.bin"),
});
// The snapshot's Python drew its random state and read the clock when the snapshot was made: the
// random module is seeded afresh (this first draw loads the source of randomness while Deno is
// still here) and logging's start time is now. (str hashes keep the snapshot's seed: the same in
// every unit, fixed before any unit ran.)
pyodide.runPython("import logging, random, time\nrandom.seed()\nlogging._startTime = time.time_ns()\ndel logging, random, time");
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
const BLOCKED = ["ctypes", "js", "pyodide_js", "pyodide", "_pyodide", "_pyodide_core", "micropip", ...BUILTINS_REMOVED];
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
// Python side: unlink the FFI's entry points, list them to be disabled in place, check that no
// JsProxy is left anywhere in the heap (fail closed); an audit hook refuses later imports.
const AUDIT_HOOK = `def _audit(event, args):
    if event == "import" and "".__class__.partition(args[0], ".")[0] in {${BLOCKED.map((n) => JSON.stringify(n)).join(", ")}}:
        raise ImportError(f"{args[0]} is not available in the sandbox")
    if event == "object.__setattr__" and args[1] in ("__code__", "__defaults__", "__kwdefaults__"):
        raise PermissionError(f"{args[1]} cannot be replaced in the sandbox")`;
const hardening = JSON.parse(pyodide.runPython(`
import gc, json, sys, time, types
import _pyodide_core
time.sleep = getattr(time.sleep, "__wrapped__", time.sleep)  # Pyodide's sleep goes through the FFI
from pyodide.ffi import JsProxy
_ffi = {id(value) for name, value in vars(_pyodide_core).items() if not name.startswith("__")}
_entries = [(id(v), "f", v.__name__) for v in vars(_pyodide_core).values() if isinstance(v, types.BuiltinFunctionType)]
_keep = [*vars(_pyodide_core).values()]  # alive until the host has disabled them in place
for _module in [o for o in gc.get_objects() if isinstance(o, types.ModuleType)]:
    for _name in [n for n, v in vars(_module).items() if id(v) in _ffi]:
        delattr(_module, _name)
_BLOCKED = frozenset(${JSON.stringify(BLOCKED)})
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
# Every C entry point of the FFI (the module's functions, its types' methods) and _imp's loaders,
# disabled in place by the host below: unlinked, the objects still live (gc lists them).
_kinds = [t for t in gc.get_objects() if isinstance(t, type) and (issubclass(t, JsProxy) or t.__module__ == "_pyodide_core"
                                                                   or any(t is v for v in vars(_pyodide_core).values()))]
_entries += [(id(getattr(_imp, n)), "f", n) for n in ("create_builtin", "create_dynamic", "exec_builtin", "exec_dynamic")]
_entries += [(id(v), "d", v.__name__) for t in _kinds for v in vars(t).values()
             if isinstance(v, (types.MethodDescriptorType, types.ClassMethodDescriptorType))]
_keep += [_imp.__dict__.copy(), *_kinds]
for _name in ("create_builtin", "create_dynamic", "exec_builtin", "exec_dynamic"):
    delattr(_imp, _name)
# The hook holds nothing a guest could rewrite: no defaults, closure or global it reads (the names
# are a constant of its code), and no function's code or defaults may be replaced.
exec(${JSON.stringify(AUDIT_HOOK)}, {"__builtins__": __builtins__}, _scope := {})
sys.addaudithook(_scope.pop("_audit"))
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
for _kind in _kinds:
    if "__new__" in vars(_kind):
        _kind.__new__ = staticmethod(_refuse)
def _made(kind):
    try:
        return isinstance(kind("Error", "audit"), JsProxy)
    except TypeError:
        return False
# One pass over the heap: every object the collector lists, and what each refers to.
_heap = {id(x): x for o in gc.get_objects() for x in (o, *gc.get_referents(o))}
_found = sum(isinstance(o, JsProxy) for o in _heap.values()) + sum(map(_made, [k for k in _kinds if issubclass(k, JsProxy)]))
_c_functions = (types.BuiltinFunctionType, types.MethodDescriptorType, types.ClassMethodDescriptorType)
_report = json.dumps({"found": _found, "entries": _entries, "callables": [
    (i, "f" if isinstance(o, types.BuiltinFunctionType) else "d") for i, o in _heap.items() if isinstance(o, _c_functions)]})
_keep.append(_heap)
del gc, json, sys, time, types, JsProxy, _pyodide_core, _imp, _ffi, _module, _name, _BLOCKED, _kinds, _kind, _made, _scope
_report
`));
if (hardening.found !== 0) throw new Error(`${hardening.found} JavaScript objects are still reachable from Python`);

// A C function object points to its PyMethodDef {ml_name, ml_meth, ml_flags, ml_doc}: a builtin
// function at word 2 (after refcount and type), a method descriptor at word 5 (after type, name,
// qualname). Each FFI ml_meth becomes 0, which the interpreter refuses (SystemError), for every
// object made from that definition, now or later (a re-created module included).
const methodDef = (address, kind) => M.HEAPU32[(address >> 2) + (kind === "f" ? 2 : 5)];
const ffiMethods = new Set();
if (knobs.interpreter) {
  for (const [address, kind, name] of hardening.entries) {
    const def = methodDef(address, kind);
    if (M.UTF8ToString(M.HEAPU32[def >> 2]) !== name) throw new Error(`the FFI entry ${name} is not where expected`);
    if (M.HEAPU32[(def >> 2) + 1]) ffiMethods.add(M.HEAPU32[(def >> 2) + 1]);
    M.HEAPU32[(def >> 2) + 1] = 0;
  }
}
// The audit enumerates the heap: every C function and method the collector reaches (and what
// those objects refer to, kept alive until now) must run something other than an FFI entry point.
const { callables } = hardening;
const live = callables.filter(([address, kind]) => ffiMethods.has(M.HEAPU32[(methodDef(address, kind) >> 2) + 1]));
if (knobs.interpreter && (!ffiMethods.size || live.length)) {
  throw new Error(`${live.length} FFI functions are still callable from Python`);
}
// What is alive now is the interpreter's own: frozen, so the collection after every run (pyForget,
// below) scans only what guest code made since.
pyodide.runPython("del _keep, _report, _entries, _refuse, _heap, _c_functions\nimport gc\ngc.collect()\ngc.freeze()\ndel gc");

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
// Deno's read permission does not cover imports: only the import map refuses a file: import.
let imported = true;
try { await import("file:///runtime/imports/guest.json", { with: { type: "json" } }); } catch { imported = false; }
if (imported) throw new Error("self-check: runtime ring: a file: import got through (no import map)");
for (const name of ["Deno", "fetch", "WebSocket", "Worker", "EventSource", "XMLHttpRequest", "BroadcastChannel",
                    "caches", "navigator", "localStorage", "sessionStorage"]) {
  delete globalThis[name];
}

// --- the realm: every intrinsic frozen ---------------------------------------------------------
// Nothing of this realm may be changed once loaded: a getter added to Object.prototype, a toJSON
// or a replaced Array method would run inside the guest's own code. Freezing alone breaks
// Pyodide ("the override mistake": `error.name = ...` on an object whose prototype's `name` is
// frozen throws), so such properties become accessors first: reading gives the value, assigning
// to an object that inherits it makes an own property, assigning to the prototype throws.
const OVERRIDABLE = ["constructor", "name", "message", "toString", "valueOf", "toLocaleString", "toJSON", "stack"];
const NAMESPACES = ["JSON", "Math", "Reflect", "Atomics", "WebAssembly", "Intl", "Temporal"];
function hardenRealm() {
  const seen = new Set();
  // The roots: every global function and constructor, the standard namespaces, and the intrinsics
  // only instances lead to; from them, everything their properties and prototypes reach.
  const globals = Object.getOwnPropertyNames(globalThis).map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n).value]);
  const pending = [...globals.filter(([n, v]) => typeof v === "function" || NAMESPACES.includes(n)).map(([, v]) => v),
  Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function () {}),
  Object.getPrototypeOf(async function* () {}), Object.getPrototypeOf(Int8Array), [][Symbol.iterator](),
  new Map().entries(), new Set().values(), ""[Symbol.iterator](), "".matchAll(/x/g),
  (function* () {})(), (async function* () {})()];
  while (pending.length) {
    const value = pending.pop();
    if ((typeof value !== "object" && typeof value !== "function") || value === null || seen.has(value)) continue;
    seen.add(value);
    for (const key of Reflect.ownKeys(value)) {
      const property = Object.getOwnPropertyDescriptor(value, key);
      const overridable = OVERRIDABLE.includes(key) || value === Object.prototype; // MEMFS keys files by name in a {}
      if (overridable && "value" in property && property.configurable && property.writable) {
        const kept = property.value;
        Object.defineProperty(value, key, {
          get() { return kept; },
          set(replacement) {
            if (this === value) throw new TypeError(`${String(key)} of a frozen intrinsic cannot be replaced`);
            Object.defineProperty(this, key, { value: replacement, writable: true, enumerable: true, configurable: true });
          },
          enumerable: property.enumerable, configurable: false,
        });
      }
      pending.push(property.value, property.get, property.set);
    }
    pending.push(Object.getPrototypeOf(value));
    if (value !== Error) Object.freeze(value);
  }
  // Error.stackTraceLimit stays writable (Pyodide sets it while it formats an error): a number,
  // not a hook. Everything else of Error is fixed as freezing would.
  for (const key of Reflect.ownKeys(Error)) {
    const keep = key === "stackTraceLimit";
    Object.defineProperty(Error, key, { configurable: false, ...(keep || !("value" in Object.getOwnPropertyDescriptor(Error, key)) ? {} : { writable: false }) });
  }
  Object.preventExtensions(Error);
  return seen.size;
}
if (knobs.realm) hardenRealm();
// The self-check's canary for the realm: its prototypes, as a block's code would find them.
for (const [name, value] of Object.entries({ Object: Object.prototype, Array: Array.prototype, Function: Function.prototype })) {
  if (!Object.isFrozen(value)) throw new Error(`self-check: interpreter ring: the realm is not frozen (${name}.prototype)`);
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
    if (encoder.encode(name).length > 255 || /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\\]/u.test(name)) throw new FS.ErrnoError(44);
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

// Python's own compile and exec, taken before any guest code runs: a step is compiled and run by
// these C functions from here, with no Python code of Pyodide's (which a guest could rewrite) in
// between, and whether it raised is seen here, where Python cannot reach.
const pyCompile = pyodide.runPython("compile");
const pyExec = pyodide.runPython("exec");
const pyDict = pyodide.runPython("dict"); // not pyodide.globals.get("dict"): __main__.dict is the guest's to set
// A step that may end the script (``exits``): sys.exit(0) or SystemExit with no code ends it as a
// success, judged here (a type and a value, not a traceback's text, which a guest can shape). The
// function reads no global and its defaults and code cannot be replaced (the audit hook refuses).
const pyExits = pyodide.runPython(`def exits(code, namespace, _exec=exec, _exit=SystemExit, _type=type, _int=int):
    try:
        _exec(code, namespace)
    except _exit as error:
        value = error.code
        if value is None or _type(value) is _int and value == 0:
            return True
        raise
    return False
exits`, { globals: pyDict() });
// The interpreter's own stdout and stderr, flushed after every step (as the REPL flushes after each
// statement), so a partial line a step leaves in Python's buffer is that step's, never the next one's.
const pyFlushes = pyodide.runPython("import sys\n(sys.stdout.flush, sys.stderr.flush)").toJs({ depth: 1 });
function flushPython() {
  for (const flush of pyFlushes) {
    try { flush(); } catch (error) { if (!(error instanceof pyodide.ffi.PythonError)) throw error; } // a closed stream
  }
}
// What a run leaves in the interpreter's own state for the next one, forgotten after every run: the
// REPL's "_" (a prompt's value), the last error (sys.last_exc and its kin, with its frames), and
// objects in reference cycles, whose finalizers would otherwise run, and print, inside a later run.
// A finalizer may make new garbage, and a collection that ran finalizers may count nothing (what
// they ended is freed, and counted, by the next one): collected until two collections in a row find
// nothing, six at most; true when nothing is left. So a block that imports nothing (triage's
// python_contained) leaves nothing a later block can see.
const pyForget = pyodide.runPython(`def forget(_builtins=vars(__import__("builtins")), _sys=vars(__import__("sys")),
           _collect=__import__("gc").collect, _garbage=__import__("gc").garbage,
           _names=("last_exc", "last_type", "last_value", "last_traceback")):
    _builtins.pop("_", None)
    for name in _names:
        _sys.pop(name, None)
    quiet = 0
    for _ in range(6):
        quiet = 0 if _collect() else quiet + 1
        if quiet == 2:
            return not _garbage
    return False
forget`, { globals: pyDict() });

const joined = (parts) => {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((offset, part) => (bytes.set(part, offset), offset + part.length), 0);
  return decoder.decode(bytes);
};

// One step in ``globals``: its code compiled as a module ("exec") or as a REPL prompt ("single":
// an expression's value printed by sys.displayhook); what it printed, unless ``quiet``, and whether it raised.
function step({ code, mode, quiet, filename, exits }, globals) {
  streams.stdout = [];
  streams.stderr = [];
  streams.truncated = false;
  const quota = { ...kept };
  if (quiet) kept.stdout = kept.stderr = maxStreamChars; // nothing of it is kept
  let success = true;
  let compiled;
  try {
    compiled = pyCompile(code, filename, mode);
    if (exits) pyExits(compiled, globals); else pyExec(compiled, globals);
  } catch (error) {
    if (!(error instanceof pyodide.ffi.PythonError)) throw error; // a fatal error: the unit's process ends
    success = false;
    collector("stderr").write(encoder.encode(String(error.message ?? error)));
  } finally {
    try { compiled?.destroy(); } catch { /* the interpreter is gone */ }
  }
  flushPython();
  if (quiet) Object.assign(kept, quota);
  return { stdout: joined(streams.stdout), stderr: joined(streams.stderr), success, truncated: !quiet && streams.truncated };
}

// A run: its steps one after another in one fresh globals dict (a script's: __name__ is "__main__"),
// each run whether or not the one before raised. The streams' limit is the run's, over all its steps.
function run(message) {
  const network = FS.lookupPath("/network").node; // every run reads /network afresh
  network.mode = 0o40755;
  for (const name of FS.readdir("/network")) if (name !== "." && name !== "..") FS.unlink("/network/" + name);
  network.mode = 0o40555;
  kept.stdout = kept.stderr = 0;
  const steps = message.steps ?? [{ code: message.code, mode: "exec", quiet: false, filename: "<exec>", exits: false }];
  const globals = pyDict();
  const done = [];
  try {
    globals.set("__name__", "__main__");
    FS.chdir("/home/sandbox");
    for (const each of steps) done.push(step(each, globals));
  } finally {
    try { globals.destroy(); } catch { /* the interpreter is gone */ }
  }
  const settled = settle();
  const output = collect("/output", "", Object.create(null));
  const { stdout, stderr, success } = done[0];
  return message.steps ? { steps: done, output, settled } : { stdout, stderr, success, output, settled };
}

// After a run's last step: what it left is forgotten (pyForget), and whatever that printed, a
// partial line left in Python's buffers included, is thrown away, never the next run's output.
// False when its garbage did not settle: the host then ends this process.
function settle() {
  let settled = false;
  try {
    settled = pyForget() === true;
  } catch (error) {
    if (!(error instanceof pyodide.ffi.PythonError)) throw error;
  }
  flushPython();
  streams.stdout = [];
  streams.stderr = [];
  return settled;
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
    result = run(message);
  } catch (error) { // a fatal interpreter error: the host sees this process end and starts a fresh one
    console.error(`fatal interpreter error: ${String(error).slice(0, 200)}`);
    exit(3);
  }
  send({ type: "result", id: message.id, ...result });
}
