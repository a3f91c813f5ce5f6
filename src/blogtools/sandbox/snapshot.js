// Makes the memory snapshot every guest (guest.js) starts from: Pyodide loaded with guest.js's
// options, before anything else has run, written to stdout. Run once per runtime, by the host,
// in a unit's OS ring (runtime._memory_snapshot); no code from outside blogtools runs here.
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
