// The published sync fetch (2025-10-17-code/01), main-thread half, run as published.
// Wrapped only where it must be: the published `fetch(url)` is a method that uses `this.worker`,
// so it sits in a class that starts that worker; `close()` ends it. The lines between the
// PUBLISHED markers are the essay's text, unchanged (tests/test_syncfetch.py checks this).
import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";

export class SyncFetcher {
  constructor({ timeoutMs = 10000 } = {}) {
    this.worker = new Worker(new URL("./sync_fetch_worker.mjs", import.meta.url), {
      workerData: { timeoutMs },
    });
    this.worker.unref(); // a parked caller, not the fetch worker, decides when the process ends
  }

// PUBLISHED: main thread
// main thread: wrap a worker so fetch() looks synchronous
fetch(url) {
  const signalBuffer = new SharedArrayBuffer(4);
  const signal = new Int32Array(signalBuffer);
  const { port1, port2 } = new MessageChannel();
  this.worker.postMessage({url, signalBuffer, port: port2}, [port2]);

  Atomics.wait(signal, 0, 0);                   // park until worker flips the signal
  const message = receiveMessageOnPort(port1);  // MessageChannel gives the payload
  port1.close();

  if (message.message.status !== "ok") {
    throw new Error(message.message.error.message);
  }
  return message.message.data;
}
// END PUBLISHED

  close() {
    return this.worker.terminate();
  }
}
