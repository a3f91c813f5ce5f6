// Drive the published sync fetch from the command line:
//   node sync_fetch_cli.mjs [--timeout-ms N] URL...
// One URL is fetched on the main thread; several are fetched at once, each by its own caller
// thread parked on its own SyncFetcher (built from the published block by sync_fetch.mjs). Prints one JSON line per URL, in argument order:
// {"url", "ok": true, "body"} (body as UTF-8 text) or {"url", "ok": false, "error"}.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { loadSyncFetcher } from "./sync_fetch.mjs";

const newSyncFetcher = await loadSyncFetcher();

function fetchOne(url, timeoutMs) {
  const fetcher = newSyncFetcher({ timeoutMs });
  try {
    return { url, ok: true, body: new TextDecoder().decode(fetcher.fetch(url)) };
  } catch (error) {
    return { url, ok: false, error: error.message };
  } finally {
    fetcher.close();
  }
}

function callerThread(url, timeoutMs) {
  return new Promise((resolve, reject) => {
    const caller = new Worker(new URL(import.meta.url), { workerData: { url, timeoutMs } });
    caller.once("message", resolve);
    caller.once("error", reject);
    // After a "message" or an "error" this does nothing; otherwise Promise.all would wait forever.
    caller.once("exit", (code) => reject(new Error(`the caller thread for ${url} exited (${code}) without a result`)));
  });
}

if (isMainThread) {
  const args = process.argv.slice(2);
  let timeoutMs = 10000;
  if (args[0] === "--timeout-ms") {
    timeoutMs = Number(args[1]);
    args.splice(0, 2);
  }
  const results =
    args.length === 1
      ? [fetchOne(args[0], timeoutMs)]
      : await Promise.all(args.map((url) => callerThread(url, timeoutMs)));
  for (const result of results) console.log(JSON.stringify(result));
} else {
  parentPort.postMessage(fetchOne(workerData.url, workerData.timeoutMs));
}
