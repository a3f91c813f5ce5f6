"use strict";
// Pyodide in a worker thread, driven by blogtools.sandbox over stdin/stdout, one JSON object a line.
// The main thread (host) only relays: /network reads go out to Python, which resolves them
// against its allowlist; runs have a time limit, enforced by terminating the worker.
// In:  {type:"init", pyodideDir, timeLimitMs, memoryLimitMb, data:{path:b64}, wheels:[b64]}
//      {type:"run", id, code, output:{path:b64}}     {type:"fetched", id, ok, data|error}
// Out: {type:"ready"}  {type:"fetch", id, name}
//      {type:"result", id, stdout, stderr, success, output:{path:b64}, timedOut}
const {
  MessageChannel, Worker, isMainThread, parentPort, receiveMessageOnPort, workerData,
} = require("node:worker_threads");

if (isMainThread) host();
else sandbox().catch((error) => parentPort.postMessage({ type: "failed", error: String(error.stack || error) }));

function host() {
  const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");
  const runs = [];
  const fetches = new Map();
  let config, worker, ready, current, fetchCount = 0;

  function startWorker() {
    ready = false;
    worker = new Worker(__filename, {
      workerData: config,
      resourceLimits: { maxOldGenerationSizeMb: config.memoryLimitMb },
    });
    worker.on("message", (msg) => {
      if (msg.type === "ready") { ready = true; send({ type: "ready" }); pump(); }
      else if (msg.type === "fetch") relayFetch(msg);
      else if (msg.type === "result") finish({ ...msg, timedOut: false });
      else if (msg.type === "failed") { send({ type: "failed", error: msg.error }); process.exit(1); }
    });
    worker.on("error", (error) => restart(`the interpreter crashed: ${error.message}`, false));
  }

  // Replace the worker; the run it was doing fails with `reason` (timedOut only for a timeout).
  function restart(reason, timedOut) {
    const dead = worker;
    worker = null;
    dead.removeAllListeners();
    dead.terminate();
    fetches.clear();
    if (current) finish({ stdout: "", stderr: reason + "\n", success: false, output: current.output, timedOut });
    startWorker();
  }

  function pump() {
    if (!ready || current || runs.length === 0) return;
    current = runs.shift();
    const seconds = config.timeLimitMs / 1000;
    current.timer = setTimeout(() => restart(
      `TimeoutError: the code ran past the sandbox's time limit of ${seconds} s; ` +
      "its worker was terminated and a fresh interpreter started", true), config.timeLimitMs);
    worker.postMessage({ type: "run", code: current.code, output: current.output });
  }

  function finish(result) {
    clearTimeout(current.timer);
    send({ type: "result", id: current.id, stdout: result.stdout, stderr: result.stderr,
           success: result.success, output: result.output, timedOut: result.timedOut });
    current = null;
    pump();
  }

  function relayFetch({ name, signalBuffer, port }) {
    const id = ++fetchCount;
    fetches.set(id, { port, signal: new Int32Array(signalBuffer) });
    send({ type: "fetch", id, name });
  }

  function answerFetch({ id, ok, data, error }) {
    const pending = fetches.get(id);
    if (!pending) return; // the worker that asked was terminated
    fetches.delete(id);
    pending.port.postMessage(ok ? { status: "ok", data: Buffer.from(data, "base64") }
                                : { status: "error", error: { message: error } });
    Atomics.store(pending.signal, 0, ok ? 1 : -1);
    Atomics.notify(pending.signal, 0);
    pending.port.close();
  }

  const lines = require("node:readline").createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const msg = JSON.parse(line);
    if (msg.type === "init") { config = msg; startWorker(); }
    else if (msg.type === "run") { runs.push(msg); pump(); }
    else if (msg.type === "fetched") answerFetch(msg);
  });
  lines.on("close", () => process.exit(0)); // the Python side is gone
}

