// Harness of 01-absurd-register-task.js: an Absurd client (absurd-sdk 0.0.3) on the database
// ABSURD_DATABASE_URL names, and singleStep from block 03's published form.
import { Absurd } from "absurd-sdk";
import { singleStep } from "./03-single-step.mts";

export const absurd = new Absurd(process.env.ABSURD_DATABASE_URL, "agents");

