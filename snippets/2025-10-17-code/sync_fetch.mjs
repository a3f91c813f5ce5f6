// The published sync fetch (2025-10-17-code/01), run from the block itself.
// `blogtools extract` writes the essay's block to 01-fetch.js; this module splits it at its
// "// worker thread:" comment and wraps each half only where it must be:
// - the main-thread half is a method using `this.worker`, so it goes into a class whose
//   constructor starts that worker and whose close() ends it;
// - the worker half calls `serialize(error)` without defining it, and its `fetch(url)` has no time
//   limit (a server that never answers would park the caller for good), so it gets a `serialize`
//   and a `fetch` with an AbortSignal timeout.
// The two modules are written to a temporary folder named by the block's hash and imported.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { threadId } from "node:worker_threads";

const MAIN_HEAD = `import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";

export class SyncFetcher {
  constructor({ workerUrl, timeoutMs = 10000 }) {
    this.worker = new Worker(workerUrl, { workerData: { timeoutMs } });
    this.worker.unref(); // a parked caller, not the fetch worker, decides when the process ends
  }

  close() {
    return this.worker.terminate();
  }

`;
const WORKER_HEAD = `import { parentPort, workerData } from "node:worker_threads";

function serialize(error) {
  return { name: error.name, message: error.message };
}

const fetch = (url) => globalThis.fetch(url, { signal: AbortSignal.timeout(workerData.timeoutMs) });

`;

/** The block's two halves: the main thread's `fetch(url)` method and the worker's listener. */
export function publishedHalves(block) {
  const at = block.indexOf("// worker thread:");
  if (at < 0) throw new Error("01-fetch.js has no '// worker thread:' line to split the block at");
  return [block.slice(0, at), block.slice(at)];
}

/** Build both modules from 01-fetch.js; resolve to a function making SyncFetcher({timeoutMs}). */
export async function loadSyncFetcher() {
  const block = readFileSync(new URL("./01-fetch.js", import.meta.url), "utf8");
  const [mainHalf, workerHalf] = publishedHalves(block);
  const dir = join(tmpdir(), `blogtools-syncfetch-${createHash("sha256").update(block).digest("hex").slice(0, 16)}`);
  mkdirSync(dir, { recursive: true });
  const write = (name, text) => {
    const tmp = join(dir, `.${name}.${process.pid}.${threadId}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(dir, name));
    return pathToFileURL(join(dir, name));
  };
  const workerUrl = write("worker.mjs", WORKER_HEAD + workerHalf);
  const { SyncFetcher } = await import(write("main.mjs", `${MAIN_HEAD}${mainHalf}}\n`));
  return (options = {}) => new SyncFetcher({ workerUrl, ...options });
}
