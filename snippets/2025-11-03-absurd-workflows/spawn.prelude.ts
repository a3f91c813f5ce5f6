// Harness of 02-absurd-spawn.js: the client with "my-agent" registered, from block 01's published form.
import { absurd } from "./01-absurd-register-task.mts";

await absurd.createQueue();

