// Makes the memory snapshot every guest (guest.js) starts from: Pyodide loaded, before anything
// else has run, written to stdout. Python's start state (os.environ, argv, flags) is set here
// alone: a guest restoring the snapshot keeps it (its `env` must be this one). This file's bytes
// are part of the snapshot's key. Run once per runtime by the host, in a unit's OS ring
// (runtime._memory_snapshot); no code from outside blogtools runs here.
"use strict";

const { loadPyodide } = await import("/runtime/pyodide/pyodide.mjs");
const pyodide = await loadPyodide({
  indexURL: "/runtime/pyodide/",
  jsglobals: Object.create(null),
  env: { HOME: "/home/sandbox" },
  _makeSnapshot: true,
});
const snapshot = pyodide.makeMemorySnapshot();
for (let written = 0; written < snapshot.length;) {
  written += Deno.stdout.writeSync(snapshot.subarray(written));
}
