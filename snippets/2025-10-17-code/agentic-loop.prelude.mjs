// Harness of 02-my-agentic-loop.js: the names the block calls and the essay leaves out.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MAX_STEPS = 10; // as in the essay's companion repository

// The cache: one JSON file per key "<task>:<step>" in AGENT_CACHE_DIR, task-<id>-step-<n>.json as
// the companion repository names them. The block reads cachedState.state, so a value is {state}.
const cacheFile = (key) => join(process.env.AGENT_CACHE_DIR, `task-${key.replace(":", "-step-")}.json`);

function loadStateFromCache(key) {
  return existsSync(cacheFile(key)) ? JSON.parse(readFileSync(cacheFile(key), "utf8")) : null;
}

function storeStateInCache(key, state) {
  mkdirSync(process.env.AGENT_CACHE_DIR, { recursive: true });
  writeFileSync(`${cacheFile(key)}.tmp`, JSON.stringify({ state }));
  renameSync(`${cacheFile(key)}.tmp`, cacheFile(key)); // atomic: a crash leaves no half-written step
}

// A stand-in for one agent step (the model and the code sandbox are block 03's): it adds a line to
// the state's log and is done after state.steps lines. CRASH_AT_STEP kills the process in that step.
function runAgenticStep(state) {
  const step = state.log.length + 1;
  if (step === Number(process.env.CRASH_AT_STEP)) {
    console.log(`crashed in step ${step}`);
    process.exit(3);
  }
  console.log(`ran step ${step}`);
  return { ...state, log: [...state.log, `step ${step}`], done: step >= state.steps };
}

function reachedEndCondition(state) {
  return state.done;
}

