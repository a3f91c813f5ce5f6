// Harness of 06-absurd-emit-event.js: an Absurd client (absurd-sdk 0.0.3) on the database
// ABSURD_DATABASE_URL names, and the userId the essay leaves out, given as the argument.
import { Absurd } from "absurd-sdk";

const absurd = new Absurd(process.env.ABSURD_DATABASE_URL, "agents");
await absurd.createQueue();
const userId = process.argv[2];

