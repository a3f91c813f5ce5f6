// Harness of 01-fetch.js. The block is two halves: a fetch(url) method that uses this.worker, and
// the worker's message listener. This module is both: the main thread's SyncFetcher (the class
// around the method; the patch closes it) and, loaded again as its worker, the listener.
import { EventEmitter } from "node:events";
import { MessageChannel, Worker, isMainThread, parentPort as workerPort, receiveMessageOnPort, workerData } from "node:worker_threads";

// The listener is registered on parentPort: the real one in the fetch worker, a stand-in elsewhere.
const parentPort = workerData?.role === "fetch" ? workerPort : new EventEmitter();

// The listener calls serialize(error) without defining it, and its fetch has no time limit (a
// server that never answers would park the caller for good): both are supplied here.
function serialize(error) {
  return { name: error.name, message: error.message };
}
const fetch = (url) => globalThis.fetch(url, { signal: AbortSignal.timeout(workerData?.timeoutMs ?? 10000) });

export class SyncFetcher {
  constructor({ timeoutMs = 10000 } = {}) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { role: "fetch", timeoutMs } });
    this.worker.unref(); // a parked caller, not the fetch worker, decides when the process ends
  }

  close() {
    return this.worker.terminate();
  }

