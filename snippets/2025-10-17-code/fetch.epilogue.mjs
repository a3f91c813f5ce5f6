
// Drive it: node <this module> [--timeout-ms N] URL... One URL is fetched on the main thread;
// several at once, each by a caller thread of its own parked on its own SyncFetcher. Prints one
// JSON line per URL, in order: {"url", "ok": true, "body"} (UTF-8 text) or {"url", "ok": false, "error"}.
function fetchOne(url, timeoutMs) {
  const fetcher = new SyncFetcher({ timeoutMs });
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
    const caller = new Worker(new URL(import.meta.url), { workerData: { role: "caller", url, timeoutMs } });
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
    args.length === 1 ? [fetchOne(args[0], timeoutMs)] : await Promise.all(args.map((url) => callerThread(url, timeoutMs)));
  for (const result of results) console.log(JSON.stringify(result));
} else if (workerData.role === "caller") {
  workerPort.postMessage(fetchOne(workerData.url, workerData.timeoutMs));
}
