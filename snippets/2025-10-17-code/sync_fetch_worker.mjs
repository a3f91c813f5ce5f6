// The published sync fetch (2025-10-17-code/01), worker-thread half, run as published.
// Wrapped only where it must be: the block calls `serialize(error)` without defining it, and its
// `fetch(url)` has no time limit (a server that never answers would park the caller for good),
// so `fetch` here is the global fetch with an AbortSignal timeout. The lines between the
// PUBLISHED markers are the essay's text, unchanged.
import { parentPort, workerData } from "node:worker_threads";

function serialize(error) {
  return { name: error.name, message: error.message };
}

const fetch = (url) => globalThis.fetch(url, { signal: AbortSignal.timeout(workerData.timeoutMs) });

// PUBLISHED: worker thread
// worker thread: perform async fetch, then wake the main thread
parentPort.on("message", async ({ url, signalBuffer, port }) => {
  const signal = new Int32Array(signalBuffer);
  try {
    const bytes = await fetch(url).then(r => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.arrayBuffer();
    });
    port.postMessage({ status: "ok", data: new Uint8Array(bytes) });
    Atomics.store(signal, 0, 1);          // mark success
  } catch (error) {
    port.postMessage({ status: "error", error: serialize(error) });
    Atomics.store(signal, 0, -1);         // mark failure
  } finally {
    Atomics.notify(signal, 0);            // unblock the waiting main thread
    port.close();
  }
});
// END PUBLISHED