async function sandbox() {
  const config = { ...workerData, home: "/home/pyodide" };
  const limit = config.memoryLimitMb * 1024 * 1024;
  const grow = WebAssembly.Memory.prototype.grow;
  // Pyodide's heap grows through here; past the limit malloc fails and Python raises MemoryError.
  WebAssembly.Memory.prototype.grow = function (pages) {
    if (this.buffer.byteLength + pages * 65536 > limit) {
      throw new RangeError(`sandbox memory limit of ${config.memoryLimitMb} MB reached`);
    }
    return grow.call(this, pages);
  };

  // Pyodide's NODEFS asks process.binding("constants") for the fs flags; the permission model
  // denies process.binding, so hand it the same constants from node:fs.
  process.binding = (name) => {
    if (name === "constants") return { fs: require("node:fs").constants };
    throw new Error(`process.binding(${name}) is not available in the sandbox`);
  };

  // Loading reads the Pyodide files from disk; nothing in here needs the worker's network APIs.
  for (const name of ["fetch", "WebSocket", "XMLHttpRequest", "EventSource"]) delete globalThis[name];

  let stdout = [], stderr = [];
  const { loadPyodide } = require(config.pyodideDir + "/pyodide.js");
  const pyodide = await loadPyodide({
    indexURL: config.pyodideDir + "/",
    jsglobals: Object.create(null), // the `js` module sees nothing of this worker's globals
    env: { HOME: config.home },
  });
  pyodide.setStdout({ write: (bytes) => { stdout.push(Buffer.from(bytes)); return bytes.length; } });
  pyodide.setStderr({ write: (bytes) => { stderr.push(Buffer.from(bytes)); return bytes.length; } });
  for (const wheel of config.wheels) pyodide.unpackArchive(new Uint8Array(Buffer.from(wheel, "base64")), "wheel");
  const FS = pyodide.FS;
  const MEMFS = FS.filesystems.MEMFS;
  const ENOENT = 44, EIO = 29, EACCES = 2;

  // No sockets: Emscripten's socket emulation would tunnel TCP over WebSockets from Node.
  pyodide._module.SOCKFS.createSocket = () => { throw new FS.ErrnoError(EACCES); };
  // pyodide_js and its submodules (pyodide_js._api, ...) hand Python the whole Pyodide API:
  // loadPackage fetches any URL, FS mounts the host's files. Unregister and forget all of them.
  pyodide.unregisterJsModule("pyodide_js");
  pyodide.runPython(
    "import sys\n" +
    "for name in [name for name in sys.modules if name.partition('.')[0] == 'pyodide_js']:\n" +
    "    del sys.modules[name]\n" +
    "del sys, name");
  // Should a way back to the API turn up, it finds no loader and no file system but MEMFS.
  const refuse = (what) => () => { throw new Error(`${what} is not available in the sandbox`); };
  for (const name of ["loadPackage", "loadPackagesFromImports", "mountNodeFS", "mountNativeFS"]) {
    pyodide[name] = refuse(name);
  }
  for (const name of ["NODEFS", "NATIVEFS_ASYNC", "PROXYFS", "WORKERFS", "IDBFS"]) {
    delete FS.filesystems[name];
    delete pyodide._module[name];
  }
  // V8's stack trace hook hands its callback each frame's `this`: for WebAssembly frames, the
  // Pyodide instance. Python can reach Error (through any JS exception), so pin the hook unset.
  Object.defineProperty(Error, "prepareStackTrace", { value: undefined, writable: false, configurable: false });

  FS.mkdir("/network");
  FS.mount(MEMFS, {}, "/network");
  const network = FS.lookupPath("/network").node;
  const dirOps = network.node_ops;
  network.node_ops = { ...dirOps, lookup(parent, name) {
    try { return dirOps.lookup(parent, name); }
    catch (error) { if (!(error instanceof FS.ErrnoError) || error.errno !== ENOENT) throw error; }
    const message = fetchFromHost(name);
    if (message.status !== "ok") {
      stderr.push(Buffer.from(`/network/${name}: ${message.error.message}\n`));
      throw new FS.ErrnoError(message.error.message.startsWith("no such resource") ? ENOENT : EIO);
    }
    const node = MEMFS.createNode(parent, name, 0o100444, 0);
    node.contents = new Uint8Array(message.data);
    node.usedBytes = node.contents.length;
    return node;
  } };
  network.mode = 0o40555;

  // Every run starts from the host's copies of /data and /output. Code runs as uid 0 and can
  // chmod /data writable, or put a link where /output was: whatever is at the path goes first.
  function replace(path, files) {
    remove(path);
    FS.mkdir(path);
    for (const [name, data] of Object.entries(files)) {
      FS.mkdirTree((path + "/" + name).replace(/\/[^/]*$/, ""));
      FS.writeFile(path + "/" + name, Buffer.from(data, "base64"));
    }
  }

  // lstat, not stat: a symbolic link is removed, never followed (a link to its own folder would
  // recurse without end, one to /lib would empty the standard library).
  function remove(path) {
    if (!FS.analyzePath(path, true).exists) return;
    if (!FS.isDir(FS.lstat(path).mode)) { FS.unlink(path); return; }
    FS.chmod(path, 0o755);
    clear(path);
    FS.rmdir(path);
  }

  function clear(path) {
    for (const name of FS.readdir(path)) if (name !== "." && name !== "..") remove(path + "/" + name);
  }

  function readOnly(path) {
    const stat = FS.stat(path);
    if (FS.isDir(stat.mode)) for (const name of FS.readdir(path)) {
      if (name !== "." && name !== "..") readOnly(path + "/" + name);
    }
    FS.chmod(path, FS.isDir(stat.mode) ? 0o555 : 0o444);
  }

  // The essay's sync fetch, turned around: this worker parks on Atomics.wait while the host
  // thread has Python fetch the resource, then takes the payload from the MessageChannel.
  function fetchFromHost(name) {
    const signalBuffer = new SharedArrayBuffer(4);
    const signal = new Int32Array(signalBuffer);
    const { port1, port2 } = new MessageChannel();
    parentPort.postMessage({ type: "fetch", name, signalBuffer, port: port2 }, [port2]);
    Atomics.wait(signal, 0, 0);
    const message = receiveMessageOnPort(port1);
    port1.close();
    return message.message;
  }

  // /output's regular files, by their path under /output (`name`). lstat again: not even /output
  // itself is followed if a run put a link in its place.
  function collect(path, name, into) {
    if (!FS.analyzePath(path, true).exists) return into;
    const mode = FS.lstat(path).mode;
    if (FS.isDir(mode)) {
      for (const child of FS.readdir(path)) {
        if (child !== "." && child !== "..") collect(path + "/" + child, name ? name + "/" + child : child, into);
      }
    } else if (FS.isFile(mode) && name) into[name] = Buffer.from(FS.readFile(path)).toString("base64");
    return into;
  }

  parentPort.on("message", ({ code, output }) => {
    try {
      FS.chdir("/"); // a folder in use (the last run's working directory) cannot be removed
      network.mode = 0o40755; // every run reads /network afresh: drop what the last one fetched
      clear("/network");
      network.mode = 0o40555;
      replace("/data", config.data);
      readOnly("/data");
      replace("/output", output);
      FS.chdir(config.home);
    } catch (error) {
      // Only a run that broke the file system gets here (say, chmod 555 /): the host restarts us.
      throw new Error(`the sandbox could not reset its files (${error.name} ${error.errno ?? error.message})`);
    }
    stdout = [];
    stderr = [];
    let success = true;
    const globals = pyodide.globals.get("dict")();
    try {
      pyodide.runPython(code, { globals, filename: "<exec>" });
    } catch (error) {
      success = false;
      stderr.push(Buffer.from(String(error.message ?? error)));
    } finally {
      globals.destroy();
    }
    parentPort.postMessage({
      type: "result", success, output: collect("/output", "", {}),
      stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8"),
    });
  });
  parentPort.postMessage({ type: "ready" });
}
