// Harness of 04-ctx-sleep.js and 05-ctx-wait-for-event.js: the essay shows them as lines of a task
// handler, so they run inside one (task "block" on queue "agents", absurd-sdk 0.0.3), with the
// userId the essay leaves out taken from the task's params.
import { Absurd, TimeoutError } from "absurd-sdk";

const absurd = new Absurd(process.env.ABSURD_DATABASE_URL, "agents");

absurd.registerTask({ name: "block" }, async (params, ctx) => {
const userId = params.userId;
